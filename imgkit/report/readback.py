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

import os
import re
import warnings
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from imgkit.errors import ImgkitError
from imgkit.intake.batch import (
    HEADERS_ATTR,
    ORDER_ATTR,
    ROW_COLUMN,
    SOURCE_ATTR,
    read_batch,
    read_batch_positions,
)
from imgkit.intake.cells import header_text as _header_text
from imgkit.intake.headers import normal_header as _normal

# The words and types of the cells: imgkit.report.result_cells (names kept importable here).
from imgkit.report.result_cells import BATCH_COLUMNS as _BATCH_COLUMNS
from imgkit.report.result_cells import (
    KNOWN_STATUSES,
    RESULT_HEADER_ALIASES,
    STATUS_WORDS,
    status_of,
)
from imgkit.report.result_cells import RESULT_SET as _RESULT_SET
from imgkit.report.result_cells import typed as _typed
from imgkit.report.results import RESULT_COLUMNS

RESULTS_SHEETS = ("results", "结果", "上传结果")  # the sheet read by default, if present
_INDEX_HEADERS = ("", "Unnamed: 0")  # what to_excel / read_csv call an unnamed index
_INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)
_HEADER_LOOKUP: dict[str, str] = {
    _normal(alias): column
    for column, aliases in RESULT_HEADER_ALIASES.items()
    for alias in (column, *aliases)
}
_HEADER_LOOKUP.update({_normal(c): c for c in RESULT_COLUMNS})


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
    out = pd.DataFrame(_as_written(columns, frame.attrs.get(ORDER_ATTR), names), index=index)
    if SOURCE_ATTR in frame.attrs:  # not for a DataFrame that never came from a file
        out.attrs[SOURCE_ATTR] = frame.attrs[SOURCE_ATTR]
    out.attrs[HEADERS_ATTR] = headers
    return out


# --- where the table is, and what its columns are -----------------------------------------


def _results_sheet(path: Path) -> str | int:
    if path.suffix.lower() not in (".xlsx", ".xlsm") or not path.is_file():
        return 0  # read_batch ignores the sheet of a CSV, and reports a missing file
    import openpyxl

    # Opened here, not by openpyxl, which leaves its handle open when it fails half-way.
    try:
        handle = path.open("rb")
    except OSError:  # read_batch says what is wrong with it
        return 0
    with handle:
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
                # read_only reads the sheet list alone, not the cells: cheap for a big book.
                book = openpyxl.load_workbook(handle, read_only=True)
        except Exception:  # whatever openpyxl trips on: read_batch says what is wrong
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


def _as_written(
    columns: dict[Hashable, Any], order: object, names: Mapping[Hashable, str]
) -> dict[Hashable, Any]:
    """``columns`` in the order the table had them (``order``: read_batch's record of it),
    ``row`` where it was, or (not written) where a results frame keeps it."""
    if isinstance(order, list):
        first = [names.get(label, label) for label in order]
        first = [c for c in first if c in columns]
        ordered = {c: columns[c] for c in [*first, *(c for c in columns if c not in first)]}
        if ROW_COLUMN in first:
            return ordered
        columns = ordered
    return _in_results_order(columns)


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


__all__ = [
    "KNOWN_STATUSES",
    "RESULT_HEADER_ALIASES",
    "STATUS_WORDS",
    "read_results",
    "status_of",
]
