"""Batch headers: the columns a batch has, and every header that names one.

The required columns are ``platform``, ``shop``, ``file`` and ``target``; the optional ones
are every option an adapter declares (:func:`imgkit.intake.options.option_registry`), in the
order of :data:`HEADER_ALIASES`.  A header is compared ignoring case, spaces, ``_``, ``-``
and ``*`` (full-width letters and colons folded), in English or Chinese.

Example
-------
>>> column_for("Shop Name"), column_for("是否主图"), column_for("备注")
('shop', 'is_major', None)
>>> OPTIONAL_COLUMNS[:3]
('title', 'position', 'replace_id')
"""

from __future__ import annotations

import re
import unicodedata

from imgkit.intake.cells import header_text
from imgkit.intake.options import option_registry, order_columns

REQUIRED_COLUMNS: tuple[str, ...] = ("platform", "shop", "file", "target")

# Headers accepted for each column besides its own name, compared after normal_header().
# The order of the option columns here is the order of a batch's columns.
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "platform": ("平台", "平台名称", "platform name"),
    "shop": ("店铺", "店铺名", "店铺名称", "店名", "shop name", "store", "store name"),
    "file": (
        "文件",
        "图片",
        "图片文件",
        "文件路径",
        "图片路径",
        "图片地址",
        "file path",
        "path",
        "image",
        "image file",
        "image path",
        "image url",
    ),
    "target": (
        "目标",
        "目标ID",
        "类目",
        "分类ID",
        "商品ID",
        "文件夹",
        "文件夹ID",
        "target id",
        "category id",
        "item id",
        "folder",
        "folder id",
    ),
    "title": ("标题", "图片标题", "名称", "image title"),
    "position": ("位置", "序号", "图片序号", "顺序", "order", "image position"),
    "replace_id": ("替换ID", "替换图片ID", "图片ID", "replace image id"),
    "is_major": ("主图", "是否主图", "major", "main image"),
    "is_rectangle": ("长方形", "3:4", "是否3:4", "rectangle"),
    "client_type": ("终端", "来源", "客户端", "client"),
    "need_distinct": ("去重", "distinct", "dedup"),
    "is_https": ("是否https", "https"),
}

# Every option an adapter declares (OptionSpec.name), derived: an option declared by an
# adapter is a batch column whether or not it has aliases here (tests/test_options.py
# asks for them).
OPTIONAL_COLUMNS: tuple[str, ...] = order_columns(option_registry(), HEADER_ALIASES)


def normal_header(header: str) -> str:
    """A header as compared: NFKC-folded, case-folded, without spaces, ``_``, ``-``, ``*``.

    >>> normal_header("*Image_Path"), normal_header("是否3：4")
    ('imagepath', '是否3:4')
    """
    # NFKC folds full-width letters and colons ("3：4"); "*" marks the required columns
    # of many templates.
    folded = unicodedata.normalize("NFKC", header).casefold()
    return re.sub(r"[\s_\-*]", "", folded)


_LOOKUP: dict[str, str] = {
    normal_header(alias): column
    for column in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)
    for alias in (column, *HEADER_ALIASES.get(column, ()))
}


def column_for(header: object) -> str | None:
    """The batch column a header means, or None for a column of the user's own.

    A header in both languages, as imgkit's templates write them (``平台 / platform``),
    means a column when every part names it.

    >>> column_for("Shop Name"), column_for("图片路径"), column_for("备注")
    ('shop', 'file', None)
    >>> column_for("目标 / target"), column_for("目标 / title")
    ('target', None)
    """
    text = header_text(header)
    found = _LOOKUP.get(normal_header(text))
    if found is None and "/" in text:
        parts = {_LOOKUP.get(normal_header(part)) for part in text.split("/")}
        if len(parts) == 1:
            found = parts.pop()
    return found


__all__ = [
    "HEADER_ALIASES",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "column_for",
    "normal_header",
]
