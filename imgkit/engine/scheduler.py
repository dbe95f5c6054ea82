"""Running many rows at once: which row next, deadlines, and what an interrupt leaves.

:func:`execute` hands rows to ``concurrency`` workers through a :class:`Scheduler` (always
the row whose shop can be served soonest), holds each row to the run's deadline, and on
Ctrl-C stops sending, gives the requests on the wire a grace period and says what the
rest are (:func:`cut_short`): ``in_doubt`` if their request had left, else ``cancelled``.
Each row's own course is :func:`imgkit.engine.runner.send_row`.

Example
-------
>>> from imgkit.engine.pacing import PacerPool
>>> Scheduler([], PacerPool(lambda platform, shop: 10.0)).take() is None
True
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque
from collections.abc import Hashable

from imgkit.engine.journal import BEAT_S
from imgkit.engine.pacing import PacerPool
from imgkit.engine.plan import Row
from imgkit.engine.plan_window import Decided, Planned, QueueKey, RowSource
from imgkit.engine.polls import AUDIT_TIMEOUT
from imgkit.engine.run import Run, finish
from imgkit.engine.runner import send_row
from imgkit.errors import Category
from imgkit.platforms.base import CodeRule, Outcome
from imgkit.report.results import CANCELLED, RowResult
from imgkit.words import Words

log = logging.getLogger("imgkit.engine.runner")

_INTERRUPTED = (
    "中断时请求已发出但未收到回应,图片可能已存储;下次运行会先查询再决定是否重发 / interrupted "
    "after the request left and before the answer came: it may have been stored; the next run "
    "looks it up before sending anything"
)
_PAST_DEADLINE = (
    "超过单行时限(row_deadline_s):请求已发出但未获应答,图片可能已存储;"
    "下次运行会先查询再决定是否重发 / "
    "past the row's deadline (row_deadline_s) after the request left and before the answer "
    "came: it may have been stored; the next run looks it up before sending anything"
)
_PAST_DEADLINE_UNSENT = CodeRule(
    Category.TIMEOUT,
    True,
    "超过单行时限(row_deadline_s),未发送",
    "past the row's deadline (row_deadline_s) before it was sent: not sent",
)


class Scheduler:
    """Hands rows to workers: always the row whose shop can be served soonest.

    Rows queue per (platform, shop).  A shop's expected wait is its pacer's delay plus the
    workers already waiting on it over its rate, so a slow shop never ties up the workers
    that other shops could use, whatever order the batch is in.  ``rows``: the rows, or a
    :class:`~imgkit.engine.plan_window.RowSource` that plans each queue's next chunk when
    the last is handed out (rows it decides without sending go to ``decided``), so that
    only a window of planned rows is held, never the whole batch.
    """

    def __init__(
        self, rows: list[Row] | RowSource, pacers: PacerPool, decided: Decided | None = None
    ) -> None:
        self._source = Planned(rows) if isinstance(rows, list) else rows
        self._decided: Decided = decided or _ignore
        self._queues: dict[QueueKey, deque[Row]] = {}
        # Every queue holds a row from the start, so that only the shops with rows to send
        # are chosen from (a shop whose rows were all stored before gets no pacer).
        for key in self._source.queues():
            self._queues[key] = deque()
            self._refill(key)
        self._pacers = pacers
        self._waiting: Counter[QueueKey] = Counter()
        self.active: dict[int, Row] = {}  # the rows workers hold now

    @property
    def held(self) -> int:
        """Rows planned and not yet handed to a worker."""
        return sum(len(queue) for queue in self._queues.values())

    def _refill(self, key: QueueKey) -> None:
        """Plan ``key``'s next rows into its empty queue, or drop the queue: none left."""
        queue = self._queues[key]
        while not queue and self._source.left(key):
            queue.extend(self._source.next(key, self._decided))
        if not queue:
            del self._queues[key]

    def _wait(self, key: QueueKey) -> float:
        pacer = self._pacers.get(*key)
        return pacer.delay() + self._waiting[key] / max(pacer.rate, 1e-9)

    def take(self) -> Row | None:
        """The next row to send, or None when every queue is empty."""
        if not self._queues:
            return None
        key = min(self._queues, key=self._wait)
        self._waiting[key] += 1
        row = self._queues[key].popleft()
        if not self._queues[key]:
            self._refill(key)
        self.active[id(row)] = row
        return row

    def release(self, row: Row) -> None:
        """A worker is done with ``row``."""
        self._waiting[(row.adapter.key, row.shop.name)] -= 1
        self.active.pop(id(row), None)


def _ignore(index: Hashable, platform: str, result: RowResult) -> None:
    """Rows decided while planning, when nobody asked to hear of them."""


def _decided_into(run: Run) -> Decided:
    """Where a run's planning puts the rows it decides without sending: the results, and
    the bars (counted under their platform, like the rows decided before the run)."""

    def into(index: Hashable, platform: str, result: RowResult) -> None:
        run.results[index] = result
        if run.progress is not None:
            run.progress.finished(platform, result.status)

    return into


async def _beat(run: Run) -> None:
    """Tell other runs sharing the journal that this one is alive, until cancelled."""
    journal = run.journal
    assert journal is not None
    while True:
        await asyncio.sleep(BEAT_S)
        journal.beat(run.run_id)


def cut_short(run: Run, row: Row) -> None:
    """``row``'s worker was cancelled after the grace period: say what it is."""
    if row.index in run.results:
        return
    if row.on_wire:  # sent, no answer recorded: in doubt, settled by the next run
        rule = CodeRule(Category.TIMEOUT, False, *_INTERRUPTED.split(" / ", 1))
        outcome = Outcome.failure(rule, code="interrupted", maybe_stored=True)
        finish(run, row, RowResult.from_outcome(outcome, 1, 0.0))
    else:
        finish(run, row, RowResult("cancelled", message=CANCELLED))


def past_deadline(run: Run, row: Row) -> None:
    """``row`` ran out of its deadline: in doubt if its request had left, else failed."""
    if row.index in run.results:
        return
    log.warning("row %s: past its deadline of %s s", row.index, run.row_deadline_s)
    if row.pending_id:  # stored and under audit: refresh() asks again later
        outcome = Outcome.failure(AUDIT_TIMEOUT, code="audit_pending", pending_id=row.pending_id)
    elif row.on_wire or row.in_doubt_since or row.busy:
        # Sent, now or by an earlier run, and not settled: its journal entry stays
        # ``sending`` and the next run looks it up.
        rule = CodeRule(Category.TIMEOUT, False, *_PAST_DEADLINE.split(" / ", 1))
        outcome = Outcome.failure(rule, code="row_deadline", maybe_stored=True)
    else:
        # Never sent: nothing to remember, a re-run sends it.
        outcome = Outcome.failure(_PAST_DEADLINE_UNSENT, code="row_deadline")
    finish(run, row, RowResult.from_outcome(outcome, 1, run.row_deadline_s or 0.0))


async def _one(run: Run, row: Row) -> None:
    """Send ``row`` within the run's deadline; whatever happens, it gets a result."""
    try:
        async with asyncio.timeout(run.row_deadline_s) as deadline:
            await send_row(run, row)
    except TimeoutError:
        if not deadline.expired():
            raise
        past_deadline(run, row)
    except asyncio.CancelledError:
        cut_short(run, row)
        raise
    except Exception as exc:  # one row's surprise must not lose the batch
        log.exception("row %s failed unexpectedly", row.index)
        # Sent (now or by an earlier run) and not settled: it may have been stored.
        status = "in_doubt" if row.on_wire or row.in_doubt_since else "failed"
        result = RowResult(
            status,
            category=str(Category.UNKNOWN),
            code=type(exc).__name__,
            message=Words("imgkit 内部错误", "imgkit internal error", str(exc)),
        )
        finish(run, row, result)


async def execute(
    run: Run, rows: list[Row] | RowSource, concurrency: int = 8, grace_s: float = 5.0
) -> None:
    """Send ``rows`` (or a :class:`~imgkit.engine.plan_window.Planner`'s) with
    ``concurrency`` workers.

    On cancellation (Ctrl-C, a kernel interrupt) nothing new is sent; requests already on
    the wire get ``grace_s`` to be answered (a second cancellation ends the wait), then
    what is left is cut short: a row whose request had left is ``in_doubt`` (settled by a
    look-up on the next run), one that had not is ``cancelled``.  Memory does not grow with
    the number of rows: only the workers' rows are in flight, and a planner's window
    ahead of them; rows a planner decides without sending get their results on the way.
    """
    size = len(rows) if isinstance(rows, list) else rows.size
    scheduler = Scheduler(rows, run.pacers, _decided_into(run))

    async def worker() -> None:
        while not run.stopping and (row := scheduler.take()) is not None:
            try:
                await _one(run, row)
            finally:
                scheduler.release(row)

    workers = [asyncio.create_task(worker()) for _ in range(max(1, min(concurrency, size)))]
    beat = asyncio.create_task(_beat(run)) if run.journal is not None and run.run_id else None
    try:
        if workers:
            # Not gather(): cancelling gather cancels the workers at once, and the requests
            # on the wire would lose their answers.
            await asyncio.wait(workers)
    except asyncio.CancelledError:
        run.stopping = True
        on_wire = sum(1 for row in scheduler.active.values() if row.on_wire)
        log.warning(
            "interrupted: no new uploads; waiting up to %.0f s for %d in flight", grace_s, on_wire
        )
        try:
            _, late = await asyncio.wait(workers, timeout=grace_s)
        except asyncio.CancelledError:  # interrupted again: no more waiting
            late = {task for task in workers if not task.done()}
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late, timeout=1.0)
    finally:
        if beat is not None:
            beat.cancel()
