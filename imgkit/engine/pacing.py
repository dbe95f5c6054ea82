"""Pacing: how fast imgkit talks to each platform account, and how many requests at once.

An :class:`AdaptivePacer` (:mod:`imgkit.engine.pacing_bucket`) is a token bucket for one
(platform, credential): ``rate`` requests per second with room for ``burst`` at once (1 by
default, so requests are evenly spaced and never crowd a platform's per-second window).
It finds a limit nobody told it (:mod:`imgkit.engine.pacing_rate`): a slow start that
doubles the rate every 0.1 s until the first refusal, then additive increase and
multiplicative decrease: a "rate limited" answer sets the rate a little under what the
platform was serving (:meth:`AdaptivePacer.backoff`), and successes let it climb back and
probe above (:meth:`AdaptivePacer.success`), never above the configured rate.  Waiters are
served first come, first served.

A :class:`PacerPool` holds one pacer per key, created on first use at the rate a callback
gives (a shop's ``rate_per_s``, else the platform's documented ``Limits.rate_per_s``, else
one so high that only the concurrency cap and the platform's refusals hold it), and a
:class:`ConcurrencyCap` on requests in flight across all keys.
The engine sends each request like this::

    async with pool.turn(adapter.key, shop.name) as pacer:   # a slot, then the send time
        response = await client.send(request)
    outcome = adapter.parse_response(response)
    if outcome.category is Category.RATE_LIMITED:
        pacer.backoff(outcome.retry_after)                   # slows every task of the key
    elif outcome.ok:
        pacer.success()

The slot is taken before the pacer so that a request leaves at the moment it was granted:
grants held back behind a full cap would otherwise go out together in a burst.  Tasks of a
slow key wait in their pacer holding a slot, so the engine should not start many more tasks
per key than the key can use.  Pacers bind to the event loop that first waits on them: make
one pool per ``asyncio.run``.

>>> pool = PacerPool(lambda platform, credential: 4.0)
>>> pool.get("doudian", "shop").rate
4.0
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from imgkit.engine.pacing_bucket import EDGE_MARGIN_S, LATE_S, AdaptivePacer, Clock, Sleep
from imgkit.engine.pacing_rate import BAN_CLIMB, RAMP_S, START_RATE, UNKNOWN_RATE

__all__ = [
    "BAN_CLIMB",
    "EDGE_MARGIN_S",
    "LATE_S",
    "RAMP_S",
    "START_RATE",
    "UNKNOWN_RATE",
    "AdaptivePacer",
    "ConcurrencyCap",
    "PacerPool",
]

PacerKey = tuple[str, str]


class ConcurrencyCap:
    """At most ``limit`` holders at once (an ``asyncio.Semaphore``), with counters.

    >>> import asyncio
    >>> cap = ConcurrencyCap(2)
    >>> async def use() -> int:
    ...     async with cap:
    ...         return cap.in_use
    >>> asyncio.run(use()), cap.in_use, cap.peak
    (1, 0, 1)
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        self.limit = limit
        self.in_use = 0
        self.peak = 0
        self._semaphore = asyncio.Semaphore(limit)

    def __repr__(self) -> str:
        return f"ConcurrencyCap({self.in_use}/{self.limit})"

    async def __aenter__(self) -> None:
        await self._semaphore.acquire()
        self.in_use += 1
        self.peak = max(self.peak, self.in_use)

    async def __aexit__(self, *exc_info: object) -> None:
        self.release()

    def release(self) -> None:
        """Give the slot back (what leaving ``async with cap`` does)."""
        self.in_use -= 1
        self._semaphore.release()


class PacerPool:
    """One :class:`AdaptivePacer` per (platform, credential), and one global cap.

    ``rate_for(platform, credential)`` gives a new key's rate; ``burst``, ``decrease``,
    ``climb_s`` and ``hold`` apply to every pacer (see :class:`AdaptivePacer`), and
    ``start_rate`` to those ``rate_for`` gives :data:`UNKNOWN_RATE` (its word for "nobody
    knows"): a limit somebody configured or documented is sent at from the start.

    >>> pool = PacerPool(lambda platform, credential: 10.0, concurrency=4)
    >>> pool.get("taobao_picture", "shop_a") is pool.get("taobao_picture", "shop_a")
    True
    >>> pool.get("doudian", "shop_b").rate, len(pool), pool.cap.limit
    (10.0, 2, 4)
    """

    def __init__(
        self,
        rate_for: Callable[[str, str], float],
        *,
        concurrency: int = 8,
        burst: int = 1,
        decrease: float = 0.97,
        climb_s: float = 2.0,
        hold: float = 1.0,
        start_rate: float | None = START_RATE,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._rate_for = rate_for
        self._start_rate = start_rate
        self.burst = burst
        self._decrease = decrease
        self._climb_s = climb_s
        self._hold = hold
        self._clock = clock
        self._sleep = sleep
        self._pacers: dict[PacerKey, AdaptivePacer] = {}
        self.cap = ConcurrencyCap(concurrency)

    def __repr__(self) -> str:
        return f"PacerPool({list(self._pacers)}, cap={self.cap.limit})"

    def __len__(self) -> int:
        return len(self._pacers)

    def __contains__(self, key: object) -> bool:
        return key in self._pacers

    def keys(self) -> list[PacerKey]:
        """The keys seen so far, in first-use order."""
        return list(self._pacers)

    def get(self, platform: str, credential: str) -> AdaptivePacer:
        """The pacer of ``(platform, credential)``, created on first use."""
        key = (platform, credential)
        pacer = self._pacers.get(key)
        if pacer is None:
            rate = self._rate_for(platform, credential)
            pacer = AdaptivePacer(
                rate,
                self.burst,
                decrease=self._decrease,
                climb_s=self._climb_s,
                hold=self._hold,
                start_rate=self._start_rate if rate == UNKNOWN_RATE else None,
                clock=self._clock,
                sleep=self._sleep,
            )
            self._pacers[key] = pacer
        return pacer

    def turn(self, platform: str, credential: str) -> _Turn:
        """Hold a global slot and wait for the key's send time; yield the key's pacer."""
        return _Turn(self, platform, credential)


class _Turn:
    """:meth:`PacerPool.turn`: a class, not a generator-based context manager, since every
    request enters one (contextlib's costs several times as much)."""

    __slots__ = ("_credential", "_platform", "_pool")

    def __init__(self, pool: PacerPool, platform: str, credential: str) -> None:
        self._pool = pool
        self._platform = platform
        self._credential = credential

    async def __aenter__(self) -> AdaptivePacer:
        cap = self._pool.cap
        await cap.__aenter__()
        try:
            pacer = self._pool.get(self._platform, self._credential)
            await pacer.acquire()
        except BaseException:
            cap.release()
            raise
        return pacer

    async def __aexit__(self, *exc_info: object) -> None:
        self._pool.cap.release()
