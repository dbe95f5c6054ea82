"""Group commits: no request leaves before its journal entry is committed, and fewer commits.

An upload of many rows at high concurrency through a transport that, before each upload
request goes to the real sandbox server, counts the journal entries *another* connection
can see (what a crash right now would leave on disk): never fewer than the uploads sent so
far, this one included.  And the rows share commits: fewer commits than rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

import httpx
import pandas as pd
import pytest
from PIL import Image

import imgkit
from imgkit import Sandbox
from imgkit.engine.group_commit import GroupCommit
from imgkit.engine.journal import Journal, Record
from imgkit.net.wire import WireTransport

ROWS = 60


def _files(folder: Path, count: int, blue: int = 60) -> list[str]:
    paths = []
    for n in range(count):
        path = folder / f"img_{n}.jpg"
        Image.new("RGB", (40, 30), (n * 5 % 256, n * 11 % 256, blue)).save(path, "JPEG")
        paths.append(str(path))
    return paths


# The first uploads' answers wait until this many are on the wire (or HOLD_S passed): the
# rows after them then leave while others are out, as on a real platform, however the
# test machine is loaded.
HELD = 4
HOLD_S = 10.0


class Watching(httpx.AsyncBaseTransport):
    """Real HTTP, and a look at the journal file from outside before each upload leaves."""

    def __init__(self, journal: Path) -> None:
        self.inner = WireTransport()
        self.journal = journal
        self.uploads = 0
        self.shortfalls: list[tuple[int, int]] = []
        self._out = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if "upload" in request.url.path:
            self.uploads += 1
            outside = sqlite3.connect(self.journal)
            try:
                (seen,) = outside.execute("SELECT count(*) FROM entries").fetchone()
            finally:
                outside.close()
            if seen < self.uploads:
                self.shortfalls.append((self.uploads, seen))
            if self.uploads >= HELD:
                self._out.set()
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._out.wait(), HOLD_S)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_no_upload_leaves_before_its_entry_is_committed(sandbox: Sandbox, tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    Journal(path).close()  # the file exists for the watcher's first look
    wire = Watching(path)
    frame = pd.DataFrame(
        {"platform": "doudian", "shop": "douyin_shop", "file": _files(tmp_path, ROWS)}
    ).assign(target="0")
    shops = {"douyin_shop": {**sandbox.shops["douyin_shop"], "rate_per_s": 10000}}
    commits: list[int] = []
    original = GroupCommit.close
    made = GroupCommit.__init__

    def patient(self: GroupCommit, journal: Journal, **kwargs: float) -> None:
        # A window no loaded machine outlasts between two rows: whether rows share a
        # commit must not depend on how fast this machine is.
        made(self, journal, **{**kwargs, "window_s": 1.0})

    def counting_close(self: GroupCommit) -> None:
        original(self)
        commits.append(self.commits)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(GroupCommit, "close", counting_close)
        patch.setattr(GroupCommit, "__init__", patient)
        results = imgkit.upload(
            frame, shops=shops, journal=path, progress=False, concurrency=16, transport=wire
        )
    assert set(results["status"]) == {"uploaded"}, results[["status", "message"]]
    assert wire.uploads == ROWS
    assert wire.shortfalls == []
    # Rows leaving together shared a commit (one each would be ROWS commits).
    assert commits
    assert commits[0] < ROWS
    with Journal(path) as journal:
        assert {e.state for e in journal.entries()} == {"done"}
        assert len(journal.entries()) == ROWS
    assert sandbox.stats()["doudian"]["duplicates"] == 0


def test_rows_that_tell_twice_do_not_hide_the_rows_still_out(tmp_path: Path) -> None:
    # A Douyin row tells its outcome twice (pending, then its audit's end).  Counted, two
    # such rows made the group believe nothing was on the wire while a third was, and
    # every later row committed alone: a fsync per row.
    async def scenario() -> tuple[bool, int]:
        with Journal(tmp_path / "j.sqlite") as journal:
            group = GroupCommit(journal, window_s=10.0)  # only a full group commits early

            def begin(key: str) -> None:
                journal.begin(key, Record("doudian", "s", "0", key * 64), commit=False)

            for key in "abc":
                begin(key)
            await asyncio.gather(*(group.durable(key) for key in "abc"))
            for key in "ab":  # pending, then done; "c" is still out
                journal.pending(key, "m-" + key, commit=False)
                group.soon(key)
                journal.confirm(key, "http://img/" + key, key, commit=False)
                group.soon(key)
            begin("d")
            alone = asyncio.ensure_future(group.durable("d"))
            await asyncio.sleep(0.05)
            waited = not alone.done()  # "c" is out: "d" waits for company, not the window
            begin("e")
            await asyncio.gather(alone, group.durable("e"))  # half in flight: one commit
            return waited, group.commits

    assert asyncio.run(scenario()) == (True, 2)


def test_rows_under_audit_are_still_in_flight(tmp_path: Path) -> None:
    # A Douyin row's worker is busy until its audit's answer, which brings the next row, as
    # an upload's answer does.  Counted out at "pending", rows waiting on their audits
    # looked like nothing on the wire, and each new row committed alone (the mix of
    # bench/compare.py: 650 commits for 1,000 rows).
    async def scenario() -> tuple[bool, int]:
        with Journal(tmp_path / "j.sqlite") as journal:
            group = GroupCommit(journal, window_s=10.0, lazy_s=10.0)

            def begin(key: str) -> None:
                journal.begin(key, Record("doudian", "s", "0", key * 64), commit=False)

            for key in "abc":
                begin(key)
            await asyncio.gather(*(group.durable(key) for key in "abc"))
            for key in "abc":
                journal.pending(key, "m-" + key, commit=False)
                group.soon(key, settled=False)
            begin("d")
            alone = asyncio.ensure_future(group.durable("d"))
            await asyncio.sleep(0.05)
            waited = not alone.done()  # three under audit: their answers bring company
            for key in "abc":
                journal.confirm(key, "http://img/" + key, key, commit=False)
                group.soon(key)
                group.finished(key)
            await asyncio.wait_for(alone, 5.0)  # none in flight: at once, not the window
            return waited, group.commits

    assert asyncio.run(scenario()) == (True, 2)


def test_outcomes_are_committed_within_lazy_s(tmp_path: Path) -> None:
    async def scenario() -> tuple[bool, bool]:
        with Journal(tmp_path / "j.sqlite") as journal:
            group = GroupCommit(journal, lazy_s=0.01)
            journal.pending("k", "m-1", commit=False)
            group.soon("k")
            waiting = journal.unflushed
            await asyncio.sleep(0.1)
            return waiting, journal.unflushed

    assert asyncio.run(scenario()) == (True, False)


def test_a_cancelled_waiter_does_not_cancel_the_groups_commit(tmp_path: Path) -> None:
    async def scenario() -> bool:
        with Journal(tmp_path / "j.sqlite") as journal:
            group = GroupCommit(journal, window_s=0.02)
            journal.begin("a", Record("doudian", "s", "0", "a" * 64), commit=False)
            first = asyncio.ensure_future(group.durable("a"))
            second = asyncio.ensure_future(group.durable("a"))
            await asyncio.sleep(0)
            first.cancel()
            await second
            return journal.unflushed

    assert asyncio.run(scenario()) is False


def test_close_commits_what_is_left(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"

    async def scenario() -> None:
        journal = Journal(path)
        group = GroupCommit(journal)
        journal.confirm("k", "http://img/1.jpg", "1", commit=False)
        group.soon("k")
        group.close()
        assert not journal.unflushed
        journal.close()

    asyncio.run(scenario())
    with Journal(path) as again:
        entry = again.lookup("k")
    assert entry is not None
    assert entry.image_id == "1"


def test_two_runs_on_one_event_loop_with_their_own_journals_do_not_lock_each_other(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    # Two uploads awaited together in one notebook, each opening the user's journal: a
    # run's open group must never make the other's write wait on SQLite's lock (both are
    # on one thread, so that wait would stop the loop that commits the group).
    path = tmp_path / "journal.sqlite"
    shops = {"douyin_shop": {**sandbox.shops["douyin_shop"], "rate_per_s": 10000}}

    def frame(prefix: str, blue: int) -> pd.DataFrame:
        folder = tmp_path / prefix
        folder.mkdir()
        return pd.DataFrame(
            {"platform": "doudian", "shop": "douyin_shop", "file": _files(folder, 20, blue)}
        ).assign(target="0")

    async def both() -> list[pd.DataFrame]:
        runs = [
            imgkit.upload_async(f, shops=shops, journal=path, progress=False, concurrency=8)
            for f in (frame("a", 10), frame("b", 200))
        ]
        return list(await asyncio.wait_for(asyncio.gather(*runs), timeout=60))

    for results in asyncio.run(both()):
        assert set(results["status"]) == {"uploaded"}, results[["status", "message"]]


def _record(key: str) -> Record:
    return Record("doudian", "s", "0", key * 64)


def test_a_held_begin_that_does_not_apply_stops_its_row_only(tmp_path: Path) -> None:
    # Begins wait in memory for the group's flush; one whose entry is done (another run
    # stored it since the plan) or sent by another live run must not leave: its row's
    # durable() raises what begin() would have, the others' begins are on disk.
    path = tmp_path / "j.sqlite"
    with Journal(path) as other:
        theirs = other.start_run()
        other.begin("b", _record("b"), run=theirs)  # being sent by a live run
        other.begin("c", _record("c"))
        other.confirm("c", "http://img/c.jpg", "c1")  # stored already

    async def scenario() -> dict[str, str]:
        with Journal(path) as journal:
            run = journal.start_run()
            group = GroupCommit(journal, window_s=0.01)
            for key in "abc":
                journal.begin(key, _record(key), run=run, commit=False)
            assert journal.unflushed
            got = await asyncio.gather(*(group.durable(k) for k in "abc"), return_exceptions=True)
            group.close()
            return {k: type(g).__name__ if g else "ok" for k, g in zip("abc", got, strict=True)}

    assert asyncio.run(scenario()) == {"a": "ok", "b": "JournalBusy", "c": "JournalError"}
    with Journal(path) as again:
        states = {k: again.lookup(k).state for k in "abc"}  # type: ignore[union-attr]
    assert states == {"a": "sending", "b": "sending", "c": "done"}


def test_outcomes_alone_commit_without_an_fsync_and_a_begin_never_does(tmp_path: Path) -> None:
    # SQLite's synchronous=NORMAL (no fsync of the WAL) only for a flush of outcomes alone;
    # a flush holding a begin keeps FULL, and the connection is FULL again afterwards.
    seen: list[str] = []
    with Journal(tmp_path / "j.sqlite") as journal:
        journal.begin("a", _record("a"))
        journal.groups += 1
        journal._db.set_trace_callback(seen.append)
        journal.confirm("a", "http://img/a.jpg", "a1", commit=False)
        journal.flush(sync=False)
        lazy, seen[:] = list(seen), []
        journal.begin("b", _record("b"), commit=False)
        journal.fail("a", "timeout", "t", "late", commit=False)
        journal.flush(sync=False)
        journal._db.set_trace_callback(None)
        synchronous = journal._db.execute("PRAGMA synchronous").fetchone()
        states = journal.lookup("a").state, journal.lookup("b").state  # type: ignore[union-attr]
    assert "PRAGMA synchronous=NORMAL" in lazy
    assert not any("synchronous=NORMAL" in s for s in seen)
    assert synchronous == (2,)  # FULL
    assert states == ("done", "sending")  # a held fail never undoes a done entry


def test_a_pending_replaced_before_the_flush_is_never_written(tmp_path: Path) -> None:
    seen: list[str] = []
    with Journal(tmp_path / "j.sqlite") as journal:
        journal.begin("a", _record("a"))
        journal._db.set_trace_callback(seen.append)
        journal.pending("a", "m-1", commit=False)
        journal.confirm("a", "http://img/a.jpg", "a1", commit=False)
        journal.flush()
        journal._db.set_trace_callback(None)
        entry = journal.lookup("a")
    assert entry is not None
    assert (entry.state, entry.image_id) == ("done", "a1")
    assert not any("state = 3" in s for s in seen)  # no UPDATE to pending


def test_a_group_everyone_waits_for_commits_without_waiting_out_the_window(
    tmp_path: Path,
) -> None:
    # Nothing of this run is on the wire: no answer can bring another row, so the group
    # commits at once instead of after its (here absurd) window.
    async def scenario() -> int:
        with Journal(tmp_path / "j.sqlite") as journal:
            group = GroupCommit(journal, window_s=3600.0)
            for key in "ab":
                journal.begin(key, _record(key), commit=False)
            await asyncio.wait_for(asyncio.gather(*(group.durable(k) for k in "ab")), 60)
            group.close()
            return group.commits

    assert asyncio.run(scenario()) == 1
