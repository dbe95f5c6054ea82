"""Paging of the look-ups (``docs/lookups.md``): ``page_no`` from 1, ``page_size`` ≤ 100.

Example
-------
>>> read_paging("", "", default_size=20)
(1, 20)
>>> page_of(list(range(7)), 2, 3)
[3, 4, 5]
>>> try:
...     read_paging("1", "101", default_size=20)
... except BadPaging as exc:
...     exc.name
'page_size'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TypeVar

MAX_PAGE_SIZE = 100
# ASCII digits only, as for ids: str.isdigit() also takes fullwidth digits.
_NUMBER = re.compile(r"[0-9]+")

T = TypeVar("T")


class BadPaging(ValueError):
    """A paging parameter that is not a number in range; ``args[0]`` is its name."""

    @property
    def name(self) -> str:
        """The offending parameter's name."""
        return str(self.args[0])


def read_paging(page_no: str, page_size: str, *, default_size: int) -> tuple[int, int]:
    """``(page_no, page_size)`` from the request's text (empty: the defaults).

    Out-of-range values are refused rather than clamped: a client that asked for more than
    it got would take a short page for the whole list.
    """
    number = _read(page_no, "page_no", 1)
    size = _read(page_size, "page_size", default_size)
    if number < 1:
        raise BadPaging("page_no")
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise BadPaging("page_size")
    return number, size


def _read(text: str, name: str, default: int) -> int:
    if not text:
        return default
    if not _NUMBER.fullmatch(text):
        raise BadPaging(name)
    return int(text)


def page_of(items: Sequence[T], page_no: int, page_size: int) -> list[T]:
    """The ``page_no``-th run of ``page_size`` items (empty past the end)."""
    start = (page_no - 1) * page_size
    return list(items[start : start + page_size])
