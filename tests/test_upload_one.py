"""``upload_one``: one image through an adapter to the sandbox, over loopback HTTP."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

import imgkit
from imgkit import Category, ImgkitError, Sandbox
from imgkit.engine.single import TokenCache

ROOT = Path(__file__).resolve().parent.parent
MUG = ROOT / "sample_data" / "images" / "mug.jpg"


def test_a_platform_key_picks_its_first_shop(sandbox: Sandbox) -> None:
    out = imgkit.upload_one("淘宝图片空间", MUG, "0", shops=sandbox.shops, title="马克杯")
    assert out.ok, out
    assert out.raw["title"] == "马克杯"
    assert imgkit.upload_one("tb_picture_main", MUG, "0", shops=sandbox.shops).ok


def test_a_missing_file_raises_in_both_languages(sandbox: Sandbox) -> None:
    with pytest.raises(ImgkitError, match="cannot read") as info:
        imgkit.upload_one("tb_picture_main", ROOT / "nope.jpg", "0", shops=sandbox.shops)
    assert info.value.category is Category.INVALID_INPUT
    assert "无法读取文件" in str(info.value)


def test_a_url_source_is_downloaded_for_platforms_that_cannot_fetch(sandbox: Sandbox) -> None:
    first = imgkit.upload_one("tb_picture_main", MUG, "0", shops=sandbox.shops)
    again = imgkit.upload_one("qianmi_shop", first.url, "18353/g1234", shops=sandbox.shops)
    assert again.ok, again
    with sandbox.client() as http:
        assert http.get(again.url).content == MUG.read_bytes()


def test_a_url_that_cannot_be_downloaded_is_a_row_error(sandbox: Sandbox) -> None:
    out = imgkit.upload_one(
        "tb_picture_main", sandbox.base_url + "/img/missing.jpg", "0", shops=sandbox.shops
    )
    assert not out.ok
    assert out.category is Category.INVALID_INPUT
    assert out.code == "HTTP 404"
    assert out.zh


def test_douyin_fetches_a_url_source_itself(sandbox: Sandbox) -> None:
    first = imgkit.upload_one("tb_picture_main", MUG, "0", shops=sandbox.shops)
    out = imgkit.upload_one("douyin_shop", first.url, "0", shops=sandbox.shops)
    assert out.ok, out
    assert out.raw["origin_url"] == first.url


def test_client_credentials_fetch_one_token_for_many_uploads(sandbox: Sandbox) -> None:
    TokenCache.clear()
    for n in range(3):
        out = imgkit.upload_one("tb_picture_oauth", MUG, "0", shops=sandbox.shops, title=f"m{n}")
        assert out.ok, out
    token_requests = [r for r in sandbox.state.request_log() if r.credential == "sbx-vv-client"]
    assert len(token_requests) == 1


def test_a_revoked_cached_token_is_replaced_once(sandbox: Sandbox) -> None:
    TokenCache.clear()
    assert imgkit.upload_one("tb_picture_oauth", MUG, "0", shops=sandbox.shops).ok
    sandbox.reset()  # the sandbox forgets the tokens it issued
    out = imgkit.upload_one("tb_picture_oauth", MUG, "0", shops=sandbox.shops)
    assert out.ok, out
    token_requests = [r for r in sandbox.state.request_log() if r.credential == "sbx-vv-client"]
    assert len(token_requests) == 1


def test_changed_client_credentials_fetch_a_new_token(sandbox: Sandbox) -> None:
    TokenCache.clear()
    shops = sandbox.shops
    assert imgkit.upload_one("tb_picture_oauth", MUG, "0", shops=shops).ok
    shops["tb_picture_oauth"]["client_secret"] = "wrong"
    out = imgkit.upload_one("tb_picture_oauth", MUG, "0", shops=shops)
    assert not out.ok
    assert out.category is Category.AUTH


def test_no_log_record_holds_a_signed_url_or_a_token(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """TOP's ``session`` and Qianmi's ``access_token`` travel in query strings: httpx's
    client logger would print them with every request."""
    TokenCache.clear()
    secrets = [
        sandbox.shops["tmall_store"]["session"],
        sandbox.shops["miniapp_main"]["session"],
        sandbox.shops["qianmi_shop"]["access_token"],
        sandbox.shops["tb_picture_oauth"]["client_secret"],
    ]
    with caplog.at_level(logging.DEBUG):  # every logger, httpx's and httpcore's included
        first = imgkit.upload_one("tmall_store", MUG, "1489161940", shops=sandbox.shops)
        assert first.ok, first
        assert imgkit.upload_one("miniapp_main", MUG, "3000000012345", shops=sandbox.shops).ok
        assert imgkit.upload_one("tb_picture_oauth", MUG, "0", shops=sandbox.shops).ok
        with httpx.Client() as lent:  # a user's own client: its transport, not its logger
            out = imgkit.upload_one(
                "qianmi_shop", first.url, "18353/g1234", shops=sandbox.shops, client=lent
            )
        assert out.ok, out
    assert caplog.records  # the capture works: httpcore logs at DEBUG
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in secrets:
        assert secret not in logged


def test_a_device_is_refused_before_anything_is_sent(sandbox: Sandbox) -> None:
    with pytest.raises(ImgkitError) as info:
        imgkit.upload_one("tb_picture_main", "/dev/zero", "0", shops=sandbox.shops)
    assert info.value.code == "not_regular_file"
    assert sandbox.state.request_log() == []
