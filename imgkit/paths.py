"""Where imgkit keeps its per-user files: the journal, the fit cache.

``$IMGKIT_HOME`` puts everything under one folder (tests, a shared team drive, a Dask
cluster's shared disk); otherwise each kind of file goes where the operating system expects
it (platformdirs: ``~/.local/share/imgkit`` and ``~/.cache/imgkit`` on Linux,
``~/Library/Application Support/imgkit`` on macOS, ``%LOCALAPPDATA%\\imgkit`` on Windows).

Example
-------
>>> import os
>>> home = os.environ.get(HOME_ENV)
>>> os.environ[HOME_ENV] = "/srv/imgkit"
>>> data_dir().as_posix(), cache_dir().as_posix()
('/srv/imgkit', '/srv/imgkit/cache')
>>> _ = os.environ.pop(HOME_ENV) if home is None else os.environ.update({HOME_ENV: home})
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

HOME_ENV = "IMGKIT_HOME"


def home() -> Path | None:
    """``$IMGKIT_HOME`` as an absolute path, or None when it is not set.

    >>> import os
    >>> saved = os.environ.pop(HOME_ENV, None)
    >>> home() is None
    True
    >>> _ = saved is None or os.environ.update({HOME_ENV: saved})
    """
    value = os.environ.get(HOME_ENV, "").strip()
    return Path(os.path.abspath(os.path.expanduser(value))) if value else None


def data_dir() -> Path:
    """The folder of files that must survive: the journal of uploads.

    >>> data_dir().is_absolute()
    True
    """
    return home() or Path(platformdirs.user_data_dir("imgkit", appauthor=False))


def cache_dir() -> Path:
    """The folder of files imgkit can make again: fitted copies, downloaded sources.

    >>> cache_dir().is_absolute()
    True
    """
    chosen = home()
    if chosen is not None:
        return chosen / "cache"
    return Path(platformdirs.user_cache_dir("imgkit", appauthor=False))


def legacy_cache_journal() -> Path | None:
    """Where imgkit 0.1 kept the journal of batches that were not read from a file.

    Read once to migrate what it confirmed (:mod:`imgkit.engine.journal`); None under
    ``$IMGKIT_HOME``, which that version never used.

    >>> import os
    >>> saved = os.environ.get(HOME_ENV)
    >>> os.environ[HOME_ENV] = "/srv/imgkit"
    >>> legacy_cache_journal() is None
    True
    >>> _ = os.environ.pop(HOME_ENV) if saved is None else os.environ.update({HOME_ENV: saved})
    """
    if home() is not None:
        return None
    if sys.platform == "win32":
        root = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        root = Path.home() / "Library" / "Caches"
    else:
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return root / "imgkit" / "journal.sqlite"
