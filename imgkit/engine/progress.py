"""Progress of an upload run: ``tqdm.auto`` bars with live counts per platform.

A :class:`Progress` shows one overall bar for the batch and, when the batch spans more
than one platform, one bar per platform below it.  Each bar's postfix counts the rows
``uploaded``, ``failed`` and ``retrying`` (plus ``skipped``, ``invalid``, ``in_doubt``,
``pending_audit`` and ``cancelled`` once there are any).  The bars count every row of the
batch: rows decided before anything is sent (invalid, or skipped because the journal
says they are stored) are counted at once, so a bar's total is the batch's size.

In Jupyter the bars are widgets (``tqdm.auto``); in a terminal they are text bars at
distinct positions, left on screen with their final counts when closed.
``enabled=False`` draws nothing at all and only counts.  A ``listener`` is called with
the :class:`Progress` after every change (its :meth:`Progress.counts`, and the rows each
shop has finished, :meth:`Progress.shop_done`): how a notebook panel shows live counts
and rates without bars.

The engine reports each row's life::

    progress.retrying("doudian")            # a row waits for a retry
    progress.resumed("doudian")             # ... and is sent again
    progress.finished("doudian", "uploaded")

The counts are available whether or not bars are drawn:

>>> with Progress({"doudian": 2, "qianmi_sku": 1}, enabled=False) as progress:
...     progress.retrying("doudian")
...     progress.resumed("doudian")
...     progress.finished("doudian", "uploaded")
...     progress.finished("qianmi_sku", "failed")
>>> progress.counts()["total"]["uploaded"], progress.counts()["qianmi_sku"]["failed"]
(1, 1)

A ``Progress`` is not thread-safe: the engine calls it from its event loop's thread only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

# tqdm.auto picks tqdm.notebook in a Jupyter kernel and silences the
# TqdmExperimentalWarning that tqdm.autonotebook raises there itself (tqdm >= 4.66, our
# floor), so no warnings filter is needed around this import; tests/test_progress.py
# imports it under ``-W error`` in a simulated kernel to keep that true.
from tqdm.auto import tqdm

from imgkit.report.results import STATUSES

__all__ = ["TOTAL", "Progress", "ProgressListener", "notebook_bars"]

#: Called with the counts (by platform and ``"total"``, then by status) after each change.
ProgressListener = Callable[["Progress"], None]
#: The key of the whole batch in :meth:`Progress.counts`.
TOTAL = "total"
_RETRYING = "retrying"
# Statuses a bar names only once some row has them.
_SOMETIMES = ("skipped", "invalid", "in_doubt", "pending_audit", "cancelled")


def notebook_bars() -> bool:
    """Whether the bars are notebook widgets (``tqdm.auto`` chose ``tqdm.notebook``: this
    runs in a Jupyter kernel) rather than text.

    >>> notebook_bars()
    False
    """
    return any(kind.__module__ == "tqdm.notebook" for kind in tqdm.__mro__)


def _zero() -> dict[str, int]:
    # Every status present from the start, so callers and the postfix never need .get().
    return dict.fromkeys((*STATUSES, _RETRYING), 0)


def _postfix(counts: Mapping[str, int]) -> str:
    """The live counts one bar shows.

    >>> _postfix({"uploaded": 3, "failed": 1, "retrying": 0, "pending_audit": 0,
    ...           "cancelled": 2})
    'uploaded=3, failed=1, retrying=0, cancelled=2'
    """
    # Built by hand and passed to set_postfix_str: set_postfix(**counts) builds an
    # OrderedDict and formats each value on every call, ten times the cost (about 4.5 us
    # against 0.5 us per call), and it runs once per row per bar.
    text = f"uploaded={counts['uploaded']}, failed={counts['failed']}, retrying={counts[_RETRYING]}"
    for status in _SOMETIMES:
        if counts.get(status):
            text += f", {status}={counts[status]}"
    return text


class Progress:
    """Progress bars for one upload run, with counts by platform and status.

    ``rows_per_platform``: the rows to be sent, by platform key (the bars' totals).  One
    overall bar labelled ``desc`` plus one bar per platform when there are several
    platforms; a single-platform batch gets only the overall bar, labelled with its
    platform key.  ``file``: where text bars are written (``sys.stderr`` when None).
    ``enabled=False``: no bars and no output, counts only.  ``others``: rows of no known
    platform (an invalid row naming a platform imgkit does not know), in the overall
    bar's total; they are counted under ``"total"`` only, as are rows of any platform not
    in ``rows_per_platform``.

    >>> progress = Progress({"taobao_picture": 3}, enabled=False)
    >>> progress.finished("taobao_picture", "uploaded")
    >>> progress.finished("tmall_item", "pending_audit")   # unknown platform: total only
    >>> progress.counts()["total"]["pending_audit"], sorted(progress.counts())
    (1, ['taobao_picture', 'total'])
    >>> progress.close()
    """

    def __init__(
        self,
        rows_per_platform: Mapping[str, int],
        *,
        enabled: bool = True,
        desc: str = "imgkit",
        file: Any = None,
        others: int = 0,
        listener: ProgressListener | None = None,
    ) -> None:
        if TOTAL in rows_per_platform:
            raise ValueError(f"{TOTAL!r} is the key of the whole batch, not a platform")
        self._counts: dict[str, dict[str, int]] = {key: _zero() for key in rows_per_platform}
        self._total_counts = _zero()
        self._bars: dict[str, tqdm[Any]] = {}
        self._total_bar: tqdm[Any] | None = None
        self._closed = False
        self._listener = listener
        self._shop_done: dict[str, int] = {}
        self._expected = dict(rows_per_platform)
        self._others = others
        if not enabled:
            # No tqdm object at all, not even a disabled one: nothing can print, and no
            # tqdm monitor thread is started for a silent run.
            return
        keys = list(rows_per_platform)
        single = len(keys) == 1
        labels = [keys[0]] if single else [desc, *keys]
        # Same-width labels line the text bars up one under the other.
        width = max(len(label) for label in labels)
        common: dict[str, Any] = {"file": file, "unit": "img", "leave": True}
        self._total_bar = tqdm(
            total=sum(rows_per_platform.values()) + others,
            desc=labels[0].ljust(width),
            # None: tqdm takes the first free line, so these bars go below a bar the caller
            # already shows (an outer loop over batches) instead of drawing over it.
            position=None,
            postfix=_postfix(self._total_counts),
            **common,
        )
        if single:
            return
        base = abs(self._total_bar.pos)
        for offset, key in enumerate(keys, start=1):
            self._bars[key] = tqdm(
                total=rows_per_platform[key],
                desc=key.ljust(width),
                position=base + offset,
                postfix=_postfix(self._counts[key]),
                **common,
            )

    def retrying(self, platform: str) -> None:
        """A row of ``platform`` is waiting to be sent again."""
        self._change(platform, _RETRYING, 1, advance=0)

    def resumed(self, platform: str) -> None:
        """A row of ``platform`` that was waiting (:meth:`retrying`) is being sent again."""
        self._change(platform, _RETRYING, -1, advance=0)

    def finished(self, platform: str, status: str, shop: str = "") -> None:
        """A row of ``platform`` (sent through ``shop``, when it was) ended with ``status``
        (a results-frame status)."""
        if shop:
            self._shop_done[shop] = self._shop_done.get(shop, 0) + 1
        self._change(platform, status, 1, advance=1)

    def shop_done(self) -> dict[str, int]:
        """Rows finished by the run so far, per shop (rows decided before sending: none).

        >>> progress = Progress({"doudian": 2}, enabled=False)
        >>> progress.finished("doudian", "uploaded", shop="douyin_shop")
        >>> progress.shop_done()
        {'douyin_shop': 1}
        """
        return dict(self._shop_done)

    def _change(self, platform: str, key: str, step: int, advance: int) -> None:
        # The hot path: a few dict operations, a short f-string per bar, and tqdm's update,
        # which only compares counters and the clock until mininterval has passed.  No
        # refresh here: tqdm redraws on its own schedule and close() draws the final state.
        for counts, bar in (
            (self._counts.get(platform), self._bars.get(platform)),
            (self._total_counts, self._total_bar),
        ):
            if counts is None:  # a platform not announced: counted under the total only
                continue
            # Never below zero: a resumed() without its retrying() must not show "-1".
            counts[key] = max(counts.get(key, 0) + step, 0)
            if bar is not None:
                bar.set_postfix_str(_postfix(counts), refresh=False)
                if advance:
                    bar.update(advance)
        if self._listener is not None:
            self._listener(self)

    def totals(self) -> dict[str, int]:
        """Rows expected, per platform and under ``"total"``.

        >>> Progress({"doudian": 2}, enabled=False, others=1).totals()
        {'doudian': 2, 'total': 3}
        """
        return {**self._expected, TOTAL: sum(self._expected.values()) + self._others}

    def counts(self) -> dict[str, dict[str, int]]:
        """Rows by status and rows ``retrying`` now, per platform and under ``"total"``.

        >>> progress = Progress({"doudian": 2}, enabled=False)
        >>> progress.retrying("doudian")
        >>> progress.counts()["doudian"]["retrying"]
        1
        """
        result = {key: dict(counts) for key, counts in self._counts.items()}
        result[TOTAL] = dict(self._total_counts)
        return result

    def close(self) -> None:
        """Draw the final counts and release the bars; later calls do nothing.

        >>> Progress({"doudian": 1}, enabled=False).close()
        """
        if self._closed:
            return
        self._closed = True
        # In position order: each text bar, left in place, draws its final line where the
        # cursor is and moves down, so the total comes first and the platforms follow.
        bars = [bar for bar in (self._total_bar, *self._bars.values()) if bar is not None]
        for bar in bars:
            bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
