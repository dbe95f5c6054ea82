"""The process-wide probe cache: compact, bounded, looked up many files at a time.

Probing a file (:mod:`imgkit.intake.probe`) reads it whole for its hash; its facts are
kept here under its path with the size and modification time they were found at, so that
a second validation of the same files costs one ``stat`` each.  The facts are held in
columns (NumPy arrays: the sizes, the pixel size, the frame count, a small code for the
format and the probe error, the 32 bytes of the SHA-256 digest), not as one Python object
per file: about 75 bytes a file besides its path and the path's dictionary entry (a
``Probe`` dataclass under a tuple key cost about 460 bytes).  One entry per path: a file
that changed replaces its old facts.

The cache is bounded (:data:`CAPACITY` files, ``$IMGKIT_PROBE_CACHE`` to change it): a
long-running process that validates ever new files (a service, a notebook uploading for
days) keeps the files it used last.  When a new file would exceed the bound, the quarter
of the entries used longest ago is forgotten.

Example
-------
>>> from imgkit.intake.probe import Probe
>>> cache = ProbeCache(capacity=4)
>>> cache[("a.jpg", 10, 1)] = Probe("jpeg", 10, 2, 3, 1, "ab" * 32, "")
>>> cache.get(("a.jpg", 10, 1)).width
2
>>> cache.get(("a.jpg", 11, 1)) is None  # the file changed since
True
>>> len(cache)
1
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from imgkit.intake.texts import fixed_width, text_array

if TYPE_CHECKING:  # probe.py imports this module: the class only for the type checker
    from imgkit.intake.probe import Probe

# Files kept by default: a million-row batch names at most a million files.
CAPACITY = 1_000_000
_DIGEST = 32  # bytes of a SHA-256 digest
_INTS = ("size", "mtime", "bytes")
_SMALL = ("width", "height", "frames")
_HEX = frozenset("0123456789abcdef")
_SMALL_MAX = 2**31 - 1  # the width, height and frames columns are int32


def _capacity() -> int:
    """``$IMGKIT_PROBE_CACHE`` (a number of files, at least 1) or :data:`CAPACITY`."""
    try:
        return max(1, int(os.environ.get("IMGKIT_PROBE_CACHE", CAPACITY)))
    except ValueError:
        return CAPACITY


class ProbeCache:
    """Probes by (path, size, mtime_ns), held in columns, at most ``capacity`` files.

    ``cache[key] = probe`` stores, ``cache.get(key)`` answers one file (None: not cached
    or changed since), :meth:`look_up` answers many at once and :meth:`columns` gives
    the facts of looked-up entries as arrays.  Thread-safe: every method takes
    :attr:`lock` (re-entrant: a caller may hold it around a store).

    >>> from imgkit.intake.probe import Probe
    >>> cache = ProbeCache(capacity=2)
    >>> for n in range(3):
    ...     cache[(f"{n}.png", 1, 1)] = Probe("png", 1, 1, 1, 1, "", "")
    >>> len(cache), cache.get(("0.png", 1, 1)) is None  # the oldest went
    (2, True)
    """

    def __init__(self, capacity: int | None = None) -> None:
        self.capacity = capacity if capacity is not None else _capacity()
        self.lock = threading.RLock()
        self.clear()

    def clear(self) -> None:
        """Forget every entry (and give back the arrays' memory)."""
        with self.lock:
            self._slots: dict[str, int] = {}
            self._paths: list[str | None] = []
            self._free: list[int] = []
            self._clock = 0
            self._ints = np.zeros((0, len(_INTS)), dtype=np.int64)
            self._small = np.zeros((0, len(_SMALL)), dtype=np.int32)
            self._codes = np.zeros((0, 2), dtype=np.uint16)  # format, error
            self._digests = np.zeros((0, _DIGEST), dtype=np.uint8)
            self._hashed = np.zeros(0, dtype=bool)
            self._used = np.zeros(0, dtype=np.int64)
            # The texts of the format and error codes: a handful each.
            self._words: tuple[list[str], list[str]] = ([""], [""])
            self._word_codes: tuple[dict[str, int], dict[str, int]] = ({"": 0}, {"": 0})

    def __len__(self) -> int:
        return len(self._slots)

    def _code(self, which: int, word: str) -> int:
        codes = self._word_codes[which]
        if word not in codes:
            codes[word] = len(self._words[which])
            self._words[which].append(word)
        return codes[word]

    def _new_slot(self) -> int:
        if len(self._slots) >= self.capacity:
            self._evict()
        if self._free:
            return self._free.pop()
        slot = len(self._paths)
        if slot >= len(self._used):  # grow the columns by half again
            grown = min(max(1024, slot + slot // 2), max(self.capacity, slot + 1))
            self._ints = _grow(self._ints, grown)
            self._small = _grow(self._small, grown)
            self._codes = _grow(self._codes, grown)
            self._digests = _grow(self._digests, grown)
            self._hashed = _grow(self._hashed, grown)
            self._used = _grow(self._used, grown)
        self._paths.append(None)
        return slot

    def _evict(self) -> None:
        """Forget the quarter of the entries used longest ago (at least one)."""
        live = np.fromiter(self._slots.values(), dtype=np.int64, count=len(self._slots))
        drop = max(1, len(live) // 4)
        oldest = live[np.argpartition(self._used[live], drop - 1)[:drop]]
        for slot in oldest.tolist():
            path = self._paths[slot]
            if path is not None:
                del self._slots[path]
            self._paths[slot] = None
            self._free.append(slot)

    def __setitem__(self, key: tuple[str, int, int], probe: Probe) -> None:
        self.store([key], [probe])

    def store(self, keys: Sequence[tuple[str, int, int]], probes: Sequence[Probe]) -> None:
        """Store each of ``probes`` under its key, one after the other (a path given twice
        keeps its last; facts the cache cannot hold are left out, to be probed again), with
        one lock and whole columns: per file, the stores were a fifth of the time cold
        probing holds the GIL.

        >>> from imgkit.intake.probe import Probe
        >>> cache = ProbeCache(capacity=4)
        >>> cache.store([("a.png", 1, 1), ("b.png", 2, 1)], [Probe("png", 1), Probe("gif", 2)])
        >>> cache.get(("b.png", 2, 1)).format, len(cache)
        ('gif', 2)
        """
        kept = [(key, probe) for key, probe in zip(keys, probes, strict=True) if _holdable(probe)]
        if not kept:
            return
        with self.lock:
            slots = np.empty(len(kept), dtype=np.int64)
            for j, ((path, _, _), _) in enumerate(kept):
                slot = self._slots.get(path)
                if slot is None:
                    slot = self._new_slot()
                    self._slots[path] = slot
                    self._paths[slot] = path
                slots[j] = slot
                # Used now, as a store one at a time marks it: the next new slot of this
                # batch may evict, and must not take one of this batch's.
                self._clock += 1
                self._used[slot] = self._clock
            self._ints[slots] = [(size, mtime, p.bytes) for (_, size, mtime), p in kept]
            self._small[slots] = [(p.width, p.height, p.frames) for _, p in kept]
            self._codes[slots] = [
                (self._code(0, p.format), self._code(1, p.error)) for _, p in kept
            ]
            hashed = np.array([bool(p.sha256) for _, p in kept], dtype=bool)
            self._hashed[slots] = hashed
            if hashed.any():
                digests = bytes.fromhex("".join(p.sha256 for _, p in kept if p.sha256))
                self._digests[slots[hashed]] = np.frombuffer(digests, dtype=np.uint8).reshape(
                    -1, _DIGEST
                )

    def get(self, key: tuple[str, int, int]) -> Probe | None:
        """The probe of ``key``'s path if its size and mtime are still ``key``'s."""
        from imgkit.intake.probe import Probe

        with self.lock:
            slots = self.look_up([key[0]], [key[1]], [key[2]])
            if slots[0] < 0:
                return None
            facts = self.columns(slots)
        return Probe(
            facts["format"][0],
            int(facts["bytes"][0]),
            int(facts["width"][0]),
            int(facts["height"][0]),
            int(facts["frames"][0]),
            facts["sha256"][0],
            facts["probe_error"][0],
        )

    def look_up(
        self, paths: Sequence[str], sizes: Sequence[int] | Any, mtimes: Sequence[int] | Any
    ) -> np.ndarray:
        """The slot of each path whose entry has its size and mtime, else -1 (int64).

        The slots are valid until the next store (which may evict): read their facts
        with :meth:`columns` under :attr:`lock` or before storing.
        """
        with self.lock:
            get = self._slots.get
            slots = np.fromiter((get(p, -1) for p in paths), dtype=np.int64, count=len(paths))
            held = slots >= 0
            if held.any():
                stamps = self._ints[np.where(held, slots, 0)]
                held &= stamps[:, 0] == np.asarray(sizes, dtype=np.int64)
                held &= stamps[:, 1] == np.asarray(mtimes, dtype=np.int64)
                self._clock += 1
                self._used[slots[held]] = self._clock
            return np.where(held, slots, -1)

    def columns(self, slots: np.ndarray) -> dict[str, Any]:
        """The facts of the entries at ``slots`` (each >= 0), one array per probe column
        (``format, bytes, width, height, frames, sha256, probe_error``): integers as
        int64, texts as compact text arrays (:func:`imgkit.intake.texts.text_array`)."""
        with self.lock:
            small = self._small[slots].astype(np.int64)
            codes = self._codes[slots]
            hashed = self._hashed[slots]
            digests = self._digests[slots[hashed]].tobytes().hex()
            formats, errors = self._words
            return {
                "format": text_array([formats[c] for c in codes[:, 0].tolist()]),
                "bytes": self._ints[slots, 2],
                "width": small[:, 0],
                "height": small[:, 1],
                "frames": small[:, 2],
                "sha256": fixed_width(digests, 64, hashed),
                "probe_error": text_array([errors[c] for c in codes[:, 1].tolist()]),
            }


def _holdable(probe: Probe) -> bool:
    """Whether the cache holds ``probe``'s facts: a digest of 64 lower-case hex digits (or
    none), and pixels and frames its 32-bit columns hold (a damaged header may claim four
    billion pixels a side: that file is probed again, never a store that fails)."""
    digest = probe.sha256
    if digest and (len(digest) != 2 * _DIGEST or not _HEX.issuperset(digest)):
        return False
    return all(0 <= value <= _SMALL_MAX for value in (probe.width, probe.height, probe.frames))


def _grow(array: np.ndarray, rows: int) -> np.ndarray:
    out = np.zeros((rows, *array.shape[1:]), dtype=array.dtype)
    out[: len(array)] = array
    return out


__all__ = ["CAPACITY", "ProbeCache"]
