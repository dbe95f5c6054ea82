"""Reading a results table back, exactly, so that a person can fix rows and send it again.

A results frame (:mod:`imgkit.report.results`) saved with ``to_excel`` or ``to_csv`` comes back
from Excel or pandas with its types lost: booleans as ``TRUE``, counts as floats, the index
as a column called ``Unnamed: 0``.  :func:`read_results` reads the cells exactly as
:func:`imgkit.read_batch` does (ids stay text, headers in Chinese or English) and gives each
result column its type back: ``retryable`` bool, ``attempts`` int64, ``elapsed_s`` float64,
``bytes, width, height`` nullable Int64, ``row`` (the row in the user's *original* sheet)
int64, and timestamp columns (``sent_at``, any ``*_at``) datetime64.

Example
-------
>>> import tempfile
>>> results = pd.DataFrame({
...     "platform": ["tmall"], "shop": ["tmall_store"], "file": ["/data/a.jpg"],
...     "target": ["1657717355974335419"], "row": [7], "status": ["failed"],
...     "retryable": [True], "attempts": [2], "elapsed_s": [0.25], "bytes": [None]})
>>> with tempfile.TemporaryDirectory() as folder:
...     path = Path(folder) / "results.xlsx"
...     results.to_excel(path, sheet_name="Results")
...     back = read_results(path)
>>> back[["target", "row", "status", "retryable", "attempts"]].to_dict("records")
[{'target': '1657717355974335419', 'row': 7, 'status': 'failed', 'retryable': True, 'attempts': 2}]
>>> str(back["bytes"].dtype), back.index.tolist()
('Int64', [0])
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from imgkit.errors import ImgkitError
from imgkit.intake.batch import (
    HEADERS_ATTR,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    ROW_COLUMN,
    SOURCE_ATTR,
    _header_text,
    _normal,
    read_batch,
    read_batch_positions,
)
from imgkit.report.results import RESULT_COLUMNS, STATUSES

# Every status a results table may hold; a newer one in results.STATUSES joins the end.
KNOWN_STATUSES: tuple[str, ...] = tuple(
    dict.fromkeys(
        (
            "uploaded",
            "skipped",
            "invalid",
            "failed",
            "pending_audit",
            "in_doubt",
            "cancelled",
            "planned",
            *STATUSES,
        )
    )
)

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

RESULTS_SHEETS = ("results", "结果", "上传结果")  # the sheet read by default, if present
_BATCH_COLUMNS = frozenset((*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS))
_RESULT_SET = frozenset(("platform_key", *RESULT_COLUMNS, *RESULT_HEADER_ALIASES))
_INDEX_HEADERS = ("", "Unnamed: 0")  # what to_excel / read_csv call an unnamed index
_TRUE = frozenset({"true", "1", "1.0", "yes", "y", "t", "是"})
_COUNT_COLUMNS = ("bytes", "width", "height")
_INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)

_STATUS_LOOKUP: dict[str, str] = {
    _normal(word): status
    for status in KNOWN_STATUSES
    for word in (status, *STATUS_WORDS.get(status, ()))
}
_HEADER_LOOKUP: dict[str, str] = {
    _normal(alias): column
    for column, aliases in RESULT_HEADER_ALIASES.items()
    for alias in (column, *aliases)
}
_HEADER_LOOKUP.update({_normal(c): c for c in RESULT_COLUMNS})


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


def read_results(
    source: pd.DataFrame | str | os.PathLike[str], *, sheet: str | int | None = None
) -> pd.DataFrame:
    """Read a results table (a workbook, a CSV or a frame) back with its types restored.

    Parameters
    ----------
    source
        The path of a ``.xlsx``/``.xlsm`` or ``.csv`` file written from a results frame
        (with or without the index, possibly edited and saved again by Excel), or a
        DataFrame (e.g. from ``pd.read_excel``).
    sheet
        The Excel sheet, by name or 0-based index.  By default the sheet called
        ``Results`` (any case; or ``结果``) if there is one, else the first.

    Returns
    -------
    pandas.DataFrame
        The batch columns as :func:`imgkit.read_batch` reads them, the user's own columns,
        ``row`` (int64, the row of the original sheet, kept from the table), then the result
        columns: text ones as text, ``status`` normalized to one of :data:`KNOWN_STATUSES`
        (an unknown value is kept as written), ``retryable`` bool (empty: False),
        ``attempts`` int64 (empty: 0), ``elapsed_s`` float64, ``bytes``, ``width``,
        ``height`` Int64 (empty: <NA>), ``sent_at`` and other ``*_at`` columns datetime64
        (left as text when a value is not a time).  An unnamed first column (the index
        ``to_excel`` writes) becomes the index; a DataFrame without one keeps its own.
        ``attrs["imgkit_source"]`` is the file's absolute path and
        ``attrs["imgkit_headers"]`` the headers as the user wrote them.

    Raises :class:`imgkit.errors.ImgkitError`: ``not_results`` for a table without a status
    column, and :func:`imgkit.read_batch`'s errors (a missing file, a missing batch column).

    Examples
    --------
    >>> table = pd.DataFrame({"平台": ["天猫"], "店铺": ["s"], "图片": ["https://x/a.jpg"],
    ...                       "商品ID": ["00123"], "状态": ["已上传"], "可重试": ["FALSE"]})
    >>> back = read_results(table)
    >>> back[["target", "row", "status", "retryable"]].to_dict("records")
    [{'target': '00123', 'row': 2, 'status': 'uploaded', 'retryable': False}]
    >>> back.attrs["imgkit_headers"]["status"]
    '状态'
    """
    positions = None
    if isinstance(source, pd.DataFrame):
        frame, positions = read_batch_positions(source, keep_row=True)
        where = "DataFrame"
    else:
        path = Path(os.path.abspath(os.path.expanduser(os.fspath(source))))
        chosen = _results_sheet(path) if sheet is None else sheet
        frame = read_batch(path, sheet=chosen, keep_row=True)
        where = path.name
    headers: dict[str, str] = dict(frame.attrs.get(HEADERS_ATTR, {}))
    names = _result_names(frame, where)
    if "status" not in names.values():
        raise ImgkitError(
            f"{where}: not a results table (no 'status' column); read a plain batch with "
            f"read_batch / {where} 不是上传结果表(没有“状态 / status”列),普通批量表请用 "
            "read_batch 读取",
            code="not_results",
        )
    index_label = _index_column(frame, source)
    index = _index(frame, index_label, source, positions)
    columns: dict[Hashable, Any] = {}
    for label in frame.columns:
        if label == index_label and index_label is not None:
            continue
        column = names.get(label, label)
        if label in names:
            headers[column] = _header_text(label)
        columns[column] = _typed(column, frame[label])
    if isinstance(source, pd.DataFrame):
        # A results frame read before and passed around: its headers are canonical by now,
        # and its own mapping has the user's words.
        earlier = source.attrs.get(HEADERS_ATTR)
        if isinstance(earlier, Mapping):
            for column, header in headers.items():
                if header == column and isinstance(earlier.get(column), str):
                    headers[column] = earlier[column]
    out = pd.DataFrame(_in_results_order(columns), index=index)
    if SOURCE_ATTR in frame.attrs:  # not for a DataFrame that never came from a file
        out.attrs[SOURCE_ATTR] = frame.attrs[SOURCE_ATTR]
    out.attrs[HEADERS_ATTR] = headers
    return out


# --- where the table is, and what its columns are -----------------------------------------


def _results_sheet(path: Path) -> str | int:
    if path.suffix.lower() not in (".xlsx", ".xlsm") or not path.is_file():
        return 0  # read_batch ignores the sheet of a CSV, and reports a missing file
    import openpyxl

    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
            # read_only reads the sheet list alone, not the cells: cheap for a big workbook.
            book = openpyxl.load_workbook(path, read_only=True)
    except Exception:  # whatever openpyxl trips on: read_batch says what is wrong with it
        return 0
    try:
        names = book.sheetnames
    except Exception:  # a damaged workbook, found out late
        return 0
    finally:
        book.close()
    for wanted in RESULTS_SHEETS:
        for name in names:
            if name.strip().casefold() == wanted:
                return name
    return 0


def _result_names(frame: pd.DataFrame, where: str) -> dict[Hashable, str]:
    """{frame column: result column it means}, for the user's columns read_batch left."""
    found: dict[str, list[Hashable]] = {}
    for label in frame.columns:
        if label in _BATCH_COLUMNS or label == ROW_COLUMN:
            continue
        column = _HEADER_LOOKUP.get(_normal(_header_text(label)))
        if column:
            found.setdefault(column, []).append(label)
    names: dict[Hashable, str] = {}
    for column, labels in found.items():
        exact = [label for label in labels if label == column]
        if exact:
            # The column's own name wins: a batch column of the user's called "状态" stays
            # the user's beside imgkit's "status".
            names[exact[0]] = column
        elif len(labels) > 1:
            shown = [_header_text(label) for label in labels]
            both = " and ".join(repr(h) for h in shown)
            raise ImgkitError(
                f"{where}: headers {both} both mean column {column!r}; keep one / "
                f"表头 {'、'.join(shown)} 都对应列 {column!r},请只保留一个",
                code="duplicate_column",
            )
        else:
            names[labels[0]] = column
    return names


def _index_column(frame: pd.DataFrame, source: object) -> Hashable | None:
    """The column holding the index ``to_excel`` / ``to_csv`` wrote, if there is one."""
    own = [c for c in frame.columns if c not in _BATCH_COLUMNS and c != ROW_COLUMN]
    if not own or _header_text(own[0]) not in _INDEX_HEADERS:
        return None
    if isinstance(source, pd.DataFrame):
        # Only the frame's first column is an index written out; read_batch keeps the
        # user's columns in their order, so that is own[0] when it is unnamed.
        first = source.columns[0] if len(source.columns) else None
        if _header_text(first) not in _INDEX_HEADERS:
            return None
    elif own[0] != "Unnamed: 0":
        return None  # read_batch names an empty header after its column: this is not the first
    return own[0]


def _index(
    frame: pd.DataFrame, label: Hashable | None, source: object, positions: np.ndarray | None
) -> pd.Index:
    if label is None:
        if isinstance(source, pd.DataFrame) and positions is not None:
            # Each row keeps its label in the frame, taken by position: labels may repeat
            # (a pd.concat of two results frames), and blank rows may have been dropped.
            if len(positions) == len(source):
                own: pd.Index = source.index
                return own
            return source.index[positions]
        return pd.RangeIndex(len(frame))
    values = [str(v) for v in frame[label].tolist()]
    if not any(values):
        return pd.RangeIndex(len(frame))
    if all(_INTEGER.fullmatch(v) for v in values):
        numbers = [int(v) for v in values]
        if numbers == list(range(len(numbers))):
            return pd.RangeIndex(len(numbers))
        return pd.Index(np.array(numbers, dtype=np.int64))
    return pd.Index(values)


def _in_results_order(columns: dict[Hashable, Any]) -> dict[Hashable, Any]:
    # read_batch puts ``row`` last; a results frame has it between the batch columns and
    # the result columns, where to_excel found it.
    if ROW_COLUMN not in columns:
        return columns
    row = columns.pop(ROW_COLUMN)
    out: dict[Hashable, Any] = {}
    for name, values in columns.items():
        if name in _RESULT_SET and ROW_COLUMN not in out:
            out[ROW_COLUMN] = row
        out[name] = values
    out.setdefault(ROW_COLUMN, row)
    return out


# --- the types back -------------------------------------------------------------------------


def _typed(column: Hashable, values: pd.Series) -> Any:
    """The column's values with their type restored: a new array, never an assignment
    into read_batch's text column (pandas 3's ``str`` dtype refuses a bool or an int)."""
    if column == ROW_COLUMN or column in _BATCH_COLUMNS:
        return values.array  # read_batch's types: text, and row as int64
    if column not in _RESULT_SET and not _is_time_column(column):
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
    if _is_time_column(column):
        return _times(texts, values)
    return values.array


def _is_time_column(column: Hashable) -> bool:
    return isinstance(column, str) and column.endswith("_at") and column not in _BATCH_COLUMNS


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
    "KNOWN_STATUSES",
    "RESULT_HEADER_ALIASES",
    "STATUS_WORDS",
    "read_results",
    "status_of",
]
