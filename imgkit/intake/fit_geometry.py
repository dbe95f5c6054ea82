"""Fitting's geometry: which pixel rules apply to a row, and the sizes that meet them.

:func:`applicable_rules` picks a platform's pixel rules for a row's options; :class:`Box`
combines them into one set of bounds; :func:`plan_sizes` chooses the content size and the
white canvas around it (downscale to maximums, upscale only as far as a minimum needs, pad to a
ratio, never crop); :func:`apply_plan` carries a plan out on an image.

Example
-------
>>> from imgkit.platforms import get_adapter
>>> box = Box.of(applicable_rules(get_adapter("tmall_item").limits, {"is_rectangle": "是"}))
>>> box.ratio, box.holds(600, 800), box.holds(800, 800)
((3, 4), True, False)
>>> plan_sizes(800, 800, box, 1.0)
Plan(content=(800, 800), canvas=(801, 1068))
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd
from PIL import Image

from imgkit.platforms.base import Limits, PixelRule, bool_text

WHITE = (255, 255, 255)


class CannotFit(Exception):
    """The image cannot be made to conform; the message says why."""


def option_matches(expected: str, value: object) -> bool:
    """Whether an option's ``value`` (as the user wrote it) means a rule's ``expected`` value.

    ``true``/``false`` compare as booleans (``1``, ``yes``, ``是``, ``TRUE`` are true); other
    values compare without case, and ``phone`` stands for ``client:phone``.

    >>> option_matches("true", "是"), option_matches("true", "0")
    (True, False)
    >>> option_matches("client:phone", "phone"), option_matches("client:phone", "computer")
    (True, False)
    """
    text = _cell(value).lower()
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
class Box:
    """The pixel rules that apply, combined into one set of bounds."""

    min_w: int = 1
    max_w: int | None = None
    min_h: int = 1
    max_h: int | None = None
    ratio: tuple[int, int] | None = None

    @classmethod
    def of(cls, rules: tuple[PixelRule, ...]) -> Box:
        ratios = {_reduced(rule.ratio) for rule in rules if rule.ratio is not None}
        if len(ratios) > 1:
            raise CannotFit("the pixel rules ask for different ratios")
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
            raise CannotFit("the pixel rules contradict each other")
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
class Plan:
    """Resize the content to ``content``, then centre it on a white ``canvas``."""

    content: tuple[int, int]
    canvas: tuple[int, int]


def plan_sizes(width: int, height: int, box: Box, factor: float) -> Plan:
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
        raise CannotFit("the image cannot get small enough in bytes above the minimum size")
    if cw < 1 or ch < 1 or (factor < 1 and (cw < 8 or ch < 8)):
        raise CannotFit("the image cannot get small enough in bytes")
    return Plan((cw, ch), (max(cw, box.min_w), max(ch, box.min_h)))


def _plan_ratio(width: int, height: int, box: Box, ratio: tuple[int, int], factor: float) -> Plan:
    rw, rh = ratio
    # The smallest canvas of the ratio holding the image, then bounds in ratio units.
    units = max(-(-width // rw), -(-height // rh))
    lowest = max(-(-box.min_w // rw), -(-box.min_h // rh), 1)
    highest = min(
        box.max_w // rw if box.max_w is not None else sys.maxsize,
        box.max_h // rh if box.max_h is not None else sys.maxsize,
    )
    if lowest > highest:
        raise CannotFit(f"no size of ratio {rw}:{rh} meets the pixel rules")
    target = min(max(units, lowest), highest)
    if factor < 1:
        target = math.floor(target * factor)
        if target < lowest or target * min(rw, rh) < 8:
            raise CannotFit("the image cannot get small enough in bytes above the minimum size")
    scale = target / units
    cw = min(max(1, round(width * scale)), rw * target)
    ch = min(max(1, round(height * scale)), rh * target)
    return Plan((cw, ch), (rw * target, rh * target))


def _clamp(value: int, low: int, high: int | None) -> int:
    value = max(value, low)
    return min(value, high) if high is not None else value


def apply_plan(image: Image.Image, plan: Plan) -> Image.Image:
    out = image
    if out.size != plan.content:
        out = out.resize(plan.content, Image.Resampling.LANCZOS)
    if plan.canvas != plan.content:
        fill: tuple[int, ...] | int = 255 if out.mode == "L" else WHITE
        if out.mode == "RGBA":
            fill = (*WHITE, 255)
        canvas = Image.new(out.mode, plan.canvas, fill)
        canvas.info = dict(out.info)  # the colour profile, if any
        left = (plan.canvas[0] - plan.content[0]) // 2
        top = (plan.canvas[1] - plan.content[1]) // 2
        canvas.paste(out, (left, top))
        out = canvas
    return out


REDUCING_GAP = 2.0  # decode at least this many times the target size, as Image.thumbnail


def draft(image: Image.Image, upright: tuple[int, int], box: Box) -> bool:
    """Before decoding a JPEG that will be downscaled, have libjpeg decode it at a reduced
    scale (1/2, 1/4 or 1/8: :meth:`PIL.Image.Image.draft`), never below
    :data:`REDUCING_GAP` times the planned size, so the resize that follows has the same
    quality for a fraction of the work.  ``upright`` is the image's size once its EXIF
    orientation is applied.  Returns whether the decoded size changed.

    >>> import io
    >>> from PIL import Image
    >>> buf = io.BytesIO()
    >>> Image.new("RGB", (3000, 2000)).save(buf, "JPEG")
    >>> image = Image.open(buf)
    >>> draft(image, image.size, Box(max_w=620, max_h=960)), image.size
    (True, (1500, 1000))
    """
    if image.format not in ("JPEG", "MPO"):
        return False
    try:
        plan = plan_sizes(*upright, box, 1.0)
    except CannotFit:
        return False
    width, height = plan.content
    if width >= upright[0] or height >= upright[1]:
        return False
    wanted = (math.ceil(width * REDUCING_GAP), math.ceil(height * REDUCING_GAP))
    if upright != image.size:  # stored on its side
        wanted = wanted[::-1]
    before = image.size
    image.draft(None, wanted)
    return image.size != before


def geometry_actions(size: tuple[int, int], plan: Plan) -> list[str]:
    actions = []
    if plan.content[0] < size[0] or plan.content[1] < size[1]:
        actions.append("downscaled")
    elif plan.content[0] > size[0] or plan.content[1] > size[1]:
        actions.append("upscaled")
    if plan.canvas != plan.content:
        actions.append("padded")
    return actions


def _cell(value: object) -> str:
    """A cell as text: "" for None and NaN."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    return str(value).strip()
