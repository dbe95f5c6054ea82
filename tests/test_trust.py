"""A user's life with one batch: rehearse, switch servers, save copies, fix rows in Excel,
send again, run twice at once, press Ctrl-C — every image stored exactly once, every row
telling the truth.  All over real loopback HTTP, counted by the sandbox itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import cast

import openpyxl
import pandas as pd
import pytest
from PIL import Image

import imgkit
from imgkit import Sandbox
from imgkit.intake.shops_files import write_shops
from imgkit.report.results import RESULT_COLUMNS

ROOT = Path(__file__).resolve().parent.parent
ITEM = "1489161940"  # a Tmall item of the sandbox with room for images
DELETED_ITEM = "1489161934"  # a Tmall item the sandbox says was deleted: not_found


def images(folder: Path, count: int, seed: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for n in range(count):
        path = folder / f"img_{seed}_{n:02d}.jpg"
        colour = ((n + seed) * 37 % 256, 255 - (n * 11 + seed) % 256, (n * 73 + seed) % 256)
        Image.new("RGB", (64, 48), colour).save(path, "JPEG", quality=90)
        files.append(path)
    return files


def copies(sandbox: Sandbox) -> Counter[str]:
    """sha256 -> how many images with those bytes the sandbox holds."""
    return Counter(image.facts.sha256 for image in sandbox.state.store.images())


def sha(path: Path | str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def two_rows(folder: Path) -> pd.DataFrame:
    files = images(folder, 2)
    return pd.DataFrame(
        {
            "平台": ["天猫商品图", "淘宝图片空间"],
            "店铺": ["tmall_store", "tb_picture_main"],
            "图片路径": [str(f) for f in files],
            "目标": [ITEM, "0"],
        }
    )


def upload(batch: object, shops: object, **options: object) -> pd.DataFrame:
    return imgkit.upload(batch, shops=shops, progress=False, **options)  # type: ignore[arg-type]


# --- the destination decides, not the file ---------------------------------------------------


def test_a_rehearsal_on_one_server_is_not_taken_for_the_other(tmp_path: Path) -> None:
    batch = tmp_path / "上新.csv"
    two_rows(tmp_path / "images").to_csv(batch, index=False)
    with Sandbox() as rehearsal, Sandbox() as other:
        first = upload(batch, rehearsal.shops)
        second = upload(batch, other.shops)  # the same shop names, another base_url
        third = upload(batch, other.shops)
        assert set(first["status"]) == set(second["status"]) == {"uploaded"}
        assert second["url"].str.startswith(other.base_url).all(), second["url"]
        assert set(third["status"]) == {"skipped"}
        assert third["url"].tolist() == second["url"].tolist()
        for server in (rehearsal, other):
            assert server.stats()["total"]["stored"] == 2
            assert server.stats()["total"]["duplicates"] == 0


def test_every_copy_of_a_batch_stores_each_image_once(sandbox: Sandbox, tmp_path: Path) -> None:
    frame = two_rows(tmp_path / "images")
    xlsx = tmp_path / "上新.xlsx"
    frame.to_excel(xlsx, index=False)
    elsewhere = tmp_path / "另一个文件夹"
    elsewhere.mkdir()
    renamed = shutil.copy(xlsx, elsewhere / "上新 (2).xlsx")
    as_csv = tmp_path / "上新.csv"
    frame.to_csv(as_csv, index=False, encoding="utf-8-sig")

    first = upload(xlsx, sandbox.shops)
    assert set(first["status"]) == {"uploaded"}, first[["status", "message"]]
    workbook = tmp_path / "results.xlsx"
    first.to_excel(workbook)  # pandas' own writer, index and all

    for copy in (renamed, as_csv, frame, imgkit.read_results(workbook)):
        again = upload(copy, sandbox.shops)
        assert set(again["status"]) == {"skipped"}, (copy, again[["status", "message"]])
        assert again["url"].tolist() == first["url"].tolist()
    assert imgkit.retry_failed(workbook, shops=sandbox.shops)["status"].tolist() == [
        "uploaded",
        "uploaded",
    ]
    held = copies(sandbox)
    assert [held[sha(f)] for f in frame["图片路径"]] == [1, 1]
    assert sandbox.stats()["total"]["requests"] == 2


# --- fixing rows in the results workbook ------------------------------------------------------


def test_rows_in_doubt_read_back_from_excel_are_not_sent_blindly(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """A Tmall 3:4 image has no look-up (the item listing omits it): an unanswered row
    stays in doubt, read back from Excel or not."""
    folder = tmp_path / "images"
    folder.mkdir()
    files = []
    for n in range(2):
        path = folder / f"tall{n}.jpg"
        Image.new("RGB", (600, 800), (n * 90, 40, 200)).save(path, quality=90)
        files.append(path)
    frame = pd.DataFrame(
        {"platform": "tmall_item", "shop": "tmall_store", "file": [str(f) for f in files]}
    ).assign(target=[ITEM, "1489161942"], is_rectangle="true")  # an item has one 3:4 image
    sandbox.state.set_faults({"drop_after_store": 1.0})
    first = upload(frame, sandbox.shops)
    assert set(first["status"]) == {"in_doubt"}, first[["status", "message"]]
    sandbox.state.set_faults({})
    stored = sandbox.stats()["total"]["stored"]
    assert stored == 2
    workbook = tmp_path / "results.xlsx"
    first.to_excel(workbook, index=False)

    again = imgkit.retry_failed(imgkit.read_results(workbook), shops=sandbox.shops, progress=False)
    assert set(again["status"]) == {"in_doubt"}, again[["status", "message"]]
    assert again["message"].str.contains("force=True").all(), again["message"].tolist()
    assert sandbox.stats()["total"]["stored"] == stored  # nothing sent again
    assert sandbox.stats()["total"]["duplicates"] == 0


def test_a_row_fixed_by_hand_is_sent_once(sandbox: Sandbox, tmp_path: Path) -> None:
    files = images(tmp_path / "images", 2)
    frame = pd.DataFrame(
        {
            "platform": "tmall_item",
            "shop": "tmall_store",
            "file": [str(f) for f in files],
            "target": [ITEM, DELETED_ITEM],  # a typo: that item was deleted
        }
    )
    first = upload(frame, sandbox.shops)
    assert first["status"].tolist() == ["uploaded", "failed"]
    assert first.loc[1, "category"] == "not_found"
    workbook = tmp_path / "results.xlsx"
    first.to_excel(workbook, index=False)

    # Sent again unchanged: the platform refused it for good, so it is not, and says why.
    requests = sandbox.stats()["total"]["requests"]
    unchanged = imgkit.retry_failed(workbook, shops=sandbox.shops, progress=False)
    assert unchanged["status"].tolist() == ["uploaded", "failed"]
    assert "force=True" in cast(str, unchanged.loc[1, "message"])
    assert sandbox.stats()["total"]["requests"] == requests

    # Fixed by hand in the workbook: new work, sent once.
    book = openpyxl.load_workbook(workbook)
    sheet = book.active
    assert sheet is not None
    header = [cell.value for cell in sheet[1]]
    sheet.cell(row=3, column=header.index("target") + 1, value=ITEM)
    book.save(workbook)
    fixed = imgkit.retry_failed(workbook, shops=sandbox.shops, progress=False)
    assert fixed["status"].tolist() == ["uploaded", "uploaded"], fixed[["status", "message"]]
    assert copies(sandbox)[sha(files[1])] == 1
    assert imgkit.retry_failed(fixed, shops=sandbox.shops, progress=False).equals(fixed)
    assert copies(sandbox)[sha(files[1])] == 1


def test_force_sends_a_refused_row_again_on_purpose(sandbox: Sandbox, tmp_path: Path) -> None:
    files = images(tmp_path / "images", 1)
    frame = pd.DataFrame(
        {"platform": ["tmall_item"], "shop": "tmall_store", "file": str(files[0])}
    ).assign(target=DELETED_ITEM)
    first = upload(frame, sandbox.shops)
    requests = sandbox.stats()["total"]["requests"]
    forced = imgkit.retry_failed(first, shops=sandbox.shops, force=True, progress=False)
    assert sandbox.stats()["total"]["requests"] == requests + 1
    assert forced.loc[0, "status"] == "failed"  # the item is still deleted
    assert forced.loc[0, "attempts"] == 1


# --- bad input is a row, never a crash --------------------------------------------------------


def test_an_empty_batch_gives_an_empty_results_frame(sandbox: Sandbox, tmp_path: Path) -> None:
    batch = tmp_path / "empty.csv"
    batch.write_text("platform,shop,file,target\n", encoding="utf-8")
    for source in (batch, pd.DataFrame(columns=["platform", "shop", "file", "target"])):
        results = upload(source, sandbox.shops)
        assert results.empty
        assert set(RESULT_COLUMNS) <= set(results.columns)
        assert "no rows" in results.attrs["imgkit_note"]
        assert "没有数据行" in results.attrs["imgkit_note"]
    assert sandbox.stats()["total"]["requests"] == 0


def test_a_shop_value_that_cannot_sign_is_a_validation_issue(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    shops = {name: dict(fields) for name, fields in sandbox.shops.items()}
    shops["tmall_store"]["sign_method"] = "sha1"
    files = images(tmp_path / "images", 2)
    frame = pd.DataFrame(
        {
            "platform": ["tmall_item", "taobao_picture"],
            "shop": ["tmall_store", "tb_picture_main"],
            "file": [str(f) for f in files],
            "target": [ITEM, "0"],
        }
    )
    results = upload(frame, shops)
    assert results["status"].tolist() == ["invalid", "uploaded"]
    assert "bad_shop" in cast(str, results.loc[0, "code"])
    assert "sign_method" in cast(str, results.loc[0, "message"])
    assert "md5" in cast(str, results.loc[0, "message"])  # the values it may take
    assert sandbox.stats()["tmall_item"]["requests"] == 0


def test_a_request_the_adapter_cannot_build_stops_that_shop_only(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from imgkit.platforms import get_adapter

    adapter = get_adapter("tmall_item")

    def broken(*args: object, **kwargs: object) -> object:
        raise ValueError("the shop's key cannot sign this")

    monkeypatch.setattr(type(adapter), "build_request", broken)
    files = images(tmp_path / "images", 3)
    frame = pd.DataFrame(
        {
            "platform": ["tmall_item", "tmall_item", "taobao_picture"],
            "shop": ["tmall_store", "tmall_store", "tb_picture_main"],
            "file": [str(f) for f in files],
            "target": [ITEM, ITEM, "0"],
        }
    )
    results = upload(frame, sandbox.shops, concurrency=1)
    assert results["status"].tolist() == ["failed", "failed", "uploaded"]
    assert set(results.loc[:1, "code"]) == {"bad_shop"}
    assert not results["message"].str.contains("internal error").any()
    assert cast(str, results.loc[0, "message"]).count("cannot sign") == 1


# --- two runs at once, and Ctrl-C -------------------------------------------------------------

CHILD = """
import json, sys, imgkit
out = imgkit.upload(sys.argv[1], shops=sys.argv[2], progress=False, concurrency=4,
                    grace_s=float(sys.argv[3]))
print(json.dumps(out[["status", "sha256", "message"]].to_dict("list")), flush=True)
"""


def child(batch: Path, shops: Path, grace_s: float = 5.0) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(batch), str(shops), str(grace_s)],
        cwd=batch.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def finished(process: subprocess.Popen[bytes]) -> dict[str, list[str]]:
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err.decode()
    result: dict[str, list[str]] = json.loads(out.decode().strip().splitlines()[-1])
    return result


def mixed_batch(tmp_path: Path, count: int) -> Path:
    files = images(tmp_path / "images", count)
    platforms = [("taobao_picture", "tb_picture_main", "0"), ("tmall_item", "tmall_store", ITEM)]
    rows = []
    for n, file in enumerate(files):
        platform, shop, target = platforms[n % 2]
        if platform == "tmall_item":
            target = ["1489161940", "1489161941"][n // 2 % 2]
        rows.append({"platform": platform, "shop": shop, "file": str(file), "target": target})
    batch = tmp_path / "batch.csv"
    pd.DataFrame(rows).to_csv(batch, index=False)
    return batch


def test_two_runs_of_one_batch_at_once_store_each_image_once(tmp_path: Path) -> None:
    with Sandbox() as sandbox:
        sandbox.state.set_faults({"seed": 3, "latency_ms": [80, 160]})
        batch = mixed_batch(tmp_path, 8)
        shops = write_shops(tmp_path / "shops.toml", sandbox.shops)
        first, second = child(batch, shops), child(batch, shops)
        a, b = finished(first), finished(second)
        assert sandbox.stats()["total"]["duplicates"] == 0, sandbox.stats()["total"]
        assert sandbox.stats()["total"]["stored"] == 8
        held = copies(sandbox)
        assert all(held[s] == 1 for s in a["sha256"])
        for result in (a, b):
            assert set(result["status"]) <= {"uploaded", "skipped"}, result
            assert not any("interrupted" in m for m in result["message"]), result["message"]
        # Each row was uploaded by exactly one of the two runs.
        for one, other in zip(a["status"], b["status"], strict=True):
            assert {one, other} in ({"uploaded", "skipped"},), (a, b)


def interrupt_when_stored(sandbox: Sandbox, process: subprocess.Popen[bytes], count: int) -> None:
    deadline = time.monotonic() + 30
    while sandbox.stats()["total"]["stored"] < count:
        assert process.poll() is None, process.communicate()[1].decode()
        assert time.monotonic() < deadline, "the child stored too little in 30 s"
        time.sleep(0.005)
    process.send_signal(signal.SIGINT)


@pytest.mark.skipif(not hasattr(signal, "SIGINT"), reason="needs SIGINT")
@pytest.mark.parametrize("grace_s", [5.0, 0.05])
def test_ctrl_c_mid_batch_each_row_tells_the_truth(tmp_path: Path, grace_s: float) -> None:
    """With a grace longer than an answer takes, the requests on the wire are answered
    (uploaded); with almost none, they are in doubt — and a re-run settles them by a look-up.
    Rows never sent are cancelled and the sandbox holds none of them."""
    with Sandbox() as sandbox:
        sandbox.state.set_faults({"seed": 5, "latency_ms": [700, 900]})
        batch = mixed_batch(tmp_path, 16)
        shops = write_shops(tmp_path / "shops.toml", sandbox.shops)
        process = child(batch, shops, grace_s)
        interrupt_when_stored(sandbox, process, 2)
        result = finished(process)
        time.sleep(1.2)  # the answers the child stopped waiting for are stored by now
        held = copies(sandbox)
        status = Counter(result["status"])
        assert set(status) <= {"uploaded", "in_doubt", "cancelled"}, result
        assert status["cancelled"] > 0, status
        for state, digest in zip(result["status"], result["sha256"], strict=True):
            if state == "uploaded":
                assert held[digest] == 1
            elif state == "cancelled":
                assert held[digest] == 0, "a row reported cancelled was stored"
        if grace_s > 1:
            assert status["in_doubt"] == 0, result
        else:
            assert status["in_doubt"] > 0, result
            doubt = [
                m
                for s, m in zip(result["status"], result["message"], strict=True)
                if s == "in_doubt"
            ]
            assert all("may have been stored" in m for m in doubt), doubt
        rerun = upload(batch, shops)
        assert set(rerun["status"]) <= {"uploaded", "skipped"}, rerun[["status", "message"]]
        held = copies(sandbox)
        assert [held[d] for d in rerun["sha256"]] == [1] * 16
        assert sandbox.stats()["total"]["duplicates"] == 0


def test_a_forced_resend_that_fails_keeps_the_first_copy_known(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    files = images(tmp_path / "images", 1)
    frame = pd.DataFrame(
        {"platform": ["tmall_item"], "shop": "tmall_store", "file": str(files[0])}
    ).assign(target=ITEM)
    first = upload(frame, sandbox.shops)
    assert first.loc[0, "status"] == "uploaded"
    sandbox.state.set_faults({"force": [{"platform": "tmall_item", "error": "item_deleted"}]})
    forced = upload(frame, sandbox.shops, force=True)
    assert forced.loc[0, "status"] == "failed"
    sandbox.state.set_faults({})
    later = upload(frame, sandbox.shops)  # a plain run: the first copy is still there
    assert later.loc[0, "status"] == "skipped"
    assert cast(str, later.loc[0, "url"]) == first.loc[0, "url"]
    assert copies(sandbox)[sha(files[0])] == 1
