"""Pacing: how fast imgkit talks to each platform account, and how many requests at once.

An :class:`AdaptivePacer` is a token bucket for one (platform, credential): ``rate``
requests per second with room for ``burst`` at once (1 by default, so requests are evenly
spaced and never crowd a platform's per-second window).  Like rclone's pacer it adapts:
a "rate limited" answer halves the rate (attack, :meth:`AdaptivePacer.backoff`), and each
success wins back a little of it (decay, :meth:`AdaptivePacer.success`), never above the
configured rate.  Waiters are served first come, first served.

A :class:`PacerPool` holds one pacer per key, created on first use at the rate a callback
gives (a shop's ``rate_per_s``, else the platform's documented ``Limits.rate_per_s``, else
a cautious default), and a :class:`ConcurrencyCap` on requests in flight across all keys.
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

``clock`` and ``sleep`` can be injected; with a fake clock the timing is exact:

>>> import asyncio
>>> now = [0.0]
>>> async def fake_sleep(seconds: float) -> None:
...     now[0] += seconds
>>> pacer = AdaptivePacer(10.0, clock=lambda: now[0], sleep=fake_sleep)
>>> async def three() -> list[float]:
...     return [await pacer.acquire() for _ in range(3)]
>>> [round(t, 3) for t in asyncio.run(three())]
[0.0, 0.1, 0.2]
>>> pacer.backoff(retry_after=2.0)
>>> pacer.rate, round(pacer.blocked_until or 0, 3)
(5.0, 2.2)
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[object]]
PacerKey = tuple[str, str]

# A bucket within this of a whole token counts as whole: float rounding must not leave the
# head waiter sleeping for ever thinner slivers of time.
_EPS = 1e-9


class AdaptivePacer:
    """A token bucket whose rate halves on "rate limited" and creeps back on success.

    Parameters
    ----------
    rate
        Configured requests per second: the most this pacer ever allows.
    burst
        Requests that may go at once after a quiet spell (1: always evenly spaced).
    min_rate
        The floor of backoff; by default a tenth of ``rate``, but not below 0.1/s (one
        request per ten seconds) unless ``rate`` itself is lower.
    recovery
        The share of ``rate`` each success wins back (0.05: from a floor of a tenth back
        to the full rate in 18 successes).
    hold
        Backoffs closer together than this many seconds halve the rate once: answers to
        requests already in flight when the rate was cut are not news.
    clock, sleep
        Time source and sleeper (``time.monotonic``, ``asyncio.sleep``); inject fakes in tests.

    >>> pacer = AdaptivePacer(10.0)
    >>> pacer.backoff()
    >>> pacer.rate
    5.0
    >>> for _ in range(30):
    ...     pacer.success()
    >>> pacer.rate
    10.0
    """

    def __init__(
        self,
        rate: float,
        burst: int = 1,
        *,
        min_rate: float | None = None,
        recovery: float = 0.05,
        hold: float = 1.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if not (math.isfinite(rate) and rate > 0):
            raise ValueError(f"rate must be a positive number of requests per second, not {rate}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, not {burst}")
        floor = max(rate / 10, min(rate, 0.1)) if min_rate is None else min_rate
        if not 0 < floor <= rate:
            raise ValueError(f"min_rate must be in (0, rate], not {floor}")
        self.configured_rate = float(rate)
        self.min_rate = float(floor)
        self.burst = burst
        self._recovery = recovery
        self._hold = hold
        self._clock = clock
        self._sleep = sleep
        self._rate = float(rate)
        self._tokens = float(burst)
        self._updated = clock()
        self._blocked_until = -math.inf
        self._last_attack = -math.inf
        # asyncio.Lock wakes waiters in arrival order and lets no newcomer jump the queue:
        # only the head waits on the clock, so acquirers are served first come, first served.
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"AdaptivePacer(rate={self._rate:g}/{self.configured_rate:g}, burst={self.burst})"

    @property
    def rate(self) -> float:
        """The current rate in requests per second."""
        return self._rate

    @property
    def blocked_until(self) -> float | None:
        """The clock time before which nothing is granted (a Retry-After), if any."""
        return None if self._blocked_until == -math.inf else self._blocked_until

    def _refill(self, now: float) -> None:
        if now <= self._updated:
            return
        if self._updated < self._blocked_until:
            # While banned, save up one request at most: a ban's end must not start a burst.
            end = min(now, self._blocked_until)
            self._tokens = min(1.0, self._tokens + (end - self._updated) * self._rate)
            self._updated = end
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self._rate)
        self._updated = now

    def _wait(self, now: float) -> float:
        short = 0.0 if self._tokens >= 1 - _EPS else (1 - self._tokens) / self._rate
        return max(short, self._blocked_until - now, 0.0)

    def delay(self) -> float:
        """Seconds an acquire arriving now would wait, were nobody queued before it.

        >>> AdaptivePacer(2.0).delay()
        0.0
        """
        now = self._clock()
        self._refill(now)
        return self._wait(now)

    async def acquire(self) -> float:
        """Wait until a request may be sent; return the clock time it was granted.

        Re-checks after each sleep, so a backoff that arrives meanwhile is obeyed.

        >>> import asyncio
        >>> asyncio.run(AdaptivePacer(5.0).acquire()) >= 0
        True
        """
        async with self._lock:
            while True:
                now = self._clock()
                self._refill(now)
                wait = self._wait(now)
                if wait <= 0:
                    self._tokens -= 1
                    return now
                await self._sleep(wait)

    def backoff(self, retry_after: float | None = None) -> None:
        """The platform said "rate limited": halve the rate, and hold everything if told to.

        The rate never falls below ``min_rate``.  With ``retry_after`` (seconds), nothing is
        granted until then; after it, requests resume at the new rate, one at a time.

        >>> pacer = AdaptivePacer(1.0)
        >>> pacer.backoff()
        >>> pacer.rate
        0.5
        """
        now = self._clock()
        self._refill(now)
        if now - self._last_attack >= self._hold:
            self._rate = max(self.min_rate, self._rate / 2)
            self._last_attack = now
        # The platform's window is full: a burst saved up before the refusal is spent.
        self._tokens = min(self._tokens, 0.0)
        if retry_after is not None and retry_after > 0:
            self._blocked_until = max(self._blocked_until, now + retry_after)

    def success(self) -> None:
        """A request went through: win back ``recovery`` of the configured rate.

        >>> pacer = AdaptivePacer(10.0)
        >>> pacer.success()
        >>> pacer.rate
        10.0
        """
        self._refill(self._clock())
        self._rate = min(self.configured_rate, self._rate + self._recovery * self.configured_rate)


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
        self.in_use -= 1
        self._semaphore.release()


class PacerPool:
    """One :class:`AdaptivePacer` per (platform, credential), and one global cap.

    ``rate_for(platform, credential)`` gives a new key's rate; ``burst``, ``recovery`` and
    ``hold`` apply to every pacer (see :class:`AdaptivePacer`).

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
        recovery: float = 0.05,
        hold: float = 1.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._rate_for = rate_for
        self.burst = burst
        self._recovery = recovery
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
            pacer = AdaptivePacer(
                self._rate_for(platform, credential),
                self.burst,
                recovery=self._recovery,
                hold=self._hold,
                clock=self._clock,
                sleep=self._sleep,
            )
            self._pacers[key] = pacer
        return pacer

    @asynccontextmanager
    async def turn(self, platform: str, credential: str) -> AsyncIterator[AdaptivePacer]:
        """Hold a global slot and wait for the key's send time; yield the key's pacer."""
        async with self.cap:
            pacer = self.get(platform, credential)
            await pacer.acquire()
            yield pacer
