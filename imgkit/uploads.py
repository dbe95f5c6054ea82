"""The main job: ``upload``, ``upload_async``, ``refresh`` and ``retry_failed``.

``upload(batch, shops)`` validates the batch, uploads every valid row through the engine
(:mod:`imgkit.engine`) and returns the results frame (:mod:`imgkit.results`): one row per
input row, same index.  It works in a script and inside a running event loop (Jupyter);
Ctrl-C or a kernel interrupt stops sending, waits briefly for requests in flight, and
returns the partial results (unsent rows ``cancelled``); nothing confirmed is lost, as the
journal committed it.

Example
-------
>>> import imgkit
>>> with imgkit.Sandbox() as sb:
...     out = imgkit.upload("sample_data/batch.csv", shops=sb.shops, journal=False,
...                         progress=False)
>>> sorted(set(out["status"]))
['uploaded']
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Coroutine, Hashable
from typing import Any

import httpx
import pandas as pd

from imgkit.engine import (
    Row,
    Run,
    execute,
    plan,
    poll_audit,
    record_outcome,
    row_options,
    shop_rates,
)
from imgkit.journal import Journal, default_journal_path, journal_key
from imgkit.pacing import PacerPool
from imgkit.platforms import get_adapter
from imgkit.platforms.base import Outcome
from imgkit.progress import Progress
from imgkit.results import RESULT_COLUMNS, RowResult, results_frame
from imgkit.retry import RetryPolicy
from imgkit.transport import Sender
from imgkit.validation import load_shops_lenient, validate

RETRYABLE_STATUSES = ("failed", "cancelled", "invalid")


def _open_journal(journal: Any, checked: pd.DataFrame) -> Journal | None:
    if journal is False:
        return None
    if journal is None or journal is True:
        return Journal(default_journal_path(checked.attrs.get("imgkit_source")))
    if isinstance(journal, Journal):
        return journal
    return Journal(journal)


def _client(concurrency: int, timeout: float, transport: Any) -> Sender:
    return Sender(concurrency, timeout=timeout, transport=transport)


async def upload_async(
    batch: Any,
    shops: Any = None,
    *,
    journal: Any = None,
    concurrency: int = 8,
    progress: bool = True,
    policy: RetryPolicy | None = None,
    audit_wait_s: float = 60.0,
    timeout: float = 60.0,
    dry_run: bool = False,
    transport: httpx.AsyncBaseTransport | None = None,
) -> pd.DataFrame:
    """Validate ``batch``, upload its valid rows, and return the results frame.

    ``journal``: a path, a :class:`imgkit.journal.Journal`, None (beside the batch file or
    in the user cache) or False (none).  ``dry_run=True`` sends nothing and returns the
    plan: rows to send have status ``planned``.  ``transport`` replaces the network (e.g.
    ``Sandbox.asgi_transport()``).
    """
    checked = await asyncio.to_thread(validate, batch, shops)
    good, _bad, _problem = load_shops_lenient(shops)
    opened = _open_journal(journal, checked)
    try:
        rows, decided = plan(checked, good, opened)
        if dry_run:
            decided.update({row.index: RowResult("planned") for row in rows})
            return results_frame(checked, decided)
        async with _client(concurrency, timeout, transport) as client:
            run = Run(
                client,
                PacerPool(shop_rates(good), concurrency=concurrency),
                policy or RetryPolicy(),
                opened,
                audit_wait_s,
                results=dict(decided),
            )
            per_platform = Counter(row.adapter.key for row in rows)
            run.progress = Progress(per_platform, enabled=progress)
            try:
                await execute(run, rows, concurrency)
            finally:
                run.progress.close()
        return results_frame(checked, run.results)
    finally:
        if opened is not None and opened is not journal:
            opened.close()


def _run_sync(make: Any) -> pd.DataFrame:
    """Run a coroutine to completion from sync code, in or out of a running loop.

    The coroutine runs on a private loop in a worker thread; Ctrl-C (or a Jupyter kernel
    interrupt) in the calling thread cancels it, and its partial result is returned.
    """
    box: dict[str, Any] = {}
    ready = threading.Event()
    done = threading.Event()

    def worker() -> None:
        loop = asyncio.new_event_loop()
        try:
            coroutine: Coroutine[Any, Any, pd.DataFrame] = make()
            box["task"] = task = loop.create_task(coroutine)
            box["loop"] = loop
            ready.set()
            box["result"] = loop.run_until_complete(task)
        except BaseException as exc:  # handed to the calling thread below
            box["error"] = exc
        finally:
            ready.set()
            loop.close()
            done.set()

    thread = threading.Thread(target=worker, name="imgkit-upload", daemon=True)
    thread.start()
    # Wait on an Event, not Thread.join(): a KeyboardInterrupt inside join() leaves the
    # thread looking finished on some CPython versions, and we would return too early.
    try:
        while not done.wait(0.1):
            pass
    except KeyboardInterrupt:
        ready.wait()
        if "task" in box:
            box["loop"].call_soon_threadsafe(box["task"].cancel)
        done.wait()
    if "error" in box:
        raise box["error"]
    result: pd.DataFrame = box["result"]
    return result


def upload(batch: Any, shops: Any = None, **options: Any) -> pd.DataFrame:
    """Synchronous :func:`upload_async`; works in a script and inside a running event loop.

    Inside Jupyter (a loop is already running) the upload runs on its own loop in a worker
    thread, so the notebook does not need ``await``.  Ctrl-C returns the partial results.
    """
    return _run_sync(lambda: upload_async(batch, shops, **options))


def _inputs(results: pd.DataFrame) -> pd.DataFrame:
    drop = [c for c in (*RESULT_COLUMNS, "platform_key") if c in results.columns]
    return results.drop(columns=drop)


def retry_failed(results: pd.DataFrame, shops: Any = None, **options: Any) -> pd.DataFrame:
    """Upload again the rows that failed with a retryable cause, were cancelled, or were
    invalid (fixed since, for instance by :func:`imgkit.fit` or by hand); keep the rest.

    Rows failed as *maybe stored* stay in doubt in the journal and are not re-sent.
    """
    again = (results["status"].isin(["cancelled", "invalid"])) | (
        (results["status"] == "failed") & results["retryable"].astype(bool)
    )
    if not again.any():
        return results.copy()
    redone = upload(_inputs(results[again]), shops, **options)
    merged = results.copy()
    for column in redone.columns:
        if column not in merged.columns:
            merged[column] = ""
        merged.loc[redone.index, column] = redone[column]
    return merged


async def _refresh_async(
    results: pd.DataFrame, shops: Any, journal: Any, audit_wait_s: float, transport: Any
) -> dict[Hashable, RowResult]:
    good, _bad, _problem = load_shops_lenient(shops)
    opened = _open_journal(journal, results)
    found: dict[Hashable, RowResult] = {}
    try:
        async with _client(8, 60.0, transport) as client:
            run = Run(client, PacerPool(shop_rates(good)), RetryPolicy(), opened, audit_wait_s)
            pending = results[results["status"] == "pending_audit"]
            for index, record in zip(pending.index, pending.to_dict("records"), strict=True):
                shop = good.get(str(record["shop"]))
                if shop is None:
                    continue
                row = Row(
                    index,
                    shop,
                    get_adapter(shop.platform),
                    str(record["file"]),
                    str(record["target"]),
                    {},
                    str(record.get("sha256", "")),
                    "",
                    pending_id=str(record["image_id"]),
                )
                waiting = Outcome(ok=False, pending_id=row.pending_id)
                outcome = await poll_audit(run, row, waiting)
                if opened is not None and row.sha256:
                    row.key = _journal_key_of(record, shop.platform)
                    record_outcome(run, row, outcome)
                found[index] = RowResult.from_outcome(outcome, 0, 0.0)
    finally:
        if opened is not None and opened is not journal:
            opened.close()
    return found


def _journal_key_of(record: dict[Hashable, Any], platform: str) -> str:
    return journal_key(
        platform,
        str(record["shop"]),
        str(record["target"]),
        str(record["sha256"]),
        row_options(record),
    )


def refresh(
    results: pd.DataFrame,
    shops: Any = None,
    *,
    journal: Any = False,
    audit_wait_s: float = 10.0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> pd.DataFrame:
    """Poll the rows still ``pending_audit`` again; return the results with them updated."""

    async def work() -> pd.DataFrame:
        found = await _refresh_async(results, shops, journal, audit_wait_s, transport)
        merged = results.copy()
        if not found:
            return merged
        for name in ("status", "url", "category", "code", "message"):
            values = pd.Series({i: getattr(r, name) for i, r in found.items()}, dtype=object)
            merged.loc[values.index, name] = values
        return merged

    return _run_sync(work)
