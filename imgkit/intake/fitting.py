"""Fitting a batch: validate, write a conforming copy of each fixable row, validate again.

:func:`fit` writes each copy into a content-addressed cache (``<sha256 of the copy>.<ext>``
in :func:`default_out_dir`; the original is never modified), points ``file`` at the copy
and validates again.  One image is fitted by :func:`~imgkit.intake.fit_core.fit_image`
(names re-exported here); the codes it repairs are the rules declared ``fixable``
(:data:`FIXABLE_ISSUES`, from :data:`imgkit.intake.rules.FIXABLE`).

Example
-------
>>> sorted(FIXABLE_ISSUES)
['bad_dimensions', 'bad_ratio', 'format_refused', 'too_large']
>>> default_out_dir().name
'fit'
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from imgkit.aliases import BatchSource, ShopsSource
from imgkit.errors import UnknownPlatformError
from imgkit.intake.fit_core import EXTENSIONS, FitResult, fit_image
from imgkit.intake.fit_encoding import QUALITY_MAX, QUALITY_MIN
from imgkit.intake.fit_geometry import applicable_rules, option_matches
from imgkit.intake.rules import FIXABLE
from imgkit.paths import cache_dir
from imgkit.platforms import get_adapter, resolve_platform
from imgkit.platforms.base import bool_text

__all__ = [
    "EXTENSIONS",
    "FIXABLE_ISSUES",
    "QUALITY_MAX",
    "QUALITY_MIN",
    "FitResult",
    "applicable_rules",
    "default_out_dir",
    "fit",
    "fit_image",
    "option_matches",
    "write_copy",
]

# Issue codes of validation that fit repairs: the rules declared fixable.
FIXABLE_ISSUES = FIXABLE


def default_out_dir() -> Path:
    """The cache of fitted copies: ``fit`` in :func:`imgkit.paths.cache_dir`.

    >>> default_out_dir().name
    'fit'
    """
    return cache_dir() / "fit"


def write_copy(result: FitResult, out_dir: str | os.PathLike[str]) -> Path:
    """Store ``result.data`` as ``<out_dir>/<sha256>.<extension>`` (once) and return its path.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = write_copy(FitResult(b"GIF89a;", "gif", "gif", ("converted",)), tmp)
    ...     path.name[:12], path.suffix, path.read_bytes()
    ('a95fb9e1bcb6', '.gif', b'GIF89a;')
    """
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha256(result.data).hexdigest()}.{result.extension}"
    if path.exists() and path.stat().st_size == len(result.data):
        return path
    temporary = folder / f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp"
    temporary.write_bytes(result.data)
    os.replace(temporary, path)
    return path


def _text(value: object) -> str:
    """A cell as text: "" for None and NaN."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    return str(value).strip()


def _wants_fit(row: Mapping[str, object]) -> bool:
    """A row fit should touch: its errors are all fixable, or it is valid with a fixable
    warning; and it has a fixable issue at all."""
    issues = {code.strip() for code in _text(row.get("issues")).split(";")}
    if not issues & FIXABLE_ISSUES:
        return False
    return _truthy(row.get("ok")) or _truthy(row.get("fixable"))


def _truthy(value: object) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    return bool_text(_text(value)) == "true"


@dataclass(frozen=True)
class _Task:
    """One distinct piece of work: a file for a platform, with the options its rules read."""

    path: str
    platform: str
    options: tuple[tuple[str, str], ...]


def _task(row: Mapping[str, object]) -> _Task | None:
    path = _text(row.get("file"))
    if not path or path.startswith(("http://", "https://")) or not _wants_fit(row):
        return None
    try:
        platform = resolve_platform(_text(row.get("platform_key")) or _text(row.get("platform")))
    except UnknownPlatformError:
        return None
    rules = get_adapter(platform).limits.pixel_rules
    names = sorted({rule.when[0] for rule in rules if rule.when is not None})
    return _Task(path, platform, tuple((name, _text(row.get(name))) for name in names))


def fit(
    batch: BatchSource,
    out_dir: str | os.PathLike[str] | None = None,
    *,
    shops: ShopsSource = None,
    workers: int | None = None,
) -> pd.DataFrame:
    """Validate ``batch``, write a conforming copy of every fixable row, validate again.

    ``batch`` and ``shops`` are what :func:`imgkit.validate` takes.  Rows whose errors are
    all fixable (``fixable``), or that are valid but carry a fixable warning, get a copy in
    ``out_dir`` (default :func:`default_out_dir`) named by its own SHA-256, and ``file``
    then points at the copy.  Every row gains ``source_file`` (the original path; equal to
    ``file`` where nothing was done), ``fit_reason`` (why a fixable row could not be fixed,
    else "") and ``fit_actions`` (";"-joined, "" where nothing was
    done).  Originals are never modified; URLs and rows with other errors are left alone
    and keep their errors.  Returns the batch validated again (fresh ``ok``, ``issues``).
    ``workers`` threads fit the images (default: the CPU count, at most 8).

    >>> import tempfile
    >>> import pandas as pd
    >>> from PIL import Image
    >>> from imgkit.sandbox import sandbox_shops
    >>> tmp = tempfile.mkdtemp()
    >>> Image.new("RGB", (800, 600), "blue").save(f"{tmp}/blue.webp")
    >>> batch = pd.DataFrame({"platform": ["doudian"], "shop": ["douyin_shop"],
    ...                       "file": [f"{tmp}/blue.webp"], "target": ["0"]})
    >>> out = fit(batch, f"{tmp}/fit", shops=sandbox_shops("http://127.0.0.1:9"))
    >>> bool(out.loc[0, "ok"]), out.loc[0, "fit_actions"], out.loc[0, "file"].endswith(".jpg")
    (True, 'converted', True)
    >>> out.loc[0, "source_file"] == f"{tmp}/blue.webp"
    True
    """
    from imgkit.intake.validation import VALIDATION_COLUMNS, validate

    checked = validate(batch, shops, workers=workers)
    folder = Path(out_dir) if out_dir is not None else default_out_dir()
    rows = checked.to_dict("records")
    tasks = [_task({str(key): value for key, value in row.items()}) for row in rows]
    done = _run({task for task in tasks if task is not None}, folder, workers)

    files = [_text(value) for value in checked["file"]]
    if "source_file" in checked.columns:  # fitted before: keep the first original
        sources = [
            _text(before) or now for before, now in zip(checked["source_file"], files, strict=True)
        ]
    else:
        sources = list(files)
    actions = (
        [_text(value) for value in checked["fit_actions"]]
        if "fit_actions" in checked.columns
        else [""] * len(files)
    )
    reasons = [""] * len(files)
    for position, task in enumerate(tasks):
        outcome = done.get(task) if task is not None else None
        if isinstance(outcome, str):
            reasons[position] = outcome
        elif outcome is not None:
            files[position] = str(outcome[0])
            actions[position] = ";".join(outcome[1])
    fitted = checked.drop(columns=[c for c in VALIDATION_COLUMNS if c in checked.columns])
    columns = (
        ("file", files),
        ("source_file", sources),
        ("fit_actions", actions),
        ("fit_reason", reasons),
    )
    for name, values in columns:
        fitted[name] = pd.Series(values, index=checked.index, dtype="str")
    return validate(fitted, shops, workers=workers)


_Done = tuple[Path, tuple[str, ...]] | str


def _run(tasks: set[_Task], folder: Path, workers: int | None) -> dict[_Task, _Done]:
    """Fit each distinct task in a thread pool: the copy written and its actions, or why not."""
    if not tasks:
        return {}
    workers = workers or min(8, os.cpu_count() or 1)

    def one(task: _Task) -> tuple[_Task, _Done | None]:
        try:
            data = Path(task.path).read_bytes()
        except OSError as exc:
            return task, f"cannot read the file: {exc.strerror} / 无法读取文件"
        limits = get_adapter(task.platform).limits
        result = fit_image(data, limits, dict(task.options))
        if not result.ok:
            return task, result.reason
        if not result.changed:
            return task, None
        return task, (write_copy(result, folder), result.actions)

    ordered = sorted(tasks, key=lambda t: (t.path, t.platform, t.options))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pairs: Iterator[tuple[_Task, _Done | None]] = pool.map(one, ordered)
        return {task: outcome for task, outcome in pairs if outcome is not None}
