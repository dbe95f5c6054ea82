"""Fitting's pixels and bytes: plain colour modes, and encodings within a byte limit.

:func:`standard` turns CMYK (through its colour profile), 16-bit and palette images into
plain RGB, RGBA (only with real transparency) or L; :func:`flatten` puts transparency onto
white; :func:`encode_within` writes JPEG at the highest quality in
``QUALITY_MIN..QUALITY_MAX`` that fits (:mod:`imgkit.intake.fit_quality`'s search), or
PNG/GIF when it fits as it is; :func:`search` shrinks by :data:`STEP` until an encoding fits.

Example
-------
>>> from PIL import Image
>>> pixels, actions = standard(Image.new("CMYK", (64, 64)))
>>> pixels.mode, actions
('RGB', ['to_rgb'])
>>> data = encode_within(pixels, "jpeg", 10_000)
>>> data is not None and len(data) <= 10_000
True
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from PIL import Image, ImageCms

from imgkit.intake.fit_geometry import WHITE, CannotFit, Plan
from imgkit.intake.fit_quality import QUALITY_MAX, QUALITY_MIN, best_jpeg, png_may_fit

__all__ = ["QUALITY_MAX", "QUALITY_MIN", "encode_within", "flatten", "save", "search", "standard"]

STEP = 0.9  # each downscale for bytes keeps this share of the width and height
MAX_STEPS = 40  # 0.9**40 is 1.5 %: past that, give up
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def standard(image: Image.Image) -> tuple[Image.Image, list[str]]:
    """``image`` as RGB, RGBA (only with real transparency) or L, and the actions taken.

    An RGB or L image comes back itself (its ``info`` reduced to the colour profile)."""
    mode = image.mode
    icc = image.info.get("icc_profile")
    actions: list[str] = []
    if mode == "CMYK":
        out = _cmyk_to_rgb(image, icc)
        actions.append("to_rgb")
    elif mode in _SIXTEEN_BIT:
        out = image.convert("I").point(lambda v: v / 256).convert("L")
    elif mode in ("RGB", "L"):
        out = image  # already plain: no copy of a large photo
    elif mode in ("1", "F"):
        out = image.convert("L")
    elif mode in ("P", "PA"):
        transparent = mode == "PA" or "transparency" in image.info
        out = image.convert("RGBA" if transparent else "RGB")
    elif mode in ("LA", "La", "RGBA", "RGBa"):
        out = image.convert("RGBA")
    else:
        out = image.convert("RGB")
    if out.mode == "RGBA":
        low, _high = out.getchannel("A").getextrema()
        if isinstance(low, int | float) and low >= 255:
            out = out.convert("RGB")
    keep_icc = isinstance(icc, bytes) and (
        (mode in ("RGB", "RGBA") and out.mode in ("RGB", "RGBA"))
        or (mode == "L" and out.mode == "L")
    )
    out.info = {"icc_profile": icc} if keep_icc else {}
    return out, actions


def _cmyk_to_rgb(image: Image.Image, icc: object) -> Image.Image:
    if isinstance(icc, bytes):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(
                image, source, ImageCms.createProfile("sRGB"), outputMode="RGB"
            )
        except (ImageCms.PyCMSError, OSError, ValueError):
            converted = None
        if converted is not None:
            return converted
    return image.convert("RGB")


def flatten(image: Image.Image) -> Image.Image:
    """An RGBA image onto white, as RGB."""
    if image.mode != "RGBA":
        return image
    canvas = Image.new("RGB", image.size, WHITE)
    canvas.paste(image, mask=image.getchannel("A"))
    canvas.info = dict(image.info)  # the colour profile, if any
    return canvas


def save(image: Image.Image, fmt: str, **params: Any) -> bytes:
    icc = image.info.get("icc_profile")
    if isinstance(icc, bytes) and fmt in ("jpeg", "png"):
        params["icc_profile"] = icc
    buf = io.BytesIO()
    if fmt == "jpeg":
        image.save(buf, "JPEG", optimize=True, **params)
    elif fmt == "png":
        image.save(buf, "PNG", optimize=True, **params)
    else:
        image.save(buf, "GIF", optimize=True, **params)
    return buf.getvalue()


def _jpeg(image: Image.Image, quality: int) -> bytes:
    return save(image, "jpeg", quality=quality)


def encode_within(
    image: Image.Image, fmt: str, max_bytes: int, png_prior: float | None = None
) -> bytes | None:
    """``image`` as ``fmt`` within ``max_bytes``, or None: JPEG at the highest quality that
    fits (:func:`imgkit.intake.fit_quality.best_jpeg`), PNG and GIF as they are.  A large
    PNG is first estimated from a sample of its rows and not encoded in full when the
    estimate is past ``max_bytes`` by :data:`~imgkit.intake.fit_quality.HOPELESS`
    (``png_prior``: the source PNG's size for these pixels, when there is one; see
    :func:`~imgkit.intake.fit_quality.png_may_fit`)."""
    if fmt == "jpeg":
        return best_jpeg(flatten(image), max_bytes, _jpeg)
    if fmt == "png" and not png_may_fit(
        image, max_bytes, lambda sample: save(sample, "png"), png_prior
    ):
        return None
    data = save(image, fmt)
    return data if len(data) <= max_bytes else None


def search(
    make: Callable[[float], tuple[Plan, list[bytes | None]]],
) -> tuple[bytes, int, Plan]:
    """Shrink by STEP until ``make`` produces bytes that fit.

    ``make(factor)`` returns the plan and, per candidate format, the bytes or None; the
    first bytes found win.  Returns (bytes, candidate index, plan).
    """
    factor = 1.0
    for _ in range(MAX_STEPS):
        plan, attempts = make(factor)
        for index, data in enumerate(attempts):
            if data is not None:
                return data, index, plan
        factor *= STEP
    raise CannotFit("the image cannot get small enough in bytes")
