"""One platform account's pacer: a token bucket whose rate is learnt from refusals.

:class:`AdaptivePacer` grants send times: ``rate`` requests per second with room for
``burst`` at once, first come, first served, holding everyone during a ban and, after a
refusal, until the platform's window has room again.  Its rate is a
:class:`~imgkit.engine.pacing_rate.RateLearner`'s: slow start, then additive increase and
multiplicative decrease from the platform's own "rate limited" answers.

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
from collections.abc import Awaitable, Callable

from imgkit.engine.pacing_rate import START_RATE, RateLearner

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[object]]

# A bucket within this of a whole token counts as whole: float rounding must not leave the
# head waiter sleeping for ever thinner slivers of time.
_EPS = 1e-9
# A window's edge as seen by the client lags the platform's by the answers' latency; this
# much more keeps clock jitter from making the first request past it a refusal too.
EDGE_MARGIN_S = 0.01
# How late a timer may wake a waiter and the time still count (see _refill).  A loaded
# machine's timers are often 5-30 ms late, and at 10/s each such loss was a share of the
# rate (5 ms credited kept a picture-space shop at 8-9/s of its 9.8).  Two hundredths of a
# one-second window: a token bucket at rate r may then grant 1 + r * 1.02 in a window, so
# at 2 % under a limit (imgkit's RATE_MARGIN) a window still never holds one too many.
LATE_S = 0.02


class AdaptivePacer:
    """A token bucket that learns a platform's limit from its "rate limited" answers.

    A "rate limited" answer sets the rate to ``decrease`` times the rate the platform was
    actually serving (the successes of the last ``window`` seconds and one request's
    spacing more: a platform counting a one-second window admits exactly its limit there),
    or halves it when nothing succeeded lately; every success lets the rate climb again,
    linearly in time, so that it regains the ceiling in ``climb_s`` seconds and goes on
    probing above it.  A pacer configured faster than ``start_rate`` begins there and
    doubles its rate every 0.1 s until the first refusal (slow start).  There is no floor:
    a platform allowing one request a minute is paced at one a minute.  The rate never
    exceeds the configured one.  :mod:`imgkit.engine.pacing_rate` has the details.

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
        excess doubles every ``climb_s``.  A refusal that bans the account
        (``retry_after``) costs the ban, so after one the climb takes
        :data:`~imgkit.engine.pacing_rate.BAN_CLIMB` times the ban.
    hold
        Backoffs closer together than this many seconds decrease the rate once: answers to
        requests already in flight when the rate was cut are not news.
    window
        The seconds over which the served rate is counted.
    start_rate
        Where slow start begins (None: at ``rate``, no slow start).
    clock, sleep
        Time source and sleeper (``time.monotonic``, ``asyncio.sleep``); inject fakes in tests.

    >>> now = [0.0]
    >>> pacer = AdaptivePacer(1000.0, clock=lambda: now[0], start_rate=None)
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
        start_rate: float | None = START_RATE,
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
        if start_rate is not None and not start_rate > 0:
            raise ValueError(f"start_rate must be positive or None, not {start_rate}")
        self.configured_rate = float(rate)
        self.burst = burst
        self._window = window
        self._clock = clock
        self._sleep = sleep
        self._learner = RateLearner(
            float(rate),
            decrease=decrease,
            climb_s=climb_s,
            hold=hold,
            window=window,
            start_rate=start_rate,
        )
        self._tokens = float(burst)
        self._updated = clock()
        self._blocked_until = -math.inf
        self._last_grant = -math.inf
        self._nap: asyncio.Future[object] | None = None
        # When the recent successes were answered: the rate the platform really served.
        self._served: deque[float] = deque()
        # asyncio.Lock wakes waiters in arrival order and lets no newcomer jump the queue:
        # only the head waits on the clock, so acquirers are served first come, first served.
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"AdaptivePacer(rate={self.rate:g}/{self.configured_rate:g}, burst={self.burst})"

    @property
    def rate(self) -> float:
        """The current rate in requests per second."""
        return self._learner.rate

    @property
    def blocked_until(self) -> float | None:
        """The clock time before which nothing is granted (a Retry-After), if any."""
        return None if self._blocked_until == -math.inf else self._blocked_until

    def served_rate(self) -> float:
        """Successes per second over the last ``window`` seconds.

        >>> AdaptivePacer(5.0).served_rate()
        0.0
        """
        return self._count_served(self._clock(), self._window) / self._window

    def _count_served(self, now: float, span: float) -> int:
        # The successes answered in the last ``span`` seconds.
        self._forget(now)
        served = self._served
        older = 0
        while older < len(served) and now - served[older] >= span:
            older += 1
        return len(served) - older

    def _forget(self, now: float) -> None:
        # Kept for a window and one request's spacing (see backoff), at most ten windows.
        keep = self._window + min(1 / self.rate, 10 * self._window)
        served = self._served
        while served and now - served[0] >= keep:
            served.popleft()

    def _refill(self, now: float, *, late: bool = False) -> None:
        if now <= self._updated:
            return
        rate = self.rate
        # A waiter woken late by the event loop keeps the time it lost (up to LATE_S): the
        # grants then keep to the schedule instead of each lateness slowing the rate (a
        # millisecond late at 100/s is 10 %).  It never puts them ahead of the schedule.
        cap = self.burst + rate * LATE_S if late else self.burst
        if self._updated < self._blocked_until:
            # While banned, save up one request at most: a ban's end must not start a burst.
            end = min(now, self._blocked_until)
            self._tokens = min(1.0, self._tokens + (end - self._updated) * rate)
            self._updated = end
        self._tokens = min(cap, self._tokens + (now - self._updated) * rate)
        self._updated = now
        self._learner.ramp(now)  # slow start: the rate from now on

    def _wait(self, now: float) -> float:
        short = 0.0 if self._tokens >= 1 - _EPS else (1 - self._tokens) / self.rate
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
                    self._learner.granted(now)
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

        The new rate is ``decrease`` times the rate served lately (never more than the
        current rate), or half the current rate when nothing was served.  With
        ``retry_after`` (seconds), nothing is granted until then; after it, requests resume
        at the new rate, one at a time.

        >>> pacer = AdaptivePacer(1.0)
        >>> pacer.backoff()
        >>> pacer.rate
        0.5
        """
        now = self._clock()
        self._refill(now)
        ban = retry_after if retry_after is not None and retry_after > 0 else 0.0
        # Served over a window and one spacing more: at a rate near one per window the last
        # success may have left the window just before the refusal, and "nothing served"
        # would halve a rate that was right.
        span = self._window + 1 / self.rate
        self._learner.refused(now, self._count_served(now, span) / self._window, ban)
        # The platform's window is full: a burst saved up before the refusal is spent, and
        # the next request waits until the oldest success of the window leaves it (a
        # request before then would be refused too; one at the normal spacing after it
        # would lose most of a slot, a whole second at a limit of 1/s).
        # Never sooner than the configured spacing after the last grant, though: that rate
        # is a promise.
        inside = self._count_served(now, self._window)
        if inside:  # then the edge is in the future
            edge = self._served[-inside] + self._window + EDGE_MARGIN_S
            edge = max(edge, self._last_grant + 1 / self.configured_rate)
            self._tokens = 1.0 - (edge - now) * self.rate
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
        self._learner.served(now)
