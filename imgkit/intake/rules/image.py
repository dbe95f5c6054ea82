"""Rules on the image itself: its format, its bytes and its pixels against the platform's
limits.  These are the rules :func:`imgkit.fit` repairs (all but ``format_unreadable`` and
``extension_mismatch``).

Example
-------
>>> import pandas as pd
>>> from imgkit.intake.rules.context import Context
>>> frame = pd.DataFrame({"platform": ["qianmi_sku"] * 2, "file": ["a.jpg", "b.jpg"],
...                       "probe_error": ["", ""], "format": ["jpeg", "jpeg"],
...                       "bytes": [1000, 5_000_000], "width": [800, 800],
...                       "height": [800, 800]})
>>> ctx = Context(frame, {}, {})
>>> too_large(ctx).tolist()
[False, True]
>>> too_large_detail(ctx).tolist()[1]
'(4.77 MB > 上限 / limit 1.0 MB)'
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from imgkit.intake.probe import CLAIMED_FORMAT
from imgkit.intake.rules.context import Context
from imgkit.intake.rules.core import as_mask, per_platform, rule
from imgkit.intake.texts import listed
from imgkit.platforms.base import PixelRule


def _refused(ctx: Context) -> pd.Series:
    def compute() -> pd.Series:
        taken = as_mask(ctx, False)
        for key, adapter in ctx.adapters.items():
            formats = adapter.limits.formats
            taken |= ctx.on([key]) & ctx.per_value("format", formats.__contains__, bool)
        return ctx.has_image & ctx.known() & ~taken

    refused: pd.Series = ctx.once("refused", compute)
    return refused


def _heic_readable() -> bool:
    try:
        import pillow_heif  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        return False
    return True


def format_detail(ctx: Context) -> pd.Series:
    """The content's format and the formats the platform takes."""
    accepted = per_platform(ctx, lambda a: ", ".join(sorted(a.limits.formats)))
    found = ctx.say("格式", "format") + " " + ctx.frame["format"].astype(str)
    return "(" + found + "; " + ctx.say("可用格式", "accepted") + ": " + accepted + ")"


@rule(
    "format_refused",
    severity="error",
    fixable=True,
    zh="平台不支持该图片格式",
    en="the platform does not take this image format",
    detail=format_detail,
    detail_by=("platform", "format"),
)
def format_refused(ctx: Context) -> pd.Series:
    """The content's format is not one the platform takes (whatever the file is called)."""
    return _refused(ctx) & ~format_unreadable(ctx)


@rule(
    "format_unreadable",
    severity="error",
    zh="平台不支持该格式,且本机无法转换(HEIC 需安装 pillow-heif)",
    en="format refused and not convertible here (HEIC needs pillow-heif)",
    detail=format_detail,
    detail_by=("platform", "format"),
)
def format_unreadable(ctx: Context) -> pd.Series:
    """A refused format imgkit cannot convert here (HEIC without pillow-heif)."""
    return _refused(ctx) & (ctx.frame["format"] == "heic") & (not _heic_readable())


def _extension(ctx: Context) -> pd.Series:
    def compute() -> pd.Series:
        # Once per distinct file (a batch names fewer files than it has rows).
        return ctx.per_value("file", _extension_of)

    extension: pd.Series = ctx.once("extension", compute)
    return extension


def _extension_of(path: str) -> str:
    # Extensions are short: the last characters only.
    _, dot, extension = path[-6:].rpartition(".")
    return extension.lower() if dot else ""


def extension_detail(ctx: Context) -> pd.Series:
    """The extension and the format the content really has."""
    named = ctx.say("扩展名", "extension") + " ." + _extension(ctx) + "; "
    return (
        "("
        + named
        + ctx.say("内容为", "the content is")
        + " "
        + ctx.frame["format"].astype(str)
        + ")"
    )


@rule(
    "extension_mismatch",
    severity="warning",
    zh="扩展名与图片实际格式不符",
    en="the file extension does not match the content",
    detail=extension_detail,
)
def extension_mismatch(ctx: Context) -> pd.Series:
    """The file name's extension claims another format than the content has."""
    if ctx.frame.empty:
        return as_mask(ctx, False)
    # Compared as codes of the batch's formats: a file's claim is worked out once per
    # distinct file, and no row's format is made a text to compare with.
    format_codes, formats = ctx.codes("format")
    code_of = {name: k for k, name in enumerate(listed(formats))}
    claims = [CLAIMED_FORMAT.get(_extension_of(path)) for path in listed(ctx.codes("file")[1])]
    # -2: the name claims nothing; -3: a format no row has.  The last entry is for a row
    # without a file (code -1), as Context.per_value reads it.
    table = np.array([_NO_CLAIM if c is None else code_of.get(c, -3) for c in [*claims, None]])
    claimed = table[ctx.codes("file")[0]]
    mismatch = (claimed != _NO_CLAIM) & (claimed != format_codes)
    return ctx.has_image & as_mask(ctx, mismatch) & ~_refused(ctx)


_NO_CLAIM = -2


def _mb(values: pd.Series) -> pd.Series:
    return (values / (1024 * 1024)).round(2).astype(str)


def too_large_detail(ctx: Context) -> pd.Series:
    """The size and the limit, in MB."""
    size, limit = _mb(ctx.frame["bytes"]), _mb(ctx.limit("max_bytes").fillna(0))
    return "(" + size + " MB > " + ctx.say("上限", "limit") + " " + limit + " MB)"


@rule(
    "too_large",
    severity="error",
    fixable=True,
    zh="图片超过平台大小上限",
    en="image over the platform's size limit",
    detail=too_large_detail,
    detail_by=("platform", "bytes"),
)
def too_large(ctx: Context) -> pd.Series:
    """More bytes than the platform's limit."""
    return ctx.has_image & (ctx.frame["bytes"] > ctx.limit("max_bytes"))


def _pixel_masks(ctx: Context) -> tuple[pd.Series, pd.Series]:
    """(size broken, ratio broken)."""
    masks: tuple[pd.Series, pd.Series] = ctx.once(
        "pixels", lambda: _compute_pixel_masks(ctx, words=False)[:2]
    )
    return masks


def _pixel_words(ctx: Context) -> tuple[pd.Series, pd.Series]:
    """(the broken size rules' words, the ratio rules' words), for a detail's rows."""
    # Only the details ask for words, over the rows a rule holds for: the masks over the
    # whole batch are computed without them.
    words: tuple[pd.Series, pd.Series] = ctx.once(
        "pixel words", lambda: _compute_pixel_masks(ctx, words=True)[2:]
    )
    return words


def _compute_pixel_masks(
    ctx: Context, *, words: bool
) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    width, height = ctx.frame["width"], ctx.frame["height"]
    sizes = as_mask(ctx, False)
    ratios = as_mask(ctx, False)
    size_words = pd.Series("", index=ctx.frame.index, dtype=object)
    ratio_words = size_words.copy()
    for key, adapter in ctx.adapters.items():
        for pixel_rule in adapter.limits.pixel_rules:
            applies = ctx.has_image & ctx.on([key])
            if pixel_rule.when is not None:
                applies &= ctx.option_value(pixel_rule.when[0]) == pixel_rule.when[1]
            broken = as_mask(ctx, False)
            for bound, series, too_small in (
                (pixel_rule.min_width, width, True),
                (pixel_rule.max_width, width, False),
                (pixel_rule.min_height, height, True),
                (pixel_rule.max_height, height, False),
            ):
                if bound is not None:
                    broken |= series < bound if too_small else series > bound
            sizes |= applies & broken
            if words:
                size_words = _append(size_words, applies & broken, _words(pixel_rule, ctx))
            if pixel_rule.ratio is not None:
                ratio_w, ratio_h = pixel_rule.ratio
                off = applies & (width * ratio_h != height * ratio_w)
                ratios |= off
                if words:
                    ratio_words = _append(ratio_words, off, _words(pixel_rule, ctx))
    return sizes, ratios, size_words, ratio_words


def _words(pixel_rule: PixelRule, ctx: Context) -> str:
    """The rule as the adapter words it, else its bounds in numbers."""
    if pixel_rule.zh and pixel_rule.en:
        return ctx.say(pixel_rule.zh, pixel_rule.en)
    parts = [
        f"{name} {op} {bound}"
        for name, op, bound in (
            ("width", ">=", pixel_rule.min_width),
            ("width", "<=", pixel_rule.max_width),
            ("height", ">=", pixel_rule.min_height),
            ("height", "<=", pixel_rule.max_height),
        )
        if bound is not None
    ]
    if pixel_rule.ratio is not None:
        parts.append(f"ratio {pixel_rule.ratio[0]}:{pixel_rule.ratio[1]}")
    return ctx.say("要求", "required") + ": " + ", ".join(parts)


def _append(text: pd.Series, mask: pd.Series, words: str) -> pd.Series:
    return text.where(~mask, (text + "; ").where(text != "", "") + words)


def _size(ctx: Context) -> pd.Series:
    return "(" + ctx.frame["width"].astype(str) + "x" + ctx.frame["height"].astype(str) + ")"


def dimensions_detail(ctx: Context) -> pd.Series:
    """The image's pixel size and the pixel rule it breaks."""
    return _size(ctx) + " (" + _pixel_words(ctx)[0] + ")"


def ratio_detail(ctx: Context) -> pd.Series:
    """The image's pixel size and the ratio rule it breaks."""
    return _size(ctx) + " (" + _pixel_words(ctx)[1] + ")"


@rule(
    "bad_dimensions",
    severity="error",
    fixable=True,
    zh="图片尺寸不符合平台要求",
    en="image dimensions outside the platform's rule",
    detail=dimensions_detail,
)
def bad_dimensions(ctx: Context) -> pd.Series:
    """A pixel rule's width or height bound is broken (e.g. phone images 480–620 wide)."""
    return _pixel_masks(ctx)[0]


@rule(
    "bad_ratio",
    severity="error",
    fixable=True,
    zh="图片宽高比不符合要求(如3:4)",
    en="wrong aspect ratio (e.g. 3:4)",
    detail=ratio_detail,
)
def bad_ratio(ctx: Context) -> pd.Series:
    """A ratio rule is broken (e.g. Tmall's 3:4 main image)."""
    return _pixel_masks(ctx)[1]
