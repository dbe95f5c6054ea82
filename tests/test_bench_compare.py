"""The hand-written baseline of ``bench/compare.py`` works, and the comparison runs.

The baseline (``bench/handwritten.py``, its wire in ``bench/handwritten_signing.py``) is
written from the protocol pages, not from imgkit's adapters, so nothing else checks that it
speaks the five platforms: here it uploads two rows to each of them over real loopback HTTP
(the vv-tool token flow and a Douyin audit included), and the sandbox's own store says what
landed.  Then ``compare.main`` runs its scenarios on a few rows each and its JSON carries
every scenario.  No figure is judged: timings are the script's business.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

import imgkit

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT / "bench"))  # after site-packages: a bench script never shadows a package

import compare  # noqa: E402  (bench/ is not a package: found through sys.path above)
import compare_batches  # noqa: E402
import handwritten  # noqa: E402
import handwritten_signing  # noqa: E402
import soak_lib  # noqa: E402

# Two rows per platform: (platform, shop, target, options).
ROWS: list[tuple[str, str, str, dict[str, str]]] = [
    ("taobao_picture", "tb_picture_main", "0", {}),  # a fixed bearer token
    ("taobao_picture", "tb_picture_oauth", "0", {}),  # a token from the token endpoint
    ("taobao_miniapp", "miniapp_main", "3000000012345", {}),
    ("taobao_miniapp", "miniapp_main", "3000000012346", {"title": "杯子"}),
    ("tmall_item", "tmall_store", "1489161940", {"is_major": "true"}),
    ("tmall_item", "tmall_outlet", "1489162001", {}),
    ("doudian", "douyin_shop", "0", {}),
    ("doudian", "douyin_shop", "73691281073984637961425", {"need_distinct": "true"}),
    ("qianmi_sku", "qianmi_shop", "18353/g1234", {"position": "0"}),
    ("qianmi_sku", "qianmi_shop", "18353/g1234", {"position": "1"}),
]


def test_the_signers_reproduce_the_documented_vectors() -> None:
    params = {"foo": "1", "bar": "2", "foo_bar": "3", "foobar": "4"}
    sign = handwritten_signing.top_sign
    assert sign(params, "helloworld", "md5") == "5AAF1C690262A24768F5478B084C2C8A"
    assert sign(params, "helloworld", "hmac") == "E687005F819D6F9E6ED085311C8ACC75"
    assert sign(params, "helloworld", "hmac-sha256").startswith("339676BF36C50A8B")
    qianmi = {
        "access_token": "tok",
        "appKey": "10001234",
        "fields": "id,url,position,created",
        "format": "json",
        "method": "qianmi.cloudshop.sku.image.upload",
        "num_iid": "g1",
        "position": "0",
        "sku_id": "s1",
        "timestamp": "2024-01-01 12:00:00",
        "v": "1.1",
        "image": "jpg@AAAA",
    }
    expected = "6EDA89AC820C4B8F0D3671DAA06E26F73031A04B"
    assert handwritten_signing.qianmi_sign(qianmi, "testsecret") == expected


def test_the_baseline_uploads_to_all_five_platforms(tmp_path: Path) -> None:
    rows: list[dict[str, Any]] = []
    for n, (platform, shop, target, options) in enumerate(ROWS):
        path = tmp_path / f"row_{n}.png"
        soak_lib.write_image(path, n, seed=3)
        rows.append({"platform": platform, "shop": shop, "file": str(path), "target": target})
        rows[-1].update(options)
    with imgkit.Sandbox() as sb, httpx.Client(base_url=sb.base_url, trust_env=False) as http:
        # Douyin materials stay under audit for a moment: the baseline has to poll.
        http.post("/_sandbox/faults", json={"audit_delay_s": 0.4}).raise_for_status()
        results = handwritten.upload(rows, sb.shops, workers=4)
        assert [r.status for r in results] == ["uploaded"] * len(rows), results
        with sb.state.lock:
            stored = sb.state.store.images()
        log = http.get("/_sandbox/requests").json()["requests"]
    by_sha = {image.facts.sha256: image for image in stored}
    assert len(stored) == len(rows)
    for row, result in zip(rows, results, strict=True):
        image = by_sha[hashlib.sha256(Path(row["file"]).read_bytes()).hexdigest()]
        assert (image.platform, str(image.target)) == (row["platform"], row["target"])
        assert image.key in result.url
    # The audit was waited for (detail queries), and the token was fetched once.
    assert sum(r["platform"] == "doudian" for r in log) > 2
    assert sum(r["credential"] == "sbx-vv-client" for r in log) == 1


@pytest.mark.timeout(240)
def test_compare_quick_produces_every_scenario(tmp_path: Path) -> None:
    out = tmp_path / "compare.json"
    args = ["--quick", "--rows", "12", "--json", str(out)]
    result = compare.main(args)
    assert set(result["scenarios"]) == set(compare_batches.SCENARIOS)
    written = json.loads(out.read_text())
    assert set(written["scenarios"]) == set(compare_batches.SCENARIOS)
    for name, figures in written["scenarios"].items():
        for client in compare_batches.CLIENTS:
            assert figures[client]["cpu_ms_per_upload"]["median"] > 0, name
            assert figures[client]["not_uploaded"]["median"] == 0, (name, figures[client])
        assert "cpu_ms_per_upload" in figures["ratio"]
    assert "imgkit_nojournal" in written["scenarios"]["mix"]
    assert "duplicates" in written["scenarios"]["faults"]["imgkit"]
    assert "ceiling_share_pct" in written["scenarios"]["unconfigured"]["baseline"]
