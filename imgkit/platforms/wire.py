"""Small helpers the adapters share for reading and writing the wire.

JSON scalars as text, user booleans as ``true``/``false``, titles as picture spaces give
them, and listings (:class:`~imgkit.platforms.outcomes.Candidate` images, paged answers).

Example
-------
>>> text(12), bool_text("是"), as_int("34")
('12', 'true', 34)
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from pathlib import PurePath
from typing import Any

import httpx

from imgkit.platforms.outcomes import Candidate, Job, Lookup


def snippet(response: httpx.Response, limit: int = 64 * 1024) -> str:
    """The start of an unrecognised answer, as one line of text for the results.

    Generous on purpose: an echoing server may have put the shop's secrets there, and the
    engine scrubs them before it cuts the message short (:func:`imgkit.scrub.clip`);
    cutting first could split a secret where it is no longer recognisable.
    """
    head = response.content[: limit * 4].decode("utf-8", "replace")
    return " ".join(head.split())[:limit]


@functools.lru_cache(maxsize=256)
def parsed_url(url: str) -> httpx.URL:
    """``url`` parsed once: httpx re-validates a text URL character by character on every
    request, which costs more than signing it; an ``httpx.URL`` is taken as it is.

    >>> parsed_url("http://127.0.0.1:8765/api") is parsed_url("http://127.0.0.1:8765/api")
    True
    """
    return httpx.URL(url)


def text(value: Any) -> str:
    """A JSON scalar as text (ids come as numbers from some platforms).

    Parameters
    ----------
    value
        A JSON scalar: text, number, boolean or None.

    Returns
    -------
    str
        ``value`` as text: ``""`` for None, ``true``/``false`` for a boolean.

    Examples
    --------
    >>> text(73691281073984637961425), text(None), text(True), text("7")
    ('73691281073984637961425', '', 'true', '7')
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# The words a person writes for yes and no, compared lower-cased: written once, here at the
# bottom layer; imgkit.intake.options (validation, the journal key) reads them from here.
TRUE_WORDS = frozenset({"1", "true", "yes", "y", "t", "是"})
FALSE_WORDS = frozenset({"0", "false", "no", "n", "f", "否"})


def bool_text(value: str) -> str:
    """A user's boolean ("1", "yes", "TRUE", "是") as the wire's ``true``/``false``.

    >>> [bool_text(v) for v in ("1", "Yes", "false", "是", "")]
    ['true', 'true', 'false', 'true', 'false']
    """
    return "true" if value.strip().lower() in TRUE_WORDS else "false"


def first_object(body: Mapping[str, Any], keys: Sequence[str] = ()) -> dict[str, Any] | None:
    """The first object-valued member of ``body`` (or of ``keys`` when given).

    Parameters
    ----------
    body
        A decoded JSON object (a platform's answer).
    keys
        The members to look at, in order (default: all of them, in the answer's order).

    Returns
    -------
    dict or None
        The first member whose value is an object, or None when there is none.

    Examples
    --------
    >>> answer = {"code": 0, "data": {"id": 7}, "extra": {"id": 8}}
    >>> first_object(answer), first_object(answer, keys=("extra",))
    ({'id': 7}, {'id': 8})
    >>> first_object({"code": 0}) is None
    True
    """
    names = keys or list(body)
    for name in names:
        value = body.get(name)
        if isinstance(value, dict):
            return value
    return None


def default_title(job: Job) -> str:
    """The title a picture space gives ``job``: its ``title``, else the file name's stem.

    >>> titled = Job("0", "a.jpg", options={"title": "主图"})
    >>> default_title(Job("0", "白色T恤.jpg")), default_title(titled)
    ('白色T恤', '主图')
    """
    return job.option("title") or PurePath(job.filename).stem or job.filename


# A title's duplicate mark, "(n)" with n >= 1, as picture spaces add it on a clash.
_DEDUP_MARK = re.compile(r"\([1-9][0-9]*\)$")


def title_filter(title: str, limit: int | None) -> str:
    """The ``title`` filter of a look-up for an upload titled ``title`` ("" = no filter).

    The platform cuts the title to ``limit`` characters, then adds "(1)" on a clash, or
    turns a trailing "(n)" into "(n+1)".  A look-up lists titles equal to the filter or
    to the filter followed by "(n)", so a trailing "(n)" of the title itself is left out:
    "a(1)" may have been stored as "a(2)", which the filter "a" finds and "a(1)" would not.

    >>> title_filter("白色T恤", 50), title_filter("x" * 60, 50) == "x" * 50
    ('白色T恤', True)
    >>> title_filter("杯子(1)", 50), title_filter("杯子(0)", 50), title_filter("(2)", 50)
    ('杯子', '杯子(0)', '')
    """
    cut = title[:limit] if limit else title
    return _DEDUP_MARK.sub("", cut)


def as_int(value: Any) -> int | None:
    """A JSON number, or its text, as an int; None for anything else.

    >>> as_int(12), as_int(" 34 "), as_int("12.5"), as_int(True), as_int(None)
    (12, 34, None, None, None)
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdecimal():
        return int(value.strip())
    return None


def listed(container: Any, key: str) -> list[Any] | None:
    """The list of ``container[key]`` (TOP's ``{"picture": [...]}`` wrapping), or None.

    A lone object stands for a one-item list, as some gateways write it; an absent or null
    container is None (the caller decides whether that means "nothing listed").

    >>> listed({"picture": [{"picture_id": 1}]}, "picture")
    [{'picture_id': 1}]
    >>> listed({"picture": {"picture_id": 1}}, "picture"), listed(None, "picture")
    ([{'picture_id': 1}], None)
    """
    if not isinstance(container, dict):
        return None
    items = container.get(key)
    if isinstance(items, dict):
        return [items]
    return items if isinstance(items, list) else None


def candidates_of(
    items: Sequence[Any], *, id_key: str, url_key: str, size_key: str = "", title_key: str = ""
) -> tuple[tuple[Candidate, ...], bool]:
    """``(candidates, all_readable)`` of listed image objects.

    An entry that is not an object or lacks its id or URL cannot be compared with the bytes
    sent; it is left out and ``all_readable`` is False, so that the caller marks the listing
    incomplete (a match elsewhere still settles the row; "no match" then proves nothing).

    >>> cands, ok = candidates_of([{"id": 0, "url": "http://i/0.jpg", "position": 0}, "junk"],
    ...                           id_key="id", url_key="url")
    >>> cands[0].image_id, cands[0].position, ok
    ('0', 0, False)
    """
    found: list[Candidate] = []
    readable = True
    for item in items:
        if not isinstance(item, dict) or item.get(id_key) is None or not text(item.get(url_key)):
            readable = False
            continue
        found.append(
            Candidate(
                image_id=text(item[id_key]),
                url=text(item[url_key]),
                size=as_int(item.get(size_key)) if size_key else None,
                title=text(item.get(title_key)) if title_key else "",
                position=as_int(item.get("position")),
            )
        )
    return tuple(found), readable


def paged_lookup(items: list[Any] | None, total: Any, **keys: str) -> Lookup:
    """The :class:`Lookup` of one page of a paged listing that states its ``total``.

    Complete only when the total is stated and no larger than what was listed (an absent
    list counts as empty: a total of 0 proves it).

    >>> page = paged_lookup([{"pic_id": 5, "path": "http://i/5.png", "sizes": "812"}], 1,
    ...                     id_key="pic_id", url_key="path", size_key="sizes")
    >>> page.complete, page.candidates[0]
    (True, Candidate(image_id='5', url='http://i/5.png', size=812, title='', position=None))
    >>> paged_lookup(None, 0, id_key="pic_id", url_key="path")
    Lookup(candidates=(), complete=True, pending=False)
    >>> paged_lookup([], None, id_key="pic_id", url_key="path").complete
    False
    """
    found, readable = candidates_of(items or [], **keys)
    count = as_int(total)
    complete = readable and count is not None and count <= len(found)
    return Lookup(found, complete)
