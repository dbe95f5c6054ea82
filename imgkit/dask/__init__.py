"""imgkit on a Dask cluster: :func:`upload` and :func:`fit` of a Dask (or pandas) DataFrame.

An optional extra (``pip install "imgkit[dask]"``): ``import imgkit`` never loads Dask;
``import imgkit.dask`` does, and says how to install it when it is missing.  See
``docs/dask.md`` for when to use it, how to start a cluster, and what the workers must
share (the files, the journal directory, the shops file and its secrets).

:mod:`imgkit.dask.cluster` holds the two calls, :mod:`imgkit.dask.partition` the
partitioning that keeps an account's rows together, :mod:`imgkit.dask.accounts` the
shared directory of per-account journals, :mod:`imgkit.dask.tasks` what a worker does.

Example
-------
>>> import imgkit.dask
>>> imgkit.dask.upload.__module__, imgkit.dask.fit.__module__
('imgkit.dask.cluster', 'imgkit.dask.cluster')
"""

from __future__ import annotations

from imgkit.words import Words

MISSING = Words(
    'imgkit.dask 需要 Dask:pip install "imgkit[dask]"',
    'imgkit.dask needs Dask: pip install "imgkit[dask]"',
)

try:
    import dask.dataframe  # noqa: F401  (the extra's two halves, checked up front)
    import distributed  # noqa: F401
except ImportError as exc:
    raise ImportError(f"{MISSING}: {exc}") from exc

# After the check: these import Dask themselves, and would fail with a bare ImportError.
from imgkit.dask.accounts import JournalDir, default_journal_dir  # noqa: E402
from imgkit.dask.cluster import fit, upload  # noqa: E402

__all__ = ["MISSING", "JournalDir", "default_journal_dir", "fit", "upload"]
