"""Small pictures of each row's image in a results sheet, bounded in number and size.

Example
-------
>>> from openpyxl import Workbook
>>> import pandas as pd
>>> add_thumbnails(Workbook().active, pd.DataFrame({"file": ["sample_data/images/mug.jpg"]}), 3)
1
"""

from __future__ import annotations

import io

import pandas as pd
from openpyxl.drawing.image import Image as SheetImage
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from imgkit.intake.probe import is_url
from imgkit.report.thumbnail import thumbnail_png

MAX_THUMBNAILS = 500  # pictures per sheet: a workbook of 100,000 rows stays small
THUMBNAIL_PX = 48


def add_thumbnails(sheet: Worksheet, results: pd.DataFrame, column: int) -> int:
    """Put a thumbnail of each row's local ``file`` in ``column`` (the first
    :data:`MAX_THUMBNAILS` rows); returns how many were added."""
    if "file" not in results.columns:
        return 0
    letter = get_column_letter(column)
    sheet.cell(row=1, column=column, value="preview / 预览")
    sheet.column_dimensions[letter].width = THUMBNAIL_PX / 6
    added = 0
    for number, file in enumerate(results["file"].head(MAX_THUMBNAILS).tolist(), start=2):
        text = "" if file is None or file is pd.NA else str(file)
        if not text or is_url(text):
            continue
        png = thumbnail_png(text, THUMBNAIL_PX)
        if png is None:
            continue
        picture = SheetImage(io.BytesIO(png))
        sheet.add_image(picture, f"{letter}{number}")
        sheet.row_dimensions[number].height = THUMBNAIL_PX * 0.75 + 4  # points
        added += 1
    return added


__all__ = ["MAX_THUMBNAILS", "THUMBNAIL_PX", "add_thumbnails"]
