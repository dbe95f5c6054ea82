"""Retry decisions: whether to send a failed upload again, and after how long.

A :class:`RetryPolicy` looks at one :class:`imgkit.platforms.base.Outcome` and answers with
a :class:`Decision`.  It retries only what can succeed later and cannot do harm:

* the category is ``rate_limited``, ``transient`` or ``timeout`` *and* the platform's code
  says retryable — never ``not_found``, ``auth``, ``permission``, ``quota``, content errors
  (``invalid_input``, ``too_large``, ``bad_format``, ``bad_dimensions``), audits or
  ``unknown``;
* a request that may have reached the platform (``maybe_stored``, an unanswered send) is
  sent again only when the adapter says a re-send cannot store a second copy
  (``retry_safe``: replace by id, Douyin's ``need_distinct``);
* the delay is exponential backoff with full jitter, but never shorter than the platform's
  own ``retry_after``; it gives up after ``max_attempts`` attempts or when the next try
  would end past ``max_total`` seconds;
* a "rate limited" refusal is not one of the ``max_attempts``: the platform did nothing, and
  the pacer has already slowed down to find its limit, so such a row waits its turn again,
  at once (the pacer times its re-send), up to ``max_refusals`` times (and within
  ``max_total``).

The pacing of all requests to a platform account is :mod:`imgkit.engine.pacing`'s job; this module
only times the next attempt of one row.  :func:`stops_shop` says when a failure means no
request to that shop can succeed (bad credentials, an exhausted quota).

Example
-------
>>> from imgkit.errors import Category
>>> from imgkit.platforms.base import Outcome
>>> policy = RetryPolicy(rng=random.Random(7))
>>> busy = Outcome(ok=False, category=Category.TRANSIENT, retryable=True)
>>> decision = policy.decide(busy, attempt=1, elapsed=0.3, retry_safe=False)
>>> decision.retry, 0 <= decision.delay <= 0.5
(True, True)
>>> policy.decide(busy, attempt=5, elapsed=9.0, retry_safe=False).why
'attempts'
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from imgkit.errors import Category
from imgkit.platforms.base import Outcome

# The categories a retry can ever fix; the platform's code may still rule a retry out.
RETRY_CATEGORIES = frozenset({Category.RATE_LIMITED, Category.TRANSIENT, Category.TIMEOUT})
# Failures that no request to the same shop can get past: stop sending for that shop.
SHOP_STOPPERS = frozenset({Category.AUTH, Category.QUOTA})
# 2**60 seconds dwarfs any max_delay; the cap keeps huge attempt numbers from overflowing.
_MAX_EXPONENT = 60


@dataclass(frozen=True)
class Decision:
    """What to do after a failed attempt.

    ``retry`` with ``delay`` seconds to wait first; ``reason`` in English and Chinese for
    people; ``why`` a stable code for programs: ``ok``, ``final`` (the category is never
    retried), ``not_retryable`` (the platform's code says no), ``maybe_stored``,
    ``attempts``, ``time_budget`` or ``retry``.

    >>> Decision(False, 0.0, "uploaded / 已上传", "ok").retry
    False
    """

    retry: bool
    delay: float
    reason: str
    why: str


@dataclass(frozen=True)
class RetryPolicy:
    """How many times, and how patiently, to retry one row.

    ``attempt`` counts from 1 (the first send); ``elapsed`` is seconds since that first send
    began.  The backoff cap of attempt *n* is ``min(max_delay, base_delay * 2**(n-1))``;
    the delay is drawn uniformly from ``[0, cap]`` ("full jitter", so many rows failing
    together do not come back together), then raised to the platform's ``retry_after``.
    ``rng`` is the random source (seed one in tests).

    >>> RetryPolicy().cap(1), RetryPolicy().cap(3), RetryPolicy().cap(20)
    (0.5, 2.0, 30.0)
    """

    max_attempts: int = 5
    max_refusals: int = 20
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_total: float = 120.0
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("max_attempts", "max_refusals"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        for name in ("base_delay", "max_delay", "max_total"):
            value = getattr(self, name)
            if not value >= 0:  # also refuses NaN; infinity means "no limit"
                raise ValueError(f"{name} must be a number of seconds >= 0, not {value}")

    def cap(self, attempt: int) -> float:
        """The most full jitter may draw after attempt ``attempt`` (1-based)."""
        exponent = min(max(attempt - 1, 0), _MAX_EXPONENT)
        return min(self.max_delay, self.base_delay * 2.0**exponent)

    def decide(
        self,
        outcome: Outcome,
        attempt: int,
        elapsed: float,
        *,
        retry_safe: bool,
        refusals: int = 0,
    ) -> Decision:
        """Whether to send again after ``outcome`` of attempt ``attempt``, and when.

        ``retry_safe`` is the adapter's word that re-sending this row cannot store a second
        copy (:meth:`imgkit.platforms.base.Adapter.retry_safe`).  ``refusals`` says how many
        of the ``attempt`` attempts were refused as "rate limited" (``outcome`` included).

        >>> from imgkit.platforms.base import NO_ANSWER
        >>> lost = Outcome.failure(NO_ANSWER, maybe_stored=True)
        >>> refused = RetryPolicy().decide(lost, 1, 0.0, retry_safe=False)
        >>> refused.retry, refused.why
        (False, 'maybe_stored')
        >>> RetryPolicy().decide(lost, 1, 0.0, retry_safe=True).retry
        True
        """
        category = outcome.category
        name = category.value if category is not None else "unknown"
        if outcome.ok:
            return Decision(False, 0.0, "succeeded, nothing to retry / 已成功,无需重试", "ok")
        if category not in RETRY_CATEGORIES:
            return Decision(
                False,
                0.0,
                f"not retried: {name} errors do not go away by trying again / "
                f"未重试:{name} 类错误重试也不会成功",
                "final",
            )
        if not outcome.retryable:
            code = outcome.code or outcome.sub_code or name
            return Decision(
                False,
                0.0,
                f"not retried: the platform's code {code} must not be retried / "
                f"未重试:平台错误码 {code} 不可重试",
                "not_retryable",
            )
        # An unanswered send may have stored the image; a second send would store another.
        if outcome.maybe_stored and not retry_safe:
            return Decision(
                False,
                0.0,
                "not retried: the request may have reached the platform and the image may have "
                "been stored; sending it again could store a second copy / "
                "未重试:请求可能已送达平台,图片可能已上传,重发可能产生重复图片",
                "maybe_stored",
            )
        limited = category is Category.RATE_LIMITED and not outcome.maybe_stored
        if limited and refusals >= self.max_refusals:
            return Decision(
                False,
                0.0,
                f"gave up after {refusals} rate-limit refusals (max_refusals="
                f"{self.max_refusals}) / 已被限流拒绝 {refusals} 次,达到上限,放弃",
                "attempts",
            )
        counted = attempt - refusals
        if not limited and counted >= self.max_attempts:
            return Decision(
                False,
                0.0,
                f"gave up after {counted} attempts (max_attempts={self.max_attempts}) / "
                f"已尝试 {counted} 次,达到上限,放弃",
                "attempts",
            )
        # A refused row goes straight back to its pacer's queue: the pacer, slowed by the
        # refusal, times the re-send (a jittered wait on top would leave the platform's
        # window unused).
        jitter = 0.0 if limited else self.rng.uniform(0.0, self.cap(attempt))
        retry_after = outcome.retry_after or 0.0
        delay = max(jitter, retry_after)
        asked = retry_after > jitter
        if elapsed + delay > self.max_total:
            return Decision(
                False,
                delay,
                f"gave up: waiting {delay:.1f}s more would pass the {self.max_total:g}s "
                f"time budget ({elapsed:.1f}s spent) / "
                f"放弃:再等 {delay:.1f} 秒将超出 {self.max_total:g} 秒的总时限"
                f"(已用 {elapsed:.1f} 秒)",
                "time_budget",
            )
        after, after_zh = (" (as the platform asked)", "(平台要求)") if asked else ("", "")
        if limited:
            return Decision(
                True,
                delay,
                f"sent again when the pacer allows{after}, rate limit refusal {refusals} of "
                f"{self.max_refusals} / 限流被拒第 {refusals} 次(上限 {self.max_refusals}),"
                f"按节奏{after_zh}重发",
                "retry",
            )
        return Decision(
            True,
            delay,
            f"retry {attempt + 1} of {self.max_attempts} in {delay:.2f}s{after}: {name} / "
            f"{delay:.2f} 秒后第 {attempt + 1} 次尝试{after_zh}:{name}",
            "retry",
        )


def stops_shop(outcome: Outcome) -> bool:
    """Whether ``outcome`` means no further request to its shop can succeed.

    True for ``auth`` (credentials refused or expired) and ``quota`` (the account's quota is
    spent): the engine stops sending for that shop and marks its remaining rows.

    >>> stops_shop(Outcome(ok=False, category=Category.AUTH))
    True
    >>> stops_shop(Outcome(ok=False, category=Category.RATE_LIMITED, retryable=True))
    False
    """
    return not outcome.ok and outcome.category in SHOP_STOPPERS
