"""Project-level checks: docs in step with the code, exports, CLI, quality gates."""

from __future__ import annotations

import inspect
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import httpx
import pytest

import imgkit
import imgkit.sandbox
import imgkit.shells.cli
from imgkit.docgen import generated
from imgkit.engine.journal import Journal
from imgkit.engine.retry import RetryPolicy
from imgkit.sandbox import sandbox_shops
from imgkit.sandbox.app import SANDBOX_PLATFORMS
from imgkit.sandbox.docs import error_tables

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", sorted(generated()))
def test_generated_docs_are_current(name: str) -> None:
    committed = (ROOT / "docs" / name).read_text(encoding="utf-8")
    assert committed == generated()[name], f"docs/{name} is stale: run python -m imgkit.docgen"


def test_every_failure_has_a_trigger_and_every_platform_a_docs_section() -> None:
    tables = error_tables()
    for key, platform in SANDBOX_PLATFORMS.items():
        assert f"`{key}`" in tables
        for failure in platform.failures.values():
            assert failure.trigger, f"{key}.{failure.key} says nothing of how to trigger it"
            assert failure.source in ("doc", "choice")


def test_sample_shops_toml_matches_the_sandbox_shops() -> None:
    with (ROOT / "sample_data" / "shops.toml").open("rb") as fh:
        shops = tomllib.load(fh)
    assert shops == sandbox_shops("http://127.0.0.1:8765")


def test_exported_members_are_documented() -> None:
    for module in (imgkit, imgkit.sandbox):
        for name in module.__all__:
            member = getattr(module, name)
            if callable(member):
                assert member.__doc__, f"{module.__name__}.{name} has no docstring"


def test_package_is_typed() -> None:
    assert (Path(imgkit.__file__).parent / "py.typed").exists()


def test_cli_version() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "imgkit", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == f"imgkit {imgkit.__version__}"


def test_cli_sandbox_serves_on_the_requested_port() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "imgkit", "sandbox", "--port", str(port), "--print-shops"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}" in banner
        deadline = time.monotonic() + 10
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/_sandbox/health", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        assert answer.json() == {"ok": True}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_cli_sandbox_reports_a_busy_port() -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        out = subprocess.run(
            [sys.executable, "-m", "imgkit", "sandbox", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=20,
        )
    assert out.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in out.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "imgkit", "tests", "scripts"],
        ["ruff", "format", "--check", "imgkit", "tests", "scripts"],
        ["mypy"],
    ],
    ids=["ruff-check", "ruff-format", "mypy-strict"],
)
def test_quality_gate(command: list[str]) -> None:
    if shutil.which(command[0]) is None:
        pytest.fail(f"{command[0]} is not installed: pip install -e '.[test]'")
    out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_cli_demo_uploads_the_sample_batch_and_writes_a_workbook(tmp_path: Path) -> None:
    out = tmp_path / "results.xlsx"
    done = subprocess.run(
        [sys.executable, "-m", "imgkit", "demo", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 duplicates" in done.stdout
    assert "15 rows / 行: 15 uploaded" in done.stdout
    from imgkit.shells.cli_terminal import cell_width  # CJK characters take two columns

    # Every line fits 80 columns but the one naming the workbook (a path is as long as it is).
    lines = [line for line in done.stdout.splitlines() if str(out) not in line]
    assert all(cell_width(line) <= 80 for line in lines)
    results = imgkit.read_results(out)  # the styled workbook (localized headers) read back
    assert len(results) == 15
    assert set(results["status"]) == {"uploaded"}
    assert set(results["platform_key"]) == {
        "taobao_picture",
        "taobao_miniapp",
        "tmall_item",
        "doudian",
        "qianmi_sku",
    }


def test_readme_quick_start_has_exactly_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = [line for line in quick.splitlines() if line.startswith("pip install")]
    assert commands == [
        "pip install -e . && imgkit demo",
        'pip install -e ".[test]" && pytest -n 2 --cov=imgkit --cov-fail-under=95',
    ]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert commands[1] in ci.splitlines()


def test_import_imgkit_does_not_load_the_sandbox() -> None:
    """The sandbox (starlette, uvicorn) loads on first use of ``imgkit.Sandbox``."""
    code = (
        "import sys, imgkit\n"
        "print(sorted(m for m in ('starlette', 'uvicorn', 'imgkit.sandbox') if m in sys.modules))\n"
        "from imgkit import Sandbox\n"
        "print(Sandbox.__name__, 'starlette' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.splitlines() == ["[]", "Sandbox True"], done.stdout + done.stderr


def test_the_public_surface_shows_its_options() -> None:
    """``imgkit.upload?`` in Jupyter lists upload's options (declared once, by
    upload_async), never a private one; the types its parameters take are exported."""
    parameters = inspect.signature(imgkit.upload).parameters
    assert {"journal", "force", "concurrency", "policy", "timeout", "row_deadline_s"} <= set(
        parameters
    )
    assert not [name for name in parameters if name.startswith("_")]
    assert imgkit.RetryPolicy is RetryPolicy
    assert imgkit.Journal is Journal
    assert {"RetryPolicy", "Journal", "Sandbox", "verify"} <= set(imgkit.__all__)


def test_the_wheel_carries_every_sample_file() -> None:
    """``imgkit demo`` after a plain ``pip install`` uploads the sample batch the wheel
    carries: every file under sample_data/ must match the package-data patterns."""
    with (ROOT / "pyproject.toml").open("rb") as fh:
        setuptools = tomllib.load(fh)["tool"]["setuptools"]
    assert setuptools["package-dir"]["imgkit.sample_data"] == "sample_data"
    assert "imgkit.sample_data" in setuptools["packages"]
    patterns = setuptools["package-data"]["imgkit.sample_data"]
    folder = ROOT / "sample_data"
    files = [p.relative_to(folder) for p in folder.rglob("*") if p.is_file()]
    assert len(files) >= 10
    missed = [f for f in files if not any(f.match(pattern) for pattern in patterns)]
    assert not missed, f"not shipped in the wheel: {missed}"
    assert imgkit.samples.sample_batch() == folder / "batch.csv"
    # The package list is explicit (for the mapping above): no package may be left out.
    found = {
        ".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "imgkit").rglob("__init__.py")
    }
    assert found <= set(setuptools["packages"]), found - set(setuptools["packages"])


def _readme_section(title: str) -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return readme.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_readme_layout_matches_the_tree() -> None:
    """Every path the Layout names exists, and it names every folder of ``imgkit/`` and
    every top-level module: a folder added, renamed or removed shows up here."""
    layout = _readme_section("Layout")
    rows = [line for line in layout.splitlines() if line.startswith("| `")]
    named = {path for row in rows for path in re.findall(r"`([\w./-]+)`", row.split(" | ", 1)[0])}
    missing = sorted(path for path in named if not (ROOT / path).exists())
    assert not missing, f"README Layout names what is not in the tree: {missing}"
    package = ROOT / "imgkit"
    folders = {f"imgkit/{p.parent.name}/" for p in package.glob("*/__init__.py")}
    modules = {f"imgkit/{p.name}" for p in package.glob("*.py")}
    unnamed = sorted((folders | modules) - named)
    assert not unnamed, f"README Layout does not name: {unnamed}"
    assert {"imgkit/intake/", "imgkit/engine/", "imgkit/report/"} <= folders


def test_architecture_maps_every_folder() -> None:
    """docs/architecture.md has a module-map section per folder of ``imgkit/``, and every
    ``imgkit/...`` path it names exists."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    sections = set(re.findall(r"^### `(imgkit/\w+/)`$", text, flags=re.MULTILINE))
    folders = {f"imgkit/{p.parent.name}/" for p in (ROOT / "imgkit").glob("*/__init__.py")}
    assert sections == folders, (sections ^ folders, "docs/architecture.md, Module map")
    named = set(re.findall(r"`(imgkit/[\w./-]+)`", text))
    assert not [path for path in named if not (ROOT / path).exists()], named


def _repository_files() -> list[Path]:
    """The files of the checkout: git's tracked and new (not ignored) files when git is
    there, else every file outside dot-folders and caches."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout.decode("utf-8")
        paths = [ROOT / name for name in listed.split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        skip = {"__pycache__", "build", "dist"}
        paths = [
            p
            for p in ROOT.rglob("*")
            if not any(part.startswith(".") or part in skip for part in p.relative_to(ROOT).parts)
        ]
    return [p for p in paths if p.is_file()]


# A reference to something outside the repository: the workspace the project was written
# in, its shared protocol notes and seed pages, a home directory ("[k]" keeps this very
# pattern from matching itself).
OUTSIDE = re.compile(
    r"\.\./shared|\bshared/(?:platforms|seeds|design|style)|\bseeds/\d{3}_|/wor[k]/"
    r"|platforms\.md §|(?<![\w./])/(?:home|Users|root)/\w"
)


def test_no_file_points_outside_the_repository() -> None:
    """The protocol facts live in docs/protocols.md; nothing cites a file a clone lacks."""
    files = _repository_files()
    assert (ROOT / "docs" / "protocols.md") in files
    found = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:  # images, workbooks, coverage data
            continue
        for match in OUTSIDE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append(f"{path.relative_to(ROOT)}:{line}: {match.group()}")
    assert not found, "points outside the repository:\n" + "\n".join(found)
