"""The main job's edges: Ctrl-C, refresh of pending audits, retry_failed."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

import imgkit
from imgkit import Sandbox
from imgkit.engine.retry import RetryPolicy
from imgkit.intake.shops_files import write_shops

ONCE = RetryPolicy(max_attempts=1)


def images(folder: Path, count: int) -> list[Path]:
    out = []
    for n in range(count):
        path = folder / f"p{n}.jpg"
        Image.new("RGB", (64, 48), (n * 9 % 256, 40, 200)).save(path, "JPEG")
        out.append(path)
    return out


def doudian(files: list[Path]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"platform": "doudian", "shop": "douyin_shop", "file": str(f), "target": "0"}
            for f in files
        ]
    )


CHILD = """
import json, sys
import imgkit
out = imgkit.upload(sys.argv[1], shops=sys.argv[2], concurrency=2, progress=False)
print(json.dumps(out["status"].value_counts().to_dict()), flush=True)
"""


def test_ctrl_c_returns_partial_results_and_loses_nothing(sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.state.set_faults({"latency_ms": [150, 150]})
    batch = tmp_path / "batch.csv"
    doudian(images(tmp_path, 30)).to_csv(batch, index=False)
    shops = write_shops(tmp_path / "s.toml", sandbox.shops)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(batch), str(shops)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while sandbox.stats()["total"]["stored"] < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=30)
    assert child.returncode == 0, err
    counts = json.loads(out.strip().splitlines()[-1])
    assert counts.get("cancelled", 0) > 0, counts
    assert counts.get("uploaded", 0) >= 3, counts
    assert sum(counts.values()) == 30
    stored = sandbox.stats()["total"]["stored"]
    assert stored >= counts["uploaded"]
    # Nothing confirmed is lost: a re-run skips the uploaded rows and sends only the rest.
    sandbox.state.set_faults({})
    again = imgkit.upload(batch, shops=sandbox.shops, progress=False)
    assert (again["status"] == "skipped").sum() >= counts["uploaded"]
    assert sandbox.stats()["total"]["duplicates"] == 0


def test_refresh_polls_pending_audits_again(sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.state.set_faults({"audit_delay_s": 1.0})
    first = imgkit.upload(
        doudian(images(tmp_path, 2)),
        shops=sandbox.shops,
        journal=False,
        progress=False,
        audit_wait_s=0.1,
    )
    assert set(first["status"]) == {"pending_audit"}
    time.sleep(1.1)
    later = imgkit.refresh(first, shops=sandbox.shops)
    assert set(later["status"]) == {"uploaded"}
    assert later["url"].str.startswith(sandbox.base_url).all()
    assert list(later.index) == list(first.index)


def test_refresh_never_sends_a_pending_row_whose_id_was_lost(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """A ``pending_audit`` row whose ``image_id`` was blanked (by hand, in Excel) cannot be
    polled; refresh leaves it as it is rather than upload the image a second time."""
    sandbox.state.set_faults({"audit_delay_s": 1.0})
    first = imgkit.upload(
        doudian(images(tmp_path, 2)),
        shops=sandbox.shops,
        journal=False,
        progress=False,
        audit_wait_s=0.1,
    )
    assert set(first["status"]) == {"pending_audit"}
    stored = sandbox.stats()["total"]["stored"]
    edited = first.copy()
    edited.loc[edited.index[0], "image_id"] = ""
    time.sleep(1.1)
    later = imgkit.refresh(edited, shops=sandbox.shops, journal=False)
    assert later["status"].tolist() == ["pending_audit", "uploaded"]
    assert sandbox.stats()["total"]["stored"] == stored  # nothing was uploaded again


def test_retry_failed_sends_only_what_can_succeed_now(sandbox: Sandbox, tmp_path: Path) -> None:
    files = images(tmp_path, 3)
    frame = doudian(files)
    frame.loc[2, "file"] = str(tmp_path / "later.jpg")  # not there yet: invalid
    sandbox.state.set_faults({"force": [{"platform": "doudian", "error": "service_busy"}]})
    first = imgkit.upload(
        frame, shops=sandbox.shops, journal=False, progress=False, policy=ONCE, concurrency=1
    )
    assert sorted(first["status"]) == ["failed", "invalid", "uploaded"]
    Image.new("RGB", (30, 30), (1, 2, 3)).save(tmp_path / "later.jpg", "JPEG")
    requests = sandbox.stats()["doudian"]["requests"]
    second = imgkit.retry_failed(first, shops=sandbox.shops, journal=False, progress=False)
    assert set(second["status"]) == {"uploaded"}
    assert sandbox.stats()["doudian"]["requests"] == requests + 2  # the uploaded row is kept
    assert list(second.index) == list(first.index)


def test_progress_shows_each_platform_with_live_counts(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The bars go to stderr: one for the batch, one per platform, with final counts."""
    files = images(tmp_path, 3)
    frame = pd.concat(
        [
            doudian(files[:2]),
            pd.DataFrame(
                [
                    {
                        "platform": "qianmi_sku",
                        "shop": "qianmi_shop",
                        "file": str(files[2]),
                        "target": "18353/g1234",
                    }
                ]
            ),
        ],
        ignore_index=True,
    )
    results = imgkit.upload(frame, shops=sandbox.shops, journal=False)
    assert set(results["status"]) == {"uploaded"}
    err = capsys.readouterr().err
    final = {
        line.split(":")[0].strip(): line
        for line in err.replace("\r", "\n").splitlines()
        if "img" in line
    }
    assert "uploaded=2, failed=0" in final["doudian"], err
    assert "uploaded=1" in final["qianmi_sku"], err
    assert "3/3" in final["imgkit"], err
    assert "uploaded=3" in final["imgkit"], err


def test_progress_false_prints_nothing(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    imgkit.upload(doudian(images(tmp_path, 1)), shops=sandbox.shops, journal=False, progress=False)
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", "")
