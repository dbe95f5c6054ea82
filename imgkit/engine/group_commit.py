"""Group commits: one fsync of the journal for every request leaving at about the same time.

The journal must hold a row's ``begin`` on disk before its request leaves; committing
each one on its own costs an fsync per request (a few hundred microseconds of system time
and one to several milliseconds of waiting, in the event loop).  A :class:`GroupCommit`
lets rows write with ``commit=False`` and then wait, together, for one commit:

* :meth:`GroupCommit.durable` — a ``begin`` was written: wait until it is on disk.  No
  request leaves before its own ``begin`` is committed.  The group is committed as soon as
  half of the rows in flight wait for it (holding more would idle the wire), or nothing of
  this run is on the wire (no answer can bring another row), and at the latest
  :data:`WINDOW_S` after its first row: so a fast run shares each fsync among a dozen rows
  or more, and a paced one, with few rows in flight, closes its groups after one or two;
* :meth:`GroupCommit.soon` — an outcome was written (``confirm``, ``fail``, ``pending``;
  a ``pending`` row stays in flight until its audit's answer, :meth:`GroupCommit.finished`):
  it is committed with the next group, or :data:`LAZY_S` later at the latest — then
  without an fsync when no ``begin`` waits (``Journal.flush(sync=False)``): it survives a
  crash of the process at once and a power cut from the next fsync on (the next group's,
  the heartbeat's every 2 s, the run's end).  An outcome lost meanwhile leaves its row
  ``sending``: in doubt, settled by the next run's look-up, never re-sent blindly — so
  waiting costs no duplicate, only a look-up;
* :meth:`GroupCommit.close` — the run is over: commit what is left, with its fsync.

Example
-------
>>> import asyncio
>>> from imgkit.engine.journal import Journal, Record
>>> async def two_rows(journal: Journal) -> bool:
...     group = GroupCommit(journal)
...     for key in ("k1", "k2"):
...         journal.begin(key, Record("doudian", "s", "0", key * 32), commit=False)
...     await asyncio.gather(group.durable("k1"), group.durable("k2"))  # one commit
...     return journal.unflushed
>>> with Journal(":memory:") as journal:
...     asyncio.run(two_rows(journal))
False
"""

from __future__ import annotations

import asyncio
import math

from imgkit.engine.journal import Journal

# The longest the first request of a group waits for others to share its commit (the
# fsync of a commit costs 0.15-0.3 ms of CPU whatever it holds).  Far below any platform's
# answer time; and the group closes earlier when half the rows in flight wait for it.
WINDOW_S = 0.02
# A group closes once this share of the rows in flight waits for it: the rest are on the
# wire, and their answers bring the next group's rows.
FULL_SHARE = 0.5
# The longest an outcome waits for a commit (while no request is leaving).
LAZY_S = 0.1


class GroupCommit:
    """Shares one journal commit among the rows leaving at about the same time.

    It counts the rows in flight itself: those waiting for the coming commit, and those a
    commit released whose outcome (:meth:`soon`) has not come yet.  Bound to the event loop
    that first waits on it: make one per run.
    """

    def __init__(self, journal: Journal, *, window_s: float = WINDOW_S, lazy_s: float = LAZY_S):
        self.journal = journal
        journal.groups += 1  # its begins with commit=False are held for the flush
        self.commits = 0  # how many commits it made (a test and benchmark figure)
        self._window_s = window_s
        self._lazy_s = lazy_s
        # One future per waiting row, not one shared: a row cancelled while it waits cancels
        # only its own (a shared one would need asyncio.shield, twice the loop's work).
        self._waiters: list[asyncio.Future[None]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._due = math.inf
        self._joined: set[str] = set()  # the rows (keys) waiting for the coming commit
        # The rows a commit released whose outcome has not come yet.  Keys, not a count:
        # a Douyin row tells twice (pending, then its audit's end), a row in doubt may tell
        # nothing before its retry, and a count would drift to "none on the wire".
        self._out: set[str] = set()
        self._peak = 0  # the most rows seen in flight (decays by one a commit)
        self._closed = False

    def __repr__(self) -> str:
        return f"GroupCommit({self.journal!r}, commits={self.commits})"

    async def durable(self, key: str) -> None:
        """Wait until every write made so far is on disk (a group's one commit), then
        raise what the ``begin`` of ``key`` raises if it did not apply (another run's
        entry: :class:`imgkit.engine.journal.JournalBusy`; a done one: ``JournalError``)."""
        if self.journal.unflushed:
            await self._group(key)
        self.journal.began(key)

    async def _group(self, key: str) -> None:
        self._out.discard(key)  # a retry: its first attempt is over
        self._joined.add(key)
        self._peak = max(self._peak, len(self._joined) + len(self._out))
        # Half the rows in flight wait (FULL_SHARE), or none is on the wire: commit once
        # the rows the loop is running now have had their turn (they may join), not later.
        full = len(self._joined) >= FULL_SHARE * self._peak or not self._out
        mine = asyncio.get_running_loop().create_future()
        self._waiters.append(mine)
        self._schedule(0.0 if full else self._window_s)
        await mine

    def soon(self, key: str, *, settled: bool = True) -> None:
        """The outcome of the row ``key`` was written: commit it within :data:`LAZY_S`, or
        with the next group.

        ``settled=False`` (a Douyin upload now under audit): the row is still in flight
        until :meth:`finished` — its poll's answer frees its worker for the next row, as an
        upload's answer does.  Counted out at ``pending``, a run of Douyin rows waiting on
        their audits looked like nothing on the wire, and each new row committed alone.
        """
        if settled:
            self._leaves(key)
        if self.journal.unflushed:
            self._schedule(self._lazy_s)

    def finished(self, key: str) -> None:
        """The row ``key`` has its result: no longer in flight, however it ended."""
        self._leaves(key)

    def _leaves(self, key: str) -> None:
        self._out.discard(key)
        if self._joined and not self._out:  # no answer can bring company: commit now
            self._schedule(0.0)

    def close(self) -> None:
        """Commit now what is left, and release every waiter."""
        if self._timer is not None:
            self._timer.cancel()
        if not self._closed:
            self._closed = True
            self.journal.groups -= 1
        self._commit(sync=True)

    def _schedule(self, delay: float) -> None:
        """Commit ``delay`` seconds from now, unless a commit is due sooner."""
        loop = asyncio.get_running_loop()
        due = loop.time() + delay
        if due < self._due:
            if self._timer is not None:
                self._timer.cancel()
            # A timer even at once: the loop runs it after its next look at the sockets, so
            # that rows whose answers are in by then may join this commit (call_soon would
            # run it before that look).
            self._timer = loop.call_at(due, self._commit)
            self._due = due

    def _commit(self, *, sync: bool = False) -> None:
        waiters, self._waiters = self._waiters, []
        self._timer, self._due = None, math.inf
        self._out |= self._joined
        self._joined = set()
        self._peak = max(self._peak - 1, len(self._out))
        try:
            if self.journal.unflushed:
                # A begin in the group: its fsync.  Outcomes alone: none (the next group's,
                # the heartbeat's or the run's end puts them on disk).
                self.journal.flush(sync=sync)
                self.commits += 1
        except Exception as exc:  # a full disk: every waiting row learns it
            told = [waiter for waiter in waiters if not waiter.done()]
            if not told:
                raise
            for waiter in told:
                waiter.set_exception(exc)
            return
        for waiter in waiters:
            if not waiter.done():  # a cancelled row's
                waiter.set_result(None)
