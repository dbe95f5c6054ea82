"""Rules on a row's other cells: its title, its ids (target, replace id), its position and
its options, each against what the row's platform accepts.

Example
-------
>>> import pandas as pd
>>> from imgkit.intake.rules.context import Context
>>> frame = pd.DataFrame({"platform": ["tmall_item"] * 2, "file": ["a.jpg"] * 2,
...                       "probe_error": [""] * 2, "format": ["jpeg"] * 2,
...                       "target": ["1489161940", "1.65772E+18"], "position": ["1", "7"]})
>>> ctx = Context(frame, {}, {})
>>> id_mangled(ctx).tolist(), bad_position(ctx).tolist()
([False, True], [False, True])
>>> position_detail(ctx).tolist()[1]
"(position = '7'; 范围 / range 0–4)"
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from imgkit.intake.options import BOOL_WORDS
from imgkit.intake.rules.context import BOOL_OPTIONS, CLIENT_TYPES, Context, group_codes
from imgkit.intake.rules.core import any_of, as_mask, per_platform, rule, shown, written
from imgkit.intake.texts import matches, non_ascii
from imgkit.words import Lang

# A number in scientific notation ("1.65772E+18", "6E+15", "1.6577e18"): what Excel shows,
# and saves in a CSV, for an id typed into a number cell; the digits past the 15th are gone.
SCIENTIFIC = r"[+-]?\d+(?:\.\d+)?[eE][+-]?\d+"
# The id columns such a number can hide in, checked in this order.
ID_COLUMNS = ("target", "replace_id")
# Digits Python's \d takes and no platform does: full-width (U+FF10-FF19), Arabic-Indic...
WIDE_DIGITS = r"(?![0-9])\d"
_WIDE_NOTE = (
    "不接受全角数字,请使用半角数字",
    "full-width digits are not accepted: use half-width digits",
)
# How a target pattern reads to a person (a pattern not listed: the adapter's example).
_PATTERN_WORDS = {r"\d+": ("纯数字", "digits only")}
_POSITION = re.compile(r"[0-9]{1,9}")
# The options a platform may not use, checked by option_ignored.
IGNORABLE_OPTIONS = ("position", "is_major", "is_rectangle", "client_type", "need_distinct")

# --- titles -----------------------------------------------------------------------------------


def _title_over(ctx: Context, cut: bool) -> pd.Series:
    keys = ctx.platforms_where(lambda a: a.limits.title_max and a.limits.title_cut == cut)
    return ctx.on(keys) & (ctx.col("title").str.len() > ctx.limit("title_max"))


def title_detail(ctx: Context) -> pd.Series:
    """The title's length and the platform's limit, in characters."""
    length = ctx.col("title").str.len().astype(str)
    limit = ctx.limit("title_max").fillna(0).astype(int).astype(str)
    return "(" + length + " > " + limit + " " + ctx.say("字符", "characters") + ")"


@rule(
    "title_will_be_cut",
    severity="warning",
    zh="标题过长,将被截断",
    en="title too long: it will be cut",
    detail=title_detail,
)
def title_will_be_cut(ctx: Context) -> pd.Series:
    """A title over the limit of a platform that cuts it."""
    return _title_over(ctx, cut=True)


@rule(
    "title_too_long",
    severity="error",
    zh="标题过长",
    en="title too long",
    detail=title_detail,
)
def title_too_long(ctx: Context) -> pd.Series:
    """A title over the limit of a platform that refuses it."""
    return _title_over(ctx, cut=False)


def title_collision_detail(ctx: Context) -> pd.Series:
    """The title as the platform will see it."""
    return "(title = '" + shown(ctx.title) + "')"


@rule(
    "title_collision",
    severity="warning",
    zh="标题与本批次中另一行相同,将被加上(1)",
    en="same title as an earlier row: the platform will add (1)",
    detail=title_collision_detail,
)
def title_collision(ctx: Context) -> pd.Series:
    """Two rows of one shop's picture space get the same title: the later gets "(1)"."""
    keys = ctx.platforms_where(lambda a: a.limits.title_dedup)
    # Only the rows of such platforms: a row's group (platform, shop, title) holds rows of
    # its platform alone, so the others need not be compared (nor their titles hashed).
    rows = np.flatnonzero(ctx.on(keys).to_numpy())
    out = np.zeros(len(ctx.frame), dtype=bool)
    if len(rows):
        place = pd.factorize(ctx.groups("platform", "shop")[rows])[0].astype(np.int64)
        cut = group_codes(ctx.title.iloc[rows].str.slice(0, 50))[0]
        names = place * (len(rows) + 1) + np.asarray(cut, dtype=np.int64)
        out[rows] = pd.Series(names).duplicated(keep="first").to_numpy()
    return as_mask(ctx, out)


# --- ids and positions ------------------------------------------------------------------------


def _mangled(ctx: Context, column: str) -> pd.Series:
    def compute() -> pd.Series:
        if column not in ctx.frame.columns:
            return as_mask(ctx, False)
        return as_mask(ctx, matches(ctx.col(column), SCIENTIFIC))

    mangled: pd.Series = ctx.once(f"mangled:{column}", compute)
    return mangled


def id_mangled_detail(ctx: Context) -> pd.Series:
    """Each id column holding such a number, with the value as read."""
    text = pd.Series("", index=ctx.frame.index, dtype=object)
    for column in ID_COLUMNS:
        named = column + " = " + shown(ctx.col(column))
        text = text.where(~_mangled(ctx, column), (text + ", ").where(text != "", "") + named)
    return "(" + text + ")"


@rule(
    "id_mangled",
    severity="error",
    zh="ID 被 Excel 存成了数字,超过 15 位的数字已丢失精度(如 1.65772E+18);"
    "请把该列设为「文本」格式后重新填写原始ID",
    en="Excel stored this id as a number and lost its digits (e.g. 1.65772E+18); "
    "format the column as Text and type the original id again",
    detail=id_mangled_detail,
)
def id_mangled(ctx: Context) -> pd.Series:
    """The target or replace id is a number in scientific notation (Excel lost its digits)."""
    return any_of(ctx, (_mangled(ctx, column) for column in ID_COLUMNS))


def _wide_digits(values: pd.Series) -> pd.Series:
    # re.UNICODE: Python's re, whose \d takes every script's digits (RE2's takes 0-9).  Only
    # a value beyond ASCII can hold one: only those are searched.
    out = np.zeros(len(values), dtype=bool)
    rows = np.flatnonzero(non_ascii(values))
    if len(rows):
        out[rows] = matches(values.iloc[rows], WIDE_DIGITS, flags=re.UNICODE, full=False)
    return pd.Series(out, index=values.index, dtype=bool)


def _wide(ctx: Context, name: str) -> pd.Series:
    """``(name = 'value'; use half-width digits)``."""
    return "(" + written(ctx, name, ctx.col(name)) + "; " + ctx.say(*_WIDE_NOTE) + ")"


def target_form(adapter: object, lang: Lang) -> str:
    """What a well-formed target of ``adapter``'s platform is, from its declaration.

    English: the adapter's ``target_meaning`` and how its ``target_pattern`` reads; Chinese
    (the adapters declare their meaning in English only): the field it names and the pattern.

    >>> from imgkit.platforms import get_adapter
    >>> target_form(get_adapter("tmall_item"), "en")
    "the seller's item id (num_iid), digits only"
    >>> target_form(get_adapter("qianmi_sku"), "zh")
    '<num_iid>/<sku_id>'
    """
    meaning = str(getattr(adapter, "target_meaning", ""))
    pattern = str(getattr(adapter, "target_pattern", ""))
    zh_pattern, en_pattern = _PATTERN_WORDS.get(pattern, ("", ""))
    if lang == "en":
        return ", ".join(p for p in (meaning.replace("`", ""), en_pattern) if p)
    names = re.findall(r"`([^`]+)`", meaning)
    field = names[0] if names else pattern
    chinese = f"{zh_pattern} ({field})" if zh_pattern else field
    return chinese if lang == "zh" else f"{chinese} / {target_form(adapter, 'en')}"


def target_detail(ctx: Context) -> pd.Series:
    """The target as written (or that it is empty) and the form the platform expects; a
    word about full-width digits where it has them."""
    target = ctx.col("target")
    expected = per_platform(ctx, lambda adapter: target_form(adapter, ctx.lang))
    text = "(" + written(ctx, "target", target) + "; " + ctx.say("应为", "expected") + ": "
    return (text + expected + ")").where(~_wide_digits(target), _wide(ctx, "target"))


@rule(
    "bad_target",
    severity="error",
    zh="目标格式不正确",
    en="malformed target",
    detail=target_detail,
)
def bad_target(ctx: Context) -> pd.Series:
    """The target is not well-formed for the platform (e.g. Qianmi needs num_iid/sku_id).

    A target Excel turned into scientific notation is reported as ``id_mangled`` only.
    """
    target = ctx.col("target")
    out = as_mask(ctx, False)
    for key, adapter in ctx.adapters.items():
        rows = ctx.on([key])
        # The pattern as the platform means it, with ASCII classes (\d is 0-9, not U+FF11),
        # and as Python reads it (\s includes the ideographic space): both must match.
        # The flags also keep pandas on Python's re (pyarrow's RE2 reads \d its own way).
        # (texts.matches: Python's answer, whatever the column's storage.)
        pattern, chosen = adapter.target_pattern, target[rows]
        well_formed = matches(chosen, pattern, flags=(re.ASCII, re.UNICODE))
        out.loc[rows] = ~well_formed
    # No platform's ids have full-width digits, whatever its pattern lets through (Qianmi's
    # "num_iid/sku_id" takes any character but "/" and spaces).
    wide = _wide_digits(target) & ctx.known()
    return (out | wide) & ~_mangled(ctx, "target")


def _span(adapter: object) -> str:
    span = getattr(getattr(adapter, "limits", None), "positions", None)
    return "" if span is None else f"{span.start}–{span.stop - 1}"


def position_detail(ctx: Context) -> pd.Series:
    """The position as written and the platform's range; a word about full-width digits."""
    position = ctx.col("position")
    span = ctx.say("范围", "range") + " " + per_platform(ctx, _span)
    text = "(" + written(ctx, "position", position) + "; " + span + ")"
    return text.where(~_wide_digits(position), _wide(ctx, "position"))


@rule(
    "bad_position",
    severity="error",
    zh="位置超出范围",
    en="position out of range",
    detail=position_detail,
)
def bad_position(ctx: Context) -> pd.Series:
    """A position that is not a whole number in the platform's range."""
    position = ctx.col("position")
    # ASCII digits only: full-width 3 (U+FF13) is a digit to Python and pandas, not to the
    # platforms.
    digits = ctx.per_value("position", lambda v: _POSITION.fullmatch(v) is not None, dtype=bool)
    number = ctx.numbers("position").where(digits)
    out = as_mask(ctx, False)
    for key, adapter in ctx.adapters.items():
        span = adapter.limits.positions
        if span is None:
            continue
        inside = number.between(span.start, span.stop - 1)
        out |= ctx.on([key]) & (position != "") & ~inside.fillna(False).astype(bool)
    return out


# --- options ----------------------------------------------------------------------------------


def _declares(ctx: Context, option: str) -> list[str]:
    return ctx.platforms_where(lambda a: any(o.name == option for o in a.options))


@rule(
    "replace_unsupported",
    severity="error",
    zh="该平台不支持按ID替换",
    en="the platform cannot replace by id",
)
def replace_unsupported(ctx: Context) -> pd.Series:
    """A replace id on a platform that cannot replace (it would upload a new image)."""
    return (ctx.col("replace_id") != "") & ctx.known() & ~ctx.on(_declares(ctx, "replace_id"))


def _named(ctx: Context, broken: dict[str, pd.Series], accepted: bool = False) -> pd.Series:
    """ "(name = 'value', ...)" of the options broken on each row ("" where none is); with
    ``accepted``, each followed by the values it takes."""
    text = pd.Series("", index=ctx.frame.index, dtype=object)
    for name, mask in broken.items():
        named = written(ctx, name, ctx.col(name))
        if accepted:
            named = named + " (" + ctx.say("可用", "accepted") + ": " + _accepted(ctx, name) + ")"
        text = text.where(~mask, (text + ", ").where(text != "", "") + named)
    return ("(" + text + ")").where(text != "", "")


def _accepted(ctx: Context, name: str) -> str:
    """The values option ``name`` takes, as a person may write them."""
    if name == "client_type":
        return ", ".join(sorted(CLIENT_TYPES))
    # The Chinese words are accepted too; an English message names the English ones.
    words = sorted(w for w in BOOL_WORDS if w and (ctx.lang != "en" or w.isascii()))
    return "/".join(words)


def _bad_options(ctx: Context) -> dict[str, pd.Series]:
    def compute() -> dict[str, pd.Series]:
        # Each distinct value judged once, straight to a boolean per row.
        broken = {
            name: ctx.per_value(name, lambda v: v.lower() not in BOOL_WORDS, dtype=bool)
            for name in BOOL_OPTIONS
        }
        choices = set(CLIENT_TYPES.values())

        def unknown_client(raw: str) -> bool:
            client = CLIENT_TYPES.get(raw.lower(), raw)
            return client != "" and client not in choices

        broken["client_type"] = ctx.per_value("client_type", unknown_client, dtype=bool)
        return broken

    found: dict[str, pd.Series] = ctx.once("bad_options", compute)
    return found


def bad_option_detail(ctx: Context) -> pd.Series:
    """Each option with a value it cannot take, as written, and the values it takes."""
    return _named(ctx, _bad_options(ctx), accepted=True)


@rule(
    "bad_option",
    severity="error",
    zh="选项取值无效",
    en="invalid option value",
    detail=bad_option_detail,
)
def bad_option(ctx: Context) -> pd.Series:
    """A yes/no option that is neither, or an unknown client type."""
    return any_of(ctx, _bad_options(ctx).values())


def _ignored(ctx: Context) -> dict[str, pd.Series]:
    def compute() -> dict[str, pd.Series]:
        return {
            name: (ctx.col(name) != "") & ctx.known() & ~ctx.on(_declares(ctx, name))
            for name in IGNORABLE_OPTIONS
            if name in ctx.frame.columns
        }

    found: dict[str, pd.Series] = ctx.once("ignored_options", compute)
    return found


def option_ignored_detail(ctx: Context) -> pd.Series:
    """Each option set that the platform does not use, as written."""
    return _named(ctx, _ignored(ctx))


@rule(
    "option_ignored",
    severity="warning",
    zh="该平台不使用此选项",
    en="the platform ignores this option",
    detail=option_ignored_detail,
)
def option_ignored(ctx: Context) -> pd.Series:
    """An option column set on a platform that does not use it."""
    return any_of(ctx, _ignored(ctx).values())
