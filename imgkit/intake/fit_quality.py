"""The highest JPEG quality within a byte limit, found with few full-size encodes.

:func:`best_jpeg` returns what a plain search returns — the JPEG (``optimize=True``) of
the highest quality in ``QUALITY_MIN..QUALITY_MAX`` whose size is within the limit —
but it does not encode the whole image at every probe.  A full-size optimized encode of
a large photo costs about as much as decoding it, so the search runs on a *sample* first:
one band of 16 pixel rows (one row of JPEG blocks with 4:2:0 subsampling) in every
:data:`SAMPLE_EVERY`, cut on block boundaries so that each sampled block is the very
block the full image would encode.  The sample's size, scaled by the share of rows it
holds, predicts the full size within a fraction of a percent; the prediction is then
calibrated by every full-size encode actually made.  The search keeps a bracket of
qualities decided by *full-size* encodes — ``lo`` fits, ``hi`` does not — so the answer
is always a full encode that fits, and the next quality up was encoded in full and found
too big, or is past ``QUALITY_MAX``, or — the one decision taken on a prediction — the
prediction calibrated by the answer's own full encode puts it more than
:data:`PROOF_MARGIN` (1 %) over the limit.  That prediction is the answer's exact size
scaled by the sample's growth from one quality to the next; measured at every quality
on photos, product shots on white, graphics, dark, blurred, half-empty, wide and tall
images, it was never off by more than 0.41 %, nor over by more than 0.32 % (the side
that could cost a quality step; a step is about 2 %), so the margin is three times the
worst error seen.  A prediction between :data:`CLOSE_MARGIN` (0.6 %) and 1 % over is
looked at again on twice the rows (the sample joined with the bands between its own,
two more sample encodes instead of a full one): over those same images a quarter of
the rows was never over by more than 0.20 %, so 0.6 % is again three times the worst
error; a prediction closer to the limit than that is settled by a full encode.  On 80
random limits over those images the answer was the full search's every time, and on
240 more after the joined sample came (limits between two qualities' sizes, where the
decision is closest); the bench and the tests compare it with a full search.  A typical
3000x3000 photo needs one or two full encodes instead of about eight.

The first bracketing, which only picks where the sample's search starts, runs on one
band in :data:`COARSE_STEP` of the sample's own (1/64 of the rows, cut from the sample).

Images too small to sample (under :data:`SAMPLE_MIN_PIXELS` or :data:`SAMPLE_MIN_ROWS`)
are searched the same way with full encodes: the highest quality, the lowest, then
interpolation (regula falsi on log size), about five encodes instead of eight.

Example
-------
>>> from PIL import Image
>>> image = Image.effect_noise((1200, 1200), 60).convert("RGB")
>>> data = best_jpeg(image, 800_000)
>>> data is not None and len(data) <= 800_000
True
>>> best_jpeg(image, 100) is None  # not even the lowest quality fits
True
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

QUALITY_MIN = 40
QUALITY_MAX = 95
SAMPLE_EVERY = 8  # one band of rows in this many goes into the sample
PROOF_MARGIN = 0.01  # see the module doc: when the next quality need not be encoded
CLOSE_MARGIN = 0.006  # the same, judged on twice the rows (see the module doc)
COARSE_STEP = 8  # the first bracketing runs on one band in this many of the sample's
COARSE_BANDS = 3  # ...but on at least this many bands
SAMPLE_MIN_PIXELS = 1_000_000  # smaller images are searched with full encodes
SAMPLE_MIN_ROWS = 512
HOPELESS = 1.25  # a PNG predicted this far past the limit is not encoded in full
_PNG_EVERY = 16  # a PNG's sample: one band in this many
PNG_SPARSE_BANDS = 3  # the bands of the sparse PNG sample that a prior may settle with
_BAND = 16  # rows in a band: one row of 4:2:0 JPEG blocks (MCUs)

#: Encodes an image as JPEG at a quality: the bytes (``optimize=True``, the colour profile kept).
Encoder = Callable[..., bytes]


def jpeg(image: Image.Image, quality: int) -> bytes:
    """``image`` as an optimized baseline JPEG of ``quality``, with its colour profile.

    >>> from PIL import Image
    >>> jpeg(Image.new("RGB", (8, 8)), 80)[:2]
    b'\\xff\\xd8'
    """
    params: dict[str, Any] = {"quality": quality, "optimize": True}
    icc = image.info.get("icc_profile")
    if isinstance(icc, bytes):
        params["icc_profile"] = icc
    buf = io.BytesIO()
    image.save(buf, "JPEG", **params)
    return buf.getvalue()


def scan_start(data: bytes) -> int:
    """Where the entropy-coded data of a baseline JPEG starts: past the headers (tables,
    colour profile) and the start-of-scan segment.  ``len(data)`` when there is no scan.

    >>> from PIL import Image
    >>> data = jpeg(Image.new("RGB", (16, 16)), 80)
    >>> 0 < scan_start(data) < len(data), data[scan_start(data) - 14:scan_start(data) - 12]
    (True, b'\\xff\\xda')
    """
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        pos += 2 + length
        if marker == 0xDA:
            return min(pos, len(data))
    return len(data)


def bands(
    image: Image.Image, every: int = SAMPLE_EVERY, first: int | None = None
) -> tuple[Image.Image, float]:
    """One band of 16 rows in every ``every`` of ``image``, stacked, cut on JPEG block
    boundaries; and the share of the image's rows it holds.  The bands taken are number
    ``first`` (default ``every // 2``, the middle of the first ``every``), ``first +
    every``, and so on.

    >>> from PIL import Image
    >>> sample, share = bands(Image.new("RGB", (100, 1024)))
    >>> sample.size, share
    ((100, 128), 0.125)
    """
    width, height = image.size
    start = every // 2 if first is None else first
    tops = range(_BAND * start, height - _BAND + 1, _BAND * every)
    sample = Image.new(image.mode, (width, _BAND * len(tops)))
    for index, top in enumerate(tops):
        sample.paste(image.crop((0, top, width, top + _BAND)), (0, index * _BAND))
    sample.info = dict(image.info)  # the same headers: the colour profile
    return sample, _BAND * len(tops) / height


def png_may_fit(
    image: Image.Image,
    max_bytes: int,
    encode: Callable[[Image.Image], bytes],
    prior: float | None = None,
) -> bool:
    """False when a sample of ``image``'s rows, encoded by ``encode``, predicts the whole
    image past ``max_bytes`` by :data:`HOPELESS` (a photo saved as PNG): the full encode,
    the slowest step of fitting such a file, is then skipped.  True for small images.

    ``prior`` is another guess at the PNG's size, independent of the rows sampled: the
    source PNG's own size.  When it and a sample of :data:`PNG_SPARSE_BANDS` bands both
    put the PNG past the limit by :data:`HOPELESS`, the fuller sample (a quarter of the
    cost of fitting a PNG photo) is not encoded: a source compressed far worse than
    Pillow compresses fools the prior, an image whose few sampled rows are its busiest
    fools the sparse sample, and it takes both at once to skip a PNG that fits.

    >>> from PIL import Image
    >>> noise = Image.effect_noise((1200, 1200), 80).convert("RGB")
    >>> raw = Image.Image.tobytes
    >>> png_may_fit(noise, 100_000, raw), png_may_fit(noise, 10**8, raw)
    (False, True)
    >>> sizes = []
    >>> png_may_fit(noise, 100_000, lambda s: sizes.append(s.height) or raw(s), prior=4e6)
    False
    >>> sizes  # the sparse sample settled it
    [48]
    """
    if not _sampled(image):
        return True
    if prior is not None and prior > HOPELESS * max_bytes:
        every = max(_PNG_EVERY, image.height // (_BAND * PNG_SPARSE_BANDS))
        sparse, share = bands(image, every)
        if len(encode(sparse)) / share > HOPELESS * max_bytes:
            return False
    sample, share = bands(image, _PNG_EVERY)
    return len(encode(sample)) / share <= HOPELESS * max_bytes


@dataclass
class _Bands:
    """Bands of an image's rows stacked in ``image``, holding ``share`` of its rows, and
    the entropy-coded bytes of their JPEG at each quality encoded so far."""

    image: Image.Image
    share: float
    scans: dict[int, int] = field(default_factory=dict)


class _Sample:
    """Bands of an image's rows, in one or more stacks (``parts``); predicts the size of
    the whole image's JPEG."""

    def __init__(self, parts: list[_Bands], encode: Encoder) -> None:
        self.parts, self.encode = parts, encode
        self.share = sum(part.share for part in parts)
        self.head = 0  # bytes before the entropy-coded data
        self.ratio = 1.0  # full scan bytes / predicted scan bytes, from the last full encode

    def scan(self, quality: int) -> float:
        """The entropy-coded bytes the whole image would take, from the sample alone."""
        total = 0
        for part in self.parts:
            if quality not in part.scans:
                data = self.encode(part.image, quality)
                self.head = scan_start(data)
                part.scans[quality] = len(data) - self.head
            total += part.scans[quality]
        return total / self.share

    @classmethod
    def of(cls, image: Image.Image, encode: Encoder, first: int | None = None) -> _Sample:
        """One band of rows in every :data:`SAMPLE_EVERY` of ``image`` (see :func:`bands`)."""
        return cls([_Bands(*bands(image, SAMPLE_EVERY, first))], encode)

    def sparser(self, step: int) -> _Sample:
        """One band in ``step`` of this sample's (fewer where that would leave fewer than
        :data:`COARSE_BANDS`), cut from this sample: no second pass over the image."""
        (whole,) = self.parts
        step = max(1, min(step, whole.image.height // (_BAND * COARSE_BANDS)))
        picked, part = bands(whole.image, step)
        return _Sample([_Bands(picked, whole.share * part)], self.encode)

    def joined(self, other: _Sample) -> _Sample:
        """This sample and ``other`` (other bands of the same image) as one: the encodes
        either made are not made again."""
        both = _Sample(self.parts + other.parts, self.encode)
        both.head = self.head
        return both

    def predict(self, quality: int) -> float:
        return self.head + self.ratio * self.scan(quality)

    def fits(self, max_bytes: int) -> Callable[[int], bool]:
        """Whether a quality's predicted full size is within ``max_bytes``."""
        return lambda quality: self.predict(quality) <= max_bytes

    def calibrate(self, quality: int, full: bytes) -> None:
        predicted = self.scan(quality)
        if predicted > 0:
            self.ratio = (len(full) - scan_start(full)) / predicted


def _sampled(image: Image.Image) -> bool:
    width, height = image.size
    return width * height >= SAMPLE_MIN_PIXELS and height >= SAMPLE_MIN_ROWS


def _step(taken: int) -> int:
    """The walk's stride after ``taken`` steps: 1, 1, 2, 4, 8, ..."""
    return 1 << max(0, taken - 1)


def highest(lo: int, hi: int, fits: Callable[[int], bool], start: int) -> int:
    """The highest ``q`` with ``lo < q < hi`` for which ``fits(q)``, or ``lo`` when none.

    ``fits`` is taken to be monotone (true up to some quality, false above).  Probing
    starts at ``start`` and walks outward by 1, 1, 2, 4, ... then bisects: a right
    ``start`` costs two probes, one off by one three, a bad one about twice log2 of its
    distance.

    >>> probes = []
    >>> def fits(q):
    ...     probes.append(q)
    ...     return q <= 61
    >>> highest(39, 96, fits, 60), probes
    (61, [60, 61, 62])
    >>> probes.clear()
    >>> highest(39, 96, fits, 50), probes
    (61, [50, 51, 52, 54, 58, 66, 62, 60, 61])
    >>> highest(39, 96, lambda q: False, 95), highest(39, 96, lambda q: True, 50)
    (39, 95)
    """
    if hi - lo <= 1:
        return lo
    start = min(max(start, lo + 1), hi - 1)
    good, bad = lo, hi  # fits(good) (or good == lo), not fits(bad) (or bad == hi)
    steps = 0
    if fits(start):
        good = start
        while good + _step(steps) < hi:
            if not fits(good + _step(steps)):
                bad = good + _step(steps)
                break
            good, steps = good + _step(steps), steps + 1
    else:
        bad = start
        while bad - _step(steps) > lo:
            if fits(bad - _step(steps)):
                good = bad - _step(steps)
                break
            bad, steps = bad - _step(steps), steps + 1
    while bad - good > 1:
        middle = (good + bad) // 2
        if fits(middle):
            good = middle
        else:
            bad = middle
    return good


def _scale(quality: int) -> float:
    """The log of libjpeg's quantizer scale for a quality: file size is close to linear in
    its logarithm, the variable the first guess interpolates along."""
    return -math.log(5000 / quality if quality < 50 else 200 - 2 * quality)


def _first_guess(size: Callable[[int], float], max_bytes: int) -> int:
    """The highest quality whose ``size`` (predicted or encoded) fits: the top and the
    bottom first, then regula falsi (Illinois) on log size against :func:`_scale`."""
    excess: dict[int, float] = {}  # quality -> log(size / max_bytes)

    def fits(quality: int) -> bool:
        excess[quality] = math.log(max(size(quality), 1.0) / max_bytes)
        return excess[quality] <= 0

    if fits(QUALITY_MAX):
        return QUALITY_MAX
    if not fits(QUALITY_MIN):
        return QUALITY_MIN - 1
    good, bad = QUALITY_MIN, QUALITY_MAX
    at_good, at_bad, side = excess[good], excess[bad], 0
    while bad - good > 1:
        low, high = _scale(good), _scale(bad)
        target = low - at_good / (at_bad - at_good) * (high - low) if at_bad > at_good else low
        quality = min(range(good + 1, bad), key=lambda q: abs(_scale(q) - target))
        if fits(quality):
            good, at_good = quality, excess[quality]
            at_bad = at_bad / 2 if side > 0 else at_bad  # the same side twice: Illinois
            side = 1
        else:
            bad, at_bad = quality, excess[quality]
            at_good = at_good / 2 if side < 0 else at_good
            side = -1
    return good


def best_jpeg(image: Image.Image, max_bytes: int, encode: Encoder = jpeg) -> bytes | None:
    """The JPEG of ``image`` at the highest quality in ``QUALITY_MIN..QUALITY_MAX`` whose
    size is at most ``max_bytes``, or None when even ``QUALITY_MIN`` is too big.

    ``encode(image, quality)`` makes the bytes (default :func:`jpeg`); the answer is the
    one a search encoding the whole image at every probe returns (the module doc says
    when the next quality up is judged too big by a calibrated prediction).

    >>> from PIL import Image
    >>> image = Image.effect_noise((400, 300), 40).convert("RGB")
    >>> limit = len(jpeg(image, 70))
    >>> len(best_jpeg(image, limit)) == limit, len(jpeg(image, 71)) > limit
    (True, True)
    """
    full: dict[int, bytes] = {}

    def encoded(quality: int) -> bytes:
        if quality not in full:
            full[quality] = encode(image, quality)
        return full[quality]

    def fits_in_full(quality: int) -> bool:
        return len(encoded(quality)) <= max_bytes

    sample = _Sample.of(image, encode) if _sampled(image) else None
    fits = fits_in_full if sample is None else sample.fits(max_bytes)
    lo, hi = QUALITY_MIN - 1, QUALITY_MAX + 1  # proven in full: lo fits, hi is too big
    if sample is None:
        guess = _first_guess(lambda q: len(encoded(q)), max_bytes)
    else:
        coarse = sample.sparser(COARSE_STEP)
        guess = highest(lo, hi, fits, _first_guess(coarse.predict, max_bytes))
    while hi - lo > 1:
        guess = highest(lo, hi, fits, guess)
        quality = min(max(guess, lo + 1), hi - 1)
        data = encoded(quality)
        if len(data) <= max_bytes:
            lo = quality
        else:
            hi = quality
        if sample is not None:
            sample.calibrate(quality, data)
            if lo == quality < hi - 1 and _clearly_too_big(image, sample, quality, data, max_bytes):
                hi = quality + 1  # see PROOF_MARGIN and CLOSE_MARGIN
        guess = quality
    return full[lo] if lo >= QUALITY_MIN else None


def _clearly_too_big(
    image: Image.Image, sample: _Sample, quality: int, full: bytes, max_bytes: int
) -> bool:
    """Whether the quality after ``quality`` (whose full encode ``full`` fits, and has
    calibrated ``sample``) is too big without encoding it in full: predicted more than
    :data:`PROOF_MARGIN` over ``max_bytes``, or more than :data:`CLOSE_MARGIN` over by
    ``sample`` joined with the bands between its own (twice the rows, a closer guess)."""
    ahead = sample.predict(quality + 1)
    if ahead > max_bytes * (1 + PROOF_MARGIN):
        return True
    if ahead <= max_bytes * (1 + CLOSE_MARGIN) or len(sample.parts) != 1:
        return False
    closer = sample.joined(_Sample.of(image, sample.encode, first=0))
    closer.calibrate(quality, full)
    return closer.predict(quality + 1) > max_bytes * (1 + CLOSE_MARGIN)
