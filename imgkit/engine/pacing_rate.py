"""How fast one platform account may be sent to: the rate a pacer learns from refusals.

A :class:`RateLearner` holds the rate of one :class:`~imgkit.engine.pacing.AdaptivePacer`
and changes it from what the platform answers, as TCP finds a link's capacity:

* **slow start**: a pacer starts at :data:`START_RATE` (or its configured rate, if lower)
  and doubles every :data:`RAMP_S` seconds from its first grant, up to the configured rate,
  until the first refusal.  A limit of 1/s then costs a few refusals instead of a whole
  burst of them, and the engine's scheduler, which spreads its workers by each key's rate,
  does not queue every worker behind one key whose limit nobody knows;
* **multiplicative decrease**: a refusal sets the rate to ``decrease`` times the rate the
  platform was serving (the ceiling), or halves it when nothing was served lately;
* **the ceiling is remembered**: a platform counting a sliding window admits its limit
  there, but the answers a client counts lag the platform's count by their latency, so a
  refusal seen with one success fewer than the ceiling learnt before is an undercount, not a
  lower limit.  The learnt ceiling stands, unless the next refusal also comes below it (then
  the limit really went down);
* **additive increase**: each success lets the rate climb back, linearly in time, to the
  ceiling in ``climb`` seconds, then probe above it ever faster (the excess doubles every
  ``climb``), as TCP CUBIC does, so a ceiling learnt too low is soon outgrown.  After a
  refusal that bans the account for B seconds the climb takes :data:`BAN_CLIMB` times B.

There is no floor and the rate never exceeds the configured one.

>>> learner = RateLearner(1000.0, decrease=0.97, climb_s=2.0, hold=1.0, window=1.0)
>>> learner.rate                      # slow start
10.0
>>> learner.granted(0.0); learner.ramp(0.3); round(learner.rate, 6)
80.0
>>> learner.refused(0.3, served=10.0, ban=0.0)   # ten served in the last second
>>> learner.rate
9.7
"""

from __future__ import annotations

import math

# After a refusal that bans the account for B seconds, the climb back to the ceiling takes
# this many times B: the next ban, when probing finds the limit again, costs about 2 % of
# the time (a ban is lost sending time; a refusal without one costs one re-sent request).
BAN_CLIMB = 50.0
# Slow start: the first rate of a pacer configured faster than this, and how often it
# doubles until the first refusal.  From 10/s a limit of 100/s is reached in a third of a
# second, and a limit of 1/s costs a refusal or two.
START_RATE = 10.0
RAMP_S = 0.1
# The rate of an account whose limit nobody configured and no page documents: pacing
# learns it.  Only such pacers slow-start in a pool (PacerPool): a known limit is sent at
# from the first request.
UNKNOWN_RATE = 1000.0
# A refusal seen with this much less served than the ceiling learnt before (one request per
# window, plus a share at high rates) is taken for an undercount of the same limit.
UNDERCOUNT_SHARE = 0.03
# Not a floor, only a guard against a rate of zero: one request in about 17 minutes.
TINY_RATE = 1e-3


class RateLearner:
    """The rate of one pacer, learnt by slow start, then AIMD with a remembered ceiling.

    Parameters
    ----------
    rate
        The configured rate: the most ever allowed.
    decrease, climb_s, hold, window
        See :class:`~imgkit.engine.pacing.AdaptivePacer`.
    start_rate
        The rate slow start begins at (:data:`START_RATE`); None: begin at ``rate``.

    >>> learner = RateLearner(10.0, decrease=0.97, climb_s=2.0, hold=1.0, window=1.0)
    >>> learner.rate, learner.configured
    (10.0, 10.0)
    """

    def __init__(
        self,
        rate: float,
        *,
        decrease: float,
        climb_s: float,
        hold: float,
        window: float,
        start_rate: float | None = START_RATE,
    ) -> None:
        self.configured = rate
        self.rate = rate if start_rate is None else min(rate, start_rate)
        self._decrease = decrease
        self._climb_s = climb_s
        self._hold = hold
        self._window = window
        # Slow start: doubling from _ramp_from since the first grant; 0: over.
        self._ramp_from = self.rate if self.rate < rate else 0.0
        self._first_grant = math.nan
        self._last_attack = -math.inf
        self._pre_attack = rate  # the rate when this attack's first refusal came
        self._ceiling = 0.0  # this attack's ceiling, from what was served (0: none measured)
        self._learnt = 0.0  # the ceiling learnt by the attacks so far
        self._doubted = False  # the last attack kept the learnt ceiling against its count
        # After an attack the rate climbs from base by gain in climb seconds, then on.
        self._base = self.rate
        self._gain = 0.0
        self._climb = climb_s

    def granted(self, now: float) -> None:
        """A request was granted: slow start counts from the first.

        >>> learner = RateLearner(40.0, decrease=0.97, climb_s=2.0, hold=1.0, window=1.0)
        >>> learner.granted(5.0); learner.ramp(5.2); learner.rate
        40.0
        """
        if math.isnan(self._first_grant):
            self._first_grant = now

    def ramp(self, now: float) -> None:
        """Slow start: the rate at ``now``, doubled every :data:`RAMP_S` since the first grant.

        >>> learner = RateLearner(1000.0, decrease=0.97, climb_s=2.0, hold=1.0, window=1.0)
        >>> learner.ramp(1.0); learner.rate   # nothing granted yet: no ramp
        10.0
        """
        if not self._ramp_from or math.isnan(self._first_grant):
            return
        doublings = min((now - self._first_grant) / RAMP_S, 60.0)
        self.rate = min(self.configured, self._ramp_from * 2.0**doublings)
        if self.rate >= self.configured:
            self._ramp_from = 0.0

    def refused(self, now: float, served: float, ban: float) -> None:
        """The platform said "rate limited"; ``served`` is what it served per second lately.

        Refusals closer together than ``hold`` seconds are one attack: answers to requests
        already in flight when the rate was cut are not news, but one that saw more served
        corrects the ceiling upward (answers arrive out of order).

        >>> learner = RateLearner(8.0, decrease=0.97, climb_s=2.0, hold=1.0, window=1.0)
        >>> learner.refused(0.0, served=0.0, ban=0.0); learner.rate
        4.0
        """
        self._ramp_from = 0.0
        if now - self._last_attack >= self._hold:
            self._pre_attack = self.rate
            if served > 0:
                self._ceiling = self._judge(min(served, self.rate))
                self.rate = self._decrease * self._ceiling
                gain_to = self._ceiling
            else:
                self._ceiling = 0.0
                gain_to = self.rate
                self.rate = self.rate / 2
            self.rate = max(self.rate, TINY_RATE)
            self._climb = max(self._climb_s, BAN_CLIMB * ban)
            self._base = self.rate
            self._gain = max(gain_to - self.rate, 0.0)
            self._last_attack = now
        elif served > self._ceiling > 0:
            self._ceiling = min(served, self._pre_attack)
            self._learnt = max(self._learnt, self._ceiling)
            self.rate = max(self.rate, self._decrease * self._ceiling)
            self._base = self.rate
            self._gain = max(self._ceiling - self.rate, 0.0)

    def _judge(self, counted: float) -> float:
        # The ceiling of a new attack: what was counted, unless it is one short of the
        # ceiling learnt before, which then stands (the count lags the platform's) - but
        # not twice running below it: then the limit went down.
        learnt = self._learnt
        short = 1 / self._window + UNDERCOUNT_SHARE * learnt
        below = self._pre_attack < learnt
        if learnt - short <= counted < learnt and not (self._doubted and below):
            self._doubted = True
            ceiling = min(learnt, self._pre_attack)
        else:
            self._doubted = False
            ceiling = counted
        self._learnt = max(ceiling, counted)
        return ceiling

    def served(self, now: float) -> None:
        """A request went through: let the rate climb.

        >>> learner = RateLearner(1000.0, decrease=0.97, climb_s=2.0, hold=1.0, window=1.0)
        >>> learner.refused(0.0, served=10.0, ban=0.0)
        >>> learner.served(1.0); learner.rate
        9.85
        """
        if self._gain:
            self.rate = min(self.configured, max(self.rate, self._climbed(now)))

    def _climbed(self, now: float) -> float:
        # Linear back to the ceiling learnt; past it, the excess doubles each climb, so an
        # underestimated ceiling (a slow start, another client's share ending) is soon
        # outgrown, as TCP CUBIC's probing does.
        climbs = (now - self._last_attack) / self._climb
        if climbs <= 1:
            return self._base + self._gain * climbs
        return self._base + self._gain * math.pow(2.0, min(climbs - 1, 60.0))
