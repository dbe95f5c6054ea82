"""The qianmi_sku adapter alone: signing, request shape, parsing (no network, no sandbox).

Built from ``docs/protocols.md`` (Qianmi) and the platform's page it names; the error
answer below is the seed page's sample, verbatim.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from imgkit.errors import Category, ImgkitError
from imgkit.intake.shops import Shop, make_shop
from imgkit.platforms import get_adapter
from imgkit.platforms.base import Job
from imgkit.platforms.qianmi_sku import (
    CODES,
    QianmiSkuAdapter,
    beijing_time,
    image_param,
    sign,
    split_target,
)

ADAPTER = QianmiSkuAdapter()
SECRET = "testsecret"
# 2024-01-01 12:00:00 in Beijing (04:00:00 UTC).
NOW = 1704081600.0
VECTOR = {
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
}
VECTOR_SIGN = "6EDA89AC820C4B8F0D3671DAA06E26F73031A04B"
SYSTEM = {"method", "v", "appKey", "timestamp", "format", "access_token", "sign"}

SEED_ERROR_SAMPLE = """ {
    "errorToken": "@@$-ERROR_TOKEN$-@@",
    "code": "33",
    "message": "非法的参数",
    "solution": "请查看根据服务接口对参数格式的要求",
    "subErrors": {
      "subError": [{
          "code": "isv.invalid-paramete:XXXX",
          "message": "参数XXXX无效,格式不对、非法值、越界等"
        }]
  }
}"""
SUCCESS = {
    "sku_image_upload_response": {
        "sku_img": {
            "id": 100245,
            "url": "http://img.qianmi.com/sku/100245.jpg",
            "position": 0,
            "created": "2024-01-01 12:00:01",
        }
    }
}


def shop(**fields: str) -> Shop:
    table = {"platform": "qianmi_sku", "app_key": "10001234", "app_secret": SECRET}
    table["access_token"] = "tok"
    table.update(fields)
    return make_shop("qm", table)


def answer(body: Any, status: int = 200) -> httpx.Response:
    request = httpx.Request("POST", "https://api.qianmi.com/api")
    if isinstance(body, str | bytes):
        return httpx.Response(status, content=body, request=request)
    return httpx.Response(status, json=body, request=request)


def split(request: httpx.Request) -> tuple[dict[str, str], dict[str, str]]:
    """(query parameters, form body parameters)."""
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    query = dict(parse_qsl(request.url.query.decode(), keep_blank_values=True))
    body = dict(parse_qsl(request.read().decode(), keep_blank_values=True))
    return query, body


def expected_sign(params: dict[str, str], secret: str = SECRET) -> str:
    """An independent restatement: drop sign/image/file/logo and empties, sort, sha1, upper."""
    kept = {k: v for k, v in params.items() if v and k not in ("sign", "image", "file", "logo")}
    joined = "".join(f"{k}{kept[k]}" for k in sorted(kept, key=lambda k: k.encode("utf-8")))
    return hashlib.sha1(f"{secret}{joined}{secret}".encode()).hexdigest().upper()


def vector_job(data: bytes = b"\x00\x00\x00", **options: str) -> Job:
    return Job("g1/s1", "a.jpg", data=data, fmt="jpeg", options={"position": "0", **options})


# --- declarations ---------------------------------------------------------------------------


def test_registered_and_declared() -> None:
    adapter = get_adapter("千米")
    assert isinstance(adapter, QianmiSkuAdapter)
    assert adapter.key == "qianmi_sku"
    assert adapter.default_base_url == "https://api.qianmi.com"
    assert adapter.path == "/api"
    assert adapter.limits.max_bytes == 1024 * 1024
    assert adapter.limits.formats == frozenset({"jpeg", "png", "gif"})
    assert adapter.limits.positions == range(5)
    assert adapter.limits.images_per_target == 5
    assert adapter.credentials.required == ("app_key", "app_secret", "access_token")
    assert adapter.credentials.secret == frozenset({"app_secret", "access_token"})
    assert "<num_iid>/<sku_id>" in adapter.target_meaning
    assert {o.name for o in adapter.options} == {"position", "replace_id"}
    assert adapter.accepts_url_source is False


# --- signing and time -----------------------------------------------------------------------


def test_signature_vector() -> None:
    assert sign({**VECTOR, "image": "jpg@AAAA"}, SECRET) == VECTOR_SIGN
    assert sign(VECTOR, SECRET) == VECTOR_SIGN


@pytest.mark.parametrize("left_out", ["image", "file", "logo", "sign", "empty"])
def test_signature_leaves_out(left_out: str) -> None:
    extra = {"empty": ""} if left_out == "empty" else {left_out: "whatever"}
    assert sign({**VECTOR, **extra}, SECRET) == VECTOR_SIGN


def test_signature_sorts_by_byte_order() -> None:
    # "Z" (0x5A) sorts before "a" (0x61).
    params = {"a": "1", "Z": "2"}
    assert sign(params, "s") == hashlib.sha1(b"sZ2a1s").hexdigest().upper()


def test_beijing_time() -> None:
    assert beijing_time(NOW) == "2024-01-01 12:00:00"
    assert beijing_time(NOW + 0.999) == "2024-01-01 12:00:00"
    assert beijing_time(0) == "1970-01-01 08:00:00"


@pytest.fixture
def new_york() -> Iterator[None]:
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = saved
        time.tzset()


@pytest.mark.usefixtures("new_york")
def test_timestamp_is_gmt8_whatever_the_local_zone() -> None:
    assert time.strftime("%H", time.localtime(NOW)) == "23"  # New York, the day before
    assert beijing_time(NOW) == "2024-01-01 12:00:00"
    query, _ = split(ADAPTER.build_request(vector_job(), shop(), now=NOW))
    assert query["timestamp"] == "2024-01-01 12:00:00"
    assert query["sign"] == VECTOR_SIGN


# --- the request ----------------------------------------------------------------------------


def test_request_reproduces_the_vector() -> None:
    request = ADAPTER.build_request(vector_job(), shop(), now=NOW)
    assert request.method == "POST"
    assert request.url.scheme == "https"
    assert request.url.host == "api.qianmi.com"
    assert request.url.path == "/api"
    query, body = split(request)
    assert query == {
        "method": "qianmi.cloudshop.sku.image.upload",
        "v": "1.1",
        "appKey": "10001234",
        "timestamp": "2024-01-01 12:00:00",
        "format": "json",
        "access_token": "tok",
        "sign": VECTOR_SIGN,
    }
    assert body == {
        "num_iid": "g1",
        "sku_id": "s1",
        "fields": "id,url,position,created",
        "image": "jpg@AAAA",
        "position": "0",
    }


def test_system_params_in_query_business_params_in_body() -> None:
    job = vector_job(data=b"\xff\xd8\xff" * 100, replace_id="5566")
    query, body = split(ADAPTER.build_request(job, shop(), now=NOW))
    assert set(query) == SYSTEM
    assert not set(body) & SYSTEM
    assert "app_key" not in query
    assert "appKey" in query
    assert body["img_id"] == "5566"
    assert query["sign"] == expected_sign({**query, **body})


def test_image_is_not_signed() -> None:
    one = split(ADAPTER.build_request(vector_job(b"\x00" * 3), shop(), now=NOW))
    two = split(ADAPTER.build_request(vector_job(b"\xff" * 999), shop(), now=NOW))
    assert one[1]["image"] != two[1]["image"]
    assert one[0]["sign"] == two[0]["sign"] == VECTOR_SIGN


@pytest.mark.parametrize(("fmt", "ext"), [("jpeg", "jpg"), ("png", "png"), ("gif", "gif")])
def test_base64_payload(fmt: str, ext: str) -> None:
    data = bytes(range(256)) * 40  # "+", "/" and "=" all appear in the base64
    job = Job("18353/g1234", "x.bin", data=data, fmt=fmt)
    _, body = split(ADAPTER.build_request(job, shop(), now=NOW))
    prefix, _, encoded = body["image"].partition("@")
    assert prefix == ext
    assert base64.b64decode(encoded, validate=True) == data
    assert body["image"] == image_param(job)


def test_empty_options_are_neither_sent_nor_signed() -> None:
    job = Job("18353/g1234", "a.jpg", data=b"\x00", fmt="jpeg", options={"position": " "})
    query, body = split(ADAPTER.build_request(job, shop(), now=NOW))
    assert "position" not in body
    assert "img_id" not in body
    assert query["sign"] == expected_sign({**query, **body})


def test_replace_without_bytes_sends_no_image() -> None:
    job = Job("18353/g1234", "a.jpg", options={"replace_id": "77", "position": "2"})
    _, body = split(ADAPTER.build_request(job, shop(), now=NOW))
    assert "image" not in body
    assert (body["img_id"], body["position"]) == ("77", "2")


def test_shop_base_url_is_used() -> None:
    request = ADAPTER.build_request(vector_job(), shop(base_url="http://127.0.0.1:8765"), now=NOW)
    assert str(request.url).startswith("http://127.0.0.1:8765/api?")


# --- the target -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "parts"),
    [
        ("18353/g1234", ("18353", "g1234")),
        (" 18353 / g1234 ", ("18353", "g1234")),
        ("18353/g/1234", ("18353", "g/1234")),
    ],
)
def test_target_spelling(target: str, parts: tuple[str, str]) -> None:
    assert split_target(target) == parts
    _, body = split(ADAPTER.build_request(Job(target, "a.jpg", data=b"\x00"), shop(), now=NOW))
    assert (body["num_iid"], body["sku_id"]) == parts


@pytest.mark.parametrize("target", ["18353", "", "/", "/g1234", "18353/", "  /  ", "18353 g1234"])
def test_bad_target_is_refused_in_both_languages(target: str) -> None:
    job = Job(target, "a.jpg", data=b"\x00", fmt="jpeg")
    with pytest.raises(ImgkitError) as caught:
        ADAPTER.build_request(job, shop(), now=NOW)
    error = caught.value
    assert error.category is Category.INVALID_INPUT
    assert error.code == "bad_target"
    assert "<num_iid>/<sku_id>" in error.message
    assert "商品编号/sku编号" in error.message


@pytest.mark.parametrize(("options", "safe"), [({}, False), ({"replace_id": "9"}, True)])
def test_retry_safe(options: dict[str, str], safe: bool) -> None:
    assert ADAPTER.retry_safe(Job("1/a", "a.jpg", data=b"\x00", options=options)) is safe


# --- answers --------------------------------------------------------------------------------


def test_success() -> None:
    out = ADAPTER.parse_response(answer(SUCCESS))
    assert out.ok
    assert out.url == "http://img.qianmi.com/sku/100245.jpg"
    assert out.image_id == "100245"
    assert out.category is None


def test_success_takes_the_first_object_member_whatever_its_name() -> None:
    body = {"request_id": "abc", "whatever_response": SUCCESS["sku_image_upload_response"]}
    out = ADAPTER.parse_response(answer(body))
    assert out.ok
    assert out.image_id == "100245"


@pytest.mark.parametrize(
    "body",
    [{"sku_image_upload_response": {}}, {"r": {"sku_img": {"id": 1}}}, {"r": {"sku_img": None}}],
)
def test_success_without_an_image_is_looked_up(body: dict[str, Any]) -> None:
    out = ADAPTER.parse_response(answer(body))
    assert not out.ok
    assert (out.category, out.code, out.maybe_stored) == (Category.TRANSIENT, "no_url", True)


def test_seed_error_sample() -> None:
    out = ADAPTER.parse_response(answer(SEED_ERROR_SAMPLE))
    assert not out.ok
    assert out.category is Category.INVALID_INPUT
    assert not out.retryable
    assert out.code == "33"
    assert out.sub_code == "isv.invalid-paramete:XXXX"
    assert out.message == "非法的参数: 参数XXXX无效,格式不对、非法值、越界等"


def test_top_style_error_response() -> None:
    body = {
        "error_response": {
            "code": 25,
            "msg": "Invalid Signature",
            "sub_code": "isv.invalid-signature",
            "sub_msg": "无效签名",
        }
    }
    out = ADAPTER.parse_response(answer(body))
    assert out.category is Category.AUTH
    assert (out.code, out.sub_code) == ("25", "isv.invalid-signature")
    assert out.message == "Invalid Signature: 无效签名"


def seed_error(code: str, sub_code: str = "") -> dict[str, Any]:
    body: dict[str, Any] = {
        "errorToken": "@@$-ERROR_TOKEN$-@@",
        "code": code,
        "message": "业务逻辑出错",
        "solution": "…",
    }
    if sub_code:
        body["subErrors"] = {"subError": [{"code": sub_code, "message": "详细原因"}]}
    return body


def top_error(code: str, sub_code: str = "") -> dict[str, Any]:
    inner: dict[str, Any] = {"code": int(code), "msg": "Remote service error"}
    if sub_code:
        inner.update(sub_code=sub_code, sub_msg="详细原因")
    return {"error_response": inner}


@pytest.mark.parametrize("shape", [seed_error, top_error], ids=["seed", "top"])
@pytest.mark.parametrize("key", sorted(CODES.rules), ids=str)
def test_every_code_table_entry(key: str, shape: Any) -> None:
    rule = CODES.rules[key]
    # Sub-codes come with main code 9, whose own rule (unknown) the sub-code must override.
    body = shape(key) if key.isdigit() else shape("9", key.replace("*", "remote-error"))
    out = ADAPTER.parse_response(answer(body))
    assert not out.ok
    assert out.category is rule.category
    assert out.retryable is rule.retryable
    assert (out.zh, out.en) == (rule.zh, rule.en)


SERVICE = "isv.qianmi-cloudshop-sku-image-upload-service-error:"


@pytest.mark.parametrize(
    ("code", "sub_code", "category", "retryable"),
    [
        ("1", "isp.service-unavailable", Category.TRANSIENT, True),
        ("4", "", Category.TRANSIENT, True),
        ("2", "", Category.PERMISSION, False),
        ("3", "", Category.PERMISSION, False),
        ("7", "", Category.PERMISSION, False),
        *((str(c), "", Category.AUTH, False) for c in range(20, 26)),
        *((str(c), "", Category.INVALID_INPUT, False) for c in range(26, 34)),
        ("32", "isv.missing-parameter:timestamp", Category.INVALID_INPUT, False),
        ("33", "isv.invalid-paramete:timestamp", Category.INVALID_INPUT, False),
        ("34", "", Category.QUOTA, False),
        ("35", "", Category.QUOTA, False),
        ("36", "", Category.QUOTA, False),
        ("37", "", Category.RATE_LIMITED, True),
        ("9", SERVICE + "01030001", Category.NOT_FOUND, False),
        ("9", SERVICE + "01030002", Category.NOT_FOUND, False),
        ("9", SERVICE + "01030028", Category.INVALID_INPUT, False),
        ("9", SERVICE + "01030029", Category.TOO_LARGE, False),
        ("9", SERVICE + "01030042", Category.BAD_FORMAT, False),
        ("9", SERVICE + "01030053", Category.BAD_FORMAT, False),
        ("9", SERVICE + "01030043", Category.INVALID_INPUT, False),
        ("9", SERVICE + "01030044", Category.NOT_FOUND, False),
        ("9", SERVICE + "01030038", Category.INVALID_INPUT, False),
        ("9", SERVICE + "01030064", Category.INVALID_INPUT, False),
        ("9", SERVICE + "01039999", Category.UNKNOWN, False),
        ("9", "isp.remote-service-error", Category.TRANSIENT, True),
        ("99", "", Category.UNKNOWN, False),
    ],
)
def test_documented_answers(code: str, sub_code: str, category: Category, retryable: bool) -> None:
    for body in (seed_error(code, sub_code), top_error(code, sub_code)):
        out = ADAPTER.parse_response(answer(body))
        assert out.category is category
        assert out.retryable is retryable
        assert (out.code, out.sub_code) == (code, sub_code)


def test_non_json_502_is_transient() -> None:
    out = ADAPTER.parse_response(answer("<html>502 Bad Gateway</html>", status=502))
    assert out.category is Category.TRANSIENT
    assert out.retryable
    assert out.code == "HTTP 502"


@pytest.mark.parametrize("body", [{"error": "Internal Server Error"}, {"detail": {"x": 1}}])
def test_json_500_without_the_envelope_is_transient(body: dict[str, Any]) -> None:
    out = ADAPTER.parse_response(answer(body, status=500))
    assert out.category is Category.TRANSIENT
    assert out.retryable


@pytest.mark.parametrize("body", ["not json", b"\x89PNG\r\n", "[]", "42", {"ok": True}])
def test_200_with_garbage_is_in_doubt(body: Any) -> None:
    # Not the platform's envelope, after the request was sent: it may have been stored.
    out = ADAPTER.parse_response(answer(body))
    assert (out.category, out.retryable, out.maybe_stored) == (Category.TRANSIENT, True, True)
