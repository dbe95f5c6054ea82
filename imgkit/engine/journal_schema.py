"""The journal's file: its tables, its records and the upgrade of older files.

:mod:`imgkit.engine.journal` reads and writes entries; this module says what a journal file
holds — the ``entries``, ``runs`` and ``meta`` tables (:func:`setup` creates them and
upgrades a file of schema 1, imgkit 0.1's, in one transaction) — and the records it passes
around: the :class:`State` of an upload, the :class:`Record` ``begin`` writes and the
:class:`Entry` a read returns (:func:`entry_of` turns a row into one).  No secret goes into a
file: :func:`dumps` masks secret-looking members.

Example
-------
>>> import sqlite3
>>> db = sqlite3.connect(":memory:", isolation_level=None)
>>> setup(db, ":memory:")
(False, False)
>>> db.execute("SELECT version FROM schema_version").fetchone()
(2,)
>>> dumps({"ok": True, "access_token": "t-1"})
'{"ok": true, "access_token": "***"}'
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any

from imgkit.errors import ImgkitError
from imgkit.secret import Secret

SCHEMA_VERSION = 2
_SECRET_HINTS = ("secret", "token", "session", "password")  # as in imgkit.intake.shops

# Columns added by schema 2 to a file of schema 1 (a journal path given explicitly).
_V2_COLUMNS = (
    ("endpoint", "TEXT NOT NULL DEFAULT ''"),
    ("account", "TEXT NOT NULL DEFAULT ''"),
    ("file", "TEXT NOT NULL DEFAULT ''"),
    ("options", "TEXT NOT NULL DEFAULT '{}'"),
    ("retryable", "INTEGER NOT NULL DEFAULT 0"),
    ("owner", "TEXT NOT NULL DEFAULT ''"),
)
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
    """CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('sending', 'done', 'failed', 'pending')),
    platform TEXT NOT NULL DEFAULT '', shop TEXT NOT NULL DEFAULT '',
    target TEXT NOT NULL DEFAULT '', sha256 TEXT NOT NULL DEFAULT '',
    url TEXT NOT NULL DEFAULT '', image_id TEXT NOT NULL DEFAULT '',
    pending_id TEXT NOT NULL DEFAULT '', category TEXT NOT NULL DEFAULT '',
    code TEXT NOT NULL DEFAULT '', message TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 1, attempt_info TEXT NOT NULL DEFAULT '{}',
    raw_json TEXT NOT NULL DEFAULT '{}', created REAL NOT NULL, updated REAL NOT NULL
)""",
    "CREATE INDEX IF NOT EXISTS entries_sending ON entries (state) WHERE state = 'sending'",
    """CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, pid INTEGER NOT NULL, host TEXT NOT NULL,
    started REAL NOT NULL, beat REAL NOT NULL, ended REAL
)""",
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
)
_V2_INDEXES = (
    # One image id at one target: a look-up's "is this id another row's?" is one probe
    # however many images the target holds (the rest of the place is checked on the few
    # rows found).  Only rows with an id are indexed.  It replaces two larger indexes on
    # the whole place, each the length of a row's place again (about 125 bytes a row).
    "DROP INDEX IF EXISTS entries_place",
    "DROP INDEX IF EXISTS entries_place_image",
    "CREATE INDEX IF NOT EXISTS entries_image ON entries (image_id, target) WHERE image_id != ''",
    "CREATE INDEX IF NOT EXISTS entries_updated ON entries (updated)",
)


class JournalError(ImgkitError):
    """The journal cannot be opened, or a transition would risk a second upload."""


class JournalBusy(JournalError):
    """Another live run is sending this entry right now: wait for its outcome."""


class State(StrEnum):
    """Where an upload stands."""

    SENDING = "sending"
    DONE = "done"
    FAILED = "failed"
    PENDING = "pending"


@dataclass(frozen=True, slots=True)
class Record:
    """What ``begin`` writes about an upload besides its key (all text, no secret)."""

    platform: str
    shop: str
    target: str
    sha256: str
    endpoint: str = ""
    account: str = ""
    file: str = ""
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Entry:
    """One journal row; ``created`` and ``updated`` are epoch seconds."""

    key: str
    state: State
    platform: str
    shop: str
    target: str
    sha256: str
    url: str = ""
    image_id: str = ""
    pending_id: str = ""
    category: str = ""
    code: str = ""
    message: str = ""
    attempts: int = 0
    attempt_info: Mapping[str, Any] = field(default_factory=dict)
    raw_json: str = "{}"
    created: float = 0.0
    updated: float = 0.0
    endpoint: str = ""
    account: str = ""
    file: str = ""
    options: Mapping[str, str] = field(default_factory=dict)
    retryable: bool = False
    owner: str = ""

    @property
    def raw(self) -> Any:
        """The platform's answer recorded by :meth:`imgkit.engine.journal.Journal.confirm`,
        parsed."""
        return json.loads(self.raw_json)


COLUMNS = ", ".join(f.name for f in fields(Entry))  # rows come back in Entry's field order


def scrub(value: Any) -> Any:
    """``value`` with secret-looking members masked (a journal must never hold a secret)."""
    if isinstance(value, Secret):
        return "***"
    if isinstance(value, Mapping):
        return {
            str(k): "***" if any(h in str(k).lower() for h in _SECRET_HINTS) else scrub(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


def dumps(value: Mapping[str, Any] | None) -> str:
    """``value`` as JSON, secret-looking members masked (see :func:`scrub`)."""
    if not value:
        return "{}"  # most rows: nothing to mask or encode
    return json.dumps(scrub(value), ensure_ascii=False, default=str)


def setup(db: sqlite3.Connection, path: str | os.PathLike[str]) -> tuple[bool, bool]:
    """Create or upgrade the tables of the journal ``db`` (at ``path``, for messages).

    Returns (WAL in use, the file holds entries keyed the imgkit 0.1 way).  Raises
    :class:`JournalError` for a file of a newer schema, :class:`sqlite3.DatabaseError` for
    one that is not a journal.
    """
    # WAL: a commit is one append + fsync and readers never block the writer.  FULL:
    # fsync the WAL on every commit (NORMAL could lose the last commits on power loss).
    # fullfsync: macOS's fsync does not reach the platter without it; a no-op elsewhere.
    wal = bool(db.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA fullfsync=ON")
    with db:  # commits, or rolls back on an error
        db.execute("BEGIN IMMEDIATE")  # two processes creating the file at once agree
        for statement in _SCHEMA:  # not executescript(): it would commit first
            db.execute(statement)
        (version,) = db.execute("SELECT max(version) FROM schema_version").fetchone()
        if version is not None and version > SCHEMA_VERSION:
            raise JournalError(
                f"journal {path} was written by a newer imgkit (schema {version}) / "
                "上传记录文件来自更新版本的 imgkit",
                code="journal_too_new",
            )
        if version is None or version < SCHEMA_VERSION:
            have = {row[1] for row in db.execute("PRAGMA table_info(entries)")}
            for name, kind in _V2_COLUMNS:
                if name not in have:
                    db.execute(f"ALTER TABLE entries ADD COLUMN {name} {kind}")
            if version is not None:  # entries keyed the 0.1 way live here: migrate them
                db.execute("INSERT OR REPLACE INTO meta VALUES ('legacy_keys', '1')")
            db.execute("DELETE FROM schema_version")
            db.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
        for statement in _V2_INDEXES:
            db.execute(statement)
        legacy = db.execute("SELECT value FROM meta WHERE name = 'legacy_keys'").fetchone()
    return wal, legacy is not None


_JSON_FIELDS = {i for i, f in enumerate(fields(Entry)) if f.name in ("attempt_info", "options")}


def entry_of(row: tuple[Any, ...]) -> Entry:
    """The :class:`Entry` of a row selected as :data:`COLUMNS` lists its columns."""
    values = list(row)
    values[1] = State(values[1])
    for i in _JSON_FIELDS:
        values[i] = json.loads(values[i] or "{}")
    values[-2] = bool(values[-2])  # retryable
    return Entry(*values)


def upsert_statement(
    key: str,
    state: State,
    after: tuple[State, ...],
    values: Mapping[str, str],
    extra: str = "",
    extra_params: tuple[str, ...] = (),
    *,
    now: float,
) -> tuple[str, tuple[Any, ...]]:
    """The one statement moving ``key`` to ``state`` at ``now`` (epoch seconds; see
    ``Journal._upsert``), and its parameters: insert it, or update it if it is in one of
    the states ``after`` or matches the SQL condition ``extra``."""
    sql = _upsert_sql(state, after, tuple(values), extra)
    return sql, (key, str(state), now, now, *values.values(), *map(str, after), *extra_params)


@functools.lru_cache(maxsize=64)
def _upsert_sql(state: State, after: tuple[State, ...], names: tuple[str, ...], extra: str) -> str:
    # A handful of shapes, each built once: the statement text is also SQLite's cache key.
    sets = "".join(f", {name} = excluded.{name}" for name in names)
    if state is State.SENDING:  # a new attempt counts, and forgets the last one's error
        sets += ", attempts = attempts + 1, category = '', code = '', message = ''"
    allowed = f"state IN ({', '.join('?' * len(after))})" if after else "0"
    return (
        f"INSERT INTO entries (key, state, created, updated, {', '.join(names)}) "
        f"VALUES (?, ?, ?, ?{', ?' * len(names)}) ON CONFLICT (key) DO UPDATE SET "
        f"state = excluded.state, updated = excluded.updated{sets} "
        f"WHERE {allowed}{extra}"
    )


def adopted_values(entry: Entry) -> tuple[list[str], list[Any]]:
    """The columns but ``key`` of ``entry`` and their values as a row stores them, for a
    copy into another journal (its owner dropped: its run is not one of ours)."""
    names = [f.name for f in fields(Entry)][1:]
    values: list[Any] = [getattr(entry, name) for name in names]
    for i, name in enumerate(names):
        if name in ("attempt_info", "options"):
            values[i] = json.dumps(dict(values[i]), ensure_ascii=False)
        elif name == "state":
            values[i] = str(values[i])
        elif name == "retryable":
            values[i] = int(values[i])
        elif name == "owner":
            values[i] = ""  # its run is not one of ours
    return names, values


__all__ = [
    "COLUMNS",
    "SCHEMA_VERSION",
    "Entry",
    "JournalBusy",
    "JournalError",
    "Record",
    "State",
    "adopted_values",
    "dumps",
    "entry_of",
    "scrub",
    "setup",
    "upsert_statement",
]
