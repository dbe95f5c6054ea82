"""Server-side rate limits: a sliding one-second window per key, with an optional ban.

The sandbox counts what the platform would count: vv-tool requests per token, TOP calls per
app, and so on.  A TOP app that goes over its limit is banned for a few seconds and told so
("This ban will last for N more seconds").

Example
-------
>>> limiter = SlidingWindow()
>>> [limiter.hit("k", 2, now=t) for t in (0.0, 0.1, 0.2, 1.15)]
[None, None, 0.8, None]
"""

from __future__ import annotations

import math
import time
from collections import deque


class SlidingWindow:
    """Allow at most ``limit`` hits per key in any one-second window."""

    def __init__(self, window_s: float = 1.0) -> None:
        self.window_s = window_s
        self._hits: dict[str, deque[float]] = {}
        self._banned_until: dict[str, float] = {}

    def hit(self, key: str, limit: float | None, *, now: float | None = None) -> float | None:
        """Record a hit; return None when allowed, else seconds until a hit would be allowed.

        A refused hit is not counted, as the platforms count only calls they served.
        """
        if limit is None or limit <= 0:
            return None
        current = time.monotonic() if now is None else now
        hits = self._hits.setdefault(key, deque())
        while hits and current - hits[0] >= self.window_s:
            hits.popleft()
        if len(hits) >= limit:
            return round(hits[0] + self.window_s - current, 6)
        hits.append(current)
        return None

    def ban(self, key: str, seconds: float, *, now: float | None = None) -> None:
        """Refuse every hit of ``key`` for ``seconds``."""
        current = time.monotonic() if now is None else now
        self._banned_until[key] = current + seconds

    def banned_for(self, key: str, *, now: float | None = None) -> int:
        """Whole seconds of ban left for ``key`` (0 when not banned).

        >>> w = SlidingWindow(); w.ban("a", 2.5, now=0.0); w.banned_for("a", now=1.0)
        2
        """
        current = time.monotonic() if now is None else now
        left = self._banned_until.get(key, 0.0) - current
        return math.ceil(left) if left > 0 else 0
