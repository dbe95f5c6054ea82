"""The probe facts of a batch's rows: each distinct file probed once, then looked up.

A batch names one file on many rows (a product image goes to several platforms, shops
and items).  :func:`probe_rows` probes each distinct file once (:func:`probe_paths`, in
threads, cached) and keeps the facts in a table of one row per file; each batch row knows
its row of the table.  The facts are made row by row only when they are needed, and only
those needed: the rules read ``format``, ``probe_error``, ``bytes``, ``width`` and
``height`` row by row (:data:`RULE_FACTS`; the text facts as categoricals over their
codes) and every other fact by its code (:attr:`ProbedRows.known`), so a million rows'
SHA-256 digests (72 MB of text) are taken row by row only for validation's answer, after
the rules' own columns are gone.

Example
-------
>>> probed = probe_rows(pd.Series(["sample_data/images/mug.jpg"] * 3 + ["nowhere.jpg"]))
>>> len(probed.table), probed.rows.tolist()  # two files, then the blank probe
(3, [0, 0, 0, 1])
>>> columns = probed.columns()
>>> columns["format"].tolist(), columns["probe_error"].tolist()
(['jpeg', 'jpeg', 'jpeg', ''], ['', '', '', 'missing_file'])
"""

from __future__ import annotations

from typing import Any, NamedTuple

import httpx
import numpy as np
import pandas as pd

from imgkit.intake.probe import PROBE_COLUMNS, Probe, probe_paths
from imgkit.intake.rules import unprobeable
from imgkit.intake.rules.context import small_codes
from imgkit.intake.texts import codes_of

# The probe facts the rules read row by row (the others they read by code, or not at all).
RULE_FACTS = tuple(column for column in PROBE_COLUMNS if column not in ("sha256", "frames"))
# The text facts whose codes the rules are given (:meth:`Context.codes`' form).
CODED_FACTS = ("format", "sha256", "probe_error")


class ProbedRows(NamedTuple):
    """The probe facts of each distinct file, and which of them each row has."""

    # A row per distinct file probed, then one blank probe (for every row not probed).
    table: pd.DataFrame
    # Each batch row's row of the table.
    rows: np.ndarray
    # The codes of ``file`` and of the text facts (:meth:`Context.codes`' form): each
    # row's code, and the distinct values.
    known: dict[str, tuple[np.ndarray, Any]]

    def columns(self) -> dict[str, pd.Series]:
        """Every probe fact row by row, numbered 0..n-1, in :func:`probe_paths`' types.

        >>> probe_rows(pd.Series(["nowhere.jpg"])).columns()["bytes"].tolist()
        [0]
        """
        return {name: self._column(self.table[name]) for name in PROBE_COLUMNS}

    def for_rules(self) -> dict[str, pd.Series]:
        """The facts the rules read row by row (:data:`RULE_FACTS`), numbered 0..n-1: the
        text facts as categoricals over their codes (each distinct value held once).

        >>> list(probe_rows(pd.Series(["nowhere.jpg"])).for_rules())
        ['format', 'bytes', 'width', 'height', 'probe_error']
        """
        out: dict[str, pd.Series] = {}
        for name in RULE_FACTS:
            if name in self.known:
                codes, distinct = self.known[name]
                values = pd.Categorical.from_codes(codes, categories=pd.Index(distinct))
                out[name] = pd.Series(values, name=name, copy=False)
            else:
                out[name] = self._column(self.table[name])
        return out

    def _column(self, column: pd.Series) -> pd.Series:
        # The array's own take (a Series' take would make an index for each column too),
        # as a Series, which a frame takes as it is: pandas 3 copies a NumPy array set as
        # a column, and a frame made from a dict of them copies them into one block.
        if isinstance(column.dtype, np.dtype):
            taken: Any = column.to_numpy()[self.rows]
        else:
            taken = column.array.take(self.rows)
        return pd.Series(taken, name=column.name, copy=False)


def probe_rows(
    files: pd.Series, workers: int | None = None, transport: httpx.BaseTransport | None = None
) -> ProbedRows:
    """Probe each distinct file of ``files`` once; a path no probe can open gets none.

    A path with a NUL byte or longer than the system opens is ``bad_path`` or
    ``path_too_long`` (:mod:`imgkit.intake.rules.reading`): it is never handed to the probe
    (``os.stat`` raises on a NUL).

    Parameters
    ----------
    files
        Each row's file: a local path or an http(s) URL.
    workers
        Threads probing the files (default: chosen from the machine).
    transport
        A synchronous httpx transport the URL sources are downloaded through.

    Returns
    -------
    ProbedRows
        The table of the distinct files' facts, each row's row of it, and the codes.

    Examples
    --------
    >>> probed = probe_rows(pd.Series(["/a\\x00b", "nowhere.jpg"]))
    >>> probed.columns()["probe_error"].tolist()  # a NUL: never probed (bad_path says why)
    ['', 'missing_file']
    """
    # Each distinct file once (a batch may name one file on many rows), then a look-up.
    codes, uniques = codes_of(files)
    names = pd.Series([u if isinstance(u, str) else "" for u in uniques], dtype=object)
    skip = unprobeable(names).to_numpy()
    if skip.all():
        table = _no_probes(1)
        at = np.zeros(len(uniques) + 1, dtype=np.intp)
    else:
        probed = probe_paths(names[~skip].tolist(), workers=workers, client=transport)
        # The table: a row per distinct file probed, then one blank probe for every other.
        table = pd.concat([probed, _no_probes(1)], ignore_index=True)
        at = np.full(len(uniques) + 1, len(probed), dtype=np.intp)
        at[np.flatnonzero(~skip)] = np.arange(len(probed))
    rows = at[np.where(codes < 0, len(uniques), codes)]
    # A fact is the same on every row of one file: factorized over the table, then mapped.
    known: dict[str, tuple[np.ndarray, Any]] = {"file": (small_codes(codes), uniques)}
    for column in CODED_FACTS:
        found, distinct = pd.factorize(table[column], use_na_sentinel=True)
        known[column] = (small_codes(np.asarray(found)[rows]), distinct)
    return ProbedRows(table, rows, known)


def _no_probes(n: int = 0) -> pd.DataFrame:
    # A blank probe for each of n rows, with the types probe_paths gives its columns (an
    # empty probe_paths frame has columns of no particular type).
    blank = Probe()
    values = {c: getattr(blank, "error" if c == "probe_error" else c) for c in PROBE_COLUMNS}
    one = pd.DataFrame({c: [v] for c, v in values.items()})
    return one.iloc[np.zeros(n, dtype=np.intp)].reset_index(drop=True)


__all__ = ["CODED_FACTS", "RULE_FACTS", "ProbedRows", "probe_rows"]
