"""``refresh``: poll the rows of a results table still ``pending_audit`` again.

The rows are made by the planning path (:func:`imgkit.engine.plan.make_rows`) and run by
the engine (:func:`imgkit.engine.scheduler.execute`), whose rows under audit are polled,
never sent; what the audits say goes into the journal.

Example
-------
>>> import pandas as pd
>>> frame = pd.DataFrame({"status": ["failed"], "shop": ["s"]})
>>> refresh(frame, shops={}, journal=False)["status"].tolist()
['failed']
"""

from __future__ import annotations

from typing import Any, cast

import httpx
import numpy as np
import pandas as pd

from imgkit.aliases import BatchSource, ShopsSource
from imgkit.engine.in_thread import run_sync
from imgkit.engine.pacing import PacerPool
from imgkit.engine.plan import make_rows
from imgkit.engine.retry import RetryPolicy
from imgkit.engine.run import Run, shop_rates
from imgkit.engine.scheduler import execute
from imgkit.engine.uploads import JournalChoice, _as_results, open_journal
from imgkit.intake.validation import load_shops_lenient
from imgkit.net.transport import Sender
from imgkit.report.results import RowResult, replace_rows
from imgkit.scrub import scrubber_for_shops
from imgkit.words import DEFAULT_LANG, Lang, check_lang


async def _refresh_async(
    results: pd.DataFrame,
    shops: Any,
    journal: JournalChoice,
    audit_wait_s: float,
    transport: Any,
    lang: Lang = DEFAULT_LANG,
) -> dict[int, RowResult]:
    """Poll the ``pending_audit`` rows of ``results`` through the engine: the rows are
    made by the planning path (:func:`imgkit.engine.plan.make_rows`) and run by
    :func:`imgkit.engine.scheduler.execute`, whose rows under audit are polled, never sent."""
    good, _bad, _problem = load_shops_lenient(shops)
    opened = open_journal(journal)
    try:
        positions = np.flatnonzero((results["status"].astype(str) == "pending_audit").to_numpy())
        pending = results.iloc[positions]
        known = pending["shop"].astype(str).str.strip().isin(list(good)).to_numpy()
        # Only a row with the id of its pending upload can be polled; one without (blank,
        # edited away) stays as it is: the engine would take it for an upload to send.
        ids = pending["image_id"] if "image_id" in pending else pd.Series("", index=pending.index)
        known = known & ids.fillna("").astype(str).str.strip().ne("").to_numpy()
        # Validated when it was uploaded: its row is valid (make_rows sends valid rows only).
        wanted = pending.assign(ok=True, issues="").reset_index(drop=True)[known]
        key = opened.fingerprint_key if opened is not None else b""
        rows, _ = make_rows(wanted, good, key)
        for row in rows:
            row.pending_id = str(wanted.at[cast(int, row.index), "image_id"])
        async with Sender(8, timeout=60.0, transport=transport) as client:
            run = Run(client, PacerPool(shop_rates(good)), RetryPolicy(), opened, audit_wait_s)
            run.scrubber = scrubber_for_shops(good.values())
            run.lang = lang
            await execute(run, rows)
    finally:
        if opened is not None and opened is not journal:
            opened.close()
    # wanted is numbered 0..n-1: its numbers are positions in ``positions``.
    return {int(positions[cast(int, i)]): result for i, result in run.results.items()}


def refresh(
    results: BatchSource,
    shops: ShopsSource = None,
    *,
    journal: JournalChoice = None,
    audit_wait_s: float = 10.0,
    transport: httpx.AsyncBaseTransport | None = None,
    lang: Lang = DEFAULT_LANG,
) -> pd.DataFrame:
    """Poll the rows still ``pending_audit`` again; return the results with them updated.

    ``results``: a results frame, or a results workbook / CSV.  What the audits say is
    recorded in the journal (``journal=False`` records nothing).  The new messages are in
    ``lang`` (``"zh"``, ``"en"`` or ``"both"``).

    >>> import pandas as pd
    >>> frame = pd.DataFrame({"status": ["uploaded"], "shop": ["s"]})
    >>> refresh(frame, shops={}, journal=False).equals(frame)
    True
    """
    frame = _as_results(results)
    lang = check_lang(lang)

    async def work() -> pd.DataFrame:
        found = await _refresh_async(frame, shops, journal, audit_wait_s, transport, lang)
        if not found:
            return frame.copy()
        positions = sorted(found)
        names = ("status", "url", "category", "code", "message")
        new = pd.DataFrame({n: [getattr(found[p], n) for p in positions] for n in names})
        return replace_rows(frame, positions, new)

    return run_sync(work)
