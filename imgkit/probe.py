"""Facts about image files: real format (by content, never by extension), size, pixels, hash.

Each file is read once, in full, for its SHA-256; the format and the pixel size come from
the header bytes already in memory (JPEG SOF, PNG IHDR, GIF screen, WEBP/BMP headers),
with Pillow only for other formats and for GIF frame counts.  Truncation is judged from the
end of the data (EOI, IEND, trailer).  Results are cached by (path, size, mtime), so probing
the same files again costs one ``stat`` each.  Probing runs in a thread pool.

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
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import threading
import warnings
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import httpx
import pandas as pd
from PIL import Image

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"BM", "bmp"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
)
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
# Probe problems, each also an issue code of validation.
PROBE_ERRORS = (
    "missing_file",
    "unreadable_file",
    "empty_file",
    "download_failed",
    "not_image",
    "corrupt_image",
    "decompression_bomb",
)


def sniff_format(head: bytes) -> str | None:
    """The image format named by the first bytes of a file, or None."""
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1"):
        return "heic"
    return None


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


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    pos, end = 2, len(data)
    while pos + 4 <= end:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        # SOF0–SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size.
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if pos + 9 > end:
                return None
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return width, height
        pos += 2 + length
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(data) >= 30:
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    return None


def _gif_frames(data: bytes) -> int | None:
    """Image descriptors in a GIF, or None when the block structure is broken."""
    end = len(data)
    pos = 13
    if end < 13:
        return None
    if data[10] & 0x80:  # global colour table
        pos += 3 << ((data[10] & 0x07) + 1)
    frames = 0
    while pos < end:
        kind = data[pos]
        if kind == 0x3B:  # trailer
            return frames
        if kind == 0x21:  # extension: label, then sub-blocks
            pos += 2
        elif kind == 0x2C:  # image descriptor
            if pos + 10 > end:
                return None
            frames += 1
            flags = data[pos + 9]
            pos += 10
            if flags & 0x80:  # local colour table
                pos += 3 << ((flags & 0x07) + 1)
            pos += 1  # LZW minimum code size
        else:
            return None
        while pos < end and data[pos] != 0:  # sub-blocks
            pos += data[pos] + 1
        pos += 1
    return None


def _header_size(fmt: str, data: bytes) -> tuple[int, int] | None:
    if fmt == "jpeg":
        return _jpeg_size(data)
    if fmt == "png" and len(data) >= 24 and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if fmt == "gif" and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if fmt == "webp":
        return _webp_size(data)
    if fmt == "bmp" and len(data) >= 26:
        width, height = struct.unpack("<ii", data[18:26])
        return abs(int(width)), abs(int(height))
    return None


def _truncated(fmt: str, data: bytes) -> bool:
    # Bytes after the end marker are legal (padding, appended data); a missing end marker
    # is not.  0xFFD9 cannot occur inside JPEG entropy-coded data (0xFF is stuffed).
    tail = data[-4096:]
    if fmt == "jpeg":
        return b"\xff\xd9" not in tail
    if fmt == "png":
        return b"IEND" not in tail
    return False


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
    dims = _header_size(fmt, data)
    frames = 1
    if fmt == "gif" and dims is not None:
        counted = _gif_frames(data)
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
    elif _truncated(fmt, data):
        error = "corrupt_image"
    else:
        error = ""
    return Probe(fmt, size, width, height, frames, digest, error)


_CACHE: dict[tuple[str, int, int], Probe] = {}
_CACHE_LOCK = threading.Lock()


def _cached(path: str) -> tuple[Probe | None, tuple[str, int, int] | None]:
    """The cached probe of ``path`` if it is unchanged, else None and the key to store."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return Probe(error="missing_file"), None
    except OSError:
        return Probe(error="unreadable_file"), None
    key = (path, stat.st_size, stat.st_mtime_ns)
    return _CACHE.get(key), key


def _read_and_probe(path: str, key: tuple[str, int, int]) -> Probe:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:  # a folder, or no permission
        return Probe(error="unreadable_file")
    facts = probe_bytes(data)
    with _CACHE_LOCK:
        _CACHE[key] = facts
    return facts


def probe_file(path: str) -> Probe:
    """Probe a local file (cached by path, size and modification time)."""
    cached, key = _cached(path)
    if cached is not None or key is None:
        return cached or Probe(error="unreadable_file")
    return _read_and_probe(path, key)


def download(url: str, client: httpx.Client, limit: int) -> bytes | None:
    """At most ``limit + 1`` bytes of ``url`` (enough to tell it is too large), or None."""
    try:
        with client.stream("GET", url) as response:
            if response.status_code != 200:
                return None
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size > limit:
                    break
            return b"".join(chunks)
    except httpx.HTTPError:
        return None


def probe_url(url: str, client: httpx.Client, limit: int = 64 * 1024 * 1024) -> Probe:
    """Download (up to ``limit``) and probe an http(s) source."""
    data = download(url, client, limit)
    if data is None:
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
    client: httpx.Client | None = None,
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Probe many local files or URLs in parallel; one row per input, in input order.

    Columns: ``format, bytes, width, height, frames, sha256, probe_error``.
    """
    unique = list(dict.fromkeys(files))
    found: dict[str, Probe] = {}
    misses: list[tuple[str, tuple[str, int, int] | None]] = []
    # Cached files cost one stat each, here; only the rest go to the pool.
    for name in unique:
        if is_url(name):
            misses.append((name, None))
            continue
        cached, key = _cached(name)
        if cached is not None:
            found[name] = cached
        elif key is None:
            found[name] = Probe(error="unreadable_file")
        else:
            misses.append((name, key))
    own_client = client is None and any(key is None for _, key in misses)
    http = client or (httpx.Client(timeout=30.0, follow_redirects=True) if own_client else None)

    def run(chunk: Sequence[tuple[str, tuple[str, int, int] | None]]) -> list[Probe]:
        out = []
        for name, key in chunk:
            if key is None:
                assert http is not None
                out.append(probe_url(name, http))
            else:
                out.append(_read_and_probe(name, key))
        if progress is not None:
            progress(len(chunk))
        return out

    try:
        # Parsing holds the GIL; reading and hashing release it.  A few threads overlap the
        # I/O; more only contend for the GIL.
        threads = workers or min(4, (os.cpu_count() or 2) + 1)
        with ThreadPoolExecutor(max_workers=threads) as pool:
            parts = pool.map(run, _chunks(misses, 256))
            results = [p for part in parts for p in part]
    finally:
        if own_client and http is not None:
            http.close()
    found.update(zip((name for name, _ in misses), results, strict=True))
    probes = [found[f] for f in files]
    return pd.DataFrame(
        {
            "format": [p.format for p in probes],
            "bytes": [p.bytes for p in probes],
            "width": [p.width for p in probes],
            "height": [p.height for p in probes],
            "frames": [p.frames for p in probes],
            "sha256": [p.sha256 for p in probes],
            "probe_error": [p.error for p in probes],
        }
    )


def clear_cache() -> None:
    """Forget every cached probe."""
    with _CACHE_LOCK:
        _CACHE.clear()
