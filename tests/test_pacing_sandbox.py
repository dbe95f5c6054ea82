"""Pacing against the sandbox over HTTP: a limit nobody configured is found, and no row fails.

The sandbox enforces a per-app limit on Douyin (a sliding one-second window, as the
platform counts); the shop has no ``rate_per_s`` and Douyin documents no rate, so imgkit
starts as fast as its concurrency cap allows.  The pacer must learn the limit from the
"rate limited" answers instead of hammering on: refusals stay a handful (the old pacer,
whose backoff stopped at a tenth of its starting rate, was refused most of the time), and
every refused row is sent again until it is stored.  The share of the limit reached is a
timing figure: ``bench/pacing.py`` measures it, not this test.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from PIL import Image

import imgkit
from imgkit import Sandbox
from imgkit.engine.retry import RetryPolicy

LIMIT = 20
ROWS = 60


def _files(folder: Path, count: int) -> list[str]:
    paths = []
    for n in range(count):
        path = folder / f"img_{n}.jpg"
        Image.new("RGB", (64, 48), (n * 7 % 256, n * 13 % 256, 90)).save(path, "JPEG")
        paths.append(str(path))
    return paths


def _refused(sandbox: Sandbox) -> int:
    return sum("frequency-limited" in r.outcome for r in sandbox.state.request_log("doudian"))


def test_an_unconfigured_limit_is_learnt_and_no_row_fails(sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.state.set_limits({"doudian_app_qps": LIMIT})
    shops = {"douyin_shop": {k: v for k, v in sandbox.shops["douyin_shop"].items()}}
    assert "rate_per_s" not in shops["douyin_shop"]
    frame = pd.DataFrame(
        {"platform": "doudian", "shop": "douyin_shop", "file": _files(tmp_path, ROWS)}
    ).assign(target="0")
    results = imgkit.upload(frame, shops=shops, journal=False, progress=False, concurrency=8)
    assert set(results["status"]) == {"uploaded"}, results[["status", "message"]]
    served = sorted(r.at for r in sandbox.state.request_log("doudian") if r.outcome == "ok")
    assert len(served) == ROWS
    refused = _refused(sandbox)
    # Some refusals are how the limit is found (the start-up burst meets a full window) ...
    assert refused >= 1
    # ... but only a handful: about one per climb of two seconds, after the start-up's.
    assert refused <= 8 + ROWS // LIMIT * 2
    assert results["attempts"].max() <= 1 + RetryPolicy().max_refusals
    assert sandbox.stats()["doudian"]["duplicates"] == 0


def test_a_row_refused_max_refusals_times_fails_as_rate_limited(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox.state.set_faults(
        {"force": [{"platform": "doudian", "error": "rate_limited", "times": 3}]}
    )
    frame = pd.DataFrame(
        {"platform": ["doudian"], "shop": "douyin_shop", "file": _files(tmp_path, 1)}
    ).assign(target="0")
    policy = RetryPolicy(max_refusals=2, max_total=5.0)
    results = imgkit.upload(
        frame, shops=sandbox.shops, journal=False, progress=False, policy=policy
    )
    assert (results.loc[0, "status"], results.loc[0, "category"]) == ("failed", "rate_limited")
    assert results.loc[0, "attempts"] == 2
