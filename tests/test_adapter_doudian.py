"""The doudian adapter alone: signing, request shapes, parsing (no network, no sandbox).

Built from ``docs/protocols.md`` (Douyin) and the platform's page it names; the two Douyin
answers below are the seed page's samples, verbatim.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from imgkit.errors import Category, ImgkitError
from imgkit.intake.shops import Shop, make_shop
from imgkit.platforms import get_adapter
from imgkit.platforms.base import Job, Outcome
from imgkit.platforms.doudian import CODES, DETAIL_PATH, DoudianAdapter, material_name, sign

ADAPTER = DoudianAdapter()
NOW = 1700000000.0
SECRET = "testsecret"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
VECTOR = {
    "appid": "testappid",
    "folder_id": "0",
    "material_name": "a.jpg",
    "need_distinct": "false",
    "seller_nick": "38173182",
    "timestamp": "1700000000",
    "url": "https://example.com/a.jpg",
}
VECTOR_SIGN = "ea356406a02fb73188e45cf0c445b2ec"

SEED_URL_SAMPLE = """{
  "code": 0,
  "message": "ok",
  "data": {
    "material_info": {
      "material_id": "74484998751869176420425",
      "folder_id": "73691281073984637961425",
      "origin_url": "https://www.cheeli.com.cn/wp-content/themes/stratusx-child/img/product/productA1.jpg",
      "byte_url": "https://p3-aio.ecombdimg.com/obj/ecom-shop-material/jpeg_m_7b0c5176542b6228bd6cb9b26b0b6e02_sx_10411_www339-350",
      "materil_name": "test3.jpg",
      "material_type": "photo",
      "operate_status": 1,
      "audit_status": 3,
      "audit_reject_desc": "",
      "size": 11264,
      "photo_info": {
        "height": 350,
        "width": 339,
        "format": "jpeg"
      },
      "video_info": null,
      "create_time": "2024-12-15 13:03:40",
      "update_time": "2024-12-15 13:03:43",
      "delete_time": ""
    }
  },
  "trace_id": ""
}"""

SEED_FILE_SAMPLE = """{
  "code": 0,
  "message": "ok",
  "data": {
    "material_info": {
      "material_id": "74478856420227812350425",
      "folder_id": "73691281073984637961425",
      "origin_url": "",
      "byte_url": "https://p3-aio.ecombdimg.com/obj/ecom-shop-material/png_m_a31d40ba9613add7dcccfc6e37867f60_sx_598754_www616-792",
      "materil_name": "女上衣",
      "material_type": "photo",
      "operate_status": 1,
      "audit_status": 3,
      "audit_reject_desc": "",
      "size": 599040,
      "photo_info": { "height": 792, "width": 616, "format": "png" },
      "video_info": null,
      "create_time": "2024-12-13 21:20:08",
      "update_time": "2024-12-13 21:20:08",
      "delete_time": ""
    }
  },
  "trace_id": ""
}"""


def shop(**fields: str) -> Shop:
    table = {"platform": "doudian", "appid": "testappid", "app_secret": SECRET}
    table["seller_nick"] = "38173182"
    table.update(fields)
    return make_shop("dy", table)


def answer(body: Any, status: int = 200) -> httpx.Response:
    request = httpx.Request("POST", "https://kf.fw199.com" + DoudianAdapter.path)
    if isinstance(body, str | bytes):
        return httpx.Response(status, content=body, request=request)
    return httpx.Response(status, json=body, request=request)


def form(request: httpx.Request) -> dict[str, str]:
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    return dict(parse_qsl(request.read().decode(), keep_blank_values=True))


def multipart(request: httpx.Request) -> dict[str, Message]:
    """The parts of a multipart body by field name (parsed with the standard library)."""
    head = b"Content-Type: " + request.headers["content-type"].encode() + b"\r\n\r\n"
    message = BytesParser(policy=HTTP).parsebytes(head + request.read())
    assert message.is_multipart()
    parts: dict[str, Message] = {}
    for part in message.get_payload():
        assert isinstance(part, Message)
        name = part.get_param("name", header="content-disposition")
        assert isinstance(name, str)
        parts[name] = part
    return parts


def part_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


def expected_sign(fields: dict[str, str], secret: str = SECRET) -> str:
    """An independent restatement of the rule: every field but sign, sorted, md5, lower."""
    joined = "".join(f"{k}{v}" for k, v in sorted(fields.items()) if k != "sign")
    return hashlib.md5(f"{secret}{joined}{secret}".encode()).hexdigest()


# --- declarations ---------------------------------------------------------------------------


def test_registered_and_declared() -> None:
    adapter = get_adapter("抖店")
    assert isinstance(adapter, DoudianAdapter)
    assert adapter.key == "doudian"
    assert adapter.default_base_url == "https://kf.fw199.com"
    assert adapter.path == "/gateway/dd/material/uploadimagesync"
    assert adapter.limits.max_bytes == 10 * 1024 * 1024
    assert adapter.limits.formats == frozenset({"jpeg", "png"})
    assert adapter.limits.title_max == 50
    assert adapter.accepts_url_source is True
    assert adapter.credentials.required == ("appid", "app_secret", "seller_nick")
    assert "app_secret" in adapter.credentials.secret
    assert {o.name for o in adapter.options} == {"title", "need_distinct"}


# --- signing --------------------------------------------------------------------------------


def test_signature_vector() -> None:
    assert sign(VECTOR, SECRET) == VECTOR_SIGN


def test_signature_includes_empty_values() -> None:
    with_empty = {"a": "1", "b": ""}
    assert sign(with_empty, "s") == hashlib.md5(b"sa1bs").hexdigest()
    assert sign(with_empty, "s") != sign({"a": "1"}, "s")


def test_signature_is_lowercase_hex() -> None:
    digest = sign({"x": "y"}, "s")
    assert digest == digest.lower()
    assert len(digest) == 32


# --- requests -------------------------------------------------------------------------------


def test_url_upload_is_urlencoded_and_reproduces_the_vector() -> None:
    job = Job("0", "a.jpg", source_url="https://example.com/a.jpg")
    request = ADAPTER.build_request(job, shop(), now=NOW)
    assert request.method == "POST"
    assert str(request.url) == "https://kf.fw199.com/gateway/dd/material/uploadimagesync"
    fields = form(request)
    assert fields == {**VECTOR, "sign": VECTOR_SIGN}


def test_file_upload_is_multipart_with_an_unsigned_file_part() -> None:
    job = Job("73691281073984637961425", "女上衣.png", data=JPEG, fmt="png")
    request = ADAPTER.build_request(job, shop(), now=NOW)
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    parts = multipart(request)
    file_part = parts.pop("file")
    assert file_part.get_payload(decode=True) == JPEG
    assert file_part.get_content_type() == "image/png"
    fields = {name: part_text(part) for name, part in parts.items()}
    assert "url" not in fields
    assert fields == {
        "appid": "testappid",
        "timestamp": "1700000000",
        "seller_nick": "38173182",
        "folder_id": "73691281073984637961425",
        "material_name": "女上衣.png",
        "need_distinct": "false",
        "sign": expected_sign(fields),
    }
    assert fields["sign"] != expected_sign({**fields, "file": JPEG.decode("latin-1")})


def test_bytes_win_over_a_source_url() -> None:
    job = Job("0", "a.jpg", data=JPEG, fmt="jpeg", source_url="https://example.com/a.jpg")
    parts = multipart(ADAPTER.build_request(job, shop(), now=NOW))
    assert "file" in parts
    assert "url" not in parts


def test_empty_values_are_sent_and_signed() -> None:
    # A shop built without the loader's checks, so that a field can be empty.
    bare = Shop("dy", "doudian", fields={"appid": "a", "app_secret": "s", "seller_nick": ""})
    fields = form(ADAPTER.build_request(Job("", "a.jpg", source_url="http://x/a.jpg"), bare, now=1))
    assert fields["seller_nick"] == ""
    assert fields["sign"] == expected_sign(fields, "s")
    without = {k: v for k, v in fields.items() if k != "seller_nick"}
    assert fields["sign"] != expected_sign(without, "s")


def test_options_title_need_distinct_and_default_folder() -> None:
    job = Job(
        " ",
        "a.jpg",
        source_url="https://example.com/a.jpg",
        options={"title": " 白色马克杯 ", "need_distinct": "Yes"},
    )
    fields = form(ADAPTER.build_request(job, shop(), now=NOW))
    assert fields["folder_id"] == "0"
    assert fields["material_name"] == "白色马克杯"
    assert fields["need_distinct"] == "true"
    assert fields["sign"] == expected_sign(fields)


def test_long_file_names_are_cut_to_fifty_characters() -> None:
    name = material_name(Job("0", "商品" * 40 + ".jpeg"))
    assert len(name) == 50
    assert name.endswith(".jpeg")
    assert material_name(Job("0", "a.jpg")) == "a.jpg"


def test_a_job_without_bytes_or_url_is_refused() -> None:
    with pytest.raises(ImgkitError) as caught:
        ADAPTER.build_request(Job("0", "a.jpg"), shop(), now=NOW)
    assert caught.value.category is Category.INVALID_INPUT


def test_shop_base_url_is_used() -> None:
    job = Job("0", "a.jpg", data=JPEG, fmt="jpeg")
    request = ADAPTER.build_request(job, shop(base_url="http://127.0.0.1:8765"), now=NOW)
    assert str(request.url) == "http://127.0.0.1:8765/gateway/dd/material/uploadimagesync"


def test_detail_query_is_signed_and_urlencoded() -> None:
    request = ADAPTER.build_poll_request("74484998751869176420425", shop(), now=NOW + 0.9)
    assert request.method == "POST"
    assert request.url.path == DETAIL_PATH == "/gateway/dd/material/querymaterialdetail"
    fields = form(request)
    assert fields == {
        "appid": "testappid",
        "timestamp": "1700000000",
        "seller_nick": "38173182",
        "material_id": "74484998751869176420425",
        "sign": expected_sign(fields),
    }


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
def test_timestamp_is_unix_seconds_whatever_the_local_zone() -> None:
    assert time.strftime("%Z", time.localtime(NOW)) in ("EST", "EDT")
    fields = form(
        ADAPTER.build_request(Job("0", "a.jpg", source_url="http://x/a"), shop(), now=NOW)
    )
    assert fields["timestamp"] == "1700000000"


@pytest.mark.parametrize(
    ("options", "safe"),
    [
        ({}, False),
        ({"need_distinct": "false"}, False),
        ({"need_distinct": "true"}, True),
        ({"need_distinct": "1"}, True),
        ({"replace_id": "9"}, True),
    ],
)
def test_retry_safe(options: dict[str, str], safe: bool) -> None:
    assert ADAPTER.retry_safe(Job("0", "a.jpg", data=JPEG, options=options)) is safe


# --- answers: success and audit ---------------------------------------------------------------


@pytest.mark.parametrize("sample", [SEED_URL_SAMPLE, SEED_FILE_SAMPLE], ids=["url", "file"])
def test_seed_samples_parse_as_success(sample: str) -> None:
    info = json.loads(sample)["data"]["material_info"]
    out = ADAPTER.parse_response(answer(sample))
    assert out.ok
    assert out.url == info["byte_url"]
    assert out.image_id == info["material_id"]
    assert out.audit_status == 3
    assert out.category is None


def test_flat_data_is_accepted() -> None:
    info = json.loads(SEED_FILE_SAMPLE)["data"]["material_info"]
    out = ADAPTER.parse_response(answer({"code": 0, "message": "ok", "data": info}))
    assert out.ok
    assert out.url == info["byte_url"]
    assert out.image_id == "74478856420227812350425"


def material(status: Any, **extra: Any) -> dict[str, Any]:
    info = {"material_id": "7001", "folder_id": "0", "byte_url": "", "audit_status": status}
    info.update(extra)
    return info


@pytest.mark.parametrize("flat", [False, True], ids=["material_info", "flat"])
@pytest.mark.parametrize("status", [1, 2, "1", "2"])
def test_audit_pending(status: Any, flat: bool) -> None:
    info = material(status)
    data = info if flat else {"material_info": info}
    out = ADAPTER.parse_response(answer({"code": 0, "message": "ok", "data": data}))
    assert not out.ok
    assert out.category is Category.AUDIT_PENDING
    assert out.pending_id == "7001"
    assert out.audit_status == int(status)
    assert not out.retryable
    assert out.zh
    assert out.en


def test_audit_passed() -> None:
    info = material(3, byte_url="https://p3-aio.ecombdimg.com/obj/x")
    out = ADAPTER.parse_response(answer({"code": 0, "data": {"material_info": info}}))
    assert out == Outcome(
        ok=True, url="https://p3-aio.ecombdimg.com/obj/x", image_id="7001", audit_status=3, raw=info
    )


def test_audit_rejected() -> None:
    info = material(4, audit_reject_desc="图片涉嫌违规")
    out = ADAPTER.parse_response(answer({"code": 0, "data": {"material_info": info}}))
    assert not out.ok
    assert out.category is Category.AUDIT_REJECTED
    assert out.message == "图片涉嫌违规"
    assert out.audit_status == 4
    assert not out.retryable


@pytest.mark.parametrize(
    "data",
    [None, {}, {"material_info": None}, {"folder_id": "0"}],
    ids=["none", "empty", "null-info", "no-id"],
)
def test_success_without_the_material_is_looked_up(data: Any) -> None:
    # Code 0 says it was stored; the details are missing: a look-up settles it.
    out = ADAPTER.parse_response(answer({"code": 0, "message": "ok", "data": data}))
    assert not out.ok
    assert (out.category, out.code, out.maybe_stored) == (Category.TRANSIENT, "no_url", True)


def test_an_odd_audit_status_is_unknown() -> None:
    out = ADAPTER.parse_response(answer({"code": 0, "data": {"material_info": material(9)}}))
    assert (out.ok, out.category, out.retryable) == (False, Category.UNKNOWN, False)


def test_passed_without_byte_url_is_looked_up_by_its_id() -> None:
    out = ADAPTER.parse_response(answer({"code": 0, "data": material(3)}))
    assert (out.category, out.code, out.maybe_stored) == (Category.TRANSIENT, "no_url", True)


# --- answers: errors ----------------------------------------------------------------------------


def error(code: int | str, sub_code: str = "", sub_msg: str = "") -> dict[str, Any]:
    return {"code": code, "message": "业务处理失败", "sub_code": sub_code, "sub_msg": sub_msg}


def _is_main(key: str) -> bool:
    return key.isdigit()


@pytest.mark.parametrize("key", sorted(CODES.rules), ids=str)
def test_every_code_table_entry(key: str) -> None:
    rule = CODES.rules[key]
    # Sub-codes are paired with 50002, whose own rule (unknown) the sub-code must override.
    body = error(int(key)) if _is_main(key) else error(50002, key.replace("*", "name"), "详细原因")
    out = ADAPTER.parse_response(answer(body))
    assert not out.ok
    assert out.category is rule.category
    assert out.retryable is rule.retryable
    assert (out.zh, out.en) == (rule.zh, rule.en)
    assert out.code == str(body["code"])
    assert out.sub_code == body["sub_code"]


@pytest.mark.parametrize(
    ("code", "sub_code", "category", "retryable"),
    [
        (40003, "isv.signature-invalid", Category.AUTH, False),
        (40003, "isv.timestamp-invalid", Category.INVALID_INPUT, False),
        (40003, "", Category.AUTH, False),
        (40004, "isv.parameter-invalid:20001", Category.BAD_FORMAT, False),
        (40004, "isv.parameter-invalid:material_name", Category.INVALID_INPUT, False),
        (50002, "isv.business-failed:22001", Category.TOO_LARGE, False),
        (50002, "isv.business-failed:22006", Category.INVALID_INPUT, False),
        (50002, "isv.business-failed:22007", Category.AUDIT_REJECTED, False),
        (50002, "isv.business-failed:10010", Category.TRANSIENT, True),
        (50002, "isv.business-failed:30001", Category.QUOTA, False),
        (50002, "isv.business-failed:30004", Category.PERMISSION, False),
        (50002, "isv.business-failed:31001", Category.INVALID_INPUT, False),
        (50002, "isv.business-failed:99999", Category.UNKNOWN, False),
        (20000, "isp.service-unavailable", Category.TRANSIENT, True),
        (20001, "isp.service-busy", Category.TRANSIENT, True),
        (50002, "isp.remote-error", Category.TRANSIENT, True),
        (30001, "isv.permission-denied", Category.PERMISSION, False),
        (30002, "isv.shop-unauthorized", Category.PERMISSION, False),
        (60000, "isv.frequency-limited", Category.RATE_LIMITED, True),
        ("60000", "", Category.RATE_LIMITED, True),
        (12345, "isv.something-new", Category.UNKNOWN, False),
    ],
)
def test_documented_answers(
    code: int | str, sub_code: str, category: Category, retryable: bool
) -> None:
    out = ADAPTER.parse_response(answer(error(code, sub_code, "原因")))
    assert out.category is category
    assert out.retryable is retryable
    assert out.code == str(code)
    assert out.sub_code == sub_code


def test_error_message_keeps_message_and_sub_msg() -> None:
    body = error(50002, "isv.business-failed:22001", "图片大小超过10M")
    out = ADAPTER.parse_response(answer(body))
    assert out.message == "业务处理失败: 图片大小超过10M"
    assert out.raw == body


def test_non_json_502_is_transient() -> None:
    out = ADAPTER.parse_response(answer("<html>502 Bad Gateway</html>", status=502))
    assert out.category is Category.TRANSIENT
    assert out.retryable
    assert out.code == "HTTP 502"


def test_json_500_without_the_envelope_is_transient() -> None:
    out = ADAPTER.parse_response(answer({"error": "Internal Server Error"}, status=500))
    assert out.category is Category.TRANSIENT
    assert out.retryable


@pytest.mark.parametrize("body", ["not json at all", b"\xff\xfe\x00", "[1, 2]", {"ok": True}])
def test_200_with_garbage_may_have_stored_it(body: Any) -> None:
    # Something took the request and answered nonsense: looked up before any re-send.
    out = ADAPTER.parse_response(answer(body))
    assert not out.ok
    assert out.maybe_stored
    assert out.category is Category.TRANSIENT
    assert out.code == "HTTP 200"


def test_transport_errors() -> None:
    request = httpx.Request("POST", "https://kf.fw199.com/x")
    never = ADAPTER.parse_transport_error(httpx.ConnectError("refused", request=request))
    assert never.category is Category.TRANSIENT
    assert not never.maybe_stored
    lost = ADAPTER.parse_transport_error(httpx.ReadTimeout("slow", request=request))
    assert lost.category is Category.TIMEOUT
    assert lost.maybe_stored
