"""Fitting a batch: validate, write a conforming copy of each fixable row, validate again.

:func:`fit` writes each copy into a content-addressed cache (``<sha256 of the copy>.<ext>``
in :func:`default_out_dir`; the original is never modified), points ``file`` at the copy
and validates again.  One image is fitted by :func:`~imgkit.intake.fit_core.fit_image`
(names re-exported here); the codes it repairs are the rules declared ``fixable``
(:data:`FIXABLE_ISSUES`, from :data:`imgkit.intake.rules.FIXABLE`).  The distinct images
of a batch are fitted in worker processes (:mod:`imgkit.intake.fit_pool`; the kept
processes end with :func:`stop_workers`), and what each gave is remembered in the
cache's index (:mod:`imgkit.intake.fit_cache`), so fitting the same rows again decodes
nothing.

Example
-------
>>> sorted(FIXABLE_ISSUES)
['bad_dimensions', 'bad_ratio', 'format_refused', 'too_large']
>>> default_out_dir().name
'fit'
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from tqdm.auto import tqdm

from imgkit.aliases import BatchSource, ShopsSource
from imgkit.errors import UnknownPlatformError
from imgkit.intake import fit_cache
from imgkit.intake.fit_cache import Outcome
from imgkit.intake.fit_core import EXTENSIONS, FitResult, fit_image
from imgkit.intake.fit_encoding import QUALITY_MAX, QUALITY_MIN
from imgkit.intake.fit_geometry import applicable_rules, option_matches
from imgkit.intake.fit_pool import Job, default_workers, run_jobs, stop_workers
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
    "stop_workers",
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
    return fit_cache.store(result.data, result.extension, out_dir)


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
    progress: bool = True,
) -> pd.DataFrame:
    """Validate ``batch``, write a conforming copy of every fixable row, validate again.

    Rows whose errors are all fixable (``fixable``), or that are valid but carry a fixable
    warning, get a copy in ``out_dir`` named by its own SHA-256, and ``file`` then points
    at the copy.  Originals are never modified; URLs and rows with other errors are left
    alone and keep their errors.  Each distinct image is fitted once, in worker processes
    (:mod:`imgkit.intake.fit_pool`), and remembered in the cache's index
    (:mod:`imgkit.intake.fit_cache`): fitting the same files for the same destinations
    again reads no pixels.  A file that cannot be fitted, or whose worker fails, costs
    only its own rows (``fit_reason``); Ctrl-C stops at once, keeping the copies made.

    Parameters
    ----------
    batch
        A DataFrame, or a CSV / XLSX path: what :func:`imgkit.validate` takes.
    out_dir
        The folder of the copies (default :func:`default_out_dir`).
    shops
        What :func:`imgkit.validate` takes.
    workers
        Processes fitting the images (default: every core this process may use); 1 fits
        them here, one after another.  Validation uses as many threads.
    progress
        Show a progress bar (``tqdm.auto``: a widget in a notebook, text in a terminal)
        for fits that last more than a second.

    Returns
    -------
    pandas.DataFrame
        The batch validated again (fresh ``ok``, ``issues``), where every row also has
        ``source_file`` (the original path; equal to ``file`` where nothing was done),
        ``fit_actions`` (";"-joined, "" where nothing was done) and ``fit_reason`` (why a
        fixable row could not be fixed, else "").

    Examples
    --------
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

    if workers is not None and workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    checked = validate(batch, shops, workers=workers)
    folder = Path(out_dir) if out_dir is not None else default_out_dir()
    rows = checked.to_dict("records")
    tasks = [_task({str(key): value for key, value in row.items()}) for row in rows]
    hashes = {
        task: _text(row.get("sha256"))
        for task, row in zip(tasks, rows, strict=True)
        if task is not None
    }
    done = _run(hashes, folder, workers or default_workers(), progress)

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
        if outcome is None:
            continue
        if outcome.reason:
            reasons[position] = outcome.reason
        elif outcome.copy:
            files[position] = str(folder / Path(outcome.copy).name)
            actions[position] = ";".join(outcome.actions)
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


def _run(
    hashes: Mapping[_Task, str], folder: Path, workers: int, progress: bool
) -> dict[_Task, Outcome]:
    """Each distinct task's outcome: from the cache's index when it is there (``hashes``
    holds the SHA-256 validation read), else fitted by :func:`fit_pool.run_jobs`."""
    ordered = sorted(hashes, key=lambda t: (t.path, t.platform, t.options))
    outcomes: dict[_Task, Outcome] = {}
    misses: list[_Task] = []
    for task in ordered:
        found = None
        if hashes[task]:
            limits = get_adapter(task.platform).limits
            name = fit_cache.key(hashes[task], limits, dict(task.options))
            found = fit_cache.lookup(folder, name)
        if found is None:
            misses.append(task)
        else:
            outcomes[task] = found
    where = os.path.abspath(folder)
    jobs = [
        Job(os.path.abspath(t.path), t.platform, t.options, where, Image.MAX_IMAGE_PIXELS)
        for t in misses
    ]
    with _Bar(len(ordered), len(outcomes), enabled=progress and bool(ordered)) as bar:

        def done(index: int, outcome: Outcome) -> None:
            outcomes[misses[index]] = outcome
            bar.finished(outcome)

        run_jobs(jobs, workers, done)
    return outcomes


class _Bar:
    """The progress of a fit: images done of the distinct images, with the counts of
    those found in the cache and of those that failed."""

    def __init__(self, total: int, cached: int, *, enabled: bool) -> None:
        self.cached, self.failed = cached, 0
        self.bar = tqdm(
            total=total, initial=cached, desc="fit", unit="image", disable=not enabled, delay=1.0
        )
        self._show()

    def finished(self, outcome: Outcome) -> None:
        self.failed += bool(outcome.reason)
        self.cached += outcome.cached
        self.bar.update(1)
        self._show()

    def _show(self) -> None:
        counts = {"cached": self.cached, "failed": self.failed}
        self.bar.set_postfix({name: n for name, n in counts.items() if n}, refresh=False)

    def __enter__(self) -> _Bar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.close()
