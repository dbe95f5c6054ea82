"""``docs/cli.md`` documents every command and every flag, and is current."""

from __future__ import annotations

from pathlib import Path

from imgkit.shells.cli_docs import cli_markdown, commands, option_strings
from imgkit.shells.cli_terminal import EXIT_CODES

DOC = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def test_every_command_and_flag_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    found = dict(commands())
    assert {"imgkit upload", "imgkit shops check", "imgkit journal", "imgkit demo"} <= set(found)
    for prog, parser in found.items():
        section = text.split(f"## {prog}\n", 1)
        assert len(section) == 2, f"{prog} has no section in docs/cli.md"
        body = section[1].split("\n## ", 1)[0]
        for name in option_strings(parser):
            assert name in body, f"{prog} {name} is not in docs/cli.md"


def test_exit_codes_are_documented_and_the_doc_is_current() -> None:
    text = DOC.read_text(encoding="utf-8")
    for code in (0, 1, 2, 3, 4, 130):
        assert f"| {code} | {EXIT_CODES[code]} |" in text
    assert text == cli_markdown(), "docs/cli.md is stale: run python -m imgkit.docgen"
