"""Reading a sheet's cells: a DataFrame, a CSV file or an Excel sheet as a grid of text.

The readers keep only what holds a value: each row keeps the number the user sees in the
sheet, each column its place, the first rows their raw values (a header is read from them:
Excel turns a typed "3:4" header into a time) and an Excel sheet its merged ranges.
:mod:`imgkit.intake.batch` finds the header in the grid and builds the batch frame.

Example
-------
>>> grid = file_grid(Path("sample_data/batch.csv"), 0)
>>> [column[0] for column in grid.columns[:4]], list(grid.numbers[:3])
(['platform', 'shop', 'file', 'target'], [1, 2, 3])
"""

from __future__ import annotations

import codecs
import csv
import gc
import threading
import warnings
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd

from imgkit.errors import ImgkitError
from imgkit.intake.cells import cell_text, header_text
from imgkit.intake.csv_arrow import arrow_csv_columns
from imgkit.intake.texts import arrow_of, as_text, from_arrow, strip, text_array, with_header

HEADER_SEARCH_ROWS = 10  # a header further down than this is not a header


@dataclass
class Grid:
    """A sheet: every cell as text, column by column, and what the frame needs besides."""

    # One per sheet column, one cell per sheet row: a list (a workbook's: merged cells are
    # filled in place) or a text array (imgkit.intake.texts).
    columns: list[Any]
    raw_row: Callable[[int], Sequence[object]]  # a row as read (headers are read from it)
    numbers: Sequence[int]  # the number the user sees for each row
    labels: list[Hashable] | None = None  # a DataFrame's column labels (row 0 is them)
    merges: list[tuple[int, int, int]] = field(default_factory=list)  # first, last row; col
    places: list[int] | None = None  # each column's 0-based sheet column (None: the same)


def frame_grid(frame: pd.DataFrame) -> Grid:
    """A DataFrame as a grid: its column labels are row 0, its rows follow (numbered 2...)."""
    labels: list[Hashable] = list(frame.columns)
    # Each column as text, in the compact storage (a text column read as it is stored).
    columns: list[Any] = [
        with_header(header_text(label), as_text(frame.iloc[:, j])) for j, label in enumerate(labels)
    ]

    def raw_row(i: int) -> Sequence[object]:
        return labels if i == 0 else frame.iloc[i - 1].tolist()

    return Grid(columns, raw_row, range(1, len(frame) + 2), labels)


def file_grid(path: Path, sheet: str | int) -> Grid:
    """A ``.csv``, ``.xlsx`` or ``.xlsm`` file (``sheet`` of a workbook) as a grid.

    Raises :class:`imgkit.errors.ImgkitError` for another file type, a missing file or
    sheet, an encoding that is neither UTF-8 nor GB18030 or a damaged file.
    """
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
            text = value.strip() if type(value) is str else cell_text(value)
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
            if len(self.raw) < HEADER_SEARCH_ROWS:
                self.raw.append(raw)

    def grid(self, merges: Iterable[tuple[int, int, int]] = ()) -> Grid:
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
        return Grid(columns, raw_row, self.numbers, merges=kept, places=places)


# Python's csv module refuses a field over 131,072 characters by default; a batch cell that
# long is validation's to refuse (a title too long, a path too long), row by row.
_CSV_LOCK = threading.Lock()
_CSV_BLOCK_RECORDS = 65_536
_CSV_BLOCK_BYTES = 1 << 22


def _csv_grid(path: Path) -> Grid:
    # Arrow's reader where it reads as the csv module does (UTF-8, records of one length:
    # nearly every batch, five to ten times faster); the csv module for the rest.
    fast = arrow_csv_columns(path)
    if fast is not None:
        return _text_grid(fast, len(fast[0]) if fast else 0)
    encoding = _csv_encoding(path)
    # The csv module, not pandas: a title row above the header has fewer fields than the
    # rows below, which pandas refuses.  Every cell is text either way.  The file is read
    # as a stream, a block of records at a time: only the text arrays stay in memory.
    with _CSV_LOCK:
        # The limit is the module's, not the reader's: raise it for this read only (no field
        # can have more characters than the file has bytes), and give the process its own
        # limit back.
        before = csv.field_size_limit()
        csv.field_size_limit(max(before, path.stat().st_size + 1))
        try:
            with path.open("r", encoding=encoding, newline="") as handle:
                return _csv_records(csv.reader(handle))
        except csv.Error as exc:
            raise ImgkitError(
                f"{path}: not a readable CSV file ({exc}) / 无法读取 CSV 文件 {path.name}({exc})",
                code="bad_batch_file",
            ) from exc
        finally:
            csv.field_size_limit(before)


def _csv_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM), else GB18030: Excel on a Chinese Windows saves "CSV" in
    the system code page (GBK ⊂ GB18030).  Decoded in blocks, to check only."""
    for encoding in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with path.open("rb") as handle:
                while block := handle.read(_CSV_BLOCK_BYTES):
                    decoder.decode(block)
                decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return encoding
    raise ImgkitError(
        f"{path}: neither UTF-8 nor GB18030 text / 文件编码无法识别(应为 UTF-8 或 GBK)",
        code="bad_encoding",
    )


def _one_chunk(parts: list[Any]) -> Any:
    if not parts:
        return text_array([])
    joined = type(parts[0])._concat_same_type(parts)
    arrow = arrow_of(pd.Series(joined))
    return joined if arrow is None else from_arrow(arrow.combine_chunks(), joined.dtype)


def _csv_records(records: Iterable[list[str]]) -> Grid:
    """A grid of every record (blank ones too: they hold no value, and the batch drops
    them), each column a text array; a column with no value anywhere is left out."""
    blocks: list[tuple[int, list[Any]]] = []  # per block: its records, its columns
    width = 0
    count = 0
    iterator = iter(records)
    # A block of records is a list of lists: a million of them would set off the cyclic
    # garbage collector again and again (a third of the time), for lists that hold only
    # strings.  It is paused for the reading and given back its state after.
    collecting = gc.isenabled()
    gc.disable()
    try:
        while block := list(islice(iterator, _CSV_BLOCK_RECORDS)):
            widest = max(map(len, block))
            if min(map(len, block)) < widest:
                block = [r if len(r) == widest else r + [""] * (widest - len(r)) for r in block]
            texts = [strip(pd.Series(text_array(c))).array for c in zip(*block, strict=True)]
            blocks.append((len(block), texts))
            width = max(width, widest)
            count += len(block)
    finally:
        if collecting:
            gc.enable()
    parts: list[list[Any]] = [[] for _ in range(width)]
    for size, texts in blocks:
        for j in range(width):
            parts[j].append(texts[j] if j < len(texts) else text_array([""] * size))
    # One chunk per column (one copy, a column at a time): the rules take and compare them.
    columns = [_one_chunk(p) for p in parts]
    parts.clear()
    return _text_grid(columns, count)


def _text_grid(columns: list[Any], count: int) -> Grid:
    """The grid of ``count`` records given as text columns; a column with no value
    anywhere is left out."""
    places = [j for j, column in enumerate(columns) if bool((column != "").any())]
    columns = [columns[j] for j in places]

    def raw_row(i: int) -> Sequence[object]:
        return [column[i] for column in columns]

    return Grid(columns, raw_row, range(1, count + 1), places=places)


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


def _xlsx_grid(path: Path, sheet: str | int) -> Grid:
    # The file is opened here, not by openpyxl: when load_workbook fails half-way it
    # leaves its own handle open, and the ResourceWarning comes at some later GC.
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise _damaged(path, exc) from exc
    with handle:
        return _xlsx_grid_of(path, handle, sheet)


def _xlsx_grid_of(path: Path, handle: BinaryIO, sheet: str | int) -> Grid:
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
            book = openpyxl.load_workbook(handle, read_only=True, data_only=True)
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


__all__ = ["HEADER_SEARCH_ROWS", "Grid", "file_grid", "frame_grid"]
