"""Pacing: how fast imgkit talks to each platform account, and how many requests at once.

An :class:`AdaptivePacer` is a token bucket for one (platform, credential): ``rate``
requests per second with room for ``burst`` at once (1 by default, so requests are evenly
spaced and never crowd a platform's per-second window).  It finds a limit nobody told it
by additive increase and multiplicative decrease: a "rate limited" answer sets the rate a
little under what the platform was serving (:meth:`AdaptivePacer.backoff`), and successes
let it climb back and probe above (:meth:`AdaptivePacer.success`), never above the
configured rate.  Waiters are served first come, first served.

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
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[object]]
PacerKey = tuple[str, str]

# A bucket within this of a whole token counts as whole: float rounding must not leave the
# head waiter sleeping for ever thinner slivers of time.
_EPS = 1e-9
# After a refusal that bans the account for B seconds, the climb back to the ceiling takes
# this many times B: the next ban, when probing finds the limit again, costs about 2 % of
# the time (a ban is lost sending time; a refusal without one costs one re-sent request).
BAN_CLIMB = 50.0
# A window's edge as seen by the client lags the platform's by the answers' latency; this
# much more keeps clock jitter from making the first request past it a refusal too.
EDGE_MARGIN_S = 0.01
# How late a timer may wake a waiter and the time still count (see _refill).
LATE_S = 0.005
# Not a floor, only a guard against a rate of zero: one request in about 17 minutes.
_TINY_RATE = 1e-3


class AdaptivePacer:
    """A token bucket that learns a platform's limit from its "rate limited" answers.

    Additive increase, multiplicative decrease (AIMD), as TCP finds a link's capacity: a
    "rate limited" answer sets the rate to ``decrease`` times the rate the platform was
    actually serving (the successes of the last ``window`` seconds: a platform counting a
    one-second window admits exactly its limit there), or halves it when nothing succeeded
    lately; then every success lets the rate climb again, linearly in time, so that it
    regains the learnt ceiling in ``climb_s`` seconds and goes on probing above it.  There
    is no floor: a platform allowing one request a minute is paced at one a minute.  The
    rate never exceeds the configured one.

    Parameters
    ----------
    rate
        Configured requests per second: the most this pacer ever allows (a shop's
        ``rate_per_s``, the platform's documented rate, or a generous default).
    burst
        Requests that may go at once after a quiet spell (1: always evenly spaced).
    decrease
        The share of the served rate kept after a "rate limited" answer.  0.97 keeps the
        sawtooth between 97 % and 100 % of the limit: on average 98.5 % of it.
    climb_s
        Seconds to climb back from the decreased rate to the ceiling learnt; past it the
        excess doubles every ``climb_s``, so a ceiling learnt too low is soon outgrown.  Refusals
        without a ban cost one re-sent request each, so the climb is quick; a refusal that
        bans the account (``retry_after``) costs the ban, so after one the climb takes
        :data:`BAN_CLIMB` times the ban, and bans stay a small share of the time.
    hold
        Backoffs closer together than this many seconds decrease the rate once: answers to
        requests already in flight when the rate was cut are not news.
    window
        The seconds over which the served rate is counted.
    clock, sleep
        Time source and sleeper (``time.monotonic``, ``asyncio.sleep``); inject fakes in tests.

    >>> now = [0.0]
    >>> pacer = AdaptivePacer(1000.0, clock=lambda: now[0])
    >>> for _ in range(10):       # ten requests served in the first second ...
    ...     pacer.success()
    >>> pacer.backoff()           # ... then "rate limited": the limit is about 10/s
    >>> pacer.rate
    9.7
    >>> now[0] = 1.0              # each success lets it climb: back to 10 in two seconds
    >>> pacer.success()
    >>> pacer.rate
    9.85
    """

    def __init__(
        self,
        rate: float,
        burst: int = 1,
        *,
        decrease: float = 0.97,
        climb_s: float = 2.0,
        hold: float = 1.0,
        window: float = 1.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if not (math.isfinite(rate) and rate > 0):
            raise ValueError(f"rate must be a positive number of requests per second, not {rate}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, not {burst}")
        if not 0 < decrease < 1:
            raise ValueError(f"decrease must be in (0, 1), not {decrease}")
        if not (climb_s > 0 and window > 0 and hold >= 0):
            raise ValueError("climb_s and window must be positive, hold at least 0")
        self.configured_rate = float(rate)
        self.burst = burst
        self._decrease = decrease
        self._climb_s = climb_s
        self._hold = hold
        self._window = window
        self._clock = clock
        self._sleep = sleep
        self._rate = float(rate)
        self._tokens = float(burst)
        self._updated = clock()
        self._blocked_until = -math.inf
        self._last_attack = -math.inf
        self._last_grant = -math.inf
        self._nap: asyncio.Future[object] | None = None
        # After an attack the rate climbs from base by gain in climb seconds, then on.
        self._base = float(rate)
        self._gain = 0.0
        self._climb = climb_s
        # When the recent successes were answered: the rate the platform really served.
        self._served: deque[float] = deque()
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

    def served_rate(self) -> float:
        """Successes per second over the last ``window`` seconds.

        >>> AdaptivePacer(5.0).served_rate()
        0.0
        """
        self._forget(self._clock())
        return len(self._served) / self._window

    def _forget(self, now: float) -> None:
        served = self._served
        while served and now - served[0] >= self._window:
            served.popleft()

    def _refill(self, now: float, *, late: bool = False) -> None:
        if now <= self._updated:
            return
        # A waiter woken late by the event loop keeps the time it lost (up to LATE_S): the
        # grants then keep to the schedule instead of each lateness slowing the rate (a
        # millisecond late at 100/s is 10 %).  It never puts them ahead of the schedule.
        cap = self.burst + self._rate * LATE_S if late else self.burst
        if self._updated < self._blocked_until:
            # While banned, save up one request at most: a ban's end must not start a burst.
            end = min(now, self._blocked_until)
            self._tokens = min(1.0, self._tokens + (end - self._updated) * self._rate)
            self._updated = end
        self._tokens = min(cap, self._tokens + (now - self._updated) * self._rate)
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
            napped = False
            while True:
                now = self._clock()
                self._refill(now, late=napped)
                wait = self._wait(now)
                if wait <= 0:
                    self._tokens -= 1
                    self._last_grant = now
                    return now
                # A nap that a backoff can cut short: a refusal may bring the next send
                # forward, to the edge of the platform's window.
                nap = asyncio.ensure_future(self._sleep(wait))
                self._nap = nap
                try:
                    await asyncio.wait([nap])
                finally:
                    nap.cancel()
                    self._nap = None
                napped = True

    def backoff(self, retry_after: float | None = None) -> None:
        """The platform said "rate limited": decrease the rate, and hold everything if told to.

        The new rate is ``decrease`` times the rate served over the last ``window`` (never
        more than the current rate), or half the current rate when nothing was served.
        With ``retry_after`` (seconds), nothing is granted until then; after it, requests
        resume at the new rate, one at a time.

        >>> pacer = AdaptivePacer(1.0)
        >>> pacer.backoff()
        >>> pacer.rate
        0.5
        """
        now = self._clock()
        self._refill(now)
        ban = retry_after if retry_after is not None and retry_after > 0 else 0.0
        if now - self._last_attack >= self._hold:
            served = self.served_rate()
            if served > 0:
                ceiling = min(served, self._rate)
                self._rate = self._decrease * ceiling
            else:
                ceiling = self._rate
                self._rate = self._rate / 2
            self._rate = max(self._rate, _TINY_RATE)
            self._climb = max(self._climb_s, BAN_CLIMB * ban)
            self._base = self._rate
            self._gain = max(ceiling - self._rate, 0.0)
            self._last_attack = now
        # The platform's window is full: a burst saved up before the refusal is spent, and
        # the next request waits until the oldest success of the window leaves it (a
        # request before then would be refused too; one at the normal spacing after it
        # would lose most of a slot, a whole second at a limit of 1/s).
        # Never sooner than the configured spacing after the last grant, though: that rate
        # is a promise.
        self._forget(now)
        if self._served:  # then the edge is in the future
            edge = self._served[0] + self._window + EDGE_MARGIN_S
            edge = max(edge, self._last_grant + 1 / self.configured_rate)
            self._tokens = 1.0 - (edge - now) * self._rate
        else:
            self._tokens = min(self._tokens, 0.0)
        if ban:
            self._blocked_until = max(self._blocked_until, now + ban)
        if self._nap is not None:
            self._nap.cancel()  # the head waiter works out its wait again

    def success(self) -> None:
        """A request went through: count it as served, and let the rate climb.

        >>> pacer = AdaptivePacer(10.0)
        >>> pacer.success()
        >>> pacer.rate, pacer.served_rate()
        (10.0, 1.0)
        """
        now = self._clock()
        self._refill(now)
        self._served.append(now)
        self._forget(now)
        if self._gain:
            self._rate = min(self.configured_rate, max(self._rate, self._climbed(now)))

    def _climbed(self, now: float) -> float:
        # Linear back to the ceiling learnt; past it, the excess doubles each climb, so an
        # underestimated ceiling (a slow start, another client's share ending) is soon
        # outgrown, as TCP CUBIC's probing does.
        climbs = (now - self._last_attack) / self._climb
        if climbs <= 1:
            return self._base + self._gain * climbs
        return self._base + self._gain * math.pow(2.0, min(climbs - 1, 60.0))


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

    ``rate_for(platform, credential)`` gives a new key's rate; ``burst``, ``decrease``,
    ``climb_s`` and ``hold`` apply to every pacer (see :class:`AdaptivePacer`).

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
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._rate_for = rate_for
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
            pacer = AdaptivePacer(
                self._rate_for(platform, credential),
                self.burst,
                decrease=self._decrease,
                climb_s=self._climb_s,
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
