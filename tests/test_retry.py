"""Retry decisions: which outcomes are retried, how long to wait, when to give up."""

from __future__ import annotations

import random
import re
import statistics
from typing import Any

import pytest

from imgkit.engine.retry import Decision, RetryPolicy, stops_shop
from imgkit.errors import Category
from imgkit.platforms.base import NO_ANSWER, Outcome

RETRIED = {Category.RATE_LIMITED, Category.TRANSIENT, Category.TIMEOUT}
CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN = re.compile(r"[A-Za-z]{3,}")


class Ceiling(random.Random):
    """A random source that always draws the top of the range (the longest jitter)."""

    def uniform(self, a: float, b: float) -> float:
        return b


def failed(category: Category, retryable: bool = True, **fields: Any) -> Outcome:
    return Outcome(ok=False, category=category, retryable=retryable, **fields)


def bilingual(decision: Decision) -> bool:
    english, _, chinese = decision.reason.partition(" / ")
    return bool(LATIN.search(english) and CJK.search(chinese))


# --- which outcomes are retried ---------------------------------------------------------


@pytest.mark.parametrize("retryable", [True, False])
@pytest.mark.parametrize("category", list(Category))
def test_every_category_and_retryable_flag(category: Category, retryable: bool) -> None:
    decision = RetryPolicy().decide(failed(category, retryable), 1, 0.0, retry_safe=True)
    assert decision.retry is (category in RETRIED and retryable)
    if category not in RETRIED:
        assert decision.why == "final"
        assert category.value in decision.reason
    elif not retryable:
        assert decision.why == "not_retryable"
    else:
        assert decision.why == "retry"
    assert bilingual(decision)


def test_the_retried_categories_are_the_ones_the_enum_calls_retryable() -> None:
    assert {c for c in Category if c.retryable} == RETRIED


@pytest.mark.parametrize(
    "category",
    [
        Category.NOT_FOUND,
        Category.AUTH,
        Category.PERMISSION,
        Category.QUOTA,
        Category.INVALID_INPUT,
        Category.TOO_LARGE,
        Category.BAD_FORMAT,
        Category.BAD_DIMENSIONS,
        Category.AUDIT_REJECTED,
    ],
)
def test_never_retried_even_if_marked_retryable(category: Category) -> None:
    decision = RetryPolicy().decide(failed(category, True), 1, 0.0, retry_safe=True)
    assert not decision.retry


def test_a_success_or_an_uncategorized_failure_is_not_retried() -> None:
    policy = RetryPolicy()
    done = policy.decide(Outcome(ok=True, url="u", image_id="1"), 1, 0.0, retry_safe=True)
    assert (done.retry, done.why) == (False, "ok")
    odd = policy.decide(Outcome(ok=False), 1, 0.0, retry_safe=True)
    assert (odd.retry, odd.why) == (False, "final")
    assert bilingual(done)
    assert bilingual(odd)


def test_the_platforms_raw_code_is_named_when_it_forbids_a_retry() -> None:
    outcome = failed(Category.TRANSIENT, False, code="isv.item-is-being-edited")
    decision = RetryPolicy().decide(outcome, 1, 0.0, retry_safe=True)
    assert "isv.item-is-being-edited" in decision.reason


# --- a request that may have stored the image -----------------------------------------------


def test_an_unanswered_send_is_not_retried_unless_a_resend_is_safe() -> None:
    lost = Outcome.failure(NO_ANSWER, code="no_answer", maybe_stored=True)
    policy = RetryPolicy(rng=random.Random(1))
    unsafe = policy.decide(lost, 1, 0.0, retry_safe=False)
    assert (unsafe.retry, unsafe.why, unsafe.delay) == (False, "maybe_stored", 0.0)
    assert "may have been stored" in unsafe.reason
    assert "可能已上传" in unsafe.reason
    assert bilingual(unsafe)
    safe = policy.decide(lost, 1, 0.0, retry_safe=True)
    assert (safe.retry, safe.why) == (True, "retry")


def test_a_timeout_known_not_to_have_arrived_is_retried_without_retry_safe() -> None:
    never_sent = failed(Category.TIMEOUT, True, maybe_stored=False)
    assert RetryPolicy().decide(never_sent, 1, 0.0, retry_safe=False).retry
    busy = failed(Category.TRANSIENT, True)
    assert RetryPolicy().decide(busy, 1, 0.0, retry_safe=False).retry


def test_maybe_stored_guards_every_category_not_only_timeouts() -> None:
    odd = failed(Category.TRANSIENT, True, maybe_stored=True)
    decision = RetryPolicy().decide(odd, 1, 0.0, retry_safe=False)
    assert (decision.retry, decision.why) == (False, "maybe_stored")


# --- how long to wait -----------------------------------------------------------------------


def test_backoff_cap_doubles_up_to_max_delay() -> None:
    policy = RetryPolicy()
    assert [policy.cap(n) for n in range(1, 10)] == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]
    assert policy.cap(100_000) == 30.0  # no overflow however many attempts


@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 6, 7, 9])
def test_full_jitter_is_uniform_between_zero_and_the_cap(attempt: int) -> None:
    policy = RetryPolicy(max_attempts=100, max_total=float("inf"), rng=random.Random(attempt))
    cap = policy.cap(attempt)
    busy = failed(Category.TRANSIENT)
    delays = [policy.decide(busy, attempt, 0.0, retry_safe=False).delay for _ in range(4000)]
    assert all(0.0 <= d <= cap for d in delays)
    assert statistics.fmean(delays) == pytest.approx(cap / 2, rel=0.05)
    assert min(delays) < cap * 0.02
    assert max(delays) > cap * 0.98


def test_the_same_seed_gives_the_same_delays() -> None:
    busy = failed(Category.TRANSIENT)

    def delays(seed: int) -> list[float]:
        policy = RetryPolicy(rng=random.Random(seed))
        return [policy.decide(busy, n, 0.0, retry_safe=False).delay for n in range(1, 5)]

    assert delays(3) == delays(3)
    assert delays(3) != delays(4)


def test_retry_after_is_waited_at_least() -> None:
    policy = RetryPolicy(rng=random.Random(5))
    limited = failed(Category.RATE_LIMITED, retry_after=7.0)
    decision = policy.decide(limited, 1, 0.0, retry_safe=False)
    assert (decision.retry, decision.delay) == (True, 7.0)
    assert "as the platform asked" in decision.reason
    assert "平台要求" in decision.reason
    for attempt in range(1, 5):
        assert policy.decide(limited, attempt, 0.0, retry_safe=False).delay >= 7.0


def test_jitter_longer_than_retry_after_is_kept() -> None:
    policy = RetryPolicy(rng=Ceiling())
    limited = failed(Category.TRANSIENT, retry_after=1.0)
    decision = policy.decide(limited, 4, 0.0, retry_safe=False)
    assert decision.delay == 4.0
    assert "as the platform asked" not in decision.reason


# --- when to give up --------------------------------------------------------------------


def test_gives_up_after_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=5)
    busy = failed(Category.TRANSIENT)
    assert [policy.decide(busy, n, 0.0, retry_safe=False).retry for n in range(1, 7)] == [
        True,
        True,
        True,
        True,
        False,
        False,
    ]
    last = policy.decide(busy, 5, 0.0, retry_safe=False)
    assert last.why == "attempts"
    assert "5 attempts" in last.reason
    assert "5 次" in last.reason
    assert "retry 5 of 5" in policy.decide(busy, 4, 0.0, retry_safe=False).reason


def test_a_single_attempt_policy_never_retries() -> None:
    decision = RetryPolicy(max_attempts=1).decide(failed(Category.TIMEOUT), 1, 0.0, retry_safe=True)
    assert decision.why == "attempts"


def test_gives_up_when_the_wait_would_pass_the_time_budget() -> None:
    policy = RetryPolicy(max_total=120.0, rng=Ceiling())
    busy = failed(Category.TRANSIENT)
    assert policy.decide(busy, 1, 119.5, retry_safe=False).retry  # ends at exactly 120 s
    late = policy.decide(busy, 1, 119.6, retry_safe=False)
    assert (late.retry, late.why) == (False, "time_budget")
    assert "120s" in late.reason
    assert "120 秒" in late.reason


def test_a_retry_after_beyond_the_budget_gives_up_at_once() -> None:
    banned = failed(Category.RATE_LIMITED, retry_after=3600.0)
    decision = RetryPolicy().decide(banned, 1, 0.0, retry_safe=False)
    assert (decision.retry, decision.why, decision.delay) == (False, "time_budget", 3600.0)


def test_the_checks_come_in_order_final_first() -> None:
    # An auth failure at the last attempt is final (its category), not "out of attempts".
    decision = RetryPolicy().decide(failed(Category.AUTH, False), 9, 999.0, retry_safe=False)
    assert decision.why == "final"


def test_invalid_policies_are_refused() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="base_delay"):
        RetryPolicy(base_delay=-1.0)
    with pytest.raises(ValueError, match="max_total"):
        RetryPolicy(max_total=float("nan"))


@pytest.mark.parametrize(
    ("outcome", "attempt", "elapsed", "retry_safe"),
    [
        (failed(Category.TRANSIENT), 1, 0.0, False),
        (failed(Category.RATE_LIMITED, retry_after=2.0), 2, 0.0, False),
        (failed(Category.TRANSIENT), 5, 0.0, False),
        (failed(Category.TRANSIENT), 1, 200.0, False),
        (failed(Category.TIMEOUT, maybe_stored=True), 1, 0.0, False),
        (failed(Category.TRANSIENT, False, code="7"), 1, 0.0, False),
        (failed(Category.QUOTA, False), 1, 0.0, False),
    ],
)
def test_every_reason_is_in_english_and_chinese(
    outcome: Outcome, attempt: int, elapsed: float, retry_safe: bool
) -> None:
    decision = RetryPolicy().decide(outcome, attempt, elapsed, retry_safe=retry_safe)
    assert bilingual(decision), decision.reason


# --- stopping a shop --------------------------------------------------------------------


@pytest.mark.parametrize("category", list(Category))
def test_only_auth_and_quota_stop_the_shop(category: Category) -> None:
    outcome = failed(category, category.retryable)
    assert stops_shop(outcome) is (category in {Category.AUTH, Category.QUOTA})


def test_a_success_never_stops_the_shop() -> None:
    assert not stops_shop(Outcome(ok=True))


def test_a_rate_limit_refusal_goes_back_at_once_and_is_not_an_attempt() -> None:
    policy = RetryPolicy(max_attempts=2, max_refusals=3, rng=Ceiling())
    limited = failed(Category.RATE_LIMITED)
    # Ten sends so far, nine of them refused for rate: one counted attempt of two.
    decision = policy.decide(limited, 10, 0.0, retry_safe=False, refusals=2)
    assert (decision.retry, decision.delay, decision.why) == (True, 0.0, "retry")
    assert "rate limit refusal 2 of 3" in decision.reason
    gave_up = policy.decide(limited, 10, 0.0, retry_safe=False, refusals=3)
    assert (gave_up.retry, gave_up.why) == (False, "attempts")
    assert "max_refusals=3" in gave_up.reason
    assert "限流" in gave_up.reason
    # A transient failure counts the sends that were not refused.
    busy = failed(Category.TRANSIENT)
    assert policy.decide(busy, 3, 0.0, retry_safe=False, refusals=2).retry
    assert not policy.decide(busy, 4, 0.0, retry_safe=False, refusals=2).retry


def test_a_ban_is_still_waited_out() -> None:
    limited = failed(Category.RATE_LIMITED, retry_after=2.5)
    decision = RetryPolicy().decide(limited, 1, 0.0, retry_safe=False, refusals=1)
    assert (decision.retry, decision.delay) == (True, 2.5)


def test_max_refusals_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_refusals"):
        RetryPolicy(max_refusals=0)
