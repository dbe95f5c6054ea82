"""Cells as text: the one converter from a sheet's, a CSV's or a DataFrame's cell to text.

Every cell of a batch is read as text so that ids stay exact: ``1489161932.0`` (Excel and
pandas hold ids as floats) is ``1489161932``, a boolean is ``true``/``false``, a blank or
NaN is ``""``.  A float of 15 digits or more is written as Excel shows it
(``1.65771735597434E+18``): its last digits may be Excel's or the float's, not the user's,
and validation refuses that form rather than pass digits nobody typed.  Batch reading,
validation, options, the destination key and verification all use :func:`cell_text`.

Example
-------
>>> [cell_text(v) for v in (" a ", 1489161932.0, 2.5, True, None, float("nan"))]
['a', '1489161932', '2.5', 'true', '', '']
>>> cell_text(1.65771735597434e18)
'1.65771735597434E+18'
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
from collections.abc import Iterable

import numpy as np
import pandas as pd

# Excel keeps 15 significant digits and a float is exact only to 2**53: an integral float
# this large may hold digits nobody typed.
UNTRUSTED_FLOAT = 1e15


def cell_text(value: object) -> str:
    """A cell's value as stripped text (see the module's example).

    Parameters
    ----------
    value
        Whatever a reader gives: str, int, float, bool, a date or time, None, NaN, NA.

    Returns
    -------
    str
        The text; ``""`` for a blank cell.

    Examples
    --------
    >>> import datetime as dt
    >>> cell_text(dt.datetime(2024, 5, 1)), cell_text(dt.time(3, 4))
    ('2024-05-01', '03:04:00')
    """
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
        if abs(number) >= UNTRUSTED_FLOAT:
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


def cell_texts(values: Iterable[object]) -> list[str]:
    """:func:`cell_text` of each value, quick for the common plain ``str`` cell.

    >>> cell_texts([" x", 3.0, None])
    ['x', '3', '']
    """
    # The common cell is a plain str: skip cell_text's checks for it (100k-row batches).
    return [v.strip() if type(v) is str else cell_text(v) for v in values]


def header_text(value: object) -> str:
    """A header cell's text; Excel's time 03:04 (a typed "3:4" header) is ``3:4`` again.

    >>> import datetime as dt
    >>> header_text(dt.time(3, 4)), header_text(" Shop ")
    ('3:4', 'Shop')
    """
    if isinstance(value, dt.time) and not value.second and not value.microsecond:
        return f"{value.hour}:{value.minute}"
    return cell_text(value)


__all__ = ["UNTRUSTED_FLOAT", "cell_text", "cell_texts", "header_text"]
