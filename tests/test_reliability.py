"""Reliability in a user's batch: repeated index labels, a full item, row deadlines, and
the ways gateways lie after the platform stored the image (issue 10).

Every test runs ``imgkit.upload`` against the sandbox over loopback HTTP and counts what the
sandbox stored: each row must end telling the truth, and no image may be stored twice.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pandas as pd
import pytest
from PIL import Image
from test_engine import TARGETS  # platform -> (shop, a target with room for these images)

import imgkit
from imgkit import Sandbox
from imgkit.engine.retry import RetryPolicy
from imgkit.sandbox.faults import AFTER_STORE_LIES

FAST = RetryPolicy(base_delay=0.01, max_delay=0.05, max_total=20.0)
FULL_ITEM = "1489161933"  # a Tmall item of the sandbox that already has 5 images
LOOKED_UP = "a look-up found the image stored"


def images(folder: Path, count: int, seed: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for n in range(count):
        path = folder / f"img_{seed}_{n}.jpg"
        colour = ((n * 37 + seed * 11) % 256, (n * 91 + seed) % 256, (seed * 53) % 256)
        Image.new("RGB", (120, 90), colour).save(path, "JPEG", quality=85)
        out.append(path)
    return out


def batch(platform: str, files: list[Path], target: str | None = None) -> pd.DataFrame:
    shop, default = TARGETS[platform]
    frame = pd.DataFrame(
        {"platform": platform, "shop": shop, "file": [str(f) for f in files]}
    ).assign(target=target or default)
    if platform == "qianmi_sku":
        # Qianmi refuses a position another image of the SKU holds (a missing one is 0).
        frame["position"] = [str(n % 5) for n in range(len(frame))]
    return frame


def run(frame: pd.DataFrame, sandbox: Sandbox, **options: Any) -> pd.DataFrame:
    options.setdefault("progress", False)
    options.setdefault("policy", FAST)
    return imgkit.upload(frame, shops=sandbox.shops, **options)


def served(sandbox: Sandbox, results: pd.DataFrame) -> None:
    """Every uploaded row's URL serves its file's bytes."""
    with sandbox.client() as http:
        for _, row in results[results["status"] == "uploaded"].iterrows():
            assert http.get(row["url"]).content == Path(row["file"]).read_bytes(), row["file"]


# --- a batch built with pd.concat ----------------------------------------------------------


def test_repeated_index_labels_each_get_their_own_result(sandbox: Sandbox, tmp_path: Path) -> None:
    first = batch("taobao_picture", images(tmp_path, 3, seed=1))
    second = batch("tmall_item", images(tmp_path, 2, seed=2))
    second.loc[1, "target"] = "1489161934"  # a deleted item: this one fails
    frame = pd.concat([first, second])  # labels 0, 1, 2, 0, 1
    assert not frame.index.is_unique
    results = run(frame, sandbox, journal=False)
    assert list(results.index) == [0, 1, 2, 0, 1]
    assert results["file"].tolist() == frame["file"].tolist()
    assert results["status"].tolist() == ["uploaded"] * 4 + ["failed"]
    assert results.iloc[4]["category"] == "not_found"
    assert results["url"].iloc[:4].nunique() == 4
    served(sandbox, results)
    assert sandbox.stats()["total"]["stored"] == 4


def test_force_by_label_reaches_every_row_with_that_label(sandbox: Sandbox, tmp_path: Path) -> None:
    # A picture space: it keeps every copy a forced re-upload sends (Qianmi would refuse
    # the second image at a position the SKU already holds).
    frame = pd.concat([batch("taobao_picture", images(tmp_path, 1, seed=s)) for s in (3, 4)])
    first = run(frame, sandbox)
    again = run(frame, sandbox, force=[0])
    assert first["status"].tolist() == ["uploaded", "uploaded"]
    assert again["status"].tolist() == ["uploaded", "uploaded"]  # both forced: label 0
    assert sandbox.stats()["total"]["stored"] == 4


# --- a full item concerns its rows, not the shop ---------------------------------------------


def test_a_full_tmall_item_does_not_stop_the_shop(sandbox: Sandbox, tmp_path: Path) -> None:
    files = images(tmp_path, 6, seed=5)
    frame = pd.concat(
        [batch("tmall_item", files[:2], FULL_ITEM), batch("tmall_item", files[2:])],
        ignore_index=True,
    )
    results = run(frame, sandbox, journal=False, concurrency=1)
    assert results["status"].tolist() == ["failed", "failed"] + ["uploaded"] * 4, results[
        ["status", "message"]
    ]
    assert set(results["category"].iloc[:2]) == {"invalid_input"}
    assert results["message"].iloc[0].count("5") >= 1
    assert sandbox.stats()["total"]["stored"] == 4


# --- deadlines ---------------------------------------------------------------------------------


@pytest.fixture
def slow_sandbox() -> Iterator[Sandbox]:
    """A sandbox of its own, so that answers still being delayed when a test ends never
    land in the shared one."""
    with Sandbox() as server:
        yield server


def wait_until_quiet(sandbox: Sandbox, requests: int, limit_s: float = 20.0) -> None:
    """Wait until the sandbox has finished serving ``requests`` API requests."""
    deadline = time.monotonic() + limit_s
    while sum(len(sandbox.state.request_log(p)) for p in TARGETS) < requests:
        assert time.monotonic() < deadline, "the sandbox never finished the delayed requests"
        time.sleep(0.05)


def test_a_row_past_its_deadline_is_in_doubt_and_settled_by_the_next_run(
    slow_sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox = slow_sandbox
    frame = batch("tmall_item", images(tmp_path, 2, seed=6))
    # Every answer takes 2 s; a row may take 0.6 s: its request has left, no answer came.
    sandbox.state.set_faults({"latency_ms": 2000})
    first = run(frame, sandbox, row_deadline_s=0.6)
    assert first["status"].tolist() == ["in_doubt", "in_doubt"], first[["status", "message"]]
    assert first["code"].eq("row_deadline").all()
    assert first["message"].str.contains("row_deadline_s").all()
    wait_until_quiet(sandbox, 2)  # the platform finishes what it was sent
    sandbox.state.set_faults({})
    stored = sandbox.stats()["total"]["stored"]
    again = run(frame, sandbox)
    assert again["status"].tolist() == ["uploaded", "uploaded"], again[["status", "message"]]
    # Stored by the platform after the client gave up: found, never sent again.
    assert (again["message"].str.contains(LOOKED_UP)).sum() == stored
    assert sandbox.stats()["total"]["stored"] == 2
    assert sandbox.stats()["total"]["duplicates"] == 0


def test_a_row_that_never_left_before_its_deadline_is_failed_and_sent_next_time(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    frame = batch("tmall_item", images(tmp_path, 2, seed=7))
    # One request every 4 s for this shop: the second row waits for its turn past its
    # deadline, and never leaves.
    shops: dict[str, dict[str, Any]] = {n: dict(t) for n, t in sandbox.shops.items()}
    shops["tmall_store"]["rate_per_s"] = 0.25
    first = imgkit.upload(
        frame, shops=shops, progress=False, policy=FAST, row_deadline_s=1.0, concurrency=2
    )
    assert sorted(first["status"]) == ["failed", "uploaded"], first[["status", "message"]]
    late = first[first["status"] == "failed"].iloc[0]
    assert (late["code"], late["category"]) == ("row_deadline", "timeout")
    assert sandbox.stats()["total"]["stored"] == 1
    again = run(frame, sandbox)
    assert sorted(again["status"]) == ["skipped", "uploaded"], again[["status", "message"]]
    assert sandbox.stats()["total"]["stored"] == 2


@pytest.mark.parametrize("platform", sorted(TARGETS))
def test_a_gateway_5xx_is_looked_up_before_anything_is_sent_again(
    sandbox: Sandbox, tmp_path: Path, platform: str
) -> None:
    """The sandbox's ``http_500`` fails before the platform stores anything: the look-up
    proves the image absent, and only then is it sent again."""
    sandbox.state.set_faults({"seed": 3, "http_500": 0.5, "platforms": [platform]})
    # A 1 s timeout: each "not there" is believed 3 s after its send (absent_after_s).
    # One row at a time: the seed then decides every request's fate, whatever the timing.
    patient = RetryPolicy(max_attempts=10, base_delay=0.01, max_delay=0.05, max_total=120.0)
    frame = batch(platform, images(tmp_path, 2, seed=8))
    results = run(frame, sandbox, timeout=1.0, policy=patient, concurrency=1)
    assert set(results["status"]) == {"uploaded"}, results[["status", "message"]]
    stats = sandbox.stats()
    assert stats[platform]["faults"].get("http_500", 0) > 0
    assert (stats["total"]["stored"], stats["total"]["duplicates"]) == (2, 0)
    served(sandbox, results)


# --- gateways that lie after the platform stored the image -----------------------------------


@pytest.fixture
def quick_lookups(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sandbox stores before it answers: no need to wait before looking up."""
    monkeypatch.setattr("imgkit.engine.runner.LOOKUP_SETTLE_S", 0.0)


@pytest.mark.parametrize("lie", AFTER_STORE_LIES)
@pytest.mark.parametrize("platform", sorted(TARGETS))
def test_an_answer_lost_after_the_store_is_settled_without_a_second_copy(
    sandbox: Sandbox, tmp_path: Path, platform: str, lie: str, quick_lookups: None
) -> None:
    sandbox.state.set_faults({lie: 1.0})
    frame = batch(platform, images(tmp_path, 2, seed=9))
    results = run(frame, sandbox)
    assert results["status"].tolist() == ["uploaded", "uploaded"], results[["status", "message"]]
    assert results["message"].str.contains(LOOKED_UP).all()
    stats = sandbox.stats()
    assert stats[platform]["faults"].get(lie) == 2
    assert (stats["total"]["stored"], stats["total"]["duplicates"]) == (2, 0)
    served(sandbox, results)
    # Run again, as a user would after such a day: nothing is sent, nothing doubles.
    again = run(frame, sandbox)
    assert again["status"].tolist() == ["skipped", "skipped"]
    assert sandbox.stats()["total"]["stored"] == 2


@pytest.mark.parametrize("lie", ["gateway_504_after_store", "html_after_store"])
def test_a_lie_about_a_row_without_a_look_up_leaves_it_in_doubt(
    sandbox: Sandbox, tmp_path: Path, lie: str
) -> None:
    """A Tmall 3:4 image is not listed by the item look-up: it may have been stored, so it
    is reported in doubt and never sent blindly again."""
    path = tmp_path / "tall.jpg"
    Image.new("RGB", (300, 400), (10, 200, 30)).save(path, quality=90)
    frame = batch("tmall_item", [path]).assign(is_rectangle="true")
    sandbox.state.set_faults({lie: 1.0})
    first = run(frame, sandbox)
    assert first["status"].tolist() == ["in_doubt"], first[["status", "message"]]
    sandbox.state.set_faults({})
    again = run(frame, sandbox)
    assert again["status"].tolist() == ["in_doubt"]
    assert sandbox.stats()["total"]["stored"] == 1


def test_a_row_past_its_deadline_under_audit_stays_pending(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """Stored and under Douyin's audit when its deadline passes: pending, not failed."""
    sandbox.state.set_faults({"audit_delay_s": 30})
    first = run(batch("doudian", images(tmp_path, 1, seed=10)), sandbox, row_deadline_s=1.5)
    assert first.loc[0, "status"] == "pending_audit", first[["status", "message"]]
    assert first.loc[0, "image_id"]
    assert sandbox.stats()["total"]["stored"] == 1
    again = run(batch("doudian", images(tmp_path, 1, seed=10)), sandbox, audit_wait_s=0.2)
    assert again.loc[0, "status"] == "pending_audit"  # polled, never uploaded again
    assert sandbox.stats()["total"]["stored"] == 1


def test_a_row_in_doubt_from_an_earlier_run_past_its_deadline_stays_in_doubt(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """Its deadline passing while the next run looks it up does not make it "never
    sent": it was, by the earlier run."""
    frame = batch("qianmi_sku", images(tmp_path, 1, seed=11))
    sandbox.state.set_faults({"silent": 1.0, "silent_s": 30})  # stored, never answered
    first = run(frame, sandbox, timeout=2, row_deadline_s=1)
    assert first.loc[0, "status"] == "in_doubt", first[["status", "message"]]
    # The look-up of the next run takes 2 s to be answered; the row may take 1 s.
    sandbox.state.set_faults({"latency_ms": 2000})
    second = run(frame, sandbox, timeout=5, row_deadline_s=1)
    assert (second.loc[0, "status"], second.loc[0, "code"]) == ("in_doubt", "row_deadline")
    wait_until_quiet(sandbox, 2)
    sandbox.state.set_faults({})
    third = run(frame, sandbox, timeout=2)
    assert third.loc[0, "status"] == "uploaded", third[["status", "message"]]
    assert cast(str, third.loc[0, "message"]).endswith(LOOKED_UP)
    assert sandbox.stats()["total"]["stored"] == 1


@pytest.mark.parametrize("platform", ["qianmi_sku", "taobao_picture"])
def test_a_platform_that_stores_after_the_client_gave_up_gets_one_copy(
    slow_sandbox: Sandbox, tmp_path: Path, platform: str
) -> None:
    """The first upload is served 2.5 s late (the handler stores then, the client gone
    after its 1 s timeout); the look-up 1 s after that sees nothing yet.  A "not there"
    is believed only 3 s (at least) after the request left: the second look-up finds the
    copy, and nothing is sent again."""
    sandbox = slow_sandbox
    sandbox.state.set_faults({"force": [{"platform": platform, "delay_s": 2.5}]})
    results = run(batch(platform, images(tmp_path, 1, seed=12)), sandbox, timeout=1.0)
    wait_until_quiet(sandbox, 1)
    stats = sandbox.stats()["total"]
    assert (stats["stored"], stats["duplicates"]) == (1, 0), (stats, results["message"].tolist())
    assert results.loc[0, "status"] == "uploaded", results[["status", "message"]]
    assert cast(str, results.loc[0, "message"]).endswith(LOOKED_UP)
    assert results.loc[0, "attempts"] == 1
