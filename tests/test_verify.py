"""``imgkit.verify``: download each stored row's URL over real HTTP, judge what it serves."""

from __future__ import annotations

import asyncio
import io
import shutil
import socket
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
import pytest
from PIL import Image

import imgkit
from imgkit.report.verify import verify, verify_async, verify_counts
from imgkit.sandbox import Sandbox
from imgkit.shells.cli import main

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "sample_data" / "images"
FAST: dict[str, Any] = {
    "rate_per_host": 200.0,
    "timeout": 10.0,
}  # the sandbox is local: no need to wait


def _batch(folder: Path = IMAGES) -> pd.DataFrame:
    """Four rows over three platforms, with an index of its own, plus an invalid and a
    failed row (a mini-app the sandbox app does not own)."""
    rows = [
        ("tmall_item", "tmall_store", "mug.jpg", "1489161940"),
        ("taobao_miniapp", "miniapp_main", "cap.png", "3000000012345"),
        ("qianmi_sku", "qianmi_shop", "backpack.jpg", "18353/g1234"),
        ("taobao_picture", "tb_picture_main", "watch.jpg", "0"),
        ("tmall_item", "no_such_shop", "bottle.png", "1489161940"),
        ("taobao_miniapp", "miniapp_main", "watch.jpg", "3000000099999"),
    ]
    frame = pd.DataFrame(rows, columns=["platform", "shop", "file", "target"])
    frame["file"] = [str(folder / name) for name in frame["file"]]
    frame.index = pd.Index([10, 20, 30, 40, 50, 60])
    return frame


@pytest.fixture
def uploaded(sandbox: Sandbox) -> pd.DataFrame:
    results = imgkit.upload(_batch(), shops=sandbox.shops, journal=False, progress=False)
    assert results["status"].tolist() == ["uploaded"] * 4 + ["invalid", "failed"]
    return results


def _replace(sandbox: Sandbox, url: str, data: bytes) -> None:
    """Make the sandbox serve ``data`` at ``url`` (as a platform that changed it would)."""
    key = urlsplit(url).path.removeprefix("/img/")
    stored = sandbox.state.store.get(key)
    assert stored is not None, key
    stored.data = data


def _cell(frame: pd.DataFrame, label: int, column: str) -> str:
    return str(frame.at[label, column])


def _jpeg(image: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, format="JPEG", quality=quality)
    return out.getvalue()


def test_everything_stored_verifies_and_the_frame_keeps_its_shape(uploaded: pd.DataFrame) -> None:
    checked = verify(uploaded, **FAST)
    assert checked.index.equals(uploaded.index)
    assert list(checked.columns) == [*uploaded.columns, "verified", "verify_reason"]
    assert checked[list(uploaded.columns)].equals(uploaded)
    assert str(checked["verified"].dtype) == "boolean"
    assert checked["verified"].iloc[:4].tolist() == [True] * 4
    assert checked["verify_reason"].iloc[:4].tolist() == [""] * 4
    # Rows with nothing stored are not checked: NA, and the reason says why.
    assert checked["verified"].iloc[4:].isna().all()
    assert _cell(checked, 50, "verify_reason").endswith("not checked: status invalid")
    assert _cell(checked, 60, "verify_reason").endswith("not checked: status failed")
    assert verify_counts(checked) == {"verified": 4, "not_verified": 0, "not_checked": 2}


def test_changed_bytes_missing_urls_and_non_images_are_not_verified(
    sandbox: Sandbox, uploaded: pd.DataFrame
) -> None:
    # The same picture, re-encoded, on a platform that should serve the bytes sent.
    _replace(sandbox, _cell(uploaded, 10, "url"), _jpeg(Image.open(IMAGES / "mug.jpg"), 70))
    frame = uploaded.copy()
    frame.loc[30, "url"] = sandbox.base_url + "/img/qianmi_sku/never-stored.jpg"
    frame.loc[40, "url"] = sandbox.base_url + "/_sandbox/health"  # 200, but JSON
    checked = verify(frame, **FAST)
    assert checked["verified"].iloc[:4].tolist() == [False, True, False, False]
    assert "different bytes" in _cell(checked, 10, "verify_reason")
    assert f"{_cell(uploaded, 10, 'bytes')} sent" in _cell(checked, 10, "verify_reason")
    assert "HTTP 404" in _cell(checked, 30, "verify_reason")
    assert "not an image: application/json" in _cell(checked, 40, "verify_reason")
    assert _cell(checked, 20, "verify_reason") == ""


def test_a_resized_image_reports_its_pixel_size(sandbox: Sandbox, uploaded: pd.DataFrame) -> None:
    smaller = Image.open(IMAGES / "mug.jpg").resize((400, 400))
    _replace(sandbox, _cell(uploaded, 10, "url"), _jpeg(smaller))
    reason = _cell(verify(uploaded, **FAST), 10, "verify_reason")
    assert "different bytes" in reason
    assert "different pixel size: 400x400 served, 800x800 sent" in reason


def test_a_reencoding_platform_passes_the_same_picture_and_fails_another(
    sandbox: Sandbox, uploaded: pd.DataFrame
) -> None:
    png = Image.open(IMAGES / "cap.png")
    _replace(sandbox, _cell(uploaded, 20, "url"), _jpeg(png, 90))  # PNG served as JPEG q90
    other = Image.open(IMAGES / "mug.jpg").resize((600, 900))  # backpack.jpg's size
    _replace(sandbox, _cell(uploaded, 30, "url"), _jpeg(other))
    # Bytes only (what the sandbox platforms are known for): both changed rows fail.
    strict = verify(uploaded, **FAST)
    assert strict["verified"].iloc[:4].tolist() == [True, False, False, True]
    assert "different bytes" in _cell(strict, 20, "verify_reason")
    # Compared as re-encoded: the same picture passes, with a note; another one fails.
    loose = verify(uploaded, reencoded=["taobao_miniapp", "qianmi_sku"], **FAST)
    assert loose["verified"].iloc[:4].tolist() == [True, True, False, True]
    assert "re-encoded by the platform" in _cell(loose, 20, "verify_reason")
    assert "a different picture" in _cell(loose, 30, "verify_reason")
    assert _cell(loose, 10, "verify_reason") == ""  # tmall_item was still compared by bytes


def test_reencoded_needs_the_local_file(sandbox: Sandbox, tmp_path: Path) -> None:
    folder = tmp_path / "images"
    shutil.copytree(IMAGES, folder)
    batch = _batch(folder).iloc[[1]]
    results = imgkit.upload(batch, shops=sandbox.shops, journal=False, progress=False)
    _replace(sandbox, _cell(results, 20, "url"), _jpeg(Image.open(folder / "cap.png")))
    (folder / "cap.png").unlink()
    checked = verify(results, reencoded=True, **FAST)
    assert checked["verified"].tolist() == [False]
    assert "is gone, so the picture could not be compared" in _cell(checked, 20, "verify_reason")


def test_too_large_and_timed_out(sandbox: Sandbox, uploaded: pd.DataFrame) -> None:
    frame = uploaded.iloc[:2].copy()
    # The cap is the row's bytes x 4 + 1 MiB: 1.5 MiB served for a 10-byte row is refused.
    _replace(sandbox, _cell(frame, 10, "url"), b"\xff" * (3 * 512 * 1024))
    frame.loc[10, "bytes"] = 10
    # A server that accepts connections and never answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        frame.loc[20, "url"] = f"http://127.0.0.1:{silent.getsockname()[1]}/img/a.png"
        checked = verify(frame, rate_per_host=200.0, timeout=0.5)
    assert checked["verified"].tolist() == [False, False]
    assert "too large: more than 1048616 bytes" in _cell(checked, 10, "verify_reason")
    assert "timed out after 0.5 s" in _cell(checked, 20, "verify_reason")


def test_a_body_without_a_length_is_cut_at_the_cap(uploaded: pd.DataFrame) -> None:
    def serve(listener: socket.socket) -> None:
        # No length: the body would end when the server closes, which it does only once
        # the client hangs up.  A client without a cap would wait for its time-out.
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            try:
                connection.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
                connection.sendall(b"\xff" * (2 * 1024 * 1024))
                connection.recv(1)  # returns when the client closes
            except OSError:  # the client stopped reading: what the test wants
                pass

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        server = threading.Thread(target=serve, args=(listener,), daemon=True)
        server.start()
        frame = uploaded.iloc[:1].copy()
        frame.loc[10, "url"] = f"http://127.0.0.1:{listener.getsockname()[1]}/img/a.jpg"
        frame.loc[10, "bytes"] = 10
        checked = verify(frame, **FAST)
        server.join(timeout=10)
    assert "too large: more than 1048616 bytes" in _cell(checked, 10, "verify_reason")


def test_a_results_workbook_is_read_back(
    sandbox: Sandbox, uploaded: pd.DataFrame, tmp_path: Path
) -> None:
    frame = uploaded.copy()
    frame.loc[40, "sha256"] = ""  # hashed from the local file instead
    path = tmp_path / "results.xlsx"
    frame.to_excel(path)
    checked = verify(path, **FAST)
    assert checked.index.tolist() == uploaded.index.tolist()
    assert checked["verified"].iloc[:4].tolist() == [True] * 4
    assert checked["verified"].iloc[4:].isna().all()


@pytest.fixture
def workbook(uploaded: pd.DataFrame, tmp_path: Path) -> Path:
    path = tmp_path / "results.xlsx"
    uploaded.to_excel(path, index=False, sheet_name="results")
    return path


def test_cli_verify_all_good(workbook: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(workbook)]) == 0
    out = capsys.readouterr().out
    assert "verified / 已核实: 4" in out
    assert "not verified / 未通过: 0" in out
    assert "not checked / 未检查: 2" in out


def test_cli_verify_reports_a_bad_row_and_writes_the_table(
    sandbox: Sandbox,
    uploaded: pd.DataFrame,
    workbook: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _replace(sandbox, _cell(uploaded, 30, "url"), b"<html>gone</html>")
    out_path = tmp_path / "verified.xlsx"
    assert main(["verify", str(workbook), "--out", str(out_path)]) == 1
    out = capsys.readouterr().out
    assert "not verified / 未通过: 1" in out
    assert "not an image" in out
    assert str(out_path) in out
    back = imgkit.read_results(out_path)
    assert back["verify_reason"].str.contains("not an image").sum() == 1
    verified = back["verified"].astype(str).str.lower().tolist()
    assert verified[:4] == ["true", "true", "false", "true"]


def test_cli_verify_refuses_what_it_cannot_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["verify", str(tmp_path / "missing.xlsx")]) == 2
    assert "missing.xlsx" in capsys.readouterr().err
    plain = tmp_path / "batch.csv"
    plain.write_text("platform,shop,file,target\ntmall_item,s,a.jpg,1\n", encoding="utf-8")
    assert main(["verify", str(plain)]) == 2
    assert "not a results table" in capsys.readouterr().err


def test_inside_a_running_loop_and_platforms_from_shops(
    sandbox: Sandbox, uploaded: pd.DataFrame
) -> None:
    _replace(sandbox, _cell(uploaded, 20, "url"), _jpeg(Image.open(IMAGES / "cap.png")))
    # A row that does not name its platform gets it from its shop, when shops are given.
    frame = uploaded.drop(columns=["platform", "platform_key"])

    async def notebook_cell() -> tuple[pd.DataFrame, pd.DataFrame]:
        synchronous = verify(frame, shops=sandbox.shops, reencoded=["淘宝小程序"], **FAST)
        awaited = await verify_async(frame, reencoded=["taobao_miniapp"], **FAST)
        return synchronous, awaited

    synchronous, awaited = asyncio.run(notebook_cell())
    assert "re-encoded by the platform" in _cell(synchronous, 20, "verify_reason")
    assert "different bytes" in _cell(awaited, 20, "verify_reason")  # no shops: platform unknown
