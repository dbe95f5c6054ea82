"""The wheel as a newcomer meets it: built, installed in a fresh virtual environment outside
the repository, and ``imgkit demo`` and the README's Python examples run from a folder that
is not the checkout.

Everything happens offline: the wheel is built with the test environment's own setuptools
(``--no-build-isolation``), and the fresh environment gets the wheel alone (``--no-deps
--no-index``); its dependencies are the test environment's, reached through a ``.pth``
line that adds their folder to ``sys.path`` without running that folder's own ``.pth``
files, so the editable install of the checkout cannot stand in for the wheel.
"""

from __future__ import annotations

import os
import re
import shutil
import site
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_NOT_SOURCES = shutil.ignore_patterns(
    ".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis", ".coverage*"
)


def _run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, f"{command[:3]} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel installed; returns its ``bin`` folder."""
    work = tmp_path_factory.mktemp("wheel")
    # Built from a copy: an in-tree build would leave build/ and *.egg-info in the checkout.
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=_NOT_SOURCES)
    dist = work / "dist"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(dist),
            str(source),
        ],
        cwd=work,
    )
    (wheel,) = dist.glob("imgkit-*.whl")
    env_dir = work / "venv"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / "python"
    _run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], work)
    purelib = _run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], work
    ).strip()
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    ours.update(site.getsitepackages())
    (Path(purelib) / "zz_test_dependencies.pth").write_text(
        "\n".join(sorted(ours)) + "\n", encoding="utf-8"
    )
    return bin_dir


def test_the_installed_wheel_runs_the_demo_from_another_folder(
    installed: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "somewhere else"
    elsewhere.mkdir()
    env = {**os.environ, "IMGKIT_HOME": str(tmp_path / "home"), "PYTHONPATH": ""}
    where = _run(
        [str(installed / "python"), "-c", "import imgkit; print(imgkit.__file__)"], elsewhere, env
    )
    assert not Path(where.strip()).is_relative_to(ROOT), "the checkout, not the wheel, was run"
    out = _run([str(installed / "imgkit"), "demo"], elsewhere, env)
    assert "15 uploaded" in out
    assert "0 duplicates" in out
    workbook = elsewhere / "imgkit-demo-results.xlsx"
    assert workbook.is_file()
    import openpyxl

    book = openpyxl.load_workbook(workbook)
    assert {"Results", "Summary"} <= set(book.sheetnames)
    assert book["Results"].freeze_panes == "C2"  # the header, and row + status


def test_the_readmes_examples_run_on_the_installed_wheel(installed: Path, tmp_path: Path) -> None:
    # One after the other in one interpreter, as a newcomer pastes them: in a wheel
    # imgkit.sample_data() failed from its second call on (its first bound the name to the
    # sample folder's namespace package), which only a second example could show.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    examples = re.findall(r"```python\n(.*?)```", readme, re.S)
    shown = [code for code in examples if "panel(" not in code]  # widgets: test_panel*
    assert len(shown) >= 5
    script = tmp_path / "readme_examples.py"
    script.write_text(
        "import imgkit\n"
        + "\n".join(shown)
        + "\nassert callable(imgkit.sample_data)\nprint('examples ran:', len(results))\n",
        encoding="utf-8",
    )
    elsewhere = tmp_path / "somewhere else"
    elsewhere.mkdir()
    env = {**os.environ, "IMGKIT_HOME": str(tmp_path / "home"), "PYTHONPATH": ""}
    out = _run([str(installed / "python"), str(script)], elsewhere, env)
    assert "examples ran: 15" in out
    assert (elsewhere / "results.xlsx").is_file()
