"""A run killed with SIGKILL mid-batch, then re-run, never stores a row twice.

A child process uploads a batch file to a real sandbox server whose answers take 30-60
ms, so requests are in flight when the child is killed.  Its journal is the user's,
``$IMGKIT_HOME/journal.sqlite`` (each test has its own home, which the child inherits), and
nothing is written beside the batch file any more.  The re-run in
this process must skip what the journal confirmed, send what was never begun, and settle
the rows that were on the wire: by a look-up where the platform has one (``docs/lookups.md``:
found -> ``uploaded`` with the copy the dead run stored, proven absent -> sent now), by a
safe re-send where the platform makes one safe (Douyin's ``need_distinct`` returns the
existing copy), and otherwise leave them ``in_doubt``: reported, not sent again (a second
copy is worse than a question to the user).
"""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pandas as pd
import pytest
from PIL import Image

import imgkit
from imgkit import Sandbox
from imgkit.engine.journal import FILE_NAME, Journal, default_journal_path
from imgkit.engine.migrate import SUFFIX
from imgkit.intake.shops_files import write_shops

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

ROOT = Path(__file__).resolve().parent.parent
ROWS = 40
LATENCY_MS = [30, 60]
# platform -> (shop, targets): the Tmall items and Qianmi SKUs have room for 5 images each.
SHOPS = {
    "doudian": ("douyin_shop", ["0"]),
    "taobao_picture": ("tb_picture_main", ["0"]),
    "taobao_miniapp": ("miniapp_main", ["3000000012345"]),
    "tmall_item": ("tmall_store", ["1489161940", "1489161941"]),
    "qianmi_sku": ("qianmi_shop", ["18353/g1234", "18353/g1235"]),
}
IN_DOUBT = "may have been stored"
FOUND = "a look-up found the image stored"
CHILD = "import sys, imgkit; imgkit.upload(sys.argv[1], shops=sys.argv[2], progress=False)"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A sandbox of its own (fresh counters) whose every answer takes 30-60 ms."""
    with Sandbox() as server:
        server.state.set_faults({"seed": 7, "latency_ms": LATENCY_MS})
        yield server


def write_images(folder: Path, count: int) -> list[Path]:
    folder.mkdir()
    files = []
    for n in range(count):
        path = folder / f"img_{n:02d}.jpg"
        Image.new("RGB", (80, 60), (n * 6 % 256, 255 - n * 5 % 256, n * 29 % 256)).save(
            path, "JPEG", quality=85
        )
        files.append(path)
    assert len({hashlib.sha256(f.read_bytes()).digest() for f in files}) == count
    return files


def write_batch(path: Path, files: list[Path], platforms: list[str], **options: str) -> Path:
    rows = []
    for n, file in enumerate(files):
        platform = platforms[n % len(platforms)]
        shop, targets = SHOPS[platform]
        target = targets[n // len(platforms) % len(targets)]
        row = {"platform": platform, "shop": shop, "file": str(file), "target": target}
        if platform == "qianmi_sku":
            # Qianmi refuses a position another image of the SKU holds (a missing one is 0).
            row["position"] = str(n // len(platforms) // len(targets) % 5)
        rows.append(row | (options if platform == "doudian" else {}))
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def kill_mid_batch(sandbox: Sandbox, batch: Path, shops: Path, kill_at: int) -> None:
    """Run the upload in a child process; SIGKILL it once ``kill_at`` images are stored."""
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    log = batch.with_name("child.log")
    with log.open("wb") as out:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(batch), str(shops)],
            cwd=batch.parent,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while sandbox.stats()["total"]["stored"] < kill_at:
                assert child.poll() is None, f"the child ended first:\n{log.read_text()}"
                assert time.monotonic() < deadline, "the child stored too little in 30 s"
                time.sleep(0.002)
            os.kill(child.pid, signal.SIGKILL)
        finally:
            child.kill()
            child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL, log.read_text()


def settle(sandbox: Sandbox) -> dict[str, int]:
    """Wait until the requests the dead child left in flight have been served; the totals.

    Every API request is counted when it arrives and logged when it is answered, so the
    server is done when both agree and nothing has moved for a while.
    """
    deadline = time.monotonic() + 10
    last, still = sandbox.stats()["total"], 0.0
    while still < 0.3 or last["requests"] != answered(sandbox):
        assert time.monotonic() < deadline, "the sandbox is still busy 10 s after the kill"
        time.sleep(0.05)
        now = sandbox.stats()["total"]
        still = still + 0.05 if now == last else 0.0
        last = now
    return dict(last)


# Faults drawn before the handler runs: the request's only log entry is the fault's.
BEFORE_HANDLER = frozenset({"fault:http_500", "fault:drop_before_store"})


def answered(sandbox: Sandbox) -> int:
    """How many API requests the sandbox has finished with: one log entry each, besides
    the extra entry of a fault drawn after the handler (``silent`` logs the answer the
    handler gave, then the fault)."""
    return sum(
        not record.outcome.startswith("fault:") or record.outcome in BEFORE_HANDLER
        for record in sandbox.state.request_log()
    )


def journal_states(path: Path) -> dict[str, tuple[str, str]]:
    """The journal after the kill: sha256 -> (state, url), read as a plain SQLite file."""
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT sha256, state, url FROM entries").fetchall()
    db.close()
    return {sha: (state, url) for sha, state, url in rows}


def journal_bytes(path: Path) -> bytes:
    """The journal file and its WAL, raw."""
    wal = Path(f"{path}-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def copies(sandbox: Sandbox) -> Counter[str]:
    """sha256 -> how many images with those bytes the sandbox holds, on any platform."""
    return Counter(image.facts.sha256 for image in sandbox.state.store.images())


def stored_shas(sandbox: Sandbox, batch: Path) -> set[str]:
    """The sha256 of every row of ``batch`` the sandbox holds a copy of."""
    held = copies(sandbox)
    shas = (hashlib.sha256(Path(f).read_bytes()).hexdigest() for f in pd.read_csv(batch)["file"])
    return {sha for sha in shas if held[sha]}


@dataclass
class Crash:
    """A run killed mid-batch and run again."""

    results: pd.DataFrame  # the re-run's
    journal: dict[str, tuple[str, str]]  # sha256 -> (state, url) as the kill left it
    before: dict[str, int]  # the sandbox's totals between the kill and the re-run
    stored_before: set[str]  # sha256 of the rows the sandbox held then

    def state(self, sha: str) -> str:
        return self.journal.get(sha, ("", ""))[0]


def crash_and_rerun(
    sandbox: Sandbox,
    tmp_path: Path,
    kill_at: int,
    platforms: list[str],
    rerun_faults: dict[str, object] | None = None,
    **options: str,
) -> Crash:
    """Kill a run at ``kill_at`` stored images, then re-run it here with the same journal
    (under ``rerun_faults`` when given, else under the faults the child ran with)."""
    files = write_images(tmp_path / "images", ROWS)
    batch = write_batch(tmp_path / "batch.csv", files, platforms, **options)
    shops = write_shops(tmp_path / "shops.toml", sandbox.shops)
    journal = default_journal_path()
    home = Path(os.environ["IMGKIT_HOME"])
    assert journal == home / FILE_NAME
    assert not home.is_relative_to(tmp_path)
    assert not journal.exists()
    kill_mid_batch(sandbox, batch, shops, kill_at)
    before = settle(sandbox)
    assert journal.exists(), "the child inherits $IMGKIT_HOME: its journal is the test's"
    assert not batch.with_name(batch.name + SUFFIX).exists(), "nothing beside the batch file"
    assert not (tmp_path / FILE_NAME).exists()
    crash = Crash(pd.DataFrame(), journal_states(journal), before, stored_shas(sandbox, batch))
    # The killed child's run is gone: what it left sending is in doubt, not being sent.
    sending = {sha for sha, (state, _url) in crash.journal.items() if state == "sending"}
    with Journal(journal) as opened:
        assert {entry.sha256 for entry in opened.in_doubt()} == sending
    assert len(crash.stored_before) == before["stored"] >= kill_at
    # Nothing reaches the platform without an intent in the journal first.
    assert {crash.state(sha) for sha in crash.stored_before} <= {"done", "pending", "sending"}
    if rerun_faults is not None:
        sandbox.state.set_faults(rerun_faults)
    crash.results = imgkit.upload(batch, shops=shops, progress=False)
    assert len(crash.results) == ROWS
    text = journal_bytes(journal)
    for shop in sandbox.shops.values():
        for name in ("access_token", "app_secret", "client_secret", "session"):
            if name in shop:
                assert shop[name].encode() not in text, f"{name} in the journal"
    return crash


def in_doubt(results: pd.DataFrame) -> pd.Series:
    """Rows maybe stored: on the wire when the run died, not sent again."""
    doubt = results["status"] == "in_doubt"
    assert (results.loc[doubt, "category"] == "timeout").all(), results.loc[doubt]
    return doubt


def found_by_look_up(results: pd.DataFrame) -> pd.Series:
    """Rows the re-run settled as stored by the dead run, through the platform's look-up."""
    return (results["status"] == "uploaded") & results["message"].str.contains(FOUND)


@pytest.mark.parametrize("kill_at", [4, 12, 24])
def test_a_killed_run_rerun_never_stores_a_row_twice(
    sandbox: Sandbox, tmp_path: Path, kill_at: int
) -> None:
    """Douyin (its material search) and picture space both have a look-up: the rows the
    dead run left on the wire are settled, found stored or proved absent and sent once."""
    crash = crash_and_rerun(sandbox, tmp_path, kill_at, ["doudian", "taobao_picture"])
    results = crash.results
    after = sandbox.stats()["total"]
    assert after["duplicates"] == 0, sandbox.stats()
    assert set(results["platform_key"]) == {"doudian", "taobao_picture"}

    status = results["status"]
    doubt = in_doubt(results)
    found = found_by_look_up(results)
    assert results.loc[doubt, "message"].str.contains(IN_DOUBT).all(), results.loc[doubt]
    definite = status.isin(["uploaded", "skipped"]) | doubt
    assert definite.all(), results.loc[~definite, ["status", "category", "message"]]

    stored_now = stored_shas(sandbox, tmp_path / "batch.csv")
    for _, row in results.iterrows():
        state, url = crash.journal.get(row["sha256"], ("", ""))
        where = f"row {row['row']} ({row['platform']}, {state or 'not begun'}): {row['status']}"
        if state == "done":  # confirmed before the kill: skipped, with the same URL
            assert row["status"] == "skipped", where
            assert row["url"] == url != "", where
        elif state == "sending":  # the look-up found the dead run's copy, or proved none
            assert row["status"] == "uploaded", where
            assert found[cast(int, row.name)] == (row["sha256"] in crash.stored_before), where
        else:  # never begun (or failed for sure): sent now
            assert row["status"] == "uploaded", where
            assert not found[cast(int, row.name)], where
        if row["status"] in ("uploaded", "skipped"):
            assert row["sha256"] in stored_now, where
        else:  # in doubt: stored or not, as the dead run left it
            assert (row["sha256"] in stored_now) == (row["sha256"] in crash.stored_before), where

    # Nothing was re-sent: the re-run stored exactly the rows it sent and reports uploaded.
    assert after["stored"] - crash.before["stored"] == ((status == "uploaded") & ~found).sum()
    stored_in_doubt = sum(sha in crash.stored_before for sha in results.loc[doubt, "sha256"])
    print(
        f"kill at {kill_at} stored: {(status == 'skipped').sum()} skipped, "
        f"{(status == 'uploaded').sum()} uploaded ({found.sum()} found by a look-up), "
        f"{doubt.sum()} in doubt ({stored_in_doubt} of them stored by the dead run)"
    )


@pytest.mark.parametrize("kill_at", [5, 15, 30])
def test_every_row_of_all_five_platforms_ends_stored_exactly_once(
    sandbox: Sandbox, tmp_path: Path, kill_at: int
) -> None:
    """The Done-when: killed mid-batch and re-run, every row of a batch across all five
    platforms is stored exactly once (Douyin with ``need_distinct``, the rest by look-ups)."""
    platforms = list(SHOPS)
    crash = crash_and_rerun(sandbox, tmp_path, kill_at, platforms, need_distinct="true")
    results = crash.results
    stats = sandbox.stats()
    assert set(results["platform_key"]) == set(platforms)
    assert set(results["status"]) <= {"uploaded", "skipped"}, results[["status", "message"]]
    assert stats["total"]["duplicates"] == 0, stats
    held = copies(sandbox)
    assert {sha: held[sha] for sha in results["sha256"]} == dict.fromkeys(results["sha256"], 1)
    state = results["sha256"].map(crash.state)
    assert (results.loc[state == "done", "status"] == "skipped").all()
    assert (results.loc[state != "done", "status"] == "uploaded").all()
    sending = state == "sending"
    found = found_by_look_up(results)
    print(
        f"kill at {kill_at}: {sending.sum()} rows on the wire at the kill "
        f"({', '.join(sorted(results.loc[sending, 'platform_key']))}); "
        f"{found.sum()} settled by a look-up"
    )


@pytest.mark.parametrize("kill_at", [6, 16])
def test_with_need_distinct_every_row_ends_stored_once(
    sandbox: Sandbox, tmp_path: Path, kill_at: int
) -> None:
    """Douyin with ``need_distinct=true`` returns the copy it has: in-doubt rows are re-sent."""
    crash = crash_and_rerun(sandbox, tmp_path, kill_at, ["doudian"], need_distinct="true")
    results = crash.results
    stats = sandbox.stats()
    assert set(results["status"]) <= {"uploaded", "skipped"}, results[["status", "message"]]
    assert stats["total"]["stored"] == ROWS, stats
    assert stats["total"]["duplicates"] == 0, stats
    assert stats["images"] == ROWS
    state = results["sha256"].map(crash.state)
    assert (results.loc[state == "done", "status"] == "skipped").all()
    assert (results.loc[state != "done", "status"] == "uploaded").all()
    assert results["url"].str.startswith(sandbox.base_url).all()
    print(f"kill at {kill_at}: {(state == 'sending').sum()} rows in doubt re-sent safely")


def test_rows_in_doubt_stay_in_doubt_on_every_later_run(sandbox: Sandbox, tmp_path: Path) -> None:
    """Rows with no look-up (Tmall 3:4 images, which the item listing omits) whose answer
    was lost are never sent again, however many times the batch is run."""
    folder = tmp_path / "images"
    folder.mkdir()
    files = []
    for n in range(2):  # one per item: an item has one 3:4 main image
        path = folder / f"tall_{n}.jpg"
        Image.new("RGB", (300, 400), (n * 60, 90, 200 - n * 40)).save(path, quality=90)
        files.append(path)
    batch = tmp_path / "batch.csv"
    pd.DataFrame(
        {"platform": "tmall_item", "shop": "tmall_store", "file": [str(f) for f in files]}
    ).assign(target=SHOPS["tmall_item"][1], is_rectangle="true").to_csv(batch, index=False)
    shops = write_shops(tmp_path / "shops.toml", sandbox.shops)
    sandbox.state.set_faults({"drop_after_store": 1.0})
    first = imgkit.upload(batch, shops=shops, progress=False)
    assert in_doubt(first).all(), first[["status", "message"]]
    sandbox.state.set_faults({})
    stored = sandbox.stats()["total"]["stored"]
    assert stored == len(files)
    for _ in range(2):
        again = imgkit.upload(batch, shops=shops, progress=False)
        assert in_doubt(again).all(), again[["status", "message"]]
        assert again["message"].str.contains("force=True").all()
        assert sandbox.stats()["total"]["stored"] == stored
    # The root cause: every run must leave them `sending` in the journal.
    journal = journal_states(default_journal_path())
    assert {journal[sha][0] for sha in first["sha256"]} == {"sending"}


def test_need_distinct_waits_for_the_first_copys_audit_before_resending(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """Rows the dead run stored but never heard back about are re-sent with
    ``need_distinct`` only once their first copy has passed its audit."""
    rerun = {"seed": 7, "latency_ms": LATENCY_MS, "audit_delay_s": 1.5}
    # Deterministic, not left to timing: every upload is stored and then never answered
    # (``silent``), so each image stored before the kill is one the child had in flight.
    # Four is within the engine's eight workers, all held at once.
    sandbox.state.set_faults({**rerun, "silent": 1.0, "silent_s": 60})
    crash = crash_and_rerun(sandbox, tmp_path, 4, ["doudian"], rerun, need_distinct="true")
    sending = {sha for sha, (state, _url) in crash.journal.items() if state == "sending"}
    assert crash.stored_before, "the kill came after images were stored"
    assert crash.stored_before <= sending, "every stored image was on the wire at the kill"
    assert sandbox.stats()["doudian"]["faults"]["silent"] >= len(crash.stored_before)
    stats = sandbox.stats()["total"]
    assert stats["duplicates"] == 0, stats
    assert stats["stored"] == ROWS, stats
