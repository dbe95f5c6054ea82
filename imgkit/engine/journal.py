"""The journal: one SQLite file per user of every upload, so nothing is ever stored twice.

Each upload is one entry keyed by its destination and content
(:meth:`imgkit.engine.destination.Destination.key`: platform, endpoint, account, target, the
options that change where the image lands, the bytes' SHA-256), so any copy of a batch — a
renamed file, a CSV of it, a DataFrame, a results workbook read back — finds what was
stored there, and another server or account never does.  The engine writes an *intent*
before it sends and the outcome after::

    begin()  ──►  sending  ──► confirm() ──► done       (a re-run skips it)
                     │    ├──► fail()    ──► failed     (a re-run tries again)
                     │    └──► pending() ──► pending    (a re-run polls, e.g. a Douyin audit)
                     └── left so by a crash or a dropped connection: in doubt

Every write is committed (WAL, ``synchronous=FULL``: on disk) before it returns, unless
it is made with ``commit=False``: then it waits for :meth:`Journal.flush`, one fsync for
every write since the last (:mod:`imgkit.engine.journal_tx`: outcomes wait in memory, the
last of each key only, and so do begins while a group commit runs, all written back to back
at the flush).  The engine uses that for group commits: the ``begin`` of every request
leaving at about the same time is flushed together *before* any of them leaves
(:meth:`Journal.began` then tells each row whether its own applied), and outcomes are
flushed with the next group or within :data:`imgkit.engine.group_commit.LAZY_S` — without
an fsync when no begin is among them.  So after ``kill -9`` or a power cut
what was on the wire is ``sending``; an outcome lost with the last unflushed group leaves
its row ``sending`` too, in doubt, which the next run settles by a look-up — never by a
blind re-send.  Each ``sending`` entry names the run that owns it; runs register
(:meth:`Journal.start_run`) and beat (:meth:`Journal.beat`), so a second run at the same
time (another notebook, another terminal) sees that the entry is being sent *now*
(:class:`JournalBusy`) and waits for its outcome, while an entry whose run is gone is in
doubt, settled by a look-up or refused (``begin`` sends it again only when the caller says
a re-send is safe).  No secret is stored: accounts are fingerprinted, secret-looking keys of
the platform's answer are masked.

The file is ``journal.sqlite`` in :func:`imgkit.paths.data_dir` (``$IMGKIT_HOME`` moves
it); :mod:`imgkit.engine.migrate` reads the per-batch journals of imgkit 0.1.

Example
-------
>>> import tempfile
>>> with tempfile.TemporaryDirectory() as tmp, Journal(Path(tmp) / "j.sqlite") as journal:
...     run = journal.start_run()
...     journal.begin("k1", Record("tmall_item", "s", "1001", "ab" * 32), run=run)
...     journal.confirm("k1", "https://img.example/1.jpg", "77", {"ok": True})
...     entry = journal.lookup("k1")
>>> entry.state, entry.url, entry.image_id
(<State.DONE: 'done'>, 'https://img.example/1.jpg', '77')
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NoReturn

from imgkit.engine.journal_ids import Ids
from imgkit.engine.journal_reads import JournalReads
from imgkit.engine.journal_runs import BEAT_S, STALE_S
from imgkit.engine.journal_schema import (
    FAILED,
    FORCED,
    NOT_DONE,
    OWNED,
    SCHEMA_VERSION,
    UNOWNED,
    Entry,
    JournalBusy,
    JournalError,
    Record,
    State,
    pack,
    setup,
    split,
    update_sql,
    upsert_sql,
)
from imgkit.engine.journal_schema import dumps as _dumps
from imgkit.engine.journal_tx import TIMEOUT_S, HeldBegin, JournalTx, begin_values
from imgkit.engine.journal_upgrade import INSERT, entry_row
from imgkit.errors import Category
from imgkit.paths import data_dir

FILE_NAME = "journal.sqlite"


def default_journal_path() -> Path:
    """The user's journal: ``journal.sqlite`` in :func:`imgkit.paths.data_dir`.

    >>> default_journal_path().name
    'journal.sqlite'
    """
    return data_dir() / FILE_NAME


class Journal(JournalReads, JournalTx):
    """The journal file at ``path`` (created with its folder when missing).

    One connection guarded by a lock: share one instance between threads, or call it from
    an asyncio loop's thread (every call is a short local transaction).  Several processes
    may open the same file at once; SQLite serializes their writes.

    Parameters
    ----------
    path
        The SQLite file (default: :func:`default_journal_path`, the user's journal);
        ``":memory:"`` keeps it in memory, for tests.

    Raises
    ------
    JournalError
        When the file is not a journal SQLite can read.

    Examples
    --------
    >>> with Journal(":memory:") as journal:
    ...     journal.begin("k1", Record("qianmi_sku", "qianmi_shop", "18353/g1234", "ab" * 32))
    ...     journal.fail("k1", Category.INVALID_INPUT, "bad_image", "refused")
    ...     failed = journal.lookup("k1").state
    ...     journal.begin("k1", Record("qianmi_sku", "qianmi_shop", "18353/g1234", "ab" * 32))
    ...     journal.confirm("k1", "http://img.example/1.jpg", "5")
    ...     done, unseen = journal.lookup("k1"), journal.lookup("k2")
    >>> failed, done.state, done.image_id, unseen
    (<State.FAILED: 'failed'>, <State.DONE: 'done'>, '5', None)
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_journal_path()
        self.wal = False  # False where SQLite cannot use WAL (":memory:"); still durable
        self.upgraded = False  # True when this file was written by imgkit 0.1
        self._lock = threading.Lock()
        self._open = False  # a transaction holds writes made with commit=False
        # Which file, to know the other connections of this process to it.
        self._file = os.path.realpath(self.path) if str(self.path) != ":memory:" else ""
        self._live: dict[str, tuple[bool, float]] = {}  # run id -> (alive, when checked)
        self._ids = Ids()  # places, texts and runs by id (imgkit.engine.journal_ids)
        # Outcomes made with commit=False, by key, written with the next flush in one
        # executemany per state (or before anything that must see them).
        self._held: dict[bytes | str, tuple[Any, ...]] = {}
        self._begins: dict[bytes | str, HeldBegin] = {}  # begins, the same way
        self._missed: dict[bytes | str, HeldBegin] = {}  # begins that did not apply
        self.groups = 0  # group commits running on it: they hold begins (began())
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit (isolation_level=None): each statement below commits on its own.
        self._db = sqlite3.connect(
            self.path, timeout=TIMEOUT_S, isolation_level=None, check_same_thread=False
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
        self.fingerprint_key = self._fingerprint_key()

    def _setup(self) -> None:
        self._flush_others()  # setup writes: no other run of ours may hold the lock
        # The tables, and the upgrade of an older file: imgkit.engine.journal_schema.
        self.wal, self.upgraded = setup(self._db, self.path)

    def _fingerprint_key(self) -> bytes:
        """The key of account fingerprints, made once per journal file and kept in it."""
        self.flush()
        self._flush_others()
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            row = self._db.execute("SELECT value FROM meta WHERE name = 'fingerprint'").fetchone()
            if row is None:
                row = (secrets.token_hex(32),)
                self._db.execute("INSERT INTO meta VALUES ('fingerprint', ?)", row)
        return bytes.fromhex(row[0])

    # --- writes ------------------------------------------------------------------------------

    def begin(
        self,
        key: str,
        record: Record,
        *,
        run: str = "",
        retry_safe: bool = False,
        force: bool = False,
        attempt_info: Mapping[str, Any] | None = None,
        commit: bool = True,
    ) -> None:
        """Record that ``key`` is about to be sent by ``run``; committed when this returns
        (with ``commit=False``: once :meth:`flush` is called — before the request leaves).

        Allowed for a new or ``failed`` entry, and for one left ``sending`` when
        ``retry_safe`` and its run is this one or gone.  ``force`` (the user asked for a
        re-send) allows every state but one: ``sending`` by another live run.  Raises
        :class:`JournalBusy` when another live run is sending it, :class:`JournalError` when
        the entry is ``done`` or ``pending`` (sending it would store a second copy) or in
        doubt.  While a group commit runs (:attr:`groups`), a ``begin`` with ``commit=False``
        is held and checked at the flush: :meth:`began` then raises those.
        """
        # Fast path: new, failed, or this run's own retry.
        own = run if (retry_safe or force) and run else ""
        after = FORCED if force else FAILED
        folder, name = split(record.file)
        held = HeldBegin(
            key, record, run, retry_safe, force, attempt_info,
            upsert_sql(State.SENDING, after, OWNED if own else ""), folder, name,
            json.dumps(dict(record.options), ensure_ascii=False) if record.options else None,
            _dumps(attempt_info), own,
        )  # fmt: skip
        if not commit and self.groups:
            # Written with its group, back to back with the others; began() tells.
            self._hold_begin(pack(key), held)
            return
        if self._upsert(key, State.SENDING, after, lambda db: begin_values(db, self._ids, held),
                        OWNED if own else "", commit=commit):  # fmt: skip
            return
        entry = self.lookup(key)
        if entry is None or entry.state is not State.SENDING:
            self._refuse(key, entry.state if entry else "gone", State.SENDING)
        if entry.owner and entry.owner != run and self.run_alive(entry.owner):
            raise JournalBusy(
                "another imgkit run is sending this image right now / 另一个 imgkit 正在上传该图片",
                code="busy",
            )
        if retry_safe or force:  # its run is gone: take it over, unless someone else just did
            gone = entry.owner
            taken = OWNED if gone else UNOWNED  # left sending by no run at all
            if self._upsert(
                key,
                State.SENDING,
                (),
                lambda db: begin_values(db, self._ids, held, gone),
                taken,
                commit=commit,
            ):
                return
        self._refuse(key, State.SENDING, State.SENDING)

    def began(self, key: str) -> None:
        """After the flush of a ``begin`` made with ``commit=False``: return if it holds,
        else take it again now, as :meth:`begin` with ``commit=True`` (raising what that
        raises).  A group commit asks it of every row before its request leaves.

        >>> with Journal(":memory:") as j:
        ...     j.begin("k1", Record("doudian", "s", "0", "ab" * 32))
        ...     j.confirm("k1", "http://img/1.jpg", "1")
        ...     j.groups += 1  # as a GroupCommit does
        ...     j.begin("k1", Record("doudian", "s", "0", "ab" * 32), commit=False)
        ...     j.flush()
        ...     j.began("k1")
        Traceback (most recent call last):
        ...
        imgkit.engine.journal_schema.JournalError: journal entry k1… is done; ...
        """
        held = self._missed.pop(pack(key), None)
        if held is not None:
            self.begin(
                key,
                held.record,
                run=held.run,
                retry_safe=held.retry_safe,
                force=held.force,
                attempt_info=held.attempt_info,
            )

    def confirm(
        self,
        key: str,
        url: str,
        image_id: str,
        raw_json: Mapping[str, Any] | None = None,
        *,
        commit: bool = True,
    ) -> None:
        """Record the platform's success for ``key`` (from any state); committed on return
        unless ``commit=False`` (then by the next :meth:`flush`).

        With ``commit=False`` it is only held in memory: the next flush writes every held
        outcome in one statement per state (and a read, or a write of the same key, first).
        """
        base, tail = split(url)
        ms = int(time.time() * 1000)
        self._hold(
            pack(key), (State.DONE, ms, base, tail or None, image_id or None, _dumps(raw_json))
        )
        if commit:
            self.flush()

    def fail(
        self,
        key: str,
        category: Category | str,
        code: str = "",
        message: str = "",
        *,
        retryable: bool = False,
        commit: bool = True,
    ) -> None:
        """Record a failure known not to have stored anything; a re-run sends ``key`` again
        (``commit`` as for :meth:`confirm`).

        Not for an unanswered request that may have stored the image: leave that ``sending``.
        Raises :class:`JournalError` if the entry is ``done`` — with ``commit=False`` the
        write is held, and a flush leaves a ``done`` entry as it is instead.
        """
        params = (str(category) or None, code or None, message or None, int(retryable) or None)
        if not commit:
            self._hold(pack(key), (State.FAILED, int(time.time() * 1000), *params))
        elif not self._upsert(key, State.FAILED, NOT_DONE, lambda db: (*params, None)):
            self._refuse(key, "done", State.FAILED)

    def pending(self, key: str, pending_id: str, *, commit: bool = True) -> None:
        """Record an upload the platform holds but has not finished (``pending_id`` to poll;
        ``commit`` and a ``done`` entry as for :meth:`fail`)."""
        if not commit:
            self._hold(pack(key), (State.PENDING, int(time.time() * 1000), pending_id or None))
        elif not self._upsert(key, State.PENDING, NOT_DONE, lambda db: (pending_id or None, None)):
            self._refuse(key, "done", State.PENDING)

    def adopt(self, key: str, entry: Entry, *, drop: str = "") -> None:
        """Copy ``entry`` (from an older journal) under ``key`` unless ``key`` exists.

        ``drop``: the entry's old key in this same journal (an upgraded 0.1 file), removed
        in the same transaction so that the upload is listed, and in doubt, only once.
        """

        def copy(db: sqlite3.Connection) -> int:
            count = db.execute(INSERT, entry_row(db, self._ids, key, entry)).rowcount
            if drop and drop != key:
                db.execute("DELETE FROM uploads WHERE key = ?", (pack(drop),))
            return count

        self.flush()
        self._flush_others()
        self._write(copy)

    def _upsert(
        self,
        key: str,
        state: State,
        after: tuple[int, ...],
        values: Callable[[sqlite3.Connection], tuple[Any, ...]],
        extra: str = "",
        *,
        commit: bool = True,
    ) -> bool:
        """Move ``key`` to ``state`` (its columns as ``_COLUMNS`` names them, set from
        ``values(db)`` inside the transaction) if it is new, in one of the states ``after``
        (codes), or matches ``extra``; True if it did.  An outcome tries an UPDATE first."""
        sql = upsert_sql(state, after, extra)
        update = update_sql(state, after) if state is not State.SENDING else ""
        now = int(time.time() * 1000)
        packed = pack(key)

        def write(db: sqlite3.Connection) -> int:
            params = values(db)
            if update and db.execute(update, (now, *params, packed)).rowcount:
                return 1
            return int(db.execute(sql, (packed, now, now, *params)).rowcount)

        return self._write(write, commit=commit, key=packed) == 1

    def _refuse(self, key: str, was: str, state: State) -> NoReturn:
        raise JournalError(
            f"journal entry {key[:12]}… is {was}; not marking it {state} (that could store a "
            f"second copy) / 该图片的上传记录状态为 {was},不能改为 {state}",
            code="in_doubt" if was == State.SENDING else f"already_{was}",
        )

    # --- lifetime ----------------------------------------------------------------------------

    def close(self) -> None:
        """Commit what waits for :meth:`flush` and close the file (twice is fine)."""
        if self.unflushed:
            try:
                self.flush()
            except sqlite3.ProgrammingError:  # closed already
                self._open = False
        with self._lock:
            self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r})"


__all__ = [
    "BEAT_S",
    "FILE_NAME",
    "SCHEMA_VERSION",
    "STALE_S",
    "Entry",
    "Journal",
    "JournalBusy",
    "JournalError",
    "Record",
    "State",
    "default_journal_path",
]
