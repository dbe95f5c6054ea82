"""Taobao picture-space titles: cut to 50 characters, and "(1)" / "(n+1)" on a clash.

Both the vv-tool picture-space API and the mini-app picture API document the same rule:
an empty title falls back to the input title without its extension; titles over 50
characters are cut; a title that already exists gets "(1)", and one already ending in
"(n)" gets "(n+1)".

Example
-------
>>> unique_title("mug", {"mug", "mug(1)"})
'mug(2)'
>>> picture_title("", "红色杯子.jpg")
'红色杯子'
"""

from __future__ import annotations

import re
from collections.abc import Container

MAX_TITLE = 50
_COUNTER = re.compile(r"\((\d+)\)$")


def picture_title(title: str, input_title: str) -> str:
    """The title before de-duplication: ``title`` or the input title minus its extension."""
    chosen = title.strip() or input_title.strip().rsplit(".", 1)[0]
    return chosen[:MAX_TITLE]


def unique_title(title: str, existing: Container[str]) -> str:
    """Bump ``title`` until it is not in ``existing``."""
    while title in existing:
        match = _COUNTER.search(title)
        title = f"{title[: match.start()]}({int(match.group(1)) + 1})" if match else f"{title}(1)"
    return title
