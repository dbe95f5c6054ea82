"""Image facts from header bytes: the format by content, the pixel size, GIF frames, and
whether a JPEG or PNG reaches its end marker.

Pure functions of bytes already in memory (no Pillow): :mod:`imgkit.intake.probe` uses
them first and asks Pillow only for what they cannot say.  JPEG SOF, PNG IHDR, GIF screen,
WEBP and BMP headers, and HEIC's ``ispe`` property (so a HEIC is measured even where
pillow-heif, which decodes it, is not installed).

Example
-------
>>> sniff_format(b"\\xff\\xd8\\xff\\xe0....")
'jpeg'
>>> png = bytes.fromhex("89504e470d0a1a0a0000000d49484452") + (7).to_bytes(4, "big") * 2
>>> header_size("png", png)
(7, 7)
>>> truncated("png", png)
True
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"BM", "bmp"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
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


def gif_frames(data: bytes) -> int | None:
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


def header_size(fmt: str, data: bytes) -> tuple[int, int] | None:
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
    if fmt == "heic":
        return heic_size(data)
    if fmt == "bmp" and len(data) >= 26:
        width, height = struct.unpack("<ii", data[18:26])
        return abs(int(width)), abs(int(height))
    return None


# Where entropy-coded JPEG data ends: 0xFF followed by anything but a stuffed 0x00 or a
# restart marker (D0-D7).  A regex finds it in C (~1 ms per MB), not byte by byte; this
# form (no repeat) keeps the regex engine's fast literal scan.
_JPEG_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7]")
# How far from the end an EOI is looked for before the scan data is walked (see below).
_JPEG_TAIL = 4096


def _jpeg_complete(data: bytes) -> bool | None:
    """Whether the JPEG reaches its EOI; None when its structure is not one this follows.

    Header segments are skipped by their lengths (an EXIF thumbnail's own EOI inside APP1
    does not count) up to the first scan.  An EOI after that within the file's last 4 KiB
    ends it: entropy-coded data cannot hold the bytes FF D9 (an FF there is followed by a
    stuffed 00 or a restart marker), and a file cut short ends inside its scan data, so
    such a file is whole without its scan data being read (on the validation benchmark's
    files that walk was a quarter of a cold validation's time under the GIL).  Otherwise
    markers are found in the scan data and skipped in turn (a progressive JPEG has tables
    and scans until the EOI); whatever follows the EOI (a motion photo's video) is never
    looked at.
    """
    pos, end = 2, len(data)
    while True:
        if pos + 4 > end:
            return False
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
        elif marker == 0xD9:
            return True
        elif marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
        else:
            (length,) = struct.unpack_from(">H", data, pos + 2)
            pos += 2 + length
            if marker == 0xDA:  # start of scan
                break
    if pos <= end - 2 and data.rfind(b"\xff\xd9", max(pos, end - _JPEG_TAIL)) >= 0:
        return True
    while (found := _JPEG_MARKER.search(data, pos)) is not None:
        pos = found.end()
        marker = data[pos - 1]
        if marker == 0xD9:
            return True
        if marker == 0xFF:  # fill byte: the marker is the next one
            pos -= 1
            continue
        if marker in (0xD8, 0x01):
            continue
        if pos + 2 > end:
            return False
        (length,) = struct.unpack_from(">H", data, pos)
        pos += length
    return False


def _png_complete(data: bytes) -> bool | None:
    """Whether the PNG's chunks reach a whole IEND; None when a chunk type is not letters."""
    pos, end = 8, len(data)
    while pos + 8 <= end:
        length, kind = struct.unpack_from(">I4s", data, pos)
        if not kind.isalpha():
            return None
        pos += 12 + int(length)
        if kind == b"IEND":
            return pos <= end
    return False


def truncated(fmt: str, data: bytes) -> bool:
    # Bytes after the end marker are legal (padding, appended data); a missing end marker
    # is not.
    if fmt == "jpeg":
        complete, marker = _jpeg_complete(data), b"\xff\xd9"
    elif fmt == "png":
        complete, marker = _png_complete(data), b"IEND"
    else:
        return False
    if complete is None:  # a structure the walk does not follow: look for the marker near the end
        return marker not in data[-4096:]
    return not complete


# --- HEIC: the ISO base media file format ---------------------------------------------------


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, box end) of each box between ``start`` and ``end``."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:  # a 64-bit size follows the type
            if pos + 16 > end:
                return
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        elif size == 0:  # to the end of the enclosing box
            size = end - pos
        if size < header or pos + size > end:
            return
        yield kind, pos + header, pos + size
        pos += size


def _child(data: bytes, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    """(payload start, end) of the first ``kind`` box between ``start`` and ``end``."""
    for found, payload, stop in _boxes(data, start, end):
        if found == kind:
            return payload, stop
    return None


def _primary_properties(data: bytes, meta: tuple[int, int], ipma: tuple[int, int]) -> set[int]:
    """The 1-based property indices associated with the primary item (empty if unknown)."""
    pitm = _child(data, *meta, b"pitm")
    if pitm is None:
        return set()
    version = data[pitm[0]]
    (primary,) = struct.unpack_from(">I" if version else ">H", data, pitm[0] + 4)
    version, flags = data[ipma[0]], int.from_bytes(data[ipma[0] + 1 : ipma[0] + 4], "big")
    (count,) = struct.unpack_from(">I", data, ipma[0] + 4)
    pos = ipma[0] + 8
    for _ in range(count):
        (item,) = struct.unpack_from(">I" if version else ">H", data, pos)
        pos += 4 if version else 2
        links = data[pos]
        pos += 1
        wide = flags & 1  # 15-bit property indices instead of 7-bit
        indices = set()
        for _ in range(links):
            if wide:
                indices.add(struct.unpack_from(">H", data, pos)[0] & 0x7FFF)
                pos += 2
            else:
                indices.add(data[pos] & 0x7F)
                pos += 1
        if item == primary:
            return indices
    return set()


def heic_size(data: bytes) -> tuple[int, int] | None:
    """The displayed pixel size of a HEIC image from its ``ispe`` property, or None.

    The primary item's spatial extent (``meta/iprp/ipco/ispe``, chosen through ``pitm``
    and ``ipma``; else the largest), swapped when its ``irot`` turns it a quarter.  Read
    from the header alone, so a HEIC is measured whether or not pillow-heif is installed.
    """
    try:
        meta = _child(data, 0, len(data), b"meta")
        if meta is None:
            return None
        meta = (meta[0] + 4, meta[1])  # a full box: version and flags first
        iprp = _child(data, *meta, b"iprp")
        ipco = _child(data, *iprp, b"ipco") if iprp is not None else None
        if iprp is None or ipco is None:
            return None
        properties = list(_boxes(data, *ipco))
        ipma = _child(data, *iprp, b"ipma")
        chosen = _primary_properties(data, meta, ipma) if ipma is not None else set()
        sizes, turned = [], False
        for index, (kind, start, stop) in enumerate(properties, start=1):
            if kind == b"ispe" and start + 12 <= stop:
                width, height = struct.unpack_from(">II", data, start + 4)
                sizes.append((index in chosen, width * height, int(width), int(height)))
            elif kind == b"irot" and index in chosen and start < stop:
                turned = bool(data[start] & 1)  # angle in quarter turns: 1 or 3
        if not sizes:
            return None
        _primary, _area, width, height = max(sizes)
    except (struct.error, IndexError):
        return None
    return (height, width) if turned else (width, height)
