"""The README's examples work: every ```python block, in order, in one namespace, and the
``imgkit ...`` lines of its ```bash blocks as commands, in a temporary folder with
``IMGKIT_HOME`` there too (no journal or cache of the user's is touched).

A block the README marks with a line ``<!-- not run: why -->`` just before it is skipped
(it needs the reader's own files, or serves forever); ``pip install`` lines are never run.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
NOT_RUN = re.compile(r"^<!--\s*not run\b")
COMMAND_TIMEOUT_S = 120


@dataclass(frozen=True)
class Block:
    """One fenced block of the README."""

    language: str
    line: int  # of the opening fence, counting from 1
    source: str
    marked_not_run: bool


def blocks(text: str) -> list[Block]:
    """The fenced blocks of ``text`` in order."""
    found: list[Block] = []
    lines = text.splitlines()
    number = 0
    while number < len(lines):
        opening = re.match(r"^```(\w*)\s*$", lines[number])
        if not opening:
            number += 1
            continue
        end = number + 1
        while end < len(lines) and not lines[end].startswith("```"):
            end += 1
        before = next((s for s in reversed(lines[:number]) if s.strip()), "")
        found.append(
            Block(
                opening.group(1),
                number + 1,
                "\n".join(lines[number + 1 : end]) + "\n",
                bool(NOT_RUN.match(before.strip())),
            )
        )
        number = end + 1
    return found


def commands(block: Block) -> list[list[str]]:
    """The ``imgkit`` commands of a bash block (``a && b`` is two), comments dropped."""
    found = []
    for line in block.source.splitlines():
        for part in line.split("&&"):
            words = shlex.split(part, comments=True)
            if words and words[0] == "imgkit":
                found.append(words)
    return found


def test_the_parser_sees_the_blocks() -> None:
    found = blocks(README.read_text(encoding="utf-8"))
    assert sum(b.language == "python" for b in found) >= 4
    assert any(commands(b) for b in found if b.language == "bash")
    marked = [b for b in found if b.marked_not_run]
    assert all("--shops shops.toml" in b.source for b in marked)
    sample = "x\n<!-- not run: serves -->\n```bash\nimgkit sandbox  # forever\n```\n"
    (only,) = blocks(sample)
    assert only.marked_not_run
    assert commands(only) == [["imgkit", "sandbox"]]
    assert commands(Block("bash", 1, "pip install -e . && imgkit demo\n", False)) == [
        ["imgkit", "demo"]
    ]


def test_readme_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IMGKIT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("IMGKIT_SHOPS", raising=False)
    namespace: dict[str, object] = {"__name__": "__readme__"}
    failures: list[str] = []
    ran = 0
    for block in blocks(README.read_text(encoding="utf-8")):
        if block.marked_not_run:
            continue
        if block.language == "python":
            ran += 1
            try:
                exec(compile(block.source, f"README.md:{block.line}", "exec"), namespace)
            except Exception:  # every failing block is reported, not only the first
                failures.append(f"python block at line {block.line}:\n{traceback.format_exc()}")
        elif block.language == "bash":
            for words in commands(block):
                ran += 1
                done = subprocess.run(
                    [sys.executable, "-m", "imgkit", *words[1:]],
                    capture_output=True,
                    text=True,
                    timeout=COMMAND_TIMEOUT_S,
                    check=False,
                    stdin=subprocess.DEVNULL,
                )
                if done.returncode != 0:
                    failures.append(
                        f"bash block at line {block.line}: {shlex.join(words)} exited "
                        f"{done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
                    )
    assert ran >= 8
    assert not failures, "\n\n".join(failures)
