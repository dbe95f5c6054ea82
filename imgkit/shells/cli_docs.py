"""``docs/cli.md``, written from the parsers themselves: each command's ``--help`` and the
exit-code table (``python -m imgkit.docgen`` writes it; a test keeps it current).

Example
-------
>>> [name for name, _ in commands()][:3]
['imgkit', 'imgkit validate', 'imgkit fit']
"""

from __future__ import annotations

import argparse
import functools

from imgkit.shells.cli_terminal import EXIT_CODES

# Help is wrapped at a fixed width, so the document does not depend on the terminal.
HELP_WIDTH = 88


def _subcommands(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found: list[argparse.ArgumentParser] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found.extend(dict.fromkeys(action.choices.values()))
    return found


def commands(
    parser: argparse.ArgumentParser | None = None,
) -> list[tuple[str, argparse.ArgumentParser]]:
    """Every parser of the CLI, depth first: (its ``prog``, the parser).

    >>> dict(commands())["imgkit shops check"].prog
    'imgkit shops check'
    """
    if parser is None:
        from imgkit.shells.cli import build_parser

        parser = build_parser()
    found = [(parser.prog, parser)]
    for child in _subcommands(parser):
        found.extend(commands(child))
    return found


def option_strings(parser: argparse.ArgumentParser) -> list[str]:
    """The flags (``--out``, ``-o``) and positional names of ``parser`` itself.

    >>> option_strings(dict(commands())["imgkit template"])[:3]
    ['-h', '--help', 'path']
    """
    names: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            continue
        names.extend(action.option_strings or [action.dest])
    return names


def cli_markdown() -> str:
    """The text of ``docs/cli.md``.

    >>> "## imgkit upload" in cli_markdown()
    True
    """
    parts = [
        "# The `imgkit` command line\n",
        "Generated from the parsers by `python -m imgkit.docgen`: do not edit by hand.\n",
        "Every command prints readable tables (80 columns) and a one-line summary on stdout; "
        "with `--json`, stdout holds the JSON records and nothing else (the summary goes to "
        "stderr). Progress bars go to stderr, only when it is a terminal. Errors are one "
        "line on stderr, never a traceback (`IMGKIT_TRACEBACK=1` shows one, for a bug "
        "report; an unexpected error exits 1); secrets are never printed. `-o` writes `.xlsx` "
        "(the styled results workbook for upload, retry and refresh), `.csv` (UTF-8 with a "
        "BOM, for Excel) or `.json` (records, UTF-8).\n",
        "## Exit codes\n",
        "| code | meaning |",
        "|---:|---|",
        *(f"| {code} | {meaning} |" for code, meaning in EXIT_CODES.items()),
        "",
    ]
    for prog, parser in commands():
        parser.formatter_class = functools.partial(argparse.HelpFormatter, width=HELP_WIDTH)
        parts += [f"## {prog}\n", "```text", parser.format_help().rstrip(), "```", ""]
    return "\n".join(parts)
