"""Text columns at scale: compact storage, and Python's own string semantics on it.

A batch's cells are text.  Held as Python ``str`` objects a million-row batch costs about
a gigabyte; held in Arrow (pyarrow-backed strings: one buffer of UTF-8 bytes and one of
offsets) it costs the bytes of its text.  :func:`text_array` builds that storage on
pandas 3 (``StringDtype("pyarrow", na_value=nan)``, pandas 3's own ``str`` when pyarrow is
installed), and falls back to the Python storage for what UTF-8 cannot hold (a lone
surrogate, as ``os.listdir`` gives for a file name that is not UTF-8).  pandas 2 keeps
its object columns (every frame it makes, the engine's results too, holds text so): the
answers are the same, the memory is pandas 2's.

The answers must not depend on the storage: Arrow's ``strip``, ``lower`` and regular
expressions (RE2) are not Python's (``\\d`` is ASCII in RE2, ``\\x1c`` is whitespace to
Python only...).  So the helpers here give Python's answer whatever the storage:
:func:`strip` has Arrow trim exactly the characters Python takes for whitespace (listed),
:func:`matches` lets Arrow answer only where the two engines read a pattern alike, and
:func:`per_value` computes a Python function once per distinct value (a batch has a few
platforms and shops, fewer files than rows).

Example
-------
>>> column = pd.Series(text_array([" a", "b\\u3000", "c"]))
>>> strip(column).tolist()
['a', 'b', 'c']
>>> per_value(pd.Series(["TRUE", "TRUE", "no"]), str.lower).tolist()
['true', 'true', 'no']
"""

from __future__ import annotations

import ctypes
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from imgkit.intake.cells import cell_texts

try:
    import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
    import pyarrow.compute as pc  # type: ignore[import-untyped,unused-ignore]
except ImportError:  # pragma: no cover - a declared dependency; the Python storage serves
    pa = None
    pc = None

# Every character Python's str.strip() takes for whitespace (str.isspace and more: \x1c-\x1f).
PY_WHITESPACE = "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).strip() == "")
_CLASS = "".join(f"\\x{{{ord(c):x}}}" for c in PY_WHITESPACE)
# A value Python's strip() would change: one starting or ending with such a character.
_STRIPPABLE = f"^[{_CLASS}]|[{_CLASS}]$"
_PANDAS_2 = int(pd.__version__.split(".")[0]) < 3


def _arrow_dtype() -> Any:
    # pandas 2 keeps its own text storage (object): its frames, the engine's results among
    # them, hold text that way, and a batch read back must compare equal to them.
    if pa is None or _PANDAS_2:
        return None
    make: Any = pd.StringDtype
    return make("pyarrow", na_value=np.nan)


ARROW_TEXT = _arrow_dtype()


def text_array(values: Sequence[str] | np.ndarray | Any) -> Any:
    """``values`` (``str`` each) as a compact text array: Arrow-backed where UTF-8 holds
    them, else pandas' own ``str`` array (Python objects).

    >>> pd.Series(text_array(["a", "b"])).dtype == (ARROW_TEXT or object)
    True
    >>> text_array(["\\ud800"]).dtype == ARROW_TEXT  # a lone surrogate: not UTF-8
    False
    """
    if ARROW_TEXT is not None:
        try:
            if isinstance(values, list | tuple):  # straight to Arrow: pandas' checks cost
                return from_arrow(pa.array(values, type=pa.large_string()), ARROW_TEXT)
            return pd.array(values, dtype=ARROW_TEXT)
        except (UnicodeEncodeError, UnicodeDecodeError, ValueError, TypeError):
            pass
        except Exception as exc:  # pyarrow's ArrowInvalid and kin
            if pa is None or not isinstance(exc, pa.ArrowException):  # pragma: no cover
                raise
    return pd.array(list(values) if isinstance(values, np.ndarray) else values, dtype=_plain())


def _plain() -> Any:
    # The storage without Arrow: pandas 3's python-backed "str", pandas 2.2's object.
    if _PANDAS_2:
        return object
    return pd.StringDtype("python", na_value=np.nan)


def arrow_of(values: pd.Series) -> Any:
    """The Arrow array behind a text column, or None (another storage)."""
    if ARROW_TEXT is None or not isinstance(values.dtype, pd.StringDtype):
        return None
    if values.dtype.storage not in ("pyarrow", "pyarrow_numpy"):
        return None
    array: Any = values.array
    return array._pa_array  # a ChunkedArray: Arrow's kernels take it as it is, no copy


def _numpy(array: Any) -> np.ndarray:
    """An Arrow array or chunked array (of booleans, say) as a NumPy array."""
    found: np.ndarray = array.to_numpy(zero_copy_only=False)
    return found


def strip(values: pd.Series) -> pd.Series:
    """Each value as Python's ``str.strip()`` gives it (NaN stays NaN).

    Arrow finds the values Python would change; only those go through Python.
    """
    arrow = arrow_of(values)
    if arrow is None:
        return values.str.strip()
    # Arrow trims exactly the characters it is given: Python's whitespace, listed.
    trimmed = pc.utf8_trim(arrow, PY_WHITESPACE)
    if pc.all(pc.equal(pc.binary_length(trimmed), pc.binary_length(arrow))).as_py() is not False:
        return values
    return pd.Series(from_arrow(trimmed, values.dtype), index=values.index, name=values.name)


def _malloc_trim() -> Any:
    """glibc's ``malloc_trim``, or None (another C library: musl, macOS, Windows)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None


_MALLOC_TRIM = _malloc_trim()


def give_back() -> None:
    """Return the memory the allocators hold free to the system.

    Arrow's allocator (mimalloc or jemalloc) keeps the pages of freed arrays for its next
    arrays; Python's objects and NumPy's arrays come from another allocator, which cannot
    use them.  Reading a million-row CSV leaves about 160 MB so held, which the process
    would carry through validation and upload: :func:`imgkit.read_batch` and
    :func:`imgkit.validate` give it back when they return, and validation between its
    steps.  glibc's heap keeps freed NumPy arrays of a few megabytes the same way (its
    threshold for giving them back grows with the largest freed): ``malloc_trim`` returns
    its free pages.  Each costs well under a millisecond.

    >>> give_back()
    """
    if pa is not None:
        pa.default_memory_pool().release_unused()
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def from_arrow(array: Any, dtype: Any = None) -> Any:
    """A pandas text array over the Arrow string array ``array`` (no copy of the text)."""
    dtype = dtype if dtype is not None else ARROW_TEXT
    return dtype.construct_array_type()._from_sequence(array, dtype=dtype)


def as_str(values: pd.Series) -> pd.Series:
    """Each value as ``str`` ("" for a missing one), in the storage it has: never through
    ``astype(str)``, which on pandas 3 with pyarrow would move it to Arrow (and fail on a
    lone surrogate).

    >>> as_str(pd.Series([1, None, "a"], dtype=object)).tolist()
    ['1', '', 'a']
    """
    if isinstance(values.dtype, pd.StringDtype):
        return values.fillna("")
    texts = ["" if v is None or (isinstance(v, float) and v != v) else str(v) for v in values]
    return pd.Series(texts, index=values.index, dtype=object, name=values.name)


def as_text(values: pd.Series) -> Any:
    """A column's cells as stripped text (:func:`imgkit.intake.cells.cell_text`), in the
    compact storage; a column held in Arrow already stays there.

    >>> as_text(pd.Series([" a", 2.0, None], dtype=object)).tolist()
    ['a', '2', '']
    """
    arrow = arrow_of(values)
    if arrow is None:
        return text_array(cell_texts(values.tolist()))
    if values.dtype == ARROW_TEXT and not values.hasnans:
        return strip(values).array
    # Another Arrow string dtype ("string[pyarrow]", whose missing value is NA) or NaN.
    filled = pc.utf8_trim(pc.fill_null(arrow, ""), PY_WHITESPACE)
    return from_arrow(filled, ARROW_TEXT)


def with_header(header: str, values: Any) -> Any:
    """``header`` followed by the text array ``values`` (a grid column of a frame)."""
    first = text_array([header])
    if first.dtype == values.dtype:
        return type(values)._concat_same_type([first, values])
    return text_array([header, *values.tolist()])


def joined(pieces: Sequence[Any]) -> Any:
    """The text arrays ``pieces`` (:func:`text_array`'s) one after the other, as one text
    array in one piece: Arrow's kernels are several times slower over thousands of chunks
    (a factorize of a million texts in 4,000 chunks: 0.72 s instead of 0.26 s).

    >>> joined([text_array(["a"]), text_array(["b", "c"])]).tolist()
    ['a', 'b', 'c']
    """
    if ARROW_TEXT is not None and all(getattr(p, "dtype", None) == ARROW_TEXT for p in pieces):
        chunks = [chunk for piece in pieces for chunk in piece._pa_array.iterchunks()]
        one = pa.concat_arrays(chunks) if chunks else pa.array([], type=pa.large_string())
        return from_arrow(pa.chunked_array([one]), ARROW_TEXT)
    return text_array([value for piece in pieces for value in piece])


def fixed_width(text: str, width: int, present: np.ndarray) -> Any:
    """A compact text array of ``len(present)`` values: where ``present`` holds, the next
    ``width`` characters of ``text`` (ASCII), in order; "" elsewhere.

    Hex digests held as one string become a column without a Python ``str`` apiece (a
    million SHA-256 digests as ``str`` objects are 113 MB; as Arrow text 72 MB).

    >>> fixed_width("abcd", 2, np.array([True, False, True])).tolist()
    ['ab', '', 'cd']
    """
    if len(text) != width * int(np.count_nonzero(present)):  # Arrow would read past it
        raise ValueError(f"{len(text)} characters are not {width} for each value present")
    if ARROW_TEXT is not None:
        offsets = np.zeros(len(present) + 1, dtype=np.int64)
        np.cumsum(np.where(present, width, 0), out=offsets[1:])
        data = pa.py_buffer(text.encode("ascii"))
        array = pa.LargeStringArray.from_buffers(len(present), pa.py_buffer(offsets), data)
        return from_arrow(pa.chunked_array([array]), ARROW_TEXT)
    values, start = [], 0
    for here in present.tolist():
        values.append(text[start : start + width] if here else "")
        start += width if here else 0
    return text_array(values)


def spread(n: int, rows: Sequence[int], texts: Sequence[str]) -> Any:
    """A compact text array of ``n`` values: ``texts[k]`` at position ``rows[k]``, ""
    elsewhere (``rows`` distinct).

    In Arrow the array is written directly: the texts' UTF-8 bytes, encoded by Arrow in row
    order, are the column's data as they are, and only the offsets are computed for the
    ``n`` rows (a million-row column of 190,000 messages is neither a take of a million
    strings nor a Python ``bytes`` per message).

    >>> spread(4, [3, 1], ["c", "a"]).tolist()
    ['', 'a', '', 'c']
    """
    order = np.argsort(np.asarray(rows, dtype=np.int64), kind="stable")
    at = np.asarray(rows, dtype=np.int64)[order]
    ordered = [texts[k] for k in order.tolist()]
    if ARROW_TEXT is not None:
        try:
            encoded = pa.array(ordered, type=pa.large_string())
        except (UnicodeEncodeError, pa.ArrowException):  # a lone surrogate: no Arrow
            encoded = None
        if encoded is not None:
            _, own_offsets, data = encoded.buffers()
            ends = np.frombuffer(own_offsets, dtype=np.int64, count=len(ordered) + 1)
            lengths = np.zeros(n + 1, dtype=np.int64)
            lengths[at + 1] = np.diff(ends)
            offsets = np.cumsum(lengths)
            data = data if data is not None else pa.py_buffer(b"")  # no text at all
            array = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), data)
            return from_arrow(pa.chunked_array([array]), ARROW_TEXT)
    values = np.full(n, "", dtype=object)
    values[at] = ordered
    return text_array(values)


def codes_of(values: pd.Series) -> tuple[np.ndarray, list[Any]]:
    """(the code of each row's value, the distinct values in order of first appearance);
    a missing value has code -1."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return np.asarray(codes), listed(uniques)


def listed(uniques: Any) -> list[Any]:
    """An array's values as a Python list."""
    return list(uniques.tolist() if hasattr(uniques, "tolist") else uniques)


def per_value(
    values: pd.Series, function: Callable[[Any], Any], *, missing: Any = None, dtype: Any = None
) -> pd.Series:
    """``function`` of each row's value, computed once per distinct value.

    A missing value (None, NaN) gives ``missing``.  The answer has ``values``' index and,
    when ``dtype`` is given, that dtype (``"text"``: :func:`text_array`'s storage; else
    bool when every answer is one, otherwise object).
    """
    codes, uniques = codes_of(values)
    answers = [function(v) for v in uniques]
    if isinstance(dtype, str) and dtype == "text":
        # A small array of the distinct answers, taken row by row: compact text at once.
        table_text = pd.Series(text_array([*answers, missing]))
        return pd.Series(
            table_text.take(np.where(codes < 0, len(answers), codes)).array, index=values.index
        )
    if dtype is None:
        kinds = {type(a) for a in answers} | ({type(missing)} if (codes < 0).any() else set())
        dtype = bool if kinds <= {bool, np.bool_} else object
    table = np.empty(len(answers) + 1, dtype=dtype)
    table[: len(answers)] = answers
    table[-1] = missing
    found: pd.Series = pd.Series(table[codes], index=values.index, dtype=table.dtype)
    return found


# What every regular-expression engine reads alike: printable ASCII without the space.  On
# such text \\d is 0-9, \\w is [0-9A-Za-z_] and \\s matches nothing, in Python's re (either
# flag) as in RE2, and a regular pattern's full match is the same set of strings; Python
# answers for every other value (and for all of them when RE2 cannot read the pattern).
_PLAIN = r"^[\x21-\x7e]*$"
_RE2_FLAGS = re.ASCII | re.UNICODE


def matches(
    values: pd.Series, pattern: str, *, flags: int | tuple[int, ...] = 0, full: bool = True
) -> np.ndarray:
    """Python's ``re.fullmatch`` (``full``) or ``re.search`` of ``pattern`` on each value,
    as a boolean array; a missing value gives False.  Several ``flags``: it must match
    under each.

    Arrow answers for the plain values (printable ASCII, no space), Python for the others.

    >>> matches(pd.Series(text_array(["12", "\uff11\uff12", "x1"])), r"\\d+").tolist()
    [True, True, False]
    >>> matches(pd.Series(["12", "\uff11\uff12"]), r"\\d+", flags=re.ASCII).tolist()
    [True, False]
    """
    every = flags if isinstance(flags, tuple) else (flags,)
    compiled = [re.compile(pattern, f) for f in every]
    tests = [c.fullmatch if full else c.search for c in compiled]
    out = np.zeros(len(values), dtype=bool)
    arrow = arrow_of(values)
    rows: np.ndarray | None = None
    if arrow is not None and not any(f & ~_RE2_FLAGS for f in every):
        try:
            found = pc.match_substring_regex(arrow, f"^(?:{pattern})$" if full else pattern)
        except pa.ArrowException:
            found = None
        if found is not None:
            plain = _numpy(pc.fill_null(pc.match_substring_regex(arrow, _PLAIN), True))
            out[:] = _numpy(pc.fill_null(found, False))
            rows = np.flatnonzero(~plain)
    if rows is None:
        rows = np.arange(len(values))
    if len(rows):
        chosen = values.iloc[rows].tolist()
        out[rows] = [isinstance(v, str) and all(t(v) is not None for t in tests) for v in chosen]
    return out


def non_ascii(values: pd.Series) -> np.ndarray:
    """Whether each value holds a character beyond ASCII (a missing value: False)."""
    arrow = arrow_of(values)
    if arrow is not None:
        return ~_numpy(pc.fill_null(pc.string_is_ascii(arrow), True))
    return np.array([isinstance(v, str) and not v.isascii() for v in values.tolist()], dtype=bool)


__all__ = [
    "ARROW_TEXT",
    "PY_WHITESPACE",
    "arrow_of",
    "as_text",
    "codes_of",
    "fixed_width",
    "give_back",
    "joined",
    "listed",
    "matches",
    "non_ascii",
    "per_value",
    "spread",
    "strip",
    "text_array",
    "with_header",
]
