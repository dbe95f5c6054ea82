"""The upload engine: validate, plan, send concurrently with pacing and retries, journal.

``upload_async(batch, shops)`` validates the batch (invalid rows are never sent), skips
rows the journal already confirmed, and sends the rest through the platform adapters on
one ``httpx.AsyncClient``: a global concurrency cap and one adaptive pacer per (platform,
credential) (:mod:`imgkit.engine.pacing`), retries only where :mod:`imgkit.engine.retry` allows them
(never a re-send that could store a second copy), a shop stopped at its first ``auth`` or
``quota`` failure, and Douyin audits polled until passed, rejected or out of time.  Every
confirmed upload is committed to the journal before the next step, so a re-run never
uploads it again.  The result is :func:`imgkit.report.results.results_frame`.

The public functions are in :mod:`imgkit.engine.uploads`.

Example
-------
>>> shop_rates({})("taobao_picture", "any shop")  # vv-tool's documented 10/s, 2% under
9.8
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import Counter, deque
from collections.abc import Hashable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx

from imgkit.engine.journal import BEAT_S, Journal, JournalBusy, JournalError, Record, State
from imgkit.engine.pacing import PacerPool
from imgkit.engine.plan import Row
from imgkit.engine.progress import Progress
from imgkit.engine.retry import RetryPolicy, stops_shop
from imgkit.engine.settle import Verdict, look_up
from imgkit.engine.transport import Sender
from imgkit.errors import Category, ImgkitError
from imgkit.intake.files import read_file
from imgkit.intake.probe import is_url, sniff_format
from imgkit.intake.shops import Shop
from imgkit.intake.sources import fetch_source
from imgkit.platforms import get_adapter
from imgkit.platforms.base import NOT_SENT, CodeRule, Job, Outcome
from imgkit.report.results import CANCELLED, RowResult
from imgkit.scrub import Scrubber, clip, register

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
_INTERRUPTED = (
    "中断时请求已发出但未收到回应,图片可能已存储;下次运行会先查询再决定是否重发 / interrupted "
    "after the request left and before the answer came: it may have been stored; the next run "
    "looks it up before sending anything"
)
_OTHER_RUN = "由同时运行的另一个 imgkit 上传 / uploaded by another imgkit run at the same time"
_BAD_SHOP = CodeRule(
    Category.INVALID_INPUT,
    False,
    "店铺配置无法构造有效请求,请检查店铺配置",
    "the shop's settings cannot make a valid request: check the shops file",
)
_FILE_CHANGED = CodeRule(
    Category.INVALID_INPUT, False, "文件在校验后被修改或无法读取", "file changed or unreadable"
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
_AUDIT_TIMEOUT = CodeRule(
    Category.AUDIT_PENDING, False, "仍在审核中,可稍后用 refresh() 查询", "still under audit"
)


class _ShopStopped(Exception):
    """The row's shop failed with auth or quota: nothing more is sent for it."""


class _Stopping(Exception):
    """The run is being interrupted (Ctrl-C): rows not yet sent are cancelled."""


@dataclass
class Run:
    """The state of one upload run."""

    client: Sender
    pacers: PacerPool
    policy: RetryPolicy
    journal: Journal | None
    audit_wait_s: float
    results: dict[Hashable, RowResult] = field(default_factory=dict)
    stopped: dict[str, RowResult] = field(default_factory=dict)
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)
    stopping: bool = False
    progress: Progress | None = None
    # Image ids this run stored, per destination (platform, endpoint, account, target):
    # never another row's look-up.
    stored_ids: dict[tuple[str, str, str, str], set[str]] = field(default_factory=dict)
    # This run's id in the journal (its ``sending`` entries name it).
    run_id: str = ""
    # The most one row may take, every attempt, look-up and poll included (None: no limit).
    row_deadline_s: float | None = None
    # The run's shop secrets (and tokens it fetches): scrubbed from every text that leaves
    # for the results or the journal, whatever a server echoed back.
    scrubber: Scrubber = field(default_factory=Scrubber)


# Pace this much under a limit: requests spaced exactly at the limit arrive with network
# jitter, and a platform counting a one-second window would then see one too many.
RATE_MARGIN = 0.98
# With no documented or configured limit, the concurrency cap is what holds a run back.
UNLIMITED_RATE = 1000.0


def shop_rates(shops: dict[str, Shop]) -> Any:
    """``rate_for(platform, shop)`` for the pacers: the shop's ``rate_per_s``, else the
    platform's documented rate, both :data:`RATE_MARGIN` under; else effectively unlimited.

    >>> shop_rates({})("taobao_picture", "any shop")
    9.8
    """

    def rate_for(platform: str, credential: str) -> float:
        shop = shops.get(credential)
        if shop is not None and shop.rate_per_s:
            return shop.rate_per_s * RATE_MARGIN
        documented = get_adapter(platform).limits.rate_per_s
        return documented * RATE_MARGIN if documented else UNLIMITED_RATE

    return rate_for


async def _token(run: Run, row: Row) -> str:
    request = row.adapter.token_request(row.shop)
    if request is None:
        return ""
    cached = run.tokens.get(row.shop.name)
    if cached is not None and cached[1] > time.time():
        return cached[0]
    token, lifetime = row.adapter.parse_token_response(await run.client.send(request))
    if run.scrubber.add(token):
        register(token)  # the logs never show it either
    run.tokens[row.shop.name] = (token, time.time() + max(lifetime - 60.0, 1.0))
    return token


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
    return Job(row.target, Path(row.file).name, data, sniff_format(data[:32]), options=row.options)


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


async def _attempt(run: Run, row: Row) -> tuple[Outcome, bool]:
    """One send of ``row``: (its outcome, whether a re-send is safe).

    The file is read here, inside the global cap, so that at most ``concurrency`` images
    are in memory whatever the batch length.
    """
    async with run.pacers.turn(row.adapter.key, row.shop.name) as pacer:
        if run.stopping:
            raise _Stopping
        if row.shop.name in run.stopped:  # stopped while this row waited for its turn
            raise _ShopStopped
        job = await _job(run, row)
        if isinstance(job, Outcome):
            return job, False
        try:
            token = await _token(run, row)
        except ImgkitError as exc:
            no_token = CodeRule(exc.category, False, "无法获取访问令牌", "no access token")
            return Outcome.failure(no_token, code=exc.code, message=exc.message), False
        except httpx.TransportError as exc:  # only the token request failed: nothing sent
            return Outcome.failure(NOT_SENT, code="token", message=type(exc).__name__), False
        try:
            request = row.adapter.build_request(job, row.shop, now=time.time(), token=token)
        except (ImgkitError, ValueError) as exc:  # the one place a shop's values are judged
            message = exc.message if isinstance(exc, ImgkitError) else str(exc)
            return Outcome.failure(_BAD_SHOP, code="bad_shop", message=message), False
        if run.journal is not None:
            run.journal.begin(
                row.key,
                _record(row),
                run=run.run_id,
                retry_safe=row.adapter.retry_safe(job) or row.cleared,
                force=row.force,
            )
        row.cleared = False
        row.on_wire = True
        row.sent_at = time.time()
        try:
            # One buffer, so the multipart body leaves in one write instead of one per part.
            request.read()
            outcome = row.adapter.parse_response(await run.client.send(request))
        except httpx.TransportError as exc:
            outcome = row.adapter.parse_transport_error(exc)
        if outcome.category is Category.RATE_LIMITED:
            pacer.backoff(outcome.retry_after)
        elif outcome.ok or outcome.category is Category.AUDIT_PENDING:
            pacer.success()
    return outcome, row.adapter.retry_safe(job)


async def poll_audit(run: Run, row: Row, pending: Outcome) -> Outcome:
    """Ask about ``pending`` (an upload under audit) with backoff until it passes, is
    rejected, or ``run.audit_wait_s`` runs out (then it stays ``audit_pending``)."""
    deadline = time.monotonic() + run.audit_wait_s
    delay = 0.25
    outcome = pending
    while time.monotonic() < deadline and not run.stopping:
        await asyncio.sleep(min(delay, max(deadline - time.monotonic(), 0.0)))
        delay = min(delay * 2, 10.0)
        # Polls count against the shop's rate like uploads do.
        async with run.pacers.turn(row.adapter.key, row.shop.name) as pacer:
            request = row.adapter.build_poll_request(pending.pending_id, row.shop, now=time.time())
            try:
                answer = row.adapter.parse_response(await run.client.send(request))
            except httpx.TransportError:
                continue
            if answer.category is Category.RATE_LIMITED:
                pacer.backoff(answer.retry_after)
        if answer.ok or answer.category is Category.AUDIT_REJECTED:
            return answer
        if answer.category is Category.AUDIT_PENDING or answer.retryable:
            outcome = answer if answer.category is Category.AUDIT_PENDING else outcome
            continue
        return answer
    return Outcome.failure(
        _AUDIT_TIMEOUT, code="audit_pending", message=outcome.message, pending_id=pending.pending_id
    )


def _bare_job(row: Row) -> Job:
    """``row`` as a job without its bytes: enough to ask what a re-send would do."""
    return Job(row.target, Path(row.file).name, options=row.options)


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
    (:mod:`imgkit.engine.settle`),
    after ``wait_s`` when it has a look-up; a "not there" heard before
    :func:`absent_after_s` has passed since the request left is checked once more then."""
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
    try:
        token = await _token(run, row)
    except (ImgkitError, httpx.TransportError) as exc:
        return Verdict("unknown", reason=f"no token: {type(exc).__name__}")
    place = _place(row)
    claimed = set(run.stored_ids.get(place, ()))
    if run.journal is not None:
        claimed |= run.journal.image_ids(*place)
    verdict = await look_up(
        run.client,
        run.pacers,
        row.adapter,
        row.shop,
        job,
        token,
        row.sha256,
        claimed=claimed,
        pending_wait_s=run.audit_wait_s,  # a copy under audit is waited for, like a poll
    )
    log.info(
        "row %s: look-up after an unanswered upload: %s %s",
        row.index,
        verdict.state,
        verdict.reason,
    )
    return verdict


def _place(row: Row) -> tuple[str, str, str, str]:
    dest = row.dest
    return dest.platform, dest.endpoint, dest.account, dest.target


def record_outcome(run: Run, row: Row, outcome: Outcome) -> None:
    """Commit ``outcome`` to the journal: done, pending, or failed — but an outcome that
    may have stored the image is left ``sending`` (in doubt), never marked failed."""
    outcome = run.scrubber.outcome(outcome)
    if not outcome.maybe_stored:
        row.on_wire = False  # its fate is known: an interrupt now does not leave it in doubt
    if outcome.ok and outcome.image_id:
        run.stored_ids.setdefault(_place(row), set()).add(outcome.image_id)
    journal = run.journal
    if journal is None:
        return
    if outcome.ok:
        journal.confirm(row.key, outcome.url, outcome.image_id, dict(outcome.raw))
    elif outcome.category is Category.AUDIT_PENDING and outcome.pending_id:
        journal.pending(row.key, outcome.pending_id)
    elif not outcome.maybe_stored and row.stored_before is not None:
        # A forced re-send of a confirmed upload failed: the first copy is still known.
        journal.confirm(row.key, *row.stored_before)
    elif not outcome.maybe_stored:
        category = outcome.category or Category.UNKNOWN
        journal.fail(row.key, category, outcome.code, outcome.message, retryable=outcome.retryable)


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
            run.stored_ids.setdefault(_place(row), set()).add(entry.image_id)
            _finish(run, row, RowResult("skipped", entry.url, entry.image_id, message=_OTHER_RUN))
            return True
        if entry.state is State.PENDING:
            result = RowResult("pending_audit", image_id=entry.pending_id, message=_OTHER_RUN)
            _finish(run, row, result)
            return True
        if not journal.run_alive(entry.owner):  # that run is gone: the row is in doubt
            row.in_doubt_since = entry.updated
            return False
        await asyncio.sleep(0.25)
    _finish(run, row, RowResult("cancelled", message=CANCELLED))
    return True


async def _send(run: Run, row: Row) -> None:
    started = time.monotonic()
    attempts = 0
    if row.busy and await _wait_for_other_run(run, row):
        return
    if row.pending_id:  # under audit since an earlier run: poll, never upload again
        waiting = Outcome(ok=False, category=Category.AUDIT_PENDING, pending_id=row.pending_id)
        outcome = await poll_audit(run, row, waiting)
        record_outcome(run, row, outcome)
        _finish(run, row, RowResult.from_outcome(outcome, 0, time.monotonic() - started))
        return
    settling = bool(row.in_doubt_since) and _needs_settling(
        row, row.adapter.retry_safe(_bare_job(row))
    )
    if settling:  # sent by an earlier run, perhaps killed with the request on its way in
        row.sent_at = row.in_doubt_since
    settle = row.in_doubt_since + row.adapter.retry_settle_s - time.time()
    if row.in_doubt_since and not settling and settle > 0:
        await asyncio.sleep(settle)
    if settling:
        verdict = await settle_row(run, row)
        if verdict.outcome is not None:  # stored by the run that was cut short
            record_outcome(run, row, verdict.outcome)
            _finish(run, row, RowResult.from_outcome(verdict.outcome, 0, 0.0))
            return
        row.cleared = verdict.state == "absent"
        if not row.cleared and not row.force:
            # Not even a de-duplicating re-send is safe now: Douyin's need_distinct finds
            # only copies that passed their audit, and this one may still be under it.
            log.info("row %s stays in doubt: %s", row.index, verdict.reason)
            doubt = Outcome.failure(_IN_DOUBT, code="in_doubt", maybe_stored=True)
            _finish(run, row, RowResult.from_outcome(doubt, 0, time.monotonic() - started))
            return
    while True:
        refused = False
        try:
            if row.shop.name in run.stopped:
                raise _ShopStopped
            outcome, retry_safe = await _attempt(run, row)
            attempts += 1
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
            attempts += 1
            # Still in doubt: the journal keeps it so, and no later run sends it blindly.
            in_doubt = Outcome.failure(_IN_DOUBT, code=exc.code, maybe_stored=True)
            outcome, retry_safe = in_doubt, False
            refused = True
        except _Stopping:
            _finish(run, row, RowResult("cancelled", attempts=attempts, message=CANCELLED))
            return
        except _ShopStopped:
            stop = run.stopped[row.shop.name]
            words = "not sent: the shop failed earlier / 未发送:该店铺此前已失败"
            message = f"{words}; {stop.message}"
            result = RowResult(
                "failed",
                category=stop.category,
                code=stop.code,
                message=message,
                attempts=attempts,
            )
            _finish(run, row, result)
            return
        if outcome.category is Category.AUDIT_PENDING and outcome.pending_id:
            record_outcome(run, row, outcome)
            row.pending_id = outcome.pending_id  # stored: a deadline now leaves it pending
            outcome = await poll_audit(run, row, outcome)
        # A row the journal refused was in doubt already, and looked up before this attempt.
        if (
            outcome.maybe_stored
            and _needs_settling(row, retry_safe)
            and not refused
            and not run.stopping
        ):
            verdict = await settle_row(run, row, wait_s=LOOKUP_SETTLE_S)
            if verdict.outcome is not None:
                outcome = verdict.outcome
            elif verdict.state == "absent":  # nothing stored: failing or re-sending is safe
                outcome, retry_safe, row.cleared = replace(outcome, maybe_stored=False), True, True
            else:  # unsettled: a copy may exist, perhaps still under audit; never re-send
                retry_safe = False
        record_outcome(run, row, outcome)
        if outcome.ok or outcome.category in (Category.AUDIT_PENDING, Category.AUDIT_REJECTED):
            break
        if stops_shop(outcome) or outcome.code == "bad_shop":
            run.stopped.setdefault(row.shop.name, RowResult.from_outcome(outcome, attempts, 0.0))
        decision = run.policy.decide(
            outcome, attempts, time.monotonic() - started, retry_safe=retry_safe
        )
        if not decision.retry:
            log.info("row %s not retried: %s", row.index, decision.reason)
            break
        log.debug("row %s: %s", row.index, decision.reason)
        delay = decision.delay
        if outcome.maybe_stored:  # a safe re-send with no look-up to wait for the first copy
            delay = max(delay, row.adapter.retry_settle_s)
        if run.progress is not None:
            run.progress.retrying(row.adapter.key)
        try:
            await asyncio.sleep(delay)
        finally:
            if run.progress is not None:
                run.progress.resumed(row.adapter.key)
        if run.stopping:
            break
    _finish(run, row, RowResult.from_outcome(outcome, attempts, time.monotonic() - started))


def _finish(run: Run, row: Row, result: RowResult) -> None:
    scrub = run.scrubber.text
    result.message, result.code = clip(scrub(result.message)), scrub(result.code)
    result.url, result.image_id = scrub(result.url), scrub(result.image_id)
    run.results[row.index] = result
    if run.progress is not None:
        run.progress.finished(row.adapter.key, result.status)


class Scheduler:
    """Hands rows to workers: always the row whose shop can be served soonest.

    Rows queue per (platform, shop).  A shop's expected wait is its pacer's delay plus the
    workers already waiting on it over its rate, so a slow shop never ties up the workers
    that other shops could use, whatever order the batch is in.
    """

    def __init__(self, rows: list[Row], pacers: PacerPool) -> None:
        self._queues: dict[tuple[str, str], deque[Row]] = {}
        for row in rows:
            self._queues.setdefault((row.adapter.key, row.shop.name), deque()).append(row)
        self._pacers = pacers
        self._waiting: Counter[tuple[str, str]] = Counter()
        self.active: dict[int, Row] = {}  # the rows workers hold now

    def _wait(self, key: tuple[str, str]) -> float:
        pacer = self._pacers.get(*key)
        return pacer.delay() + self._waiting[key] / max(pacer.rate, 1e-9)

    def take(self) -> Row | None:
        """The next row to send, or None when every queue is empty."""
        ready = [key for key, queue in self._queues.items() if queue]
        if not ready:
            return None
        key = min(ready, key=self._wait)
        self._waiting[key] += 1
        row = self._queues[key].popleft()
        self.active[id(row)] = row
        return row

    def release(self, row: Row) -> None:
        """A worker is done with ``row``."""
        self._waiting[(row.adapter.key, row.shop.name)] -= 1
        self.active.pop(id(row), None)


async def _beat(run: Run) -> None:
    """Tell other runs sharing the journal that this one is alive, until cancelled."""
    journal = run.journal
    assert journal is not None
    while True:
        await asyncio.sleep(BEAT_S)
        journal.beat(run.run_id)


def _cut_short(run: Run, row: Row) -> None:
    """``row``'s worker was cancelled after the grace period: say what it is."""
    if row.index in run.results:
        return
    if row.on_wire:  # sent, no answer recorded: in doubt, settled by the next run
        rule = CodeRule(Category.TIMEOUT, False, *_INTERRUPTED.split(" / ", 1))
        outcome = Outcome.failure(rule, code="interrupted", maybe_stored=True)
        _finish(run, row, RowResult.from_outcome(outcome, 1, 0.0))
    else:
        _finish(run, row, RowResult("cancelled", message=CANCELLED))


def _past_deadline(run: Run, row: Row) -> None:
    """``row`` ran out of its deadline: in doubt if its request had left, else failed."""
    if row.index in run.results:
        return
    log.warning("row %s: past its deadline of %s s", row.index, run.row_deadline_s)
    if row.pending_id:  # stored and under audit: refresh() asks again later
        outcome = Outcome.failure(_AUDIT_TIMEOUT, code="audit_pending", pending_id=row.pending_id)
    elif row.on_wire or row.in_doubt_since or row.busy:
        # Sent, now or by an earlier run, and not settled: its journal entry stays
        # ``sending`` and the next run looks it up.
        rule = CodeRule(Category.TIMEOUT, False, *_PAST_DEADLINE.split(" / ", 1))
        outcome = Outcome.failure(rule, code="row_deadline", maybe_stored=True)
    else:
        # Never sent: nothing to remember, a re-run sends it.
        outcome = Outcome.failure(_PAST_DEADLINE_UNSENT, code="row_deadline")
    _finish(run, row, RowResult.from_outcome(outcome, 1, run.row_deadline_s or 0.0))


async def execute(run: Run, rows: list[Row], concurrency: int = 8, grace_s: float = 5.0) -> None:
    """Send ``rows`` with ``concurrency`` workers.

    On cancellation (Ctrl-C, a kernel interrupt) nothing new is sent; requests already on
    the wire get ``grace_s`` to be answered (a second cancellation ends the wait), then
    what is left is cut short: a row whose request had left is ``in_doubt`` (settled by a
    look-up on the next run), one that had not is ``cancelled``.  Memory does not grow with
    the number of rows: only the workers' rows are in flight.
    """
    scheduler = Scheduler(rows, run.pacers)

    async def worker() -> None:
        while not run.stopping and (row := scheduler.take()) is not None:
            try:
                async with asyncio.timeout(run.row_deadline_s) as deadline:
                    await _send(run, row)
            except TimeoutError:
                if not deadline.expired():
                    raise
                _past_deadline(run, row)
            except asyncio.CancelledError:
                _cut_short(run, row)
                raise
            except Exception as exc:  # one row's surprise must not lose the batch
                log.exception("row %s failed unexpectedly", row.index)
                words = "imgkit 内部错误 / imgkit internal error"
                # Sent (now or by an earlier run) and not settled: it may have been stored.
                status = "in_doubt" if row.on_wire or row.in_doubt_since else "failed"
                result = RowResult(
                    status,
                    category=str(Category.UNKNOWN),
                    code=type(exc).__name__,
                    message=f"{words}: {exc}",
                )
                _finish(run, row, result)
            finally:
                scheduler.release(row)

    workers = [asyncio.create_task(worker()) for _ in range(max(1, min(concurrency, len(rows))))]
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
