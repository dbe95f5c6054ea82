"""HEIC read from its header: the pixel size comes from the ``ispe`` property, so a HEIC is
measured (and validation can say ``format_unreadable`` or ``format_refused``) whether or not
pillow-heif, which decodes it, is installed.

:func:`heic_bytes` builds the boxes by hand (ISO/IEC 23008-12 structure: ``ftyp``, then
``meta`` with ``pitm``, ``iprp/ipco`` and ``ipma``), with a ``mdat`` no decoder can read.
"""

from __future__ import annotations

import struct

import pytest
from PIL import Image, UnidentifiedImageError

from imgkit.intake.probe import probe_bytes
from imgkit.intake.sniff import heic_size, sniff_format


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def full_box(kind: bytes, version: int, flags: int, payload: bytes) -> bytes:
    return box(kind, bytes([version]) + flags.to_bytes(3, "big") + payload)


def ispe(width: int, height: int) -> bytes:
    return full_box(b"ispe", 0, 0, struct.pack(">II", width, height))


def heic_bytes(
    width: int = 1200,
    height: int = 1600,
    *,
    tiles: int = 0,
    turn: int = 0,
    wide_ipma: bool = False,
) -> bytes:
    """A HEIC header whose primary item (id 1) is ``width`` x ``height``.

    ``tiles`` extra items with a larger 4096x4096 ``ispe`` come first (the primary must
    still be found through ``pitm`` and ``ipma``); ``turn`` quarter turns go in an
    ``irot`` of the primary; ``wide_ipma`` uses 16-bit property indices.
    """
    ftyp = box(b"ftyp", b"heic" + b"\x00\x00\x00\x00" + b"mif1heic")
    properties = [ispe(4096, 4096) for _ in range(tiles)] + [ispe(width, height)]
    if turn:
        properties.append(box(b"irot", bytes([turn])))
    ipco = box(b"ipco", b"".join(properties))
    primary_props = list(range(tiles + 1, len(properties) + 1))
    entries = []
    for item, props in [(n + 2, [n + 1]) for n in range(tiles)] + [(1, primary_props)]:
        if wide_ipma:
            links = b"".join(struct.pack(">H", 0x8000 | p) for p in props)
        else:
            links = bytes(0x80 | p for p in props)
        entries.append(struct.pack(">HB", item, len(props)) + links)
    ipma = full_box(
        b"ipma", 0, 1 if wide_ipma else 0, struct.pack(">I", len(entries)) + b"".join(entries)
    )
    hdlr = full_box(b"hdlr", 0, 0, b"\x00" * 4 + b"pict" + b"\x00" * 13)
    pitm = full_box(b"pitm", 0, 0, struct.pack(">H", 1))
    meta = full_box(b"meta", 0, 0, hdlr + pitm + box(b"iprp", ipco + ipma))
    return ftyp + meta + box(b"mdat", b"\x00" * 64)


def test_the_primary_items_size_is_read_without_a_decoder() -> None:
    data = heic_bytes(1200, 1600)
    assert sniff_format(data[:32]) == "heic"
    assert heic_size(data) == (1200, 1600)
    with pytest.raises(UnidentifiedImageError):  # Pillow alone cannot open it
        Image.open(__import__("io").BytesIO(data))
    facts = probe_bytes(data)
    assert (facts.format, facts.width, facts.height, facts.error) == ("heic", 1200, 1600, "")


@pytest.mark.parametrize("wide", [False, True])
def test_the_primary_is_chosen_among_larger_tiles(wide: bool) -> None:
    assert heic_size(heic_bytes(640, 480, tiles=3, wide_ipma=wide)) == (640, 480)


@pytest.mark.parametrize(
    ("turn", "size"), [(0, (640, 480)), (1, (480, 640)), (2, (640, 480)), (3, (480, 640))]
)
def test_a_quarter_turn_swaps_the_size(turn: int, size: tuple[int, int]) -> None:
    assert heic_size(heic_bytes(640, 480, turn=turn)) == size


def test_a_cut_header_is_no_size_and_no_crash() -> None:
    data = heic_bytes(1200, 1600)
    for end in range(0, len(data), 7):
        assert heic_size(data[:end]) in (None, (1200, 1600))
    facts = probe_bytes(data[:40])  # ftyp, and a meta box cut short
    assert (facts.format, facts.error) == ("heic", "corrupt_image")
