"""What a worker does with one partition: upload it account by account, or fit it.

A task gets the shops file's *path* and reads it itself (values may be ``env:NAME``
references resolved from the worker's own environment), so no credential is ever in the
task graph, the scheduler's memory or its logs.  Each account of the partition is
uploaded by one :func:`imgkit.upload_async` with that account's journal
(:class:`imgkit.dask.accounts.JournalDir`), all of them at once on one event loop: one
pacer per account, as in a local run.

Example
-------
>>> import tempfile
>>> from imgkit.dask.partition import KEY, LABEL
>>> from imgkit.intake.batch import read_batch
>>> from imgkit.intake.shops_files import write_shops
>>> with imgkit.Sandbox() as sb, tempfile.TemporaryDirectory() as tmp:
...     shops = str(write_shops(f"{tmp}/shops.toml", sb.shops))
...     part = read_batch("sample_data/batch.csv").head(3)
...     part[LABEL], part[KEY] = part.index + 100, ""
...     out = upload_partition(part, shops, f"{tmp}/journals", {})
>>> out.index.tolist(), out["status"].tolist()
([100, 101, 102], ['uploaded', 'uploaded', 'uploaded'])
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable, Mapping
from typing import Any, cast

import numpy as np
import pandas as pd

import imgkit
from imgkit.dask.accounts import JournalDir
from imgkit.dask.partition import KEY, LABEL
from imgkit.engine.journal import Journal
from imgkit.intake.cells import cell_text
from imgkit.intake.fitting import fit
from imgkit.intake.shops import Shop
from imgkit.intake.validation import LoadedShops, load_shops_lenient, validate
from imgkit.report.results import results_frame

__all__ = ["empty_results", "fit_files", "fit_partition", "upload_partition"]


def _batch_of(part: pd.DataFrame, index_name: Hashable) -> tuple[pd.DataFrame, pd.Index]:
    """The batch rows of a shuffled partition, numbered 0..n-1, and their caller's labels
    (under the name the caller's index had)."""
    frame = part.reset_index(drop=True)
    labels = pd.Index(frame.pop(LABEL).to_numpy(), name=index_name)
    frame = frame.drop(columns=[KEY])
    return frame, labels


def empty_results(frame: pd.DataFrame) -> pd.DataFrame:
    """The results frame of no rows with ``frame``'s columns: what an upload of an empty
    partition returns, and the shape Dask is told to expect.

    >>> empty = pd.DataFrame(columns=["platform", "shop", "file", "target", "row"])
    >>> empty_results(empty).columns[:3].tolist()
    ['row', 'status', 'platform']
    """
    return results_frame(validate(frame.iloc[:0], LoadedShops({}, {}, "")), {})


def _groups(
    frame: pd.DataFrame, loaded: LoadedShops, folder: JournalDir
) -> dict[str, tuple[np.ndarray, Shop | None]]:
    """The partition's rows by account: positions, and a known shop of the account (None
    for the rows whose shop this worker does not know, which validation refuses)."""
    names = frame["shop"].map(cell_text)
    by_account: dict[str, list[int]] = {}
    shop_of: dict[str, Shop | None] = {}
    for position, name in enumerate(names):
        shop = loaded.good.get(name)
        account = folder.account_name(shop) if shop is not None else ""
        by_account.setdefault(account, []).append(position)
        shop_of.setdefault(account, shop)
    return {
        account: (np.array(positions), shop_of[account])
        for account, positions in by_account.items()
    }


def upload_partition(
    part: pd.DataFrame,
    shops: str | None,
    journal_dir: str,
    options: Mapping[str, Any],
    index_name: Hashable = None,
) -> pd.DataFrame:
    """Upload one partition: each account's rows with that account's journal, at once.

    ``options`` are :func:`imgkit.upload_async`'s keyword arguments (not ``journal``,
    ``transport`` or ``progress``).  Returns the results, indexed by the caller's labels
    (an index named ``index_name``).
    """
    frame, labels = _batch_of(part, index_name)
    if frame.empty:
        empty = empty_results(frame)
        empty.index = labels
        return empty
    loaded = load_shops_lenient(shops)
    folder = JournalDir(journal_dir)
    groups = _groups(frame, loaded, folder)

    async def one(positions: np.ndarray, shop: Shop | None) -> pd.DataFrame:
        rows = frame.iloc[positions].copy()
        rows.index = pd.RangeIndex(len(rows))
        journal: Journal | bool = folder.journal(shop) if shop is not None else False
        try:
            # The shops as this task read them, once: upload_async takes a LoadedShops
            # as it is (imgkit.intake.validation), though its signature names the sources.
            out = await imgkit.upload_async(
                rows, cast(Any, loaded), journal=journal, progress=False, **dict(options)
            )
        finally:
            if isinstance(journal, Journal):
                journal.close()
        out.index = positions[out.index.to_numpy()]
        return out

    async def every() -> list[pd.DataFrame]:
        return list(await asyncio.gather(*(one(p, s) for p, s in groups.values())))

    results = pd.concat(asyncio.run(every())).sort_index()
    results.index = labels[results.index.to_numpy()]
    return results


def fit_files(part: pd.DataFrame, out_dir: str, shops: str | None) -> int:
    """The heavy half of a cluster fit: fit the distinct files of one partition (rows
    grouped by file) into the shared cache ``out_dir``; returns the rows seen.

    Only the cache's index is kept: :func:`fit_partition` then fits each shop's rows
    together, as a local fit sees them, and finds every copy made here.
    """
    frame, _labels = _batch_of(part, None)
    fit(frame, out_dir, shops=shops, workers=1, progress=False)
    return len(frame)


def fit_partition(
    part: pd.DataFrame,
    out_dir: str,
    shops: str | None,
    index_name: Hashable = None,
    after: object = None,
) -> pd.DataFrame:
    """Fit one partition (rows grouped by shop) into the shared cache ``out_dir``
    (:func:`imgkit.fit`, in this worker's process: Dask's workers are the parallelism).

    ``after`` is what the task waits for (the :func:`fit_files` of the whole batch), so
    that the copies are in the cache by then and this task decodes nothing.

    >>> import tempfile
    >>> from imgkit.dask.partition import KEY, LABEL
    >>> from imgkit.intake.batch import read_batch
    >>> from imgkit.intake.shops_files import write_shops
    >>> from imgkit.sandbox import sandbox_shops
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     shops = str(write_shops(f"{tmp}/shops.toml", sandbox_shops("http://127.0.0.1:9")))
    ...     part = read_batch("sample_data/batch.csv").head(2)
    ...     part[LABEL], part[KEY] = [5, 6], ""
    ...     made = fit_files(part, f"{tmp}/fit", shops)
    ...     made, fit_partition(part, f"{tmp}/fit", shops)["ok"].tolist()
    (2, [True, True])
    """
    frame, labels = _batch_of(part, index_name)
    out = fit(frame, out_dir, shops=shops, workers=1, progress=False)
    out.index = labels
    return out
