"""The journal: keys, the state machine, durability settings, threads, and real crashes.

The crash tests run a child process that records uploads in a loop, kill it with SIGKILL at
a random moment, and check the file it left: everything the child reported confirmed is
``done``, at most the one request it was busy with is ``sending``, and SQLite finds no damage.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from imgkit import Secret, UnknownPlatformError
from imgkit.errors import Category
from imgkit.journal import (
    SCHEMA_VERSION,
    Journal,
    JournalError,
    State,
    default_journal_path,
    journal_key,
)

ROOT = Path(__file__).resolve().parent.parent
SHA = "ab" * 32
needs_sigkill = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="no SIGKILL here")


def key(**options: object) -> str:
    return journal_key("tmall_item", "tmall_store", "1001", SHA, options)


def begin(journal: Journal, k: str, *, retry_safe: bool = False) -> None:
    journal.begin(k, "tmall_item", "tmall_store", "1001", SHA, {"row": 1}, retry_safe=retry_safe)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal(tmp_path / "j.sqlite") as opened:
        yield opened


# --- keys ------------------------------------------------------------------------------------


def test_the_key_is_a_stable_digest() -> None:
    # Pinned: a change would make every existing journal forget what it recorded.
    assert key(is_major="true", position="1") == (
        "dbc8ecbfd4f79499a82b736e0497420a90b06f8d5985baa05074d51ca9ddb915"
    )
    assert key() == key()
    assert len(key()) == 64


@pytest.mark.parametrize("value", ["1", "是", "TRUE", "true", "yes", " True ", True, 1])
def test_true_booleans_are_one_key(value: object) -> None:
    assert key(is_major=value) == key(is_major="true")
    assert key(is_rectangle=value) == key(is_rectangle="true")


@pytest.mark.parametrize("value", ["0", "否", "false", "FALSE", "", None, float("nan"), False])
def test_false_booleans_are_the_default(value: object) -> None:
    assert key(is_major=value) == key()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("replace_id", "5"),
        ("position", "2"),
        ("is_major", "true"),
        ("is_rectangle", "1"),
        ("client_type", "phone"),
        ("title", "白色马克杯"),
    ],
)
def test_every_destination_option_changes_the_key(name: str, value: str) -> None:
    assert key(**{name: value}) != key()


@pytest.mark.parametrize(
    "unrelated",
    [
        {"note": "red"},
        {"sku_name": "杯子"},
        {"need_distinct": "true"},
        {"is_https": "true"},
        {"filename": "other.jpg", "path": "/elsewhere/a.jpg"},
        {"row_id": 17, "platform": "doudian"},
    ],
)
def test_unrelated_columns_do_not_change_the_key(unrelated: dict[str, object]) -> None:
    assert key(position="1", **unrelated) == key(position="1")


def test_option_values_are_normalized() -> None:
    assert key(position=2) == key(position="2") == key(position=2.0) == key(position="2.0")
    assert key(replace_id=" 12345678901234567890 ") == key(replace_id="12345678901234567890")
    assert key(client_type="phone") == key(client_type="client:phone") == key(client_type="PHONE")
    assert key(client_type="computer") == key(client_type="client:computer") == key()
    assert key(title=" 杯 ") == key(title="杯") != key(title="杯子")
    assert key(position="0") != key()  # a position's default differs between platforms


def test_destination_and_content_change_the_key() -> None:
    base = journal_key("tmall_item", "s", "1001", SHA)
    assert base == journal_key("天猫", " s ", " 1001 ", SHA.upper())  # alias, spaces, case
    assert base != journal_key("qianmi_sku", "s", "1001", SHA)
    assert base != journal_key("tmall_item", "t", "1001", SHA)
    assert base != journal_key("tmall_item", "s", "1002", SHA)
    assert base != journal_key("tmall_item", "s", "1001", "cd" * 32)
    with pytest.raises(UnknownPlatformError):
        journal_key("nowhere", "s", "1001", SHA)


# --- the state machine -------------------------------------------------------------------


def test_begin_then_confirm_is_done(journal: Journal) -> None:
    k = key()
    assert journal.lookup(k) is None
    begin(journal, k)
    entry = journal.lookup(k)
    assert entry is not None
    assert (entry.state, entry.attempts, entry.platform, entry.shop) == (
        State.SENDING,
        1,
        "tmall_item",
        "tmall_store",
    )
    assert entry.attempt_info == {"row": 1}
    journal.confirm(k, "https://img.example/a.jpg", "77", {"item_img": {"id": 77}})
    entry = journal.lookup(k)
    assert entry is not None
    assert (entry.state, entry.url, entry.image_id) == (
        State.DONE,
        "https://img.example/a.jpg",
        "77",
    )
    assert entry.raw == {"item_img": {"id": 77}}
    assert entry.updated >= entry.created > 0


def test_done_is_never_sent_again(journal: Journal) -> None:
    k = key()
    begin(journal, k)
    journal.confirm(k, "u", "1")
    for attempt in (
        lambda: begin(journal, k),
        lambda: begin(journal, k, retry_safe=True),
        lambda: journal.fail(k, Category.TRANSIENT, "500", "late failure"),
        lambda: journal.pending(k, "m-1"),
    ):
        with pytest.raises(JournalError) as err:
            attempt()
        assert err.value.code == "already_done"
    journal.confirm(k, "u2", "2")  # a new confirmation (a poll, say) may refresh it
    entry = journal.lookup(k)
    assert entry is not None
    assert (entry.state, entry.url) == (State.DONE, "u2")


def test_a_failure_is_tried_again(journal: Journal) -> None:
    k = key()
    begin(journal, k)
    journal.fail(k, Category.TRANSIENT, "isp.busy", "系统繁忙")
    entry = journal.lookup(k)
    assert entry is not None
    assert (entry.state, entry.category, entry.code, entry.message) == (
        State.FAILED,
        "transient",
        "isp.busy",
        "系统繁忙",
    )
    begin(journal, k)
    entry = journal.lookup(k)
    assert entry is not None
    assert (entry.state, entry.attempts, entry.category, entry.code) == (State.SENDING, 2, "", "")


def test_in_doubt_is_not_resent_unless_safe(journal: Journal) -> None:
    k, safe = key(), key(replace_id="9")
    begin(journal, k)
    begin(journal, safe)
    assert {e.key for e in journal.in_doubt()} == {k, safe}
    with pytest.raises(JournalError) as err:
        begin(journal, k)
    assert err.value.code == "in_doubt"
    begin(journal, safe, retry_safe=True)  # replacing by id cannot store a second copy
    entry = journal.lookup(safe)
    assert entry is not None
    assert entry.attempts == 2
    journal.confirm(safe, "u", "9")
    assert [e.key for e in journal.in_doubt()] == [k]


def test_pending_is_polled_not_resent(journal: Journal) -> None:
    k = journal_key("doudian", "dy", "0", SHA)
    journal.begin(k, "doudian", "dy", "0", SHA)
    journal.pending(k, "7100000000000000001")
    entry = journal.lookup(k)
    assert entry is not None
    assert (entry.state, entry.pending_id) == (State.PENDING, "7100000000000000001")
    with pytest.raises(JournalError) as err:
        journal.begin(k, "doudian", "dy", "0", SHA, retry_safe=True)
    assert err.value.code == "already_pending"
    journal.fail(k, Category.AUDIT_REJECTED, "2", "审核不通过")  # rejected: may upload again
    journal.begin(k, "doudian", "dy", "0", SHA)
    journal.pending(k, "7100000000000000002")
    journal.confirm(k, "https://p.example/m.jpg", "7100000000000000002")
    entry = journal.lookup(k)
    assert entry is not None
    assert entry.state == State.DONE


def test_an_outcome_without_an_intent_is_still_kept(journal: Journal) -> None:
    journal.confirm("k-never-begun", "u", "1")
    entry = journal.lookup("k-never-begun")
    assert entry is not None
    assert (entry.state, entry.url, entry.platform) == (State.DONE, "u", "")


def test_secrets_are_never_stored(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with Journal(path) as journal:
        k = key()
        info = {"row": 3, "app_secret": "hunter2", "shop": {"session": "sess-xyz"}}
        journal.begin(k, "tmall_item", "s", "1", SHA, {**info, "token": Secret("tok-abc")})
        journal.confirm(k, "u", "1", {"access_token": "tok-def", "list": [{"password": "pw1"}]})
        entry = journal.lookup(k)
    assert entry is not None
    assert entry.attempt_info["app_secret"] == "***"
    data = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    for secret in (b"hunter2", b"sess-xyz", b"tok-abc", b"tok-def", b"pw1"):
        assert secret not in data


# --- the file ----------------------------------------------------------------------------


def test_wal_and_full_synchronous(journal: Journal) -> None:
    assert journal.wal
    assert journal._db.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
    with sqlite3.connect(journal.path) as other:
        assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert other.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]


def test_a_second_open_sees_every_write(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "j.sqlite"  # folders are created
    with Journal(path) as writer, Journal(path) as reader:
        begin(writer, "k")
        writer.confirm("k", "u", "1")
        entry = reader.lookup("k")
        assert entry is not None
        assert entry.state == State.DONE


def test_a_newer_or_foreign_file_is_refused(tmp_path: Path) -> None:
    newer = tmp_path / "newer.sqlite"
    Journal(newer).close()
    with sqlite3.connect(newer) as db:
        db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    db.close()
    with pytest.raises(JournalError) as err:
        Journal(newer)
    assert err.value.code == "journal_too_new"
    foreign = tmp_path / "foreign.sqlite"
    foreign.write_bytes(b"not a database at all" * 100)
    with pytest.raises(JournalError) as err:
        Journal(foreign)
    assert err.value.code == "journal_unreadable"


def test_lookup_many_on_20k_keys(journal: Journal) -> None:
    keys = [f"k{i:05d}" for i in range(20_000)]
    # Filled in one transaction: 20k separate fsynced commits are the engine's pace, not a test's.
    with sqlite3.connect(journal.path) as db:
        db.executemany(
            "INSERT INTO entries (key, state, url, created, updated) VALUES (?, 'done', ?, 0, 0)",
            ((k, f"u/{k}") for k in keys[::2]),
        )
    db.close()
    found = journal.lookup_many([*keys, *keys[:100]])  # repeats are fine
    assert len(found) == 10_000
    assert found["k19998"].url == "u/k19998"
    assert "k19999" not in found
    assert journal.lookup_many([]) == {}


def test_many_threads_share_one_journal(journal: Journal) -> None:
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(100):
                k = f"t{n}-{i}"
                begin(journal, k)
                journal.lookup_many([k, f"t{(n + 1) % 8}-{i}"])
                journal.confirm(k, f"u/{k}", str(i))
        except BaseException as exc:  # reported below: a thread's exception is lost otherwise
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    found = journal.lookup_many(f"t{n}-{i}" for n in range(8) for i in range(100))
    assert len(found) == 800
    assert {e.state for e in found.values()} == {State.DONE}


def test_usable_from_an_event_loop(journal: Journal) -> None:
    async def main() -> State | None:
        begin(journal, "a")
        await asyncio.sleep(0)
        journal.confirm("a", "u", "1")
        entry = journal.lookup("a")
        return entry.state if entry else None

    assert asyncio.run(main()) == State.DONE


def test_default_path_beside_the_batch_or_in_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch = tmp_path / "products.xlsx"
    assert default_journal_path(str(batch)) == tmp_path / "products.xlsx.imgkit-journal.sqlite"
    assert default_journal_path(batch).parent == tmp_path
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "cache"))
    expected = tmp_path / "cache" / "imgkit" / "journal.sqlite"
    if sys.platform != "darwin":
        assert default_journal_path(None) == expected
    assert default_journal_path(None).parts[-2:] == ("imgkit", "journal.sqlite")


# --- crashes -----------------------------------------------------------------------------

LOOP = """
import sys
from imgkit.journal import Journal
journal = Journal(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()  # wait for the go, so that the kill moment is the parent's choice
i = 0
while True:
    k = f"k{i:06d}"
    journal.begin(k, "tmall_item", "s", "1001", f"{i:064x}", {"row": i})
    journal.confirm(k, f"https://img.example/{i}.jpg", str(i), {"pad": "x" * (i % 7 * 900)})
    print(k, flush=True)
    i += 1
"""

OPEN_TRANSACTION = """
import sqlite3, sys, time
from imgkit.journal import Journal
path = sys.argv[1]
with Journal(path) as journal:
    for i in range(20):
        journal.begin(f"k{i}", "tmall_item", "s", "1001", f"{i:064x}")
        journal.confirm(f"k{i}", "u", str(i))
db = sqlite3.connect(path, isolation_level=None)
db.execute("PRAGMA cache_size=5")  # a tiny cache spills uncommitted pages into the WAL file
db.execute("BEGIN IMMEDIATE")
rows = ((f"x{i}", "y" * 2000) for i in range(3000))
db.executemany("INSERT INTO entries (key, state, raw_json, created, updated) "
               "VALUES (?, 'done', ?, 0, 0)", rows)
print("open", flush=True)
time.sleep(60)
"""


def spawn(script: str, path: Path) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.Popen(
        [sys.executable, "-c", script, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )


def integrity(path: Path) -> str:
    with sqlite3.connect(path) as db:
        (result,) = db.execute("PRAGMA integrity_check").fetchone()
    db.close()
    return str(result)


@needs_sigkill
def test_kill_9_loses_nothing_confirmed(tmp_path: Path) -> None:
    rng = random.Random()
    seed = rng.randrange(1 << 30)
    rng.seed(seed)
    paths = [tmp_path / f"crash{n}.sqlite" for n in range(5)]
    children = [spawn(LOOP, path) for path in paths]  # start together: imports take a second
    try:
        for n, (child, path) in enumerate(zip(children, paths, strict=True)):
            assert child.stdin is not None
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "ready"
            child.stdin.write("go\n")
            child.stdin.flush()
            wanted = [0, 1, 30, rng.randint(2, 300), rng.randint(2, 300)][n]
            reported = [child.stdout.readline().strip() for _ in range(wanted)]
            if rng.random() < 0.7:  # a random instant inside the next begin/confirm
                time.sleep(rng.uniform(0, 0.002))
            os.kill(child.pid, signal.SIGKILL)
            reported += child.stdout.read().split()  # flushed before the kill: confirmed too
            assert child.wait() == -signal.SIGKILL
            check_after_crash(path, reported, f"seed {seed}, child {n}")
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
            child.communicate()


def check_after_crash(path: Path, reported: list[str], where: str) -> None:
    assert integrity(path) == "ok", where
    last = len(reported)  # the child reports k0, k1, ... in order
    assert reported == [f"k{i:06d}" for i in range(last)], where
    with Journal(path) as journal:
        found = journal.lookup_many(f"k{i:06d}" for i in range(last + 5))
        for i, k in enumerate(reported):
            assert found[k].state == State.DONE, where
            assert found[k].url == f"https://img.example/{i}.jpg", where
        # Beyond the last report: at most the one upload the child was busy with.
        busy = f"k{last:06d}"
        assert set(found) <= {*reported, busy}, where
        if busy in found:
            assert found[busy].state in (State.SENDING, State.DONE), where
        assert [e.key for e in journal.in_doubt()] in ([], [busy]), where
        begin(journal, "after")  # and the file takes new writes
        journal.confirm("after", "u", "1")


@needs_sigkill
def test_kill_inside_an_open_write_transaction(tmp_path: Path) -> None:
    path = tmp_path / "open.sqlite"
    with spawn(OPEN_TRANSACTION, path) as child:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "open"
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    wal = Path(f"{path}-wal")
    assert wal.stat().st_size > 1_000_000  # uncommitted pages were on disk when it died
    assert integrity(path) == "ok"
    with Journal(path) as journal:
        found = journal.lookup_many([*(f"k{i}" for i in range(20)), "x0", "x2999"])
        assert sorted(found) == sorted(f"k{i}" for i in range(20))  # rolled back, not half-in
        assert {e.state for e in found.values()} == {State.DONE}
        begin(journal, "after")
        journal.confirm("after", "u", "1")
    assert integrity(path) == "ok"
