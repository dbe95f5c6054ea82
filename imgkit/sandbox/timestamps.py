"""Timestamps as the platforms send them, and the skew the gateways allow.

TOP and Qianmi send ``yyyy-MM-dd HH:mm:ss`` in GMT+8 whatever the caller's zone (the
official TOP Python SDK sends epoch milliseconds instead, which TOP accepts too); fw199
sends Unix seconds.  All gateways here allow ten minutes of skew, measured against the
sandbox's :class:`Clock` (real time unless a test fixes it).

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


class Clock:
    """The sandbox's idea of "now": the real clock, or an instant fixed by a test.

    Everything the gateways judge against the time of day goes through one clock per
    sandbox: the timestamp windows, token expiry, the quota day and the Douyin audit.  A
    fixed clock stands still, so a request built from it is judged at exactly the instant
    it was built for — without one, the real clock moves between building a request and
    checking it, and a test one second inside a window can fall out of it.

    Examples
    --------
    >>> clock = Clock()
    >>> clock.fixed is None
    True
    >>> clock.fix(1704081600.0)
    >>> clock.now()
    1704081600.0
    >>> within_skew(1704081000.0, clock.now()), within_skew(1704082201.0, clock.now())
    (True, False)
    >>> clock.fix(None)
    >>> abs(clock.now() - time.time()) < 60
    True
    """

    def __init__(self) -> None:
        self._fixed: float | None = None

    @property
    def fixed(self) -> float | None:
        """The instant the clock stands at, or None when it follows real time."""
        return self._fixed

    def fix(self, at: float | None) -> None:
        """Stand the clock at ``at`` (epoch seconds), or let it follow real time (None)."""
        # One assignment: a request served on another thread sees the old or the new value.
        self._fixed = None if at is None else float(at)

    def now(self) -> float:
        """Epoch seconds: the fixed instant, else ``time.time()``."""
        fixed = self._fixed
        return time.time() if fixed is None else fixed


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
    """True when the timestamp is at most ten minutes from ``now`` (default: real time).

    The bounds are inclusive: exactly 600 s off is accepted, anything further refused.

    >>> within_skew(1000.0, now=1600.0), within_skew(999.999, now=1600.0)
    (True, False)
    """
    current = time.time() if now is None else now
    return abs(current - epoch_s) <= MAX_SKEW_S


def format_gmt8(epoch_s: float | None = None) -> str:
    """Format a time as the platforms print it (GMT+8).

    >>> format_gmt8(1704081600)
    '2024-01-01 12:00:00'
    """
    current = time.time() if epoch_s is None else epoch_s
    return datetime.fromtimestamp(current, GMT8).strftime("%Y-%m-%d %H:%M:%S")
