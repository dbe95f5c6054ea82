"""The journal's reads: entries by key, the ids stored at a place, what is in doubt.

:class:`JournalReads` is the half of :class:`imgkit.engine.journal.Journal` that only
asks: it needs the open connection (``_db``), its lock (``_lock``) and ``run_alive``,
which :class:`imgkit.engine.journal_runs.JournalRuns` provides.  Reads see the journal's
own writes at once, committed or not (one connection); another process sees them once
committed.

Example
-------
>>> from imgkit.engine.journal import Journal, Record
>>> with Journal(":memory:") as j:
...     j.begin("k", Record("tmall_item", "s", "1001", "ab"))
...     j.lookup("k").state
<State.SENDING: 'sending'>
"""

from __future__ import annotations

import math
import sqlite3
import threading
from collections.abc import Callable, Iterable

from imgkit.engine.journal_runs import JournalRuns
from imgkit.engine.journal_schema import SELECT, STATE_CODE, Entry, State, pack
from imgkit.engine.journal_schema import entry_of as _entry

_CHUNK = 900  # below SQLite's historic limit of 999 parameters per statement
_PLACES = "SELECT id FROM places WHERE platform = ? AND endpoint = ? AND account = ?"


class JournalReads(JournalRuns):
    """The queries of a journal (a base of :class:`imgkit.engine.journal.Journal`); what is
    in doubt depends on which runs are alive (:class:`JournalRuns`)."""

    _db: sqlite3.Connection
    _lock: threading.Lock
    # Writes the confirms a journal remembers, so that a read sees them
    # (imgkit.engine.journal.Journal._drain).
    _drain: Callable[[], None]

    def lookup(self, key: str) -> Entry | None:
        """The entry of ``key``, or None when the journal has never seen it."""
        return self.lookup_many([key]).get(key)

    def lookup_many(self, keys: Iterable[str]) -> dict[str, Entry]:
        """The entries of those ``keys`` the journal has (chunked queries: 10k keys are fine).

        >>> from imgkit.engine.journal import Journal, Record
        >>> with Journal(":memory:") as j:
        ...     j.pending("k1", "m-9")
        ...     {k: e.pending_id for k, e in j.lookup_many(["k1", "k2"]).items()}
        {'k1': 'm-9'}
        """
        unique = list(dict.fromkeys(keys))
        found: dict[str, Entry] = {}
        self._drain()
        with self._lock:
            for start in range(0, len(unique), _CHUNK):
                chunk = [pack(key) for key in unique[start : start + _CHUNK]]
                rows = self._db.execute(
                    f"{SELECT} WHERE u.key IN ({', '.join('?' * len(chunk))})", chunk
                ).fetchall()
                found.update((entry.key, entry) for entry in map(_entry, rows))
        return found

    def image_ids(self, platform: str, endpoint: str, account: str, target: str) -> set[str]:
        """Ids of the images confirmed stored at ``target`` of that account on ``platform``.

        A look-up settling an unanswered upload must not take one of these for its own.

        >>> from imgkit.engine.journal import Journal, Record
        >>> with Journal(":memory:") as j:
        ...     j.begin("k", Record("tmall_item", "s", "1001", "ab", "http://e", "a=1"))
        ...     j.confirm("k", "http://img/7.jpg", "7")
        ...     j.image_ids("tmall_item", "http://e", "a=1", "1001")
        {'7'}
        """
        self._drain()
        with self._lock:
            rows = self._db.execute(
                f"SELECT image_id FROM uploads WHERE state = 1 AND target = ? "
                f"AND place IN ({_PLACES})",
                (target, platform, endpoint, account),
            ).fetchall()
        return {image_id for (image_id,) in rows if image_id}

    def holds_image(
        self, platform: str, endpoint: str, account: str, target: str, image_id: str
    ) -> bool:
        """Whether ``image_id`` is confirmed stored for a row at ``target`` (one index probe).

        The question a look-up asks of each candidate it finds: unlike :meth:`image_ids`,
        its cost does not grow with the images the target already holds.

        >>> from imgkit.engine.journal import Journal, Record
        >>> with Journal(":memory:") as j:
        ...     j.begin("k", Record("tmall_item", "s", "1001", "ab", "http://e", "a=1"))
        ...     j.confirm("k", "http://img/7.jpg", "7")
        ...     place = ("tmall_item", "http://e", "a=1", "1001")
        ...     j.holds_image(*place, "7"), j.holds_image(*place, "8")
        (True, False)
        """
        if not image_id:
            return False
        self._drain()
        with self._lock:
            row = self._db.execute(
                f"SELECT 1 FROM uploads INDEXED BY uploads_image WHERE image_id = ? "
                f"AND target = ? AND state = 1 AND place IN ({_PLACES}) LIMIT 1",
                (image_id, target, platform, endpoint, account),
            ).fetchone()
        return row is not None

    def in_doubt(self) -> list[Entry]:
        """Entries left ``sending`` by runs that are gone: sent, or about to be, with no
        answer recorded.  Their outcome is unknown: report them, settle them by a look-up,
        and re-send only where the platform makes that safe."""
        return [e for e in self.entries(state=State.SENDING) if not self.run_alive(e.owner)]

    def entries(
        self,
        *,
        state: State | str | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> list[Entry]:
        """Every entry, oldest change first, optionally of one ``state`` and updated in
        ``[since, until)`` (epoch seconds)."""
        # A scan: no index on the time (it would cost every row bytes for a rare question).
        where, params = ["1"], list[int]()
        if state is not None:
            where.append("u.state = ?")
            params.append(STATE_CODE[State(state)])
        if since is not None:
            where.append("u.updated >= ?")
            params.append(math.floor(since * 1000))  # times are whole ms, cut down
        if until is not None:
            where.append("u.updated < ?")
            params.append(math.floor(until * 1000))
        sql = f"{SELECT} WHERE {' AND '.join(where)} ORDER BY u.updated"
        self._drain()
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return [_entry(row) for row in rows]
