"""Small pictures of each row's image in a results sheet, bounded in number and size.

Example
-------
>>> thumbnail_png("sample_data/images/mug.jpg")[:4]
b'\\x89PNG'
>>> thumbnail_png("no such file.jpg") is None
True
"""

from __future__ import annotations

import io
import os

import pandas as pd
from openpyxl.drawing.image import Image as SheetImage
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from PIL import Image, UnidentifiedImageError

from imgkit.intake.probe import is_url

MAX_THUMBNAILS = 500  # pictures per sheet: a workbook of 100,000 rows stays small
THUMBNAIL_PX = 48
MAX_SOURCE_BYTES = 50 * 2**20  # a file larger than any platform takes is not opened
MAX_SOURCE_PIXELS = 50_000_000  # nor one that would decode to more than this


def thumbnail_png(file: str | os.PathLike[str]) -> bytes | None:
    """A PNG of at most :data:`THUMBNAIL_PX` pixels a side of ``file``; None when the
    file is missing, too large, not an image or damaged."""
    try:
        if os.path.getsize(file) > MAX_SOURCE_BYTES:
            return None
        with Image.open(file) as image:
            if image.width * image.height > MAX_SOURCE_PIXELS:
                return None
            image.draft("RGB", (THUMBNAIL_PX * 2, THUMBNAIL_PX * 2))  # JPEG: decode small
            image.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
            small = image.convert("RGBA")
    except (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError):
        return None
    out = io.BytesIO()
    small.save(out, format="PNG")
    return out.getvalue()


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
        png = thumbnail_png(text)
        if png is None:
            continue
        picture = SheetImage(io.BytesIO(png))
        sheet.add_image(picture, f"{letter}{number}")
        sheet.row_dimensions[number].height = THUMBNAIL_PX * 0.75 + 4  # points
        added += 1
    return added


__all__ = ["MAX_THUMBNAILS", "THUMBNAIL_PX", "add_thumbnails", "thumbnail_png"]
