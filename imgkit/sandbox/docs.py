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

from imgkit.sandbox import doudian, qianmi_sku, taobao_miniapp, taobao_picture, tmall_item
from imgkit.sandbox.failures import Failure
from imgkit.sandbox.top import GATEWAY_FAILURES

_TITLES = {
    "taobao_picture": "`taobao_picture`: vv-tool → Taobao picture space (upload and look-up)",
    "top_gateway": "TOP gateway (`/router/rest`, both `taobao_miniapp` and `tmall_item`)",
    "taobao_miniapp": "`taobao_miniapp`: taobao.miniapp.trade.picture.upload and .get",
    "tmall_item": "`tmall_item`: taobao.item.img.upload.tmall and taobao.item.seller.get",
    "doudian": "`doudian`: fw199 → Douyin material centre",
    "qianmi_sku": "`qianmi_sku`: qianmi.cloudshop.sku.image.upload and sku.images.get",
}

_HEADER = """# Sandbox error codes and how to trigger them

Generated from the sandbox's failure catalogues by
`python -m imgkit.docgen`; do not edit by hand.

Every code documented by the seed pages and `shared/platforms.md` is reachable. *Source*
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
    sections: list[tuple[str, Iterable[Failure]]] = [
        ("taobao_picture", taobao_picture.PLATFORM.failures.values()),
        ("top_gateway", GATEWAY_FAILURES.values()),
        ("taobao_miniapp", taobao_miniapp.PLATFORM.api_failures.values()),
        ("tmall_item", tmall_item.PLATFORM.api_failures.values()),
        ("doudian", doudian.PLATFORM.failures.values()),
        ("qianmi_sku", qianmi_sku.PLATFORM.failures.values()),
    ]
    for key, failures in sections:
        lines.append(f"## {_TITLES[key]}\n")
        lines.extend(_table(failures))
        lines.append("")
    return "\n".join(lines)
