"""Repair one image a platform would refuse: convert, rotate, resize, pad, recompress.

:func:`fit_image` is the pure core: bytes and a platform's :class:`~imgkit.platforms.base.Limits`
in, conforming bytes out, with the list of what it did.  It converts formats the platform
refuses (WEBP, BMP, TIFF, HEIC with pillow-heif, GIF where GIF is refused) to JPEG — or to
PNG when the image has real transparency and PNG is taken, else the transparency is
flattened onto white; it turns CMYK, 16-bit and palette images into plain RGB/L/RGBA; it
applies the EXIF orientation, downscales (LANCZOS; a JPEG is decoded at a reduced scale
first, :func:`~imgkit.intake.fit_geometry.draft`) or, only as far as a minimum needs,
upscales to the platform's pixel rules; it pads onto white to a required ratio (never
crops); and it re-encodes JPEG at the highest quality in 40–95 that fits ``max_bytes``
(:mod:`imgkit.intake.fit_quality`: the answer of a full search, from few full-size
encodes), downscaling by steps of x0.9 only when even quality 40 is too big.  Animated
GIFs stay animated where GIF is taken.  Metadata is dropped except the colour profile of
an RGB or grey image.  The same input always gives the same bytes.

An image that already conforms comes back untouched (no actions).  The geometry is
:mod:`imgkit.intake.fit_geometry`'s, the colour modes and encodings
:mod:`imgkit.intake.fit_encoding`'s; :func:`imgkit.intake.fitting.fit` does the same for a
batch.

Actions, in the order they happen: ``rotated``, ``first_frame`` (an animation reduced to
its first frame), ``to_rgb`` (CMYK to RGB), ``converted`` (another format), ``flattened``
(transparency onto white), ``downscaled``, ``upscaled``, ``padded``, ``recompressed``
(brought under ``max_bytes``).

Example
-------
>>> import io
>>> from PIL import Image
>>> from imgkit.platforms import get_adapter
>>> buf = io.BytesIO()
>>> Image.new("RGB", (1200, 1600), "white").save(buf, "WEBP")
>>> out = fit_image(buf.getvalue(), get_adapter("taobao_picture").limits,
...                 {"client_type": "client:phone"})
>>> out.ok, out.format, out.actions, Image.open(io.BytesIO(out.data)).size
(True, 'jpeg', ('converted', 'downscaled'), (620, 827))
"""

from __future__ import annotations

import importlib
import io
import struct
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from PIL import ExifTags, Image, ImageOps, ImageSequence, UnidentifiedImageError

from imgkit.intake.fit_encoding import encode_within, save, search, standard
from imgkit.intake.fit_geometry import (
    Box,
    CannotFit,
    Plan,
    applicable_rules,
    apply_plan,
    draft,
    geometry_actions,
    plan_sizes,
)
from imgkit.intake.probe import sniff_format
from imgkit.platforms.base import Limits

EXTENSIONS = {"jpeg": "jpg", "png": "png", "gif": "gif"}
_PIL_FORMATS = {
    "JPEG": "jpeg",
    "MPO": "jpeg",
    "PNG": "png",
    "GIF": "gif",
    "WEBP": "webp",
    "BMP": "bmp",
    "DIB": "bmp",
    "TIFF": "tiff",
    "HEIF": "heic",
    "AVIF": "avif",
}


@dataclass(frozen=True)
class FitResult:
    """What :func:`fit_image` made.

    ``data`` is the conforming image (the input itself when nothing was needed or nothing
    could be done), ``format`` its content format, ``extension`` the file extension to give
    it, ``actions`` what was done, and ``reason`` why the image cannot be made to conform
    ("" when it can).
    """

    data: bytes
    format: str
    extension: str
    actions: tuple[str, ...] = ()
    reason: str = ""

    @property
    def ok(self) -> bool:
        """True when ``data`` conforms to the limits."""
        return not self.reason

    @property
    def changed(self) -> bool:
        """True when ``data`` differs from the input."""
        return bool(self.actions)


def fit_image(
    data: bytes, limits: Limits, options: Mapping[str, object] | None = None
) -> FitResult:
    """Make ``data`` conform to ``limits`` for a row with ``options``; see the module doc.

    Never raises for bad input: a file that is not an image, or that cannot be made to
    conform, comes back unchanged with ``reason`` set.

    >>> import io
    >>> from PIL import Image
    >>> buf = io.BytesIO()
    >>> Image.new("RGB", (300, 300), "red").save(buf, "BMP")
    >>> jpeg_only = Limits(max_bytes=300_000, formats=frozenset({"jpeg"}))
    >>> out = fit_image(buf.getvalue(), jpeg_only)
    >>> out.format, out.extension, out.actions
    ('jpeg', 'jpg', ('converted',))
    >>> fit_image(out.data, jpeg_only).actions  # already conforms: untouched
    ()
    >>> fit_image(b"not an image", Limits(max_bytes=10, formats=frozenset({"jpeg"}))).reason
    'not an image'
    """
    source = sniff_format(data[:32]) or ""
    unfit = FitResult(data, source, EXTENSIONS.get(source, source or "bin"))
    try:
        box = Box.of(applicable_rules(limits, options or {}))
    except CannotFit as exc:
        return _with_reason(unfit, str(exc))
    if source == "heic" and not _heif_available():
        return _with_reason(unfit, "HEIC images need the pillow-heif package")
    try:
        with Image.open(io.BytesIO(data)) as image:
            source = source or _PIL_FORMATS.get(image.format or "", "")
            unfit = FitResult(data, source, EXTENSIONS.get(source, source or "bin"))
            width, height = image.size
            if width * height > (Image.MAX_IMAGE_PIXELS or sys.maxsize):
                return _with_reason(unfit, "too many pixels to decode safely")
            conforms = (
                limits.allows_format(source)
                and len(data) <= limits.max_bytes
                and box.holds(width, height)
                and image.mode != "CMYK"
            )
            upright = _upright_size(image)
            if not conforms:
                draft(image, upright, box)
            image.load()  # a truncated or corrupt file fails here, conforming or not
            if conforms:
                return unfit
            too_large = len(data) > limits.max_bytes
            if source == "gif" and getattr(image, "n_frames", 1) > 1 and "gif" in limits.formats:
                out, fmt, actions = _fit_animation(image, box, limits, too_large)
            else:
                still = _Still(source, upright, len(data))
                out, fmt, actions = _fit_still(image, still, box, limits, too_large)
    except CannotFit as exc:
        return _with_reason(unfit, str(exc))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return _with_reason(unfit, "too many pixels to decode safely")
    except UnidentifiedImageError:
        return _with_reason(unfit, "not an image")
    except (OSError, ValueError, SyntaxError, EOFError, struct.error) as exc:
        return _with_reason(unfit, f"cannot decode the image: {exc}")
    return FitResult(out, fmt, EXTENSIONS[fmt], tuple(dict.fromkeys(actions)))


def _with_reason(result: FitResult, reason: str) -> FitResult:
    return FitResult(result.data, result.format, result.extension, (), reason)


def _upright_size(image: Image.Image) -> tuple[int, int]:
    """The image's size once its EXIF orientation is applied."""
    width, height = image.size
    if image.getexif().get(ExifTags.Base.Orientation, 1) in (5, 6, 7, 8):
        return height, width
    return width, height


@dataclass(frozen=True)
class _Still:
    """What a still image was as stored: its ``source`` format, its upright ``size`` (the
    image may have been decoded smaller: :func:`~imgkit.intake.fit_geometry.draft`) and
    its ``stored`` bytes."""

    source: str
    size: tuple[int, int]
    stored: int


def _fit_still(
    image: Image.Image, still: _Still, box: Box, limits: Limits, too_large: bool
) -> tuple[bytes, str, list[str]]:
    source, size = still.source, still.size
    actions: list[str] = []
    if getattr(image, "is_animated", False) and source != "jpeg":
        image.seek(0)
        actions.append("first_frame")
    orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
    if orientation in range(2, 9):
        transposed = ImageOps.exif_transpose(image)
        assert transposed is not None
        upright = transposed
        actions.append("rotated")
    else:
        upright = image
    pixels, colour = standard(upright)
    actions += colour
    alpha = pixels.mode == "RGBA"
    candidates = _candidates(source, alpha, limits)
    if not candidates:
        raise CannotFit("the platform takes no format this image can be converted to")
    width, height = size

    def make(factor: float) -> tuple[Plan, list[bytes | None]]:
        plan = plan_sizes(width, height, box, factor)
        shaped = apply_plan(pixels, plan)
        # Lossless candidates are tried at full size only: shrinking is the last format's job.
        tried = candidates if factor == 1.0 else candidates[-1:]
        # The source PNG's own size, for as many pixels, is a second guess at a PNG's.
        prior = None
        if source == "png":
            prior = still.stored * (shaped.width * shaped.height) / (width * height)
        attempts = [encode_within(shaped, fmt, limits.max_bytes, prior) for fmt in tried]
        return plan, ([None] * (len(candidates) - len(tried))) + attempts

    data, index, plan = search(make)
    fmt = candidates[index]
    if fmt != source:
        actions.append("converted")
    if alpha and fmt == "jpeg":
        actions.append("flattened")
    actions += geometry_actions(size, plan)
    if too_large:
        actions.append("recompressed")
    return data, fmt, actions


def _candidates(source: str, alpha: bool, limits: Limits) -> list[str]:
    """Output formats to try, in order; the last one may be shrunk to fit."""
    allowed = limits.formats
    if alpha:
        order = ["png", "jpeg"]
    elif source in ("png", "gif"):
        order = ["png", "jpeg"]  # lossless first for graphics, JPEG when that is too big
    else:
        order = ["jpeg", "png"]
    usable = [fmt for fmt in order if fmt in allowed]
    if alpha or source not in ("png", "gif"):
        return usable[:1]
    return usable


def _fit_animation(
    image: Image.Image, box: Box, limits: Limits, too_large: bool
) -> tuple[bytes, str, list[str]]:
    frames: list[Image.Image] = []
    durations: list[int] = []
    for frame in ImageSequence.Iterator(image):
        durations.append(int(frame.info.get("duration", 0) or 0))
        frames.append(frame.convert("RGBA"))
    alpha = any(_min_alpha(frame) < 255 for frame in frames)
    if not alpha:
        frames = [frame.convert("RGB") for frame in frames]
    for frame in frames:
        frame.info = {}  # comments and extensions go; timing and looping are set below
    params: dict[str, Any] = {"save_all": True, "duration": durations, "disposal": 2}
    loop = image.info.get("loop")
    if isinstance(loop, int):
        params["loop"] = loop
    width, height = frames[0].size

    def make(factor: float) -> tuple[Plan, list[bytes | None]]:
        plan = plan_sizes(width, height, box, factor)
        shaped = [apply_plan(frame, plan) for frame in frames]
        data = save(shaped[0], "gif", append_images=shaped[1:], **params)
        return plan, [data if len(data) <= limits.max_bytes else None]

    data, _index, plan = search(make)
    actions = geometry_actions((width, height), plan)
    if too_large:
        actions.append("recompressed")
    return data, "gif", actions


def _min_alpha(frame: Image.Image) -> float:
    low, _high = frame.getchannel("A").getextrema()
    return float(low) if isinstance(low, int | float) else 0.0


_HEIF_LOCK = threading.Lock()
_HEIF: list[bool] = []


def _heif_available() -> bool:
    """Register pillow-heif's opener once; False when it is not installed."""
    with _HEIF_LOCK:
        if not _HEIF:
            try:
                module = importlib.import_module("pillow_heif")
                module.register_heif_opener()
                _HEIF.append(True)
            except ImportError:
                _HEIF.append(False)
        return _HEIF[0]
