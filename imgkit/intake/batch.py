"""Batches: the rows to upload, read from a DataFrame, a CSV file or an Excel sheet.

A batch has four required columns — ``platform``, ``shop``, ``file`` (a local path or an
http(s) URL) and ``target`` (what the platform files the image under) — and the optional
columns the adapters understand (``title``, ``position``, ``replace_id``, ...).  Headers are
matched ignoring case, spaces, ``_`` and ``-``, in English or Chinese (:data:`HEADER_ALIASES`);
any other column is kept as it is.

:func:`read_batch` reads every value as text, so ids stay exact (``1489161932``, never
``1.489161932e9``; ``00123`` keeps its zeros), finds the header below a title row, fills
merged cells down, drops blank rows, keeps each row's number as the user sees it in ``row``
and makes ``file`` paths absolute.  It never invents digits: a number held as a float of
15 digits or more (a General cell Excel cut to 15 significant digits) is written as Excel
shows it, ``1.65771735597434E+18``, which :func:`looks_mangled` recognises and validation
refuses.  Nothing is checked here beyond the columns: validation reports bad values row by
row.  The headers as the user wrote them are kept in ``attrs["imgkit_headers"]``.

The parts: the columns and their headers (:mod:`imgkit.intake.headers`; the optional
columns are the adapters' options, :mod:`imgkit.intake.options`), a sheet's cells read
as text (:mod:`imgkit.intake.sheets`, :mod:`imgkit.intake.cells`); this module finds the
header in them and builds the frame.

Example
-------
>>> batch = read_batch("sample_data/batch.csv")
>>> print(batch[["platform", "shop", "target", "row"]].head(3).to_string())
         platform              shop               target  row
0  taobao_picture   tb_picture_main                    0    2
1  taobao_picture   tb_picture_main  1657717355974335419    3
2  taobao_picture  tb_picture_oauth                    0    4
>>> Path(batch.loc[0, "file"]).relative_to(Path.cwd()).as_posix()
'sample_data/images/mug.jpg'
>>> frame = pd.DataFrame({"平台": ["天猫"], "店铺": ["tmall_store"],
...                       "图片": ["https://img.example/a.jpg"], "商品ID": [1489161940.0]})
>>> first = read_batch(frame).loc[0]
>>> first["platform"], first["file"], first["target"]
('天猫', 'https://img.example/a.jpg', '1489161940')
"""

from __future__ import annotations

import os
import re
from bisect import bisect_right
from collections.abc import Hashable, Iterable, Mapping, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from imgkit.errors import ImgkitError

# _text and _texts: importable from here as before the cells moved to imgkit.intake.cells.
from imgkit.intake.cells import cell_text as _text  # noqa: F401
from imgkit.intake.cells import cell_texts as _texts  # noqa: F401
from imgkit.intake.cells import header_text as _header_text
from imgkit.intake.headers import (
    HEADER_ALIASES,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    column_for,
)
from imgkit.intake.headers import normal_header as _normal
from imgkit.intake.sheets import HEADER_SEARCH_ROWS as _HEADER_SEARCH_ROWS
from imgkit.intake.sheets import Grid as _Grid
from imgkit.intake.sheets import file_grid as _file_grid
from imgkit.intake.sheets import frame_grid as _frame_grid
from imgkit.intake.texts import give_back, per_value, text_array

ROW_COLUMN = "row"
SOURCE_ATTR = "imgkit_source"
HEADERS_ATTR = "imgkit_headers"
# The frame's columns in the order the sheet had them (read_batch puts its own columns
# first): read_results gives a results table back in the order it was written.
ORDER_ATTR = "imgkit_order"
# A number written the way Excel shows one it cannot show whole ("1.65772E+18"): an id in
# this form lost its last digits before imgkit saw it.  ASCII only: Excel writes no other.
SCIENTIFIC_ID = re.compile(
    r"\A\s*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][+-]?[0-9]+\s*\Z", re.ASCII
)
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
# A relative path normpath would leave as it is: no "~", no leading "/", no "." or ".."
# segment, no "//", no trailing "/".  Windows paths all take the long way.
_PLAIN = re.compile(r"(?![~/])(?!(?:.*/)?\.\.?(?:/|$))(?!.*//)(?!.*/$)", re.DOTALL)


def looks_mangled(text: str) -> bool:
    """Whether ``text`` is a number in scientific notation: an id Excel cut to 15 digits.

    Excel shows a long number it cannot hold whole as ``1.65772E+18``, and :func:`read_batch`
    writes an untrustworthy number the same way; no real id looks like that.

    Parameters
    ----------
    text
        A cell's text.

    Returns
    -------
    bool
        True for ``1.65772E+18``, ``1.6577e18``, ``2E-3``; False for ids and paths.

    Examples
    --------
    >>> [looks_mangled(t) for t in ("1.65771735597434E+18", "1.6577e18", " 2E+5 ")]
    [True, True, True]
    >>> [looks_mangled(t) for t in ("1657717355974335419", "18353/g1234", "1e", "E5", "")]
    [False, False, False, False, False]
    """
    return SCIENTIFIC_ID.match(text) is not None


def read_batch(
    source: pd.DataFrame | str | os.PathLike[str],
    *,
    sheet: str | int = 0,
    keep_row: bool = False,
) -> pd.DataFrame:
    """Read a batch into a frame of text columns, one row per non-blank input row.

    Parameters
    ----------
    source
        A DataFrame, or the path of a ``.csv`` (UTF-8 with or without BOM, else GB18030) or
        ``.xlsx``/``.xlsm`` file.
    sheet
        The Excel sheet, by name or 0-based index; ignored for CSV and DataFrames.
    keep_row
        Keep a file's own ``row`` column (a results table read back, whose ``row`` is the
        row number in the user's original sheet) instead of numbering the file's rows.

    Returns
    -------
    pandas.DataFrame
        Columns ``platform, shop, file, target``, the optional columns present (canonical
        names), the user's other columns untouched, then ``row`` (int): the row number the
        user sees — the sheet or CSV record number counting the header, so the first row
        under a header in row 1 is 2.  For a DataFrame it is the 1-based position + 1 (as
        if the header were row 1), unless the frame already has a ``row`` column (a frame
        read before), which is kept; a file's own ``row`` column gives way to its row
        numbers unless ``keep_row``.  Relative ``file`` paths are made absolute against the
        batch file's folder (a DataFrame: its ``attrs["imgkit_source"]`` folder, else the
        current directory).  ``attrs["imgkit_source"]`` holds the batch file's absolute
        path; ``attrs["imgkit_headers"]`` maps each recognised column to its header as the
        user wrote it (``{"platform": "平台", ...}``; a DataFrame whose header is already the
        column's own name keeps the mapping of its own ``attrs["imgkit_headers"]``).  A
        sheet with a header and no rows gives an empty frame with the columns.

    Raises :class:`imgkit.errors.ImgkitError` (``invalid_input``) for an unknown file type,
    a missing file or sheet, a missing required column (also for a sheet with no header at
    all) or two headers meaning one column.

    Examples
    --------
    >>> frame = pd.DataFrame({"平台": ["天猫"], "店铺": ["tmall_store"], "图片": ["a.jpg"],
    ...                       "target": [1.65771735597434e18]})
    >>> batch = read_batch(frame)
    >>> batch.loc[0, "target"]
    '1.65771735597434E+18'
    >>> batch.attrs["imgkit_headers"]
    {'platform': '平台', 'shop': '店铺', 'file': '图片', 'target': 'target'}
    >>> read_batch(batch).attrs["imgkit_headers"]["platform"]
    '平台'
    >>> read_batch(pd.DataFrame(columns=["platform", "shop", "file", "target"])).shape
    (0, 5)
    """
    return read_batch_positions(source, sheet=sheet, keep_row=keep_row)[0]


def read_batch_positions(
    source: pd.DataFrame | str | os.PathLike[str],
    *,
    sheet: str | int = 0,
    keep_row: bool = False,
) -> tuple[pd.DataFrame, np.ndarray]:
    """:func:`read_batch`, and for a DataFrame the position of each row in ``source``.

    Validation gives its answer the caller's own index labels back by position (labels
    may repeat: a ``pd.concat`` of two batches), whatever ``row`` column the frame has.
    For a file the positions count the sheet's rows, the header being 0.

    >>> frame = pd.DataFrame({"platform": ["tmall", "", "tmall"], "shop": ["s", "", "s"],
    ...                       "file": ["a.jpg", "", "b.jpg"], "target": ["1", "", "2"]})
    >>> batch, positions = read_batch_positions(frame)
    >>> positions.tolist(), batch["row"].tolist()
    ([0, 2], [2, 4])
    """
    if isinstance(source, pd.DataFrame):
        grid = _frame_grid(source)
        origin = source.attrs.get(SOURCE_ATTR)
        base = Path(origin).parent if isinstance(origin, str) and origin else Path.cwd()
        where = "DataFrame"
    else:
        path = Path(os.path.abspath(os.path.expanduser(os.fspath(source))))
        origin, base, where = str(path), path.parent, path.name
        grid = _file_grid(path, sheet)
    frame, kept = _build(grid, base, where, keep_row=keep_row)
    if origin:
        frame.attrs[SOURCE_ATTR] = origin
    if isinstance(source, pd.DataFrame):
        # A batch read once and passed around has canonical headers by now: the user's own
        # words are in the mapping it carries.
        earlier = source.attrs.get(HEADERS_ATTR)
        if isinstance(earlier, Mapping):
            headers = frame.attrs[HEADERS_ATTR]
            for column, header in headers.items():
                if header == column and isinstance(earlier.get(column), str):
                    headers[column] = earlier[column]
    give_back()  # what Arrow's reader held while parsing: the caller keeps only the batch
    # Grid row 0 of a DataFrame is its column labels: grid row i is frame position i - 1.
    return frame, kept.astype(np.int64) - 1


# --- from cells to the batch frame ------------------------------------------------------


def _build(
    grid: _Grid, base: Path, where: str, *, keep_row: bool = False
) -> tuple[pd.DataFrame, np.ndarray]:
    """The batch frame, and the grid row each of its rows came from."""
    cols = grid.columns
    filled = np.zeros((len(cols), len(grid.numbers)), dtype=bool)
    for j, column in enumerate(cols):
        filled[j] = _filled(column)
    at = _find_header(grid, np.flatnonzero(filled.any(axis=0)).tolist(), where)
    header = [_header_text(v) for v in grid.raw_row(at)]
    header += [""] * (len(cols) - len(header))
    canon = [column_for(h) if h else None for h in header]
    numbered = [_normal(h) == ROW_COLUMN and not c for h, c in zip(header, canon, strict=True)]
    row_col = numbered.index(True) if any(numbered) else None
    counted = [j for j in range(len(cols)) if j != row_col]
    # Blank rows go before merged cells are filled: a merge does not make a row.
    rows = np.flatnonzero(filled[counted].any(axis=0))
    # (As an array: a million rows' numbers as Python ints would be 36 MB.)
    kept_at = rows[rows > at]
    # No blank row between the first kept row and the last: each column's rows are a slice.
    contiguous = bool(len(kept_at)) and int(kept_at[-1] - kept_at[0]) + 1 == len(kept_at)
    _fill_merged(cols, grid, at)

    def values(j: int) -> Any:
        # A column read as text already (a frame's, a CSV's) is taken as it is stored.
        column = cols[j]
        if isinstance(column, list):
            return text_array([column[i] for i in kept_at.tolist()])
        if contiguous:
            return column[int(kept_at[0]) : int(kept_at[-1]) + 1]
        return column.take(kept_at)

    out: dict[Hashable, Any] = {}
    written: dict[int, Hashable] = {j: c for j, c in enumerate(canon) if c}
    known = {c: j for j, c in enumerate(canon) if c}
    for column in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS):
        if column in known:
            out[column] = values(known[column])
    labels = grid.labels if grid.labels is not None and at == 0 else None
    places = grid.places or range(len(cols))
    suffixes: dict[Hashable, int] = {}
    for j, h in enumerate(header):
        if canon[j] or j == row_col:
            continue
        if not h and labels is None and not filled[j, kept_at].any():
            continue  # an unnamed, empty column: Excel's formatting, not data
        name: Hashable = labels[j] if labels is not None else (h or f"Unnamed: {places[j]}")
        name = _unique(name, out, suffixes)
        out[name] = values(j)
        written[j] = name
    prefix = os.path.join(base, "")
    # Each distinct path once: a batch names one file on many rows.
    out["file"] = per_value(pd.Series(out["file"]), lambda f: _absolute(f, prefix), dtype="text")

    frame = pd.DataFrame(
        {name: pd.Series(column).array for name, column in out.items()},
        index=pd.RangeIndex(len(kept_at)),
    )
    if row_col is not None and (labels is not None or keep_row):
        numbers: Any = [_row_number(v, where) for v in values(row_col).tolist()]
    else:
        numbers = np.asarray(grid.numbers, dtype=np.int64)[kept_at]
    frame[ROW_COLUMN] = np.array(numbers, dtype=np.int64)
    if row_col is not None:
        written[row_col] = ROW_COLUMN
    frame.attrs[ORDER_ATTR] = [written[j] for j in sorted(written) if written[j] in frame]
    frame.attrs[HEADERS_ATTR] = {
        column: header[known[column]]
        for column in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)
        if column in known
    }
    return frame, kept_at


def _filled(column: Any) -> np.ndarray:
    """Which cells of a grid column hold a value."""
    if isinstance(column, list):
        return np.fromiter(map(bool, column), dtype=bool, count=len(column))
    return np.asarray(column != "", dtype=bool)


def _find_header(grid: _Grid, nonblank: Sequence[int], where: str) -> int:
    best: set[str] = set()  # the required columns of the likeliest header, for the message
    for i in nonblank[:_HEADER_SEARCH_ROWS]:
        found: dict[str, list[str]] = {}
        for h in map(_header_text, grid.raw_row(i)):
            column = column_for(h) if h else None
            if column:
                found.setdefault(column, []).append(h)
        if set(REQUIRED_COLUMNS) <= set(found):
            for column, headers in found.items():
                if len(headers) > 1:
                    both = " and ".join(repr(h) for h in headers)
                    raise ImgkitError(
                        f"{where}: headers {both} both mean column {column!r}; keep one / "
                        f"表头 {'、'.join(headers)} 都对应列 {column!r},请只保留一个",
                        code="duplicate_column",
                    )
            return i
        if len(set(REQUIRED_COLUMNS) & set(found)) > len(best):
            best = set(REQUIRED_COLUMNS) & set(found)
    missing = [c for c in REQUIRED_COLUMNS if c not in best]
    accepted = "; ".join(f"{c}: {', '.join((c, *HEADER_ALIASES[c]))}" for c in missing)
    names = ", ".join(repr(c) for c in missing)
    raise ImgkitError(
        f"{where}: missing required column {names} / 缺少必填列 {names}; "
        f"accepted headers / 可用表头 — {accepted}",
        code="missing_column",
    )


def _fill_merged(cols: list[Any], grid: _Grid, header_at: int) -> None:
    # Analysts merge the shop or platform column over the rows it covers; openpyxl gives
    # the value only to the first cell.  A range that starts in or above the header is a
    # header's decoration, not data.
    if not grid.merges:
        return
    numbers = grid.numbers
    index = {number: i for i, number in enumerate(numbers)}
    ordered = all(a < b for a, b in pairwise(numbers))
    for first, last, j in grid.merges:
        top = index.get(first)
        if top is None or top <= header_at:
            continue
        # Only the grid's rows inside the range, found by bisection: a range down to row
        # 1,048,576 costs no more than the rows that are there.
        if ordered:
            below: Iterable[int] = range(top + 1, bisect_right(numbers, last))
        else:  # a damaged sheet with rows out of order
            below = [i for i, number in enumerate(numbers) if first < number <= last]
        column, value = cols[j], cols[j][top]
        for i in below:
            column[i] = value


def _unique(
    name: Hashable, taken: Mapping[Hashable, object], suffixes: dict[Hashable, int]
) -> Hashable:
    # Two user columns with one name become "备注", "备注.1", as pandas names them.
    # ``suffixes`` remembers the next suffix to try for each name: 16,000 columns of one
    # name cost 16,000 look-ups, not 16,000²/2.
    if name not in taken:
        return name
    n = suffixes.get(name, 1)
    while f"{name}.{n}" in taken:
        n += 1
    suffixes[name] = n + 1
    return f"{name}.{n}"


def _clean(path: str) -> bool:
    # An absolute path normpath would leave as it is: no empty, "." or ".." segments.
    parts = path.split("/")
    return "" not in parts[1:] and "." not in parts and ".." not in parts


def _absolute(value: str, prefix: str) -> str:
    if not value or ("://" in value and _URL.match(value)):
        return value  # URLs (and any other scheme) are validation's to judge
    if os.sep == "/" and _PLAIN.match(value):
        return prefix + value  # nothing for normpath to do: skip it (100k-row batches)
    if os.sep == "/" and value.startswith("/") and _clean(value):
        return value
    return os.path.abspath(os.path.join(prefix, os.path.expanduser(value)))


def _row_number(value: str, where: str) -> int:
    # 18 digits fit an int64; a longer "number" is not a row number anyway.
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        raise ImgkitError(
            f"{where}: column 'row' holds {value!r}; it must hold row numbers / "
            f"'row' 列应为行号,却是 {value!r}",
            code="bad_row_column",
        )
    return int(value)


__all__ = [
    "HEADERS_ATTR",
    "HEADER_ALIASES",
    "OPTIONAL_COLUMNS",
    "ORDER_ATTR",
    "REQUIRED_COLUMNS",
    "ROW_COLUMN",
    "SCIENTIFIC_ID",
    "SOURCE_ATTR",
    "column_for",
    "looks_mangled",
    "read_batch",
    "read_batch_positions",
]
