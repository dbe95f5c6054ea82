"""The main job: ``upload``, ``upload_async`` and ``retry_failed`` (``refresh`` is
:mod:`imgkit.engine.refresh`).

``upload(batch, shops)`` validates the batch, uploads every valid row through the engine
(:mod:`imgkit.engine.runner`) and returns the results frame (:mod:`imgkit.report.results`):
one row per input row, same index. The user's journal (:mod:`imgkit.engine.journal`)
remembers every upload by destination and content, so any copy of the batch — another file,
a CSV, a DataFrame, a results workbook read back — never stores an image twice. It works in
a script and inside a running event loop (Jupyter); Ctrl-C or a kernel interrupt stops
sending, gives the requests on the wire a grace period, and returns the partial results:
each row is ``uploaded`` (answered), ``in_doubt`` (sent, no answer: the next run looks it
up) or ``cancelled`` (never sent).

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
import inspect
import logging
import os
from collections import Counter
from collections.abc import Hashable, Iterable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

from imgkit.aliases import BatchSource, ShopsSource
from imgkit.engine.group_commit import GroupCommit
from imgkit.engine.in_thread import run_sync
from imgkit.engine.journal import Journal
from imgkit.engine.migrate import legacy_sources
from imgkit.engine.pacing import PacerPool
from imgkit.engine.plan_window import Planner
from imgkit.engine.progress import Progress, ProgressListener, notebook_bars
from imgkit.engine.retry import RetryPolicy
from imgkit.engine.run import Run, shop_rates
from imgkit.engine.scheduler import execute
from imgkit.errors import UnknownPlatformError
from imgkit.intake.validation import LoadedShops, load_shops_lenient, validate
from imgkit.net.bridge import AsyncBridge
from imgkit.net.transport import Sender
from imgkit.platforms import resolve_platform
from imgkit.report.readback import read_results
from imgkit.report.results import (
    RESULT_COLUMNS,
    ResultTable,
    RowResult,
    replace_rows,
    results_frame,
    summary_line,
)
from imgkit.scrub import scrubber_for_shops
from imgkit.scrub_logs import register
from imgkit.words import DEFAULT_LANG, Lang, Words, check_lang

log = logging.getLogger("imgkit.engine.uploads")

EMPTY_BATCH = Words(
    "批量表没有数据行,未上传任何图片", "the batch has no rows: nothing was uploaded"
)
NOTE_ATTR = "imgkit_note"
# Statuses retry_failed looks at again: never uploaded, skipped or still under audit.
RETRY_STATUSES = ("failed", "in_doubt", "cancelled", "invalid")

JournalChoice = Journal | str | os.PathLike[str] | bool | None
ForceChoice = bool | Iterable[Hashable] | pd.Series


def open_journal(journal: JournalChoice) -> Journal | None:
    """The journal a run uses: the user's (None or True), a path's, the one given, or
    none (False).

    >>> open_journal(False) is None
    True
    """
    if journal is False:
        return None
    if journal is None or journal is True:
        return Journal()
    if isinstance(journal, Journal):
        return journal
    return Journal(journal)


def _validate_through(
    batch: Any,
    shops: LoadedShops,
    transport: httpx.AsyncBaseTransport | None,
    loop: asyncio.AbstractEventLoop,
    lang: Lang = DEFAULT_LANG,
) -> pd.DataFrame:
    """Validate (in a worker thread), downloading URL sources through the run's
    ``transport`` on the run's ``loop`` when one is given (an in-process sandbox serves
    them too), else through a transport of validation's own."""
    if transport is None:
        return validate(batch, shops, lang=lang)
    with AsyncBridge(transport, loop) as bridge:
        return validate(batch, shops, transport=bridge, lang=lang)


def _labels(force: ForceChoice, index: pd.Index) -> frozenset[Hashable]:
    """The index labels ``force`` names: all (True), none (False), a boolean mask, labels."""
    if force is True:
        return frozenset(index)
    if force is False:
        return frozenset()
    if isinstance(force, pd.Series) and force.dtype == bool:
        return frozenset(force.index[force.to_numpy()])
    return frozenset(force)


async def upload_async(
    batch: BatchSource,
    shops: ShopsSource = None,
    *,
    journal: JournalChoice = None,
    force: ForceChoice = False,
    concurrency: int = 8,
    progress: bool | ProgressListener = True,
    policy: RetryPolicy | None = None,
    audit_wait_s: float = 60.0,
    timeout: float = 60.0,
    row_deadline_s: float | None = 600.0,
    grace_s: float = 5.0,
    dry_run: bool = False,
    transport: httpx.AsyncBaseTransport | None = None,
    lang: Lang = DEFAULT_LANG,
    _retry: bool = False,
) -> pd.DataFrame:
    """Validate ``batch``, upload its valid rows, and return the results frame.

    Parameters
    ----------
    batch
        A DataFrame, or a CSV / XLSX path (:func:`imgkit.read_batch`).
    shops
        A shops file, mapping or :class:`imgkit.Shops` (default ``$IMGKIT_SHOPS``).
    journal
        None (the user's journal, :func:`imgkit.engine.journal.default_journal_path`), a path, a
        :class:`imgkit.engine.journal.Journal`, or False (no memory: nothing is skipped).
    force
        Rows to send even though the journal says they are stored, in doubt, or refused
        for good: True, index labels, or a boolean Series.  Never while another run is
        sending the same image.
    concurrency, timeout
        Requests at once, and each request's time limit in seconds: connecting, sending
        and reading the whole answer (a server that drips its answer cannot stretch it).
    row_deadline_s
        The most one row may take in all, retries, look-ups and audit polls included
        (None: no limit).  A row past it is ``in_doubt`` if its request had left (the next
        run looks it up), else ``failed`` / ``timeout`` and never sent.
    grace_s
        After Ctrl-C, how long requests already on the wire may take to be answered.
    progress
        True: progress bars (widgets in a notebook, text in a terminal); False: none; a
        function: no bars, the function is called with the
        :class:`imgkit.engine.progress.Progress` after every change (its live counts by
        platform and status, and the rows each shop has finished).
    dry_run
        Send nothing: rows that would be sent are ``planned``.
    transport
        Replaces the network for the whole run (e.g. ``Sandbox.asgi_transport()``): the
        uploads, the polls and look-ups, and the downloads of URL sources.
    lang
        The language of the messages: ``"zh"``, ``"en"`` or ``"both"`` (``中文 / English``).

    Returns
    -------
    pandas.DataFrame
        The results frame: one row per input row, same index (:mod:`imgkit.report.results`).

    Examples
    --------
    >>> import asyncio, imgkit
    >>> with imgkit.Sandbox() as sb:
    ...     results = asyncio.run(imgkit.upload_async(
    ...         "sample_data/batch.csv", sb.shops, journal=False, progress=False))
    >>> results["status"].value_counts().to_dict()
    {'uploaded': 15}
    """
    # Read once: validation and the run see the same shops (a file edited meanwhile
    # cannot give one a shop the other does not know).
    lang = check_lang(lang)
    loaded = await asyncio.to_thread(load_shops_lenient, shops)
    loop = asyncio.get_running_loop()
    validated = await asyncio.to_thread(_validate_through, batch, loaded, transport, loop, lang)
    if validated.empty:
        log.warning("%s", EMPTY_BATCH)
        empty = results_frame(validated, {}, lang)
        empty.attrs[NOTE_ATTR] = EMPTY_BATCH.render(lang)
        return empty
    # Rows are known by position inside a run, so that repeated index labels (a batch made
    # with pd.concat) never share a result; the caller's labels come back on the way out.
    labels = validated.index
    wanted = _labels(force, labels)
    checked = validated.reset_index(drop=True)
    checked.attrs = dict(validated.attrs)
    forced = frozenset(np.flatnonzero(labels.isin(list(wanted))).tolist()) if wanted else wanted

    def labelled(frame: pd.DataFrame) -> pd.DataFrame:
        frame.index = labels
        return frame

    good, _bad, _problem = loaded
    scrubber = scrubber_for_shops(good.values())
    register(scrubber)  # no log line shows a secret, httpx's included
    opened = open_journal(journal)
    try:
        legacy: tuple[Path, ...] = ()
        if opened is not None:
            upgraded = opened.path if opened.upgraded else None
            legacy = tuple(legacy_sources(checked.attrs.get("imgkit_source"), upgraded))
        # Planned a chunk per shop at a time as the workers need rows, each chunk's journal
        # look-up with it: a long batch never holds every row's plan at once.
        planner = Planner(checked, good, opened, force=forced, retry=_retry, legacy=legacy)
        if dry_run:
            return labelled(results_frame(checked, _dry_run(planner, len(checked)), lang))
        # ``timeout`` bounds the whole of each request, the answer read to its last byte.
        wire = Sender(concurrency, timeout=timeout, deadline_s=timeout, transport=transport)
        async with wire as client:
            run = Run(
                client,
                PacerPool(shop_rates(good), concurrency=concurrency),
                policy or RetryPolicy(),
                opened,
                audit_wait_s,
                # Columns filled as rows finish, not an object per row.
                results=ResultTable(len(checked), planner.invalid),
                row_deadline_s=row_deadline_s,
                scrubber=scrubber,
                lang=lang,
            )
            if opened is not None:
                run.run_id = opened.start_run()
                run.commits = GroupCommit(opened)
            run.progress = _progress(checked, planner, enabled=progress)
            try:
                await execute(run, planner, concurrency, grace_s=grace_s)
            finally:
                run.progress.close()
                if run.commits is not None:
                    run.commits.close()
                if opened is not None:
                    opened.end_run(run.run_id)
        results = labelled(results_frame(checked, run.results, lang))
        if progress is True and notebook_bars():
            # Under the notebook's bars, one line that says what became of the batch (a
            # terminal's bars keep their final counts; the CLI prints its own line).
            print(summary_line(results, lang))
        return results
    finally:
        if opened is not None and opened is not journal:
            opened.close()


def _dry_run(planner: Planner, size: int) -> ResultTable:
    """Every row's result in a dry run: the rows that would be sent are ``planned``."""
    decided = ResultTable(size, planner.invalid)

    def into(index: Hashable, platform: str, result: RowResult) -> None:
        decided[index] = result

    planned = RowResult("planned")
    for key in planner.queues():
        while planner.left(key):
            for row in planner.next(key, into):
                decided[row.index] = planned
    return decided


def _progress(
    checked: pd.DataFrame, planner: Planner, *, enabled: bool | ProgressListener
) -> Progress:
    """Bars over every row of the batch from the start: the valid rows under their
    platform (those the journal decides are counted as their chunks are planned), and the
    invalid rows counted at once, under their platform where it is known."""
    decided = planner.invalid
    keys = {value: _platform_key(value) for value in checked["platform"].unique()}
    platform_of = checked["platform"].map(keys)  # by label: decided's keys
    decided_keys = [(str(platform_of.at[i]), result.status) for i, result in decided.items()]
    per_platform = Counter(planner.totals)
    per_platform.update(key for key, _ in decided_keys if key)
    others = sum(1 for key, _ in decided_keys if not key)
    listener = None if isinstance(enabled, bool) else enabled
    progress = Progress(per_platform, enabled=enabled is True, others=others, listener=listener)
    for key, status in decided_keys:
        progress.finished(key, status)
    return progress


def _platform_key(value: object) -> str:
    """The platform key ``value`` names, or "" when it names none."""
    try:
        return resolve_platform(str(value))
    except UnknownPlatformError:
        return ""


def upload(batch: BatchSource, shops: ShopsSource = None, **options: Any) -> pd.DataFrame:
    """Synchronous :func:`upload_async` (same parameters); works in a script and inside a
    running event loop.

    Inside Jupyter (a loop is already running) the upload runs on its own loop in a worker
    thread, so the notebook does not need ``await``.  Ctrl-C returns the partial results.

    >>> import imgkit
    >>> with imgkit.Sandbox() as sb:
    ...     out = imgkit.upload("sample_data/batch.csv", shops=sb.shops, journal=False,
    ...                         progress=False, dry_run=True)
    >>> out["status"].unique().tolist()
    ['planned']
    """
    return run_sync(lambda: upload_async(batch, shops, **options))


def _public_signature(function: Any) -> inspect.Signature:
    """``function``'s signature without its private (underscore) parameters."""
    signature = inspect.signature(function)
    shown = [p for p in signature.parameters.values() if not p.name.startswith("_")]
    return signature.replace(parameters=shown)


# ``upload?`` in Jupyter and ``help(upload)`` list every option of upload_async, which
# declares them once.
upload.__dict__["__signature__"] = _public_signature(upload_async)
upload_async.__dict__["__signature__"] = _public_signature(upload_async)


def _inputs(results: pd.DataFrame) -> pd.DataFrame:
    drop = [c for c in (*RESULT_COLUMNS, "platform_key") if c in results.columns]
    return results.drop(columns=drop)


def _as_results(results: pd.DataFrame | str | os.PathLike[str]) -> pd.DataFrame:
    if isinstance(results, pd.DataFrame):
        return results
    return read_results(results)


def retry_failed(
    results: BatchSource,
    shops: ShopsSource = None,
    *,
    force: ForceChoice = False,
    **options: Any,
) -> pd.DataFrame:
    """Send again the rows of ``results`` that are not stored; keep the others as they are.

    ``results`` is a results frame, or a results workbook / CSV (read with
    :func:`imgkit.read_results`), possibly fixed by hand.  Looked at again: ``failed``,
    ``in_doubt``, ``cancelled`` and ``invalid`` rows, re-validated first.  A row that
    changed (a new target, file or option) is new work and is sent; one the journal knows:

    * stored meanwhile (another copy of the batch, a look-up): ``skipped``;
    * in doubt (sent, no answer): looked up first, and sent again only when the look-up
      proves it absent, or when forced — otherwise it stays ``in_doubt``, saying why;
    * refused for good by the platform and unchanged: kept ``failed`` unless forced;
    * failed for a passing reason (rate limit, timeout, a server error): sent again.

    ``force``: True, index labels or a boolean Series of rows to send whatever the
    journal says.  Other keyword arguments are :func:`upload`'s.

    >>> import imgkit
    >>> with imgkit.Sandbox() as sb:
    ...     first = imgkit.upload("sample_data/batch.csv", shops=sb.shops, progress=False)
    ...     again = imgkit.retry_failed(first, shops=sb.shops, progress=False)
    >>> bool((again["status"] == first["status"]).all())
    True
    """
    frame = _as_results(results)
    status = frame["status"].astype(str).str.strip()
    again = status.isin(RETRY_STATUSES).to_numpy(copy=True)
    if options.get("journal") is False:  # no memory: only what the frame itself says
        retryable = frame.get("retryable", pd.Series(False, index=frame.index))
        sure = status.isin(["cancelled", "invalid"]) | (
            (status == "failed") & retryable.astype(str).str.lower().isin(["true", "1"])
        )
        again &= sure.to_numpy() | frame.index.isin(list(_labels(force, frame.index)))
    if not again.any():
        return frame.copy()
    positions = np.flatnonzero(again)
    subset = _inputs(frame.iloc[positions])
    forced = _labels(force, frame.index)
    redone = run_sync(
        lambda: upload_async(
            subset, shops, force=forced & set(subset.index), _retry=True, **options
        )
    )
    return replace_rows(frame, positions, redone)


def _retry_signature() -> inspect.Signature:
    """retry_failed's own parameters, then every option of :func:`upload` it passes on."""
    own = list(inspect.signature(retry_failed).parameters.values())[:-1]  # not **options
    taken = {p.name for p in own}
    passed = [p for p in _public_signature(upload_async).parameters.values()]
    extra = [p for p in passed if p.kind is p.KEYWORD_ONLY and p.name not in taken]
    return inspect.signature(retry_failed).replace(parameters=[*own, *extra])


retry_failed.__dict__["__signature__"] = _retry_signature()
