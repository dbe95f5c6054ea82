"""The Summary sheet of a results workbook: what became of the batch, what to do next.

Counts by platform and status, the totals, the error categories met with what to do about
each (:data:`ADVICE`, one entry per :class:`imgkit.errors.Category`), when the workbook was
written, by which imgkit, from which batch and with which settings.

Example
-------
>>> import pandas as pd
>>> results = pd.DataFrame({"platform_key": ["tmall_item", "doudian"],
...                         "status": ["uploaded", "failed"], "category": ["", "auth"]})
>>> categories(results)
[('auth', 1)]
>>> ADVICE["auth"].en.split(";")[0]
'the shop was refused'
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pandas as pd
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from imgkit.errors import Category
from imgkit.excel.styles import BOLD, TITLE_FONT, WRAP, display_width, fit_widths, style_header
from imgkit.report.results import STATUS_NAMES, STATUSES
from imgkit.words import Lang, Words, say

# What a person can do about each kind of failure (categories of imgkit.errors.Category).
ADVICE: dict[str, Words] = {
    Category.INVALID_INPUT: Words(
        "表格中的值不正确;按信息列修改该行后重新发送",
        "a value in the sheet is wrong; fix the row as its message says and send it again",
    ),
    Category.TOO_LARGE: Words(
        "图片超过平台的大小限制;用 imgkit.fit 压缩后重新发送",
        "the image is over the platform's size limit; shrink it with imgkit.fit and send again",
    ),
    Category.BAD_FORMAT: Words(
        "平台不接受该图片格式;用 imgkit.fit 转换格式",
        "the platform does not take this image format; convert it with imgkit.fit",
    ),
    Category.BAD_DIMENSIONS: Words(
        "图片像素尺寸不符合要求;用 imgkit.fit 调整尺寸",
        "the pixel size is outside the platform's rule; resize it with imgkit.fit",
    ),
    Category.AUTH: Words(
        "店铺凭证被拒;检查店铺文件中的 app_key、密钥和授权是否有效(imgkit shops check)",
        "the shop was refused; check its app key, secret and session in the shops file "
        "(imgkit shops check)",
    ),
    Category.PERMISSION: Words(
        "该应用没有此接口的权限;在平台上为应用开通权限",
        "the app may not call this API; grant the permission on the platform",
    ),
    Category.QUOTA: Words(
        "应用或店铺的调用额度已用完;等额度恢复后重试",
        "the app's or shop's quota is used up; retry once it is renewed",
    ),
    Category.NOT_FOUND: Words(
        "目标(商品、SKU、分类或文件夹)不存在;检查目标列",
        "the target (item, SKU, category or folder) does not exist; check the target column",
    ),
    Category.RATE_LIMITED: Words(
        "请求过快被限流;稍后用 retry_failed 重试,或降低店铺的 rate_per_s",
        "requests came too fast; retry later with retry_failed, or lower the shop's rate_per_s",
    ),
    Category.TRANSIENT: Words(
        "平台暂时出错;用 retry_failed 重试",
        "the platform failed for a moment; retry with retry_failed",
    ),
    Category.TIMEOUT: Words(
        "请求超时;图片可能已存储,用 retry_failed 重试(会先查询,不会重复上传)",
        "the request timed out; it may have been stored: retry_failed looks it up first and "
        "never stores a second copy",
    ),
    Category.AUDIT_PENDING: Words(
        "图片仍在平台审核中;稍后用 imgkit.refresh 查询结果",
        "the platform is still auditing the image; ask again later with imgkit.refresh",
    ),
    Category.AUDIT_REJECTED: Words(
        "图片未通过平台审核;换一张图片",
        "the platform's audit rejected the image; use another picture",
    ),
    Category.UNKNOWN: Words(
        "未知错误;查看平台的原始错误码与信息",
        "an unknown failure; read the platform's raw code and message",
    ),
}
# Settings whose names say they hold a secret are never written, whatever their value.
_SECRET_WORDS = ("secret", "token", "session", "password", "key")


def categories(results: pd.DataFrame) -> list[tuple[str, int]]:
    """The error categories of the rows not stored, most frequent first.

    >>> import pandas as pd
    >>> categories(pd.DataFrame({"status": ["failed"] * 3 + ["invalid"],
    ...                          "category": ["quota", "auth", "quota", "invalid_input"]}))
    [('quota', 2), ('auth', 1), ('invalid_input', 1)]
    """
    if "category" not in results.columns or "status" not in results.columns:
        return []
    stored = results["status"].astype(str).isin(["uploaded", "skipped", "planned"])
    found = results.loc[~stored.to_numpy(), "category"].fillna("").astype(str)
    counts = found[found != ""].value_counts(sort=False)
    ranked = sorted(
        counts.items(), key=lambda item: (-int(item[1]), list(counts.index).index(item[0]))
    )
    return [(str(name), int(count)) for name, count in ranked]


def write_summary(
    sheet: Worksheet,
    results: pd.DataFrame,
    lang: Lang,
    settings: Mapping[str, Any] | None,
    version: str,
) -> None:
    """Fill ``sheet`` with the summary of ``results``."""
    platform = "platform_key" if "platform_key" in results.columns else "platform"
    present = [s for s in STATUSES if s in set(results["status"].astype(str))]
    lines: list[list[Any]] = [[say("上传结果汇总", "Summary of the upload", lang)], []]
    header_rows: list[int] = []
    spread: list[tuple[int, int]] = []  # (sheet row, column): its text spans to the right

    def table(header: list[Any], rows: list[list[Any]], wide: int = 0) -> None:
        lines.append(header)
        header_rows.append(len(lines))
        for row in rows:
            lines.append(row)
            if wide:
                spread.append((len(lines), wide))
        lines.append([])

    names = [STATUS_NAMES[s].render(lang) for s in present]
    by_platform: list[list[Any]] = []
    if platform in results.columns and len(results):
        crossed = pd.crosstab(results[platform].astype(str), results["status"].astype(str))
        for key, counts in crossed.iterrows():
            values = [int(counts.get(s, 0)) for s in present]
            by_platform.append([key, *values, sum(values)])
    totals = [int((results["status"].astype(str) == s).sum()) for s in present]
    by_platform.append([say("合计", "total", lang), *totals, len(results)])
    table([say("平台", "platform", lang), *names, say("行数", "rows", lang)], by_platform)
    counted = list(lines)  # the widths of the columns are the counts table's

    found = categories(results)
    if found:
        advice = [
            [name, count, ADVICE.get(name, ADVICE[Category.UNKNOWN]).render(lang)]
            for name, count in found
        ]
        table(
            [
                say("错误类别", "error category", lang),
                say("行数", "rows", lang),
                say("怎么办", "what to do", lang),
            ],
            advice,
            wide=3,
        )

    about: list[list[Any]] = [
        [
            say("写入时间", "written at", lang),
            dt.datetime.now().astimezone().isoformat(" ", "seconds"),
        ],
        [say("imgkit 版本", "imgkit version", lang), version],
    ]
    source = results.attrs.get("imgkit_source")
    if isinstance(source, str) and source:
        about.append([say("批量文件", "batch file", lang), source])
    for name, value in sorted((settings or {}).items()):
        if any(word in name.casefold() for word in _SECRET_WORDS):
            continue
        about.append([name, "" if value is None else str(value)])
    table([say("项目", "item", lang), say("值", "value", lang)], about, wide=2)

    for line in lines:
        sheet.append(line)
    sheet["A1"].font = TITLE_FONT
    for row in header_rows:
        style_header(sheet, row)
    for cell in sheet["A"]:
        if cell.value == say("合计", "total", lang):
            for total in sheet[cell.row]:
                total.font = BOLD
    span = max(len(line) for line in counted)
    firsts = [line[0] if line else "" for line in lines[1:]]
    rest = [[line[j] if j < len(line) else "" for line in counted[1:]] for j in range(1, span)]
    fit_widths(sheet, [firsts, *rest])
    # A long text (what to do, a setting's value) spans the counts table's width, wrapped.
    room = sum(
        sheet.column_dimensions[get_column_letter(j)].width or 10 for j in range(2, span + 1)
    )
    for row, column in spread:
        if column < span:
            sheet.merge_cells(start_row=row, start_column=column, end_row=row, end_column=span)
        cell = sheet.cell(row=row, column=column)
        cell.alignment = WRAP
        across = room - sum(
            sheet.column_dimensions[get_column_letter(j)].width or 10 for j in range(2, column)
        )
        lines_needed = max(1, -(-display_width(str(cell.value or "")) // max(int(across), 1)))
        sheet.row_dimensions[row].height = 15 * lines_needed
