"""The journal's file: its tables, its records, and how a row is packed into few bytes.

:mod:`imgkit.engine.journal` reads and writes entries; this module says what a journal file
holds and the records it passes around: the :class:`State` of an upload, the :class:`Record`
``begin`` writes and the :class:`Entry` a read returns.  Schema 3 (:func:`setup` creates it;
:mod:`imgkit.engine.journal_upgrade` upgrades files of schema 1 and 2 in place) keeps an
entry in about 260 bytes:

* ``uploads``, one row per upload, a ``WITHOUT ROWID`` table whose primary key is the key
  itself — 32 bytes of SHA-256, not 64 hex characters (:func:`pack`), and no second index
  to find it; the content's SHA-256 likewise;
* what many rows repeat is a small integer: the place (platform, endpoint, account, shop)
  in ``places``; the folder of the file and the URL up to its last ``/`` in ``texts``; the
  run sending it in ``runs``;
* times are integer milliseconds; empty fields are NULL (no byte of content);
* one index besides: ``uploads_image`` (the image ids, for a look-up's claim check).

The view ``entries`` shows the rows as schema 2 spelled them, for plain SQL.

No secret goes into a file: :func:`dumps` masks secret-looking members.

Example
-------
>>> import sqlite3
>>> db = sqlite3.connect(":memory:", isolation_level=None)
>>> setup(db, ":memory:")
(False, False)
>>> db.execute("SELECT version FROM schema_version").fetchone()
(3,)
>>> dumps({"ok": True, "access_token": "t-1"})
'{"ok": true, "access_token": "***"}'
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Any

from imgkit.errors import ImgkitError
from imgkit.secret import Secret

SCHEMA_VERSION = 3
_SECRET_HINTS = ("secret", "token", "session", "password")  # as in imgkit.intake.shops

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # An explicit id: VACUUM may renumber an implicit rowid, and uploads name runs by id.
    """CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, run_id TEXT NOT NULL UNIQUE, pid INTEGER NOT NULL,
    host TEXT NOT NULL, started REAL NOT NULL, beat REAL NOT NULL, ended REAL
)""",
    """CREATE TABLE IF NOT EXISTS places (
    id INTEGER PRIMARY KEY, platform TEXT NOT NULL, endpoint TEXT NOT NULL,
    account TEXT NOT NULL, shop TEXT NOT NULL, UNIQUE (platform, endpoint, account, shop)
)""",
    "CREATE TABLE IF NOT EXISTS texts (id INTEGER PRIMARY KEY, text TEXT NOT NULL UNIQUE)",
    # state: 0 sending, 1 done, 2 failed, 3 pending (STATE_CODE).  The file is folder (a
    # text id) + name, the URL url_base (a text id) + url_tail; created/updated in ms.
    """CREATE TABLE IF NOT EXISTS uploads (
    key BLOB PRIMARY KEY, state INTEGER NOT NULL CHECK (state BETWEEN 0 AND 3),
    place INTEGER, target TEXT, sha256 BLOB, folder INTEGER, name TEXT,
    url_base INTEGER, url_tail TEXT, image_id TEXT, pending_id TEXT,
    category TEXT, code TEXT, message TEXT, attempts INTEGER NOT NULL DEFAULT 1,
    retryable INTEGER, options TEXT, attempt_info TEXT, raw_json TEXT,
    created INTEGER NOT NULL, updated INTEGER NOT NULL, owner INTEGER
) WITHOUT ROWID""",
    # A look-up's "is this id another row's?" is one probe however many images the target
    # holds.  Only rows with an id; nothing else is indexed: history scans (it reads most
    # rows anyway) and so does in_doubt() (no hot path asks it).
    "CREATE INDEX IF NOT EXISTS uploads_image ON uploads (image_id) WHERE image_id IS NOT NULL",
)
# The journal as plain SQL sees it, in schema 2's columns (hex, text, seconds): for a
# sqlite3 shell, a script, a test reading the file from outside.  A view: no byte per row.
VIEW = """CREATE VIEW IF NOT EXISTS entries AS SELECT
    CASE WHEN typeof(u.key) = 'blob' THEN lower(hex(u.key)) ELSE u.key END AS key,
    CASE u.state WHEN 0 THEN 'sending' WHEN 1 THEN 'done' WHEN 2 THEN 'failed'
        ELSE 'pending' END AS state,
    coalesce(p.platform, '') AS platform, coalesce(p.shop, '') AS shop,
    coalesce(u.target, '') AS target,
    CASE WHEN typeof(u.sha256) = 'blob' THEN lower(hex(u.sha256))
        ELSE coalesce(u.sha256, '') END AS sha256,
    coalesce(b.text, '') || coalesce(u.url_tail, '') AS url,
    coalesce(u.image_id, '') AS image_id, coalesce(u.pending_id, '') AS pending_id,
    coalesce(u.category, '') AS category, coalesce(u.code, '') AS code,
    coalesce(u.message, '') AS message, u.attempts AS attempts,
    coalesce(u.attempt_info, '{}') AS attempt_info, coalesce(u.raw_json, '{}') AS raw_json,
    u.created / 1000.0 AS created, u.updated / 1000.0 AS updated,
    coalesce(p.endpoint, '') AS endpoint, coalesce(p.account, '') AS account,
    coalesce(f.text, '') || coalesce(u.name, '') AS file,
    coalesce(u.options, '{}') AS options, coalesce(u.retryable, 0) AS retryable,
    coalesce(r.run_id, '') AS owner
FROM uploads u LEFT JOIN places p ON p.id = u.place LEFT JOIN texts b ON b.id = u.url_base
LEFT JOIN texts f ON f.id = u.folder LEFT JOIN runs r ON r.id = u.owner"""


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


STATE_CODE = {State.SENDING: 0, State.DONE: 1, State.FAILED: 2, State.PENDING: 3}
_STATES = tuple(STATE_CODE)  # code -> State


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


def pack(text: str) -> bytes | str:
    """A key or SHA-256 as stored: its 32 bytes when it is 64 lowercase hex digits (every
    key imgkit makes), else the text itself (SQLite tells a BLOB from a TEXT).

    >>> pack("ab" * 32) == bytes([0xAB] * 32), pack("k1")
    (True, 'k1')
    """
    if len(text) == 64:
        try:
            packed = bytes.fromhex(text)
        except ValueError:
            return text
        if packed.hex() == text:  # not "AB…": that must read back as itself
            return packed
    return text


def unpack(value: bytes | str | None) -> str:
    """The text :func:`pack` was given.

    >>> unpack(pack("ab" * 32)) == "ab" * 32, unpack("k1"), unpack(None)
    (True, 'k1', '')
    """
    if isinstance(value, bytes):
        return value.hex()
    return value or ""


def split(text: str) -> tuple[str, str]:
    """``text`` cut after its last ``/`` or ``\\``: a file's folder and name, a URL's base
    and the rest (the first part is stored once, in ``texts``).

    >>> split("/data/shoot/a.jpg"), split("https://img.example/i4/1.jpg"), split("a.jpg")
    (('/data/shoot/', 'a.jpg'), ('https://img.example/i4/', '1.jpg'), ('', 'a.jpg'))
    """
    cut = max(text.rfind("/"), text.rfind("\\")) + 1
    return text[:cut], text[cut:]


def scrub(value: Any) -> Any:
    """``value`` with secret-looking members masked (a journal must never hold a secret).

    >>> scrub({"session": "s-1", "items": [{"id": 1}]})
    {'session': '***', 'items': [{'id': 1}]}
    """
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


def dumps(value: Mapping[str, Any] | None) -> str | None:
    """``value`` as JSON, secret-looking members masked (see :func:`scrub`); None (stored
    as NULL, no byte) when empty.

    >>> dumps({"token": "t"}), dumps({})
    ('{"token": "***"}', None)
    """
    if not value:
        return None  # most rows: nothing to mask, encode or store
    return json.dumps(scrub(value), ensure_ascii=False, default=str)


def setup(db: sqlite3.Connection, path: str | os.PathLike[str]) -> tuple[bool, bool]:
    """Create or upgrade the tables of the journal ``db`` (at ``path``, for messages).

    Returns (WAL in use, the file holds entries keyed the imgkit 0.1 way).  Raises
    :class:`JournalError` for a file of a newer schema, :class:`sqlite3.DatabaseError` for
    one that is not a journal.
    """
    from imgkit.engine.journal_upgrade import upgrade  # it builds on this module

    # WAL: a commit is one append + fsync and readers never block the writer.  FULL:
    # fsync the WAL on every commit (NORMAL could lose the last commits on power loss).
    # fullfsync: macOS's fsync does not reach the platter without it; a no-op elsewhere.
    # secure_delete=FAST: no secret is ever stored, so freed space is not zeroed at the
    # cost of extra writes (this build of SQLite may default it ON).
    wal = bool(db.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA fullfsync=ON")
    db.execute("PRAGMA secure_delete=FAST")
    with db:  # commits, or rolls back on an error
        db.execute("BEGIN IMMEDIATE")  # two processes creating the file at once agree
        db.execute(SCHEMA[0])
        (version,) = db.execute("SELECT max(version) FROM schema_version").fetchone()
        if version is not None and version > SCHEMA_VERSION:
            raise JournalError(
                f"journal {path} was written by a newer imgkit (schema {version}) / "
                "上传记录文件来自更新版本的 imgkit",
                code="journal_too_new",
            )
        if version is not None and version < SCHEMA_VERSION:
            upgrade(db, version)  # not executescript(): it would commit first
        for statement in (*SCHEMA[1:], VIEW):
            db.execute(statement)
        if version != SCHEMA_VERSION:
            db.execute("DELETE FROM schema_version")
            db.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
        legacy = db.execute("SELECT value FROM meta WHERE name = 'legacy_keys'").fetchone()
    return wal, legacy is not None


# The states (codes, journal_schema.STATE_CODE) a write may move an entry from.
ANY = (0, 1, 2, 3)
NOT_DONE = (0, 2, 3)  # done is final but for a new confirm
FAILED = (2,)  # begin: a new entry, or one that failed
FORCED = (1, 2, 3)  # begin with force: also done and pending
# What each write sets, after key, state, created, updated.
COLUMNS = {
    State.SENDING: ("place", "target", "sha256", "folder", "name", "options", "attempt_info"),
    State.DONE: ("url_base", "url_tail", "image_id", "raw_json"),
    State.FAILED: ("category", "code", "message", "retryable"),
    State.PENDING: ("pending_id",),
}
# begin's takeover of an entry left sending: by that run (its id the last parameter), or by none.
OWNED = " OR (state = 0 AND owner = ?)"
UNOWNED = " OR (state = 0 AND owner IS NULL)"


@lru_cache(maxsize=32)
def upsert_sql(state: State, after: tuple[int, ...], extra: str) -> str:
    """The one statement of a write (a handful of shapes, each built once: the text is
    also the key of the prepared statement in the sqlite3 module's cache)."""
    names = (*COLUMNS[state], "owner")
    sets = "".join(f", {name} = excluded.{name}" for name in names)
    if state is State.SENDING:  # a new attempt counts, and forgets the last one's error
        sets += ", attempts = attempts + 1, category = NULL, code = NULL, message = NULL"
    if after == ANY:
        where = ""
    elif after:
        where = f" WHERE state IN ({', '.join(map(str, after))}){extra}"
    else:
        where = f" WHERE 0{extra}"
    return (
        f"INSERT INTO uploads (key, state, created, updated, {', '.join(names)}) "
        f"VALUES (?, {STATE_CODE[state]}, ?, ?{', ?' * len(names)}) ON CONFLICT (key) "
        f"DO UPDATE SET state = excluded.state, updated = excluded.updated{sets}{where}"
    )


@lru_cache(maxsize=8)
def update_sql(state: State, after: tuple[int, ...]) -> str:
    """An outcome's write when its entry exists (nearly always): a plain UPDATE by key is
    one seek, where the upsert first builds the row to insert and meets the conflict."""
    sets = "".join(f", {name} = ?" for name in (*COLUMNS[state], "owner"))
    where = "" if after == ANY else f" AND state IN ({', '.join(map(str, after))})"
    return f"UPDATE uploads SET state = {STATE_CODE[state]}, updated = ?{sets} WHERE key = ?{where}"


# Every read: an upload with its place, texts and run, in Entry's field order.
SELECT = (
    "SELECT u.key, u.state, p.platform, p.shop, u.target, u.sha256, b.text, u.url_tail, "
    "u.image_id, u.pending_id, u.category, u.code, u.message, u.attempts, u.attempt_info, "
    "u.raw_json, u.created, u.updated, p.endpoint, p.account, f.text, u.name, u.options, "
    "u.retryable, r.run_id FROM uploads u LEFT JOIN places p ON p.id = u.place "
    "LEFT JOIN texts b ON b.id = u.url_base LEFT JOIN texts f ON f.id = u.folder "
    "LEFT JOIN runs r ON r.id = u.owner"
)


def entry_of(row: tuple[Any, ...]) -> Entry:
    """The :class:`Entry` of a row read by :data:`SELECT`."""
    (key, state, platform, shop, target, sha, base, tail, image_id, pending_id, category,
     code, message, attempts, info, raw, created, updated, endpoint, account, folder, name,
     options, retryable, owner) = row  # fmt: skip
    return Entry(
        unpack(key),
        _STATES[state],
        platform or "",
        shop or "",
        target or "",
        unpack(sha),
        (base or "") + (tail or ""),
        image_id or "",
        pending_id or "",
        category or "",
        code or "",
        message or "",
        attempts,
        json.loads(info) if info else {},
        raw or "{}",
        created / 1000,
        updated / 1000,
        endpoint or "",
        account or "",
        (folder or "") + (name or ""),
        json.loads(options) if options else {},
        bool(retryable),
        owner or "",
    )


__all__ = [
    "ANY",
    "COLUMNS",
    "FAILED",
    "FORCED",
    "NOT_DONE",
    "OWNED",
    "SCHEMA_VERSION",
    "SELECT",
    "STATE_CODE",
    "UNOWNED",
    "VIEW",
    "Entry",
    "JournalBusy",
    "JournalError",
    "Record",
    "State",
    "dumps",
    "entry_of",
    "pack",
    "scrub",
    "setup",
    "split",
    "unpack",
    "update_sql",
    "upsert_sql",
]
