"""Regenerate the docs that are built from code: ``python -m imgkit.docgen [DOCS_DIR]``.

``docs/sandbox-errors.md`` (the sandbox's error catalogues), ``docs/sandbox-world.md`` (its
credentials, sessions, items and SKUs), ``docs/platforms.md`` (the
adapters' declarations), ``docs/validation.md`` (the rule table) and ``docs/cli.md`` (every
command's ``--help`` and the exit codes).  Tests compare the
committed files with :func:`generated`, so the docs cannot drift from the code.

Example
-------
>>> sorted(generated())
['cli.md', 'platforms.md', 'sandbox-errors.md', 'sandbox-world.md', 'validation.md']
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from imgkit.intake.rules import rules_markdown
from imgkit.platforms.docs import platforms_markdown
from imgkit.sandbox.docs import error_tables
from imgkit.sandbox.world_docs import world_tables
from imgkit.shells.cli_docs import cli_markdown


def generated() -> dict[str, str]:
    """File name → content of every generated document."""
    return {
        "sandbox-errors.md": error_tables(),
        "sandbox-world.md": world_tables(),
        "platforms.md": platforms_markdown(),
        "validation.md": rules_markdown(),
        "cli.md": cli_markdown(),
    }


def main(argv: list[str] | None = None) -> int:
    """Write the generated documents into ``DOCS_DIR`` (default ``docs``).

    ``--help`` says so instead of being taken for a folder name.

    >>> main(["--help"])  # doctest: +ELLIPSIS
    usage: python -m imgkit.docgen [-h] [DOCS_DIR]
    ...
    0
    """
    parser = argparse.ArgumentParser(
        prog="python -m imgkit.docgen",
        description="Write the docs generated from the code: " + ", ".join(sorted(generated())),
        exit_on_error=False,
    )
    parser.add_argument(
        "docs_dir", nargs="?", default="docs", metavar="DOCS_DIR", help="default: docs"
    )
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as stop:  # --help printed its text
        return int(stop.code or 0)
    folder = Path(args.docs_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in generated().items():
        (folder / name).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
