"""The cells of a results table read back: the words for each status and result column,
and each result column's type restored from its text.

Excel and pandas give a results table back with its types lost: ``retryable`` as
``TRUE`` or ``1.0``, ``attempts`` as ``2.0``, counts as floats, times as text.
:func:`typed` turns such a text column back into its type; :func:`status_of` reads a
status written in English or Chinese, any case.  :mod:`imgkit.report.readback` reads the
table.

Example
-------
>>> status_of("上传失败"), status_of("Pending Audit")
('failed', 'pending_audit')
>>> typed("retryable", pd.Series(["TRUE", "0", "是"])).tolist()
[True, False, True]
>>> typed("attempts", pd.Series(["2.0", ""])).tolist()
[2, 0]
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from imgkit.intake.batch import ROW_COLUMN
from imgkit.intake.headers import OPTIONAL_COLUMNS, REQUIRED_COLUMNS
from imgkit.intake.headers import normal_header as _normal
from imgkit.intake.options import TRUE_WORDS
from imgkit.report.results import RESULT_COLUMNS, STATUSES

# Every status a results table may hold (written once, in results.STATUSES).
KNOWN_STATUSES: tuple[str, ...] = STATUSES

# The words a person may write instead of a status, compared after _normal() (case, spaces,
# "_" and "-" ignored, so "Pending Audit" is pending_audit).
STATUS_WORDS: dict[str, tuple[str, ...]] = {
    "uploaded": ("已上传", "上传成功", "成功"),
    "skipped": ("已跳过", "跳过"),
    "invalid": ("无效", "校验未通过"),
    "failed": ("失败", "上传失败"),
    "pending_audit": ("待审核", "审核中"),
    "in_doubt": ("存疑", "待确认", "结果未知"),
    "cancelled": ("已取消", "取消", "canceled"),
    "planned": ("计划上传", "待上传"),
}

# Headers accepted for the result columns besides their own names.  None of them means a
# batch column (a test checks it against read_batch's aliases): "图片ID" is replace_id there.
RESULT_HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "platform_key": ("平台代码",),
    "status": ("状态", "上传状态", "结果"),
    "url": ("链接", "图片链接", "网址"),
    "image_id": ("图片编号", "平台图片ID"),
    "category": ("错误类别", "错误类型"),
    "code": ("错误码", "错误代码"),
    "message": ("信息", "消息"),
    "retryable": ("可重试", "是否可重试"),
    "attempts": ("尝试次数", "次数"),
    "elapsed_s": ("耗时", "耗时(秒)", "用时"),
    "sha256": ("校验值",),
    "bytes": ("字节数", "文件大小"),
    "width": ("宽", "宽度"),
    "height": ("高", "高度"),
    "sent_at": ("发送时间", "上传时间"),
}

BATCH_COLUMNS = frozenset((*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS))
RESULT_SET = frozenset(("platform_key", *RESULT_COLUMNS, *RESULT_HEADER_ALIASES))
# The yes words of a batch, and "1.0": a bool column pandas wrote as float.
_TRUE = TRUE_WORDS | {"1.0"}
_COUNT_COLUMNS = ("bytes", "width", "height")
_INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)

_STATUS_LOOKUP: dict[str, str] = {
    _normal(word): status
    for status in KNOWN_STATUSES
    for word in (status, *STATUS_WORDS.get(status, ()))
}


def status_of(text: str) -> str:
    """The status ``text`` names, or ``text`` itself (stripped) when it names none.

    Parameters
    ----------
    text
        A status cell: a status, its Chinese word (:data:`STATUS_WORDS`), any case.

    Returns
    -------
    str
        One of :data:`KNOWN_STATUSES`, or the unknown text unchanged (a later step reports
        it for its row: an unknown status is not an error of the whole table).

    Examples
    --------
    >>> [status_of(t) for t in ("Uploaded", "失败", " Pending Audit ", "IN_DOUBT", "done?")]
    ['uploaded', 'failed', 'pending_audit', 'in_doubt', 'done?']
    """
    stripped = text.strip()
    return _STATUS_LOOKUP.get(_normal(stripped), stripped)


def typed(column: Hashable, values: pd.Series) -> Any:
    """The column's values with their type restored: a new array, never an assignment
    into read_batch's text column (pandas 3's ``str`` dtype refuses a bool or an int)."""
    if column == ROW_COLUMN or column in BATCH_COLUMNS:
        return values.array  # read_batch's types: text, and row as int64
    if column not in RESULT_SET and not is_time_column(column):
        return values.array  # the user's own column, as text
    texts = [str(v) for v in values.tolist()]
    if column == "status":
        statuses = [status_of(t) for t in texts]
        return pd.Series(statuses, index=values.index, dtype=values.dtype).array
    if column == "retryable":
        return np.array([t.strip().casefold() in _TRUE for t in texts], dtype=bool)
    if column == "attempts":
        return np.array([_integer(t) or 0 for t in texts], dtype=np.int64)
    if column == "elapsed_s":
        return np.array([_float(t) for t in texts], dtype=np.float64)
    if column in _COUNT_COLUMNS:
        return pd.array([_integer(t) for t in texts], dtype="Int64")
    if is_time_column(column):
        return _times(texts, values)
    return values.array


def is_time_column(column: Hashable) -> bool:
    """Whether ``column`` holds times: ``sent_at`` or any other ``*_at`` result column."""
    return isinstance(column, str) and column.endswith("_at") and column not in BATCH_COLUMNS


def _float(text: str) -> float:
    try:
        # float() takes "1_000" and "infinity"; a cell with them is not a duration.
        return float(text) if text and "_" not in text else math.nan
    except ValueError:
        return math.nan


def _integer(text: str) -> int | None:
    if _INTEGER.fullmatch(text.strip()):
        return int(text)
    number = _float(text)  # "23149.0" from a float column, "1.2E+5" from Excel
    return int(number) if math.isfinite(number) and number.is_integer() else None


def _times(texts: Sequence[str], values: pd.Series) -> Any:
    present = [t or None for t in texts]
    if not any(present):
        # All empty: the dtype pandas gives parsed times (ns in pandas 2, us in pandas 3).
        unit = str(pd.to_datetime(["2000-01-01 00:00:00"]).dtype)
        return np.full(len(texts), np.datetime64("NaT"), dtype=unit)
    with warnings.catch_warnings():
        # pandas 2 only warns about mixed offsets; pandas 3 raises: treat both alike.
        warnings.simplefilter("error")
        attempts: tuple[dict[str, Any], ...] = (
            {"format": "ISO8601"},
            {"format": "mixed"},
            {"format": "ISO8601", "utc": True},  # offsets that differ: one clock, UTC
        )
        for options in attempts:
            try:
                return pd.to_datetime(pd.Index(present, dtype=object), **options).array
            except (ValueError, TypeError, OverflowError, Warning):
                continue
    return values.array  # not times after all: the text as written


__all__ = [
    "BATCH_COLUMNS",
    "KNOWN_STATUSES",
    "RESULT_HEADER_ALIASES",
    "RESULT_SET",
    "STATUS_WORDS",
    "is_time_column",
    "status_of",
    "typed",
]
