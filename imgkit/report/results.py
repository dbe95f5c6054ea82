"""The results frame: one row per input row, same index, saying what happened to it.

Columns: the input columns, then ``status`` (``uploaded``, ``skipped``, ``invalid``,
``failed``, ``in_doubt`` (sent, no answer: it may have been stored; a look-up settles it
before anything is sent again), ``pending_audit``, ``cancelled`` (never sent), ``planned``
(a dry run)), ``url``,
``image_id``, ``category``, ``code``, ``message``, ``retryable``, ``attempts``,
``elapsed_s``, ``sha256``, ``bytes``, ``width``, ``height``.

Example
-------
>>> import pandas as pd
>>> frame = results_frame(pd.DataFrame({"file": ["a.jpg"]}), {})
>>> frame.loc[0, "status"], list(frame.columns)[:3]
('cancelled', ['status', 'url', 'image_id'])
"""

from __future__ import annotations

from array import array
from collections.abc import Hashable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from imgkit.errors import Category
from imgkit.platforms.base import Outcome
from imgkit.words import DEFAULT_LANG, Lang, Words, render

STATUSES = (
    "uploaded",
    "skipped",
    "invalid",
    "failed",
    "pending_audit",
    "in_doubt",
    "cancelled",
    "planned",
)
RESULT_COLUMNS = (
    "status",
    "url",
    "image_id",
    "category",
    "code",
    "message",
    "retryable",
    "attempts",
    "elapsed_s",
    "sha256",
    "bytes",
    "width",
    "height",
)
# The columns a person reads first, in this order; the rest follow as they were.
LEADING_COLUMNS = (
    "row",
    "status",
    "platform",
    "shop",
    "target",
    "url",
    "image_id",
    "message",
    "category",
    "code",
)
CANCELLED = Words("已取消,未发送", "cancelled before it was sent")
# Validation's columns that the results frame does not repeat (its message is reused).
_VALIDATION_ONLY = ("ok", "issues", "fixable", "frames", "probe_error", "format")


@dataclass(slots=True)  # one per row: no per-instance dict
class RowResult:
    """What happened to one row."""

    status: str
    url: str = ""
    image_id: str = ""
    category: str = ""
    code: str = ""
    # Words until the run writes it down in its language (imgkit.engine.run.finish).
    message: str | Words = ""
    retryable: bool = False
    attempts: int = 0
    elapsed_s: float = 0.0

    @classmethod
    def from_outcome(cls, outcome: Outcome, attempts: int, elapsed_s: float) -> RowResult:
        """The row's result after its last attempt."""
        if outcome.ok:
            return cls(
                "uploaded",
                outcome.url,
                outcome.image_id,
                message=Words(outcome.zh, outcome.en, outcome.message),  # e.g. a look-up's
                attempts=attempts,
                elapsed_s=elapsed_s,
            )
        if outcome.category is Category.AUDIT_PENDING:
            status = "pending_audit"
        else:  # sent, no answer and no look-up to settle it: neither stored nor failed
            status = "in_doubt" if outcome.maybe_stored else "failed"
        code = " ".join(part for part in (outcome.code, outcome.sub_code) if part)
        message = Words(outcome.zh, outcome.en, outcome.message)
        return cls(
            status,
            image_id=outcome.pending_id or outcome.image_id,
            category=str(outcome.category or Category.UNKNOWN),
            code=code,
            message=message,
            retryable=outcome.retryable,
            attempts=attempts,
            elapsed_s=elapsed_s,
        )


# Distinct texts a table keeps one copy of (messages, categories, codes: a batch's rows
# share a handful); past it, new texts are kept as they come.
_SHARED_TEXTS = 4096


class ResultTable(MutableMapping[Hashable, RowResult]):
    """The results of rows numbered ``0 .. size - 1``, kept as columns as rows finish.

    What a long run holds until its results frame is built: a status byte, a few numbers
    and references per row (about 60 bytes), and one copy of each repeated text, instead
    of a :class:`RowResult` and a dict entry per row.  Read back, a row is a new
    :class:`RowResult` equal to the one written.

    >>> table = ResultTable(3)
    >>> table[1] = RowResult("uploaded", "http://img/1.jpg", "1", attempts=2)
    >>> 1 in table, 0 in table, len(table), table[1].url, table[1].attempts
    (True, False, 1, 'http://img/1.jpg', 2)
    """

    def __init__(self, size: int, results: Mapping[Hashable, RowResult] | None = None) -> None:
        self.size = size
        self._status = bytearray(size)  # 0: no result yet, else 1 + its index in STATUSES
        self._url: list[str] = [""] * size
        self._image_id: list[str] = [""] * size
        self._category: list[str] = [""] * size
        self._code: list[str] = [""] * size
        self._message: list[str | Words] = [""] * size
        self._retryable = bytearray(size)
        self._attempts = array("q", bytes(8 * size))
        self._elapsed = array("d", bytes(8 * size))
        self._count = 0
        self._texts: dict[str, str] = {}
        for index, result in (results or {}).items():
            self[index] = result

    def _shared(self, text: str) -> str:
        """One copy of a repeated ``text``."""
        kept = self._texts.get(text)
        if kept is not None:
            return kept
        if len(self._texts) < _SHARED_TEXTS:
            self._texts[text] = text
        return text

    def _slot(self, index: Hashable) -> int:
        if not isinstance(index, int | np.integer) or not 0 <= int(index) < self.size:
            raise KeyError(index)
        return int(index)

    def __setitem__(self, index: Hashable, result: RowResult) -> None:
        slot = self._slot(index)
        if not self._status[slot]:
            self._count += 1
        self._status[slot] = STATUSES.index(result.status) + 1
        self._url[slot] = result.url
        self._image_id[slot] = result.image_id
        self._category[slot] = self._shared(result.category)
        self._code[slot] = self._shared(result.code)
        message = result.message
        self._message[slot] = self._shared(message) if isinstance(message, str) else message
        self._retryable[slot] = result.retryable
        self._attempts[slot] = result.attempts
        self._elapsed[slot] = result.elapsed_s

    def __getitem__(self, index: Hashable) -> RowResult:
        slot = self._slot(index)
        status = self._status[slot]
        if not status:
            raise KeyError(index)
        return RowResult(
            STATUSES[status - 1],
            self._url[slot],
            self._image_id[slot],
            self._category[slot],
            self._code[slot],
            self._message[slot],
            bool(self._retryable[slot]),
            self._attempts[slot],
            self._elapsed[slot],
        )

    def __contains__(self, index: object) -> bool:
        # The engine asks this of every row it cuts short: no RowResult built for it.
        if not isinstance(index, int | np.integer) or not 0 <= int(index) < self.size:
            return False
        return bool(self._status[int(index)])

    def __delitem__(self, index: Hashable) -> None:
        slot = self._slot(index)
        if not self._status[slot]:
            raise KeyError(index)
        self._status[slot] = 0
        self._count -= 1

    def __iter__(self) -> Iterator[Hashable]:
        return (slot for slot, status in enumerate(self._status) if status)

    def __len__(self) -> int:
        return self._count

    def columns(self, lang: Lang = DEFAULT_LANG) -> dict[str, list[Any]]:
        """The result columns of :func:`results_frame`, rows without a result ``cancelled``.

        >>> ResultTable(1).columns("en")["message"]
        ['cancelled before it was sent']
        """
        never = STATUSES.index("cancelled") + 1
        names = ("", *STATUSES)
        statuses = self._status
        cancelled = render(CANCELLED, lang)
        rendered: dict[int, str] = {}  # one rendering of each shared Words

        def text(slot: int) -> str:
            message = self._message[slot]
            if not statuses[slot]:
                return cancelled
            if isinstance(message, str):
                return message
            key = id(message)
            if key not in rendered:
                rendered[key] = render(message, lang)
            return rendered[key]

        slots = range(self.size)
        return {
            "status": [names[code or never] for code in statuses],
            "url": self._url,
            "image_id": self._image_id,
            "category": self._category,
            "code": self._code,
            "message": [text(slot) for slot in slots],
            "retryable": [bool(flag) for flag in self._retryable],
            "attempts": self._attempts.tolist(),
            "elapsed_s": [round(value, 3) for value in self._elapsed],
        }


def results_frame(
    validated: pd.DataFrame,
    results: Mapping[Hashable, RowResult],
    lang: Lang = DEFAULT_LANG,
) -> pd.DataFrame:
    """The validated batch with the result columns, the columns that matter first (see
    :data:`LEADING_COLUMNS`); rows without a result are ``cancelled``; messages in ``lang``."""
    frame = validated.drop(columns=[c for c in _VALIDATION_ONLY if c in validated.columns])
    message = frame.pop("message") if "message" in frame.columns else None
    if isinstance(results, ResultTable) and frame.index.equals(pd.RangeIndex(results.size)):
        columns = results.columns(lang)  # read by position: the table's own numbering
    else:
        never = RowResult("cancelled", message=CANCELLED)
        rows = [results.get(index, never) for index in frame.index]
        columns = {
            "status": [r.status for r in rows],
            "url": [r.url for r in rows],
            "image_id": [r.image_id for r in rows],
            "category": [r.category for r in rows],
            "code": [r.code for r in rows],
            "message": [render(r.message, lang) for r in rows],
            "retryable": [r.retryable for r in rows],
            "attempts": [r.attempts for r in rows],
            "elapsed_s": [round(r.elapsed_s, 3) for r in rows],
        }
    for name, values in columns.items():
        frame[name] = pd.Series(values, index=frame.index)
    if message is not None:  # invalid rows keep validation's words
        invalid = frame["status"] == "invalid"
        frame.loc[invalid, "message"] = message[invalid]
    for name in ("sha256", "bytes", "width", "height"):
        if name not in frame.columns:
            frame[name] = ""
        frame[name] = frame.pop(name)
    return lead(frame)


def lead(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the :data:`LEADING_COLUMNS` it has first, the others after in order.

    So that a notebook's display (which elides the middle of a wide frame) and a workbook
    show what happened to each row before the details.

    >>> import pandas as pd
    >>> list(lead(pd.DataFrame(columns=["file", "url", "status", "x"])).columns)
    ['status', 'url', 'file', 'x']
    """
    first = [c for c in LEADING_COLUMNS if c in frame.columns]
    rest = [c for c in frame.columns if c not in first]
    return frame[[*first, *rest]]


def summary(results: pd.DataFrame) -> pd.DataFrame:
    """Counts of rows per platform and status.

    >>> import pandas as pd
    >>> table = summary(pd.DataFrame({"platform_key": ["a", "a"],
    ...                               "status": ["uploaded", "failed"]}))
    >>> table.to_dict("index")
    {'a': {'uploaded': 1, 'failed': 1}}
    """
    table = pd.crosstab(results["platform_key"], results["status"])
    present = [s for s in STATUSES if s in table.columns]
    table = table[present]
    table.columns.name = "status"
    return table


# The words of each status, for people (the workbook, the CLI, the one-line summary).
STATUS_NAMES: dict[str, Words] = {
    "uploaded": Words("已上传", "uploaded"),
    "skipped": Words("已跳过", "skipped"),
    "invalid": Words("无效", "invalid"),
    "failed": Words("失败", "failed"),
    "pending_audit": Words("待审核", "pending audit"),
    "in_doubt": Words("存疑", "in doubt"),
    "cancelled": Words("已取消", "cancelled"),
    "planned": Words("计划上传", "planned"),
}
# Each status's colour (RGB hex), Excel's own "Good / Neutral / Bad" cell colours that
# every spreadsheet user reads: green done, grey nothing happened, amber waiting on
# someone, red wrong.  The workbook's fills and the notebook view both read these.
STATUS_COLOURS: dict[str, str] = {
    "uploaded": "C6EFCE",
    "skipped": "EDEDED",
    "cancelled": "EDEDED",
    "pending_audit": "FFEB9C",
    "in_doubt": "FFEB9C",
    "planned": "FFEB9C",
    "failed": "FFC7CE",
    "invalid": "FFC7CE",
}


def summary_line(results: pd.DataFrame, lang: Lang = DEFAULT_LANG) -> str:
    """One line saying what became of a batch: rows, then the count of each status present.

    >>> import pandas as pd
    >>> done = pd.DataFrame({"status": ["uploaded", "uploaded", "failed", "skipped"]})
    >>> summary_line(done, "en")
    '4 rows: 2 uploaded, 1 skipped, 1 failed'
    >>> summary_line(done, "zh")
    '共 4 行: 已上传 2, 已跳过 1, 失败 1'
    """
    counts = results["status"].astype(str).value_counts().to_dict() if len(results) else {}
    parts = []
    for status in STATUSES:
        count = int(counts.get(status, 0))
        if count:
            name = STATUS_NAMES[status]
            if lang == "zh":
                parts.append(f"{name.zh} {count}")
            elif lang == "en":
                parts.append(f"{count} {name.en}")
            else:
                parts.append(f"{count} {name.en} ({name.zh})")
    head = {"zh": f"共 {len(results)} 行", "en": f"{len(results)} rows"}.get(
        lang, f"{len(results)} rows / 行"
    )
    return f"{head}: {', '.join(parts)}" if parts else head


def replace_rows(
    results: pd.DataFrame, positions: Sequence[int] | np.ndarray[Any, Any], new: pd.DataFrame
) -> pd.DataFrame:
    """``results`` with the rows at ``positions`` replaced by the rows of ``new`` (in order).

    Works by position, so repeated index labels are fine, and builds each column anew, so
    a pandas 3 ``str`` column takes the booleans and numbers of ``new`` without complaint.

    >>> import pandas as pd
    >>> old = pd.DataFrame({"status": pd.array(["failed", "uploaded"], dtype="str"),
    ...                     "retryable": [True, False]})
    >>> new = pd.DataFrame({"status": ["uploaded"], "retryable": [False], "url": ["u"]})
    >>> replace_rows(old, [0], new).to_dict("list")
    {'status': ['uploaded', 'uploaded'], 'retryable': [False, False], 'url': ['u', '']}
    """
    merged = results.copy()
    where = np.asarray(positions, dtype=np.intp)
    for column in new.columns:
        if column in merged.columns:
            values = merged[column].astype(object).to_numpy(copy=True)
        else:
            values = np.full(len(merged), "", dtype=object)
        values[where] = new[column].astype(object).to_numpy()
        merged[column] = pd.Series(values, index=merged.index).infer_objects()
    return merged
