"""The journal's runs: who is sending now, so that two runs at once never both send a row.

Each run registers (:meth:`JournalRuns.start_run`: process id, host) and beats every
:data:`BEAT_S` seconds; every ``sending`` entry names its run.  A run that has not beaten
for :data:`STALE_S` seconds, has ended, or whose process is gone is not alive: what it left
``sending`` is in doubt.  A base of :class:`imgkit.engine.journal.Journal`, which gives
it ``_db``, ``_lock`` and ``_write``.

Example
-------
>>> from imgkit.engine.journal import Journal
>>> with Journal(":memory:") as j:
...     run = j.start_run()
...     alive = j.run_alive(run)
...     j.end_run(run)
...     alive, j.run_alive(run)
(True, False)
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable

# A run that has not beaten for this long is gone (killed, or its machine is); a live run
# beats every BEAT_S.  Far apart, so a busy machine cannot make a live run look dead.
BEAT_S = 2.0
STALE_S = 30.0
_HOST = socket.gethostname()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, owned by someone else (or the platform cannot tell)
    return True


class JournalRuns:
    """The runs of a journal (a base of :class:`imgkit.engine.journal.Journal`)."""

    _db: sqlite3.Connection
    _lock: threading.Lock
    _live: dict[str, tuple[bool, float]]  # run id -> (alive, when checked)
    # The journal's writes (imgkit.engine.journal.Journal._write, .checkpoint).
    _write: Callable[..., int]
    checkpoint: Callable[[], bool]

    def start_run(self) -> str:
        """Register a run of this process; returns its id (``sending`` entries name it)."""
        run_id = uuid.uuid4().hex
        now = time.time()
        row = (run_id, os.getpid(), _HOST, now, now)
        self._write(
            lambda db: (
                db.execute(
                    "INSERT INTO runs (run_id, pid, host, started, beat) VALUES (?, ?, ?, ?, ?)",
                    row,
                ).rowcount
            )
        )
        return run_id

    def beat(self, run_id: str) -> None:
        """Say that ``run_id`` is still alive (call every :data:`BEAT_S` seconds); commits
        every write made before with ``commit=False``."""
        now = time.time()
        self._write(
            lambda db: (
                db.execute("UPDATE runs SET beat = ? WHERE run_id = ?", (now, run_id)).rowcount
            )
        )

    def end_run(self, run_id: str) -> None:
        """The run is over: entries it left ``sending`` are in doubt from now on (every write
        is committed, and the WAL emptied into the file unless another run is using it)."""
        now = time.time()
        self._write(
            lambda db: (
                db.execute("UPDATE runs SET ended = ? WHERE run_id = ?", (now, run_id)).rowcount
            )
        )
        self._live.pop(run_id, None)
        self.checkpoint()

    def run_alive(self, run_id: str) -> bool:
        """Whether the run ``run_id`` is still going (beating, and its process exists)."""
        if not run_id:
            return False
        cached = self._live.get(run_id)
        if cached is not None and time.monotonic() - cached[1] < BEAT_S / 2:
            return cached[0]
        with self._lock:
            row = self._db.execute(
                "SELECT pid, host, beat, ended FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
        alive = (
            row is not None
            and row[3] is None
            and time.time() - row[2] < STALE_S
            and (row[1] != _HOST or _pid_alive(row[0]))
        )
        self._live[run_id] = (alive, time.monotonic())
        return alive
