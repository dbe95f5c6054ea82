"""Upgrading a journal file of schema 1 (imgkit 0.1) or 2 to schema 3, in place.

Schemas 1 and 2 kept every upload in ``entries``, one row of text: the key and the
content's SHA-256 as 64 hex digits each, the platform, endpoint, account, shop, folder and
URL spelled out in every row, times as REAL, an index on the key, one on the update time
(about 600 bytes an entry).  Schema 3 (:mod:`imgkit.engine.journal_schema`) packs the same
facts into ``uploads``; :func:`upgrade` copies every entry across — state, owner, attempts,
errors, times and all — and drops ``entries``, in the one transaction of
:func:`imgkit.engine.journal_schema.setup`: a crash midway leaves the old file as it was.
A file of schema 1 keeps its entries under 0.1's keys, marked ``legacy_keys`` so that
:mod:`imgkit.engine.migrate` moves each to its new key when its batch is next sent.

Example
-------
>>> import sqlite3
>>> from imgkit.engine.journal_schema import setup
>>> db = sqlite3.connect(":memory:", isolation_level=None)
>>> _ = db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
>>> _ = db.execute("INSERT INTO schema_version VALUES (1)")
>>> _ = db.execute(V1_ENTRIES)
>>> _ = db.execute("INSERT INTO entries (key, state, platform, created, updated) "
...                "VALUES ('ab', 'done', 'doudian', 1.5, 2.5)")
>>> setup(db, ":memory:")
(False, True)
>>> db.execute("SELECT key, state, created, updated FROM uploads").fetchall()
[('ab', 1, 1500, 2500)]
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

from imgkit.engine.journal_ids import Ids
from imgkit.engine.journal_schema import SCHEMA, STATE_CODE, Entry, State, dumps, pack, split

# imgkit 0.1's entries table (schema 1); schema 2 added _V2_COLUMNS to it.
V1_ENTRIES = """CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('sending', 'done', 'failed', 'pending')),
    platform TEXT NOT NULL DEFAULT '', shop TEXT NOT NULL DEFAULT '',
    target TEXT NOT NULL DEFAULT '', sha256 TEXT NOT NULL DEFAULT '',
    url TEXT NOT NULL DEFAULT '', image_id TEXT NOT NULL DEFAULT '',
    pending_id TEXT NOT NULL DEFAULT '', category TEXT NOT NULL DEFAULT '',
    code TEXT NOT NULL DEFAULT '', message TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 1, attempt_info TEXT NOT NULL DEFAULT '{}',
    raw_json TEXT NOT NULL DEFAULT '{}', created REAL NOT NULL, updated REAL NOT NULL
)"""
_V2_COLUMNS = (
    ("endpoint", "TEXT NOT NULL DEFAULT ''"),
    ("account", "TEXT NOT NULL DEFAULT ''"),
    ("file", "TEXT NOT NULL DEFAULT ''"),
    ("options", "TEXT NOT NULL DEFAULT '{}'"),
    ("retryable", "INTEGER NOT NULL DEFAULT 0"),
    ("owner", "TEXT NOT NULL DEFAULT ''"),
)
_OLD = (
    "key, state, platform, shop, target, sha256, url, image_id, pending_id, category, code, "
    "message, attempts, attempt_info, raw_json, created, updated, endpoint, account, file, "
    "options, retryable, owner"
)
INSERT = (
    "INSERT OR IGNORE INTO uploads (key, state, place, target, sha256, folder, name, "
    "url_base, url_tail, image_id, pending_id, category, code, message, attempts, "
    "retryable, options, attempt_info, raw_json, created, updated, owner) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_BATCH = 1000


def _tables(db: sqlite3.Connection) -> set[str]:
    return {name for (name,) in db.execute("SELECT name FROM sqlite_schema WHERE type='table'")}


def upgrade(db: sqlite3.Connection, version: int) -> None:
    """Bring the journal ``db`` of schema ``version`` (1 or 2) to schema 3, inside the
    caller's open transaction (the caller then records the new version)."""
    tables = _tables(db)
    if "runs" in tables and "id" not in {r[1] for r in db.execute("PRAGMA table_info(runs)")}:
        # Schema 2's runs, named by an implicit rowid: give them an explicit id.
        db.execute("ALTER TABLE runs RENAME TO runs_v2")
        db.execute(SCHEMA[2])
        db.execute(
            "INSERT INTO runs (id, run_id, pid, host, started, beat, ended) "
            "SELECT rowid, run_id, pid, host, started, beat, ended FROM runs_v2"
        )
        db.execute("DROP TABLE runs_v2")
    for statement in SCHEMA[1:]:
        db.execute(statement)
    if "entries" not in tables:
        return
    have = {row[1] for row in db.execute("PRAGMA table_info(entries)")}
    for name, kind in _V2_COLUMNS:
        if name not in have:
            db.execute(f"ALTER TABLE entries ADD COLUMN {name} {kind}")
    if version < 2:  # entries keyed the 0.1 way live here: migrate them row by row
        db.execute("INSERT OR REPLACE INTO meta VALUES ('legacy_keys', '1')")
    ids = Ids()
    batch: list[tuple[Any, ...]] = []
    for row in _old_rows(db):
        batch.append(packed_row(db, ids, row))
        if len(batch) >= _BATCH:
            db.executemany(INSERT, batch)
            batch.clear()
    db.executemany(INSERT, batch)
    db.execute("DROP TABLE entries")  # its indexes go with it


def _old_rows(db: sqlite3.Connection) -> Iterator[tuple[Any, ...]]:
    # Read in pages by key, not one cursor left open while other tables are written.
    last = ""
    while True:
        rows = db.execute(
            f"SELECT {_OLD} FROM entries WHERE key > ? ORDER BY key LIMIT {_BATCH}", (last,)
        ).fetchall()
        if not rows:
            return
        yield from rows
        last = rows[-1][0]


def packed_row(db: sqlite3.Connection, ids: Ids, old: tuple[Any, ...]) -> tuple[Any, ...]:
    """A schema-2 row (its columns as ``_OLD`` lists them) as :data:`INSERT` stores it."""
    (key, state, platform, shop, target, sha, url, image_id, pending_id, category, code,
     message, attempts, info, raw, created, updated, endpoint, account, file, options,
     retryable, owner) = old  # fmt: skip
    folder, name = split(file)
    base, tail = split(url)
    return (
        pack(key),
        STATE_CODE[State(state)],
        ids.place(db, platform, endpoint, account, shop),
        target or None,
        pack(sha) if sha else None,
        ids.text(db, folder),
        name or None,
        ids.text(db, base),
        tail or None,
        image_id or None,
        pending_id or None,
        category or None,
        code or None,
        message or None,
        attempts,
        int(retryable) or None,
        _json_or_none(options),
        _json_or_none(info),
        _json_or_none(raw),
        round(created * 1000),
        round(updated * 1000),
        ids.run(db, owner),
    )


def _json_or_none(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return text if json.loads(text) else None  # "{}" takes no byte
    except ValueError:
        return text  # kept as it was: not ours to judge


def entry_row(db: sqlite3.Connection, ids: Ids, key: str, entry: Entry) -> tuple[Any, ...]:
    """``entry`` (read from another journal) as :data:`INSERT` stores it under ``key``,
    without its owner: its run is not one of this journal's."""
    folder, name = split(entry.file)
    base, tail = split(entry.url)
    return (
        pack(key),
        STATE_CODE[entry.state],
        ids.place(db, entry.platform, entry.endpoint, entry.account, entry.shop),
        entry.target or None,
        pack(entry.sha256) if entry.sha256 else None,
        ids.text(db, folder),
        name or None,
        ids.text(db, base),
        tail or None,
        entry.image_id or None,
        entry.pending_id or None,
        entry.category or None,
        entry.code or None,
        entry.message or None,
        entry.attempts,
        int(entry.retryable) or None,
        dumps(entry.options),
        dumps(entry.attempt_info),
        entry.raw_json if entry.raw_json not in ("", "{}") else None,
        round(entry.created * 1000),
        round(entry.updated * 1000),
        None,
    )
