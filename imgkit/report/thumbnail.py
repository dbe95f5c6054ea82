"""A small PNG of an image file, bounded: what the results workbook and the notebook view show.

A file too large, too many pixels, missing or damaged gives None, never an exception: a
picture is a nicety and must not cost a row or a crash.

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

from PIL import Image, UnidentifiedImageError

MAX_SOURCE_BYTES = 50 * 2**20  # a file larger than any platform takes is not opened
MAX_SOURCE_PIXELS = 50_000_000  # nor one that would decode to more than this


def thumbnail_png(file: str | os.PathLike[str], px: int = 48) -> bytes | None:
    """A PNG of at most ``px`` pixels a side of ``file``; None when the file is missing,
    too large, not an image or damaged.

    >>> from PIL import Image
    >>> png = thumbnail_png("sample_data/images/mug.jpg", px=20)
    >>> max(Image.open(io.BytesIO(png)).size) <= 20
    True
    """
    try:
        if os.path.getsize(file) > MAX_SOURCE_BYTES:
            return None
        with Image.open(file) as image:
            if image.width * image.height > MAX_SOURCE_PIXELS:
                return None
            image.draft("RGB", (px * 2, px * 2))  # JPEG: decode small
            image.thumbnail((px, px))
            small = image.convert("RGBA")
    except (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError):
        return None
    out = io.BytesIO()
    small.save(out, format="PNG")
    return out.getvalue()


__all__ = ["MAX_SOURCE_BYTES", "MAX_SOURCE_PIXELS", "thumbnail_png"]
