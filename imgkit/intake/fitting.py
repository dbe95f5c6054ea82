"""Repair images a platform would refuse: convert, rotate, resize, pad, recompress.

:func:`fit_image` is the pure core: bytes and a platform's :class:`~imgkit.platforms.base.Limits`
in, conforming bytes out, with the list of what it did.  It converts formats the platform
refuses (WEBP, BMP, TIFF, HEIC with pillow-heif, GIF where GIF is refused) to JPEG — or to
PNG when the image has real transparency and PNG is taken, else the transparency is
flattened onto white; it turns CMYK, 16-bit and palette images into plain RGB/L/RGBA; it
applies the EXIF orientation, downscales (LANCZOS) or, only as far as a minimum needs,
upscales to the platform's pixel rules; it pads onto white to a required ratio (never
crops); and it re-encodes JPEG at the highest quality that fits ``max_bytes`` (a binary
search over quality 40–95), downscaling by steps of x0.9 only when even quality 40 is too
big.  Animated GIFs stay animated where GIF is taken.  Metadata is dropped except the
colour profile of an RGB or grey image.  The same input always gives the same bytes.

An image that already conforms comes back untouched (no actions).

:func:`fit` does the same for a batch: it validates, writes a conforming copy of each
fixable row into a content-addressed cache (``<sha256 of the copy>.<ext>``; the original is
never modified), points ``file`` at the copy and validates again.

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

import hashlib
import importlib
import io
import math
import os
import struct
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import ExifTags, Image, ImageCms, ImageOps, ImageSequence, UnidentifiedImageError

from imgkit.errors import UnknownPlatformError
from imgkit.intake.probe import sniff_format
from imgkit.paths import cache_dir
from imgkit.platforms import get_adapter, resolve_platform
from imgkit.platforms.base import Limits, PixelRule, bool_text

# Issue codes of validation that fit repairs.
FIXABLE_ISSUES = frozenset({"format_refused", "too_large", "bad_dimensions", "bad_ratio"})
QUALITY_MIN = 40
QUALITY_MAX = 95
STEP = 0.9  # each downscale for bytes keeps this share of the width and height
MAX_STEPS = 40  # 0.9**40 is 1.5 %: past that, give up
EXTENSIONS = {"jpeg": "jpg", "png": "png", "gif": "gif"}
_WHITE = (255, 255, 255)
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
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")


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


class _CannotFit(Exception):
    """The image cannot be made to conform; the message says why."""


# --- rules ---------------------------------------------------------------------------------


def option_matches(expected: str, value: object) -> bool:
    """Whether an option's ``value`` (as the user wrote it) means a rule's ``expected`` value.

    ``true``/``false`` compare as booleans (``1``, ``yes``, ``是``, ``TRUE`` are true); other
    values compare without case, and ``phone`` stands for ``client:phone``.

    >>> option_matches("true", "是"), option_matches("true", "0")
    (True, False)
    >>> option_matches("client:phone", "phone"), option_matches("client:phone", "computer")
    (True, False)
    """
    text = _text(value).lower()
    want = expected.strip().lower()
    if want in ("true", "false"):
        return bool_text(text) == want  # an empty option is false
    return text == want or (":" in want and text == want.rsplit(":", 1)[1])


def applicable_rules(limits: Limits, options: Mapping[str, object]) -> tuple[PixelRule, ...]:
    """The pixel rules of ``limits`` that apply to a row with ``options``.

    >>> from imgkit.platforms import get_adapter
    >>> limits = get_adapter("tmall_item").limits
    >>> [r.ratio for r in applicable_rules(limits, {"is_rectangle": "1"})]
    [(3, 4)]
    >>> applicable_rules(limits, {"is_rectangle": "false"})
    ()
    """
    return tuple(
        rule
        for rule in limits.pixel_rules
        if rule.when is None or option_matches(rule.when[1], options.get(rule.when[0]))
    )


@dataclass(frozen=True)
class _Box:
    """The pixel rules that apply, combined into one set of bounds."""

    min_w: int = 1
    max_w: int | None = None
    min_h: int = 1
    max_h: int | None = None
    ratio: tuple[int, int] | None = None

    @classmethod
    def of(cls, rules: tuple[PixelRule, ...]) -> _Box:
        ratios = {_reduced(rule.ratio) for rule in rules if rule.ratio is not None}
        if len(ratios) > 1:
            raise _CannotFit("the pixel rules ask for different ratios")
        box = cls(
            min_w=max([1, *(r.min_width for r in rules if r.min_width is not None)]),
            max_w=min((r.max_width for r in rules if r.max_width is not None), default=None),
            min_h=max([1, *(r.min_height for r in rules if r.min_height is not None)]),
            max_h=min((r.max_height for r in rules if r.max_height is not None), default=None),
            ratio=next(iter(ratios), None),
        )
        if (box.max_w is not None and box.min_w > box.max_w) or (
            box.max_h is not None and box.min_h > box.max_h
        ):
            raise _CannotFit("the pixel rules contradict each other")
        return box

    def holds(self, width: int, height: int) -> bool:
        """Whether a width x height image satisfies every bound."""
        if width < self.min_w or height < self.min_h:
            return False
        if (self.max_w is not None and width > self.max_w) or (
            self.max_h is not None and height > self.max_h
        ):
            return False
        return self.ratio is None or width * self.ratio[1] == height * self.ratio[0]


def _reduced(ratio: tuple[int, int]) -> tuple[int, int]:
    divisor = math.gcd(*ratio)
    return ratio[0] // divisor, ratio[1] // divisor


@dataclass(frozen=True)
class _Plan:
    """Resize the content to ``content``, then centre it on a white ``canvas``."""

    content: tuple[int, int]
    canvas: tuple[int, int]


def _plan(width: int, height: int, box: _Box, factor: float) -> _Plan:
    """Sizes meeting ``box`` for a width x height image, shrunk by ``factor`` for bytes."""
    if box.ratio is not None:
        return _plan_ratio(width, height, box, box.ratio, factor)
    wide = box.max_w / width if box.max_w is not None else math.inf
    tall = box.max_h / height if box.max_h is not None else math.inf
    need = max(box.min_w / width, box.min_h / height)
    # Upscale only as far as a minimum needs and never past a maximum; otherwise downscale
    # to the maximums (or keep the size).  A minimum still not reached is padded.
    up = need > 1 and min(wide, tall) >= 1
    scale = min(need, wide, tall) if up else min(1.0, wide, tall)
    scale *= factor
    cw = _clamp(round(width * scale), 1, box.max_w)
    ch = _clamp(round(height * scale), 1, box.max_h)
    if factor < 1 and (cw < box.min_w or ch < box.min_h):
        raise _CannotFit("the image cannot get small enough in bytes above the minimum size")
    if cw < 1 or ch < 1 or (factor < 1 and (cw < 8 or ch < 8)):
        raise _CannotFit("the image cannot get small enough in bytes")
    return _Plan((cw, ch), (max(cw, box.min_w), max(ch, box.min_h)))


def _plan_ratio(width: int, height: int, box: _Box, ratio: tuple[int, int], factor: float) -> _Plan:
    rw, rh = ratio
    # The smallest canvas of the ratio holding the image, then bounds in ratio units.
    units = max(-(-width // rw), -(-height // rh))
    lowest = max(-(-box.min_w // rw), -(-box.min_h // rh), 1)
    highest = min(
        box.max_w // rw if box.max_w is not None else sys.maxsize,
        box.max_h // rh if box.max_h is not None else sys.maxsize,
    )
    if lowest > highest:
        raise _CannotFit(f"no size of ratio {rw}:{rh} meets the pixel rules")
    target = min(max(units, lowest), highest)
    if factor < 1:
        target = math.floor(target * factor)
        if target < lowest or target * min(rw, rh) < 8:
            raise _CannotFit("the image cannot get small enough in bytes above the minimum size")
    scale = target / units
    cw = min(max(1, round(width * scale)), rw * target)
    ch = min(max(1, round(height * scale)), rh * target)
    return _Plan((cw, ch), (rw * target, rh * target))


def _clamp(value: int, low: int, high: int | None) -> int:
    value = max(value, low)
    return min(value, high) if high is not None else value


def _apply(image: Image.Image, plan: _Plan) -> Image.Image:
    out = image
    if out.size != plan.content:
        out = out.resize(plan.content, Image.Resampling.LANCZOS)
    if plan.canvas != plan.content:
        fill: tuple[int, ...] | int = 255 if out.mode == "L" else _WHITE
        if out.mode == "RGBA":
            fill = (*_WHITE, 255)
        canvas = Image.new(out.mode, plan.canvas, fill)
        canvas.info = dict(out.info)  # the colour profile, if any
        left = (plan.canvas[0] - plan.content[0]) // 2
        top = (plan.canvas[1] - plan.content[1]) // 2
        canvas.paste(out, (left, top))
        out = canvas
    return out


def _geometry_actions(size: tuple[int, int], plan: _Plan) -> list[str]:
    actions = []
    if plan.content[0] < size[0] or plan.content[1] < size[1]:
        actions.append("downscaled")
    elif plan.content[0] > size[0] or plan.content[1] > size[1]:
        actions.append("upscaled")
    if plan.canvas != plan.content:
        actions.append("padded")
    return actions


# --- pixels --------------------------------------------------------------------------------


def _standard(image: Image.Image) -> tuple[Image.Image, list[str]]:
    """``image`` as RGB, RGBA (only with real transparency) or L, and the actions taken."""
    mode = image.mode
    icc = image.info.get("icc_profile")
    actions: list[str] = []
    if mode == "CMYK":
        out = _cmyk_to_rgb(image, icc)
        actions.append("to_rgb")
    elif mode in _SIXTEEN_BIT:
        out = image.convert("I").point(lambda v: v / 256).convert("L")
    elif mode in ("1", "F", "L"):
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


def _flatten(image: Image.Image) -> Image.Image:
    """An RGBA image onto white, as RGB."""
    if image.mode != "RGBA":
        return image
    canvas = Image.new("RGB", image.size, _WHITE)
    canvas.paste(image, mask=image.getchannel("A"))
    canvas.info = dict(image.info)  # the colour profile, if any
    return canvas


# --- encoding ------------------------------------------------------------------------------


def _save(image: Image.Image, fmt: str, **params: Any) -> bytes:
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


def _best_jpeg(image: Image.Image, max_bytes: int) -> bytes | None:
    """The JPEG of the highest quality in QUALITY_MIN..QUALITY_MAX within ``max_bytes``."""
    top = _save(image, "jpeg", quality=QUALITY_MAX)
    if len(top) <= max_bytes:
        return top
    best = _save(image, "jpeg", quality=QUALITY_MIN)
    if len(best) > max_bytes:
        return None
    low, high = QUALITY_MIN + 1, QUALITY_MAX - 1
    while low <= high:
        mid = (low + high) // 2
        data = _save(image, "jpeg", quality=mid)
        if len(data) <= max_bytes:
            best, low = data, mid + 1
        else:
            high = mid - 1
    return best


def _encode_within(image: Image.Image, fmt: str, max_bytes: int) -> bytes | None:
    if fmt == "jpeg":
        return _best_jpeg(_flatten(image), max_bytes)
    data = _save(image, fmt)
    return data if len(data) <= max_bytes else None


def _search(
    make: Callable[[float], tuple[_Plan, list[bytes | None]]],
) -> tuple[bytes, int, _Plan]:
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
    raise _CannotFit("the image cannot get small enough in bytes")


# --- the core ------------------------------------------------------------------------------


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
        box = _Box.of(applicable_rules(limits, options or {}))
    except _CannotFit as exc:
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
            image.load()  # a truncated or corrupt file fails here, conforming or not
            conforms = (
                limits.allows_format(source)
                and len(data) <= limits.max_bytes
                and box.holds(width, height)
                and image.mode != "CMYK"
            )
            if conforms:
                return unfit
            too_large = len(data) > limits.max_bytes
            if source == "gif" and getattr(image, "n_frames", 1) > 1 and "gif" in limits.formats:
                out, fmt, actions = _fit_animation(image, box, limits, too_large)
            else:
                out, fmt, actions = _fit_still(image, source, box, limits, too_large)
    except _CannotFit as exc:
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


def _fit_still(
    image: Image.Image, source: str, box: _Box, limits: Limits, too_large: bool
) -> tuple[bytes, str, list[str]]:
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
    pixels, colour = _standard(upright)
    actions += colour
    alpha = pixels.mode == "RGBA"
    candidates = _candidates(source, alpha, limits)
    if not candidates:
        raise _CannotFit("the platform takes no format this image can be converted to")
    width, height = pixels.size

    def make(factor: float) -> tuple[_Plan, list[bytes | None]]:
        plan = _plan(width, height, box, factor)
        shaped = _apply(pixels, plan)
        # Lossless candidates are tried at full size only: shrinking is the last format's job.
        tried = candidates if factor == 1.0 else candidates[-1:]
        attempts = [_encode_within(shaped, fmt, limits.max_bytes) for fmt in tried]
        return plan, ([None] * (len(candidates) - len(tried))) + attempts

    data, index, plan = _search(make)
    fmt = candidates[index]
    if fmt != source:
        actions.append("converted")
    if alpha and fmt == "jpeg":
        actions.append("flattened")
    actions += _geometry_actions(pixels.size, plan)
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
    image: Image.Image, box: _Box, limits: Limits, too_large: bool
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

    def make(factor: float) -> tuple[_Plan, list[bytes | None]]:
        plan = _plan(width, height, box, factor)
        shaped = [_apply(frame, plan) for frame in frames]
        data = _save(shaped[0], "gif", append_images=shaped[1:], **params)
        return plan, [data if len(data) <= limits.max_bytes else None]

    data, _index, plan = _search(make)
    actions = _geometry_actions((width, height), plan)
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


# --- batches -------------------------------------------------------------------------------


def default_out_dir() -> Path:
    """The cache of fitted copies: ``fit`` in :func:`imgkit.paths.cache_dir`.

    >>> default_out_dir().name
    'fit'
    """
    return cache_dir() / "fit"


def write_copy(result: FitResult, out_dir: str | os.PathLike[str]) -> Path:
    """Store ``result.data`` as ``<out_dir>/<sha256>.<extension>`` (once) and return its path.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = write_copy(FitResult(b"GIF89a;", "gif", "gif", ("converted",)), tmp)
    ...     path.name[:12], path.suffix, path.read_bytes()
    ('a95fb9e1bcb6', '.gif', b'GIF89a;')
    """
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha256(result.data).hexdigest()}.{result.extension}"
    if path.exists() and path.stat().st_size == len(result.data):
        return path
    temporary = folder / f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp"
    temporary.write_bytes(result.data)
    os.replace(temporary, path)
    return path


def _text(value: object) -> str:
    """A cell as text: "" for None and NaN."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    return str(value).strip()


def _wants_fit(row: Mapping[str, object]) -> bool:
    """A row fit should touch: its errors are all fixable, or it is valid with a fixable
    warning; and it has a fixable issue at all."""
    issues = {code.strip() for code in _text(row.get("issues")).split(";")}
    if not issues & FIXABLE_ISSUES:
        return False
    return _truthy(row.get("ok")) or _truthy(row.get("fixable"))


def _truthy(value: object) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    return bool_text(_text(value)) == "true"


@dataclass(frozen=True)
class _Task:
    """One distinct piece of work: a file for a platform, with the options its rules read."""

    path: str
    platform: str
    options: tuple[tuple[str, str], ...]


def _task(row: Mapping[str, object]) -> _Task | None:
    path = _text(row.get("file"))
    if not path or path.startswith(("http://", "https://")) or not _wants_fit(row):
        return None
    try:
        platform = resolve_platform(_text(row.get("platform_key")) or _text(row.get("platform")))
    except UnknownPlatformError:
        return None
    rules = get_adapter(platform).limits.pixel_rules
    names = sorted({rule.when[0] for rule in rules if rule.when is not None})
    return _Task(path, platform, tuple((name, _text(row.get(name))) for name in names))


def fit(
    batch: Any,
    out_dir: str | os.PathLike[str] | None = None,
    *,
    shops: Any = None,
    workers: int | None = None,
) -> pd.DataFrame:
    """Validate ``batch``, write a conforming copy of every fixable row, validate again.

    ``batch`` and ``shops`` are what :func:`imgkit.validate` takes.  Rows whose errors are
    all fixable (``fixable``), or that are valid but carry a fixable warning, get a copy in
    ``out_dir`` (default :func:`default_out_dir`) named by its own SHA-256, and ``file``
    then points at the copy.  Every row gains ``source_file`` (the original path; equal to
    ``file`` where nothing was done), ``fit_reason`` (why a fixable row could not be fixed,
    else "") and ``fit_actions`` (";"-joined, "" where nothing was
    done).  Originals are never modified; URLs and rows with other errors are left alone
    and keep their errors.  Returns the batch validated again (fresh ``ok``, ``issues``).
    ``workers`` threads fit the images (default: the CPU count, at most 8).

    >>> import tempfile
    >>> import pandas as pd
    >>> from PIL import Image
    >>> from imgkit.sandbox import sandbox_shops
    >>> tmp = tempfile.mkdtemp()
    >>> Image.new("RGB", (800, 600), "blue").save(f"{tmp}/blue.webp")
    >>> batch = pd.DataFrame({"platform": ["doudian"], "shop": ["douyin_shop"],
    ...                       "file": [f"{tmp}/blue.webp"], "target": ["0"]})
    >>> out = fit(batch, f"{tmp}/fit", shops=sandbox_shops("http://127.0.0.1:9"))
    >>> bool(out.loc[0, "ok"]), out.loc[0, "fit_actions"], out.loc[0, "file"].endswith(".jpg")
    (True, 'converted', True)
    >>> out.loc[0, "source_file"] == f"{tmp}/blue.webp"
    True
    """
    from imgkit.intake.validation import RESULT_COLUMNS, validate

    checked = validate(batch, shops, workers=workers)
    folder = Path(out_dir) if out_dir is not None else default_out_dir()
    rows = checked.to_dict("records")
    tasks = [_task({str(key): value for key, value in row.items()}) for row in rows]
    done = _run({task for task in tasks if task is not None}, folder, workers)

    files = [_text(value) for value in checked["file"]]
    if "source_file" in checked.columns:  # fitted before: keep the first original
        sources = [
            _text(before) or now for before, now in zip(checked["source_file"], files, strict=True)
        ]
    else:
        sources = list(files)
    actions = (
        [_text(value) for value in checked["fit_actions"]]
        if "fit_actions" in checked.columns
        else [""] * len(files)
    )
    reasons = [""] * len(files)
    for position, task in enumerate(tasks):
        outcome = done.get(task) if task is not None else None
        if isinstance(outcome, str):
            reasons[position] = outcome
        elif outcome is not None:
            files[position] = str(outcome[0])
            actions[position] = ";".join(outcome[1])
    fitted = checked.drop(columns=[c for c in RESULT_COLUMNS if c in checked.columns])
    columns = (
        ("file", files),
        ("source_file", sources),
        ("fit_actions", actions),
        ("fit_reason", reasons),
    )
    for name, values in columns:
        fitted[name] = pd.Series(values, index=checked.index, dtype="str")
    return validate(fitted, shops, workers=workers)


_Done = tuple[Path, tuple[str, ...]] | str


def _run(tasks: set[_Task], folder: Path, workers: int | None) -> dict[_Task, _Done]:
    """Fit each distinct task in a thread pool: the copy written and its actions, or why not."""
    if not tasks:
        return {}
    workers = workers or min(8, os.cpu_count() or 1)

    def one(task: _Task) -> tuple[_Task, _Done | None]:
        try:
            data = Path(task.path).read_bytes()
        except OSError as exc:
            return task, f"cannot read the file: {exc.strerror} / 无法读取文件"
        limits = get_adapter(task.platform).limits
        result = fit_image(data, limits, dict(task.options))
        if not result.ok:
            return task, result.reason
        if not result.changed:
            return task, None
        return task, (write_copy(result, folder), result.actions)

    ordered = sorted(tasks, key=lambda t: (t.path, t.platform, t.options))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pairs: Iterator[tuple[_Task, _Done | None]] = pool.map(one, ordered)
        return {task: outcome for task, outcome in pairs if outcome is not None}
