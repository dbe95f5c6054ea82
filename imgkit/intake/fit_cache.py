"""The fit cache: conforming copies named by their content, and an index of what made them.

A copy is stored once as ``<folder>/<sha256 of the copy>.<extension>`` (:func:`store`).
The index, ``<folder>/.index/<key>.json``, remembers what fitting an image gave — the copy
and its actions, or why the image cannot be made to conform — under a :func:`key` made of
the source's SHA-256 and everything the result depends on: the byte limit, the formats
taken, the pixel rules that apply to the row, this module's :data:`FIT_VERSION` and
Pillow's version.  Fitting the same file for the same destination again is then one small
read, with no decoding (:func:`lookup`).  A read error or a crashed worker is never
recorded; an entry whose copy was deleted is a miss.

Example
-------
>>> import tempfile
>>> from imgkit.platforms.base import Limits
>>> limits = Limits(max_bytes=1000, formats=frozenset({"jpeg"}))
>>> with tempfile.TemporaryDirectory() as tmp:
...     copy = store(b"GIF89a;", "gif", tmp)
...     name = key("ab" * 32, limits, {})
...     record(tmp, name, Outcome(str(copy), ("converted",)))
...     found = lookup(tmp, name)
...     found.actions, found.cached, Path(found.copy) == copy, lookup(tmp, "0" * 64)
(('converted',), True, True, None)
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import PIL

from imgkit.intake.fit_geometry import applicable_rules
from imgkit.platforms.base import Limits

#: Bump when the same source and limits could give different bytes than before.
FIT_VERSION = "2"
INDEX = ".index"


@dataclass(frozen=True)
class Outcome:
    """What fitting one image gave: the ``copy`` written ("" when the image needed nothing
    or cannot conform), its ``actions``, the ``reason`` it cannot conform ("" when it can),
    and whether it came from the cache's index (``cached``)."""

    copy: str = ""
    actions: tuple[str, ...] = ()
    reason: str = ""
    cached: bool = False


def store(data: bytes, extension: str, folder: str | os.PathLike[str]) -> Path:
    """Store ``data`` as ``<folder>/<sha256>.<extension>`` (once) and return its path.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = store(b"GIF89a;", "gif", tmp)
    ...     path.name[:12], path.suffix, path.read_bytes()
    ('a95fb9e1bcb6', '.gif', b'GIF89a;')
    """
    directory = Path(folder)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{hashlib.sha256(data).hexdigest()}.{extension}"
    if path.exists() and path.stat().st_size == len(data):
        return path
    _write_atomically(path, data)
    return path


def key(source_sha256: str, limits: Limits, options: Mapping[str, object]) -> str:
    """The index key of fitting the image of ``source_sha256`` to ``limits`` for a row
    with ``options``: what :func:`imgkit.intake.fit_core.fit_image` reads, hashed.

    >>> from imgkit.platforms import get_adapter
    >>> limits = get_adapter("tmall_item").limits
    >>> key("0" * 64, limits, {"is_rectangle": "是"}) == key("0" * 64, limits, {})
    False
    >>> key("0" * 64, limits, {"is_rectangle": "是"}) == key("0" * 64, limits, {"is_rectangle": 1})
    True
    """
    rules = applicable_rules(limits, options)
    facts = [
        FIT_VERSION,
        PIL.__version__,
        source_sha256,
        limits.max_bytes,
        sorted(limits.formats),
        [repr(rule) for rule in rules],
    ]
    return hashlib.sha256(json.dumps(facts, ensure_ascii=False).encode()).hexdigest()


def lookup(folder: str | os.PathLike[str], name: str) -> Outcome | None:
    """The recorded outcome of ``name`` in ``folder``'s index, or None (never recorded,
    unreadable, or its copy is gone)."""
    entry = Path(folder) / INDEX / f"{name}.json"
    try:
        facts = json.loads(entry.read_text(encoding="utf-8"))
        copy = str(facts.get("copy", ""))
        actions = tuple(str(action) for action in facts.get("actions", ()))
        reason = str(facts.get("reason", ""))
    except (OSError, ValueError, AttributeError, TypeError):
        return None
    if copy:
        path = Path(folder) / copy
        if not path.is_file():
            return None
        copy = str(path)
    return Outcome(copy, actions, reason, cached=True)


def record(folder: str | os.PathLike[str], name: str, outcome: Outcome) -> None:
    """Remember ``outcome`` under ``name`` in ``folder``'s index (its copy by file name)."""
    facts = {
        "copy": Path(outcome.copy).name if outcome.copy else "",
        "actions": list(outcome.actions),
        "reason": outcome.reason,
    }
    directory = Path(folder) / INDEX
    directory.mkdir(parents=True, exist_ok=True)
    _write_atomically(directory / f"{name}.json", json.dumps(facts).encode())


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.parent / f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp"
    temporary.write_bytes(data)
    os.replace(temporary, path)
