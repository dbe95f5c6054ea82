"""One row's course through the engine: send, poll, settle, record.

The upload engine (``upload_async``, :mod:`imgkit.engine.uploads`) validates the batch, skips
rows the journal already confirmed, and hands the rest to :func:`imgkit.engine.scheduler.execute`,
whose workers run :func:`send_row` for each: wait for another run sending the same image,
poll an audit begun by an earlier run, settle an upload an earlier run left in doubt, then
send — every request through :func:`imgkit.engine.exchange.call`, with the run's pacers
(:mod:`imgkit.engine.pacing`), retries only where :mod:`imgkit.engine.retry` allows them (never
a re-send that could store a second copy), a shop stopped at its first ``auth`` or
``quota`` failure, and Douyin audits polled until passed, rejected or out of time.  Every
confirmed upload is committed to the journal before the next step, so a re-run never
uploads it again.

Example
-------
>>> LOOKUP_SETTLE_S  # seconds between an unanswered upload and its look-up
1.0
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from dataclasses import replace

import httpx

from imgkit.engine.exchange import Hooks, Token, call
from imgkit.engine.journal import JournalBusy, JournalError, Record, State
from imgkit.engine.plan import Row
from imgkit.engine.polls import poll_audit
from imgkit.engine.retry import Decision, stops_shop
from imgkit.engine.run import Claimed, Run, finish, place, record_outcome
from imgkit.engine.settle import Verdict, look_up
from imgkit.errors import Category, ImgkitError
from imgkit.intake.files import read_file
from imgkit.intake.probe import is_url, sniff_format
from imgkit.intake.sources import fetch_source
from imgkit.platforms.base import CodeRule, Job, Outcome
from imgkit.report.results import CANCELLED, RowResult
from imgkit.words import Words

log = logging.getLogger("imgkit.engine.runner")

# Files up to this size are read on the event loop: handing a small read to a thread costs
# more CPU (wake-ups, the GIL changing hands) than the read itself, ~0.15 ms per upload.
INLINE_READ_MAX = 256 * 1024

# Before a look-up after an unanswered upload: a server still storing the first copy
# should have finished, so that the look-up lists it.
LOOKUP_SETTLE_S = 1.0
# The shortest and the longest a look-up's "not there" waits to be believed after the
# request left (absent_after_s).
ABSENT_AFTER_MIN_S = 3.0
ABSENT_AFTER_MAX_S = 15.0

_IN_DOUBT = CodeRule(
    Category.TIMEOUT,
    False,
    "此前发送该图片时未收到回应(或运行被中断),可能已存储;为避免重复未重发。请到平台核对,"
    "确认未存储后可用 retry_failed(..., force=True) 重发",
    "an earlier attempt to send this image got no answer (or its run was interrupted), so it "
    "may have been stored; not sent again to avoid a duplicate: check the platform, and if it "
    "is not there send it with retry_failed(..., force=True)",
)
_OTHER_RUN = Words(
    "由同时运行的另一个 imgkit 上传", "uploaded by another imgkit run at the same time"
)
_FILE_CHANGED = CodeRule(
    Category.INVALID_INPUT, False, "文件在校验后被修改或无法读取", "file changed or unreadable"
)


class _ShopStopped(Exception):
    """The row's shop failed with auth or quota: nothing more is sent for it."""


class _Stopping(Exception):
    """The run is being interrupted (Ctrl-C): rows not yet sent are cancelled."""


async def _job(run: Run, row: Row) -> Job | Outcome:
    """The row's job with its bytes, read (or downloaded through the run's client, with its
    deadline and the platform's size cap) and checked against what was validated."""
    limit = row.adapter.limits.max_bytes
    try:
        if is_url(row.file):
            if row.adapter.accepts_url_source:
                name = row.file.rsplit("/", 1)[-1]
                return Job(row.target, name, source_url=row.file, options=row.options)
            data = await fetch_source(run.client, row.file, limit)
        elif 0 < row.size <= INLINE_READ_MAX:
            data = read_file(row.file, limit)
        else:
            data = await asyncio.to_thread(read_file, row.file, limit)
    except ImgkitError as exc:
        return Outcome.failure(_FILE_CHANGED, code="file_changed", message=exc.message)
    if hashlib.sha256(data).hexdigest() != row.sha256:
        return Outcome.failure(_FILE_CHANGED, code="file_changed")
    name = os.path.basename(row.file)  # as Path(...).name, without building a Path
    return Job(row.target, name, data, sniff_format(data[:32]), options=row.options)


def _record(row: Row) -> Record:
    """What the journal keeps of ``row`` besides its key."""
    dest = row.dest
    return Record(
        dest.platform,
        row.shop.name,
        dest.target,
        row.sha256,
        dest.endpoint,
        dest.account,
        row.file,
        dict(dest.options),
    )


class _Sending(Hooks):
    """The upload of one row, as :func:`imgkit.engine.exchange.call` makes it.

    The file is read in :meth:`build`, inside the global cap, so that at most
    ``concurrency`` images are in memory whatever the batch length; the journal entry is
    written as the request leaves; an unanswered attempt is settled by a look-up before
    the policy is asked.
    """

    def __init__(self, run: Run, row: Row, started: float) -> None:
        super().__init__(retry_safe=False, started=started)
        self.run = run
        self.row = row
        self.job: Job | None = None

    def check(self) -> None:
        if self.run.stopping:
            raise _Stopping
        if self.row.shop.name in self.run.stopped:  # stopped while this row waited its turn
            raise _ShopStopped

    async def build(self, token: Token) -> httpx.Request | Outcome:
        """The upload request of the row (its bytes read now)."""
        row = self.row
        self.job = None
        job = await _job(self.run, row)
        if isinstance(job, Outcome):
            return job
        self.job = job
        return row.adapter.build_request(job, row.shop, now=time.time(), token=await token())

    def leaving(self, request: httpx.Request) -> None:
        run, row = self.run, self.row
        assert self.job is not None
        if run.journal is not None:
            run.journal.begin(
                row.key,
                _record(row),
                run=run.run_id,
                retry_safe=row.adapter.retry_safe(self.job) or row.cleared,
                force=row.force,
                commit=run.commits is None,  # else committed with its group, in sending()
            )
        row.cleared = False

    async def sending(self) -> None:
        if self.run.commits is not None:
            await self.run.commits.durable(self.row.key)  # the begin, with its group's
        self.row.on_wire = True
        self.row.sent_at = time.time()

    async def judge(self, outcome: Outcome) -> tuple[Outcome, bool]:
        run, row = self.run, self.row
        retry_safe = self.job is not None and row.adapter.retry_safe(self.job)
        if outcome.category is Category.AUDIT_PENDING and outcome.pending_id:
            record_outcome(run, row, outcome)
            row.pending_id = outcome.pending_id  # stored: a deadline now leaves it pending
            outcome = await poll_audit(run, row, outcome)
        if outcome.maybe_stored and _needs_settling(row, retry_safe) and not run.stopping:
            verdict = await settle_row(run, row, wait_s=LOOKUP_SETTLE_S)
            if verdict.outcome is not None:
                outcome = verdict.outcome
            elif verdict.state == "absent":  # nothing stored: failing or re-sending is safe
                outcome, retry_safe, row.cleared = replace(outcome, maybe_stored=False), True, True
            else:  # unsettled: a copy may exist, perhaps still under audit; never re-send
                retry_safe = False
        record_outcome(run, row, outcome)
        return outcome, retry_safe

    def gave_up(self, outcome: Outcome, decision: Decision) -> None:
        if not outcome.ok and outcome.category not in (
            Category.AUDIT_PENDING,
            Category.AUDIT_REJECTED,
        ):
            log.info("row %s not retried: %s", self.row.index, decision.reason)
        if stops_shop(outcome) or outcome.code == "bad_shop":
            result = RowResult.from_outcome(outcome, self.attempts, 0.0)
            self.run.stopped.setdefault(self.row.shop.name, result)

    async def wait(self, outcome: Outcome, delay: float) -> None:
        adapter, progress = self.row.adapter, self.run.progress
        if outcome.maybe_stored:  # a safe re-send with no look-up to wait for the first copy
            delay = max(delay, adapter.retry_settle_s)
        if progress is not None:
            progress.retrying(adapter.key)
        try:
            await asyncio.sleep(delay)
        finally:
            if progress is not None:
                progress.resumed(adapter.key)


def _bare_job(row: Row) -> Job:
    """``row`` as a job without its bytes: enough to ask what a re-send would do."""
    return Job(row.target, os.path.basename(row.file), options=row.options)


def _needs_settling(row: Row, retry_safe: bool) -> bool:
    """Whether a row that may have been stored is looked up before it is sent again.

    Always where the platform has a look-up, unless the row replaces by id (a re-send then
    overwrites the same image): even a re-send the platform de-duplicates (Douyin's
    ``need_distinct``) finds only copies that passed their audit, so the look-up, which
    waits for the audit, comes first.  Without a look-up only a safe re-send goes ahead.
    """
    if row.options.get("replace_id"):
        return False
    has_lookup = row.adapter.build_lookup_request(_bare_job(row), row.shop, now=0.0) is not None
    return has_lookup or not retry_safe


def absent_after_s(run: Run) -> float:
    """How long after its request left a look-up's "not there" is believed.

    A platform may go on storing after the client gave up, and a gateway's 504 says only
    that the gateway stopped waiting: the platform gets twice the time the client gives
    every request (``timeout``), at least :data:`ABSENT_AFTER_MIN_S` and at most
    :data:`ABSENT_AFTER_MAX_S` (so that a row never holds a worker for long).  A platform
    slower than that, which then stores without answering, can still get a second copy.
    """
    window = min(max(2.0 * run.client.deadline_s, ABSENT_AFTER_MIN_S), ABSENT_AFTER_MAX_S)
    return window + LOOKUP_SETTLE_S


async def settle_row(run: Run, row: Row, wait_s: float = 0.0) -> Verdict:
    """Ask the platform whether ``row``'s unanswered upload was stored
    (:mod:`imgkit.engine.settle`), after ``wait_s`` when it has a look-up; a "not there"
    heard before :func:`absent_after_s` has passed since the request left is checked once
    more then."""
    if row.adapter.build_lookup_request(_bare_job(row), row.shop, now=time.time()) is None:
        return Verdict("unknown", reason=f"{row.adapter.key} has no look-up")
    await asyncio.sleep(wait_s)
    verdict = await _look_up(run, row)
    early = row.sent_at + absent_after_s(run) - time.time()
    if verdict.state == "absent" and early > 0 and not run.stopping:
        log.info("row %s: not there yet; looking again in %.1f s", row.index, early)
        await asyncio.sleep(early)
        verdict = await _look_up(run, row)
    return verdict


async def _look_up(run: Run, row: Row) -> Verdict:
    job = await _job(run, row)
    if isinstance(job, Outcome):
        return Verdict("unknown", reason=job.code)
    claimed = Claimed(run, place(row))
    verdict = await look_up(
        run.client,
        run.pacers,
        row.adapter,
        row.shop,
        job,
        None,  # the run's token, fetched (or refreshed) through the exchange
        row.sha256,
        claimed=claimed,
        pending_wait_s=run.audit_wait_s,  # a copy under audit is waited for, like a poll
        means=run,
    )
    log.info(
        "row %s: look-up after an unanswered upload: %s %s",
        row.index,
        verdict.state,
        verdict.reason,
    )
    return verdict


async def _wait_for_other_run(run: Run, row: Row) -> bool:
    """Wait while another live run sends ``row``; True when that run stored it (the row is
    then finished here as ``skipped``), False when ``row`` is this run's to send again."""
    journal = run.journal
    assert journal is not None  # only a journal knows of other runs
    while not run.stopping:
        entry = journal.lookup(row.key)
        if entry is None or entry.state is State.FAILED:
            return False
        if entry.state is State.DONE:
            # No copy in run.stored_ids: the journal holds it at its place (Claimed asks).
            finish(run, row, RowResult("skipped", entry.url, entry.image_id, message=_OTHER_RUN))
            return True
        if entry.state is State.PENDING:
            result = RowResult("pending_audit", image_id=entry.pending_id, message=_OTHER_RUN)
            finish(run, row, result)
            return True
        if not journal.run_alive(entry.owner):  # that run is gone: the row is in doubt
            row.in_doubt_since = entry.updated
            return False
        await asyncio.sleep(0.25)
    finish(run, row, RowResult("cancelled", message=CANCELLED))
    return True


async def _settle_earlier(run: Run, row: Row, started: float) -> bool:
    """Before sending a row an earlier run left in doubt (or under audit): poll or look
    it up.  True when that settled the row (it is finished)."""
    if row.pending_id:  # under audit since an earlier run: poll, never upload again
        waiting = Outcome(ok=False, category=Category.AUDIT_PENDING, pending_id=row.pending_id)
        outcome = await poll_audit(run, row, waiting)
        record_outcome(run, row, outcome)
        finish(run, row, RowResult.from_outcome(outcome, 0, time.monotonic() - started))
        return True
    settling = bool(row.in_doubt_since) and _needs_settling(
        row, row.adapter.retry_safe(_bare_job(row))
    )
    if settling:  # sent by an earlier run, perhaps killed with the request on its way in
        row.sent_at = row.in_doubt_since
    settle = row.in_doubt_since + row.adapter.retry_settle_s - time.time()
    if row.in_doubt_since and not settling and settle > 0:
        await asyncio.sleep(settle)
    if not settling:
        return False
    verdict = await settle_row(run, row)
    if verdict.outcome is not None:  # stored by the run that was cut short
        record_outcome(run, row, verdict.outcome)
        finish(run, row, RowResult.from_outcome(verdict.outcome, 0, 0.0))
        return True
    row.cleared = verdict.state == "absent"
    if not row.cleared and not row.force:
        # Not even a de-duplicating re-send is safe now: Douyin's need_distinct finds
        # only copies that passed their audit, and this one may still be under it.
        log.info("row %s stays in doubt: %s", row.index, verdict.reason)
        doubt = Outcome.failure(_IN_DOUBT, code="in_doubt", maybe_stored=True)
        finish(run, row, RowResult.from_outcome(doubt, 0, time.monotonic() - started))
        return True
    return False


def _shop_stopped(run: Run, row: Row, attempts: int) -> RowResult:
    stop = run.stopped[row.shop.name]
    return RowResult(
        "failed",
        category=stop.category,
        code=stop.code,
        message=Words("未发送:该店铺此前已失败", "not sent: the shop failed earlier", stop.message),
        attempts=attempts,
    )


async def send_row(run: Run, row: Row) -> None:
    """Take ``row`` to its result: uploaded, pending, failed, in doubt, skipped..."""
    started = time.monotonic()
    if row.busy and await _wait_for_other_run(run, row):
        return
    if await _settle_earlier(run, row, started):
        return
    sending = _Sending(run, row, started)
    while True:
        try:
            if row.shop.name in run.stopped:
                raise _ShopStopped
            outcome = await call(
                run, row.adapter, row.shop, sending.build, row.adapter.parse_response,
                policy=run.policy, hooks=sending,
            )  # fmt: skip
        except JournalBusy:  # another run began it between our plan and this attempt
            if await _wait_for_other_run(run, row):
                return
            continue
        except JournalError as exc:
            # Stored or under audit since our plan: another run finished it meanwhile.
            if exc.code in ("already_done", "already_pending") and await _wait_for_other_run(
                run, row
            ):
                return
            sending.attempts += 1
            # Still in doubt: the journal keeps it so, and no later run sends it blindly.
            outcome = Outcome.failure(_IN_DOUBT, code=exc.code, maybe_stored=True)
            record_outcome(run, row, outcome)
        except _Stopping:
            finish(run, row, RowResult("cancelled", attempts=sending.attempts, message=CANCELLED))
            return
        except _ShopStopped:
            finish(run, row, _shop_stopped(run, row, sending.attempts))
            return
        break
    elapsed = time.monotonic() - started
    finish(run, row, RowResult.from_outcome(outcome, sending.attempts, elapsed))
