"""Group commits: one fsync of the journal for every request leaving at about the same time.

The journal must hold a row's ``begin`` on disk before its request leaves; committing
each one on its own costs an fsync per request (a few hundred microseconds of system time
and one to several milliseconds of waiting, in the event loop).  A :class:`GroupCommit`
lets rows write with ``commit=False`` and then wait, together, for one commit:

* :meth:`GroupCommit.durable` — a ``begin`` was written: wait until it is on disk.  The
  commit happens :data:`WINDOW_S` after the first such request of a group, so every row
  reaching the wire meanwhile shares it; no request leaves before its own ``begin`` is
  committed;
* :meth:`GroupCommit.soon` — an outcome was written (``confirm``, ``fail``, ``pending``):
  it is committed with the next group, or :data:`LAZY_S` later at the latest.  An outcome
  lost to a crash in that time leaves its row ``sending``: in doubt, settled by the next
  run's look-up, never re-sent blindly — so waiting costs no duplicate, only a look-up;
* :meth:`GroupCommit.close` — the run is over: commit what is left.

Example
-------
>>> import asyncio
>>> from imgkit.engine.journal import Journal, Record
>>> async def two_rows(journal: Journal) -> bool:
...     group = GroupCommit(journal)
...     for key in ("k1", "k2"):
...         journal.begin(key, Record("doudian", "s", "0", key * 32), commit=False)
...     await asyncio.gather(group.durable(), group.durable())  # one commit for both
...     return journal.unflushed
>>> with Journal(":memory:") as journal:
...     asyncio.run(two_rows(journal))
False
"""

from __future__ import annotations

import asyncio
import math

from imgkit.engine.journal import Journal

# How long the first request of a group waits for others to share its commit.  Far below
# any platform's answer time, so it costs throughput nothing when requests overlap.
WINDOW_S = 0.003
# The longest an outcome waits for a commit (while no request is leaving).
LAZY_S = 0.1


class GroupCommit:
    """Shares one journal commit among the rows writing within :data:`WINDOW_S`.

    Bound to the event loop that first waits on it: make one per run.
    """

    def __init__(self, journal: Journal, *, window_s: float = WINDOW_S, lazy_s: float = LAZY_S):
        self.journal = journal
        self.commits = 0  # how many commits it made (a test and benchmark figure)
        self._window_s = window_s
        self._lazy_s = lazy_s
        self._waiting: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._due = math.inf

    def __repr__(self) -> str:
        return f"GroupCommit({self.journal!r}, commits={self.commits})"

    async def durable(self) -> None:
        """Wait until every write made so far is on disk (a group's one commit)."""
        if not self.journal.unflushed:
            return
        waiting = self._schedule(self._window_s)
        # Shielded: a row cancelled while it waits must not cancel the others' commit.
        await asyncio.shield(waiting)

    def soon(self) -> None:
        """Commit what was written within :data:`LAZY_S`, or with the next group."""
        if self.journal.unflushed:
            self._schedule(self._lazy_s)

    def close(self) -> None:
        """Commit now what is left, and release every waiter."""
        if self._timer is not None:
            self._timer.cancel()
        self._commit()

    def _schedule(self, delay: float) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        if self._waiting is None:
            self._waiting = loop.create_future()
        due = loop.time() + delay
        if due < self._due:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = loop.call_at(due, self._commit)
            self._due = due
        return self._waiting

    def _commit(self) -> None:
        waiting, self._waiting = self._waiting, None
        self._timer, self._due = None, math.inf
        try:
            if self.journal.unflushed:
                self.journal.flush()
                self.commits += 1
        except Exception as exc:  # a full disk: every waiting row learns it
            if waiting is not None and not waiting.done():
                waiting.set_exception(exc)
                return
            raise
        if waiting is not None and not waiting.done():
            waiting.set_result(None)
