"""What the command line prints: exit codes, one-line errors, 80-column tables, outputs.

Everything for people goes to the terminal in tables no wider than :data:`WIDTH` (cells
cut with "…"), errors are one bilingual line on stderr, and ``--json`` puts JSON records,
and nothing else, on stdout.

Example
-------
>>> import pandas as pd
>>> shown = table(pd.DataFrame({"row": [2], "message": ["x" * 100]}), ["row", "message"])
>>> [len(line) for line in shown.splitlines()], shown[-3:]
([11, 80], 'xx…')
"""

from __future__ import annotations

import json
import sys
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from imgkit.words import Lang, say

# Exit codes, documented in docs/cli.md (written from EXIT_CODES).
OK = 0
NOT_ALL_DONE = 1
USAGE = 2
INVALID_BATCH = 3
CONFIG = 4
INTERRUPTED = 130
EXIT_CODES: dict[int, str] = {
    OK: "every row done (uploaded or skipped; validated without errors; every shop OK)",
    NOT_ALL_DONE: "some rows failed, are in doubt or pending (or a shop check did not pass)",
    USAGE: "usage error: unknown command or flag, bad value (argparse); for `verify` and "
    "`journal` also an unreadable results file or time; for `sandbox` a busy port",
    INVALID_BATCH: "the batch has errors: `validate` found some, or `upload` / `fit` had "
    "invalid rows (nothing else failed)",
    CONFIG: "configuration error: shops file missing or wrong, batch or results unreadable",
    INTERRUPTED: "interrupted (Ctrl-C)",
}
WIDTH = 80
ELLIPSIS = "…"


def cell_width(text: str) -> int:
    """Columns ``text`` takes in a terminal (CJK characters take two).

    >>> cell_width("杯子ab")
    6
    """
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def cut(text: str, width: int) -> str:
    """``text`` cut to ``width`` terminal columns, ending in "…" when cut.

    >>> cut("ceramic mug", 8), cut("杯子杯子", 5), cut("ok", 5)
    ('ceramic…', '杯子…', 'ok')
    """
    text = " ".join(text.split())  # no newline or tab may break a table's line
    if cell_width(text) <= width:
        return text
    out, used = "", 0
    for char in text:
        size = cell_width(char)
        if used + size > width - 1:
            break
        out, used = out + char, used + size
    return out + ELLIPSIS


def _text(value: Any) -> str:
    if value is None or (not isinstance(value, (list, tuple, dict)) and pd.isna(value)):
        return ""
    return str(value)


def table(frame: pd.DataFrame, columns: Sequence[str], width: int = WIDTH) -> str:
    """``columns`` of ``frame`` (those it has) as a table no line of which exceeds ``width``.

    The last column takes what room is left; the others are cut at 20 columns.

    >>> import pandas as pd
    >>> print(table(pd.DataFrame({"a": ["杯子"], "b": [1]}), ["a", "b", "z"]))
    a    b
    杯子 1
    """
    names = [c for c in columns if c in frame.columns]
    if not names:
        return ""
    cells = [[_text(v) for v in frame[name].tolist()] for name in names]
    widths = [
        min(20, max(cell_width(x) for x in [n, *col])) for n, col in zip(names, cells, strict=True)
    ]
    room = width - sum(widths[:-1]) - (len(names) - 1)
    widths[-1] = max(1, min(room, max(cell_width(x) for x in [names[-1], *cells[-1]])))
    while sum(widths) + len(names) - 1 > width and len(names) > 1:  # drop columns that cannot fit
        names, cells, widths = names[:-1], cells[:-1], widths[:-1]
    numeric = [pd.api.types.is_numeric_dtype(frame[n]) for n in names]

    def line(values: Sequence[str]) -> str:
        parts = []
        for value, size, right in zip(values, widths, numeric, strict=True):
            shown = cut(value, size)
            pad = " " * (size - cell_width(shown))
            parts.append(pad + shown if right else shown + pad)
        return " ".join(parts).rstrip()

    rows = [line(names)] + [line(values) for values in zip(*cells, strict=True)]
    return "\n".join(rows)


def error(command: str, zh: str, en: str, lang: Lang = "both") -> None:
    """One line on stderr: ``imgkit COMMAND: message`` (never a traceback).

    >>> import contextlib, io
    >>> err = io.StringIO()
    >>> with contextlib.redirect_stderr(err):
    ...     error("upload", "找不到", "not found", "en")
    >>> err.getvalue()
    'imgkit upload: not found\\n'
    """
    print(f"imgkit {command}: {say(zh, en, lang)}", file=sys.stderr)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """``frame`` as JSON-ready records (missing values as null, text as it is).

    >>> import pandas as pd
    >>> records(pd.DataFrame({"a": [1, None], "b": ["杯", "x"]}))
    [{'a': 1.0, 'b': '杯'}, {'a': None, 'b': 'x'}]
    """
    text = frame.to_json(orient="records", force_ascii=False, date_format="iso")
    loaded: list[dict[str, Any]] = json.loads(text)
    return loaded


def print_json(frame: pd.DataFrame) -> None:
    """``frame``'s records on stdout, as one JSON array (UTF-8, not escaped).

    >>> import pandas as pd
    >>> print_json(pd.DataFrame({"row": [2]}))
    [{"row": 2}]
    """
    print(json.dumps(records(frame), ensure_ascii=False))


def write_output(
    frame: pd.DataFrame,
    out: str | Path,
    *,
    lang: Lang,
    settings: Mapping[str, Any] | None = None,
    results: bool = True,
) -> Path:
    """``frame`` written to ``out`` by its suffix: ``.xlsx`` (the styled results workbook
    when ``results``, else a plain sheet), ``.csv`` (UTF-8 with BOM) or ``.json`` (records).

    >>> import pandas as pd, tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = write_output(pd.DataFrame({"a": ["杯"]}), f"{folder}/x.json", lang="en")
    ...     path.read_text(encoding="utf-8")
    '[{"a": "杯"}]'
    """
    path = Path(out)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame.to_csv(path, index=False, encoding="utf-8-sig")  # BOM: Excel reads UTF-8
    elif suffix == ".json":
        path.write_text(json.dumps(records(frame), ensure_ascii=False), encoding="utf-8")
    elif results:
        from imgkit.excel import to_excel

        to_excel(frame, path, lang=lang, settings=dict(settings or {}))
    else:
        frame.to_excel(path, index=False)
    return path


def exit_status(results: pd.DataFrame) -> int:
    """The run's exit code: 0 all done, 3 only invalid rows failed, 1 otherwise.

    >>> import pandas as pd
    >>> exit_status(pd.DataFrame({"status": ["uploaded", "skipped"]}))
    0
    >>> exit_status(pd.DataFrame({"status": ["uploaded", "invalid"]}))
    3
    >>> exit_status(pd.DataFrame({"status": ["invalid", "failed"]}))
    1
    """
    status = results["status"].astype(str) if "status" in results else pd.Series(dtype=str)
    undone = status[~status.isin(["uploaded", "skipped", "planned"])]
    if undone.empty:
        return OK
    return INVALID_BATCH if undone.eq("invalid").all() else NOT_ALL_DONE
