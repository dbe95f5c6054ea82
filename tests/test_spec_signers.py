"""The spec-side clients themselves: signature vectors, GMT+8 clock, wire shapes.

These tests never touch the sandbox; they pin ``spec_clients`` to ``docs/protocols.md`` so that
sandbox tests built on it test the sandbox against the written protocol.
"""

from __future__ import annotations

import base64
import io
import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

import httpx
import pytest
from PIL import Image
from spec_clients import (
    big_jpeg,
    build_fw199_detail_request,
    build_fw199_upload_request,
    build_qianmi_upload_request,
    build_top_request,
    build_vv_token_request,
    build_vv_upload_request,
    encode_multipart,
    epoch_ms_now,
    fw199_sign,
    gmt8_now,
    make_bmp,
    make_gif,
    make_jpeg,
    make_png,
    make_webp,
    qianmi_sign,
    top_call,
    top_sign,
    unix_now,
)

TMALL = "taobao.item.img.upload.tmall"
SIMPLE = {"foo": "1", "bar": "2", "foo_bar": "3", "foobar": "4"}
TOP_TMALL = {
    "app_key": "12345678",
    "format": "json",
    "is_major": "true",
    "method": TMALL,
    "num_iid": "1001",
    "session": "sess",
    "sign_method": "md5",
    "timestamp": "2024-01-01 12:00:00",
    "v": "2.0",
}
FW199 = {
    "appid": "testappid",
    "folder_id": "0",
    "material_name": "a.jpg",
    "need_distinct": "false",
    "seller_nick": "38173182",
    "timestamp": "1700000000",
    "url": "https://example.com/a.jpg",
}
QIANMI = {
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
TOP_MD5 = "A3A427BF0E85CB00589F251876F844B3"
FW199_SIGN = "ea356406a02fb73188e45cf0c445b2ec"
QIANMI_SIGN = "6EDA89AC820C4B8F0D3671DAA06E26F73031A04B"


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(base_url="http://sandbox.test") as c:
        yield c


def form(request: httpx.Request) -> dict[str, str]:
    request.read()
    return dict(parse_qsl(request.content.decode(), keep_blank_values=True))


# --- the six vectors of platforms.md ---------------------------------------------------


@pytest.mark.parametrize(
    ("sign_method", "expected"),
    [
        ("md5", "5AAF1C690262A24768F5478B084C2C8A"),
        ("hmac", "E687005F819D6F9E6ED085311C8ACC75"),
        ("hmac-sha256", "339676BF36C50A8BD3D8F6B4A81B2F9AA614B05BFCFEBEFC169CB830D6B77D3B"),
    ],
)
def test_top_simple_vectors(sign_method: str, expected: str) -> None:
    assert top_sign(SIMPLE, "helloworld", sign_method) == expected


def test_top_tmall_vector() -> None:
    assert top_sign(TOP_TMALL, "testsecret", "md5") == TOP_MD5


def test_fw199_vector() -> None:
    assert fw199_sign(FW199, "testsecret") == FW199_SIGN


def test_qianmi_vector_excludes_image() -> None:
    assert qianmi_sign(QIANMI, "testsecret") == QIANMI_SIGN
    without_image = {k: v for k, v in QIANMI.items() if k != "image"}
    assert qianmi_sign(without_image, "testsecret") == QIANMI_SIGN


def test_signer_exclusion_rules() -> None:
    # TOP and Qianmi drop empty values and ``sign``; fw199 keeps empty values.
    assert top_sign({**SIMPLE, "empty": "", "sign": "X"}, "helloworld") == top_sign(
        SIMPLE, "helloworld"
    )
    assert qianmi_sign({**QIANMI, "img_id": "", "logo": "x", "file": "y"}, "testsecret") == (
        QIANMI_SIGN
    )
    assert fw199_sign({**FW199, "sign": "X"}, "testsecret") == FW199_SIGN
    assert fw199_sign({**FW199, "extra": ""}, "testsecret") != FW199_SIGN
    with pytest.raises(ValueError, match="sign_method"):
        top_sign(SIMPLE, "helloworld", "sha1")


# --- the vectors again, through the request builders ---------------------------------


def test_top_builder_reproduces_vector(client: httpx.Client) -> None:
    request = build_top_request(
        client,
        method=TMALL,
        app_key="12345678",
        secret="testsecret",
        session="sess",
        app_params={"num_iid": 1001, "is_major": True},
        files={"image": ("a.jpg", make_jpeg(8, 8))},
        timestamp="2024-01-01 12:00:00",
    )
    query = dict(request.url.params)
    assert query["sign"] == TOP_MD5
    assert set(query) == {
        "method", "app_key", "session", "timestamp", "v", "format", "sign_method", "sign"
    }  # fmt: skip
    request.read()
    assert b'name="is_major"\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\ntrue\r\n' in (
        request.content
    )


def test_top_multipart_style_puts_everything_in_the_body(client: httpx.Client) -> None:
    request = build_top_request(
        client,
        method=TMALL,
        app_key="12345678",
        secret="testsecret",
        session="sess",
        app_params={"num_iid": 1001, "is_major": True},
        files={"image": ("a.jpg", b"\xff\xd8bytes")},
        style="multipart",
        timestamp="2024-01-01 12:00:00",
    )
    assert not request.url.params
    request.read()
    body = request.content
    assert b'form-data; name="sign"\r\n\r\n' + TOP_MD5.encode() in body
    assert b'form-data; name="image"; filename="a.jpg"' in body
    assert b"Content-Disposition: file;" not in body


def test_fw199_builders_reproduce_vector(client: httpx.Client) -> None:
    by_url = build_fw199_upload_request(
        client,
        appid="testappid",
        secret="testsecret",
        seller_nick="38173182",
        material_name="a.jpg",
        url="https://example.com/a.jpg",
        timestamp=1700000000,
    )
    assert by_url.headers["content-type"] == "application/x-www-form-urlencoded"
    assert form(by_url) == {**FW199, "sign": FW199_SIGN}

    # The local-file variant signs the same text fields; the file part is unsigned.
    by_file = build_fw199_upload_request(
        client,
        appid="testappid",
        secret="testsecret",
        seller_nick="38173182",
        material_name="a.jpg",
        url="https://example.com/a.jpg",
        file=make_jpeg(8, 8),
        timestamp=1700000000,
    )
    by_file.read()
    assert by_file.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert b'name="sign"\r\n\r\n' + FW199_SIGN.encode() in by_file.content
    assert b'name="file"; filename="a.jpg"' in by_file.content

    detail = build_fw199_detail_request(
        client,
        appid="testappid",
        secret="testsecret",
        seller_nick="38173182",
        material_id="m1",
        timestamp=1700000000,
    )
    expected = {
        "appid": "testappid",
        "timestamp": "1700000000",
        "seller_nick": "38173182",
        "material_id": "m1",
    }
    assert detail.url.path == "/gateway/dd/material/querymaterialdetail"
    assert form(detail) == {**expected, "sign": fw199_sign(expected, "testsecret")}


def test_qianmi_builder_reproduces_vector(client: httpx.Client) -> None:
    request = build_qianmi_upload_request(
        client,
        app_key="10001234",
        secret="testsecret",
        access_token="tok",
        num_iid="g1",
        sku_id="s1",
        image_bytes=base64.b64decode("AAAA"),
        position=0,
        timestamp="2024-01-01 12:00:00",
    )
    query = dict(request.url.params)
    assert query["sign"] == QIANMI_SIGN
    assert set(query) == {"method", "v", "appKey", "timestamp", "format", "access_token", "sign"}
    assert form(request) == {
        "num_iid": "g1",
        "sku_id": "s1",
        "fields": "id,url,position,created",
        "image": "jpg@AAAA",
        "position": "0",
    }


# --- extra, sign overrides, vv-tool -----------------------------------------------------


def test_extra_removes_overrides_and_is_signed(client: httpx.Client) -> None:
    request = build_fw199_upload_request(
        client,
        appid="testappid",
        secret="testsecret",
        seller_nick="38173182",
        material_name="a.jpg",
        url="https://example.com/a.jpg",
        timestamp=1700000000,
        extra={"need_distinct": None, "folder_id": "7"},
    )
    sent = form(request)
    assert "need_distinct" not in sent
    assert sent["folder_id"] == "7"
    unsigned = {k: v for k, v in sent.items() if k != "sign"}
    assert sent["sign"] == fw199_sign(unsigned, "testsecret")

    bad = build_top_request(
        client, method=TMALL, app_key="1", secret="s", session="x", extra={"sign": "BAD"}
    )
    assert bad.url.params["sign"] == "BAD"
    unsigned_req = build_top_request(
        client, method=TMALL, app_key="1", secret="s", session="x", extra={"sign": None}
    )
    assert "sign" not in unsigned_req.url.params


def test_vv_requests(client: httpx.Client) -> None:
    token = build_vv_token_request(client, client_id="c", client_secret="s")
    assert token.url.path == "/api/proxy/oauth/token"
    assert form(token) == {
        "grant_type": "client_credentials",
        "client_id": "c",
        "client_secret": "s",
    }

    upload = build_vv_upload_request(
        client, token="tok", shop_id="shop", img=make_png(8, 8), filename="图.png", is_https=True
    )
    assert upload.headers["authorization"] == "Bearer tok"
    upload.read()
    body = upload.content
    assert 'name="img"; filename="图.png"'.encode() in body
    assert 'name="image_input_title"\r\n\r\n图.png'.encode() in body
    assert b'name="is_https"\r\n\r\ntrue' in body
    assert b'name="vvtype"\r\n\r\n2' in body

    anonymous = build_vv_upload_request(client, token=None, shop_id="s", img=None, filename="a")
    assert "authorization" not in anonymous.headers
    assert anonymous.headers["content-type"].startswith("multipart/form-data")


# --- SDK-style TOP body ------------------------------------------------------------------


def test_sdk_style_body_uses_file_disposition_and_raw_utf8(client: httpx.Client) -> None:
    name = "商品 主图.jpg"
    content = make_jpeg(8, 8)
    request = build_top_request(
        client,
        method="taobao.miniapp.trade.picture.upload",
        app_key="21000001",
        secret="s",
        session="x",
        app_params={"miniapp_id": 3000000012345, "file_name": "标题"},
        files={"bytes": (name, content)},
    )
    request.read()
    body = request.content
    boundary = request.headers["content-type"].split("boundary=", 1)[1]
    head = f'Content-Disposition: file; name="bytes"; filename="{name}"\r\n'.encode()
    assert head in body
    assert b"filename*" not in body
    assert body.count(b"Content-Disposition: file;") == 1
    assert (
        'name="file_name"\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n标题'.encode() in body
    )
    assert b"\r\n\r\n" + content + b"\r\n--" + boundary.encode() + b"--\r\n" in body
    assert body.endswith(f"--{boundary}--\r\n".encode())
    assert int(request.headers["content-length"]) == len(body)
    # System params are in the query string only.
    assert b'name="sign"' not in body
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", request.url.params["timestamp"])


def test_sdk_style_body_parses_as_multipart() -> None:
    # A standard parser accepts the hand-built body (the ``file`` disposition included).
    from email.parser import BytesParser
    from email.policy import HTTP

    body, ctype = encode_multipart(
        {"a": "1"}, {"f": ("x.png", b"\x89PNG")}, file_disposition="file"
    )
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {ctype}\r\n\r\n".encode() + body)
    parts = list(message.iter_parts())
    assert [p.get_content_disposition() for p in parts] == ["form-data", "file"]
    assert parts[1].get_filename() == "x.png"
    assert parts[1].get_payload(decode=True) == b"\x89PNG"


def test_top_call_sends(client: httpx.Client) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True})

    with httpx.Client(base_url="http://sandbox.test", transport=httpx.MockTransport(handler)) as c:
        response = top_call(
            c, method=TMALL, app_key="1", secret="s", session="x", timestamp=epoch_ms_now()
        )
    assert response.json() == {"ok": True}
    assert seen[0].url.path == "/router/rest"
    assert seen[0].url.params["timestamp"].isdigit()


# --- clocks ---------------------------------------------------------------------------------


def _parse_gmt8(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC) - timedelta(hours=8)


@pytest.mark.skipif(not hasattr(time, "tzset"), reason="time.tzset is POSIX only")
def test_gmt8_now_ignores_local_zone() -> None:
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    try:
        assert time.localtime().tm_gmtoff in (-5 * 3600, -4 * 3600)  # the zone took effect
        before = time.time()
        stamp = gmt8_now()
        independent = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time.time() + 8 * 3600))
        after = time.time()
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        time.tzset()
    # Both are the real clock cut to the second, read between `before` and `after`: a
    # bracket holds however slow the machine is, where a tolerance could be overrun.
    for text in (stamp, independent):
        assert int(before) <= _parse_gmt8(text).timestamp() <= after, text


def test_epoch_clocks_agree() -> None:
    # Bracketed by the real clock (a tolerance could be overrun on a slow machine); the
    # millisecond of slack covers float rounding of time.time() * 1000.
    before = time.time()
    ms, seconds = epoch_ms_now(), unix_now()
    after = time.time()
    assert before * 1000 - 1 <= ms <= after * 1000 + 1
    assert int(before) <= seconds <= after
    assert ms // 1000 <= seconds


# --- images ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("maker", "fmt"),
    [(make_jpeg, "JPEG"), (make_png, "PNG"), (make_gif, "GIF"), (make_webp, "WEBP"),
     (make_bmp, "BMP")],
)  # fmt: skip
def test_image_makers(maker: object, fmt: str) -> None:
    data = maker(31, 17)  # type: ignore[operator]
    with Image.open(io.BytesIO(data)) as img:
        assert (img.format, img.size) == (fmt, (31, 17))


def test_big_jpeg_is_large_and_valid() -> None:
    data = big_jpeg(3 * 1024 * 1024 + 1)
    assert len(data) > 3 * 1024 * 1024
    assert len(data) < 5 * 1024 * 1024
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == "JPEG"
        img.load()
