"""The journal: a SQLite file of uploads, so that a re-run of a batch never uploads twice.

Each upload is one row keyed by :func:`journal_key` (platform, shop, target, the sha256 of
the bytes sent, and the options that change where the image lands).  The engine writes an
*intent* before it sends and the outcome after::

    begin()  ──►  sending  ──► confirm() ──► done       (a re-run skips it)
                     │    ├──► fail()    ──► failed     (a re-run tries again)
                     │    └──► pending() ──► pending    (a re-run polls, e.g. a Douyin audit)
                     └── left so by a crash or a dropped connection: in doubt

Every call is its own transaction, committed (WAL, ``synchronous=FULL``) before it returns,
so ``begin`` is on disk before the request leaves and ``confirm`` as soon as the answer is
read: after ``kill -9`` or a power cut nothing confirmed is lost, and what was on the wire
is ``sending`` — reported by :meth:`Journal.in_doubt`, never silently re-sent (``begin``
refuses unless the caller says a re-send is safe, see :meth:`Adapter.retry_safe
<imgkit.platforms.base.Adapter.retry_safe>`).  Only the fields listed here are stored;
secret-looking keys of ``attempt_info`` and of the platform's answer are masked.

Example
-------
>>> import tempfile
>>> key = journal_key("tmall_item", "my_shop", "1001", "ab" * 32, {"is_major": "是"})
>>> with tempfile.TemporaryDirectory() as tmp, Journal(Path(tmp) / "j.sqlite") as journal:
...     journal.begin(key, "tmall_item", "my_shop", "1001", "ab" * 32, {"row": 3})
...     journal.confirm(key, "https://img.example/1.jpg", "77", {"ok": True})
...     entry = journal.lookup(key)
>>> entry.state, entry.url, entry.image_id
(<State.DONE: 'done'>, 'https://img.example/1.jpg', '77')
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import Any

from imgkit.errors import Category, ImgkitError
from imgkit.fitting import user_cache_dir
from imgkit.platforms import resolve_platform
from imgkit.platforms.base import bool_text
from imgkit.secret import Secret

SCHEMA_VERSION = 1
SUFFIX = ".imgkit-journal.sqlite"
# Options that change where an image lands (or what it is called there), and so the key:
# replace_id (which image is overwritten), position (which slot), is_major / is_rectangle
# (main or extra image, Tmall), client_type (computer or phone picture, picture space),
# title (the stored name: picture space, mini-app file_name, Douyin material_name).
# Not need_distinct (how Douyin de-duplicates, not where), not is_https (the URL's scheme),
# not the file's name or path (the bytes count, so a renamed or moved folder is not re-sent),
# and no other column: notes, SKU names or row numbers must not cause a second upload.
DESTINATION_OPTIONS = ("replace_id", "position", "is_major", "is_rectangle", "client_type", "title")
_BOOLEANS = frozenset({"is_major", "is_rectangle"})
_INTEGERS = frozenset({"replace_id", "position"})
_INTEGER = re.compile(r"\+?(\d+)(?:\.0*)?")  # "3", "3.0": Excel hands numbers over as floats
_SECRET_HINTS = ("secret", "token", "session", "password")  # as in imgkit.shops
_CHUNK = 900  # below SQLite's historic limit of 999 parameters per statement

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
)


class JournalError(ImgkitError):
    """The journal cannot be opened, or a transition would risk a second upload."""


class State(StrEnum):
    """Where an upload stands."""

    SENDING = "sending"
    DONE = "done"
    FAILED = "failed"
    PENDING = "pending"


_NOT_DONE = (State.SENDING, State.FAILED, State.PENDING)  # done is final but for a new confirm


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

    @property
    def raw(self) -> Any:
        """The platform's answer recorded by :meth:`Journal.confirm`, parsed."""
        return json.loads(self.raw_json)


_COLUMNS = ", ".join(f.name for f in fields(Entry))  # rows come back in Entry's field order


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):  # None, NaN: absent
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def destination_options(options: Mapping[str, object] | None) -> dict[str, str]:
    """The options of ``options`` that go into the key, normalized; defaults dropped.

    >>> destination_options({"is_major": "1", "is_rectangle": "否", "position": 2.0,
    ...                      "client_type": "computer", "note": "red", "title": " 杯 "})
    {'position': '2', 'is_major': 'true', 'title': '杯'}
    """
    found: dict[str, str] = {}
    for name in DESTINATION_OPTIONS:
        value = _text((options or {}).get(name))
        if name in _BOOLEANS:
            value = "" if bool_text(value) == "false" else "true"  # false is every default
        elif name in _INTEGERS and (match := _INTEGER.fullmatch(value)):
            value = str(int(match.group(1)))
        elif name == "client_type":
            value = value.lower().removeprefix("client:")
            value = "" if value == "computer" else value  # the picture space's default
        if value:
            found[name] = value
    return found


def journal_key(
    platform: str, shop: str, target: str, sha256: str, options: Mapping[str, object] | None = None
) -> str:
    """A stable hex digest naming one upload's destination and content.

    ``platform`` may be a key or an alias; only :data:`DESTINATION_OPTIONS` of ``options``
    count (booleans normalized: "1", "是", "TRUE" are all true).

    >>> a = journal_key("天猫", "s", "1001", "ab" * 32, {"is_major": "TRUE", "note": "x"})
    >>> a == journal_key("tmall_item", "s", " 1001", "AB" * 32, {"is_major": "是"})
    True
    >>> a == journal_key("tmall_item", "s", "1001", "ab" * 32, {"position": "1"})
    False
    """
    parts = [
        "imgkit-journal/1",  # bump when normalization changes so old keys cannot collide
        resolve_platform(platform),
        shop.strip(),
        _text(target),
        sha256.strip().lower(),
        sorted(destination_options(options).items()),
    ]
    material = json.dumps(parts, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def default_journal_path(batch_source: str | os.PathLike[str] | None) -> Path:
    """``<batch file>.imgkit-journal.sqlite`` beside it, or the user cache's journal.

    >>> default_journal_path("/data/products.xlsx").as_posix()
    '/data/products.xlsx.imgkit-journal.sqlite'
    >>> default_journal_path(None).parts[-2:]
    ('imgkit', 'journal.sqlite')
    """
    if batch_source is None or not os.fspath(batch_source):
        return user_cache_dir() / "imgkit" / "journal.sqlite"
    path = Path(os.path.expanduser(os.fspath(batch_source)))
    return path.with_name(path.name + SUFFIX)


def _scrub(value: Any) -> Any:
    """``value`` with secret-looking members masked (a journal must never hold a secret)."""
    if isinstance(value, Secret):
        return "***"
    if isinstance(value, Mapping):
        return {
            str(k): "***" if any(h in str(k).lower() for h in _SECRET_HINTS) else _scrub(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def _dumps(value: Mapping[str, Any] | None) -> str:
    return json.dumps(_scrub(value or {}), ensure_ascii=False, default=str)


class Journal:
    """The journal file at ``path`` (created with its folder when missing).

    One connection guarded by a lock: share one instance between threads, or call it from
    an asyncio loop's thread (every call is a short local transaction).  Several processes
    may open the same file; SQLite serializes their writes.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.wal = False  # False where SQLite cannot use WAL (":memory:"); still durable
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit (isolation_level=None): each statement below commits on its own.
        self._db = sqlite3.connect(
            self.path, timeout=30.0, isolation_level=None, check_same_thread=False
        )
        try:
            self._setup()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise JournalError(
                f"cannot use journal {self.path}: {exc}; move it aside to start afresh / "
                f"无法使用上传记录文件 {self.path}",
                code="journal_unreadable",
            ) from exc

    def _setup(self) -> None:
        db = self._db
        # WAL: a commit is one append + fsync and readers never block the writer.  FULL:
        # fsync the WAL on every commit (NORMAL could lose the last commits on power loss).
        # fullfsync: macOS's fsync does not reach the platter without it; a no-op elsewhere.
        self.wal = db.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA fullfsync=ON")
        with db:  # commits, or rolls back on an error
            db.execute("BEGIN IMMEDIATE")  # two processes creating the file at once agree
            for statement in _SCHEMA:  # not executescript(): it would commit first
                db.execute(statement)
            (version,) = db.execute("SELECT max(version) FROM schema_version").fetchone()
            if version is None:
                db.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
            elif version > SCHEMA_VERSION:
                raise JournalError(
                    f"journal {self.path} was written by a newer imgkit (schema {version}) / "
                    "上传记录文件来自更新版本的 imgkit",
                    code="journal_too_new",
                )

    # --- writes ------------------------------------------------------------------------------

    def begin(
        self,
        key: str,
        platform: str,
        shop: str,
        target: str,
        sha256: str,
        attempt_info: Mapping[str, Any] | None = None,
        *,
        retry_safe: bool = False,
    ) -> None:
        """Record that ``key`` is about to be sent; committed when this returns.

        Raises :class:`JournalError` when the entry is ``done`` or ``pending`` (sending it
        would store a second copy), or ``sending`` (in doubt) unless ``retry_safe``.
        """
        after = (State.FAILED, State.SENDING) if retry_safe else (State.FAILED,)
        info = _dumps(attempt_info)
        values = dict(platform=platform, shop=shop, target=target, sha256=sha256, attempt_info=info)
        self._write(key, State.SENDING, after, values)

    def confirm(
        self, key: str, url: str, image_id: str, raw_json: Mapping[str, Any] | None = None
    ) -> None:
        """Record the platform's success for ``key`` (from any state); committed on return."""
        values = {"url": url, "image_id": image_id, "raw_json": _dumps(raw_json)}
        self._write(key, State.DONE, tuple(State), values)

    def fail(self, key: str, category: Category | str, code: str = "", message: str = "") -> None:
        """Record a failure known not to have stored anything; a re-run sends ``key`` again.

        Not for an unanswered request that may have stored the image: leave that ``sending``.
        """
        values = {"category": str(category), "code": code, "message": message}
        self._write(key, State.FAILED, _NOT_DONE, values)

    def pending(self, key: str, pending_id: str) -> None:
        """Record an upload the platform holds but has not finished (``pending_id`` to poll)."""
        self._write(key, State.PENDING, _NOT_DONE, {"pending_id": pending_id})

    def _write(
        self, key: str, state: State, after: tuple[State, ...], values: dict[str, str]
    ) -> None:
        """Move ``key`` to ``state`` if it is new or in one of the states ``after``.

        One statement in autocommit mode: one transaction, durable when it returns.  A key
        never begun still gets its row (nothing confirmed is lost for want of an intent).
        """
        now = time.time()
        sets = "".join(f", {name} = excluded.{name}" for name in values)
        if state is State.SENDING:  # a new attempt counts, and forgets the last one's error
            sets += ", attempts = attempts + 1, category = '', code = '', message = ''"
        sql = (
            f"INSERT INTO entries (key, state, created, updated, {', '.join(values)}) "
            f"VALUES (?, ?, ?, ?{', ?' * len(values)}) ON CONFLICT (key) DO UPDATE SET "
            f"state = excluded.state, updated = excluded.updated{sets} "
            f"WHERE state IN ({', '.join('?' * len(after))})"
        )
        params = (key, str(state), now, now, *values.values(), *map(str, after))
        with self._lock:
            if self._db.execute(sql, params).rowcount == 1:
                return
            (was,) = self._db.execute("SELECT state FROM entries WHERE key = ?", (key,)).fetchone()
        raise JournalError(
            f"journal entry {key[:12]}… is {was}; not marking it {state} (that could store a "
            f"second copy) / 该图片的上传记录状态为 {was},不能改为 {state}",
            code="in_doubt" if was == State.SENDING else f"already_{was}",
        )

    # --- reads -------------------------------------------------------------------------------

    def lookup(self, key: str) -> Entry | None:
        """The entry of ``key``, or None when the journal has never seen it."""
        return self.lookup_many([key]).get(key)

    def lookup_many(self, keys: Iterable[str]) -> dict[str, Entry]:
        """The entries of those ``keys`` the journal has (chunked queries: 10k keys are fine).

        >>> with Journal(":memory:") as j:
        ...     j.pending("k1", "m-9")
        ...     {k: e.pending_id for k, e in j.lookup_many(["k1", "k2"]).items()}
        {'k1': 'm-9'}
        """
        unique = list(dict.fromkeys(keys))
        found: dict[str, Entry] = {}
        with self._lock:
            for start in range(0, len(unique), _CHUNK):
                chunk = unique[start : start + _CHUNK]
                rows = self._db.execute(
                    f"SELECT {_COLUMNS} FROM entries WHERE key IN ({', '.join('?' * len(chunk))})",
                    chunk,
                ).fetchall()
                found.update((row[0], _entry(row)) for row in rows)
        return found

    def image_ids(self, platform: str, shop: str, target: str) -> set[str]:
        """Ids of the images confirmed stored at ``target`` of ``shop`` on ``platform``.

        A look-up settling an unanswered upload must not take one of these for its own.

        >>> with Journal(":memory:") as j:
        ...     j.begin("k", "tmall_item", "s", "1001", "ab")
        ...     j.confirm("k", "http://img/7.jpg", "7")
        ...     j.image_ids("tmall_item", "s", "1001"), j.image_ids("tmall_item", "s", "1002")
        ({'7'}, set())
        """
        with self._lock:
            rows = self._db.execute(
                "SELECT image_id FROM entries WHERE state = 'done' AND platform = ? "
                "AND shop = ? AND target = ?",
                (platform, shop, target),
            ).fetchall()
        return {image_id for (image_id,) in rows if image_id}

    def in_doubt(self) -> list[Entry]:
        """Entries left ``sending``: sent, or about to be, with no answer recorded.

        Ask before a run starts sending; during a run, its own requests in flight are
        ``sending`` too.  Their outcome is unknown: report them, and re-send only where the
        platform makes that safe (``begin(..., retry_safe=True)``).
        """
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM entries WHERE state = 'sending' ORDER BY updated"
            ).fetchall()
        return [_entry(row) for row in rows]

    # --- lifetime ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the file (every write is already committed; closing twice is fine)."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r})"


def _entry(row: tuple[Any, ...]) -> Entry:
    values = list(row)
    values[1] = State(values[1])
    values[13] = json.loads(values[13])
    return Entry(*values)
