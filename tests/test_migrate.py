"""Upgrading from imgkit 0.1: what its per-batch journals knew is not forgotten, nor trusted
where it cannot be true.

Each test writes a real 0.1 journal (``<batch>.imgkit-journal.sqlite``, the 0.1 schema and
keys, made with plain sqlite3) beside a batch file and uploads that batch to the sandbox
with the user's journal (empty: each test has its own ``$IMGKIT_HOME``).
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

import imgkit
from imgkit import Sandbox
from imgkit.engine.destination import legacy_key
from imgkit.engine.journal import Entry, Journal, State, default_journal_path
from imgkit.engine.migrate import SUFFIX, stored_there

ROOT = Path(__file__).resolve().parent.parent
IMAGE = ROOT / "sample_data" / "images" / "mug.jpg"
SHA = hashlib.sha256(IMAGE.read_bytes()).hexdigest()
ROW = {
    "platform": "tmall_item",
    "shop": "tmall_store",
    "file": str(IMAGE),
    "target": "1489161940",
    "title": "马克杯 细节",
}
FOUND = "a look-up found the image stored"

# imgkit 0.1's schema (imgkit/engine/journal.py before schema 2).
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


def write_batch(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "batch.csv"
    pd.DataFrame([ROW]).to_csv(path, index=False)
    return path


def write_0_1_journal(path: Path, state: str, url: str = "", image_id: str = "") -> Path:
    """A 0.1 journal at ``path`` with one entry for ``ROW``, under 0.1's key."""
    old_key = legacy_key(ROW["platform"], ROW["shop"], ROW["target"], SHA, {"title": ROW["title"]})
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")  # as 0.1 opened it
    for statement in OLD_SCHEMA:
        db.execute(statement)
    db.execute("INSERT INTO schema_version VALUES (1)")
    an_hour_ago = time.time() - 3600
    db.execute(
        "INSERT INTO entries (key, state, platform, shop, target, sha256, url, image_id, "
        "created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            old_key,
            state,
            ROW["platform"],
            ROW["shop"],
            ROW["target"],
            SHA,
            url,
            image_id,
            an_hour_ago,
            an_hour_ago,
        ),
    )
    db.close()
    return path


def beside(batch: Path) -> Path:
    return batch.with_name(batch.name + SUFFIX)


def copies(sandbox: Sandbox) -> Counter[str]:
    """sha256 -> how many images with those bytes the sandbox holds."""
    return Counter(image.facts.sha256 for image in sandbox.state.store.images())


def upload(batch: Path, sandbox: Sandbox, **options: object) -> pd.Series:
    results = imgkit.upload(batch, shops=sandbox.shops, progress=False, **options)
    assert len(results) == 1
    return results.iloc[0]


def user_entries() -> list[Entry]:
    with Journal(default_journal_path()) as journal:
        return list(journal.entries())


def test_a_done_entry_stored_at_this_endpoint_is_skipped(sandbox: Sandbox, tmp_path: Path) -> None:
    batch = write_batch(tmp_path / "products")
    url = f"{sandbox.base_url}/img/tmall_item/0001.jpg"
    old = write_0_1_journal(beside(batch), "done", url, "9001")
    old_bytes = old.read_bytes()
    row = upload(batch, sandbox)
    assert (row["status"], row["url"], row["image_id"]) == ("skipped", url, "9001")
    assert sandbox.stats()["total"]["requests"] == 0  # nothing sent, not even a look-up
    assert sandbox.stats()["total"]["stored"] == 0
    assert copies(sandbox)[SHA] == 0
    assert old.read_bytes() == old_bytes  # the old file is only read
    # Adopted under the new key, with the place it was stored: the old file is not needed.
    (entry,) = user_entries()
    assert (entry.state, entry.url, entry.endpoint) == (State.DONE, url, sandbox.base_url)
    assert entry.account.startswith("app_key=21000001;session#")
    old.unlink()
    again = upload(batch, sandbox)
    assert (again["status"], again["url"]) == ("skipped", url)
    assert sandbox.stats()["total"]["requests"] == 0


@pytest.mark.parametrize("where", ["another sandbox", "the real platform"])
def test_a_done_entry_stored_elsewhere_is_uploaded_here(
    sandbox: Sandbox, tmp_path: Path, where: str
) -> None:
    """0.1 keyed on the shop *name*: a rehearsal on a sandbox (another port) or an upload to
    the real platform made the same key.  Neither stored the image at this endpoint."""
    batch = write_batch(tmp_path / "products")
    if where == "another sandbox":
        with Sandbox() as rehearsal:
            assert rehearsal.base_url != sandbox.base_url
            url = f"{rehearsal.base_url}/img/tmall_item/0001.jpg"
    else:
        url = "https://img.alicdn.com/imgextra/i1/0001.jpg"
    assert not stored_there(url, sandbox.base_url)
    write_0_1_journal(beside(batch), "done", url, "9001")
    row = upload(batch, sandbox)
    assert row["status"] == "uploaded", row[["status", "message"]]
    assert row["url"].startswith(sandbox.base_url)
    assert row["url"] != url
    assert sandbox.stats()["total"]["stored"] == 1
    assert sandbox.stats()["total"]["duplicates"] == 0
    assert copies(sandbox)[SHA] == 1
    (entry,) = user_entries()
    assert (entry.state, entry.url) == (State.DONE, row["url"])
    assert upload(batch, sandbox)["status"] == "skipped"  # and now it is done here
    assert sandbox.stats()["total"]["stored"] == 1


def test_a_sending_entry_is_looked_up_then_sent_once(sandbox: Sandbox, tmp_path: Path) -> None:
    batch = write_batch(tmp_path / "products")
    write_0_1_journal(beside(batch), "sending")
    row = upload(batch, sandbox)
    assert row["status"] == "uploaded", row[["status", "message"]]
    assert FOUND not in row["message"]
    stats = sandbox.stats()
    assert stats["total"]["stored"] == 1
    assert stats["total"]["duplicates"] == 0
    assert copies(sandbox)[SHA] == 1
    # Not sent blindly: the item's images were listed first (one look-up, one upload).
    assert stats["tmall_item"]["requests"] == 2


def test_a_sending_entry_that_was_stored_is_found_not_sent_again(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """The 0.1 run died after the platform stored the image: the look-up finds that copy."""
    first = imgkit.upload(
        pd.DataFrame([ROW]), shops=sandbox.shops, journal=False, progress=False
    ).iloc[0]
    assert first["status"] == "uploaded"
    batch = write_batch(tmp_path / "products")
    write_0_1_journal(beside(batch), "sending")
    row = upload(batch, sandbox)
    assert row["status"] == "uploaded", row[["status", "message"]]
    assert FOUND in row["message"]
    assert (row["url"], row["image_id"]) == (first["url"], first["image_id"])
    assert sandbox.stats()["total"]["stored"] == 1
    assert copies(sandbox)[SHA] == 1


def test_a_0_1_journal_given_as_the_journal_is_upgraded_and_remembers(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    batch = write_batch(tmp_path / "products")
    url = f"{sandbox.base_url}/img/tmall_item/0001.jpg"
    old = write_0_1_journal(tmp_path / "team-journal.sqlite", "done", url, "9001")
    row = upload(batch, sandbox, journal=old)
    assert (row["status"], row["url"]) == ("skipped", url)
    assert sandbox.stats()["total"]["requests"] == 0
    with Journal(old) as upgraded:
        assert upgraded.upgraded
        adopted = [e for e in upgraded.entries() if e.endpoint == sandbox.base_url]
        assert [(e.state, e.url) for e in adopted] == [(State.DONE, url)]


@pytest.mark.parametrize("folder", ["batch #2", "what?", "100% cotton"])
def test_a_0_1_journal_in_a_folder_with_uri_characters_is_read(
    sandbox: Sandbox, tmp_path: Path, folder: str
) -> None:
    """The old journal is opened read-only through a ``file:`` URI: unquoted, ``#``, ``?`` or
    ``%`` in a folder name would cut the path short, ignore the old journal (its done rows
    sent again: a second copy) and create an empty file at the cut."""
    parent = tmp_path / "shared"
    batch = write_batch(parent / folder)
    url = f"{sandbox.base_url}/img/tmall_item/0001.jpg"
    write_0_1_journal(beside(batch), "done", url, "9001")
    before = sorted(p.name for p in parent.iterdir())
    row = upload(batch, sandbox)
    assert (row["status"], row["url"]) == ("skipped", url), row[["status", "message"]]
    assert sandbox.stats()["total"]["stored"] == 0
    assert sorted(p.name for p in parent.iterdir()) == before, "a stray file was created"


@pytest.mark.parametrize("state", ["done", "sending"])
def test_an_upgraded_journal_lists_each_upload_once(
    sandbox: Sandbox, tmp_path: Path, state: str
) -> None:
    """In a journal upgraded in place, adopting an entry copies it under the new key and
    leaves the 0.1-keyed original behind: history() then lists the upload twice, and a
    ``sending`` original stays in doubt for ever, though the adopted copy was settled."""
    batch = write_batch(tmp_path / "products")
    url = f"{sandbox.base_url}/img/tmall_item/0001.jpg" if state == "done" else ""
    old = write_0_1_journal(tmp_path / "team-journal.sqlite", state, url, "9001" * bool(url))
    row = upload(batch, sandbox, journal=old)
    assert row["status"] == ("skipped" if state == "done" else "uploaded")
    assert sandbox.stats()["total"]["stored"] == (0 if state == "done" else 1)
    with Journal(old) as upgraded:
        assert upgraded.in_doubt() == []
        table = imgkit.history(journal=upgraded)
    assert list(table["status"]) == ["done"], table[["status", "endpoint", "url"]]


# --- schema 2 -> 3 ------------------------------------------------------------------------

# A journal written by imgkit's schema-2 code (commit 191dbf4, before schema 3): the sample
# batch uploaded to a sandbox on this port, then one upload left in doubt by a run that ended
# and one refused for good (tests/data/journal_v2.sqlite; rebuilt by nobody: it is history).
V2_FILE = ROOT / "tests" / "data" / "journal_v2.sqlite"
V2_PORT = 48321


def test_a_schema_2_journal_is_upgraded_in_place_and_its_uploads_are_skipped(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.sqlite"
    path.write_bytes(V2_FILE.read_bytes())
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(2,)]
        before = {
            key: (state, url, image_id, endpoint, account, file, attempts, owner)
            for key, state, url, image_id, endpoint, account, file, attempts, owner in db.execute(
                "SELECT key, state, url, image_id, endpoint, account, file, attempts, owner "
                "FROM entries"
            )
        }
        (fingerprint,) = db.execute("SELECT value FROM meta WHERE name = 'fingerprint'").fetchone()
    db.close()
    states = Counter(state for state, *_ in before.values())
    assert states == {"done": 15, "sending": 1, "failed": 1}
    with Journal(path) as journal:
        assert not journal.upgraded  # schema 2's keys are today's: nothing to re-key
        assert journal.fingerprint_key == bytes.fromhex(fingerprint)  # the same accounts
        after = journal.lookup_many(before)
        assert {
            k: (str(e.state), e.url, e.image_id, e.endpoint, e.account, e.file, e.attempts, e.owner)
            for k, e in after.items()
        } == before
        (doubt,) = journal.in_doubt()  # its run ended: in doubt, as before
        assert doubt.state is State.SENDING
        assert doubt.options == {"is_major": "true"}
        assert not journal.run_alive(doubt.owner)
        failed = after["f" * 64]
        assert (failed.category, failed.code, failed.message) == (
            "invalid_input",
            "bad_image",
            "refused",
        )
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(3,)]
        kinds = dict(db.execute("SELECT name, type FROM sqlite_schema"))
    db.close()
    assert kinds["uploads"] == "table"
    assert kinds["entries"] == "view"
    # The same batch sent again to a sandbox at the same address: every row is skipped.
    rehearsal = Sandbox(port=V2_PORT)
    try:
        rehearsal.start()
    except OSError as exc:  # the port is taken on this machine right now
        pytest.skip(f"sandbox port {V2_PORT} unavailable: {exc}")
    try:
        results = imgkit.upload(
            ROOT / "sample_data" / "batch.csv", shops=rehearsal.shops, journal=path, progress=False
        )
        assert results["status"].tolist() == ["skipped"] * 15
        assert rehearsal.stats()["total"]["requests"] == 0  # nothing sent, not a look-up
        assert set(results["url"]) == {url for _, url, *_ in before.values() if url}
    finally:
        rehearsal.stop()
