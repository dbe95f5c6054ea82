"""The journal's one write transaction: what waits for a flush, and the flush.

:class:`JournalTx` is the base of :class:`imgkit.engine.journal.Journal` that holds its
connection's open write transaction: writes made with ``commit=False`` join it and
:meth:`JournalTx.flush` commits them all in one fsync (the engine's group commits).  A
confirm made with ``commit=False`` waits in memory instead and is written at the flush —
every confirm of a group in one ``executemany`` — or earlier, before a read or a write of
the same key, so that the journal's own reads see every write at once.  Before it opens a
transaction it commits those of the other journals of this process on the same file, which
would otherwise wait on each other's lock from one event loop.

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
import weakref
from collections.abc import Callable

from imgkit.engine.journal_ids import Ids
from imgkit.engine.journal_schema import ANY, State, update_sql, upsert_sql

# The journals of this process holding an open transaction (writes made with commit=False).
_HOLDING: weakref.WeakSet[JournalTx] = weakref.WeakSet()


def _nothing(db: sqlite3.Connection) -> int:
    return 0  # a write of nothing: flush or drain what is remembered


class JournalTx:
    """The open transaction of a journal (a base of :class:`imgkit.engine.journal.Journal`,
    which sets these attributes up)."""

    _db: sqlite3.Connection
    _lock: threading.Lock
    _open: bool  # a transaction holds writes made with commit=False
    _file: str  # the file's real path ("" in memory), to know our other connections to it
    _ids: Ids
    # Confirms made with commit=False: key, ms, URL base and tail, image id, answer.
    _confirms: list[tuple[bytes | str, int, str, str | None, str | None, str | None]]
    _confirming: set[bytes | str]  # their keys

    def _write(
        self,
        statements: Callable[[sqlite3.Connection], int],
        *,
        commit: bool = True,
        key: bytes | str | None = None,
    ) -> int:
        """Run ``statements`` (writes) in the open transaction; their row count.  With
        ``commit`` they are on disk when this returns, with every write made before them;
        else they wait for :meth:`flush`.  The remembered confirms are written first —
        all of them, or (a write of one ``key``) only when one is of that key."""
        if not self._open:
            self._flush_others()
        with self._lock:
            if not self._open:
                self._db.execute("BEGIN IMMEDIATE")
                self._open = True
                _HOLDING.add(self)
            try:
                if self._confirms and (key is None or key in self._confirming):
                    self._write_confirms(self._db)
                count = statements(self._db)
            except sqlite3.Error:
                if not self._db.in_transaction:  # SQLite rolled it all back (a full disk)
                    self._lost()
                raise
            if commit:
                self._commit()
        return int(count)

    def _write_confirms(self, db: sqlite3.Connection) -> None:
        """The remembered confirms, in one UPDATE run for them all (under the lock)."""
        rows, self._confirms = self._confirms, []
        self._confirming.clear()
        text = self._ids.text
        params = [(ms, text(db, base), tail, image_id, raw, None, key)
                  for key, ms, base, tail, image_id, raw in rows]  # fmt: skip
        if db.executemany(update_sql(State.DONE, ANY), params).rowcount != len(params):
            # Some had no entry (an outcome without an intent): the upsert inserts those
            # and sets the others again to the same values.
            upsert = upsert_sql(State.DONE, ANY, "")
            for ms, base_id, tail, image_id, raw, owner, key in params:
                db.execute(upsert, (key, ms, ms, base_id, tail, image_id, raw, owner))

    def _drain(self) -> None:
        """Write the remembered confirms into the open transaction (before a read)."""
        if self._confirms:
            self._write(_nothing, commit=False)

    def _commit(self) -> None:
        if self._open:
            try:
                self._db.execute("COMMIT")  # WAL + synchronous=FULL: one fsync
            except sqlite3.Error:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                self._lost()
                raise
            self._open = False
            _HOLDING.discard(self)

    def _lost(self) -> None:
        """The open transaction is gone, and with it every id made in it."""
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

    def flush(self) -> None:
        """Commit every write made with ``commit=False`` (one fsync for them all).

        >>> from imgkit.engine.journal import Journal
        >>> with Journal(":memory:") as j:
        ...     j.pending("k1", "m-1", commit=False)
        ...     j.pending("k2", "m-2", commit=False)
        ...     j.unflushed, j.flush(), j.unflushed
        (True, None, False)
        """
        if self._confirms:
            self._write(_nothing)
            return
        with self._lock:
            self._commit()

    @property
    def unflushed(self) -> bool:
        """Whether writes made with ``commit=False`` wait for :meth:`flush`."""
        return self._open or bool(self._confirms)
