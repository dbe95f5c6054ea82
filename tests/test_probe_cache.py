"""The probe cache: compact columns, bounded, and the answers of probing again."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from imgkit.intake import probe
from imgkit.intake.probe import Probe, clear_cache, probe_bytes, probe_file, probe_paths
from imgkit.intake.probe_cache import ProbeCache


def _images(folder: Path, count: int) -> list[str]:
    names = []
    for n in range(count):
        path = folder / f"{n}.png"
        Image.new("RGB", (10 + n, 20), (n % 256, 0, 0)).save(path, "PNG")
        names.append(str(path))
    return names


def test_an_entry_gives_back_the_probe_it_was_given() -> None:
    cache = ProbeCache(capacity=10)
    facts = [
        Probe("jpeg", 1234, 800, 600, 1, "0f" * 32, ""),
        Probe("gif", 10, 1, 2, 7, "00" * 31 + "ff", "corrupt_image"),
        Probe(error="empty_file"),
        Probe("tiff", 5, 0, 0, 0, "", "decompression_bomb"),
    ]
    for n, fact in enumerate(facts):
        cache[(f"/f{n}", fact.bytes, 7)] = fact
    assert [cache.get((f"/f{n}", f.bytes, 7)) for n, f in enumerate(facts)] == facts
    slots = cache.look_up([f"/f{n}" for n in range(4)], [f.bytes for f in facts], [7] * 4)
    assert (slots >= 0).all()
    columns = cache.columns(slots)
    assert columns["sha256"].tolist() == [f.sha256 for f in facts]
    assert columns["probe_error"].tolist() == [f.error for f in facts]
    assert columns["format"].tolist() == [f.format for f in facts]
    assert columns["frames"].tolist() == [f.frames for f in facts]


def test_a_changed_file_is_not_answered_and_replaces_its_entry() -> None:
    cache = ProbeCache(capacity=10)
    cache[("/a", 1, 1)] = Probe("png", 1)
    assert cache.get(("/a", 1, 2)) is None  # touched since
    assert cache.get(("/a", 2, 1)) is None  # another size
    cache[("/a", 2, 2)] = Probe("jpeg", 2)
    assert len(cache) == 1
    assert cache.get(("/a", 2, 2)) == Probe("jpeg", 2)
    assert cache.look_up(["/a", "/b"], [2, 2], [2, 2]).tolist()[1] == -1


def test_the_cache_is_bounded_and_keeps_the_files_used_last() -> None:
    cache = ProbeCache(capacity=100)
    for n in range(100):
        cache[(f"/{n}", n, 0)] = Probe("png", n)
    cache.look_up(["/0"], [0], [0])  # used again: kept
    for n in range(100, 1000):
        cache[(f"/{n}", n, 0)] = Probe("png", n)
        assert len(cache) <= 100
    assert cache.get(("/999", 999, 0)) == Probe("png", 999)
    assert cache.get(("/1", 1, 0)) is None
    assert len(cache._used) <= 100  # the columns do not outgrow the bound either


def test_a_digest_the_cache_cannot_hold_is_not_cached() -> None:
    cache = ProbeCache()
    cache[("/x", 1, 1)] = Probe("png", 1, sha256="not hex")
    assert cache.get(("/x", 1, 1)) is None


def test_probing_with_a_small_cache_answers_as_probing_afresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = _images(tmp_path, 40)
    names += [str(tmp_path / "missing.png"), str(tmp_path)]
    (tmp_path / "empty.png").write_bytes(b"")
    names.append(str(tmp_path / "empty.png"))
    # A URL among the files (nothing listens on port 9: refused at once), so that the
    # frame interleaves files read, files refused, downloads and cached files.
    names.insert(20, "http://127.0.0.1:9/a.jpg")
    expected = pd.DataFrame([_as_row(probe_bytes_or_refusal(n)) for n in names])
    # A cache of 7 files, far fewer than probed: evictions while the pool stores.
    monkeypatch.setattr(probe, "_CACHE", ProbeCache(capacity=7))
    monkeypatch.setattr(probe, "_CACHE_LOCK", probe._CACHE.lock)
    for _ in range(3):
        found = probe_paths([*names, *reversed(names)], workers=2)
        assert len(probe._CACHE) <= 7
        both = pd.concat([expected, expected.iloc[::-1]], ignore_index=True)
        # The types too: the texts in pandas' own storage for text (Arrow on pandas 3).
        pd.testing.assert_frame_equal(found, both)


def probe_bytes_or_refusal(name: str) -> Probe:
    if name.startswith("http://"):
        return Probe(error="download_failed")
    if not os.path.exists(name):
        return Probe(error="missing_file")
    if os.path.isdir(name):
        return Probe(error="unreadable_file")  # as files.stat_or_refusal says a folder
    return probe_bytes(Path(name).read_bytes())


def _as_row(found: Probe) -> dict[str, object]:
    return {
        "format": found.format,
        "bytes": found.bytes,
        "width": found.width,
        "height": found.height,
        "frames": found.frames,
        "sha256": found.sha256,
        "probe_error": found.error,
    }


def test_probe_file_is_answered_from_the_cache_until_the_file_changes(tmp_path: Path) -> None:
    clear_cache()
    name = _images(tmp_path, 1)[0]
    first = probe_file(name)
    assert probe_file(name) == first
    assert len(probe._CACHE) == 1
    Image.new("RGB", (33, 44)).save(name, "PNG")
    os.utime(name, ns=(1, 1))
    assert (probe_file(name).width, probe_file(name).height) == (33, 44)
    assert len(probe._CACHE) == 1
    clear_cache()
    assert len(probe._CACHE) == 0


def test_a_batch_store_answers_as_stores_one_at_a_time() -> None:
    # A cache of 7 taking 20 files: the batch evicts in the middle of itself, and must
    # keep what one store after the other keeps (never one slot for two paths).
    facts = [
        Probe("png" if n % 3 else "gif", n, n + 1, n + 2, 1, f"{n:02x}" * 32 if n % 4 else "")
        for n in range(20)
    ]
    facts[5] = Probe("png", 5, sha256="not hex")  # not cached, either way
    keys = [(f"/{n}.png", n, 7) for n in range(20)]
    one_by_one, batched = ProbeCache(capacity=7), ProbeCache(capacity=7)
    # Batches of 6, then one of 11 (more than the cache holds), the first file used again
    # between them: no longer the oldest, it must outlive the files stored after it.
    for start, stop in ((0, 6), (6, 12), (12, 20), (0, 11)):
        for key, fact in zip(keys[start:stop], facts[start:stop], strict=True):
            one_by_one[key] = fact
        batched.store(keys[start:stop], facts[start:stop])
        for cache in (one_by_one, batched):
            cache.get(keys[0])
    assert len(batched) == len(one_by_one) <= 7
    for key in keys:
        assert batched.get(key) == one_by_one.get(key), key
    kept = [key for key in keys if batched.get(key) is not None]
    assert [batched.get(key) for key in kept] == [facts[keys.index(key)] for key in kept]


def test_facts_the_columns_cannot_hold_are_probed_again_not_a_failed_store(
    tmp_path: Path,
) -> None:
    # A damaged PNG header claiming 4,294,967,280 pixels a side: a decompression bomb to
    # validation, and a width the cache's 32-bit column cannot hold.
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 0xFFFFFFF0, 2, 8, 2, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")
    huge = tmp_path / "huge.png"
    huge.write_bytes(data)
    names = [str(huge), *_images(tmp_path, 2)]
    clear_cache()
    for _ in range(2):  # probed, then probed again (not cached); the others cached
        found = probe_paths(names)
        assert found["probe_error"].tolist() == ["decompression_bomb", "", ""]
        assert found["width"].tolist()[0] == 0xFFFFFFF0
        assert len(probe._CACHE) == 2
    cache = ProbeCache()
    cache[(str(huge), len(data), 1)] = probe_bytes(data)
    assert len(cache) == 0
