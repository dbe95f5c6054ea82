"""Rules on where an image goes within its target: the main image's place, and images
that take no position (declared by each adapter's :class:`~imgkit.platforms.Limits`).

Tmall keeps position 0 for the main image, made by ``is_major``, and puts a 3:4 image
(``is_rectangle``) outside the five positions; the platform refuses a row that asks
otherwise (41 ``isv.invalid-parameter:position``), so validation says so first.

Example
-------
>>> import imgkit, pandas as pd
>>> files = [str(imgkit.sample_data() / "images" / name) for name in ("mug.jpg", "watch.jpg")]
>>> batch = pd.DataFrame({"platform": "tmall_item", "shop": "tmall_store", "file": files,
...                       "target": "1489161940", "position": ["0", "2"]})
>>> checked = imgkit.validate(batch, shops=imgkit.sample_data() / "shops.toml")
>>> checked["ok"].tolist(), checked["issues"].tolist()[0]
([False, True], 'position_not_for_image')
"""

from __future__ import annotations

import pandas as pd

from imgkit.intake.rules.context import Context
from imgkit.intake.rules.core import as_mask, rule


def placement_detail(ctx: Context) -> pd.Series:
    """What the position is kept for, on the row's platform."""
    out = pd.Series("", index=ctx.frame.index, dtype=object)
    for key, adapter in ctx.adapters.items():
        limits = adapter.limits
        if limits.main_position is None:
            continue
        rows = ctx.on([key])
        words = ctx.say(
            f"位置 {limits.main_position} 只给主图({limits.main_flag});"
            f"{limits.unplaced_flag} 的图片不占位置",
            f"position {limits.main_position} is the main image's ({limits.main_flag}); "
            f"an {limits.unplaced_flag} image takes no position",
        )
        out.loc[rows] = "(" + ctx.col("position")[rows].map(lambda p: p or "-") + "; " + words + ")"
    return out


@rule(
    "position_not_for_image",
    severity="error",
    zh="这个位置不适用于这张图片(主图、非主图或3:4图)",
    en="this position is not for this kind of image (main, other or 3:4 image)",
    detail=placement_detail,
)
def position_not_for_image(ctx: Context) -> pd.Series:
    """The main image's position asked by another image, another by the main image, or
    any position by an image that takes none."""
    out = as_mask(ctx, False)
    written = ctx.col("position")
    number = ctx.numbers("position")
    for key, adapter in ctx.adapters.items():
        limits = adapter.limits
        if limits.main_position is None:
            continue
        rows = ctx.on([key]) & (written != "")
        main = ctx.option_true(limits.main_flag) if limits.main_flag else as_mask(ctx, False)
        unplaced = (
            ctx.option_true(limits.unplaced_flag) if limits.unplaced_flag else as_mask(ctx, False)
        )
        at_main = number == limits.main_position
        wrong = unplaced | (main & ~at_main) | (~main & ~unplaced & at_main)
        out |= rows & wrong.fillna(False).astype(bool)
    return out
