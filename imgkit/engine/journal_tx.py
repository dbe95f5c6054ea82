"""The journal's one write transaction: what waits for a flush, and the flush.

:class:`JournalTx` is the base of :class:`imgkit.engine.journal.Journal` that holds its
connection's open write transaction: writes made with ``commit=False`` join it and
:meth:`JournalTx.flush` commits them all in one fsync (the engine's group commits).  An
outcome made with ``commit=False`` (``confirm``, ``fail``, ``pending``) waits in memory
instead, the last one of each key only, and is written at the flush — every outcome of a
group in one ``executemany`` per state — or earlier, before a read or a write of the same
key, so that the journal's own reads see every write at once.  A flush that holds nothing
but outcomes may skip the fsync (``flush(sync=False)``, the engine's lazy commits): a
``begin`` must be on disk before its request leaves, an outcome need not (lost, it leaves
its row ``sending``: in doubt, settled by a look-up), and the next fsync of the file — the
next group's, the run's heartbeat, its end — puts it on disk with everything before it.
Before it opens a transaction it commits those of the other journals of this process on the
same file, which would otherwise wait on each other's lock from one event loop.

Example
-------
>>> from imgkit.engine.journal import Journal
>>> with Journal(":memory:") as j:
...     j.confirm("k1", "https://img.example/1.jpg", "1", commit=False)
...     waiting = j.unflushed
...     seen = j.lookup("k1").image_id  # a read writes it first
...     j.flush()
...     waiting, seen, j.unflushed
(True, '1', False)
"""

from __future__ import annotations

import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from imgkit.engine.journal_ids import Ids
from imgkit.engine.journal_schema import (
    ANY,
    NOT_DONE,
    Record,
    State,
    pack,
    update_sql,
    upsert_sql,
)

# How long a write waits for another process's transaction (SQLite's busy timeout).
TIMEOUT_S = 30.0
# The journals of this process holding an open transaction (writes made with commit=False).
_HOLDING: weakref.WeakSet[JournalTx] = weakref.WeakSet()


def _nothing(db: sqlite3.Connection) -> int:
    return 0  # a write of nothing: flush or drain what is remembered


# A held outcome: its state, its time (ms), then the columns journal_schema.COLUMNS names for
# that state but the owner (a confirm's URL base as text: its id is found when written).
Held = tuple[Any, ...]
# The states an outcome may move an entry from: a confirm any, the others all but done.
_AFTER = {State.DONE: ANY, State.FAILED: NOT_DONE, State.PENDING: NOT_DONE}


@dataclass(frozen=True, slots=True)
class HeldBegin:
    """A ``begin`` made with ``commit=False`` while a group commit runs: its arguments, and
    what it writes (the statement, the file cut in two, options and attempt as JSON)."""

    key: str
    record: Record
    run: str
    retry_safe: bool
    force: bool
    attempt_info: Mapping[str, Any] | None
    sql: str  # journal_schema.upsert_sql of its case
    folder: str
    name: str
    options: str | None
    info: str | None
    owner: str  # the run whose own entry it may take over ("": none)
    ms: int = field(default_factory=lambda: int(time.time() * 1000))


def begin_values(
    db: sqlite3.Connection, ids: Ids, held: HeldBegin, owner: str | None = None
) -> tuple[Any, ...]:
    """The columns a ``begin`` sets (journal_schema.COLUMNS), the owner's id last, and the
    id of the run it takes over (``owner``, default ``held.owner``) when there is one."""
    record = held.record
    place = ids.place(db, record.platform, record.endpoint, record.account, record.shop)
    sha = pack(record.sha256) if record.sha256 else None
    owner = held.owner if owner is None else owner
    return (place, record.target or None, sha, ids.text(db, held.folder), held.name or None,
            held.options, held.info, ids.run(db, held.run),
            *((ids.run(db, owner),) if owner else ()))  # fmt: skip


class JournalTx:
    """The open transaction of a journal (a base of :class:`imgkit.engine.journal.Journal`,
    which sets these attributes up)."""

    _db: sqlite3.Connection
    _lock: threading.Lock
    wal: bool  # False where SQLite cannot use WAL (":memory:")
    _open: bool  # a transaction holds writes made with commit=False
    _file: str  # the file's real path ("" in memory), to know our other connections to it
    _ids: Ids
    # Outcomes made with commit=False, by packed key: the last of each (a pending the
    # confirm after it replaced is never written).
    _held: dict[bytes | str, Held]
    # Begins made with commit=False while a group commit runs (``groups``), by packed key:
    # written at the flush, before anything else that writes or reads; those that did not
    # apply there (another run's entry, a done one) wait in ``_missed`` for began().
    _begins: dict[bytes | str, HeldBegin]
    _missed: dict[bytes | str, HeldBegin]
    groups: int  # the group commits running on this journal

    def _write(
        self,
        statements: Callable[[sqlite3.Connection], int],
        *,
        commit: bool = True,
        key: bytes | str | None = None,
        sync: bool = True,
    ) -> int:
        """Run ``statements`` (writes) in the open transaction; their row count.  With
        ``commit`` they are on disk when this returns, with every write made before them;
        else they wait for :meth:`flush`.  The held outcomes are written first — all of
        them, or (a write of one ``key``) only when one is of that key.

        ``sync=False`` (with ``commit``, when no transaction is open: outcomes only) commits
        without an fsync; the next commit that syncs puts it on disk too."""
        if not self._open:
            self._flush_others()
        with self._lock:
            if not sync and commit and not self._open and not self._begins:
                return self._write_lazily(statements)
            if not self._open:
                self._db.execute("BEGIN IMMEDIATE")
                self._open = True
                _HOLDING.add(self)
            try:
                if (self._held or self._begins) and (
                    key is None or key in self._held or key in self._begins
                ):
                    self._write_held(self._db)
                count = statements(self._db)
            except sqlite3.Error:
                if not self._db.in_transaction:  # SQLite rolled it all back (a full disk)
                    self._lost()
                raise
            if commit:
                self._commit()
        return int(count)

    def _write_lazily(self, statements: Callable[[sqlite3.Connection], int]) -> int:
        """:meth:`_write` of outcomes in a transaction of their own committed without an
        fsync (under the lock, no transaction open)."""
        db = self._db
        db.execute("PRAGMA synchronous=NORMAL")  # outside a transaction: SQLite's rule
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                if self._held:
                    self._write_held(db)
                count = statements(db)
                db.execute("COMMIT")
            except sqlite3.Error:
                if db.in_transaction:  # only outcomes in it: lost, their rows in doubt
                    db.execute("ROLLBACK")
                self._ids.forget()
                raise
        finally:
            db.execute("PRAGMA synchronous=FULL")
        return int(count)

    def _hold(self, key: bytes | str, outcome: Held) -> None:
        """Keep ``outcome`` of ``key`` for the next flush (it replaces one held before)."""
        if key in self._begins:  # its begin first: written in the order they were made
            self._write(_nothing, commit=False)
        with self._lock:
            self._held[key] = outcome

    def _hold_begin(self, key: bytes | str, held: HeldBegin) -> None:
        """Keep ``held`` (a begin) for the next flush; the held outcome of ``key`` and an
        earlier begin of it are written first."""
        if key in self._held or key in self._begins:
            self._write(_nothing, commit=False)
        with self._lock:
            self._begins[key] = held

    def _write_held(self, db: sqlite3.Connection) -> None:
        """The held outcomes, one UPDATE run per state for them all, then the held begins,
        one statement each, back to back (under the lock)."""
        self._write_outcomes(db)
        if self._begins:
            begins, self._begins = self._begins, {}
            ids = self._ids
            for key, held in begins.items():
                values = begin_values(db, ids, held)
                if db.execute(held.sql, (key, held.ms, held.ms, *values)).rowcount != 1:
                    self._missed[key] = held  # began() takes it again, or refuses it

    def _write_outcomes(self, db: sqlite3.Connection) -> None:
        """The held outcomes, one UPDATE run per state for them all (under the lock)."""
        held, self._held = self._held, {}
        text = self._ids.text
        groups: dict[State, list[tuple[Any, ...]]] = {}
        for key, (state, ms, *columns) in held.items():
            if state is State.DONE:
                columns[0] = text(db, columns[0])  # the URL's base, stored once in texts
            groups.setdefault(state, []).append((ms, *columns, None, key))
        for state, params in groups.items():
            after = _AFTER[state]
            if db.executemany(update_sql(state, after), params).rowcount != len(params):
                # Some had no entry (an outcome without an intent), or (not a confirm) one
                # is done: the upsert inserts the first, leaves the second, and sets the
                # others again to the same values.
                upsert = upsert_sql(state, after, "")
                for ms, *columns, key in params:
                    db.execute(upsert, (key, ms, ms, *columns))

    def _drain(self) -> None:
        """Write the held writes into the open transaction (before a read)."""
        if self._held or self._begins:
            self._write(_nothing, commit=False)

    def _commit(self) -> None:
        if self._open:
            try:
                # WAL + synchronous=FULL: one fsync (NORMAL, a lazy flush's: none).
                self._db.execute("COMMIT")
            except sqlite3.Error:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                self._lost()
                raise
            self._open = False
            _HOLDING.discard(self)

    def _lost(self) -> None:
        """The open transaction is gone, and with it every id made in it (a begin written
        in it is taken again by began(), which then fails as the flush did)."""
        self._open = False
        _HOLDING.discard(self)
        self._ids.forget()

    def _flush_others(self) -> None:
        """Commit the open transaction of every other connection of this process to this
        file before opening one: waiting on SQLite's lock for another run on the same
        event loop would stop the very loop that commits it.  (Not under our own lock,
        so two journals doing this at once cannot wait on each other.)"""
        if not self._file:
            return
        for other in list(_HOLDING):
            if other is not self and other._file == self._file:
                other.flush()

    def checkpoint(self) -> bool:
        """Copy the WAL into the file and empty it, unless another connection is reading
        or writing (then it is left for later: never wait here).  True if it did.

        The end of a run calls it, so a journal left open holds no WAL of several MB.

        >>> from imgkit.engine.journal import Journal
        >>> with Journal(":memory:") as j:
        ...     j.checkpoint()
        False
        """
        self.flush()
        if not self.wal:
            return False
        with self._lock:
            self._db.execute("PRAGMA busy_timeout = 0")
            try:
                (busy, _, _) = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            except sqlite3.OperationalError:
                busy = 1
            finally:
                self._db.execute(f"PRAGMA busy_timeout = {TIMEOUT_S * 1000:.0f}")
        return not busy

    def flush(self, *, sync: bool = True) -> None:
        """Commit every write made with ``commit=False`` (one fsync for them all).

        ``sync=False``: when only outcomes wait (no ``begin``), commit them without the
        fsync — a crash of the process loses nothing, a power cut may lose them (their
        rows stay ``sending``, in doubt) until the next commit that syncs.

        >>> from imgkit.engine.journal import Journal
        >>> with Journal(":memory:") as j:
        ...     j.pending("k1", "m-1", commit=False)
        ...     j.pending("k2", "m-2", commit=False)
        ...     j.unflushed, j.flush(sync=False), j.unflushed
        (True, None, False)
        """
        if self._held or self._begins:
            self._write(_nothing, sync=sync)
            return
        with self._lock:
            self._commit()

    @property
    def unflushed(self) -> bool:
        """Whether writes made with ``commit=False`` wait for :meth:`flush`."""
        return self._open or bool(self._held) or bool(self._begins)
