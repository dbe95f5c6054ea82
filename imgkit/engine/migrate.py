"""Reading what imgkit 0.1's journals confirmed, so that an upgrade forgets nothing.

imgkit 0.1 kept one journal beside each batch file (``<batch>.imgkit-journal.sqlite``), or
in the user cache for a DataFrame, keyed by platform, shop *name*, target, content and
options — without the endpoint or the account.  When a row is not in the user's journal,
:func:`adopt_legacy` looks for it in those files under its old key and copies what it finds
into the journal under the new key:

* ``done`` — only where the stored image's URL is on the shop's endpoint, or neither is on
  this machine: an image confirmed by a rehearsal on the local sandbox is not taken as stored
  at the real platform (the mistake that made 0.1 skip rows it never sent there);
* ``sending`` (in doubt) and ``pending`` (under audit) — always: the row is then settled by a
  look-up or polled, never sent blindly.

Old files are only read.

Example
-------
>>> legacy_sources(None, upgraded=None)
[]
"""

from __future__ import annotations

import ipaddress
import json
import os
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

from imgkit.engine.destination import Destination, legacy_key
from imgkit.engine.journal import Entry, Journal, State
from imgkit.engine.journal_schema import SELECT, pack
from imgkit.engine.journal_schema import entry_of as _entry
from imgkit.paths import legacy_cache_journal

SUFFIX = ".imgkit-journal.sqlite"  # imgkit 0.1's journal beside a batch file
_OLD_COLUMNS = (
    "key, state, platform, shop, target, sha256, url, image_id, pending_id, category, code, "
    "message, attempts, attempt_info, raw_json, created, updated"
)
_CHUNK = 900


class LegacyRow(Protocol):
    """What :func:`adopt_legacy` needs of a row to send."""

    @property
    def shop_name(self) -> str: ...
    @property
    def sha256(self) -> str: ...
    @property
    def options(self) -> dict[str, str]: ...
    @property
    def dest(self) -> Destination: ...
    @property
    def key(self) -> str: ...


def legacy_sources(
    batch_source: str | os.PathLike[str] | None, upgraded: Path | None
) -> list[Path]:
    """The 0.1 journals that may know rows of a batch read from ``batch_source``.

    ``upgraded`` is the user's journal when it was itself a 0.1 file (its old entries are
    still under old keys).

    >>> legacy_sources("/nowhere/batch.csv", upgraded=None)
    []
    """
    candidates: list[Path] = []
    if upgraded is not None:
        candidates.append(upgraded)
    if batch_source:
        path = Path(os.path.expanduser(os.fspath(batch_source)))
        candidates.append(path.with_name(path.name + SUFFIX))
    cached = legacy_cache_journal()
    if cached is not None:
        candidates.append(cached)
    seen: list[Path] = []
    for path in candidates:
        if path.is_file() and path not in seen:
            seen.append(path)
    return seen


def _loopback(host: str) -> bool:
    if host in ("localhost", "") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def stored_there(url: str, endpoint: str) -> bool:
    """Whether an image served at ``url`` can have been stored through ``endpoint``.

    >>> stored_there("http://127.0.0.1:8765/img/a.jpg", "http://127.0.0.1:8765")
    True
    >>> stored_there("http://127.0.0.1:8765/img/a.jpg", "https://eco.taobao.com")
    False
    >>> stored_there("https://img.alicdn.com/a.jpg", "https://eco.taobao.com")
    True
    """
    image, api = urlsplit(url), urlsplit(endpoint)
    if (image.hostname, image.port) == (api.hostname, api.port):
        return True
    return not _loopback(image.hostname or "") and not _loopback(api.hostname or "")


def _old_entry(row: tuple[Any, ...]) -> Entry:
    """An entry of a 0.1 journal (its columns as ``_OLD_COLUMNS`` lists them)."""
    (key, state, platform, shop, target, sha, url, image_id, pending_id, category, code,
     message, attempts, info, raw, created, updated) = row  # fmt: skip
    return Entry(key, State(state), platform, shop, target, sha, url, image_id, pending_id,
                 category, code, message, attempts, json.loads(info or "{}"), raw or "{}",
                 created, updated)  # fmt: skip


def _read(path: Path, keys: Sequence[str]) -> dict[str, Entry]:
    found: dict[str, Entry] = {}
    try:
        # A URI, for read-only: the path's "?", "#" or "%" must not be read as URI syntax.
        uri = f"file:{quote(str(path.resolve()))}?mode=ro"
        db = sqlite3.connect(uri, uri=True, timeout=30.0)
    except sqlite3.Error:
        return found
    try:
        # A 0.1 file, or one a later imgkit opened as its journal (and so upgraded).
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_schema")}
        for start in range(0, len(keys), _CHUNK):
            chunk = list(keys[start : start + _CHUNK])
            marks = ", ".join("?" * len(chunk))
            if "uploads" in tables:
                rows = db.execute(f"{SELECT} WHERE u.key IN ({marks})", list(map(pack, chunk)))
                found.update((entry.key, entry) for entry in map(_entry, rows))
            else:
                rows = db.execute(
                    f"SELECT {_OLD_COLUMNS} FROM entries WHERE key IN ({marks})", chunk
                )
                found.update((row[0], _old_entry(row)) for row in rows)
    except sqlite3.Error:
        return found  # not a 0.1 journal after all: nothing to adopt
    finally:
        db.close()
    return found


def adopt_legacy(journal: Journal, rows: Iterable[LegacyRow], sources: Sequence[Path]) -> int:
    """Copy what ``sources`` confirmed for ``rows`` (not in ``journal`` yet) into it.

    Returns how many entries were adopted.
    """
    if not sources:
        return 0
    by_old: dict[str, LegacyRow] = {}
    for row in rows:
        old = legacy_key(row.dest.platform, row.shop_name, row.dest.target, row.sha256, row.options)
        by_old.setdefault(old, row)
    adopted = 0
    for path in sources:
        if not by_old:
            break
        own = _same_file(path, journal.path)
        # The journal's own old entries (an upgraded 0.1 file) through its own connection.
        old_entries = journal.lookup_many(by_old) if own else _read(path, list(by_old))
        for old, entry in old_entries.items():
            row = by_old[old]
            if entry.state is State.DONE and not stored_there(entry.url, row.dest.endpoint):
                continue
            journal.adopt(row.key, _with_place(entry, row), drop=old if own else "")
            adopted += 1
            del by_old[old]
    return adopted


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _with_place(entry: Entry, row: LegacyRow) -> Entry:
    return replace(entry, key=row.key, endpoint=row.dest.endpoint, account=row.dest.account)
