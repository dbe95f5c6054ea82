"""Timestamps as the platforms send them, and the skew the gateways allow.

TOP and Qianmi send ``yyyy-MM-dd HH:mm:ss`` in GMT+8 whatever the caller's zone (the
official TOP Python SDK sends epoch milliseconds instead, which TOP accepts too); fw199
sends Unix seconds.  All gateways here allow ten minutes of skew.

Example
-------
>>> parse_gmt8("2024-01-01 12:00:00")
1704081600.0
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

GMT8 = timezone(timedelta(hours=8))
MAX_SKEW_S = 600.0


def parse_gmt8(text: str) -> float | None:
    """Epoch seconds of a ``yyyy-MM-dd HH:mm:ss`` GMT+8 text, or None when malformed."""
    try:
        parsed = datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    return parsed.replace(tzinfo=GMT8).timestamp()


def parse_top_timestamp(text: str) -> float | None:
    """TOP: GMT+8 text or epoch milliseconds (13 digits).

    >>> parse_top_timestamp("1704081600000")
    1704081600.0
    >>> parse_top_timestamp("yesterday") is None
    True
    """
    stripped = text.strip()
    if stripped.isdigit() and len(stripped) >= 12:
        return int(stripped) / 1000.0
    return parse_gmt8(stripped)


def parse_unix_seconds(text: str) -> float | None:
    """fw199: Unix seconds as decimal digits.

    >>> parse_unix_seconds("1700000000")
    1700000000.0
    """
    stripped = text.strip()
    if not stripped.isdigit() or len(stripped) > 11:
        return None
    return float(int(stripped))


def within_skew(epoch_s: float, now: float | None = None) -> bool:
    """True when the timestamp is at most ten minutes from the server clock."""
    current = time.time() if now is None else now
    return abs(current - epoch_s) <= MAX_SKEW_S


def format_gmt8(epoch_s: float | None = None) -> str:
    """Format a time as the platforms print it (GMT+8).

    >>> format_gmt8(1704081600)
    '2024-01-01 12:00:00'
    """
    current = time.time() if epoch_s is None else epoch_s
    return datetime.fromtimestamp(current, GMT8).strftime("%Y-%m-%d %H:%M:%S")
