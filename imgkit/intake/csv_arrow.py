"""Reading a plain CSV file with Arrow's CSV reader, as Python's csv module reads it.

A million-row batch CSV takes Python's ``csv`` module about six seconds (a list per record,
a ``str`` per cell); Arrow's reader parses it in C, in threads, straight into the compact
text storage (:mod:`imgkit.intake.texts`).  It is taken only where it gives exactly the
csv module's records: a UTF-8 file (with or without BOM) whose records all have the same
number of fields, every cell read as text.  Anything else — another encoding (GB18030), a
title row shorter than the rows below, a record longer than a block, an empty file — makes
:func:`arrow_csv_columns` answer None, and :mod:`imgkit.intake.sheets` reads the file with
the csv module, whose words and leniency the batch keeps.

Both readers agree on what the fast path accepts: ``""`` in a quoted field is a quote, a
quote inside an unquoted field is a character, quoted newlines stay in their field, a blank
line is a record of empty cells (it keeps its number), ``NaN`` and ``NULL`` are text.

Example
-------
>>> import tempfile
>>> with tempfile.TemporaryDirectory() as folder:
...     path = Path(folder) / "b.csv"
...     _ = path.write_bytes('\\ufeffplatform,shop\\n 天猫 ,"a ""b"" c"\\n'.encode())
...     columns = arrow_csv_columns(path)
...     [list(column) for column in columns or []]
[['platform', '天猫'], ['shop', 'a "b" c']]
>>> with tempfile.TemporaryDirectory() as folder:  # a title row: the csv module's to read
...     path = Path(folder) / "b.csv"
...     _ = path.write_text("Batch of May\\nplatform,shop\\n")
...     arrow_csv_columns(path) is None
True
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from imgkit.intake.texts import ARROW_TEXT, from_arrow, give_back, strip, text_array

try:
    import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
    import pyarrow.csv as pcsv  # type: ignore[import-untyped,unused-ignore]
except ImportError:  # pragma: no cover - a declared dependency; the csv module serves
    pa = None
    pcsv = None

# Excel's widest sheet: Arrow names the columns f0, f1, ... and is told each is text (a
# column beyond this would be typed by Arrow's guess, and the file goes the csv module's way).
_MOST_COLUMNS = 16_384
# A record longer than a block makes Arrow refuse the file (the csv module then reads it):
# large enough for any batch row, small enough for Arrow's threads to share a big file.
_BLOCK_BYTES = 1 << 24


def _options() -> tuple[Any, Any, Any]:
    text = pa.large_string()
    read = pcsv.ReadOptions(autogenerate_column_names=True, block_size=_BLOCK_BYTES)
    # A blank line is a record (its number counts, as the csv module counts it).
    parse = pcsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False)
    convert = pcsv.ConvertOptions(
        column_types={f"f{j}": text for j in range(_MOST_COLUMNS)},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    return read, parse, convert


def arrow_csv_columns(path: Path) -> list[Any] | None:
    """Every column of the CSV file ``path`` (the header record included) as stripped
    text arrays, or None when only the csv module reads it as it is (see the module).

    Parameters
    ----------
    path
        A ``.csv`` file.

    Returns
    -------
    list or None
        One text array per column, one cell per record (row 0 is the first record), each
        cell stripped as Python's ``str.strip`` strips it; None for a file this reader
        does not take.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "b.csv"
    ...     _ = path.write_text("a,b\\n\\n1,00123\\n")
    ...     [list(column) for column in arrow_csv_columns(path) or []]
    [['a', '', '1'], ['b', '', '00123']]
    """
    if pcsv is None:  # pragma: no cover - pyarrow is a dependency
        return None
    read, parse, convert = _options()
    try:
        table = pcsv.read_csv(path, read_options=read, parse_options=parse, convert_options=convert)
    except (pa.ArrowException, OSError, ValueError):
        # Not UTF-8, records of unequal length, a record over a block, empty: the csv module's.
        return None
    if any(column.type != pa.large_string() for column in table.columns):
        return None
    # Each column joined into one chunk (the rules take from and compare them), the table's
    # chunks let go column by column: the file's text is held about once, not twice.  The
    # pages of what is let go go back to the system as it goes (give_back): Arrow's
    # allocator would keep them, and the parse's blocks, for its next arrays, about as
    # much again as the batch.
    parts = list(table.columns)
    del table
    give_back()
    columns = []
    for j in range(len(parts)):
        column, parts[j] = parts[j], None
        if ARROW_TEXT is not None:
            values = pd.Series(from_arrow(pa.chunked_array([column.combine_chunks()])))
        else:  # pandas 2: its own text storage (Python objects), as the csv module's
            values = pd.Series(text_array(column.to_pylist()))
        del column
        columns.append(strip(values).array)
        del values
        give_back()
    return columns


__all__ = ["arrow_csv_columns"]
