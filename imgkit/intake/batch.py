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

import csv
import datetime as dt
import io
import math
import numbers
import os
import re
import threading
import unicodedata
import warnings
from bisect import bisect_right
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from imgkit.errors import ImgkitError

REQUIRED_COLUMNS: tuple[str, ...] = ("platform", "shop", "file", "target")
# Every option an adapter declares (``OptionSpec.name``); a test keeps the two in step.
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "title",
    "position",
    "replace_id",
    "is_major",
    "is_rectangle",
    "client_type",
    "need_distinct",
    "is_https",
)

# Headers accepted for each column besides its own name, compared after _normal().
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "platform": ("平台", "平台名称", "platform name"),
    "shop": ("店铺", "店铺名", "店铺名称", "店名", "shop name", "store", "store name"),
    "file": (
        "文件",
        "图片",
        "图片文件",
        "文件路径",
        "图片路径",
        "图片地址",
        "file path",
        "path",
        "image",
        "image file",
        "image path",
        "image url",
    ),
    "target": (
        "目标",
        "目标ID",
        "类目",
        "分类ID",
        "商品ID",
        "文件夹",
        "文件夹ID",
        "target id",
        "category id",
        "item id",
        "folder",
        "folder id",
    ),
    "title": ("标题", "图片标题", "名称", "image title"),
    "position": ("位置", "序号", "图片序号", "顺序", "order", "image position"),
    "replace_id": ("替换ID", "替换图片ID", "图片ID", "replace image id"),
    "is_major": ("主图", "是否主图", "major", "main image"),
    "is_rectangle": ("长方形", "3:4", "是否3:4", "rectangle"),
    "client_type": ("终端", "来源", "客户端", "client"),
    "need_distinct": ("去重", "distinct", "dedup"),
    "is_https": ("是否https", "https"),
}

ROW_COLUMN = "row"
SOURCE_ATTR = "imgkit_source"
HEADERS_ATTR = "imgkit_headers"
# A number written the way Excel shows one it cannot show whole ("1.65772E+18"): an id in
# this form lost its last digits before imgkit saw it.  ASCII only: Excel writes no other.
SCIENTIFIC_ID = re.compile(
    r"\A\s*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][+-]?[0-9]+\s*\Z", re.ASCII
)
# Excel keeps 15 significant digits and a float is exact only to 2**53: an integral float
# this large may hold digits nobody typed.
_UNTRUSTED_FLOAT = 1e15
_HEADER_SEARCH_ROWS = 10  # a header further down than this is not a header
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
# A relative path normpath would leave as it is: no "~", no leading "/", no "." or ".."
# segment, no "//", no trailing "/".  Windows paths all take the long way.
_PLAIN = re.compile(r"(?![~/])(?!(?:.*/)?\.\.?(?:/|$))(?!.*//)(?!.*/$)", re.DOTALL)


def _normal(header: str) -> str:
    # NFKC folds full-width letters and colons ("3：4"); "*" marks the required columns
    # of many templates.
    folded = unicodedata.normalize("NFKC", header).casefold()
    return re.sub(r"[\s_\-*]", "", folded)


_LOOKUP: dict[str, str] = {
    _normal(alias): column
    for column in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)
    for alias in (column, *HEADER_ALIASES.get(column, ()))
}


def column_for(header: object) -> str | None:
    """The batch column a header means, or None for a column of the user's own.

    >>> column_for("Shop Name"), column_for("图片路径"), column_for("备注")
    ('shop', 'file', None)
    """
    return _LOOKUP.get(_normal(_header_text(header)))


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
    # Grid row 0 of a DataFrame is its column labels: grid row i is frame position i - 1.
    return frame, np.array(kept, dtype=np.int64) - 1


# --- reading the cells ------------------------------------------------------------------


@dataclass
class _Grid:
    """A sheet: every cell as text, column by column, and what the frame needs besides."""

    columns: list[list[str]]  # one list per sheet column, one cell per sheet row
    raw_row: Callable[[int], Sequence[object]]  # a row as read (headers are read from it)
    numbers: list[int]  # the number the user sees for each row
    labels: list[Hashable] | None = None  # a DataFrame's column labels (row 0 is them)
    merges: list[tuple[int, int, int]] = field(default_factory=list)  # first, last row; col
    places: list[int] | None = None  # each column's 0-based sheet column (None: the same)


def _text(value: object) -> str:
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        if math.isnan(number):
            return ""
        if not number.is_integer():
            return str(value)
        if abs(number) >= _UNTRUSTED_FLOAT:
            # Its last digits may be Excel's or the float's, not the user's: show it as Excel
            # does ("1.65771735597434E+18"), which validation refuses, rather than invent
            # "1657717355974340096", which would pass.
            return f"{number:.15G}"
        # Excel and pandas hold ids as floats: 1489161932.0 is the id 1489161932.
        return str(int(number))
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value).strip()


def _texts(values: Iterable[object]) -> list[str]:
    # The common cell is a plain str: skip _text's checks for it (100k-row batches).
    return [v.strip() if type(v) is str else _text(v) for v in values]


def _header_text(value: object) -> str:
    # Excel turns a typed "3:4" header into the time 03:04.
    if isinstance(value, dt.time) and not value.second and not value.microsecond:
        return f"{value.hour}:{value.minute}"
    return _text(value)


def _frame_grid(frame: pd.DataFrame) -> _Grid:
    labels: list[Hashable] = list(frame.columns)
    columns = [
        [_header_text(label), *_texts(frame.iloc[:, j].tolist())] for j, label in enumerate(labels)
    ]

    def raw_row(i: int) -> Sequence[object]:
        return labels if i == 0 else frame.iloc[i - 1].tolist()

    return _Grid(columns, raw_row, list(range(1, len(frame) + 2)), labels)


def _file_grid(path: Path, sheet: str | int) -> _Grid:
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx", ".xlsm"):
        raise ImgkitError(
            f"{path}: not a batch file type (use .csv or .xlsx; save .xls as .xlsx) / "
            f"不支持的批量文件类型 {path.name},请使用 .csv 或 .xlsx",
            code="unknown_file_type",
        )
    if not path.is_file():
        raise ImgkitError(f"no batch file at {path} / 找不到批量文件 {path}", code="no_batch_file")
    return _csv_grid(path) if suffix == ".csv" else _xlsx_grid(path, sheet)


class _Cells:
    """Builds a grid from the cells that hold something, row by row.

    Only rows with a value become grid rows (each keeps its sheet row number) and only
    columns with a value become grid columns (each keeps its sheet column number), so the
    cost is linear in the cells that hold values: a stray value in XFD200, or a million
    formatted but empty rows, costs nothing more.
    """

    def __init__(self) -> None:
        self.numbers: list[int] = []
        self.columns: dict[int, list[str]] = {}
        self.raw: list[dict[int, object]] = []  # the first rows as read: headers come from them

    def add(self, number: int, cells: Iterable[tuple[int, object]]) -> None:
        """Add sheet row ``number`` from its (0-based column, value) pairs."""
        i = len(self.numbers)
        raw: dict[int, object] = {}
        for j, value in cells:
            text = value.strip() if type(value) is str else _text(value)
            if not text:
                continue
            column = self.columns.get(j)
            if column is None:
                column = self.columns[j] = []
            if len(column) > i:  # the same cell twice in a damaged sheet: the last wins
                column[i] = text
            else:
                if len(column) < i:
                    column.extend([""] * (i - len(column)))
                column.append(text)
            raw[j] = value
        if raw:
            self.numbers.append(number)
            if len(self.raw) < _HEADER_SEARCH_ROWS:
                self.raw.append(raw)

    def grid(self, merges: Iterable[tuple[int, int, int]] = ()) -> _Grid:
        """The grid; ``merges`` are (first row, last row, 0-based sheet column)."""
        n = len(self.numbers)
        places = sorted(self.columns)
        columns = [self.columns[j] for j in places]
        for column in columns:
            column.extend([""] * (n - len(column)))
        at = {j: k for k, j in enumerate(places)}
        raws = [[row.get(j) for j in places] for row in self.raw]

        def raw_row(i: int) -> Sequence[object]:
            return raws[i] if i < len(raws) else [column[i] for column in columns]

        kept = [(first, last, at[j]) for first, last, j in merges if j in at and last > first]
        return _Grid(columns, raw_row, self.numbers, merges=kept, places=places)


# Python's csv module refuses a field over 131,072 characters by default; a batch cell that
# long is validation's to refuse (a title too long, a path too long), row by row.
_CSV_LOCK = threading.Lock()


def _csv_grid(path: Path) -> _Grid:
    raw = path.read_bytes()
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Excel on a Chinese Windows saves "CSV" in the system code page (GBK ⊂ GB18030).
        try:
            content = raw.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise ImgkitError(
                f"{path}: neither UTF-8 nor GB18030 text / 文件编码无法识别(应为 UTF-8 或 GBK)",
                code="bad_encoding",
            ) from exc
    # The csv module, not pandas: a title row above the header has fewer fields than the
    # rows below, which pandas refuses.  Every cell is text either way.
    cells = _Cells()
    with _CSV_LOCK:
        # The limit is the module's, not the reader's: raise it for this read only (no field
        # can be longer than the file), and give the process its own limit back.
        before = csv.field_size_limit()
        csv.field_size_limit(max(before, len(content) + 1))
        try:
            for number, record in enumerate(csv.reader(io.StringIO(content, "")), 1):
                cells.add(number, enumerate(record))
        except csv.Error as exc:
            raise ImgkitError(
                f"{path}: not a readable CSV file ({exc}) / 无法读取 CSV 文件 {path.name}({exc})",
                code="bad_batch_file",
            ) from exc
        finally:
            csv.field_size_limit(before)
    return cells.grid()


def _damaged(path: Path, exc: BaseException) -> ImgkitError:
    reason = str(exc) or type(exc).__name__
    return ImgkitError(
        f"{path}: not an Excel workbook (.xlsx) or damaged: {reason} / "
        f"{path.name} 不是 Excel 工作簿(.xlsx)或文件已损坏:{reason}",
        code="bad_batch_file",
    )


def _sheet_parser(base: Any) -> Any:
    """openpyxl's sheet parser, quick over rows without cells."""

    class Parser(base):  # type: ignore[misc]
        row_counter: int
        col_counter: int

        def parse_row(self, row: Any) -> tuple[int, list[dict[str, Any]]]:
            if len(row):
                return super().parse_row(row)  # type: ignore[no-any-return]
            # A formatted row without cells: its number is all there is.  A sheet whose
            # every row was formatted has a million of them; openpyxl's own parse_row keeps
            # each one's attributes.
            number = row.get("r", "")
            self.row_counter = int(number) if number.isdigit() else self.row_counter + 1
            self.col_counter = 0
            return self.row_counter, []

    return Parser


def _xlsx_grid(path: Path, sheet: str | int) -> _Grid:
    import openpyxl
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet
    from openpyxl.worksheet._reader import WorkSheetParser
    from openpyxl.worksheet.cell_range import CellRange

    try:
        with warnings.catch_warnings():
            # openpyxl warns about features it does not read (data validation, styles);
            # the cell values are all a batch needs.
            warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
            # read_only streams the sheet instead of building every cell up to the sheet's
            # stated dimension (one value in XFD200 made that 3 million cells).
            book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # whatever openpyxl trips on, the file is bad
        raise _damaged(path, exc) from exc
    try:
        names = book.sheetnames
        if isinstance(sheet, str):
            matches = [n for n in names if n == sheet] or [
                n for n in names if n.strip().casefold() == sheet.strip().casefold()
            ]
            wanted = matches[0] if matches else None
        else:
            wanted = names[sheet] if -len(names) <= sheet < len(names) else None
        chosen = book[wanted] if wanted is not None else None
        if not names:
            raise ImgkitError(
                f"{path}: the workbook holds no worksheet (damaged?) / "
                f"{path.name} 中没有工作表(文件可能已损坏)",
                code="bad_batch_file",
            )
        if not isinstance(chosen, ReadOnlyWorksheet):  # absent, or a chart sheet
            listed = ", ".join(names)
            raise ImgkitError(
                f"{path.name}: no sheet {sheet!r} (sheets: {listed}) / 找不到工作表 {sheet!r}",
                code="no_such_sheet",
            )
        cells = _Cells()
        # The streaming parser read_only itself uses, driven directly: iter_rows pads every
        # row to the sheet's width and forgets the merged ranges, which a batch needs.
        sheet_: Any = chosen  # the private parts read_only's own iteration uses
        book_: Any = book
        source = sheet_._get_source()
        parser = _sheet_parser(WorkSheetParser)(
            source,
            sheet_._shared_strings,
            data_only=True,
            epoch=book_.epoch,
            date_formats=book_._date_formats,
            timedelta_formats=book_._timedelta_formats,
        )
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
                for number, row in parser.parse():
                    cells.add(number, ((c["column"] - 1, c["value"]) for c in row))
                    # The parser keeps every formatted row's attributes: a million
                    # formatted empty rows would pile up there for nothing.
                    parser.row_dimensions.clear()
                ranges = getattr(parser.merged_cells, "mergeCell", None) or ()
                merges = [
                    (r.min_row, r.max_row, r.min_col - 1)
                    for r in (CellRange(m.ref) for m in ranges)
                ]
        except Exception as exc:  # a damaged sheet, in whatever way
            raise _damaged(path, exc) from exc
        finally:
            source.close()
    finally:
        book.close()
    return cells.grid(merges)


# --- from cells to the batch frame ------------------------------------------------------


def _build(
    grid: _Grid, base: Path, where: str, *, keep_row: bool = False
) -> tuple[pd.DataFrame, list[int]]:
    """The batch frame, and the grid row each of its rows came from."""
    cols = grid.columns
    filled = np.array([[bool(c) for c in column] for column in cols], dtype=bool).reshape(
        len(cols), len(grid.numbers)
    )
    at = _find_header(grid, np.flatnonzero(filled.any(axis=0)).tolist(), where)
    header = [_header_text(v) for v in grid.raw_row(at)]
    header += [""] * (len(cols) - len(header))
    canon = [column_for(h) if h else None for h in header]
    numbered = [_normal(h) == ROW_COLUMN and not c for h, c in zip(header, canon, strict=True)]
    row_col = numbered.index(True) if any(numbered) else None
    counted = [j for j in range(len(cols)) if j != row_col]
    # Blank rows go before merged cells are filled: a merge does not make a row.
    kept = [i for i in np.flatnonzero(filled[counted].any(axis=0)).tolist() if i > at]
    _fill_merged(cols, grid, at)

    def values(j: int) -> list[str]:
        return [cols[j][i] for i in kept]

    out: dict[Hashable, list[str]] = {}
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
        if not h and labels is None and not filled[j, kept].any():
            continue  # an unnamed, empty column: Excel's formatting, not data
        name: Hashable = labels[j] if labels is not None else (h or f"Unnamed: {places[j]}")
        out[_unique(name, out, suffixes)] = values(j)
    prefix = os.path.join(base, "")
    out["file"] = [_absolute(f, prefix) for f in out["file"]]

    frame = pd.DataFrame(
        {name: pd.array(column, dtype="str") for name, column in out.items()},
        index=pd.RangeIndex(len(kept)),
    )
    if row_col is not None and (labels is not None or keep_row):
        numbers = [_row_number(v, where) for v in values(row_col)]
    else:
        numbers = [grid.numbers[i] for i in kept]
    frame[ROW_COLUMN] = np.array(numbers, dtype=np.int64)
    frame.attrs[HEADERS_ATTR] = {
        column: header[known[column]]
        for column in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)
        if column in known
    }
    return frame, kept


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


def _fill_merged(cols: list[list[str]], grid: _Grid, header_at: int) -> None:
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
    "REQUIRED_COLUMNS",
    "SCIENTIFIC_ID",
    "column_for",
    "looks_mangled",
    "read_batch",
    "read_batch_positions",
]
