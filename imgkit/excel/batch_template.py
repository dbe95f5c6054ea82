"""The batch template: an empty workbook an operations colleague fills, and
:func:`imgkit.read_batch` reads as it reads any batch.

Sheets: **Batch** (one column per batch field, id columns as Text, drop-down lists for
the platform, the shop and every option with a fixed set of values), **Instructions**
(each column, and each platform's target, limits and options, generated from the
adapters' declarations), **Examples** (one row per platform, from the sample batch) and a
hidden **Lists** sheet holding the drop-downs' values.

Example
-------
>>> import tempfile, imgkit
>>> with tempfile.TemporaryDirectory() as folder:
...     path = template(f"{folder}/batch.xlsx", platforms=["tmall_item"])
...     list(imgkit.read_batch(path).columns)[:4]
['platform', 'shop', 'file', 'target']
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from imgkit.aliases import ShopsSource
from imgkit.errors import UnknownPlatformError
from imgkit.excel.styles import TEXT_FORMAT, TITLE_FONT, WRAP, fit_widths, style_header
from imgkit.intake.headers import HEADER_ALIASES, OPTIONAL_COLUMNS, REQUIRED_COLUMNS
from imgkit.intake.options import option_registry
from imgkit.platforms import get_adapter, platform_keys, resolve_platform
from imgkit.platforms.base import Adapter
from imgkit.samples import sample_data
from imgkit.words import DEFAULT_LANG, Lang, check_lang, say

SHEETS = {
    "batch": {"zh": "批量", "en": "Batch", "both": "Batch"},
    "instructions": {"zh": "说明", "en": "Instructions", "both": "Instructions"},
    "examples": {"zh": "示例", "en": "Examples", "both": "Examples"},
}
LISTS_SHEET = "Lists"
# Rows formatted as Text and offered the drop-downs: more than any batch a person types.
TEMPLATE_ROWS = 5000
# What each batch column is for, whatever the platform (the per-platform meaning of the
# target and the options comes from the adapters).
COLUMN_WORDS: dict[str, tuple[str, str]] = {
    "platform": ("平台代码或中文名", "the platform's key or one of its names"),
    "shop": ("店铺文件中的店铺名", "the shop's name in the shops file"),
    "file": ("图片文件路径或网址", "the image: a file path or an http(s) URL"),
    "target": ("图片上传到哪里(见下方各平台说明)", "where the image goes (see each platform)"),
}


def template(
    path: str | os.PathLike[str],
    shops: ShopsSource = None,
    platforms: Iterable[str] | None = None,
    *,
    lang: Lang = DEFAULT_LANG,
) -> Path:
    """Write an empty batch workbook at ``path`` for a person to fill.

    Parameters
    ----------
    path
        Where the ``.xlsx`` goes (replaced if it exists).
    shops
        A shops file, mapping or :class:`imgkit.Shops` whose shop names the ``shop``
        column offers (never their credentials); None: the column is free text.
    platforms
        Keys or names of the platforms the template is for (default: all).
    lang
        The headers' language: ``"zh"`` (平台, 店铺…), ``"en"`` (platform, shop…) or
        ``"both"`` (``平台 / platform``); :func:`imgkit.read_batch` reads each.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import tempfile, openpyxl
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     book = openpyxl.load_workbook(template(f"{folder}/t.xlsx", lang="zh"))
    ...     book.sheetnames, book["批量"]["A1"].value
    (['批量', '说明', '示例', 'Lists'], '平台')
    """
    lang = check_lang(lang)
    keys = _platforms(platforms)
    adapters = [get_adapter(key) for key in keys]
    columns = _columns(adapters)
    names = _shop_names(shops, keys)
    book = Workbook()
    batch = book.active
    assert batch is not None  # a new workbook has one sheet
    batch.title = SHEETS["batch"][lang]
    lists = book.create_sheet(LISTS_SHEET)
    _write_batch(batch, columns, lang)
    _drop_downs(batch, lists, columns, _choices(adapters, names))
    _write_instructions(book.create_sheet(SHEETS["instructions"][lang], 1), adapters, lang)
    _write_examples(book.create_sheet(SHEETS["examples"][lang], 2), keys, columns, lang)
    lists.sheet_state = "hidden"
    out = Path(path)
    book.save(out)
    return out


def header_for(column: str, lang: Lang) -> str:
    """A batch column's header in ``lang``.

    >>> header_for("target", "zh"), header_for("target", "both")
    ('目标', '目标 / target')
    """
    chinese = HEADER_ALIASES.get(column, (column,))[0]
    return say(chinese, column, lang)


def _platforms(platforms: Iterable[str] | None) -> list[str]:
    if platforms is None:
        return list(platform_keys())
    if isinstance(platforms, str):
        platforms = [platforms]
    keys: list[str] = []
    for name in platforms:
        try:
            key = resolve_platform(name)
        except UnknownPlatformError as exc:
            raise UnknownPlatformError(exc.message) from None
        if key not in keys:
            keys.append(key)
    return keys


def _columns(adapters: Sequence[Adapter]) -> list[str]:
    """The required columns, then each option at least one of the platforms takes."""
    taken = {option.name for adapter in adapters for option in adapter.options}
    return [*REQUIRED_COLUMNS, *(c for c in OPTIONAL_COLUMNS if c in taken)]


def _shop_names(shops: ShopsSource, keys: Sequence[str]) -> list[str]:
    if shops is None:
        return []
    from imgkit.intake.validation import load_shops_lenient

    good, _bad, _problem = load_shops_lenient(shops)
    return sorted(name for name, shop in good.items() if shop.platform in keys)


def _choices(adapters: Sequence[Adapter], shops: list[str]) -> dict[str, list[str]]:
    """The values each column's drop-down offers (a column with none is free text)."""
    found: dict[str, list[str]] = {"platform": [a.key for a in adapters]}
    if shops:
        found["shop"] = shops
    registry = option_registry()
    for name in OPTIONAL_COLUMNS:
        specs = [o for a in adapters for o in a.options if o.name == name]
        if not specs:
            continue
        if registry[name].kind == "bool":
            found[name] = ["true", "false"]
        elif all(spec.kind == "choice" for spec in specs):
            found[name] = sorted({c for spec in specs for c in spec.choices})
        elif name == "position":
            ranges = [a.limits.positions for a in adapters if a.limits.positions is not None]
            if ranges:
                found[name] = [str(n) for n in sorted({n for r in ranges for n in r})]
    return found


def _write_batch(sheet: Worksheet, columns: list[str], lang: Lang) -> None:
    sheet.append([header_for(c, lang) for c in columns])
    style_header(sheet)
    sheet.freeze_panes = "A2"
    widths = {"file": 40, "target": 24, "title": 30}
    for number, column in enumerate(columns, start=1):
        dimension = sheet.column_dimensions[get_column_letter(number)]
        dimension.width = max(widths.get(column, 14), len(header_for(column, lang)) + 4)
        # Every batch cell is text to imgkit: a whole column formatted as Text, so that
        # what is typed in ("0073", a 19-digit id) stays as typed.
        dimension.number_format = TEXT_FORMAT


def _drop_downs(
    sheet: Worksheet, lists: Worksheet, columns: list[str], choices: dict[str, list[str]]
) -> None:
    """A list validation per column with choices; the values live on the Lists sheet (an
    inline list is limited to 255 characters)."""
    for number, column in enumerate(columns, start=1):
        values = choices.get(column)
        if not values:
            continue
        letter = get_column_letter(number)
        lists.cell(row=1, column=number, value=column)
        for row, value in enumerate(values, start=2):
            lists.cell(row=row, column=number, value=value).number_format = TEXT_FORMAT
        source = f"{quote_sheetname(LISTS_SHEET)}!${letter}$2:${letter}${len(values) + 1}"
        rule = DataValidation(type="list", formula1=source, allow_blank=True)
        rule.error = "请从列表中选择 / choose a value from the list"
        rule.errorTitle = column
        rule.showErrorMessage = column != "shop"  # a shop not in this file may be meant
        sheet.add_data_validation(rule)
        rule.add(f"{letter}2:{letter}{TEMPLATE_ROWS + 1}")


def _limits_text(adapter: Adapter) -> str:
    limits = adapter.limits
    parts = [
        f"≤ {limits.max_bytes:,} bytes",
        "formats: " + ", ".join(sorted(limits.formats)),
    ]
    if limits.positions is not None:
        parts.append(f"position {limits.positions.start}–{limits.positions.stop - 1}")
    if limits.title_max:
        parts.append(f"title ≤ {limits.title_max}")
    for rule in limits.pixel_rules:
        sides = [
            f"width {rule.min_width or 0}–{rule.max_width or '∞'}",
            f"height {rule.min_height or 0}–{rule.max_height or '∞'}",
        ]
        if rule.ratio:
            sides.append(f"ratio {rule.ratio[0]}:{rule.ratio[1]}")
        when = f" when {rule.when[0]} = {rule.when[1]}" if rule.when else ""
        parts.append("pixels " + ", ".join(sides) + when)
    if limits.images_per_target:
        parts.append(f"≤ {limits.images_per_target} images per target")
    return "; ".join(parts)


def _write_instructions(sheet: Worksheet, adapters: Sequence[Adapter], lang: Lang) -> None:
    lines: list[list[Any]] = [
        [say("如何填写批量表", "How to fill in the batch", lang)],
        [
            say(
                "每行一张图片。平台、店铺、文件、目标必填;其余列按平台选填。",
                "One image per row. platform, shop, file and target are required; the other "
                "columns are options, by platform.",
                lang,
            )
        ],
        [],
        [say("列", "column", lang), say("说明", "what it is", lang)],
    ]
    headers = [4]
    for column, (zh, en) in COLUMN_WORDS.items():
        lines.append([header_for(column, lang), say(zh, en, lang)])
    for adapter in adapters:
        lines.append([])
        names = " / ".join((adapter.key, *adapter.declaration.aliases[:2]))
        lines.append([names])
        headers.append(len(lines))
        lines.append([say("目标", "target", lang), f"{adapter.target_meaning}"])
        lines.append([say("限制", "limits", lang), _limits_text(adapter)])
        for option in adapter.options:
            values = f" ({', '.join(option.choices)})" if option.choices else ""
            lines.append([header_for(option.name, lang), f"{option.meaning}{values}"])
    for line in lines:
        sheet.append(line)
    sheet["A1"].font = TITLE_FONT
    for row in headers:
        style_header(sheet, row)
    sheet.column_dimensions["A"].width = 28
    sheet.column_dimensions["B"].width = 100
    for (cell,) in sheet.iter_rows(min_row=2, min_col=2, max_col=2):
        cell.alignment = WRAP


def _write_examples(sheet: Worksheet, keys: Sequence[str], columns: list[str], lang: Lang) -> None:
    """One row per platform, from the sample batch (its shops are the sandbox's)."""
    from imgkit.intake.batch import read_batch

    samples = read_batch(sample_data() / "batch.csv")
    sheet.append([header_for(c, lang) for c in columns])
    rows: list[list[str]] = []
    for key in keys:
        mine = samples[samples["platform"].map(resolve_platform) == key]
        if mine.empty:
            continue
        first = mine.iloc[0]
        rows.append([str(first.get(c, "")) if pd.notna(first.get(c, "")) else "" for c in columns])
    for row in rows:
        sheet.append(row)
    for cells in sheet.iter_rows(min_row=2):
        for cell in cells:
            cell.number_format = TEXT_FORMAT
    style_header(sheet)
    sheet.freeze_panes = "A2"
    fit_widths(sheet, [[header_for(c, lang), *(r[i] for r in rows)] for i, c in enumerate(columns)])


__all__ = ["COLUMN_WORDS", "SHEETS", "TEMPLATE_ROWS", "header_for", "template"]
