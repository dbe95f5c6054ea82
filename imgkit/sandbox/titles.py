"""Taobao picture-space titles: cut to 50 characters, and "(1)" / "(n+1)" on a clash.

Both the vv-tool picture-space API and the mini-app picture API document the same rule:
an empty title falls back to the input title without its extension; titles over 50
characters are cut; a title that already exists gets "(1)", and one already ending in
"(n)" gets "(n+1)".  The look-ups filter by title with :func:`title_matches`, which finds
every copy that rule can have made.

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


_NUMBERED = re.compile(r"(.*)\((\d+)\)", re.DOTALL)


def title_matches(wanted: str, title: str) -> bool:
    """Whether a look-up's title filter ``wanted`` selects a picture titled ``title``.

    ``docs/lookups.md``: the title equals ``wanted`` or is ``wanted`` followed by "(n)",
    n ≥ 1 — the upload's renaming of duplicates.  ``wanted`` is first cut like an uploaded
    title (so a long name still finds its cut copies), and since the upload *bumps* a
    counter that a title already ends with ("mug(2)" clashes to "mug(3)"), those copies
    match too: a look-up that missed one would make the client store a second copy.

    >>> [title_matches("mug", t) for t in ("mug", "mug(1)", "mug(12)", "mug(0)", "mugs")]
    [True, True, True, False, False]
    >>> [title_matches("mug(2)", t) for t in ("mug(2)", "mug(3)", "mug(1)", "mug(2)(1)")]
    [True, True, False, True]
    """
    wanted = picture_title(wanted, "")
    if title == wanted:
        return True
    numbered = _NUMBERED.fullmatch(title)
    if numbered is None or numbered.group(2).startswith("0"):
        return False  # the upload writes counters from 1, without leading zeros
    base, counter = numbered.group(1), int(numbered.group(2))
    if base == wanted:
        return True
    bumped = _NUMBERED.fullmatch(wanted)
    return bumped is not None and bumped.group(1) == base and counter > int(bumped.group(2))
