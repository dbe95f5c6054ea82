"""The validation rules: each a named function of the frame returning a boolean mask.

Rules read the per-platform limits the adapters declare (a limit is written once) through a
:class:`Context` holding the batch, the probe facts and derived columns computed once.  No
rule loops over rows: masks come from ``map``, ``isin``, ``between``, ``str`` methods,
``duplicated`` and group counts.  :data:`RULES` is the table :func:`imgkit.validate` runs,
in order; it says each code's severity and whether :func:`imgkit.fit` repairs it.

Example
-------
>>> RULES_BY_CODE["too_large"].severity, RULES_BY_CODE["too_large"].fixable
('error', True)
>>> "| `unknown_platform` | error | no | 未知平台 / unknown platform |" in rules_markdown()
True
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from imgkit.errors import UnknownPlatformError
from imgkit.intake.probe import CLAIMED_FORMAT
from imgkit.intake.shops import Shop
from imgkit.platforms import get_adapter, platform_keys, resolve_platform

TRUE_WORDS = frozenset({"1", "true", "yes", "y", "t", "是"})
BOOL_WORDS = TRUE_WORDS | {"0", "false", "no", "n", "f", "否", ""}
BOOL_OPTIONS = ("is_major", "is_rectangle", "need_distinct", "is_https")
CLIENT_TYPES = {"computer": "client:computer", "phone": "client:phone"}
# A number in scientific notation ("1.65772E+18", "6E+15", "1.6577e18"): what Excel shows,
# and saves in a CSV, for an id typed into a number cell; the digits past the 15th are gone.
SCIENTIFIC = r"[+-]?\d+(?:\.\d+)?[eE][+-]?\d+"
# The id columns such a number can hide in, checked in this order.
ID_COLUMNS = ("target", "replace_id")
# What no path or URL holds: NUL (the OS refuses it) and other control characters (a
# newline or tab pasted with the cell).  Checked before probing, which could not open them.
CONTROL_CHARACTERS = r"[\x00-\x1f\x7f-\x9f]"
# Longer than Linux and macOS open: a path of 4096 bytes, a name of 255 (URLs: the path).
MAX_PATH_BYTES = 4096
MAX_NAME_BYTES = 255
# Digits Python's \d takes and no platform does: full-width (U+FF10-FF19), Arabic-Indic...
WIDE_DIGITS = r"(?![0-9])\d"
# A value shown in a message is cut to this many characters: a 200,000-character cell
# must not become a 200,000-character message.
SHOWN_CHARS = 60


@dataclass(frozen=True)
class Rule:
    """One check: a code, a severity, whether fit repairs it, words, and the mask function.

    ``detail`` (optional) gives a per-row detail (numbers, so one text serves both languages).
    """

    code: str
    severity: str
    fixable: bool
    zh: str
    en: str
    check: Callable[[Context], pd.Series]
    detail: Callable[[Context], pd.Series] | None = None


# --- the frame and its derived columns ----------------------------------------------------


class Context:
    """The frame under validation with its derived columns, computed once and shared."""

    def __init__(self, frame: pd.DataFrame, shops: dict[str, Shop], bad_shops: dict[str, str]):
        self.frame = frame
        self.shops = shops
        self.bad_shops = bad_shops
        keys: dict[str, str] = {}
        for value in frame["platform"].unique():
            try:
                keys[value] = resolve_platform(value)
            except UnknownPlatformError:
                keys[value] = ""
        self.platform = frame["platform"].map(keys).astype(str)
        self.adapters = {key: get_adapter(key) for key in set(keys.values()) if key}
        self.has_image = (frame["probe_error"] == "") & (frame["format"] != "")
        self._columns: dict[str, pd.Series] = {}
        self._memo: dict[str, Any] = {}

    def mask(self, rule: Rule) -> pd.Series:
        """``rule``'s mask over the frame (NaN as False), computed once and shared."""
        found: pd.Series = self.once(
            "rule:" + rule.code, lambda: rule.check(self).fillna(False).astype(bool)
        )
        return found

    def once(self, name: str, compute: Callable[[], Any]) -> Any:
        """``compute()`` the first time ``name`` is asked for; the same answer after."""
        if name not in self._memo:
            self._memo[name] = compute()
        return self._memo[name]

    def no_rows(self) -> pd.Series:
        """An all-False mask over the frame."""
        return pd.Series(False, index=self.frame.index, dtype=bool)

    def col(self, name: str) -> pd.Series:
        """An input column as stripped text ("" when the column is absent); computed once."""
        if name not in self._columns:
            if name not in self.frame.columns:
                column = pd.Series("", index=self.frame.index, dtype=object)
            else:
                column = self.frame[name].fillna("").astype(str).str.strip()
            self._columns[name] = column
        return self._columns[name]

    def limit(self, attribute: str) -> pd.Series:
        """A per-row limit read from each row's adapter (NaN for unknown platforms)."""
        values = {key: getattr(a.limits, attribute) for key, a in self.adapters.items()}
        return pd.to_numeric(self.platform.map(values), errors="coerce")

    def platforms_where(self, predicate: Callable[[Any], bool]) -> list[str]:
        """Platform keys in this batch whose adapter satisfies ``predicate``."""
        return [key for key, adapter in self.adapters.items() if predicate(adapter)]

    def on(self, keys: list[str]) -> pd.Series:
        """Rows of the given platforms."""
        return self.platform.isin(keys)

    def option_true(self, name: str) -> pd.Series:
        """A boolean option as written by a person ("1", "是", "TRUE"...)."""
        return self.col(name).str.lower().isin(TRUE_WORDS)

    @cached_property
    def client_type(self) -> pd.Series:
        """``client_type`` normalized (``phone`` → ``client:phone``)."""
        raw = self.col("client_type")
        return raw.str.lower().map(CLIENT_TYPES).fillna(raw)

    @cached_property
    def title(self) -> pd.Series:
        """The title the platform will use: the given one, else the file name's stem."""
        title = self.col("title").copy()
        untitled = title == ""
        if untitled.any():
            files = self.frame["file"].astype(str)[untitled]
            stem = files.str.replace(r"^.*[\\/]", "", regex=True)
            title.loc[untitled] = stem.str.replace(r"\.[^.]*$", "", regex=True)
        return title

    def option_value(self, name: str) -> pd.Series:
        """An option as the pixel rules compare it (booleans as true/false)."""
        if name in BOOL_OPTIONS:
            return self.option_true(name).map({True: "true", False: "false"})
        if name == "client_type":
            return self.client_type
        return self.col(name)


def _mask(ctx: Context, values: pd.Series | np.ndarray | bool) -> pd.Series:
    return pd.Series(values, index=ctx.frame.index, dtype=bool)


def shown(values: pd.Series) -> pd.Series:
    """Values cut to :data:`SHOWN_CHARS` characters ("…" marks a cut), for messages.

    >>> shown(pd.Series(["short", "x" * 100])).str.len().tolist()
    [5, 61]
    """
    text = values.astype(str)
    long = text.str.len() > SHOWN_CHARS
    if not long.any():
        return text
    return text.where(~long, text.str.slice(0, SHOWN_CHARS) + "…")


def unprobeable(files: pd.Series) -> pd.Series:
    """Paths no probe should try: control characters, or longer than the system opens.

    Parameters
    ----------
    files
        The ``file`` column (paths or URLs), as text.

    Returns
    -------
    pandas.Series
        True where :func:`bad_path` or :func:`path_too_long` holds; validation probes only
        the other rows.

    Examples
    --------
    >>> unprobeable(pd.Series(["/a/b.jpg", "/a/" + chr(0) + ".jpg", "/" + "x" * 300])).tolist()
    [False, True, True]
    """
    return _control(files) | _too_long(files)


def _control(files: pd.Series) -> pd.Series:
    text = files.fillna("").astype(str)
    return text.str.contains(CONTROL_CHARACTERS, regex=True).astype(bool)


def _too_long(files: pd.Series) -> pd.Series:
    text = files.fillna("").astype(str)
    # A UTF-8 character is at most 4 bytes: only names over 63 characters can be too long.
    out = pd.Series(False, index=files.index, dtype=bool)
    suspect = text.str.len() > MAX_NAME_BYTES // 4
    if not suspect.any():
        return out
    # Per value, but only for the few long ones.
    out.loc[suspect] = np.array([_over_limits(v) for v in text[suspect].tolist()], dtype=bool)
    return out


def _over_limits(value: str) -> bool:
    if len(value.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        return True
    if "://" in value:
        return False  # a URL's segments are not file names
    return any(
        len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES for part in value.split("/")
    )


# --- the rules ------------------------------------------------------------------------------


def unknown_platform(ctx: Context) -> pd.Series:
    """The platform column names no platform imgkit knows."""
    return ctx.platform == ""


def unknown_platform_detail(ctx: Context) -> pd.Series:
    """The value as written and the platform keys imgkit accepts.

    Built once per distinct value of the column, then mapped onto the rows.
    """
    platform = ctx.col("platform")
    known = ", ".join(platform_keys())
    values = pd.Series(platform.unique())
    words = dict(
        zip(
            values.tolist(),
            ("'" + shown(values) + f"' (可用平台 / accepted: {known})").tolist(),
            strict=True,
        )
    )
    return platform.map(words)


def unknown_shop(ctx: Context) -> pd.Series:
    """The shop is in no shops configuration."""
    shop = ctx.col("shop")
    return ~shop.isin(list(ctx.shops)) & ~shop.isin(list(ctx.bad_shops))


def bad_shop(ctx: Context) -> pd.Series:
    """The shop's configuration is unusable (a missing credential, say)."""
    return ctx.col("shop").isin(list(ctx.bad_shops))


def shop_platform_mismatch(ctx: Context) -> pd.Series:
    """The shop belongs to another platform than the row names."""
    of_shop = ctx.col("shop").map({n: s.platform for n, s in ctx.shops.items()})
    return of_shop.notna() & (ctx.platform != "") & (of_shop != ctx.platform)


def bad_path(ctx: Context) -> pd.Series:
    """The path holds a NUL byte or a control character (a pasted newline, a tab)."""
    return _control(ctx.frame["file"])


def path_too_long(ctx: Context) -> pd.Series:
    """The path is longer than the system opens (4096 bytes, or a name over 255 bytes)."""
    return _too_long(ctx.frame["file"]) & ~bad_path(ctx)


def _probe_rule(code: str) -> Callable[[Context], pd.Series]:
    def check(ctx: Context) -> pd.Series:
        return ctx.frame["probe_error"] == code

    check.__name__ = code
    check.__doc__ = f"Probing the file found: {code}."
    return check


def _refused(ctx: Context) -> pd.Series:
    def compute() -> pd.Series:
        allowed = {f"{k}:{f}" for k, a in ctx.adapters.items() for f in a.limits.formats}
        pair = ctx.platform + ":" + ctx.frame["format"].astype(str)
        return ctx.has_image & (ctx.platform != "") & ~pair.isin(allowed)

    refused: pd.Series = ctx.once("refused", compute)
    return refused


def _heic_readable() -> bool:
    try:
        import pillow_heif  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        return False
    return True


def format_refused(ctx: Context) -> pd.Series:
    """The content's format is not one the platform takes (whatever the file is called)."""
    return _refused(ctx) & ~format_unreadable(ctx)


def format_unreadable(ctx: Context) -> pd.Series:
    """A refused format imgkit cannot convert here (HEIC without pillow-heif)."""
    return _refused(ctx) & (ctx.frame["format"] == "heic") & (not _heic_readable())


def extension_mismatch(ctx: Context) -> pd.Series:
    """The file name's extension claims another format than the content has."""
    # Extensions are short: look at the last characters only (much faster on 100k rows).
    tail = ctx.frame["file"].astype(str).str.slice(-6).str.rpartition(".")
    if tail.empty:  # rpartition of no rows has no columns at all
        return _mask(ctx, False)
    ext = tail[2].where(tail[1] == ".", "").str.lower()
    claimed = ext.map(CLAIMED_FORMAT)
    return ctx.has_image & claimed.notna() & (claimed != ctx.frame["format"]) & ~_refused(ctx)


def too_large(ctx: Context) -> pd.Series:
    """More bytes than the platform's limit."""
    return ctx.has_image & (ctx.frame["bytes"] > ctx.limit("max_bytes"))


def _mb(values: pd.Series) -> pd.Series:
    return (values / (1024 * 1024)).round(2).astype(str)


def too_large_detail(ctx: Context) -> pd.Series:
    """Size and limit in MB."""
    size, limit = _mb(ctx.frame["bytes"]), _mb(ctx.limit("max_bytes").fillna(0))
    return "(" + size + " MB > " + limit + " MB)"


def _pixel_masks(ctx: Context) -> tuple[pd.Series, pd.Series]:
    masks: tuple[pd.Series, pd.Series] = ctx.once("pixels", lambda: _compute_pixel_masks(ctx))
    return masks


def _compute_pixel_masks(ctx: Context) -> tuple[pd.Series, pd.Series]:
    width, height = ctx.frame["width"], ctx.frame["height"]
    sizes = _mask(ctx, False)
    ratios = _mask(ctx, False)
    for key, adapter in ctx.adapters.items():
        for rule in adapter.limits.pixel_rules:
            applies = ctx.has_image & (ctx.platform == key)
            if rule.when is not None:
                applies &= ctx.option_value(rule.when[0]) == rule.when[1]
            broken = _mask(ctx, False)
            for bound, series, too_small in (
                (rule.min_width, width, True),
                (rule.max_width, width, False),
                (rule.min_height, height, True),
                (rule.max_height, height, False),
            ):
                if bound is not None:
                    broken |= series < bound if too_small else series > bound
            sizes |= applies & broken
            if rule.ratio is not None:
                ratio_w, ratio_h = rule.ratio
                ratios |= applies & (width * ratio_h != height * ratio_w)
    return sizes, ratios


def bad_dimensions(ctx: Context) -> pd.Series:
    """A pixel rule's width or height bound is broken (e.g. phone images 480–620 wide)."""
    return _pixel_masks(ctx)[0]


def dimensions_detail(ctx: Context) -> pd.Series:
    """The image's pixel size."""
    return "(" + ctx.frame["width"].astype(str) + "x" + ctx.frame["height"].astype(str) + ")"


def bad_ratio(ctx: Context) -> pd.Series:
    """A ratio rule is broken (e.g. Tmall's 3:4 main image)."""
    return _pixel_masks(ctx)[1]


def _title_over(ctx: Context, cut: bool) -> pd.Series:
    keys = ctx.platforms_where(lambda a: a.limits.title_max and a.limits.title_cut == cut)
    return ctx.on(keys) & (ctx.col("title").str.len() > ctx.limit("title_max"))


def title_will_be_cut(ctx: Context) -> pd.Series:
    """A title over the limit of a platform that cuts it."""
    return _title_over(ctx, cut=True)


def title_too_long(ctx: Context) -> pd.Series:
    """A title over the limit of a platform that refuses it."""
    return _title_over(ctx, cut=False)


def title_collision(ctx: Context) -> pd.Series:
    """Two rows of one shop's picture space get the same title: the later gets "(1)"."""
    keys = ctx.platforms_where(lambda a: a.limits.title_dedup)
    cut = ctx.title.str.slice(0, 50)
    names = pd.DataFrame({"p": ctx.platform, "s": ctx.col("shop"), "t": cut})
    return ctx.on(keys) & names.duplicated(keep="first")


def _mangled(ctx: Context, column: str) -> pd.Series:
    def compute() -> pd.Series:
        if column not in ctx.frame.columns:
            return _mask(ctx, False)
        value = ctx.col(column)
        return _mask(ctx, value.str.fullmatch(SCIENTIFIC).fillna(False).astype(bool))

    mangled: pd.Series = ctx.once(f"mangled:{column}", compute)
    return mangled


def id_mangled(ctx: Context) -> pd.Series:
    """The target or replace id is a number in scientific notation (Excel lost its digits)."""
    out = _mask(ctx, False)
    for column in ID_COLUMNS:
        out |= _mangled(ctx, column)
    return out


def id_mangled_detail(ctx: Context) -> pd.Series:
    """Each id column holding such a number, with the value as read."""
    text = pd.Series("", index=ctx.frame.index, dtype=object)
    for column in ID_COLUMNS:
        named = column + " = " + shown(ctx.col(column))
        text = text.where(~_mangled(ctx, column), (text + ", ").where(text != "", "") + named)
    return "(" + text + ")"


def bad_target(ctx: Context) -> pd.Series:
    """The target is not well-formed for the platform (e.g. Qianmi needs num_iid/sku_id).

    A target Excel turned into scientific notation is reported as ``id_mangled`` only.
    """
    target = ctx.col("target")
    out = _mask(ctx, False)
    for key, adapter in ctx.adapters.items():
        rows = ctx.platform == key
        # The pattern as the platform means it, with ASCII classes (\d is 0-9, not U+FF11),
        # and as Python reads it (\s includes the ideographic space): both must match.
        # The flags also keep pandas on Python's re (pyarrow's RE2 reads \d its own way).
        pattern, chosen = adapter.target_pattern, target[rows]
        well_formed = chosen.str.fullmatch(pattern, flags=re.ASCII) & chosen.str.fullmatch(
            pattern, flags=re.UNICODE
        )
        out.loc[rows] = ~well_formed.astype(bool).to_numpy()
    # No platform's ids have full-width digits, whatever its pattern lets through (Qianmi's
    # "num_iid/sku_id" takes any character but "/" and spaces).
    wide = _wide_digits(target) & (ctx.platform != "")
    return (out | wide) & ~_mangled(ctx, "target")


_WIDE_NOTE = (
    "(不接受全角数字,请使用半角数字 / full-width digits are not accepted: use half-width digits)"
)


def _wide_digits(values: pd.Series) -> pd.Series:
    # re.UNICODE: Python's re, whose \d takes every script's digits (RE2's takes 0-9).
    return values.str.contains(WIDE_DIGITS, flags=re.UNICODE, regex=True).astype(bool)


def target_detail(ctx: Context) -> pd.Series:
    """The target as written; a word about full-width digits where it has them."""
    target = ctx.col("target")
    text = "(target = '" + shown(target) + "')"
    return text.where(~_wide_digits(target), _WIDE_NOTE)


def bad_position(ctx: Context) -> pd.Series:
    """A position that is not a whole number in the platform's range."""
    position = ctx.col("position")
    # ASCII digits only: full-width 3 (U+FF13) is a digit to Python and pandas, not to the
    # platforms.
    digits = position.str.fullmatch(r"[0-9]{1,9}").astype(bool)
    number = pd.to_numeric(position.where(digits), errors="coerce")
    out = _mask(ctx, False)
    for key, adapter in ctx.adapters.items():
        span = adapter.limits.positions
        if span is None:
            continue
        inside = number.between(span.start, span.stop - 1)
        out |= (ctx.platform == key) & (position != "") & ~inside.fillna(False).astype(bool)
    return out


def position_detail(ctx: Context) -> pd.Series:
    """The position as written; a word about full-width digits where it has them."""
    position = ctx.col("position")
    text = "(position = '" + shown(position) + "')"
    return text.where(~_wide_digits(position), _WIDE_NOTE)


def _declares(ctx: Context, option: str) -> list[str]:
    return ctx.platforms_where(lambda a: any(o.name == option for o in a.options))


def replace_unsupported(ctx: Context) -> pd.Series:
    """A replace id on a platform that cannot replace (it would upload a new image)."""
    return (
        (ctx.col("replace_id") != "") & (ctx.platform != "") & ~ctx.on(_declares(ctx, "replace_id"))
    )


def bad_option(ctx: Context) -> pd.Series:
    """A yes/no option that is neither, or an unknown client type."""
    out = _mask(ctx, False)
    for name in BOOL_OPTIONS:
        out |= ~ctx.col(name).str.lower().isin(BOOL_WORDS)
    client = ctx.client_type
    return out | ((client != "") & ~client.isin(list(CLIENT_TYPES.values())))


def option_ignored(ctx: Context) -> pd.Series:
    """An option column set on a platform that does not use it."""
    out = _mask(ctx, False)
    for name in ("position", "is_major", "is_rectangle", "client_type", "need_distinct"):
        if name in ctx.frame.columns:
            set_ = ctx.col(name) != ""
            out |= set_ & (ctx.platform != "") & ~ctx.on(_declares(ctx, name))
    return out


def unsendable(ctx: Context) -> pd.Series:
    """Rows an error that ``fit`` cannot repair keeps from being sent (a missing file...).

    Every such rule but :func:`too_many_images` itself, whatever its place in the table:
    the masks are computed once and shared with validation.
    """

    def compute() -> pd.Series:
        out = ctx.no_rows()
        for rule in RULES:
            if rule.severity == "error" and not rule.fixable and rule.code != "too_many_images":
                out |= ctx.mask(rule)
        return out

    found: pd.Series = ctx.once("unsendable", compute)
    return found


def too_many_images(ctx: Context) -> pd.Series:
    """More new images for one Tmall item or Qianmi SKU than the platform holds.

    Only rows that would be sent count: a row with a missing file takes no place.
    """
    keys = ctx.platforms_where(lambda a: a.limits.images_per_target)
    new = ctx.on(keys) & (ctx.col("replace_id") == "")
    if not new.any():
        return _mask(ctx, False)
    new &= ~unsendable(ctx)
    groups = pd.DataFrame({"p": ctx.platform, "s": ctx.col("shop"), "t": ctx.col("target")})
    # Positions, not labels: a batch's index may repeat labels (a pd.concat of two).
    rank = groups[new].groupby(["p", "s", "t"]).cumcount().to_numpy()
    limit = ctx.limit("images_per_target")[new].to_numpy()
    over = np.zeros(len(ctx.frame), dtype=bool)
    over[np.flatnonzero(new.to_numpy())] = rank >= limit
    return _mask(ctx, over)


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


def _r(code: str, severity: str, fixable: bool, zh: str, en: str, check: Any, **kw: Any) -> Rule:
    return Rule(code, severity, fixable, zh, en, check, **kw)


RULES: tuple[Rule, ...] = (
    _r(
        "unknown_platform",
        "error",
        False,
        "未知平台",
        "unknown platform",
        unknown_platform,
        detail=unknown_platform_detail,
    ),
    _r("unknown_shop", "error", False, "店铺不在店铺配置中", "shop not configured", unknown_shop),
    _r("bad_shop", "error", False, "店铺配置不完整或有误", "shop misconfigured", bad_shop),
    _r(
        "shop_platform_mismatch",
        "error",
        False,
        "店铺属于另一个平台",
        "the shop belongs to another platform",
        shop_platform_mismatch,
    ),
    _r(
        "bad_path",
        "error",
        False,
        "路径包含空字符或控制字符",
        "path contains a NUL byte or control characters",
        bad_path,
    ),
    _r(
        "path_too_long",
        "error",
        False,
        "路径过长(超过 4096 字节,或文件名超过 255 字节)",
        "path too long (over 4096 bytes, or a name over 255 bytes)",
        path_too_long,
    ),
    _r("missing_file", "error", False, "文件不存在", "file not found", _probe_rule("missing_file")),
    _r(
        "unreadable_file",
        "error",
        False,
        "文件无法读取",
        "file cannot be read",
        _probe_rule("unreadable_file"),
    ),
    _r(
        "not_regular_file",
        "error",
        False,
        "不是普通文件(文件夹、设备或管道)",
        "not a regular file (a folder, device or pipe)",
        _probe_rule("not_regular_file"),
    ),
    _r(
        "file_too_large",
        "error",
        False,
        "文件超过 64 MiB,未读取",
        "larger than imgkit reads (64 MiB); not read",
        _probe_rule("file_too_large"),
    ),
    _r("empty_file", "error", False, "文件为空", "file is empty", _probe_rule("empty_file")),
    _r(
        "download_failed",
        "error",
        False,
        "图片地址无法下载",
        "the image URL could not be downloaded",
        _probe_rule("download_failed"),
    ),
    _r("not_image", "error", False, "文件不是图片", "not an image", _probe_rule("not_image")),
    _r(
        "corrupt_image",
        "error",
        False,
        "图片已损坏或不完整",
        "corrupt or truncated image",
        _probe_rule("corrupt_image"),
    ),
    _r(
        "decompression_bomb",
        "error",
        False,
        "图片像素过多(疑似解压炸弹)",
        "too many pixels (a decompression bomb?)",
        _probe_rule("decompression_bomb"),
    ),
    _r(
        "format_refused",
        "error",
        True,
        "平台不支持该图片格式",
        "the platform does not take this image format",
        format_refused,
    ),
    _r(
        "format_unreadable",
        "error",
        False,
        "平台不支持该格式,且本机无法转换(HEIC 需安装 pillow-heif)",
        "format refused and not convertible here (HEIC needs pillow-heif)",
        format_unreadable,
    ),
    _r(
        "extension_mismatch",
        "warning",
        False,
        "扩展名与图片实际格式不符",
        "the file extension does not match the content",
        extension_mismatch,
    ),
    _r(
        "too_large",
        "error",
        True,
        "图片超过平台大小上限",
        "image over the platform's size limit",
        too_large,
        detail=too_large_detail,
    ),
    _r(
        "bad_dimensions",
        "error",
        True,
        "图片尺寸不符合平台要求",
        "image dimensions outside the platform's rule",
        bad_dimensions,
        detail=dimensions_detail,
    ),
    _r(
        "bad_ratio",
        "error",
        True,
        "图片宽高比不符合要求(如3:4)",
        "wrong aspect ratio (e.g. 3:4)",
        bad_ratio,
        detail=dimensions_detail,
    ),
    _r(
        "title_will_be_cut",
        "warning",
        False,
        "标题过长,将被截断",
        "title too long: it will be cut",
        title_will_be_cut,
    ),
    _r("title_too_long", "error", False, "标题过长", "title too long", title_too_long),
    _r(
        "title_collision",
        "warning",
        False,
        "标题与本批次中另一行相同,将被加上(1)",
        "same title as an earlier row: the platform will add (1)",
        title_collision,
    ),
    _r(
        "id_mangled",
        "error",
        False,
        "ID 被 Excel 存成了数字,超过 15 位的数字已丢失精度(如 1.65772E+18);"
        "请把该列设为「文本」格式后重新填写原始ID",
        "Excel stored this id as a number and lost its digits (e.g. 1.65772E+18); "
        "format the column as Text and type the original id again",
        id_mangled,
        detail=id_mangled_detail,
    ),
    _r(
        "bad_target",
        "error",
        False,
        "目标格式不正确",
        "malformed target",
        bad_target,
        detail=target_detail,
    ),
    _r(
        "bad_position",
        "error",
        False,
        "位置超出范围",
        "position out of range",
        bad_position,
        detail=position_detail,
    ),
    _r(
        "replace_unsupported",
        "error",
        False,
        "该平台不支持按ID替换",
        "the platform cannot replace by id",
        replace_unsupported,
    ),
    _r("bad_option", "error", False, "选项取值无效", "invalid option value", bad_option),
    _r(
        "option_ignored",
        "warning",
        False,
        "该平台不使用此选项",
        "the platform ignores this option",
        option_ignored,
    ),
    _r(
        "too_many_images",
        "error",
        False,
        "同一目标的图片数量超过上限",
        "more images for one target than the platform holds",
        too_many_images,
    ),
    _r(
        "duplicate_row",
        "error",
        False,
        "与前面一行重复(同一目标、同一内容)",
        "duplicate of an earlier row (same target, same content)",
        duplicate_row,
    ),
)
RULES_BY_CODE = {rule.code: rule for rule in RULES}
FIXABLE = frozenset(rule.code for rule in RULES if rule.fixable)


_DOC = """# Validation rules

Generated by `python -m imgkit.docgen`; do not edit by hand.

`imgkit.validate(batch, shops)` probes every file once (format by content, bytes, pixels,
frames, SHA-256; cached by path, size and modification time) and runs these rules, in this
order, column-wise over the whole batch. A row is `ok` when it has no *error*; *warnings*
are reported and do not block the upload. `fixable` is true when every error of the row
can be repaired by `imgkit.fit` (convert, recompress, resize, pad). Limits come from the
adapters (`docs/platforms.md`).

"""


def rules_markdown() -> str:
    """The rule table as markdown, with its introduction (``docs/validation.md``)."""
    rows = [_DOC + "| code | severity | fixed by `fit` | meaning |", "|---|---|---|---|"]
    for rule in RULES:
        fixable = "yes" if rule.fixable else "no"
        rows.append(f"| `{rule.code}` | {rule.severity} | {fixable} | {rule.zh} / {rule.en} |")
    return "\n".join(rows) + "\n"
