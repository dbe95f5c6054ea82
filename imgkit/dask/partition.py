"""Partitions that keep imgkit's guarantees on a cluster.

Every row of one platform account must land in one partition: the account's pacer (its
rate, what it learnt of the platform's limit) and its journal then live in one task, and
no two tasks of a run ever send for the same account at once.  The rows of one file go
together for the heavy pass of :func:`imgkit.dask.fit` in the same way, so no image is
fitted twice at once, and a shop's rows for its second pass, which validates them as a
local fit would.
Partitions are balanced by rows: the groups are packed into bins largest first, each into
the emptiest bin so far (:func:`balance`), and the batch is shuffled once so that bin
``i`` is partition ``i`` (:func:`spread`).

Example
-------
>>> balance({"tmall": 5, "douyin": 4, "qianmi": 3, "vv": 2}, 2)
{'tmall': 0, 'douyin': 1, 'qianmi': 1, 'vv': 0}
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

import dask.dataframe as dd
import pandas as pd

from imgkit.dask.accounts import JournalDir
from imgkit.intake.batch import ROW_COLUMN, SOURCE_ATTR, read_batch_positions
from imgkit.intake.cells import cell_text
from imgkit.intake.validation import load_shops_lenient

LABEL = "_imgkit_label"  # the caller's index label of each row, carried through the shuffle
KEY = "_imgkit_key"  # the group a row belongs to: its account's journal file, or its file
BIN = "_imgkit_bin"  # the partition a row is sent to
_UNKNOWN = "shop:"  # the group of a row whose shop is not (or not well) configured


def balance(counts: Mapping[str, int], bins: int) -> dict[str, int]:
    """Each group's bin: the largest group first, each into the bin with fewest rows so far.

    Greedy packing is within a third of the best balance, and exact when no group holds
    more than its share; ties go to the lower bin, so the answer is the same on every run.

    >>> balance({"a": 1, "b": 1, "c": 1}, 5)
    {'a': 0, 'b': 1, 'c': 2}
    >>> balance({"a": 1}, 0)
    Traceback (most recent call last):
    ...
    ValueError: bins must be at least 1, not 0
    """
    if bins < 1:
        raise ValueError(f"bins must be at least 1, not {bins}")
    loads = [0] * bins
    placed: dict[str, int] = {}
    for group in sorted(counts, key=lambda g: (-counts[g], g)):
        emptiest = min(range(bins), key=lambda b: (loads[b], b))
        placed[group] = emptiest
        loads[emptiest] += counts[group]
    return placed


def normalized(part: pd.DataFrame, offset: int, base: str) -> pd.DataFrame:
    """One partition read as :func:`imgkit.read_batch` reads a frame, with the caller's
    index in :data:`LABEL`, ``row`` counted from the start of the whole batch (``offset``
    rows before this partition) and relative ``file`` paths made absolute against ``base``,
    the caller's folder (a worker's own working directory means nothing to the user).

    >>> part = pd.DataFrame({"平台": ["天猫"], "店铺": ["tmall_store"], "图片": ["a.jpg"],
    ...                      "target": ["1"]}, index=[7])
    >>> out = normalized(part, 10, "/data")
    >>> out[["shop", "file", "row", LABEL]].to_dict("records")
    [{'shop': 'tmall_store', 'file': '/data/a.jpg', 'row': 12, '_imgkit_label': 7}]
    """
    source = part.copy()
    source.attrs[SOURCE_ATTR] = os.path.join(base, "batch")
    numbered = ROW_COLUMN in part.columns
    frame, positions = read_batch_positions(source)
    frame.attrs.pop(SOURCE_ATTR, None)  # no batch file: nothing of 0.1 to look for beside it
    if not numbered:
        frame[ROW_COLUMN] = positions + offset + 2  # as read_batch numbers a whole frame
    frame[LABEL] = part.index[positions]
    return frame


def account_keys(frame: pd.DataFrame, shops: str | None, journal_dir: str) -> pd.DataFrame:
    """``frame`` with :data:`KEY`: each row's account journal file
    (:meth:`imgkit.dask.accounts.JournalDir.account_name`), read by this worker from the
    shops file itself; a row whose shop is unknown or misconfigured gets a group of its
    shop's name (validation refuses it; nothing of it is sent).

    >>> import tempfile
    >>> from imgkit.sandbox import sandbox_shops
    >>> from imgkit.intake.shops_files import write_shops
    >>> tmp = tempfile.mkdtemp()
    >>> path = str(write_shops(f"{tmp}/shops.toml", sandbox_shops("http://127.0.0.1:9")))
    >>> frame = pd.DataFrame({"shop": ["douyin_shop", "nobody", "douyin_shop"]})
    >>> keys = account_keys(frame, path, f"{tmp}/journals")[KEY]
    >>> keys[0] == keys[2], keys[0].startswith("doudian-"), keys[1]
    (True, True, 'shop:nobody')
    """
    good = load_shops_lenient(shops).good
    folder = JournalDir(journal_dir)
    names: dict[str, str] = {}
    keys = []
    for value in frame["shop"]:
        shop = cell_text(value)
        if shop not in names:
            known = good.get(shop)
            names[shop] = folder.account_name(known) if known else _UNKNOWN + shop
        keys.append(names[shop])
    out = frame.copy()
    out[KEY] = pd.Series(keys, index=frame.index, dtype="str")
    return out


def shop_keys(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with :data:`KEY`: each row's shop, as validation's rules across rows
    (duplicates, images per target) group them — the grouping a fit's answer depends on.

    >>> shop_keys(pd.DataFrame({"shop": ["dy ", "tm"]}))[KEY].tolist()
    ['dy', 'tm']
    """
    out = frame.copy()
    out[KEY] = pd.Series([cell_text(v) for v in frame["shop"]], index=frame.index, dtype="str")
    return out


def file_keys(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with :data:`KEY`: each row's file, so that one image is fitted by one task.

    >>> file_keys(pd.DataFrame({"file": [" a.jpg", "b.jpg"]}))[KEY].tolist()
    ['a.jpg', 'b.jpg']
    """
    out = frame.copy()
    out[KEY] = pd.Series([cell_text(v) for v in frame["file"]], index=frame.index, dtype="str")
    return out


def _offsets(batch: dd.DataFrame) -> list[int]:
    """The rows before each partition of ``batch``."""
    lengths = batch.map_partitions(len).compute().tolist()
    starts = [0]
    for length in lengths[:-1]:
        starts.append(starts[-1] + int(length))
    return starts


def _normalized_at(
    part: pd.DataFrame,
    starts: list[int],
    base: str,
    partition_info: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """:func:`normalized` with the offset of the partition Dask says this is."""
    number = int(partition_info["number"]) if partition_info else 0
    return normalized(part, starts[number] if starts else 0, base)


def with_key_meta(meta: pd.DataFrame) -> pd.DataFrame:
    """The empty frame a keyed partition looks like (given to Dask, which would otherwise
    call the key function on made-up rows, here, to guess it).

    >>> with_key_meta(pd.DataFrame({"shop": pd.Series([], dtype="str")})).columns.tolist()
    ['shop', '_imgkit_key']
    """
    return meta.assign(**{KEY: pd.Series([], dtype="str", index=meta.index)})


def spread(
    batch: dd.DataFrame,
    keyed: Callable[..., pd.DataFrame],
    bins: int,
    *args: Any,
) -> dd.DataFrame:
    """``batch`` normalized, each row given its group by ``keyed(frame, *args)``, and
    shuffled into ``bins`` partitions (fewer when there are fewer groups) balanced by
    rows: a group's rows all in one.

    The normalized, keyed batch is persisted first, so the counts and the shuffle read
    it once.  Returns a frame indexed by bin (``divisions`` 0 … ``bins - 1``).
    """
    starts = _offsets(batch)
    base = str(Path.cwd())
    read_meta = normalized(batch._meta, 0, base)
    read = batch.map_partitions(_normalized_at, starts, base, meta=read_meta)
    with_keys = read.map_partitions(keyed, *args, meta=with_key_meta(read_meta)).persist()
    counts = with_keys[KEY].value_counts().compute()
    bins = max(1, min(bins, len(counts)))  # never an empty partition where a group could go
    placed = balance({str(k): int(v) for k, v in counts.items()}, bins)
    binned = with_keys.assign(**{BIN: with_keys[KEY].map(placed, meta=(KEY, "int64"))})
    # A task shuffle: small frames, and a worker lost mid-shuffle costs only its tasks.
    shuffled = binned.set_index(BIN, divisions=[*range(bins), bins - 1], shuffle_method="tasks")
    return cast(dd.DataFrame, shuffled)
