"""Pure unit tests of the vv-tool picture-space adapter and of the shared adapter base."""

from __future__ import annotations

import email
from typing import Any

import httpx
import pytest

from imgkit import Category, ImgkitError, load_shops
from imgkit.platforms.base import CodeRule, CodeTable, Job
from imgkit.platforms.taobao_picture import CODES, TaobaoPictureAdapter

ADAPTER = TaobaoPictureAdapter()
SHOPS = load_shops(
    {
        "token": {
            "platform": "taobao_picture",
            "base_url": "http://127.0.0.1:9",
            "shop_id": "111",
            "access_token": "tok-1",
        },
        "cc": {
            "platform": "taobao_picture",
            "shop_id": "222",
            "client_id": "cid",
            "client_secret": "csecret",
        },
    },
    environ={},
)
JOB = Job(target="0", filename="白色 T恤.jpg", data=b"\xff\xd8\xffdata", fmt="jpeg")
REQUEST = httpx.Request("POST", "http://127.0.0.1:9/tool/erps/tbpicture")

# The seed page's sample answer (000_…txt), with its stray braces mended.
SEED_SUCCESS = {
    "code": 0,
    "msg": "操作成功",
    "msec": 1469,
    "time": 1617270403,
    "data": {
        "withholding_money": 4,
        "picture_upload_response": {
            "picture": {
                "picture_id": 123,
                "picture_category_id": 12,
                "picture_path": "http://img07.taobaocdn.com/imgextra/i7/22670458/T2dD0kXb4cXXXXXXXX_!!22670458.jpg",
                "title": "title",
                "sizes": 100,
                "pixel": "450x150",
                "status": "unfroze",
                "deleted": "deleted",
                "created": "2000-01-01 00:00:00",
                "modified": "2000-01-01 00:00:00",
                "client_type": "client:computer",
            }
        },
    },
}


def answer(body: Any, status: int = 200) -> httpx.Response:
    if isinstance(body, bytes):
        return httpx.Response(status, content=body, request=REQUEST)
    return httpx.Response(status, json=body, request=REQUEST)


def form_parts(request: httpx.Request) -> dict[str, Any]:
    raw = b"Content-Type: " + request.headers["content-type"].encode() + b"\r\n\r\n"
    message = email.message_from_bytes(raw + request.read())
    out: dict[str, Any] = {}
    parts = message.get_payload()
    assert isinstance(parts, list)
    for part in parts:
        assert isinstance(part, email.message.Message)
        name = part.get_param("name", header="content-disposition")
        assert isinstance(name, str)
        out[name] = (part.get_filename(), part.get_payload(decode=True))
    return out


def test_request_is_multipart_with_bearer_and_the_documented_fields() -> None:
    options = {"title": "白色T恤", "client_type": "phone", "is_https": "是"}
    job = Job(JOB.target, JOB.filename, JOB.data, JOB.fmt, options=options)
    request = ADAPTER.build_request(job, SHOPS["token"], now=0)
    assert str(request.url) == "http://127.0.0.1:9/tool/erps/tbpicture"
    assert request.headers["authorization"] == "Bearer tok-1"
    parts = form_parts(request)
    assert parts["img"][1] == JOB.data
    assert 'filename="白色 T恤.jpg"'.encode() in request.read()  # raw UTF-8, no RFC 2231
    fields = {k: v[1].decode() for k, v in parts.items() if k != "img"}
    assert fields == {
        "shop_id": "111",
        "picture_category_id": "0",
        "image_input_title": "白色 T恤.jpg",
        "vvtype": "2",
        "title": "白色T恤",
        "client_type": "client:phone",
        "is_https": "true",
    }


def test_default_endpoint_and_fetched_token() -> None:
    request = ADAPTER.build_request(JOB, SHOPS["cc"], now=0, token="fetched")
    assert str(request.url) == "http://api.vv-tool.com/tool/erps/tbpicture"
    assert request.headers["authorization"] == "Bearer fetched"


def test_token_request_only_for_client_credentials() -> None:
    assert ADAPTER.token_request(SHOPS["token"]) is None
    request = ADAPTER.token_request(SHOPS["cc"])
    assert request is not None
    assert str(request.url) == "http://api.vv-tool.com/api/proxy/oauth/token"
    assert request.read() == b"grant_type=client_credentials&client_id=cid&client_secret=csecret"


def test_token_response_and_refusal() -> None:
    ok = {"code": 0, "data": {"access_token": "t", "token_type": "Bearer", "expires_in": 7200}}
    assert ADAPTER.parse_token_response(answer(ok)) == ("t", 7200.0)
    with pytest.raises(ImgkitError, match="refused the client credentials") as info:
        ADAPTER.parse_token_response(answer({"code": 401, "msg": "未授权"}, 401))
    assert info.value.category is Category.AUTH
    assert "csecret" not in str(info.value)


@pytest.mark.parametrize(
    "data",
    [
        {"access_token": "t", "expires_in": [3600]},
        {"access_token": "t", "expires_in": {"s": 1}},
        {"access_token": "t", "expires_in": 10**400},
        {"access_token": "t", "expires_in": "soon"},
        {"access_token": "", "expires_in": 7200},
    ],
    ids=["list", "object", "huge", "text", "no-token"],
)
def test_a_garbled_token_answer_is_a_plain_error(data: dict[str, Any]) -> None:
    with pytest.raises(ImgkitError) as info:
        ADAPTER.parse_token_response(answer({"code": 0, "data": data}))
    assert info.value.code == "bad_token_answer"


def test_a_token_answer_without_its_lifetime_is_used_once() -> None:
    body = {"code": 0, "data": {"access_token": "t"}}
    assert ADAPTER.parse_token_response(answer(body)) == ("t", 0.0)


def test_seed_success_sample() -> None:
    out = ADAPTER.parse_response(answer(SEED_SUCCESS))
    assert out.ok
    assert out.image_id == "123"
    assert out.url.endswith("22670458.jpg")
    assert out.raw["pixel"] == "450x150"


@pytest.mark.parametrize("key", sorted(CODES.rules))
def test_every_code_table_entry_is_reachable(key: str) -> None:
    code, _, cause = key.partition(":")
    message = {
        "too_large": "请求参数错误:图片大小不能超过3M",
        "bad_format": "请求参数错误:图片格式不正确",
        "bad_dimensions": "请求参数错误:client:phone 图片宽度须在480-620之间",
        "quota": "请求异常:API 调用次数不足,请前往网站兑换次数。",
        "": "请求参数错误",
    }[cause]
    status = int(code) if code in ("401", "429") else 200
    out = ADAPTER.parse_response(answer({"code": int(code), "msg": message}, status))
    rule = CODES.rules[key]
    assert (out.ok, out.category, out.retryable) == (False, rule.category, rule.retryable)
    assert out.code == code
    assert out.message == message
    assert out.zh
    assert out.en


@pytest.mark.parametrize(
    ("status", "body", "category", "retryable"),
    [
        (502, b"<html>Bad Gateway</html>", Category.TRANSIENT, True),
        (500, {"error": "Internal Server Error"}, Category.TRANSIENT, True),
        (200, b"not json", Category.TRANSIENT, True),
        (200, {"unexpected": True}, Category.TRANSIENT, True),
        (200, {"code": 0, "msg": "ok", "data": {}}, Category.TRANSIENT, True),
        (200, {"code": 999, "msg": "?"}, Category.UNKNOWN, False),
        (429, b"slow down", Category.RATE_LIMITED, True),
    ],
)
def test_answers_that_are_not_the_platform_speaking(
    status: int, body: Any, category: Category, retryable: bool
) -> None:
    out = ADAPTER.parse_response(answer(body, status))
    assert (out.ok, out.category, out.retryable) == (False, category, retryable)
    assert out.zh
    assert out.en


@pytest.mark.parametrize(
    ("error", "category", "maybe_stored"),
    [
        (httpx.ConnectError("refused"), Category.TRANSIENT, False),
        (httpx.ReadTimeout("slow"), Category.TIMEOUT, True),
        (httpx.RemoteProtocolError("Server disconnected"), Category.TIMEOUT, True),
    ],
)
def test_no_answer(error: httpx.TransportError, category: Category, maybe_stored: bool) -> None:
    out = ADAPTER.parse_transport_error(error)
    assert (out.category, out.retryable, out.maybe_stored) == (category, True, maybe_stored)


def test_retry_safety_only_for_replace_by_id() -> None:
    assert not ADAPTER.retry_safe(JOB)
    assert ADAPTER.retry_safe(Job("0", "a.jpg", options={"replace_id": "5"}))


def test_code_table_tries_each_candidate_fully_before_the_next() -> None:
    table = CodeTable(
        {
            "9": CodeRule(Category.UNKNOWN, False, "", ""),
            "isp.*": CodeRule(Category.TRANSIENT, True, "", ""),
        }
    )
    rule = table.lookup("isp.remote", "9")
    assert rule is not None
    assert rule.category is Category.TRANSIENT
    assert table.lookup("", "nope") is None
