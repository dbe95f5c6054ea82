"""Planning a run lazily: each shop's rows a chunk at a time, as the scheduler needs them.

A :class:`Planner` sorts the valid rows of a batch by (platform, shop) at once, as
positions (8 bytes a row), and makes the :class:`~imgkit.engine.plan.Row` s of a shop's
next chunk only when the scheduler has handed out the last ones, asking the journal about
that chunk alone (:func:`imgkit.engine.plan.decide`).  So a run of a million rows holds a
window of planned rows ahead of its workers, never the whole batch; the rows a chunk finds
decided (stored before, refused before) are reported as it is planned.

:class:`Planned` is the same source over rows already made (``refresh``'s few rows).

Example
-------
>>> import pandas as pd
>>> planner = Planner(pd.DataFrame({"ok": [False], "issues": ["no file"]}), {}, None)
>>> planner.queues(), planner.size, planner.invalid[0].status
([], 0, 'invalid')
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Mapping
from typing import Any, Protocol

import numpy as np
import pandas as pd

from imgkit.engine.journal import Journal
from imgkit.engine.plan import PLAN_COLUMNS, Row, _Memo, decide, make_rows
from imgkit.intake.shops import Shop
from imgkit.platforms import get_adapter
from imgkit.report.results import RowResult

QueueKey = tuple[str, str]  # (platform key, shop name): one scheduler queue
# Called with each row a chunk decided without sending: its index label, platform key and
# result.
Decided = Callable[[Hashable, str, RowResult], None]
# Planned rows held ahead of the workers, over all shops: each shop's chunk is its share
# (at least one row), so at most max(WINDOW, shops) rows are planned and not yet taken.
# Large enough that a chunk's journal look-up and DataFrame slice cost little per row.
WINDOW = 2048


class RowSource(Protocol):
    """Where a scheduler takes its rows from, queue by queue."""

    size: int  # the rows it may yield in all

    def queues(self) -> list[QueueKey]:
        """The queues, in order of their first row in the batch."""

    def left(self, key: QueueKey) -> bool:
        """Whether ``key`` has rows not yet handed out."""

    def next(self, key: QueueKey, decided: Decided) -> list[Row]:
        """``key``'s next rows to send (maybe none: all decided, reported to ``decided``)."""


class Planned:
    """A :class:`RowSource` over rows already made: every queue's rows at once.

    >>> source = Planned([])
    >>> source.queues(), source.size
    ([], 0)
    """

    def __init__(self, rows: list[Row]) -> None:
        self._rows: dict[QueueKey, list[Row]] = {}
        for row in rows:
            self._rows.setdefault((row.adapter.key, row.shop.name), []).append(row)
        self.size = len(rows)

    def queues(self) -> list[QueueKey]:
        """The queues, in order of their first row."""
        return list(self._rows)

    def left(self, key: QueueKey) -> bool:
        """Whether ``key``'s rows are still to be handed out."""
        return key in self._rows

    def next(self, key: QueueKey, decided: Decided) -> list[Row]:
        """All of ``key``'s rows (``decided`` is never called: they were decided before)."""
        return self._rows.pop(key, [])


class Planner:
    """The rows of a validated batch, planned a chunk per shop at a time.

    ``force``, ``retry`` and ``legacy`` are :func:`imgkit.engine.plan.plan`'s; ``window``
    bounds the planned rows not yet handed out, over all shops.  :attr:`invalid` holds the
    invalid rows' results, :attr:`totals` the valid rows per platform key (the bars'
    totals, known before anything is planned), :attr:`size` their sum.
    """

    def __init__(
        self,
        checked: pd.DataFrame,
        shops: Mapping[str, Shop],
        journal: Journal | None,
        *,
        force: frozenset[Hashable] = frozenset(),
        retry: bool = False,
        legacy: tuple[Any, ...] = (),
        window: int = WINDOW,
    ) -> None:
        # Only the columns planning reads (under copy-on-write a view, not a copy): a
        # chunk's rows are taken from these alone.
        self._frame = checked[[name for name in PLAN_COLUMNS if name in checked.columns]]
        self._shops = shops
        self._journal = journal
        self._force, self._retry, self._legacy = force, retry, legacy
        self._memo = _Memo(journal.fingerprint_key if journal is not None else b"")
        ok = checked["ok"].to_numpy(dtype=bool) if len(checked) else np.zeros(0, dtype=bool)
        self.invalid: dict[Hashable, RowResult] = {}
        if not ok.all():
            _, self.invalid = make_rows(checked.iloc[np.flatnonzero(~ok)], shops, b"")
        valid = np.flatnonzero(ok)
        self._left: dict[QueueKey, np.ndarray[Any, np.dtype[np.intp]]] = {}
        self.totals: Counter[str] = Counter()
        if len(valid):
            names = checked["shop"].iloc[valid].astype(str).str.strip().to_numpy()
            # One stable sort by shop, in order of each shop's first row: a queue's rows
            # keep the batch's order, and the queues the order the scheduler breaks ties in.
            codes, uniques = pd.factorize(names)
            order = valid[np.argsort(codes, kind="stable")]
            counts = np.bincount(codes, minlength=len(uniques))
            ends = np.cumsum(counts)
            for name, start, end in zip(uniques, ends - counts, ends, strict=True):
                shop = shops[str(name)]
                key = (get_adapter(shop.platform).key, shop.name)
                self._left[key] = order[start:end]
                self.totals[key[0]] += int(end - start)
        self.size = len(valid)
        self.chunk = max(1, window // max(1, len(self._left)))
        self.lookups = 0  # journal look-ups made (one per chunk)

    def queues(self) -> list[QueueKey]:
        """The queues, in order of their first row in the batch."""
        return list(self._left)

    def left(self, key: QueueKey) -> bool:
        """Whether ``key`` has rows not yet planned."""
        return key in self._left

    def next(self, key: QueueKey, decided: Decided) -> list[Row]:
        """Plan ``key``'s next chunk; its rows to send (those decided go to ``decided``)."""
        positions = self._left.get(key)
        if positions is None:
            return []
        taken, rest = positions[: self.chunk], positions[self.chunk :]
        if len(rest):
            self._left[key] = rest  # a view: the sorted positions are freed with the last
        else:
            del self._left[key]
        # A queue's positions ascend: its chunk lies in one slice of the batch, and taking
        # from that slice costs what the slice holds (Arrow's take over a column made of
        # many chunks, a pd.concat's, would first join the whole column).
        low = int(taken[0])
        part = self._frame.iloc[low : int(taken[-1]) + 1].take(taken - low)
        rows, _ = make_rows(part, self._shops, self._memo.fingerprint_key, memo=self._memo)
        if self._journal is not None:
            self.lookups += 1
        to_send, known = decide(
            rows, self._journal, force=self._force, retry=self._retry, legacy=self._legacy
        )
        for index, result in known.items():
            decided(index, key[0], result)
        return to_send
