"""The journal: keys, the state machine, runs, durability settings, threads, real crashes.

The crash tests run a child process that records uploads in a loop, kill it with SIGKILL at
a random moment, and check the file it left: everything the child reported confirmed is
``done``, at most the one request it was busy with is ``sending`` (in doubt, as its run is
gone), and SQLite finds no damage.  Liveness tests that depend on time use a fake clock.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import imgkit.engine.journal as journal_module
import imgkit.engine.journal_runs as journal_runs
from imgkit import Secret, UnknownPlatformError
from imgkit.engine.destination import Destination, account_of, endpoint_of, legacy_key
from imgkit.engine.journal import (
    SCHEMA_VERSION,
    STALE_S,
    Journal,
    JournalBusy,
    JournalError,
    Record,
    State,
    default_journal_path,
)
from imgkit.errors import Category, ShopConfigError
from imgkit.intake.shops import Shop, make_shop
from imgkit.platforms import get_adapter
from imgkit.sandbox import sandbox_shops

ROOT = Path(__file__).resolve().parent.parent
SHA = "ab" * 32
FINGERPRINT_KEY = bytes(32)  # a fixed key, so that fingerprints can be pinned
needs_sigkill = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="no SIGKILL here")
TMALL = {
    "platform": "tmall_item",
    "app_key": "21000001",
    "app_secret": "top-secret-a",
    "session": "seller-session-1",
}
RECORD = Record(
    "tmall_item",
    "tmall_store",
    "1001",
    SHA,
    "https://eco.taobao.com",
    "app_key=21000001;session#0123456789abcdef",
    "/images/a.jpg",
    {"is_major": "true"},
)

# imgkit 0.1's schema (git show <0.1>:imgkit/engine/journal.py), to make real 0.1 files.
OLD_SCHEMA = (
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


def shop(name: str = "tmall_store", **fields: str) -> Shop:
    return make_shop(name, {**TMALL, **fields})


def key(**options: object) -> str:
    return Destination.of(shop(), "1001", options, fingerprint_key=FINGERPRINT_KEY).key(SHA)


def place_key(table: dict[str, str], name: str = "s", target: str = "1001") -> str:
    """The key of sending SHA to ``target`` of the shop ``table``."""
    made = make_shop(name, table)
    return Destination.of(made, target, {}, fingerprint_key=FINGERPRINT_KEY).key(SHA)


def begin(
    journal: Journal, k: str, *, run: str = "", retry_safe: bool = False, force: bool = False
) -> None:
    journal.begin(k, RECORD, run=run, retry_safe=retry_safe, force=force, attempt_info={"row": 1})


def entry_of(journal: Journal, k: str) -> journal_module.Entry:
    found = journal.lookup(k)
    assert found is not None, k
    return found


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal(tmp_path / "j.sqlite") as opened:
        yield opened


@pytest.fixture
def run(journal: Journal) -> str:
    """A live run of this process."""
    return journal.start_run()


class Clock:
    """A stand-in for the ``time`` module inside :mod:`imgkit.engine.journal`."""

    def __init__(self) -> None:
        self.now = time.time()
        self.mono = time.monotonic()

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.mono += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(journal_module, "time", fake)
    monkeypatch.setattr(journal_runs, "time", fake)  # the runs' heartbeats keep time too
    return fake


# --- keys ------------------------------------------------------------------------------------


def test_the_key_is_a_stable_digest() -> None:
    # Pinned: changing Destination.key (its normalization, its parts, the fingerprint HMAC)
    # makes every journal forget what it recorded, and every image would be sent again.
    place = Destination(
        "tmall_item",
        "https://eco.taobao.com",
        "app_key=21000001;session#0123456789abcdef",
        "1001",
        (("is_major", "true"), ("position", "1")),
    )
    assert place.key(SHA) == "482f87ba2e67a9068149f3230cc11bb70eb3fea58c3eceab3fdd85b8a0a297c5"
    sandbox_tmall = shop(app_secret="sbx-top-secret-a", session="sbx-session-tmall-1")
    assert account_of(sandbox_tmall, FINGERPRINT_KEY) == "app_key=21000001;session#7bf61fb1d3e855b6"
    of = Destination.of(
        sandbox_tmall, "1001", {"is_major": "是", "position": 1.0}, fingerprint_key=FINGERPRINT_KEY
    )
    assert of.key(SHA) == "c55777842b65f463ecfb06deae1d261af12cc458db34962b26e97fa60729882b"
    assert key() == key()
    assert len(key()) == 64


def test_the_legacy_key_is_imgkit_0_1s_key() -> None:
    # The 0.1 pin: migration finds old entries only while this holds.
    options = {"is_major": "true", "position": "1"}
    assert legacy_key("tmall_item", "tmall_store", "1001", SHA, options) == (
        "dbc8ecbfd4f79499a82b736e0497420a90b06f8d5985baa05074d51ca9ddb915"
    )
    base = legacy_key("tmall_item", "s", "1001", SHA, None)
    assert base == legacy_key("天猫", " s ", " 1001 ", SHA.upper(), {"note": "x"})
    assert base != legacy_key("tmall_item", "t", "1001", SHA, None)  # 0.1 keyed the name
    assert base != legacy_key("qianmi_sku", "s", "1001", SHA, None)
    with pytest.raises(UnknownPlatformError):
        legacy_key("nowhere", "s", "1001", SHA, None)


@pytest.mark.parametrize("value", ["1", "是", "TRUE", "true", "yes", " True ", True, 1])
def test_true_booleans_are_one_key(value: object) -> None:
    assert key(is_major=value) == key(is_major="true")
    assert key(is_rectangle=value) == key(is_rectangle="true")
    old = legacy_key("tmall_item", "s", "1001", SHA, {"is_major": value})
    assert old == legacy_key("tmall_item", "s", "1001", SHA, {"is_major": "true"})


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


def test_content_target_and_platform_change_the_key() -> None:
    base = place_key(TMALL)
    assert base == place_key({**TMALL, "platform": "天猫"})  # an alias
    same = Destination.of(shop(), " 1001 ", {}, fingerprint_key=FINGERPRINT_KEY)
    assert same.key(SHA.upper()) == base  # spaces, case
    assert place_key(TMALL, target="1002") != base
    other = Destination.of(shop(), "1001", {}, fingerprint_key=FINGERPRINT_KEY)
    assert other.key("cd" * 32) != base
    miniapp = {**TMALL, "platform": "taobao_miniapp"}  # same TOP credentials, another API
    assert place_key(miniapp) != base
    with pytest.raises(ShopConfigError):
        place_key({**TMALL, "platform": "nowhere"})


def test_the_endpoint_changes_the_key() -> None:
    real = place_key(TMALL)
    sandbox = place_key({**TMALL, "base_url": "http://127.0.0.1:8765"})
    other_port = place_key({**TMALL, "base_url": "http://127.0.0.1:8766"})
    other_host = place_key({**TMALL, "base_url": "http://localhost:8765"})
    assert len({real, sandbox, other_port, other_host}) == 4
    # The same endpoint written differently is one endpoint.
    assert place_key({**TMALL, "base_url": "HTTP://127.0.0.1:8765/"}) == sandbox
    assert place_key({**TMALL, "base_url": "https://eco.taobao.com:443"}) == real
    assert endpoint_of(make_shop("s", {**TMALL, "base_url": "https://eco.taobao.com"})) == (
        "https://eco.taobao.com"
    )


DOUYIN = {"platform": "doudian", "appid": "app-1", "app_secret": "dy-secret", "seller_nick": "n1"}
QIANMI = {"platform": "qianmi_sku", "app_key": "10001", "app_secret": "qm-s", "access_token": "t1"}
PICTURE = {"platform": "taobao_picture", "shop_id": "shop-1", "access_token": "vv-token-1"}


@pytest.mark.parametrize(
    ("table", "field", "value"),
    [
        (TMALL, "app_key", "21000002"),
        (TMALL, "session", "seller-session-2"),  # the session names the seller
        (PICTURE, "shop_id", "shop-2"),
        (DOUYIN, "seller_nick", "n2"),
        (DOUYIN, "appid", "app-2"),
        (QIANMI, "app_key", "10002"),
        (QIANMI, "access_token", "t2"),
    ],
)
def test_another_account_is_another_key(table: dict[str, str], field: str, value: str) -> None:
    assert place_key({**table, field: value}) != place_key(table)


@pytest.mark.parametrize(
    ("table", "field", "value"),
    [
        (TMALL, "app_secret", "rotated-secret"),  # the same app and seller
        (TMALL, "sign_method", "md5"),
        (PICTURE, "access_token", "vv-token-renewed"),  # vv-tool's shop is its shop_id
        (DOUYIN, "app_secret", "rotated"),
        (QIANMI, "app_secret", "rotated"),
    ],
)
def test_what_does_not_name_the_account_keeps_the_key(
    table: dict[str, str], field: str, value: str
) -> None:
    assert place_key({**table, field: value}) == place_key(table)


def test_the_shop_name_is_not_part_of_the_key() -> None:
    for name, table in sandbox_shops("http://127.0.0.1:8765").items():
        assert place_key(table, name=name) == place_key(table, name=f"{name}_renamed"), name
    assert place_key(TMALL, name="tmall_store") == place_key(TMALL, name="天猫旗舰店")


def test_an_account_field_replaces_the_fingerprint() -> None:
    named = {**TMALL, "account": "seller-nick-1"}
    assert place_key({**named, "session": "renewed-session"}) == place_key(named)
    assert place_key(named) != place_key(TMALL)
    assert place_key({**named, "account": "seller-nick-2"}) != place_key(named)
    label = account_of(make_shop("s", named), FINGERPRINT_KEY)
    assert label == "app_key=21000001;account=seller-nick-1"


def test_fingerprints_are_keyed_by_the_journal() -> None:
    assert account_of(shop(), b"one") == account_of(shop(), b"one") != account_of(shop(), b"two")


def test_no_secret_is_in_an_account() -> None:
    for name, table in sandbox_shops("http://127.0.0.1:8765").items():
        made = make_shop(name, table)
        label = account_of(made, FINGERPRINT_KEY)
        for field in get_adapter(made.platform).credentials.secret:
            value = made.get(field)
            if not value:
                continue
            assert value not in label, (name, field)
            plain = hashlib.sha256(value.encode()).hexdigest()  # a keyless digest is guessable
            assert plain[:16] not in label, (name, field)


# --- the state machine -------------------------------------------------------------------


def test_begin_then_confirm_is_done(journal: Journal, run: str) -> None:
    k = key()
    assert journal.lookup(k) is None
    begin(journal, k, run=run)
    entry = entry_of(journal, k)
    assert (entry.state, entry.attempts, entry.platform, entry.shop, entry.owner) == (
        State.SENDING,
        1,
        "tmall_item",
        "tmall_store",
        run,
    )
    assert (entry.endpoint, entry.account, entry.file, entry.options) == (
        RECORD.endpoint,
        RECORD.account,
        RECORD.file,
        {"is_major": "true"},
    )
    assert entry.attempt_info == {"row": 1}
    journal.confirm(k, "https://img.example/a.jpg", "77", {"item_img": {"id": 77}})
    entry = entry_of(journal, k)
    assert (entry.state, entry.url, entry.image_id, entry.owner) == (
        State.DONE,
        "https://img.example/a.jpg",
        "77",
        "",
    )
    assert entry.raw == {"item_img": {"id": 77}}
    assert entry.updated >= entry.created > 0


def test_done_is_never_sent_again(journal: Journal, run: str) -> None:
    k = key()
    begin(journal, k, run=run)
    journal.confirm(k, "u", "1")
    attempts: tuple[Callable[[], object], ...] = (
        lambda: begin(journal, k, run=run),
        lambda: begin(journal, k, run=run, retry_safe=True),
        lambda: journal.fail(k, Category.TRANSIENT, "500", "late failure"),
        lambda: journal.pending(k, "m-1"),
    )
    for attempt in attempts:
        with pytest.raises(JournalError) as err:
            attempt()
        assert err.value.code == "already_done"
    journal.confirm(k, "u2", "2")  # a new confirmation (a poll, say) may refresh it
    entry = entry_of(journal, k)
    assert (entry.state, entry.url) == (State.DONE, "u2")


def test_force_sends_a_done_entry_again(journal: Journal, run: str) -> None:
    k = key()
    begin(journal, k, run=run)
    journal.confirm(k, "u", "1")
    begin(journal, k, run=run, force=True)
    entry = entry_of(journal, k)
    assert (entry.state, entry.attempts, entry.owner) == (State.SENDING, 2, run)
    journal.confirm(k, "u2", "2")
    assert entry_of(journal, k).url == "u2"


def test_force_sends_a_pending_entry_again(journal: Journal, run: str) -> None:
    k = key()
    begin(journal, k, run=run)
    journal.pending(k, "m-1")
    with pytest.raises(JournalError) as err:
        begin(journal, k, run=run, retry_safe=True)
    assert err.value.code == "already_pending"
    begin(journal, k, run=run, force=True)
    assert entry_of(journal, k).state == State.SENDING


def test_a_failure_is_tried_again(journal: Journal, run: str) -> None:
    k = key()
    begin(journal, k, run=run)
    journal.fail(k, Category.TRANSIENT, "isp.busy", "系统繁忙")
    entry = entry_of(journal, k)
    assert (entry.state, entry.category, entry.code, entry.message, entry.owner) == (
        State.FAILED,
        "transient",
        "isp.busy",
        "系统繁忙",
        "",
    )
    begin(journal, k, run=run)
    entry = entry_of(journal, k)
    assert (entry.state, entry.attempts, entry.category, entry.code) == (State.SENDING, 2, "", "")


@pytest.mark.parametrize("retryable", [True, False])
def test_a_failure_keeps_whether_it_is_retryable(tmp_path: Path, retryable: bool) -> None:
    path = tmp_path / "j.sqlite"
    with Journal(path) as journal:
        begin(journal, "k")
        journal.fail("k", Category.RATE_LIMITED, "7", "too fast", retryable=retryable)
        assert entry_of(journal, "k").retryable is retryable
    with Journal(path) as reopened:
        assert entry_of(reopened, "k").retryable is retryable
    with Journal(path) as journal:
        begin(journal, "k2")
        journal.fail("k2", Category.NOT_FOUND, "15", "no such item")  # the default: not
        assert entry_of(journal, "k2").retryable is False


def test_in_doubt_is_not_resent_unless_safe(journal: Journal, run: str) -> None:
    k, safe = key(), key(replace_id="9")
    begin(journal, k, run=run)
    begin(journal, safe, run=run)
    with pytest.raises(JournalError) as err:
        begin(journal, k, run=run)  # the same run may not send it again blindly either
    assert err.value.code == "in_doubt"
    assert not isinstance(err.value, JournalBusy)
    journal.end_run(run)
    assert {e.key for e in journal.in_doubt()} == {k, safe}
    later = journal.start_run()
    with pytest.raises(JournalError) as err:
        begin(journal, k, run=later)
    assert err.value.code == "in_doubt"
    begin(journal, safe, run=later, retry_safe=True)  # replacing by id stores no second copy
    entry = entry_of(journal, safe)
    assert (entry.attempts, entry.owner) == (2, later)
    journal.confirm(safe, "u", "9")
    assert [e.key for e in journal.in_doubt()] == [k]


def test_pending_is_polled_not_resent(journal: Journal) -> None:
    k = Destination.of(make_shop("dy", DOUYIN), "0", {}, fingerprint_key=FINGERPRINT_KEY).key(SHA)
    record = Record("doudian", "dy", "0", SHA)
    journal.begin(k, record)
    journal.pending(k, "7100000000000000001")
    entry = entry_of(journal, k)
    assert (entry.state, entry.pending_id) == (State.PENDING, "7100000000000000001")
    with pytest.raises(JournalError) as err:
        journal.begin(k, record, retry_safe=True)
    assert err.value.code == "already_pending"
    journal.fail(k, Category.AUDIT_REJECTED, "2", "审核不通过")  # rejected: may upload again
    journal.begin(k, record)
    journal.pending(k, "7100000000000000002")
    journal.confirm(k, "https://p.example/m.jpg", "7100000000000000002")
    assert entry_of(journal, k).state == State.DONE


def test_an_outcome_without_an_intent_is_still_kept(journal: Journal) -> None:
    journal.confirm("k-never-begun", "u", "1")
    entry = entry_of(journal, "k-never-begun")
    assert (entry.state, entry.url, entry.platform) == (State.DONE, "u", "")


def test_secrets_are_never_stored(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    secret_shop = make_shop(
        "s",
        {
            "platform": "tmall_item",
            "app_key": "21000001",
            "app_secret": "app-secret-hunter2",
            "session": "sess-xyz-seller",
        },
    )
    with Journal(path) as journal:
        run = journal.start_run()
        place = Destination.of(secret_shop, "1001", {}, fingerprint_key=journal.fingerprint_key)
        k = place.key(SHA)
        record = Record(
            place.platform, "s", place.target, SHA, place.endpoint, place.account, "/a.jpg"
        )
        info = {"row": 3, "app_secret": "hunter2", "shop": {"session": "sess-inner"}}
        journal.begin(k, record, run=run, attempt_info={**info, "token": Secret("tok-abc")})
        journal.confirm(k, "u", "1", {"access_token": "tok-def", "list": [{"password": "pw1"}]})
        entry = entry_of(journal, k)
        wal = Path(f"{path}-wal")
        assert wal.exists()
        open_bytes = path.read_bytes() + wal.read_bytes()  # the commits are in the WAL now
        journal.end_run(run)
    assert entry.attempt_info["app_secret"] == "***"
    assert "sess-xyz-seller" not in entry.account
    closed_bytes = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    for secret in (
        b"app-secret-hunter2",
        b"sess-xyz-seller",
        b"hunter2",
        b"sess-inner",
        b"tok-abc",
        b"tok-def",
        b"pw1",
    ):
        assert secret not in open_bytes, secret
        assert secret not in closed_bytes, secret


# --- runs --------------------------------------------------------------------------------

DEAD_RUN = """
import sys
from imgkit.engine.journal import Journal
with Journal(sys.argv[1]) as journal:
    print(journal.start_run(), flush=True)
"""

LIVE_RUN = """
import sys
from imgkit.engine.journal import Journal
journal = Journal(sys.argv[1])
print(journal.start_run(), flush=True)
sys.stdin.readline()  # live until killed
"""


def child_env() -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }


def dead_run(path: Path) -> str:
    """A run started by a child process that has exited (and was reaped)."""
    done = subprocess.run(
        [sys.executable, "-c", DEAD_RUN, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env=child_env(),
        timeout=60,
    )
    return done.stdout.strip()


def test_a_started_run_is_alive(journal: Journal, run: str) -> None:
    assert journal.run_alive(run)
    with Journal(journal.path) as other:  # another process's view: the same file
        assert other.run_alive(run)
    assert journal.start_run() != run


def test_a_run_is_gone_once_it_ended(journal: Journal, run: str) -> None:
    assert journal.run_alive(run)
    journal.end_run(run)
    with Journal(journal.path) as other:
        assert not other.run_alive(run)
    # run_alive caches its answer for BEAT_S / 2: end_run must forget it, or the instance
    # that ended the run would still call it alive (and in_doubt() would miss its entries).
    assert not journal.run_alive(run)


def test_unknown_runs_are_not_alive(journal: Journal) -> None:
    assert not journal.run_alive("")
    assert not journal.run_alive("no-such-run")


def test_a_run_whose_process_exited_is_gone(journal: Journal) -> None:
    gone = dead_run(journal.path)
    assert len(gone) == 32
    assert not journal.run_alive(gone)


@needs_sigkill
def test_a_run_whose_process_was_killed_is_gone(journal: Journal) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", LIVE_RUN, str(journal.path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=child_env(),
    ) as child:
        assert child.stdout is not None
        child_run = child.stdout.readline().strip()
        with Journal(journal.path) as before:
            assert before.run_alive(child_run)  # beating (just started) and its pid exists
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait() == -signal.SIGKILL  # reaped: a zombie's pid still exists
    with Journal(journal.path) as after:  # a fresh view: run_alive caches for BEAT_S / 2
        assert not after.run_alive(child_run)


def test_a_run_that_stopped_beating_is_gone(journal: Journal, clock: Clock) -> None:
    run = journal.start_run()
    assert journal.run_alive(run)
    clock.advance(STALE_S - 1)
    assert journal.run_alive(run)
    journal.beat(run)
    clock.advance(STALE_S - 1)
    assert journal.run_alive(run)  # the beat counted
    clock.advance(2)
    assert not journal.run_alive(run)  # a hung or suspended process: gone


def test_a_run_on_another_machine_is_judged_by_its_beat(journal: Journal, clock: Clock) -> None:
    with sqlite3.connect(journal.path) as db:
        db.execute(
            "INSERT INTO runs (run_id, pid, host, started, beat) VALUES ('far', 1, ?, ?, ?)",
            (f"not-{journal_runs._HOST}", clock.now, clock.now),
        )
    db.close()
    assert journal.run_alive("far")  # its pid means nothing here; its beat does
    clock.advance(STALE_S + 1)
    assert not journal.run_alive("far")


@pytest.mark.parametrize("how", ["plain", "retry_safe", "force"])
def test_another_live_runs_entry_is_busy(journal: Journal, how: str) -> None:
    a, b = journal.start_run(), journal.start_run()
    k = key()
    begin(journal, k, run=a)
    with pytest.raises(JournalBusy) as err:
        begin(journal, k, run=b, retry_safe=how == "retry_safe", force=how == "force")
    assert isinstance(err.value, JournalError)
    assert err.value.code == "busy"
    entry = entry_of(journal, k)
    assert (entry.state, entry.owner, entry.attempts) == (State.SENDING, a, 1)
    # The same from another connection (another process sharing the file).
    with Journal(journal.path) as other_process, pytest.raises(JournalBusy):
        begin(other_process, k, run=b, force=True)


@pytest.mark.parametrize("gone", ["ended", "exited", "stale"])
def test_once_the_run_is_gone_only_a_safe_or_forced_begin_takes_over(
    journal: Journal, clock: Clock, gone: str
) -> None:
    k, k2 = key(), key(position="2")
    a = dead_run(journal.path) if gone == "exited" else journal.start_run()
    begin(journal, k, run=a)
    begin(journal, k2, run=a)
    if gone == "ended":
        journal.end_run(a)
    elif gone == "stale":
        clock.advance(STALE_S + 1)
    b = journal.start_run()
    assert {e.key for e in journal.in_doubt()} == {k, k2}
    with pytest.raises(JournalError) as err:
        begin(journal, k, run=b)
    assert err.value.code == "in_doubt"
    assert not isinstance(err.value, JournalBusy)
    begin(journal, k, run=b, retry_safe=True)
    begin(journal, k2, run=b, force=True)
    for each in (k, k2):
        entry = entry_of(journal, each)
        assert (entry.state, entry.owner, entry.attempts) == (State.SENDING, b, 2)
    assert journal.in_doubt() == []  # b is alive: being sent again


def test_in_doubt_lists_only_entries_of_gone_runs(journal: Journal) -> None:
    live, ended = journal.start_run(), journal.start_run()
    exited = dead_run(journal.path)
    begin(journal, "live", run=live)
    begin(journal, "ended", run=ended)
    begin(journal, "exited", run=exited)
    begin(journal, "no-run")  # begun outside any run (or adopted from imgkit 0.1)
    begin(journal, "done", run=live)
    journal.confirm("done", "u", "1")
    begin(journal, "failed", run=live)
    journal.fail("failed", Category.TRANSIENT)
    journal.pending("pending", "m-1")
    journal.end_run(ended)
    assert sorted(e.key for e in journal.in_doubt()) == ["ended", "exited", "no-run"]
    assert {e.state for e in journal.in_doubt()} == {State.SENDING}


# --- reads -------------------------------------------------------------------------------


def test_image_ids_are_the_done_ones_of_one_place(journal: Journal) -> None:
    here = Record("tmall_item", "s", "1001", SHA, "http://e", "a=1")
    for k, record in (
        ("one", here),
        ("two", here),
        ("other-target", Record("tmall_item", "s", "1002", SHA, "http://e", "a=1")),
        ("other-account", Record("tmall_item", "s", "1001", SHA, "http://e", "a=2")),
        ("other-endpoint", Record("tmall_item", "s", "1001", SHA, "http://f", "a=1")),
    ):
        journal.begin(k, record)
        journal.confirm(k, f"u/{k}", f"id-{k}")
    journal.begin("unanswered", here)
    journal.begin("failed", here)
    journal.fail("failed", Category.TRANSIENT)
    assert journal.image_ids("tmall_item", "http://e", "a=1", "1001") == {"id-one", "id-two"}
    assert journal.image_ids("qianmi_sku", "http://e", "a=1", "1001") == set()


def test_holds_image_answers_for_one_id_of_one_place(journal: Journal) -> None:
    here = Record("tmall_item", "s", "1001", SHA, "http://e", "a=1")
    place = ("tmall_item", "http://e", "a=1", "1001")
    journal.begin("one", here)
    journal.confirm("one", "u/one", "id-one")
    journal.begin("unanswered", here)
    journal.begin("failed", here)
    journal.fail("failed", Category.TRANSIENT)
    assert journal.holds_image(*place, "id-one")
    assert not journal.holds_image(*place, "id-two")
    assert not journal.holds_image(*place, "")
    assert not journal.holds_image("tmall_item", "http://e", "a=1", "1002", "id-one")
    assert not journal.holds_image("tmall_item", "http://e", "a=2", "1001", "id-one")


def test_the_look_up_claim_check_is_one_index_probe(tmp_path: Path) -> None:
    # The question a look-up asks per candidate must not read every id of the target (a
    # category of 100,000 pictures): SQLite's plan says it searches the image id index.
    with Journal(tmp_path / "j.sqlite") as journal:
        journal.holds_image("tmall_item", "http://e", "a=1", "1001", "7")
        plan = " ".join(
            str(row[-1])
            for row in journal._db.execute(
                "EXPLAIN QUERY PLAN SELECT 1 FROM uploads INDEXED BY uploads_image "
                "WHERE image_id = ? AND target = ? AND state = 1 AND place IN "
                "(SELECT id FROM places WHERE platform = ? AND endpoint = ? AND account = ?)",
                ("7", "1001", "tmall_item", "http://e", "a=1"),
            )
        )
    assert "uploads_image (image_id=?)" in plan, plan
    assert "SCAN uploads" not in plan, plan


def test_a_row_costs_few_bytes(tmp_path: Path) -> None:
    # Schema 3's promise (docs/journal.md): an entry as the engine writes it is packed — the
    # key and content SHA-256 as 32 bytes, the place, folder and URL base as small ids, no
    # second index on the key.  Measured with SQLite's dbstat over 5,000 entries.
    path = tmp_path / "j.sqlite"
    with Journal(path) as journal:
        run = journal.start_run()
        for i in range(5000):
            k = hashlib.sha256(f"k{i}".encode()).hexdigest()
            sha = hashlib.sha256(f"c{i}".encode()).hexdigest()
            where = ("http://127.0.0.1:8765", "appid=app;seller_nick=38173182")
            record = Record("doudian", "shop", "0", sha, *where, f"/data/shoot/img_{i:06d}.jpg")
            journal.begin(k, record, run=run, commit=False)
            url = f"http://127.0.0.1:8765/img/doudian/{i:08d}{sha[:16]}.jpg"
            journal.confirm(k, url, str(17963094487373267061189 + i), commit=False)
        journal.end_run(run)
        wal = path.with_name(path.name + "-wal").stat().st_size  # emptied at the run's end
        sizes = dict(journal._db.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"))
        (stored,) = journal._db.execute("SELECT count(*) FROM uploads").fetchone()
    assert stored == 5000
    assert set(sizes) >= {"uploads", "uploads_image", "places", "texts"}
    per_row = {name: size / 5000 for name, size in sizes.items()}
    assert per_row["uploads"] < 220, per_row  # schema 2: 450 in entries + 82 in its key index
    assert per_row["uploads_image"] < 80, per_row
    assert sum(per_row.values()) < 300, per_row
    assert wal == 0


def test_entries_by_state_and_time(journal: Journal, clock: Clock) -> None:
    start = clock.now
    for n in range(4):
        journal.confirm(f"k{n}", "u", str(n))
        clock.advance(10)
    begin(journal, "k4")
    assert [e.key for e in journal.entries()] == ["k0", "k1", "k2", "k3", "k4"]
    assert [e.key for e in journal.entries(state=State.SENDING)] == ["k4"]
    assert [e.key for e in journal.entries(state="done", since=start + 10)] == ["k1", "k2", "k3"]
    assert [e.key for e in journal.entries(since=start + 10, until=start + 30)] == ["k1", "k2"]
    assert journal.entries(since=start + 1000) == []


# --- the file ----------------------------------------------------------------------------


def test_wal_and_full_synchronous(journal: Journal) -> None:
    assert journal.wal
    assert journal._db.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
    with sqlite3.connect(journal.path) as other:
        assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert other.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    other.close()
    assert SCHEMA_VERSION == 3
    assert not journal.upgraded


def test_a_second_open_sees_every_write(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "j.sqlite"  # folders are created
    with Journal(path) as writer, Journal(path) as reader:
        begin(writer, "k")
        writer.confirm("k", "u", "1")
        assert entry_of(reader, "k").state == State.DONE
        assert reader.fingerprint_key == writer.fingerprint_key  # one key per file
    with Journal(tmp_path / "another.sqlite") as another, Journal(path) as again:
        assert another.fingerprint_key != again.fingerprint_key == writer.fingerprint_key


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


def make_schema_1_file(path: Path, rows: list[tuple[str, str, str, str]]) -> None:
    """A journal as imgkit 0.1 wrote it: (key, state, url, image_id) rows."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    for statement in OLD_SCHEMA:
        db.execute(statement)
    db.execute("INSERT INTO schema_version VALUES (1)")
    for k, state, url, image_id in rows:
        db.execute(
            "INSERT INTO entries (key, state, platform, shop, target, sha256, url, image_id, "
            "attempts, attempt_info, raw_json, created, updated) "
            "VALUES (?, ?, 'tmall_item', 'tmall_store', '1001', ?, ?, ?, 2, ?, ?, 100.0, 200.0)",
            (k, state, SHA, url, image_id, json.dumps({"row": 4}), json.dumps({"id": image_id})),
        )
    db.close()


def test_a_schema_1_file_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    done = legacy_key("tmall_item", "tmall_store", "1001", SHA, {"is_major": "true"})
    sending = legacy_key("tmall_item", "tmall_store", "1001", SHA, None)
    make_schema_1_file(
        path, [(done, "done", "https://img.example/1.jpg", "77"), (sending, "sending", "", "")]
    )
    with Journal(path) as journal:
        assert journal.upgraded
        old = entry_of(journal, done)
        assert (old.state, old.url, old.image_id, old.platform, old.shop, old.sha256) == (
            State.DONE,
            "https://img.example/1.jpg",
            "77",
            "tmall_item",
            "tmall_store",
            SHA,
        )
        assert (old.attempts, old.attempt_info, old.raw, old.created, old.updated) == (
            2,
            {"row": 4},
            {"id": "77"},
            100.0,
            200.0,
        )
        assert (old.endpoint, old.account, old.file, old.options, old.retryable, old.owner) == (
            "",
            "",
            "",
            {},
            False,
            "",
        )
        assert [e.key for e in journal.in_doubt()] == [sending]  # 0.1's run is long gone
        run = journal.start_run()
        begin(journal, key(), run=run)
        journal.confirm(key(), "u", "1")
        journal.end_run(run)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
        (count,) = db.execute("SELECT count(*) FROM uploads").fetchone()
        assert count == 3
        kinds = dict(db.execute("SELECT name, type FROM sqlite_schema"))
        assert kinds["entries"] == "view"  # the table was copied into uploads, then dropped
    db.close()
    with Journal(path) as reopened:
        assert reopened.upgraded  # its old keys still need migrating on every run
        assert entry_of(reopened, done).state == State.DONE
        assert entry_of(reopened, key()).state == State.DONE


def test_lookup_many_on_20k_keys(journal: Journal) -> None:
    keys = [f"k{i:05d}" for i in range(20_000)]
    # Filled in one transaction: 20k separate fsynced commits are the engine's pace, not a test's.
    for k in keys[::2]:
        journal.confirm(k, f"u/{k}", "1", commit=False)
    journal.flush()
    found = journal.lookup_many([*keys, *keys[:100]])  # repeats are fine
    assert len(found) == 10_000
    assert found["k19998"].url == "u/k19998"
    assert "k19999" not in found
    assert journal.lookup_many([]) == {}


def test_many_threads_share_one_journal(journal: Journal, run: str) -> None:
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(100):
                k = f"t{n}-{i}"
                begin(journal, k, run=run)
                journal.lookup_many([k, f"t{(n + 1) % 8}-{i}"])
                journal.run_alive(run)
                journal.beat(run)
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


def test_usable_from_an_event_loop(journal: Journal, run: str) -> None:
    async def main() -> State | None:
        begin(journal, "a", run=run)
        await asyncio.sleep(0)
        journal.confirm("a", "u", "1")
        entry = journal.lookup("a")
        return entry.state if entry else None

    assert asyncio.run(main()) == State.DONE


def test_one_journal_per_user(imgkit_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_journal_path() == imgkit_home / "journal.sqlite"
    with Journal() as journal:
        assert journal.path == imgkit_home / "journal.sqlite"
    assert (imgkit_home / "journal.sqlite").is_file()
    monkeypatch.setenv("IMGKIT_HOME", "~/somewhere")
    assert default_journal_path() == Path.home() / "somewhere" / "journal.sqlite"
    monkeypatch.delenv("IMGKIT_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(imgkit_home / "data"))
    if sys.platform.startswith("linux"):
        assert default_journal_path() == imgkit_home / "data" / "imgkit" / "journal.sqlite"
    assert default_journal_path().name == "journal.sqlite"
    assert "imgkit" in default_journal_path().parts


# --- crashes -----------------------------------------------------------------------------

LOOP = """
import sys
from imgkit.engine.journal import Journal, Record
journal = Journal(sys.argv[1])
run = journal.start_run()
print("ready", flush=True)
sys.stdin.readline()  # wait for the go, so that the kill moment is the parent's choice
i = 0
while True:
    k = f"k{i:06d}"
    record = Record("tmall_item", "s", "1001", f"{i:064x}", "http://127.0.0.1:1", "a=1")
    journal.begin(k, record, run=run, attempt_info={"row": i})
    journal.confirm(k, f"https://img.example/{i}.jpg", str(i), {"pad": "x" * (i % 7 * 900)})
    print(k, flush=True)
    i += 1
"""

OPEN_TRANSACTION = """
import sqlite3, sys, time
from imgkit.engine.journal import Journal, Record
path = sys.argv[1]
with Journal(path) as journal:
    run = journal.start_run()
    for i in range(20):
        journal.begin(f"k{i}", Record("tmall_item", "s", "1001", f"{i:064x}"), run=run)
        journal.confirm(f"k{i}", "u", str(i))
    journal.end_run(run)
db = sqlite3.connect(path, isolation_level=None)
db.execute("PRAGMA cache_size=5")  # a tiny cache spills uncommitted pages into the WAL file
db.execute("BEGIN IMMEDIATE")
rows = ((f"x{i}", "y" * 2000) for i in range(3000))
db.executemany("INSERT INTO uploads (key, state, raw_json, created, updated) "
               "VALUES (?, 1, ?, 0, 0)", rows)
print("open", flush=True)
time.sleep(60)
"""


def spawn(script: str, path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=child_env(),
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
        # The killed child's run is gone: what it left sending is in doubt, not busy.
        sending = [e.key for e in journal.entries(state=State.SENDING)]
        assert [e.key for e in journal.in_doubt()] == sending, where
        assert sending in ([], [busy]), where
        (child_run,) = journal._db.execute("SELECT run_id FROM runs").fetchone()
        assert not journal.run_alive(child_run), where
        run = journal.start_run()
        if sending:
            begin(journal, busy, run=run, retry_safe=True)  # taken over, not JournalBusy
        begin(journal, "after", run=run)  # and the file takes new writes
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
