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
    """Write the generated documents into ``DOCS_DIR`` (default ``docs``)."""
    args = sys.argv[1:] if argv is None else argv
    folder = Path(args[0] if args else "docs")
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in generated().items():
        (folder / name).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
