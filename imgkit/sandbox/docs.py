"""Generate ``docs/sandbox-errors.md``: every error the sandbox can give, and how to get it.

The table is built from the platform modules' failure catalogues, so it cannot drift from
the code; a test compares the committed file with a fresh rendering.  Regenerate with
``python -m imgkit.docgen``.

Example
-------
>>> "| `forbidden` |" in error_tables()
True
"""

from __future__ import annotations

from collections.abc import Iterable

from imgkit.sandbox import registry
from imgkit.sandbox.failures import Failure

_HEADER = """# Sandbox error codes and how to trigger them

Generated from the sandbox's failure catalogues by
`python -m imgkit.docgen`; do not edit by hand.

Every code documented by the official pages and `docs/protocols.md` is reachable. *Source*
says whether the code and message are the platform's documented ones (**doc**) or a sandbox
convention where the platform publishes nothing (**choice**; see `docs/sandbox.md`).
A *forced* error is reached with the fault endpoint:
`POST /_sandbox/faults {"force": [{"platform": "<platform>", "error": "<key>"}]}`.
Any key can be forced that way; the *trigger* column gives the natural way where one exists.
Where a documented code has several causes (vv-tool's 100, for instance), the detail after
the colon in the message is the sandbox's wording.
`{name}` in a sub-code or message stands for the offending parameter's name.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(failures: Iterable[Failure]) -> list[str]:
    rows = [
        "| key | HTTP | code | sub-code | message | trigger | source |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in failures:
        message = f.message if not f.sub_msg else f"{f.message} / {f.sub_msg}"
        sub_code = f"`{_cell(f.sub_code)}`" if f.sub_code else ""
        level = " (in `result`)" if f.level == "result" else ""
        rows.append(
            f"| `{f.key}` | {f.http_status} | `{f.code}`{level} | {sub_code} | "
            f"{_cell(message)} | {_cell(f.trigger)} | {f.source} |"
        )
    return rows


def error_tables() -> str:
    """The whole markdown document."""
    lines = [_HEADER]
    sections: list[registry.Emulator] = []
    for key in registry.emulators():
        # A gateway's section comes before the first platform served behind it.
        gateway = registry.gateway_of(key)
        if gateway is not None and gateway not in sections:
            sections.append(gateway)
        sections.append(registry.emulators()[key])
    for emulator in sections:
        lines.append(f"## {emulator.title}\n")
        lines.extend(_table(emulator.documented_failures.values()))
        lines.append("")
    return "\n".join(lines)
