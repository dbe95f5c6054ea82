"""The results workbook: :func:`to_excel` writes a results frame as a workbook a person
enjoys opening, and :func:`imgkit.read_results` reads back exactly.

Sheets: **Results** (``结果`` in Chinese) in the user's own headers, status first and
coloured, header frozen, autofilter, fitted widths, ids as text, URLs as links; **Summary**
(:mod:`imgkit.excel.summary`); **Issues** when rows were invalid (one row per row and issue).

Example
-------
>>> import tempfile, pandas as pd
>>> results = pd.DataFrame({"row": [2], "status": ["uploaded"], "platform": ["tmall_item"],
...     "shop": ["tmall_store"], "target": ["0073322002"], "file": ["/data/mug.jpg"],
...     "url": ["https://img.example/1.jpg"], "attempts": [1]})
>>> with tempfile.TemporaryDirectory() as folder:
...     path = to_excel(results, f"{folder}/results.xlsx", lang="en")
...     back = imgkit.read_results(path)
>>> back.loc[0, "target"], int(back.loc[0, "attempts"])
('0073322002', 1)
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet

import imgkit
from imgkit.excel.styles import (
    LINK_FONT,
    STATUS_FILLS,
    TEXT_FORMAT,
    WRAP,
    fit_widths,
    print_setup,
    style_header,
)
from imgkit.excel.summary import write_summary
from imgkit.excel.thumbnails import add_thumbnails
from imgkit.intake.batch import HEADERS_ATTR
from imgkit.intake.headers import HEADER_ALIASES
from imgkit.report.result_cells import RESULT_HEADER_ALIASES
from imgkit.report.results import STATUS_NAMES
from imgkit.scrub_logs import registry
from imgkit.words import DEFAULT_LANG, Lang, check_lang, say

SHEET_NAMES: dict[str, Mapping[str, str]] = {
    "results": {"zh": "结果", "en": "Results", "both": "Results"},
    "summary": {"zh": "汇总", "en": "Summary", "both": "Summary"},
    "issues": {"zh": "问题", "en": "Issues", "both": "Issues"},
}
# Numbers stay numbers (they are counted and summed); everything else is written as text.
_NUMBER_COLUMNS = frozenset(("row", "attempts", "elapsed_s", "bytes", "width", "height"))
_MESSAGE_COLUMNS = frozenset(("message", "fit_actions"))
_EXCEL_MAX_TEXT = 32767  # the most characters one cell holds


def to_excel(
    results: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    lang: Lang = DEFAULT_LANG,
    thumbnails: bool = False,
    settings: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``results`` as a styled workbook at ``path``; :func:`imgkit.read_results`
    reads it back equal (dtypes, ids, Chinese text, empty cells).

    Parameters
    ----------
    results
        A results frame (:func:`imgkit.upload`, :func:`imgkit.retry_failed`, …).
    path
        Where the ``.xlsx`` goes (replaced if it exists).
    lang
        ``"zh"``: Chinese headers, sheet names and status words; ``"en"``: English;
        ``"both"``: the batch's own headers, English result headers and statuses, Chinese
        and English words in the summary.  Messages stay as the run wrote them.
    thumbnails
        Add a small picture of each row's local file (the first
        :data:`imgkit.excel.thumbnails.MAX_THUMBNAILS` rows).
    settings
        What the run was asked to do (concurrency, dry run, …), listed on the Summary
        sheet; names that say secret, token, session, password or key are left out.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import tempfile, openpyxl
    >>> with imgkit.Sandbox() as sb:
    ...     results = imgkit.upload("sample_data/batch.csv", shops=sb.shops,
    ...                             journal=False, progress=False)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     book = openpyxl.load_workbook(to_excel(results, f"{folder}/r.xlsx", lang="zh"))
    ...     book.sheetnames, book["结果"]["B1"].value, book["结果"]["B2"].value
    (['结果', '汇总'], '状态', '已上传')
    """
    lang = check_lang(lang)
    if "status" not in results.columns:
        raise ValueError(
            "to_excel 需要上传结果表(有“status”列) / to_excel needs a results frame (with a "
            "'status' column): write a validated batch with DataFrame.to_excel"
        )
    out = Path(path)
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new workbook has one sheet
    sheet.title = SHEET_NAMES["results"][lang]
    written = _write_results(sheet, results, lang)
    if thumbnails:
        add_thumbnails(sheet, results, column=written + 1)
    write_summary(
        book.create_sheet(SHEET_NAMES["summary"][lang]),
        results,
        lang,
        settings,
        imgkit.__version__,
    )
    issues = issues_rows(results)
    if issues:
        _write_issues(book.create_sheet(SHEET_NAMES["issues"][lang]), issues, lang)
    for each in book.worksheets:
        print_setup(each)
    book.save(out)
    return out


def headers_for(results: pd.DataFrame, lang: Lang) -> list[str]:
    """The header of each column: the user's own for a batch column, else the column's
    name in ``lang`` (a name :func:`imgkit.read_results` maps back).

    >>> frame = pd.DataFrame(columns=["platform", "status", "note"])
    >>> frame.attrs["imgkit_headers"] = {"platform": "平台"}
    >>> headers_for(frame, "en"), headers_for(frame, "zh")
    (['平台', 'status', 'note'], ['平台', '状态', 'note'])
    """
    own = results.attrs.get(HEADERS_ATTR)
    own = own if isinstance(own, Mapping) else {}
    names = []
    for column in results.columns:
        text = str(column)
        if isinstance(own.get(column), str) and own[column]:
            names.append(own[column])
        elif lang == "zh" and column in RESULT_HEADER_ALIASES:
            names.append(RESULT_HEADER_ALIASES[column][0])
        elif lang == "zh" and column in HEADER_ALIASES:
            names.append(HEADER_ALIASES[column][0])
        else:
            names.append(text)
    return names


def _cell(column: Hashable, value: Any) -> Any:
    """The value a cell holds: numbers for the counted columns, text for all the rest."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if column in _NUMBER_COLUMNS and isinstance(value, int | float | np.integer | np.floating):
        return value.item() if isinstance(value, np.generic) else value
    if isinstance(value, pd.Timestamp | dt.datetime):
        return pd.Timestamp(value).isoformat()  # its offset kept: Excel dates have none
    text = registry().text(str(value))  # a secret a server echoed never reaches a sheet
    return text[:_EXCEL_MAX_TEXT] if text else None


def _write_results(sheet: Worksheet, results: pd.DataFrame, lang: Lang) -> int:
    columns = list(results.columns)
    sheet.append(headers_for(results, lang))
    statuses = results["status"].astype(str).tolist()
    at = {name: number for number, name in enumerate(columns, start=1)}
    text_columns = [n for c, n in at.items() if c not in _NUMBER_COLUMNS]
    for status, values in zip(statuses, results.itertuples(index=False, name=None), strict=True):
        row = [_cell(column, value) for column, value in zip(columns, values, strict=True)]
        if lang == "zh" and status in STATUS_NAMES:
            row[at["status"] - 1] = STATUS_NAMES[status].zh
        sheet.append(row)
    for number in text_columns:  # typed-in ids stay text when a person edits the sheet
        for (cell,) in sheet.iter_rows(
            min_row=2, max_row=len(results) + 1, min_col=number, max_col=number
        ):
            cell.number_format = TEXT_FORMAT
    for (cell,), status in zip(
        sheet.iter_rows(min_row=2, min_col=at["status"], max_col=at["status"]),
        statuses,
        strict=False,
    ):
        if status in STATUS_FILLS:
            cell.fill = STATUS_FILLS[status]
    if "url" in at:
        for (cell,) in sheet.iter_rows(min_row=2, min_col=at["url"], max_col=at["url"]):
            if isinstance(cell.value, str) and cell.value.startswith(("http://", "https://")):
                cell.hyperlink = cell.value
                cell.font = LINK_FONT
    for name in _MESSAGE_COLUMNS & set(at):
        for (cell,) in sheet.iter_rows(min_row=2, min_col=at[name], max_col=at[name]):
            cell.alignment = WRAP
    style_header(sheet)
    # Frozen: the header, and row + status when they lead (scrolling right keeps them).
    lead = 2 if columns[:2] == ["row", "status"] else 0
    sheet.freeze_panes = sheet.cell(row=2, column=lead + 1).coordinate
    if columns:
        sheet.auto_filter.ref = sheet.dimensions
    header = headers_for(results, lang)
    fit_widths(sheet, [[header[i], *results.iloc[:, i].tolist()] for i in range(len(columns))])
    return len(columns)


def issues_rows(results: pd.DataFrame) -> list[dict[str, str]]:
    """One entry per (invalid row, issue): its code and the message line that says it.

    Validation writes an invalid row's codes in ``code`` (joined by ``;``) and its
    messages in ``message``, one line per code in the same order.

    >>> frame = pd.DataFrame({"row": [3], "status": ["invalid"], "code": ["too_large;bad_target"],
    ...                       "message": ["[错误] 过大\\n[错误] 目标"]})
    >>> [(i["code"], i["message"]) for i in issues_rows(frame)]
    [('too_large', '[错误] 过大'), ('bad_target', '[错误] 目标')]
    """
    if "code" not in results.columns:
        return []
    invalid = results[results["status"].astype(str).eq("invalid").to_numpy()]
    found: list[dict[str, str]] = []
    for _, row in invalid.iterrows():
        codes = [c for c in str(row.get("code", "") or "").split(";") if c]
        lines = str(row.get("message", "") or "").split("\n")
        for number, code in enumerate(codes):
            found.append(
                {
                    "row": str(row.get("row", "")),
                    "platform": str(row.get("platform", "")),
                    "shop": str(row.get("shop", "")),
                    "file": str(row.get("file", "")),
                    "code": code,
                    "message": lines[number] if number < len(lines) else "",
                }
            )
    return found


def _write_issues(sheet: Worksheet, issues: list[dict[str, str]], lang: Lang) -> None:
    names = {
        "row": say("行号", "row", lang),
        "platform": say("平台", "platform", lang),
        "shop": say("店铺", "shop", lang),
        "file": say("文件", "file", lang),
        "code": say("问题代码", "issue", lang),
        "message": say("说明", "message", lang),
    }
    sheet.append(list(names.values()))
    for issue in issues:
        sheet.append([_cell("", issue[key]) for key in names])
    style_header(sheet)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    fit_widths(sheet, [[names[k], *(i[k] for i in issues)] for k in names])


__all__ = ["SHEET_NAMES", "headers_for", "issues_rows", "to_excel"]
