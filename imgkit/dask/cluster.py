"""``imgkit.dask.upload`` and ``imgkit.dask.fit``: a batch on a Dask cluster.

Both take a Dask DataFrame, or a pandas one (spread over the cluster of ``client``), run
on the cluster and return a Dask DataFrame of the same columns as :func:`imgkit.upload`
and :func:`imgkit.fit`, indexed by the caller's labels, its partitions already computed
(held by the workers: ``.compute()`` brings them here).  While they run, the Dask
dashboard's address is printed and one progress bar follows the cluster's tasks (Dask's
own: a widget in a notebook, a text bar in a terminal).

Example
-------
>>> import tempfile
>>> from distributed import Client, LocalCluster
>>> from imgkit.intake.shops_files import write_shops
>>> with imgkit.Sandbox() as sb, tempfile.TemporaryDirectory() as tmp:
...     shops = str(write_shops(f"{tmp}/shops.toml", sb.shops))
...     with LocalCluster(n_workers=1, processes=False, protocol="tcp", host="127.0.0.1",
...                       dashboard_address="127.0.0.1:0") as cluster, Client(cluster) as client:
...         batch = imgkit.read_batch("sample_data/batch.csv")
...         out = upload(batch, shops, client=client, journal_dir=f"{tmp}/j", progress=False)
...         results = out.compute().sort_index()
>>> results["status"].value_counts().to_dict()
{'uploaded': 15}
"""

from __future__ import annotations

import os
import tempfile
from typing import Any, cast

import dask.dataframe as dd
import distributed
import pandas as pd

import imgkit
from imgkit.dask.accounts import default_journal_dir
from imgkit.dask.partition import KEY, LABEL, account_keys, file_keys, shop_keys, spread
from imgkit.dask.tasks import empty_results, fit_files, fit_partition, upload_partition
from imgkit.errors import ImgkitError
from imgkit.intake.fitting import default_out_dir
from imgkit.words import DEFAULT_LANG, Lang, Words, check_lang

NO_CLIENT = Words(
    "没有 Dask 客户端:先 distributed.Client(...) 连接集群,或传入 client=",
    "no Dask client: connect one with distributed.Client(...) first, or pass client=",
)
SHOPS_PATH = Words(
    "shops 须是每个 worker 都能读取的店铺配置文件路径(或 None,即各 worker 的 $IMGKIT_SHOPS):"
    "字典或 Shops 会连同密钥一起被序列化进任务图",
    "shops must be the path of a shops file every worker can read (or None: each worker's "
    "$IMGKIT_SHOPS): a mapping or Shops would be pickled into the task graph, secrets and all",
)
NOT_A_FRAME = Words(
    "批量表须是 pandas 或 Dask DataFrame", "the batch must be a pandas or Dask DataFrame"
)
DASHBOARD = Words("Dask 仪表盘", "Dask dashboard")
# upload_async's options that cannot cross to a worker: the worker chooses them itself
# (a transport is this process's; the journal is each account's; the bar is Dask's).
_LOCAL_ONLY = ("journal", "transport", "progress")
NOT_ON_A_CLUSTER = Words("集群上传不接受此参数", "not an option of an upload on a cluster")
FORCE_BOOL = Words(
    "集群上传的 force 只能是 True 或 False(行号在各分区内不同)",
    "force on a cluster is True or False (labels mean nothing inside a partition)",
)


def _client(client: distributed.Client | None, lang: Lang) -> distributed.Client:
    """``client``, else the one this process (or task) is connected with."""
    if client is not None:
        return client
    try:
        return distributed.get_client()
    except ValueError:
        raise ImgkitError(NO_CLIENT.render(lang), code="no_dask_client") from None


def _shops_path(shops: object, lang: Lang) -> str | None:
    """The shops file as a path string for the workers; never the credentials themselves."""
    if shops is None:
        return None
    if isinstance(shops, str | os.PathLike):
        return os.path.abspath(os.fspath(shops))
    raise ImgkitError(SHOPS_PATH.render(lang), code="shops_not_a_path")


def _inputs(
    batch: object, shops: object, client: distributed.Client | None, lang: Lang
) -> tuple[distributed.Client, str | None, dd.DataFrame]:
    """The client, the shops file's path and the batch as a Dask frame, each checked."""
    connected = _client(client, lang)
    return connected, _shops_path(shops, lang), _as_dask(batch, connected, lang)


def _as_dask(batch: object, client: distributed.Client, lang: Lang) -> dd.DataFrame:
    """``batch`` as a Dask DataFrame: a pandas one cut into a partition per worker thread."""
    if isinstance(batch, dd.DataFrame):
        return batch
    if isinstance(batch, pd.DataFrame):
        return cast(dd.DataFrame, dd.from_pandas(batch, npartitions=max(1, _threads(client))))
    raise ImgkitError(NOT_A_FRAME.render(lang), code="not_a_frame")


def _threads(client: distributed.Client) -> int:
    return sum(client.nthreads().values())


def _run(
    results: dd.DataFrame, client: distributed.Client, *, progress: bool, lang: Lang
) -> dd.DataFrame:
    """Compute ``results`` on the cluster, showing the dashboard and one bar; the persisted
    frame, once every partition is done (the first task's error is raised as it is)."""
    persisted = client.persist(results)
    if progress:
        print(f"{DASHBOARD.render(lang)}: {client.dashboard_link}")
        distributed.progress(persisted, multi=False)
    distributed.wait(persisted)
    for future in distributed.futures_of(persisted):
        if future.status == "error":
            future.result()  # raises the task's exception here
    return cast(dd.DataFrame, persisted)


def _bins(client: distributed.Client, npartitions: int | None) -> int:
    # A partition per worker thread: every account sends at once.  A task holds its
    # thread until its accounts are done, so partitions beyond the threads would wait
    # their turn while the platforms' limits sat idle.
    return npartitions if npartitions is not None else max(1, _threads(client))


def upload(
    batch: dd.DataFrame | pd.DataFrame,
    shops: str | os.PathLike[str] | None = None,
    *,
    client: distributed.Client | None = None,
    journal_dir: str | os.PathLike[str] | None = None,
    npartitions: int | None = None,
    progress: bool = True,
    lang: Lang = DEFAULT_LANG,
    **options: Any,
) -> dd.DataFrame:
    """Upload ``batch`` on a Dask cluster; the results as a Dask DataFrame.

    Every row of one platform account goes to one partition (its pacing and journal hold
    across the cluster), partitions balanced by rows; each account's journal is a file of
    the shared ``journal_dir``, named by the account (:mod:`imgkit.dask.accounts`).  A
    worker lost mid-run has its partitions run again by Dask, and the journal makes that
    run store nothing twice (rows it finds stored are ``skipped``, rows left on the wire
    looked up first).

    Parameters
    ----------
    batch
        A Dask DataFrame, or a pandas one: rows as :func:`imgkit.read_batch` takes them.
        Relative ``file`` paths are taken from this process's working directory; the files
        must be where every worker reads the same path.
    shops
        The shops file's path, read by each worker (None: each worker's
        ``$IMGKIT_SHOPS``).  Not a mapping: its secrets would travel in the task graph.
    client
        The ``distributed.Client`` (default: the current one).
    journal_dir
        The directory of per-account journals every worker reaches (default
        :func:`imgkit.dask.accounts.default_journal_dir`).
    npartitions
        Partitions to spread the accounts over (default: one per worker thread, never
        more than the accounts).
    progress
        Print the dashboard's address and show Dask's progress bar.
    lang
        The language of the messages.
    **options
        :func:`imgkit.upload`'s other options (``concurrency``, ``timeout``,
        ``row_deadline_s``, ``dry_run``, ``force`` as True or False, ...), for each
        account's run.

    Returns
    -------
    dask.dataframe.DataFrame
        The results, computed and held by the workers; ``.compute().sort_index()`` gives
        the local function's frame.

    Examples
    --------
    >>> upload(object(), "shops.toml", client=None)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    imgkit.errors.ImgkitError: 没有 Dask 客户端...
    """
    lang = check_lang(lang)
    connected, path, frame = _inputs(batch, shops, client, lang)
    for name in _LOCAL_ONLY:
        if name in options:
            raise TypeError(f"{NOT_ON_A_CLUSTER.render(lang)}: {name}=")
    if not isinstance(options.get("force", False), bool):
        raise TypeError(FORCE_BOOL.render(lang))
    folder = os.path.abspath(journal_dir if journal_dir is not None else default_journal_dir())
    spread_out = spread(frame, account_keys, _bins(connected, npartitions), path, folder)
    meta = empty_results(_bare_meta(spread_out))
    meta.index = pd.Index([], name=frame.index.name, dtype=spread_out[LABEL].dtype)
    work = spread_out.map_partitions(
        upload_partition, path, folder, dict(options, lang=lang), frame.index.name, meta=meta
    )
    return _run(work, connected, progress=progress, lang=lang)


def _bare_meta(spread_out: dd.DataFrame) -> pd.DataFrame:
    """The batch columns a shuffled partition carries, without imgkit's own."""
    meta: pd.DataFrame = spread_out._meta
    return meta.reset_index(drop=True).drop(columns=[LABEL, KEY])


def fit(
    batch: dd.DataFrame | pd.DataFrame,
    out_dir: str | os.PathLike[str] | None = None,
    *,
    shops: str | os.PathLike[str] | None = None,
    client: distributed.Client | None = None,
    npartitions: int | None = None,
    progress: bool = True,
    lang: Lang = DEFAULT_LANG,
) -> dd.DataFrame:
    """:func:`imgkit.fit` on a Dask cluster, into the shared content-addressed cache
    ``out_dir``: each distinct file is fitted by one task, once; a second run finds every
    copy in the cache's index and decodes nothing.

    Two passes in one graph: the rows grouped by file, balanced by rows, make the copies
    (the work that costs); then each shop's rows are fitted together, as a local fit
    sees them (its rules across rows group by shop), finding every copy in the cache.

    Parameters
    ----------
    batch
        A Dask or pandas DataFrame (as :func:`upload` takes).
    out_dir
        The cache every worker reaches (default :func:`imgkit.intake.fitting.default_out_dir`).
    shops, client, npartitions, progress, lang
        As :func:`upload` takes them.

    Returns
    -------
    dask.dataframe.DataFrame
        :func:`imgkit.fit`'s frame, computed and held by the workers.

    Examples
    --------
    >>> fit(object(), shops={"s": {}})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    imgkit.errors.ImgkitError: 没有 Dask 客户端...
    """
    lang = check_lang(lang)
    connected, path, frame = _inputs(batch, shops, client, lang)
    folder = os.path.abspath(out_dir if out_dir is not None else default_out_dir())
    bins = _bins(connected, npartitions)
    # The costly pass in four pieces per thread: the scheduler can even out images that
    # take longer than others (and move pieces off a busy worker); its rows never meet.
    by_file = spread(frame, file_keys, bins if npartitions is not None else 4 * bins)
    made = by_file.map_partitions(fit_files, folder, path, meta=(None, "int64")).sum()
    by_shop = spread(frame, shop_keys, bins)
    with tempfile.TemporaryDirectory() as scratch:  # the empty fit that gives the shape
        meta = imgkit.fit(_bare_meta(by_shop), scratch, shops={}, workers=1, progress=False)
    meta.index = pd.Index([], name=frame.index.name, dtype=by_shop[LABEL].dtype)
    work = by_shop.map_partitions(fit_partition, folder, path, frame.index.name, made, meta=meta)
    return _run(work, connected, progress=progress, lang=lang)


__all__ = ["fit", "upload"]
