"""Facts about image files: real format (by content, never by extension), size, pixels, hash.

Each file is read once, in full, for its SHA-256; the format and the pixel size come from
the header bytes already in memory (:mod:`imgkit.intake.sniff`: JPEG SOF, PNG IHDR, GIF
screen, WEBP/BMP headers, HEIC ``ispe``), with Pillow only for other formats.  Truncation
is judged by walking the structure to its end marker (JPEG segments to the scan and then
its EOI, PNG chunks to IEND, the GIF trailer), so data appended after it (a phone's
"motion photo" video) is not mistaken for damage.  Results are cached by (path, size,
mtime), so probing the same files again costs one ``stat`` each.  Probing runs in a thread
pool.

Only regular files are read, and only up to :data:`imgkit.intake.files.READ_CAP`
(:mod:`imgkit.intake.files`: ``not_regular_file``, ``file_too_large``).  URL sources are
downloaded by :mod:`imgkit.intake.sources`: a total deadline, the same cap, redirects only within
the host.

This is the client side's own sniffing, kept apart from the sandbox's so that the two
cannot share a mistake.

Example
-------
>>> sniff_format(b"\\xff\\xd8\\xff\\xe0....")
'jpeg'
>>> import io
>>> from PIL import Image
>>> buffer = io.BytesIO()
>>> Image.new("RGB", (2, 3)).save(buffer, "GIF")
>>> facts = probe_bytes(buffer.getvalue())
>>> (facts.format, facts.width, facts.height, facts.frames, facts.error)
('gif', 2, 3, 1, '')
>>> probe_file("/dev/null").error
'not_regular_file'
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import warnings
from array import array
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from stat import S_ISREG
from typing import Any, TypeVar

import httpx
import numpy as np
import pandas as pd
from PIL import Image

from imgkit.intake.files import READ_CAP, Refused, read_capped, stat_or_refusal
from imgkit.intake.probe_cache import ProbeCache
from imgkit.intake.sniff import gif_frames, header_size, truncated
from imgkit.intake.sniff import sniff_format as sniff_format  # re-exported: its old home
from imgkit.intake.sources import FetchError, fetch_sync
from imgkit.intake.texts import joined, text_array

EXTENSIONS = {"jpeg": "jpg", "png": "png", "gif": "gif", "webp": "webp", "bmp": "bmp"}
# What a file name's extension claims, for the mislabelled-extension warning.
CLAIMED_FORMAT = {
    "jpg": "jpeg",
    "jpeg": "jpeg",
    "jpe": "jpeg",
    "png": "png",
    "gif": "gif",
    "webp": "webp",
    "bmp": "bmp",
    "tif": "tiff",
    "tiff": "tiff",
    "heic": "heic",
    "heif": "heic",
}
T = TypeVar("T")
# Pillow's own bomb threshold: more pixels than this is refused, not decoded.
MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485
PROBE_COLUMNS = ("format", "bytes", "width", "height", "frames", "sha256", "probe_error")
# A URL source's whole download (all redirects, the whole body) during validation.
DOWNLOAD_DEADLINE_S = 30.0
# Probe problems, each also an issue code of validation.
PROBE_ERRORS = (
    "missing_file",
    "unreadable_file",
    "not_regular_file",
    "file_too_large",
    "empty_file",
    "download_failed",
    "not_image",
    "corrupt_image",
    "decompression_bomb",
)


@dataclass(frozen=True)
class Probe:
    """What probing found.  ``error`` is one of :data:`PROBE_ERRORS`, or ""."""

    format: str = ""
    bytes: int = 0
    width: int = 0
    height: int = 0
    frames: int = 0
    sha256: str = ""
    error: str = ""


def _pillow_facts(data: bytes) -> tuple[int, int, int] | str:
    """(width, height, frames) from Pillow's header parse, or an error code."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size
                frames = int(getattr(img, "n_frames", 1))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return "decompression_bomb"
    except (OSError, ValueError, SyntaxError, struct.error, EOFError):
        return "corrupt_image"
    return width, height, frames


def probe_bytes(data: bytes) -> Probe:
    """Probe bytes held in memory."""
    size = len(data)
    if size == 0:
        return Probe(error="empty_file")
    digest = hashlib.sha256(data).hexdigest()
    fmt = sniff_format(data[:32])
    if fmt is None:
        return Probe(bytes=size, sha256=digest, error="not_image")
    dims = header_size(fmt, data)
    frames = 1
    if fmt == "gif" and dims is not None:
        counted = gif_frames(data)
        if counted is None or counted == 0:
            return Probe(format=fmt, bytes=size, sha256=digest, error="corrupt_image")
        frames = counted
    if dims is None:
        facts = _pillow_facts(data)
        if isinstance(facts, str):
            return Probe(format=fmt, bytes=size, sha256=digest, error=facts)
        width, height, frames = facts
    else:
        width, height = dims
    if width <= 0 or height <= 0:
        return Probe(format=fmt, bytes=size, sha256=digest, error="corrupt_image")
    if width * height > MAX_PIXELS:
        error = "decompression_bomb"
    elif truncated(fmt, data):
        error = "corrupt_image"
    else:
        error = ""
    return Probe(fmt, size, width, height, frames, digest, error)


# The process's probes (compact and bounded: :mod:`imgkit.intake.probe_cache`); stores
# take its lock.
_CACHE = ProbeCache()
_CACHE_LOCK = _CACHE.lock


def _stat(path: str) -> os.stat_result | Probe:
    """``os.stat`` of ``path``, or the probe saying why it is not read."""
    info = stat_or_refusal(path, READ_CAP)
    return _refused(info) if isinstance(info, Refused) else info


def _refused(refused: Refused) -> Probe:
    return Probe(bytes=refused.size, error=refused.error)


def _cached(path: str) -> tuple[Probe | None, tuple[str, int, int] | None]:
    """The cached probe of ``path`` if it is unchanged, else None and the key to store;
    a refusal (missing, not a regular file, too large) with no key."""
    info = _stat(path)
    if isinstance(info, Probe):
        return info, None
    key = (path, info.st_size, info.st_mtime_ns)
    return _CACHE.get(key), key


def _read_probe(path: str) -> tuple[Probe, bool]:
    """The probe of the file at ``path``, and whether it may be cached (it was read)."""
    data = read_capped(path, READ_CAP)
    if isinstance(data, Refused):
        return _refused(data), False
    return probe_bytes(data), True


def _read_and_probe(path: str, key: tuple[str, int, int]) -> Probe:
    facts, read = _read_probe(path)
    if read:
        with _CACHE_LOCK:
            _CACHE[key] = facts
    return facts


def probe_file(path: str) -> Probe:
    """Probe a local file (cached by path, size and modification time)."""
    cached, key = _cached(path)
    if cached is not None or key is None:
        return cached or Probe(error="unreadable_file")
    return _read_and_probe(path, key)


def download(
    url: str,
    client: httpx.Client | httpx.BaseTransport,
    limit: int,
    *,
    deadline_s: float | None = None,
) -> bytes | None:
    """The bytes of ``url`` if it downloads whole (at most ``limit``) within
    ``deadline_s`` (default :data:`DOWNLOAD_DEADLINE_S`), else None.

    The rules of :func:`imgkit.intake.sources.fetch_sync` (redirects only within the host).
    """
    try:
        return fetch_sync(client, url, limit, deadline_s=deadline_s or DOWNLOAD_DEADLINE_S)
    except FetchError:
        return None


def probe_url(
    url: str,
    client: httpx.Client | httpx.BaseTransport,
    limit: int = READ_CAP,
    *,
    deadline_s: float | None = None,
) -> Probe:
    """Download (up to ``limit`` bytes, within ``deadline_s`` for the whole download,
    default :data:`DOWNLOAD_DEADLINE_S`) and probe an http(s) source."""
    try:
        data = fetch_sync(client, url, limit, deadline_s=deadline_s or DOWNLOAD_DEADLINE_S)
    except FetchError as exc:
        if exc.code == "file_too_large":
            return Probe(bytes=exc.size, error="file_too_large")
        return Probe(error="download_failed")
    return probe_bytes(data)


def is_url(text: str) -> bool:
    """True for http(s) sources."""
    return text.startswith(("http://", "https://"))


def _chunks(items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def probe_paths(
    files: Sequence[str],
    *,
    workers: int | None = None,
    client: httpx.Client | httpx.BaseTransport | None = None,
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Probe many local files or URLs in parallel; one row per input, in input order.

    Columns: ``format, bytes, width, height, frames, sha256, probe_error``.  Never raises
    for one bad input: each becomes its row's ``probe_error``.
    """
    unique = list(dict.fromkeys(files))
    found: dict[str, Probe] = {}  # files refused without a read (missing, too large...)
    urls: list[str] = []
    # Cached files cost one stat each, here; only the rest go to the pool.  The common
    # case (a regular file within the cap) is stat'ed inline and looked up with the others
    # at once; any other goes the long way (_stat), which says why it is not read.  The
    # stamps are kept as machine integers: a Python int per file and per stamp would be
    # most of the bookkeeping of 100,000 new files.
    stat, regular = os.stat, S_ISREG
    statted: list[str] = []
    sizes = array("q")
    mtimes = array("q")
    for name in unique:
        if name.startswith(("http://", "https://")):  # is_url
            urls.append(name)
            continue
        try:
            info: os.stat_result | Probe | None = stat(name)
        except FileNotFoundError:  # as _stat says it, without a second stat
            found[name] = _MISSING
            continue
        except (OSError, ValueError):
            info = None
        if not (isinstance(info, os.stat_result) and regular(info.st_mode)) or (
            info.st_size > READ_CAP
        ):
            info = _stat(name)
            if isinstance(info, Probe):
                found[name] = info
                continue
        statted.append(name)
        sizes.append(info.st_size)
        mtimes.append(info.st_mtime_ns)
    with _CACHE_LOCK:
        slots = _CACHE.look_up(statted, sizes, mtimes)
        hit = slots >= 0
        # Copied out now: a store by the pool below may evict an entry and reuse its slot.
        cached = _CACHE.columns(slots[hit])
    misses = np.flatnonzero(~hit).tolist()  # positions in statted
    own_client = client is None and bool(urls)
    # A bare transport: no proxies from the environment (as for uploads), no URL logging.
    http = client or (httpx.HTTPTransport(retries=0) if own_client else None)

    def read(k: int) -> tuple[Probe, tuple[str, int, int] | None]:
        facts, read = _read_probe(statted[k])
        return facts, (statted[k], sizes[k], mtimes[k]) if read else None

    def download(url: str) -> tuple[Probe, None]:
        assert http is not None
        return probe_url(url, http), None

    def probe_all(chunk: Sequence[Any], probe: Callable[[Any], _Probed], failed: str) -> _Columns:
        out, keys, kept = [], [], []
        for item in chunk:
            try:
                facts, key = probe(item)
            except Exception:  # one odd input (a decoder's surprise) must not sink the batch
                facts, key = Probe(error=failed), None
            out.append(facts)
            if key is not None:
                keys.append(key)
                kept.append(facts)
        # The chunk's files cached at once: a store per file held the GIL for a fifth of
        # cold probing.
        _CACHE.store(keys, kept)
        if progress is not None:
            progress(len(chunk))
        # As columns at once: a Probe per file (with its own digest text) held until the
        # last file is read would be the peak of validating many new files.
        return _columns_of(out)

    try:
        # Parsing holds the GIL; reading and hashing release it.  One thread per core (at
        # most 4) overlaps them; on 2 cores a third only queued on the GIL: cold validation
        # of 20,000 files at 1.8-2.3x the I/O floor with 2 threads, 2.4-2.5x with 3 (the
        # floor then read during the files' writeback: only the comparison holds).
        threads = workers or min(4, os.cpu_count() or 2)
        with ThreadPoolExecutor(max_workers=threads) as pool:
            read_parts = pool.map(
                lambda c: probe_all(c, read, "unreadable_file"), _chunks(misses, 256)
            )
            url_parts = pool.map(
                lambda c: probe_all(c, download, "download_failed"), _chunks(urls, 256)
            )
            parts = [cached, *read_parts, *url_parts, _columns_of(list(found.values()))]
    finally:
        if own_client and http is not None:
            http.close()
    names = [statted[k] for k in np.flatnonzero(hit).tolist()]
    names += [statted[k] for k in misses]
    names += urls
    names += found
    return _frame(files, names, parts)


_Columns = dict[str, Any]  # a probe column's values: int64 arrays, compact text arrays
# A probe, and the cache key to store it under (None: not to be cached).
_Probed = tuple[Probe, tuple[str, int, int] | None]
_MISSING = Probe(error="missing_file")
_TEXTS = ("format", "sha256", "probe_error")


def _columns_of(probes: Sequence[Probe]) -> _Columns:
    """The probe columns of ``probes``, in :func:`probe_paths`' frame's types (the texts in
    the compact storage at once: a million new files' digests as ``str`` are 113 MB)."""
    columns: _Columns = {}
    for column in PROBE_COLUMNS:
        values = [getattr(p, "error" if column == "probe_error" else column) for p in probes]
        is_text = column in _TEXTS
        columns[column] = text_array(values) if is_text else np.asarray(values, dtype=np.int64)
    return columns


def _frame(files: Sequence[str], names: list[str], parts: Sequence[_Columns]) -> pd.DataFrame:
    """The probe columns of ``files`` in order, from ``parts``: the columns of ``names``
    (each file once), part after part."""
    position = dict(zip(names, range(len(names)), strict=True))
    at = np.fromiter((position[f] for f in files), dtype=np.intp, count=len(files))
    del position
    # (each file once, in the order probed: the columns are in order already)
    same = len(at) == len(names) and bool((at == np.arange(len(at))).all())
    columns: dict[str, Any] = {}
    for column in PROBE_COLUMNS:
        pieces = [part[column] for part in parts]
        if column in _TEXTS:
            values: Any = joined(pieces)
            columns[column] = values if same else values.take(at)
        else:
            values = np.concatenate(pieces)
            columns[column] = values if same else values[at]
    return pd.DataFrame(columns)


def clear_cache() -> None:
    """Forget every cached probe."""
    with _CACHE_LOCK:
        _CACHE.clear()
