"""Rules across rows: too many images for one target, two at one position, the same row twice.

These run last: :func:`too_many_images` counts only the rows that would be sent, which
needs every other rule's verdict (:func:`unsendable`).

Example
-------
>>> import pandas as pd
>>> from imgkit.intake.rules.context import Context
>>> frame = pd.DataFrame({"platform": ["doudian"] * 2, "shop": ["s"] * 2,
...                       "file": ["a.jpg", "b.jpg"], "target": ["0", "0"],
...                       "probe_error": [""] * 2, "format": ["jpeg"] * 2,
...                       "sha256": ["same", "same"]})
>>> duplicate_row(Context(frame, {}, {})).tolist()
[False, True]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from imgkit.intake.rules.context import Context
from imgkit.intake.rules.core import as_mask, registered, rule

_TOO_MANY = "too_many_images"
_POSITION_TAKEN = "position_taken"
# The rules that count the rows others let through: they cannot take part in that verdict.
_COUNTING = (_TOO_MANY, _POSITION_TAKEN)


def unsendable(ctx: Context) -> pd.Series:
    """Rows an error that ``fit`` cannot repair keeps from being sent (a missing file...).

    Every such rule but the counting ones (:func:`too_many_images`, :func:`position_taken`),
    whatever its place in the table:
    the masks are computed once and shared with validation.
    """

    def compute() -> pd.Series:
        out = ctx.no_rows()
        for entry in registered():
            if entry.severity == "error" and not entry.fixable and entry.code not in _COUNTING:
                out |= ctx.mask(entry)
        return out

    found: pd.Series = ctx.once("unsendable", compute)
    return found


def too_many_detail(ctx: Context) -> pd.Series:
    """The platform's limit of images per target."""
    limit = ctx.limit("images_per_target").fillna(0).astype(int).astype(str)
    return "(" + ctx.say("上限", "limit") + " " + limit + ")"


@rule(
    _TOO_MANY,
    severity="error",
    zh="同一目标的图片数量超过上限",
    en="more images for one target than the platform holds",
    detail=too_many_detail,
)
def too_many_images(ctx: Context) -> pd.Series:
    """More new images for one Tmall item or Qianmi SKU than the platform holds.

    Only rows that would be sent count: a row with a missing file takes no place.
    """
    keys = ctx.platforms_where(lambda a: a.limits.images_per_target)
    new = ctx.on(keys) & (ctx.col("replace_id") == "")
    if not new.any():
        return as_mask(ctx, False)
    new &= ~unsendable(ctx)
    groups = ctx.groups("platform", "shop", "target")
    # Positions, not labels: a batch's index may repeat labels (a pd.concat of two).
    chosen = groups[new.to_numpy()]
    rank = _rank_in_group(chosen)
    limit = ctx.limit("images_per_target")[new].to_numpy()
    over = np.zeros(len(ctx.frame), dtype=bool)
    over[np.flatnonzero(new.to_numpy())] = rank >= limit
    return as_mask(ctx, over)


def _rank_in_group(keys: np.ndarray) -> np.ndarray:
    """Each row's place among the rows before it with the same key (0, 1, 2...): a
    groupby's cumcount, in NumPy (a stable sort keeps the rows' order within a key)."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    starts = np.ones(len(keys), dtype=bool)
    starts[1:] = ordered[1:] != ordered[:-1]
    steps = np.arange(len(keys))
    first = np.maximum.accumulate(np.where(starts, steps, 0)) if len(keys) else steps
    rank = np.empty(len(keys), dtype=np.int64)
    rank[order] = steps - first
    return rank


def position_detail(ctx: Context) -> pd.Series:
    """The position the row would take (its own, or the platform's default)."""
    taken = _effective_position(ctx).astype("Int64").astype(str)
    return "(" + ctx.say("位置", "position") + " " + taken + ")"


def _effective_position(ctx: Context) -> pd.Series:
    written = ctx.numbers("position")  # "" is NaN: not written
    return written.fillna(ctx.limit("default_position"))


@rule(
    _POSITION_TAKEN,
    severity="error",
    zh="同一目标的这个位置已被前面一行占用(未填位置即默认位置)",
    en="an earlier row puts an image at the same position of this target (no position "
    "means the platform's default one)",
    detail=position_detail,
)
def position_taken(ctx: Context) -> pd.Series:
    """Two images for one Qianmi SKU at one position: the platform refuses the second.

    Only on platforms with a default position (Qianmi: 0), where a position cannot be
    shared; rows that would not be sent take no place.

    >>> import imgkit, pandas as pd
    >>> images = imgkit.sample_data() / "images"
    >>> files = [str(images / name) for name in ("mug.jpg", "cap.png", "watch.jpg")]
    >>> batch = pd.DataFrame({"platform": "qianmi_sku", "shop": "qianmi_shop", "file": files,
    ...                       "target": "18353/g1234", "position": ["", "1", "0"]})
    >>> checked = imgkit.validate(batch, shops=imgkit.sample_data() / "shops.toml")
    >>> checked["ok"].tolist(), checked["issues"].tolist()[2]
    ([True, True, False], 'position_taken')
    """
    keys = ctx.platforms_where(lambda a: a.limits.default_position is not None)
    sent = ctx.on(keys) & ~unsendable(ctx)
    if not sent.any():
        return as_mask(ctx, False)
    places = ctx.groups("platform", "shop", "target", _effective_position(ctx))
    # Positions, not labels: a batch's index may repeat labels (a pd.concat of two).
    clash = np.zeros(len(ctx.frame), dtype=bool)
    rows = np.flatnonzero(sent.to_numpy())
    clash[rows] = pd.Series(places[rows]).duplicated(keep="first").to_numpy()
    return as_mask(ctx, clash)


@rule(
    "duplicate_row",
    severity="error",
    zh="与前面一行重复(同一目标、同一内容)",
    en="duplicate of an earlier row (same target, same content)",
)
def duplicate_row(ctx: Context) -> pd.Series:
    """The same content again for the same destination: it would be stored twice."""
    rows = ctx.groups("platform", "shop", "target", "sha256", "replace_id")
    return ctx.has_image & as_mask(ctx, pd.Series(rows).duplicated(keep="first").to_numpy())
