"""Rules across rows: too many images for one target, and the same row twice.

These run last: :func:`too_many_images` counts only the rows that would be sent, which
needs every other rule's verdict (:func:`unsendable`).

Example
-------
>>> import pandas as pd
>>> from imgkit.intake.rules.core import Context
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

from imgkit.intake.rules.core import Context, as_mask, registered, rule

_TOO_MANY = "too_many_images"


def unsendable(ctx: Context) -> pd.Series:
    """Rows an error that ``fit`` cannot repair keeps from being sent (a missing file...).

    Every such rule but :func:`too_many_images` itself, whatever its place in the table:
    the masks are computed once and shared with validation.
    """

    def compute() -> pd.Series:
        out = ctx.no_rows()
        for entry in registered():
            if entry.severity == "error" and not entry.fixable and entry.code != _TOO_MANY:
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
    groups = pd.DataFrame({"p": ctx.platform, "s": ctx.col("shop"), "t": ctx.col("target")})
    # Positions, not labels: a batch's index may repeat labels (a pd.concat of two).
    rank = groups[new].groupby(["p", "s", "t"]).cumcount().to_numpy()
    limit = ctx.limit("images_per_target")[new].to_numpy()
    over = np.zeros(len(ctx.frame), dtype=bool)
    over[np.flatnonzero(new.to_numpy())] = rank >= limit
    return as_mask(ctx, over)


@rule(
    "duplicate_row",
    severity="error",
    zh="与前面一行重复(同一目标、同一内容)",
    en="duplicate of an earlier row (same target, same content)",
)
def duplicate_row(ctx: Context) -> pd.Series:
    """The same content again for the same destination: it would be stored twice."""
    rows = pd.DataFrame(
        {
            "p": ctx.platform,
            "s": ctx.col("shop"),
            "t": ctx.col("target"),
            "h": ctx.frame["sha256"],
            "r": ctx.col("replace_id"),
        }
    )
    return ctx.has_image & rows.duplicated(keep="first")
