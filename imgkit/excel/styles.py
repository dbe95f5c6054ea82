"""How imgkit's workbooks look: header style, status colours, column widths, text cells.

Shared by the results workbook (:mod:`imgkit.excel.workbook`) and the batch template, so
that every sheet imgkit writes reads the same way.

Example
-------
>>> display_width("杯子 mug")
8
>>> STATUS_FILLS["uploaded"].fgColor.rgb
'00C6EFCE'
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Any

from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from imgkit.report.results import STATUS_COLOURS

STATUS_FILLS: dict[str, PatternFill] = {
    status: PatternFill("solid", fgColor=colour) for status, colour in STATUS_COLOURS.items()
}
HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_BORDER = Border(bottom=Side(style="thin", color="808080"))
TITLE_FONT = Font(bold=True, size=13)
BOLD = Font(bold=True)
LINK_FONT = Font(color="0563C1", underline="single")
TEXT_FORMAT = "@"  # Excel's Text format: what is typed stays text ("0073" is not 73)
WRAP = Alignment(wrap_text=True, vertical="top")
TOP = Alignment(vertical="top")
MIN_WIDTH, MAX_WIDTH = 6, 60
# Widths are measured on this many rows: enough to be right, cheap for 100,000 rows.
WIDTH_SAMPLE_ROWS = 1000


def display_width(text: str) -> int:
    """How many columns ``text`` takes in a grid font: East Asian wide characters count 2.

    >>> display_width("abc"), display_width("上传成功")
    (3, 8)
    """
    longest = max(text.split("\n"), key=len) if text else ""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in longest)


def style_header(sheet: Worksheet, row: int = 1) -> None:
    """Bold white-on-blue header cells in ``row``, frozen above the data."""
    for cell in sheet[row]:
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        cell.border = HEADER_BORDER
        cell.alignment = Alignment(vertical="center")


def print_setup(sheet: Worksheet) -> None:
    """Printed (or turned into a PDF) landscape, one page wide, the header on every page."""
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    properties = sheet.sheet_properties
    if properties.pageSetUpPr is None:
        properties.pageSetUpPr = PageSetupProperties()
    properties.pageSetUpPr.fitToPage = True
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0  # as many pages down as it takes
    sheet.print_title_rows = "1:1"


def fit_widths(sheet: Worksheet, columns: Iterable[Iterable[Any]]) -> None:
    """Set each column's width from its longest value (header included), within bounds.

    ``columns``: per column, its header and its values (only the first
    :data:`WIDTH_SAMPLE_ROWS` are looked at).
    """
    for number, values in enumerate(columns, start=1):
        widest = MIN_WIDTH
        for count, value in enumerate(values):
            if count > WIDTH_SAMPLE_ROWS:
                break
            if value is not None and value != "":
                widest = max(widest, display_width(str(value)) + 2)
        sheet.column_dimensions[get_column_letter(number)].width = min(widest, MAX_WIDTH)


__all__ = [
    "BOLD",
    "HEADER_FILL",
    "HEADER_FONT",
    "LINK_FONT",
    "STATUS_FILLS",
    "TEXT_FORMAT",
    "TITLE_FONT",
    "TOP",
    "WRAP",
    "display_width",
    "fit_widths",
    "print_setup",
    "style_header",
]
