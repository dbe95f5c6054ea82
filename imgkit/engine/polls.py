"""Audit polls: asking about an upload under audit until it passes, is rejected, or the
wait runs out.

Douyin keeps a new material under audit; :func:`poll_audit` asks about it through the
exchange (:func:`imgkit.engine.exchange.call`, so polls are paced like uploads and a
failed ask is mapped like any other), with :class:`Polling` as the retry policy:
:data:`POLL_FIRST_S` after the upload, then twice as long each time up to
:data:`POLL_MAX_S`, until ``audit_wait_s`` is spent.  An audit still running then is
``audit_pending`` (``refresh()`` asks again later).

Example
-------
>>> from imgkit.errors import Category
>>> from imgkit.platforms.base import Outcome
>>> audit_over(Outcome(ok=False, category=Category.AUDIT_PENDING))
False
>>> audit_over(Outcome(ok=False, category=Category.AUDIT_REJECTED))
True
"""

from __future__ import annotations

import asyncio
import time

import httpx

from imgkit.engine.exchange import Token, call
from imgkit.engine.plan import Row
from imgkit.engine.retry import Decision
from imgkit.engine.run import Run
from imgkit.errors import Category
from imgkit.platforms.base import CodeRule, Outcome

# An audit is asked about first this long after it began, then twice as long each time, up
# to the cap.
POLL_FIRST_S = 0.25
POLL_MAX_S = 10.0

AUDIT_TIMEOUT = CodeRule(
    Category.AUDIT_PENDING, False, "仍在审核中,可稍后用 refresh() 查询", "still under audit"
)


def audit_over(outcome: Outcome) -> bool:
    """Whether a poll's answer ends the polling: passed, rejected, or refused for good."""
    waiting = outcome.category is Category.AUDIT_PENDING or outcome.retryable
    return outcome.ok or outcome.category is Category.AUDIT_REJECTED or not waiting


class Polling:
    """The retry policy of an audit poll: ask again while it is pending (or the ask failed
    for a passing reason), :data:`POLL_FIRST_S` doubling to :data:`POLL_MAX_S` apart,
    until ``deadline`` (``time.monotonic``) or the run stops."""

    def __init__(self, run: Run, deadline: float) -> None:
        self.run = run
        self.deadline = deadline
        self.delay = 2 * POLL_FIRST_S
        self.pending: Outcome | None = None  # the last "still under audit" answer

    def decide(
        self,
        outcome: Outcome,
        attempt: int,
        elapsed: float,
        *,
        retry_safe: bool,
        refusals: int = 0,
    ) -> Decision:
        if audit_over(outcome):
            return Decision(False, 0.0, "the audit answered / 审核已有结果", "final")
        if outcome.category is Category.AUDIT_PENDING:
            self.pending = outcome
        left = self.deadline - time.monotonic()
        if left <= 0 or self.run.stopping:
            return Decision(False, 0.0, "out of time / 超过等待时限", "time_budget")
        delay, self.delay = min(self.delay, left), min(self.delay * 2, POLL_MAX_S)
        return Decision(True, delay, "still under audit / 仍在审核中", "retry")


async def poll_audit(run: Run, row: Row, pending: Outcome) -> Outcome:
    """Ask about ``pending`` (an upload under audit) with backoff until it passes, is
    rejected, or ``run.audit_wait_s`` runs out (then it stays ``audit_pending``).

    Polls count against the shop's rate like uploads do (they go through the exchange).
    """
    deadline = time.monotonic() + run.audit_wait_s
    polling = Polling(run, deadline)

    async def build(token: Token) -> httpx.Request | Outcome:
        return row.adapter.build_poll_request(pending.pending_id, row.shop, now=time.time())

    if time.monotonic() < deadline and not run.stopping:
        await asyncio.sleep(min(POLL_FIRST_S, max(deadline - time.monotonic(), 0.0)))
        answer = await call(run, row.adapter, row.shop, build, row.adapter.parse_response,
                            policy=polling)  # fmt: skip
        if audit_over(answer):
            return answer
    message = (polling.pending or pending).message
    return Outcome.failure(
        AUDIT_TIMEOUT, code="audit_pending", message=message, pending_id=pending.pending_id
    )
