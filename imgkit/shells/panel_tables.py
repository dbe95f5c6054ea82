"""The notebook panel's tables, as HTML: the validation summary, the problem rows, fit's
before → after, the live counts, and the results filtered and sorted.

Every value is escaped (a title or a platform's message is text, never markup); the
results and problem tables are :func:`imgkit.report.view.view`'s.

Example
-------
>>> import pandas as pd
>>> checked = pd.DataFrame({"platform_key": ["doudian", "doudian"], "ok": [True, False],
...                         "issues": ["", "too_large"]})
>>> validation_counts(checked).to_dict("records")
[{'platform': 'doudian', 'rows': 2, 'ok': 1, 'warnings': 0, 'errors': 1}]
"""

from __future__ import annotations

import base64
import html
import time
from collections.abc import Mapping
from typing import Any

import pandas as pd

from imgkit.intake.rules import SEVERITY
from imgkit.report.results import STATUS_NAMES
from imgkit.report.thumbnail import thumbnail_png
from imgkit.report.view import view
from imgkit.words import Lang, say

_CELL = "padding:2px 6px;border:1px solid #ccc;text-align:left"
FIT_THUMBNAIL_PX = 48
# Statuses a counts table shows, in this order, when any row has them.
COUNTED = ("uploaded", "skipped", "pending_audit", "in_doubt", "failed", "invalid", "cancelled")


def table(frame: pd.DataFrame, raw: frozenset[str] = frozenset()) -> str:
    """``frame`` as a small HTML table, values escaped (except the ``raw`` columns, which
    hold markup this module made).

    >>> shown = table(pd.DataFrame({"a": ["<b>"]}))
    >>> "<td" in shown, "&lt;b&gt;" in shown
    (True, True)
    """
    head = "".join(f'<th style="{_CELL}">{html.escape(str(c))}</th>' for c in frame.columns)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td style="{_CELL}">{v if c in raw else html.escape(_text(v))}</td>'
            for c, v in zip(frame.columns, values, strict=True)
        )
        + "</tr>"
        for values in frame.itertuples(index=False, name=None)
    )
    return (
        '<table style="border-collapse:collapse">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def _text(value: Any) -> str:
    if value is None or (not isinstance(value, (list, tuple)) and pd.isna(value)):
        return ""
    return str(value)


def validation_counts(validated: pd.DataFrame) -> pd.DataFrame:
    """Rows ok, with warnings only, and with errors, by platform."""
    issues = validated["issues"].fillna("").astype(str)
    has_warning = issues.map(
        lambda codes: any(SEVERITY.get(code) == "warning" for code in codes.split(";") if code)
    )
    ok = validated["ok"].astype(bool)
    platform = validated.get("platform_key", validated.get("platform"))
    platform = pd.Series(platform, index=validated.index).fillna("").astype(str)
    platform = platform.where(platform != "", "?")
    frame = pd.DataFrame(
        {"platform": platform, "ok": ok & ~has_warning, "warnings": ok & has_warning, "errors": ~ok}
    )
    counts = frame.groupby("platform", sort=False).agg(
        rows=("ok", "size"),
        ok=("ok", "sum"),
        warnings=("warnings", "sum"),
        errors=("errors", "sum"),
    )
    return counts.reset_index().astype({"rows": int, "ok": int, "warnings": int, "errors": int})


def validation_html(validated: pd.DataFrame, lang: Lang) -> str:
    """The summary by platform, then the rows with something to say."""
    counts = validation_counts(validated)
    total = counts[["rows", "ok", "warnings", "errors"]].sum()
    line = say(
        f"共 {total['rows']} 行: 通过 {total['ok']}, 提示 {total['warnings']}, "
        f"错误 {total['errors']}",
        f"{total['rows']} rows: {total['ok']} ok, {total['warnings']} with warnings, "
        f"{total['errors']} with errors",
        lang,
    )
    flagged = validated[validated["issues"].fillna("").astype(str) != ""]
    problems = view(flagged, lang=lang)._repr_html_() if len(flagged) else ""
    return f"<p><b>{html.escape(line)}</b></p>{table(counts)}{problems}"


def _thumb(path: Any) -> str:
    png = thumbnail_png(str(path), FIT_THUMBNAIL_PX) if _text(path) else None
    if png is None:
        return ""
    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="">'


def fit_changes(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Each row fit changed: what it did, bytes and pixels before → after (by position).

    >>> before = pd.DataFrame({"row": [2], "file": ["a.png"], "bytes": [9000],
    ...                        "width": [4000], "height": [3000]})
    >>> after = pd.DataFrame({"row": [2], "file": ["b.jpg"], "bytes": [800], "width": [1600],
    ...                       "height": [1200], "fit_actions": ["resize;convert:jpeg"],
    ...                       "source_file": ["a.png"]})
    >>> fit_changes(before, after)[["row", "bytes", "pixels"]].to_dict("records")
    [{'row': 2, 'bytes': '9000 → 800', 'pixels': '4000x3000 → 1600x1200'}]
    """
    changed = after["fit_actions"].fillna("").astype(str).to_numpy() != ""
    was, now = before.reset_index(drop=True)[changed], after.reset_index(drop=True)[changed]

    def sizes(frame: pd.DataFrame) -> pd.Series:
        return frame["width"].astype(str) + "x" + frame["height"].astype(str)

    return pd.DataFrame(
        {
            "row": now["row"].to_numpy(),
            "fit": now["fit_actions"].to_numpy(),
            "bytes": (was["bytes"].astype(str) + " → " + now["bytes"].astype(str)).to_numpy(),
            "pixels": (sizes(was) + " → " + sizes(now)).to_numpy(),
            "before": [_thumb(f) for f in now["source_file"]],
            "after": [_thumb(f) for f in now["file"]],
        }
    )


def fit_html(before: pd.DataFrame, after: pd.DataFrame, lang: Lang) -> str:
    """What fit changed, row by row, with small pictures before and after."""
    changes = fit_changes(before, after)
    line = say(f"修正了 {len(changes)} 行", f"{len(changes)} rows fitted", lang)
    if changes.empty:
        return f"<p>{html.escape(line)}</p>"
    return f"<p><b>{html.escape(line)}</b></p>" + table(changes, frozenset({"before", "after"}))


class Rates:
    """Rows finished per second by shop, over the last few seconds of counts."""

    WINDOW_S = 5.0

    def __init__(self) -> None:
        self._seen: list[tuple[float, dict[str, int]]] = []

    def add(self, done: Mapping[str, int], now: float | None = None) -> None:
        """Note the rows each shop has finished, at ``now``."""
        at = time.monotonic() if now is None else now
        self._seen.append((at, dict(done)))
        while self._seen and at - self._seen[0][0] > self.WINDOW_S:
            self._seen.pop(0)

    def per_second(self) -> dict[str, float]:
        """Rows finished per second by shop (none before two observations).

        >>> rates = Rates()
        >>> rates.add({"douyin_shop": 0}, now=0.0)
        >>> rates.add({"douyin_shop": 4}, now=2.0)
        >>> rates.per_second()
        {'douyin_shop': 2.0}
        """
        if len(self._seen) < 2:
            return {}
        (t0, first), (t1, last) = self._seen[0], self._seen[-1]
        span = max(t1 - t0, 1e-9)
        return {key: (last[key] - first.get(key, 0)) / span for key in last}


def counts_html(counts: Mapping[str, Mapping[str, int]], rates: Rates, lang: Lang) -> str:
    """The live counts by platform (and in all), then each shop's current rate."""
    if not counts:
        return ""
    records = []
    for key, by_status in counts.items():
        record: dict[str, Any] = {"platform": key}
        for status in COUNTED:
            if any(c.get(status) for c in counts.values()):
                record[STATUS_NAMES[status].render(lang)] = by_status.get(status, 0)
        record[say("重试中", "retrying", lang)] = by_status.get("retrying", 0)
        records.append(record)
    rate = say("速率 (张/秒)", "rate (img/s)", lang)
    shops = [
        {say("店铺", "shop", lang): shop, rate: f"{per_second:.1f}"}
        for shop, per_second in sorted(rates.per_second().items())
    ]
    return table(pd.DataFrame(records)) + (table(pd.DataFrame(shops)) if shops else "")


def filtered(
    results: pd.DataFrame, status: str = "", search: str = "", sort_by: str = ""
) -> pd.DataFrame:
    """``results`` with only ``status`` (all when empty), rows whose text holds ``search``,
    sorted by the column ``sort_by`` (the batch's order when empty).

    >>> frame = pd.DataFrame({"row": [2, 3, 4], "status": ["failed", "uploaded", "failed"],
    ...                       "target": ["9", "1", "5"]})
    >>> filtered(frame, "failed", sort_by="target")["row"].tolist()
    [4, 2]
    """
    shown = results
    if status:
        shown = shown[shown["status"].astype(str) == status]
    if search:
        text = shown.astype(str).agg(" ".join, axis=1)
        shown = shown[text.str.contains(search, case=False, regex=False)]
    if sort_by and sort_by in shown.columns:
        shown = shown.sort_values(sort_by, kind="stable", key=lambda c: c.astype(str))
    return shown


__all__ = [
    "Rates",
    "counts_html",
    "filtered",
    "fit_changes",
    "fit_html",
    "table",
    "validation_counts",
    "validation_html",
]
