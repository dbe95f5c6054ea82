"""The journal as a table: what was uploaded where, when, and at which URL.

``history()`` answers "what did I upload to Tmall last week?" with a DataFrame, one row per
journal entry (an image sent to one destination), newest first::

    when, status, platform, shop, account, endpoint, target, file, sha256, url, image_id,
    category, code, message, attempts, options

``status`` is the journal's word for the entry: ``done`` (stored), ``pending`` (under
audit), ``failed`` (refused or never stored; a re-run sends it again) or ``sending`` —
being sent by a live run (``live`` is True) or left unanswered by a run that is gone (in
doubt: the next run looks it up before sending anything).

Example
-------
>>> import tempfile
>>> from pathlib import Path
>>> from imgkit.engine.journal import Journal, Record
>>> with tempfile.TemporaryDirectory() as tmp:
...     with Journal(Path(tmp) / "j.sqlite") as journal:
...         journal.begin("k", Record("tmall_item", "tmall_store", "1001", "ab" * 32))
...         journal.confirm("k", "https://img.example/1.jpg", "77")
...     table = history(journal=Path(tmp) / "j.sqlite", platform="天猫")
>>> table[["status", "platform", "shop", "target", "url"]].to_dict("records")
[{'status': 'done', 'platform': 'tmall_item', 'shop': 'tmall_store', 'target': '1001', 'url': 'https://img.example/1.jpg'}]
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import time
from collections.abc import Iterable

import pandas as pd

from imgkit.engine.journal import Journal, State
from imgkit.errors import ImgkitError
from imgkit.platforms import resolve_platform

HISTORY_COLUMNS = (
    "when",
    "status",
    "live",
    "platform",
    "shop",
    "account",
    "endpoint",
    "target",
    "file",
    "sha256",
    "url",
    "image_id",
    "category",
    "code",
    "message",
    "attempts",
    "options",
)
_AGO = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])", re.IGNORECASE)
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

When = str | dt.datetime | dt.date | pd.Timestamp | float | None


def _epoch(value: When, now: float) -> float | None:
    """``value`` as epoch seconds: a duration ago ("7d", "12h"), a date, a time, a number.

    >>> _epoch("2d", now=1_000_000.0)
    827200.0
    """
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and (match := _AGO.fullmatch(value.strip())):
        return now - float(match.group(1)) * _UNIT_S[match.group(2).lower()]
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ImgkitError(
            f"not a time: {value!r} (use a date like 2026-12-01, or 7d / 12h for 'ago') / "
            f"无法识别的时间 {value!r}",
            code="bad_time",
        ) from exc
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize(dt.datetime.now().astimezone().tzinfo)
    return float(stamp.timestamp())


def _as_set(values: str | Iterable[str] | None) -> set[str] | None:
    if values is None:
        return None
    return {values} if isinstance(values, str) else set(values)


def history(
    *,
    since: When = None,
    until: When = None,
    platform: str | Iterable[str] | None = None,
    shop: str | Iterable[str] | None = None,
    status: str | Iterable[str] | None = None,
    journal: Journal | str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """The journal's entries as a DataFrame, newest first (see the module's example).

    Parameters
    ----------
    since, until
        Only entries last changed in ``[since, until)``: a date or time (local time when
        it has no zone), epoch seconds, or a duration ago such as ``"7d"``, ``"12h"``.
    platform, shop, status
        Only these platforms (keys or aliases), shop names, or journal states (``done``,
        ``pending``, ``failed``, ``sending``).
    journal
        The journal (default: the user's, :func:`imgkit.engine.journal.default_journal_path`).

    Returns
    -------
    pandas.DataFrame
        One row per entry, newest first, with the columns of :data:`HISTORY_COLUMNS`.

    Examples
    --------
    >>> from imgkit.engine.journal import Journal, Record
    >>> with Journal(":memory:") as journal:
    ...     journal.begin("a", Record("doudian", "douyin_shop", "0", "ab" * 32))
    ...     journal.confirm("a", "https://img.example/a.jpg", "m-1")
    ...     journal.begin("b", Record("qianmi_sku", "qianmi_shop", "18353/g1234", "cd" * 32))
    ...     journal.fail("b", "invalid_input", "bad_image", "refused")
    ...     done = history(journal=journal, status="done", since="1d")
    ...     every = history(journal=journal)
    >>> done[["status", "platform", "url"]].to_dict("records")
    [{'status': 'done', 'platform': 'doudian', 'url': 'https://img.example/a.jpg'}]
    >>> sorted(every["status"]), list(every.columns) == list(HISTORY_COLUMNS)
    (['done', 'failed'], True)
    """
    now = time.time()
    opened = journal if isinstance(journal, Journal) else Journal(journal)
    try:
        entries = opened.entries(since=_epoch(since, now), until=_epoch(until, now))
        platforms = {resolve_platform(p) for p in _as_set(platform) or ()} or None
        shops, states = _as_set(shop), _as_set(status)
        rows = []
        for entry in reversed(entries):
            if platforms is not None and entry.platform not in platforms:
                continue
            if shops is not None and entry.shop not in shops:
                continue
            if states is not None and str(entry.state) not in states:
                continue
            live = entry.state is State.SENDING and opened.run_alive(entry.owner)
            rows.append(
                (
                    entry.updated,
                    str(entry.state),
                    live,
                    entry.platform,
                    entry.shop,
                    entry.account,
                    entry.endpoint,
                    entry.target,
                    entry.file,
                    entry.sha256,
                    entry.url,
                    entry.image_id or entry.pending_id,
                    entry.category,
                    entry.code,
                    entry.message,
                    entry.attempts,
                    json.dumps(dict(entry.options), ensure_ascii=False) if entry.options else "",
                )
            )
    finally:
        if opened is not journal:
            opened.close()
    frame = pd.DataFrame.from_records(rows, columns=list(HISTORY_COLUMNS))
    frame["when"] = (
        pd.to_datetime(frame["when"].astype("float64"), unit="s", utc=True)
        .dt.tz_convert(dt.datetime.now().astimezone().tzinfo)
        .dt.tz_localize(None)
    )
    frame["live"] = frame["live"].astype(bool)
    frame["attempts"] = frame["attempts"].astype("int64")
    return frame
