"""A results (or validated) frame as a table to look at in a notebook: ``df.imgkit.view()``.

The view shows the one-line summary, then the columns that matter (row, status, platform,
shop, target, url, image_id, message), the status coloured and in the chosen language,
URLs as links and, if asked, a small thumbnail of each row's local file.  Every value is
HTML-escaped: a title or a platform's message is text, never markup.

Example
-------
>>> import pandas as pd
>>> done = pd.DataFrame({"row": [2], "status": ["uploaded"], "url": ["https://x.test/a.jpg"],
...                      "message": ["<b>ok</b>"]})
>>> shown = view(done, lang="en")
>>> print(shown)
1 rows: 1 uploaded
 row   status                  url   message
   2 uploaded https://x.test/a.jpg <b>ok</b>
>>> "&lt;b&gt;ok&lt;/b&gt;" in shown._repr_html_()
True
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

import pandas as pd

from imgkit.report.results import STATUS_COLOURS, STATUS_NAMES, summary_line
from imgkit.report.thumbnail import thumbnail_png
from imgkit.words import DEFAULT_LANG, Lang, check_lang, say

RESULT_VIEW_COLUMNS = ("row", "status", "platform", "shop", "target", "url", "image_id", "message")
VALIDATED_VIEW_COLUMNS = ("row", "ok", "platform", "shop", "target", "issues", "message")
THUMBNAIL_PX = 64
# A validated row's ``ok`` cell: the colours of an uploaded and of an invalid row.
GREEN, RED = "#" + STATUS_COLOURS["uploaded"], "#" + STATUS_COLOURS["invalid"]
_LINK_SCHEMES = ("http://", "https://")
_CELL = "padding:2px 6px;border:1px solid #ccc;text-align:left;vertical-align:top"


class View:
    """What :func:`view` returns: HTML for a notebook (``_repr_html_``), text elsewhere.

    >>> import pandas as pd
    >>> v = view(pd.DataFrame({"status": ["failed"]}), lang="zh")
    >>> v.summary
    '共 1 行: 失败 1'
    """

    def __init__(self, summary: str, html_table: str, text: str) -> None:
        self.summary = summary
        self._html = html_table
        self._text = text

    def _repr_html_(self) -> str:
        return self._html

    def __repr__(self) -> str:
        return self._text


def view(
    frame: pd.DataFrame,
    lang: Lang = DEFAULT_LANG,
    thumbnails: bool = False,
    limit: int = 200,
) -> View:
    """``frame`` (the result of :func:`imgkit.upload` or :func:`imgkit.validate`) as a table.

    Parameters
    ----------
    frame
        A results frame (has ``status``) or a validated frame (has ``ok``).
    lang
        ``"zh"``, ``"en"`` or ``"both"``: the summary and the status words.
    thumbnails
        Show a small (at most 64 px) picture of each shown row's local ``file``; a file
        that is missing or cannot be read gives an empty cell.
    limit
        At most this many rows are shown; the rest are counted below the table.

    >>> import pandas as pd
    >>> v = view(pd.DataFrame({"row": [2, 3], "ok": [True, False],
    ...                        "message": ["", "[error] file not found"]}), lang="en", limit=1)
    >>> print(v)
    2 rows: 1 ok, 1 with issues
     row   ok message
       2 True
    … 1 more rows
    """
    lang = check_lang(lang)
    if limit < 0:
        raise ValueError(f"limit {limit} < 0")
    is_results = "status" in frame.columns
    wanted = RESULT_VIEW_COLUMNS if is_results else VALIDATED_VIEW_COLUMNS
    columns = [c for c in wanted if c in frame.columns]
    summary = summary_line(frame, lang) if is_results else _validated_summary(frame, lang)
    shown = frame.iloc[:limit]
    more = len(frame) - len(shown)
    more_note = say(f"… 还有 {more} 行", f"… {more} more rows", lang) if more else ""
    source = frame.attrs.get("imgkit_source")
    base = Path(source).parent if isinstance(source, str) else None

    head = "".join(f'<th style="{_CELL}">{html.escape(c)}</th>' for c in columns)
    if thumbnails:
        head = f'<th style="{_CELL}"></th>' + head
    body = []
    for _, row in shown.iterrows():
        cells = [_cell(column, row[column], lang) for column in columns]
        if thumbnails:
            cells.insert(0, f'<td style="{_CELL}">{_thumbnail(row.get("file"), base)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    parts = [
        '<div class="imgkit-view">',
        f"<p><b>{html.escape(summary)}</b></p>",
        '<table style="border-collapse:collapse">',
        f"<thead><tr>{head}</tr></thead>",
        f"<tbody>{''.join(body)}</tbody>",
        "</table>",
    ]
    if more_note:
        parts.append(f"<p>{html.escape(more_note)}</p>")
    parts.append("</div>")

    text_frame = shown[columns].copy()
    if "status" in text_frame.columns:
        text_frame["status"] = [_status_words(s, lang) for s in text_frame["status"]]
    lines = [summary]
    if columns:
        table = text_frame.to_string(index=False)
        lines += [line.rstrip() for line in table.splitlines()]  # no trailing blanks
    if more_note:
        lines.append(more_note)
    return View(summary, "\n".join(parts), "\n".join(lines))


def _validated_summary(frame: pd.DataFrame, lang: Lang) -> str:
    """``N rows: X ok, Y with issues`` for a validated frame."""
    total = len(frame)
    if "ok" not in frame.columns:
        return say(f"共 {total} 行", f"{total} rows", lang)
    ok = int(frame["ok"].astype(bool).sum())
    bad = total - ok
    return say(
        f"共 {total} 行: 通过 {ok}, 有问题 {bad}",
        f"{total} rows: {ok} ok, {bad} with issues",
        lang,
    )


def _status_words(status: Any, lang: Lang) -> str:
    name = STATUS_NAMES.get(str(status))
    return name.render(lang) if name is not None else str(status)


def _text(value: Any) -> str:
    """A cell's value as text: missing values are empty."""
    if value is None:
        return ""
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):  # list-like values: shown as they are
        pass
    return str(value)


def _cell(column: str, value: Any, lang: Lang) -> str:
    """One ``<td>``, escaped; the status coloured, links only for http(s) URLs."""
    text = _text(value)
    style = _CELL
    if column == "status":
        colour = STATUS_COLOURS.get(text)
        if colour:
            style += f";background:#{colour}"
        content = html.escape(_status_words(text, lang))
    elif column == "ok" and text:
        style += f";background:{GREEN if bool(value) else RED}"
        content = html.escape(text)
    elif column == "url" and text.lower().startswith(_LINK_SCHEMES):
        href = html.escape(text, quote=True)
        content = f'<a href="{href}" target="_blank" rel="noopener">{html.escape(text)}</a>'
    else:
        content = html.escape(text)
    if column == "message":  # a message may span lines (one per issue)
        style += ";white-space:pre-wrap"
    return f'<td style="{style}">{content}</td>'


def _thumbnail(file: Any, base: Path | None) -> str:
    """An ``<img>`` of at most 64 px with the file inline, or ``""`` if it cannot be read."""
    text = _text(file)
    if not text:
        return ""
    path = Path(text)
    if not path.is_absolute() and base is not None and not path.exists():
        path = base / path
    png = thumbnail_png(path, THUMBNAIL_PX)
    if png is None:  # missing, corrupt, unreadable, too large: no picture, never a crash
        return ""
    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" style="max-width:64px;max-height:64px">'


__all__ = ["View", "view"]
