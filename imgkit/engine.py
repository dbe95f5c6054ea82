"""The upload engine: validate, plan, send concurrently with pacing and retries, journal.

``upload_async(batch, shops)`` validates the batch (invalid rows are never sent), skips
rows the journal already confirmed, and sends the rest through the platform adapters on
one ``httpx.AsyncClient``: a global concurrency cap and one adaptive pacer per (platform,
credential) (:mod:`imgkit.pacing`), retries only where :mod:`imgkit.retry` allows them
(never a re-send that could store a second copy), a shop stopped at its first ``auth`` or
``quota`` failure, and Douyin audits polled until passed, rejected or out of time.  Every
confirmed upload is committed to the journal before the next step, so a re-run never
uploads it again.  The result is :func:`imgkit.results.results_frame`.

The public functions are in :mod:`imgkit.uploads`.

Example
-------
>>> row_options({"title": " 杯子 ", "position": "", "note": "ignored"})
{'title': '杯子'}
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
import pandas as pd

from imgkit.errors import Category, ImgkitError
from imgkit.journal import Journal, JournalError, journal_key
from imgkit.pacing import PacerPool
from imgkit.platforms import get_adapter
from imgkit.platforms.base import NOT_SENT, Adapter, CodeRule, Job, Outcome
from imgkit.probe import download, is_url, sniff_format
from imgkit.progress import Progress
from imgkit.results import RowResult
from imgkit.retry import RetryPolicy, stops_shop
from imgkit.settle import Verdict, look_up
from imgkit.shops import Shop
from imgkit.transport import Sender

log = logging.getLogger("imgkit.engine")

# Files up to this size are read on the event loop: handing a small read to a thread costs
# more CPU (wake-ups, the GIL changing hands) than the read itself, ~0.15 ms per upload.
INLINE_READ_MAX = 256 * 1024

# Before a look-up after an unanswered upload: a server still storing the first copy
# should have finished, so that the look-up lists it.
LOOKUP_SETTLE_S = 1.0

OPTION_COLUMNS = (
    "title",
    "position",
    "replace_id",
    "is_major",
    "is_rectangle",
    "client_type",
    "need_distinct",
    "is_https",
)
_IN_DOUBT = CodeRule(
    Category.TIMEOUT,
    False,
    "上次运行中断时该图片正在上传,可能已存储;为避免重复未重发,请到平台核对",
    "an earlier run was interrupted while sending this image, so it may have been stored; "
    "not sent again to avoid a duplicate: check the platform",
)
_FILE_CHANGED = CodeRule(
    Category.INVALID_INPUT, False, "文件在校验后被修改或无法读取", "file changed or unreadable"
)
_CANCELLED = "已取消,未发送 / cancelled before it was sent"
_AUDIT_TIMEOUT = CodeRule(
    Category.AUDIT_PENDING, False, "仍在审核中,可稍后用 refresh() 查询", "still under audit"
)


class _ShopStopped(Exception):
    """The row's shop failed with auth or quota: nothing more is sent for it."""


class _Stopping(Exception):
    """The run is being interrupted (Ctrl-C): rows not yet sent are cancelled."""


@dataclass(slots=True)  # one per row: no per-instance dict
class Row:
    """One row to send."""

    index: Hashable
    shop: Shop
    adapter: Adapter
    file: str
    target: str
    options: dict[str, str]
    sha256: str
    key: str
    pending_id: str = ""
    # When an earlier run sent this row without learning the outcome (epoch seconds).
    in_doubt_since: float = 0.0
    # A look-up proved its unanswered upload stored nothing: the next send is safe.
    cleared: bool = False
    # Its file's size when validated (0: unknown).
    size: int = 0


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
    # Image ids this run stored, per (platform, shop, target): never another row's look-up.
    stored_ids: dict[tuple[str, str, str], set[str]] = field(default_factory=dict)


def row_options(record: dict[Hashable, Any]) -> dict[str, str]:
    """The optional columns of one batch row that are set, as stripped text.

    >>> row_options({"position": "2", "title": "", "note": "x"})
    {'position': '2'}
    """
    values = {name: str(record.get(name) or "").strip() for name in OPTION_COLUMNS}
    return {name: value for name, value in values.items() if value and value != "nan"}


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
    run.tokens[row.shop.name] = (token, time.time() + max(lifetime - 60.0, 1.0))
    return token


def _download(url: str, limit: int) -> bytes | None:
    with httpx.Client(timeout=30.0, follow_redirects=True, trust_env=False) as client:
        return download(url, client, limit)


async def _job(run: Run, row: Row) -> Job | Outcome:
    if is_url(row.file):
        if row.adapter.accepts_url_source:
            return Job(
                row.target, row.file.rsplit("/", 1)[-1], source_url=row.file, options=row.options
            )
        data = await asyncio.to_thread(_download, row.file, row.adapter.limits.max_bytes)
    else:
        try:
            if 0 < row.size <= INLINE_READ_MAX:
                data = Path(row.file).read_bytes()
            else:
                data = await asyncio.to_thread(Path(row.file).read_bytes)
        except OSError:
            data = None
    if data is None or hashlib.sha256(data).hexdigest() != row.sha256:
        return Outcome.failure(_FILE_CHANGED, code="file_changed")
    return Job(row.target, Path(row.file).name, data, sniff_format(data[:32]), options=row.options)


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
        request = row.adapter.build_request(job, row.shop, now=time.time(), token=token)
        if run.journal is not None:
            run.journal.begin(
                row.key,
                row.adapter.key,
                row.shop.name,
                row.target,
                row.sha256,
                retry_safe=row.adapter.retry_safe(job) or row.cleared,
            )
        row.cleared = False
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


async def settle_row(run: Run, row: Row, wait_s: float = 0.0) -> Verdict:
    """Ask the platform whether ``row``'s unanswered upload was stored (:mod:`imgkit.settle`),
    after ``wait_s`` when it has a look-up."""
    if row.adapter.build_lookup_request(_bare_job(row), row.shop, now=time.time()) is None:
        return Verdict("unknown", reason=f"{row.adapter.key} has no look-up")
    await asyncio.sleep(wait_s)
    job = await _job(run, row)
    if isinstance(job, Outcome):
        return Verdict("unknown", reason=job.code)
    try:
        token = await _token(run, row)
    except (ImgkitError, httpx.TransportError) as exc:
        return Verdict("unknown", reason=f"no token: {type(exc).__name__}")
    claimed = set(run.stored_ids.get((row.adapter.key, row.shop.name, row.target), ()))
    if run.journal is not None:
        claimed |= run.journal.image_ids(row.adapter.key, row.shop.name, row.target)
    verdict = await look_up(
        run.client, run.pacers, row.adapter, row.shop, job, token, row.sha256, claimed=claimed
    )
    log.info(
        "row %s: look-up after an unanswered upload: %s %s",
        row.index,
        verdict.state,
        verdict.reason,
    )
    return verdict


def record_outcome(run: Run, row: Row, outcome: Outcome) -> None:
    """Commit ``outcome`` to the journal: done, pending, or failed — but an outcome that
    may have stored the image is left ``sending`` (in doubt), never marked failed."""
    if outcome.ok and outcome.image_id:
        place = (row.adapter.key, row.shop.name, row.target)
        run.stored_ids.setdefault(place, set()).add(outcome.image_id)
    journal = run.journal
    if journal is None:
        return
    if outcome.ok:
        journal.confirm(row.key, outcome.url, outcome.image_id, dict(outcome.raw))
    elif outcome.category is Category.AUDIT_PENDING and outcome.pending_id:
        journal.pending(row.key, outcome.pending_id)
    elif not outcome.maybe_stored:
        journal.fail(row.key, outcome.category or Category.UNKNOWN, outcome.code, outcome.message)


async def _send(run: Run, row: Row) -> None:
    started = time.monotonic()
    attempts = 0
    if row.pending_id:  # under audit since an earlier run: poll, never upload again
        waiting = Outcome(ok=False, category=Category.AUDIT_PENDING, pending_id=row.pending_id)
        outcome = await poll_audit(run, row, waiting)
        record_outcome(run, row, outcome)
        _finish(run, row, RowResult.from_outcome(outcome, 0, time.monotonic() - started))
        return
    settle = row.in_doubt_since + row.adapter.retry_settle_s - time.time()
    if row.in_doubt_since and settle > 0:
        await asyncio.sleep(settle)
    if row.in_doubt_since and not row.adapter.retry_safe(_bare_job(row)):
        verdict = await settle_row(run, row)
        if verdict.outcome is not None:  # stored by the run that was cut short
            record_outcome(run, row, verdict.outcome)
            _finish(run, row, RowResult.from_outcome(verdict.outcome, 0, 0.0))
            return
        row.cleared = verdict.state == "absent"
    while True:
        refused = False
        try:
            if row.shop.name in run.stopped:
                raise _ShopStopped
            outcome, retry_safe = await _attempt(run, row)
            attempts += 1
        except JournalError as exc:
            attempts += 1
            # Still in doubt: the journal keeps it so, and no later run sends it blindly.
            in_doubt = Outcome.failure(_IN_DOUBT, code=exc.code, maybe_stored=True)
            outcome, retry_safe = in_doubt, False
            refused = True
        except _Stopping:
            _finish(run, row, RowResult("cancelled", attempts=attempts, message=_CANCELLED))
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
            outcome = await poll_audit(run, row, outcome)
        # A row the journal refused was in doubt already, and looked up before this attempt.
        if outcome.maybe_stored and not retry_safe and not refused and not run.stopping:
            verdict = await settle_row(run, row, wait_s=LOOKUP_SETTLE_S)
            if verdict.outcome is not None:
                outcome = verdict.outcome
            elif verdict.state == "absent":  # nothing stored: failing or re-sending is safe
                outcome, retry_safe, row.cleared = replace(outcome, maybe_stored=False), True, True
        record_outcome(run, row, outcome)
        if outcome.ok or outcome.category in (Category.AUDIT_PENDING, Category.AUDIT_REJECTED):
            break
        if stops_shop(outcome):
            run.stopped.setdefault(row.shop.name, RowResult.from_outcome(outcome, attempts, 0.0))
        decision = run.policy.decide(
            outcome, attempts, time.monotonic() - started, retry_safe=retry_safe
        )
        if not decision.retry:
            log.info("row %s not retried: %s", row.index, decision.reason)
            break
        log.debug("row %s: %s", row.index, decision.reason)
        delay = decision.delay
        if outcome.maybe_stored:
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
    run.results[row.index] = result
    if run.progress is not None:
        run.progress.finished(row.adapter.key, result.status)


def _size(value: Any) -> int:
    """A validated byte count as an int (0 when missing: a URL, say)."""
    try:
        return int(value) if value == value else 0  # NaN != NaN
    except (TypeError, ValueError):
        return 0


def plan(
    checked: pd.DataFrame, shops: dict[str, Shop], journal: Journal | None
) -> tuple[list[Row], dict[Hashable, RowResult]]:
    """Rows to send, and the rows already decided (invalid, or done in the journal)."""
    rows: list[Row] = []
    decided: dict[Hashable, RowResult] = {}
    # Only the columns used here: a dict per row of all ~30 is the peak of a long batch.
    wanted = ("ok", "issues", "shop", "target", "file", "sha256", "bytes", *OPTION_COLUMNS)
    columns = [name for name in wanted if name in checked.columns]
    records = checked[columns].to_dict("records")
    for index, record in zip(checked.index, records, strict=True):
        if not record["ok"]:
            decided[index] = RowResult(
                "invalid", category=str(Category.INVALID_INPUT), code=str(record["issues"])
            )
            continue
        shop = shops[str(record["shop"]).strip()]
        options = row_options(record)
        target = str(record["target"]).strip()
        key = journal_key(shop.platform, shop.name, target, str(record["sha256"]), options)
        adapter = get_adapter(shop.platform)
        rows.append(
            Row(
                index,
                shop,
                adapter,
                str(record["file"]),
                target,
                options,
                str(record["sha256"]),
                key,
                size=_size(record.get("bytes")),
            )
        )
    if journal is None:
        return rows, decided
    entries = journal.lookup_many([row.key for row in rows])
    to_send = []
    for row in rows:
        entry = entries.get(row.key)
        if entry is not None and entry.state == "done":
            decided[row.index] = RowResult(
                "skipped",
                entry.url,
                entry.image_id,
                message="已上传过(见上传记录) / uploaded before (see the journal)",
            )
            continue
        if entry is not None and entry.state == "pending":
            row.pending_id = entry.pending_id
        if entry is not None and entry.state == "sending":
            row.in_doubt_since = entry.updated
        to_send.append(row)
    return to_send, decided


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
        return self._queues[key].popleft()

    def release(self, row: Row) -> None:
        """A worker is done with ``row``."""
        self._waiting[(row.adapter.key, row.shop.name)] -= 1


async def execute(run: Run, rows: list[Row], concurrency: int = 8, grace_s: float = 5.0) -> None:
    """Send ``rows`` with ``concurrency`` workers; on cancellation (Ctrl-C) stop sending,
    wait ``grace_s`` for requests in flight, then cancel what is left (those rows stay
    without a result: ``cancelled``).  Memory does not grow with the number of rows: only
    the workers' rows are in flight."""
    scheduler = Scheduler(rows, run.pacers)

    async def worker() -> None:
        while not run.stopping and (row := scheduler.take()) is not None:
            try:
                await _send(run, row)
            except Exception as exc:  # one row's surprise must not lose the batch
                log.exception("row %s failed unexpectedly", row.index)
                words = "imgkit 内部错误 / imgkit internal error"
                _finish(
                    run,
                    row,
                    RowResult(
                        "failed",
                        category=str(Category.UNKNOWN),
                        code=type(exc).__name__,
                        message=f"{words}: {exc}",
                    ),
                )
            finally:
                scheduler.release(row)

    workers = [asyncio.create_task(worker()) for _ in range(max(1, min(concurrency, len(rows))))]
    try:
        await asyncio.gather(*workers)
    except asyncio.CancelledError:
        run.stopping = True
        log.warning("interrupted: no new uploads; waiting %.0f s for those in flight", grace_s)
        _, late = await asyncio.wait(workers, timeout=grace_s)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late, timeout=1.0)
