"""Rules on where a row goes: its platform and its shop.

Example
-------
>>> import pandas as pd
>>> from imgkit.intake.rules.context import Context
>>> frame = pd.DataFrame({"platform": ["tmall_item", "jd"], "shop": ["s", "s"],
...                       "file": ["a.jpg"] * 2, "probe_error": [""] * 2, "format": [""] * 2})
>>> unknown_platform(Context(frame, {}, {})).tolist()
[False, True]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from imgkit.intake.rules.context import Context
from imgkit.intake.rules.core import as_mask, rule, shown, written
from imgkit.intake.texts import listed
from imgkit.platforms import platform_keys


def unknown_platform_detail(ctx: Context) -> pd.Series:
    """The value as written (or that the cell is empty) and the platform keys imgkit accepts.

    Built once per distinct value of the column, then mapped onto the rows.
    """
    platform = ctx.col("platform")
    accepted = f"{ctx.say('可用平台', 'accepted')}: {', '.join(platform_keys())}"
    values = pd.Series(platform.unique(), dtype=object)
    found = written(ctx, "platform", values)
    words = dict(zip(values.tolist(), ("(" + found + "; " + accepted + ")").tolist(), strict=True))
    return platform.map(words)


@rule(
    "unknown_platform",
    severity="error",
    zh="未知平台",
    en="unknown platform",
    detail=unknown_platform_detail,
)
def unknown_platform(ctx: Context) -> pd.Series:
    """The platform column names no platform imgkit knows."""
    return ctx.on([""])


# The shop rules' details (the shop's name, what is wrong with its configuration or the
# shops file) are added by validation, which alone knows the shops source.
@rule(
    "unknown_shop",
    severity="error",
    zh="店铺不在店铺配置中",
    en="shop not configured",
    detail_by=("shop",),
)
def unknown_shop(ctx: Context) -> pd.Series:
    """The shop is in no shops configuration."""
    shop = ctx.col("shop")
    return ~shop.isin(list(ctx.shops)) & ~shop.isin(list(ctx.bad_shops))


@rule(
    "bad_shop",
    severity="error",
    zh="店铺配置不完整或有误",
    en="shop misconfigured",
    detail_by=("shop",),
)
def bad_shop(ctx: Context) -> pd.Series:
    """The shop's configuration is unusable (a missing credential, say)."""
    return ctx.col("shop").isin(list(ctx.bad_shops))


def _platform_of_shop(ctx: Context) -> pd.Series:
    """The platform of each row's shop (None where the shop is not configured)."""
    platforms = {name: shop.platform for name, shop in ctx.shops.items()}
    return ctx.per_value("shop", platforms.get)


def shop_platform_detail(ctx: Context) -> pd.Series:
    """The shop, the platform it belongs to and the platform the row names."""
    of_shop = _platform_of_shop(ctx).fillna("")
    belongs, row = ctx.say("属于", "belongs to"), ctx.say("本行平台", "the row names")
    shop = "'" + shown(ctx.col("shop")) + "' "
    return "(" + shop + belongs + " " + of_shop.astype(str) + "; " + row + " " + ctx.platform + ")"


@rule(
    "shop_platform_mismatch",
    severity="error",
    zh="店铺属于另一个平台",
    en="the shop belongs to another platform",
    detail=shop_platform_detail,
)
def shop_platform_mismatch(ctx: Context) -> pd.Series:
    """The shop belongs to another platform than the row names."""
    # In numbers: each distinct shop's platform and each row's platform key get an id
    # from one vocabulary, then the rows compare ids (no million texts compared).
    vocabulary: dict[str, int] = {}
    row_key = np.array([vocabulary.setdefault(k, len(vocabulary)) for k in ctx.platform_keys])
    codes, uniques = ctx.codes("shop")
    owners = [ctx.shops[v].platform if v in ctx.shops else None for v in [*listed(uniques), ""]]
    owner = np.array(
        [-1 if o is None else vocabulary.setdefault(o, len(vocabulary)) for o in owners]
    )
    of_shop, of_row = owner[codes], row_key[ctx.platform_codes]
    mismatch = (of_shop >= 0) & (of_row != vocabulary.get("", -1)) & (of_shop != of_row)
    return as_mask(ctx, mismatch)
