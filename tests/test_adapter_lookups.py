"""Pure unit tests of the look-ups (``docs/lookups.md``): request shape and answers, no network.

Requests are checked against the document (method, path, parameters) and their signatures
against independent restatements of ``docs/protocols.md`` (TOP, Douyin, Qianmi signing; hashlib/hmac
here, not the adapters' signers).  Answers are canned from the shapes ``docs/lookups.md`` gives.
"""

from __future__ import annotations

import email
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from imgkit.errors import Category, ImgkitError
from imgkit.intake.shops import Shop, load_shops
from imgkit.platforms import declaration, get_adapter, platform_keys
from imgkit.platforms.base import (
    Adapter,
    Candidate,
    Job,
    Lookup,
    Outcome,
    as_int,
    paged_lookup,
    title_filter,
)

BASE = "http://127.0.0.1:8765"
NOW = 1704081600.0  # 2024-01-01 12:00:00 in GMT+8
STAMP = "2024-01-01 12:00:00"
TOP_SECRET, TOP_SESSION = "sbx-top-secret-a", "sbx-session-1"
QM_SECRET, QM_TOKEN = "sbx-qianmi-secret", "sbx-qm-token-1"
VV_TOKEN = "sbx-vv-token-1"
SECRETS = (TOP_SECRET, TOP_SESSION, QM_SECRET, QM_TOKEN, VV_TOKEN, "dd-secret")
TOP_SYSTEM = {"method", "app_key", "session", "timestamp", "v", "format", "sign_method", "sign"}
QM_SYSTEM = {"method", "v", "appKey", "timestamp", "format", "access_token", "sign"}

PICTURE = get_adapter("taobao_picture")
MINIAPP = get_adapter("taobao_miniapp")
TMALL = get_adapter("tmall_item")
QIANMI = get_adapter("qianmi_sku")
DOUDIAN = get_adapter("doudian")
# From the adapters' declarations (every platform has a look-up today).
WITH_LOOKUP = tuple(key for key in platform_keys() if declaration(key).lookup)
DD_SECRET = "dd-secret"


def shop(platform: str, **extra: str) -> Shop:
    tables: dict[str, dict[str, str]] = {
        "taobao_picture": {"shop_id": "sbx_tb_shop_1", "access_token": VV_TOKEN},
        "taobao_miniapp": {"app_key": "21000001", "app_secret": TOP_SECRET, "session": TOP_SESSION},
        "tmall_item": {"app_key": "21000001", "app_secret": TOP_SECRET, "session": TOP_SESSION},
        "qianmi_sku": {"app_key": "10009001", "app_secret": QM_SECRET, "access_token": QM_TOKEN},
        "doudian": {"appid": "app", "app_secret": DD_SECRET, "seller_nick": "38173182"},
    }
    table = {"platform": platform, "base_url": BASE, **tables[platform], **extra}
    return load_shops({"s": table}, environ={})["s"]


def answer(body: Any, status: int = 200, path: str = "/") -> httpx.Response:
    request = httpx.Request("POST", BASE + path)
    if isinstance(body, bytes):
        return httpx.Response(status, content=body, request=request)
    return httpx.Response(status, json=body, request=request)


def multipart_fields(request: httpx.Request) -> dict[str, str]:
    """Text fields of a multipart/form-data body (asserting there is no file part)."""
    content_type = request.headers["content-type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    raw = b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + request.read()
    message = email.message_from_bytes(raw)
    assert message.is_multipart()
    fields: dict[str, str] = {}
    parts = message.get_payload()
    assert isinstance(parts, list)
    for part in parts:
        assert isinstance(part, email.message.Message)
        assert part.get_filename() is None, "a look-up sends no file"
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        assert isinstance(name, str)
        assert isinstance(payload, bytes)
        fields[name] = payload.decode("utf-8")
    return fields


def form_fields(request: httpx.Request) -> dict[str, str]:
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    return dict(parse_qsl(request.read().decode(), keep_blank_values=True))


def top_sign(params: Mapping[str, str], secret: str, method: str) -> str:
    """§1 restated: every text parameter but ``sign`` and empties, byte order, uppercase hex."""
    kept = sorted((k for k, v in params.items() if k != "sign" and v), key=str.encode)
    payload = "".join(k + params[k] for k in kept).encode()
    key = secret.encode()
    if method == "md5":
        return hashlib.md5(key + payload + key).hexdigest().upper()
    digest = hashlib.md5 if method == "hmac" else hashlib.sha256
    return hmac.new(key, payload, digest).hexdigest().upper()


def qianmi_sign(params: Mapping[str, str], secret: str = QM_SECRET) -> str:
    """§4 restated: drop sign/image/file/logo and empties, byte order, SHA-1, uppercase."""
    drop = ("sign", "image", "file", "logo")
    kept = sorted((k for k, v in params.items() if v and k not in drop), key=str.encode)
    joined = "".join(k + params[k] for k in kept)
    return hashlib.sha1((secret + joined + secret).encode()).hexdigest().upper()


def assert_no_secret(*things: object) -> None:
    shown = " ".join(repr(thing) for thing in things)
    for secret in SECRETS:
        assert secret not in shown, shown


def assert_failure(out: Lookup | Outcome, category: Category, code: str, retryable: bool) -> None:
    assert isinstance(out, Outcome), out
    assert not out.ok
    assert out.category is category, out
    assert out.code == code, out
    assert out.retryable is retryable, out
    assert out.zh.strip()
    assert out.en.strip()
    assert_no_secret(out)


# --- the interface -----------------------------------------------------------------------


def test_candidate_and_lookup_are_frozen_values() -> None:
    one = Candidate("7", "http://i/7.jpg", size=10, title="杯子", position=2)
    assert one == Candidate("7", "http://i/7.jpg", 10, "杯子", 2)
    assert Candidate("7", "u").size is None
    assert Candidate("7", "u").position is None
    with pytest.raises(AttributeError):
        one.url = "x"  # type: ignore[misc]
    assert Lookup((one,), complete=False).candidates == (one,)


def test_the_base_default_has_no_lookup() -> None:
    # Every platform has one now; the base class's answer is what a new one starts with.
    job = Job("0", "a.jpg", data=b"\xff\xd8\xff", fmt="jpeg")
    assert Adapter.build_lookup_request(DOUDIAN, job, shop("doudian"), now=NOW) is None
    with pytest.raises(ImgkitError, match="no look-up") as caught:
        Adapter.parse_lookup_response(DOUDIAN, answer({"code": 0}))
    assert caught.value.code == "no_lookup"


@pytest.mark.parametrize("key", platform_keys())
def test_every_platform_says_what_an_unanswered_upload_does(key: str) -> None:
    adapter: Adapter = get_adapter(key)
    policy = adapter.unanswered_policy
    if key in WITH_LOOKUP:
        assert "settled by a look-up" in policy, policy
        assert "docs/lookups.md" in policy, policy
    if key in ("taobao_picture", "taobao_miniapp", "qianmi_sku", "doudian"):  # [choice] ones
        assert "sandbox convention" in policy, policy
        assert "`failed` / `timeout`" in policy, policy
    if declaration(key).replace:
        assert "replace_id" in policy, policy


# --- shared helpers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("白色T恤", "白色T恤"),
        ("杯子(1)", "杯子"),  # may have become 杯子(2) on a clash: 杯子 finds both
        ("杯子(12)", "杯子"),
        ("杯子(0)", "杯子(0)"),  # n >= 1 only (lookups.md)
        ("杯子(1)(2)", "杯子(1)"),  # one mark only: the platform renumbers the last
        ("杯子（1）", "杯子（1）"),  # fullwidth parentheses are not the platform's mark
        ("(3)", ""),  # nothing left: no filter (wider, never narrower)
        ("x" * 60, "x" * 50),
        ("x" * 47 + "(1)" + "yy", "x" * 47),  # cut first: the cut title ends with a mark
    ],
)
def test_title_filter(title: str, expected: str) -> None:
    assert title_filter(title, 50) == expected


def test_as_int_and_paged_lookup() -> None:
    assert [as_int(v) for v in (3, "3", 3.0, "x", None, False, "-1")] == [
        3,
        3,
        3,
        None,
        None,
        None,
        -1,
    ]
    keys = {"id_key": "pic_id", "url_key": "path"}
    assert paged_lookup([], 0, **keys) == Lookup((), True)
    assert paged_lookup(None, None, **keys).complete is False
    assert paged_lookup(None, 2, **keys).complete is False
    assert paged_lookup([], "many", **keys).complete is False
    one = [{"pic_id": 1, "path": "http://i/1"}]
    assert paged_lookup(one, "1", **keys).complete is True
    assert paged_lookup(one, 2, **keys).complete is False
    # An entry that cannot be compared makes "no match" prove nothing.
    broken = paged_lookup([*one, {"pic_id": 2}, {"path": "http://i/3"}, "x"], 4, **keys)
    assert broken == Lookup((Candidate("1", "http://i/1"),), False)


# --- taobao_picture: POST /tool/erps/tbpicture/get -----------------------------------------


def picture_job(filename: str = "白色T恤.jpg", target: str = "0", **options: str) -> Job:
    return Job(target, filename, data=b"\xff\xd8\xff", fmt="jpeg", options=options)


def test_picture_request_shape() -> None:
    request = PICTURE.build_lookup_request(picture_job(), shop("taobao_picture"), now=NOW)
    assert request is not None
    assert request.method == "POST"
    assert str(request.url) == BASE + "/tool/erps/tbpicture/get"
    assert request.headers["authorization"] == f"Bearer {VV_TOKEN}"
    assert form_fields(request) == {
        "shop_id": "sbx_tb_shop_1",
        "vvtype": "2",
        "title": "白色T恤",
        "picture_category_id": "0",
        "page_no": "1",
        "page_size": "100",
    }


def test_picture_request_uses_a_fetched_token() -> None:
    oauth = shop("taobao_picture", access_token="", client_id="cid", client_secret="cs")
    request = PICTURE.build_lookup_request(picture_job(), oauth, now=NOW, token="fetched-1")
    assert request is not None
    assert request.headers["authorization"] == "Bearer fetched-1"


@pytest.mark.parametrize(
    ("job", "fields"),
    [
        (picture_job(title="夏季 新款"), {"title": "夏季 新款"}),
        (picture_job("a.b.png"), {"title": "a.b"}),
        (picture_job(title="长" * 55), {"title": "长" * 50}),
        (picture_job("杯子(2).jpg"), {"title": "杯子"}),
        (
            picture_job("x.jpg", target="1657717355974335419"),
            {"picture_category_id": "1657717355974335419"},
        ),
        (picture_job("x.jpg", target=""), {"picture_category_id": "0"}),
    ],
)
def test_picture_request_filters_as_the_upload_is_stored(job: Job, fields: dict[str, str]) -> None:
    request = PICTURE.build_lookup_request(job, shop("taobao_picture"), now=NOW)
    assert request is not None
    sent = form_fields(request)
    assert {name: sent.get(name) for name in fields} == fields


def test_picture_request_without_a_title_left_sends_no_title() -> None:
    request = PICTURE.build_lookup_request(picture_job("(1).jpg"), shop("taobao_picture"), now=NOW)
    assert request is not None
    assert "title" not in form_fields(request)


def vv_picture(picture_id: int, title: str = "白色T恤", sizes: Any = 2048) -> dict[str, Any]:
    return {
        "picture_id": picture_id,
        "picture_category_id": 0,
        "picture_path": f"http://127.0.0.1:8765/img/p{picture_id}.jpg",
        "title": title,
        "sizes": sizes,
        "pixel": "600x800",
        "status": "unfroze",
        "deleted": "unDeleted",
        "created": "2024-01-01 12:00:00",
        "modified": "2024-01-01 12:00:00",
        "client_type": "client:computer",
    }


def vv_listing(pictures: list[Any], total: Any) -> dict[str, Any]:
    return {
        "code": 0,
        "msg": "success",
        "data": {
            "picture_get_response": {"pictures": {"picture": pictures}, "total_results": total}
        },
    }


def test_picture_success() -> None:
    body = vv_listing([vv_picture(11), vv_picture(12, "白色T恤(1)", "4096")], 2)
    out = PICTURE.parse_lookup_response(answer(body))
    assert out == Lookup(
        (
            Candidate("11", "http://127.0.0.1:8765/img/p11.jpg", 2048, "白色T恤"),
            Candidate("12", "http://127.0.0.1:8765/img/p12.jpg", 4096, "白色T恤(1)"),
        ),
        complete=True,
    )


def test_picture_unreadable_size_is_none() -> None:
    out = PICTURE.parse_lookup_response(answer(vv_listing([vv_picture(11, sizes="2KB")], 1)))
    assert isinstance(out, Lookup)
    assert out.candidates[0].size is None


def test_picture_empty() -> None:
    assert PICTURE.parse_lookup_response(answer(vv_listing([], 0))) == Lookup((), True)


def test_picture_truncated() -> None:
    out = PICTURE.parse_lookup_response(
        answer(vv_listing([vv_picture(n) for n in range(100)], 101))
    )
    assert isinstance(out, Lookup)
    assert len(out.candidates) == 100
    assert out.complete is False


def test_picture_without_a_total_is_not_complete() -> None:
    body = vv_listing([], 0)
    del body["data"]["picture_get_response"]["total_results"]
    assert PICTURE.parse_lookup_response(answer(body)) == Lookup((), False)


@pytest.mark.parametrize(
    ("status", "body", "category", "code", "retryable"),
    [
        (401, {"code": 401, "msg": "未授权"}, Category.AUTH, "401", False),
        (429, {"code": 429, "msg": "请求过于频繁"}, Category.RATE_LIMITED, "429", True),
        (200, {"code": 100, "msg": "参数错误:page_size"}, Category.INVALID_INPUT, "100", False),
        (200, {"code": 103, "msg": "旺旺账号不存在"}, Category.NOT_FOUND, "103", False),
        (200, {"code": 204, "msg": "无该接口权限"}, Category.PERMISSION, "204", False),
        (200, {"code": 204, "msg": "API调用次数不足"}, Category.QUOTA, "204", False),
        (200, {"code": 302, "msg": "店铺未授权"}, Category.PERMISSION, "302", False),
        (200, {"code": 0, "msg": "success", "data": {}}, Category.UNKNOWN, "0", False),
        (500, {"error": "Internal Server Error"}, Category.TRANSIENT, "HTTP 500", True),
    ],
)
def test_picture_failures(
    status: int, body: Any, category: Category, code: str, retryable: bool
) -> None:
    out = PICTURE.parse_lookup_response(answer(body, status))
    assert_failure(out, category, code, retryable)


# --- TOP: system parameters, signing, encoding -------------------------------------------------


def miniapp_job(filename: str = "红色杯子.jpg", **options: str) -> Job:
    return Job("3000000012345", filename, data=b"\xff\xd8\xff", fmt="jpeg", options=options)


def tmall_job(**options: str) -> Job:
    return Job("1489161940", "a.jpg", data=b"\xff\xd8\xff", fmt="jpeg", options=options)


@pytest.mark.parametrize("sign_method", ["md5", "hmac", "hmac-sha256"])
@pytest.mark.parametrize(
    ("adapter", "job", "method"),
    [
        (MINIAPP, miniapp_job(), "taobao.miniapp.trade.picture.get"),
        (TMALL, tmall_job(), "taobao.item.seller.get"),
    ],
    ids=["miniapp", "tmall"],
)
def test_top_request_is_signed_as_the_upload(
    adapter: Adapter, job: Job, method: str, sign_method: str
) -> None:
    request = adapter.build_lookup_request(job, shop(adapter.key, sign_method=sign_method), now=NOW)
    assert request is not None
    assert request.method == "POST"
    assert request.url.path == "/router/rest"
    query = dict(request.url.params)
    assert set(query) == TOP_SYSTEM
    assert query["method"] == method
    assert (query["app_key"], query["session"], query["v"], query["format"]) == (
        "21000001",
        TOP_SESSION,
        "2.0",
        "json",
    )
    assert (query["timestamp"], query["sign_method"]) == (STAMP, sign_method)
    fields = multipart_fields(request)
    assert not set(fields) & set(query)
    assert query["sign"] == top_sign({**query, **fields}, TOP_SECRET, sign_method)


def test_miniapp_request_fields() -> None:
    job = miniapp_job(title="夏季 新款(3)", replace_id="0")
    request = MINIAPP.build_lookup_request(job, shop("taobao_miniapp"), now=NOW)
    assert request is not None
    assert multipart_fields(request) == {
        "miniapp_id": "3000000012345",
        "file_name": "夏季 新款",
        "page_no": "1",
        "page_size": "100",
    }


@pytest.mark.parametrize(
    ("job", "file_name"),
    [
        (miniapp_job(), "红色杯子"),  # the upload's default: the file name's stem
        (miniapp_job(title="主图"), "主图"),
        (miniapp_job(title="题" * 51), "题" * 50),
    ],
)
def test_miniapp_request_file_name(job: Job, file_name: str) -> None:
    request = MINIAPP.build_lookup_request(job, shop("taobao_miniapp"), now=NOW)
    assert request is not None
    assert multipart_fields(request)["file_name"] == file_name


def test_tmall_request_fields() -> None:
    job = tmall_job(position="3", is_major="true", replace_id="0")
    request = TMALL.build_lookup_request(job, shop("tmall_item"), now=NOW)
    assert request is not None
    assert multipart_fields(request) == {"num_iid": "1489161940", "fields": "num_iid,item_img"}


@pytest.mark.parametrize("value", ["true", "1", "是"])
def test_tmall_has_no_lookup_for_a_3_4_image(value: str) -> None:
    # taobao.item.seller.get does not list is_rectangle images: "no match" would lie.
    job = tmall_job(is_rectangle=value)
    assert TMALL.build_lookup_request(job, shop("tmall_item"), now=NOW) is None
    listed = TMALL.build_lookup_request(
        tmall_job(is_rectangle="false"), shop("tmall_item"), now=NOW
    )
    assert listed is not None


def test_top_request_refuses_an_unknown_sign_method() -> None:
    with pytest.raises(ImgkitError, match="sign_method"):
        TMALL.build_lookup_request(tmall_job(), shop("tmall_item", sign_method="sha1"), now=NOW)


# --- taobao_miniapp answers --------------------------------------------------------------------


def miniapp_model(pic_id: int, title: str = "红色杯子", sizes: Any = 5120) -> dict[str, Any]:
    return {
        "pic_id": pic_id,
        "path": f"http://127.0.0.1:8765/img/m{pic_id}.jpg",
        "title": title,
        "sizes": sizes,
        "pixel": "600x800",
        "status": "normal",
        "deleted": False,
        "created": "2024-01-01 12:00:00",
        "modified": "2024-01-01 12:00:00",
    }


def miniapp_listing(models: list[Any], total: Any, success: Any = True) -> dict[str, Any]:
    result = {"success": success, "total": total, "models": {"picture": models}}
    return {"miniapp_trade_picture_get_response": {"result": result, "request_id": "r1"}}


def test_miniapp_success() -> None:
    body = miniapp_listing([miniapp_model(3), miniapp_model(8, "红色杯子(1)", "77")], 2)
    out = MINIAPP.parse_lookup_response(answer(body))
    assert out == Lookup(
        (
            Candidate("3", "http://127.0.0.1:8765/img/m3.jpg", 5120, "红色杯子"),
            Candidate("8", "http://127.0.0.1:8765/img/m8.jpg", 77, "红色杯子(1)"),
        ),
        complete=True,
    )


def test_miniapp_empty() -> None:
    assert MINIAPP.parse_lookup_response(answer(miniapp_listing([], 0))) == Lookup((), True)
    # A gateway that leaves the empty list out says as much with total 0.
    bare = {"miniapp_trade_picture_get_response": {"result": {"success": True, "total": 0}}}
    assert MINIAPP.parse_lookup_response(answer(bare)) == Lookup((), True)


def test_miniapp_truncated() -> None:
    body = miniapp_listing([miniapp_model(n) for n in range(1, 101)], 250)
    out = MINIAPP.parse_lookup_response(answer(body))
    assert isinstance(out, Lookup)
    assert (len(out.candidates), out.complete) == (100, False)


@pytest.mark.parametrize(
    ("body", "category", "code", "retryable"),
    [
        (
            miniapp_listing([], 0, success=False),
            Category.UNKNOWN,
            "",
            False,
        ),
        (
            {
                "miniapp_trade_picture_get_response": {
                    "result": {"success": False, "err_code": 2001, "err_message": "小程序不存在"}
                }
            },
            Category.NOT_FOUND,
            "2001",
            False,
        ),
        (
            {"error_response": {"code": 27, "msg": "Invalid session", "request_id": "r"}},
            Category.AUTH,
            "27",
            False,
        ),
        (
            {
                "error_response": {
                    "code": 40,
                    "msg": "Missing required arguments",
                    "sub_code": "isv.missing-parameter:miniapp_id",
                }
            },
            Category.INVALID_INPUT,
            "40",
            False,
        ),
        (
            {"miniapp_trade_picture_get_response": {"result": {"total": 0}}},
            Category.UNKNOWN,
            "no_success",
            False,
        ),
        (
            {"miniapp_trade_picture_get_response": {"request_id": "r"}},
            Category.UNKNOWN,
            "no_result",
            False,
        ),
        # The upload's root is not the look-up's answer.
        (
            {"miniapp_trade_picture_upload_response": {"result": {"success": True}}},
            Category.TRANSIENT,
            "HTTP 200",
            True,
        ),
    ],
)
def test_miniapp_failures(body: Any, category: Category, code: str, retryable: bool) -> None:
    out = MINIAPP.parse_lookup_response(answer(body))
    assert isinstance(out, Outcome), out
    assert out.category is category, out
    assert out.code == code, out
    assert out.retryable is retryable
    assert_no_secret(out)


def test_top_ban_carries_its_retry_after() -> None:
    body = {
        "error_response": {
            "code": 7,
            "msg": "App Call Limited",
            "sub_code": "accesscontrol.limited-by-api-access-count",
            "sub_msg": "This ban will last for 3 more seconds",
        }
    }
    out = MINIAPP.parse_lookup_response(answer(body))
    assert_failure(out, Category.RATE_LIMITED, "7", True)
    assert isinstance(out, Outcome)
    assert out.retry_after == 3.0


# --- tmall_item answers -----------------------------------------------------------------------


def item_listing(images: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"num_iid": 1489161940}
    if images is not None:
        item["item_imgs"] = {"item_img": images}
    return {"item_seller_get_response": {"item": item, "request_id": "r1"}}


def item_img(image_id: int, position: int) -> dict[str, Any]:
    return {
        "id": image_id,
        "url": f"http://127.0.0.1:8765/img/t{image_id}.jpg",
        "position": position,
        "created": "2024-01-01 12:00:00",
    }


def test_tmall_success_lists_the_main_image_as_id_0() -> None:
    out = TMALL.parse_lookup_response(answer(item_listing([item_img(0, 0), item_img(101, 1)])))
    assert out == Lookup(
        (
            Candidate("0", "http://127.0.0.1:8765/img/t0.jpg", position=0),
            Candidate("101", "http://127.0.0.1:8765/img/t101.jpg", position=1),
        ),
        complete=True,
    )


def test_tmall_empty() -> None:
    assert TMALL.parse_lookup_response(answer(item_listing([]))) == Lookup((), True)


def test_tmall_unreadable_entry_is_not_complete() -> None:
    out = TMALL.parse_lookup_response(answer(item_listing([item_img(0, 0), {"id": 5}])))
    assert out == Lookup((Candidate("0", "http://127.0.0.1:8765/img/t0.jpg", position=0),), False)


@pytest.mark.parametrize(
    ("body", "category", "code", "retryable"),
    [
        (
            {
                "error_response": {
                    "code": 15,
                    "msg": "Remote service error",
                    "sub_code": "isv.item-get-service-error:ITEM_NOT_FOUND",
                    "sub_msg": "没有找到宝贝",
                }
            },
            Category.NOT_FOUND,
            "15",
            False,
        ),
        (
            {
                "error_response": {
                    "code": 40,
                    "msg": "Missing required arguments",
                    "sub_code": "isv.missing-parameter:fields",
                }
            },
            Category.INVALID_INPUT,
            "40",
            False,
        ),
        (
            {"error_response": {"code": 15, "msg": "x", "sub_code": "isp.remote-service-error"}},
            Category.TRANSIENT,
            "15",
            True,
        ),
        (
            {"error_response": {"code": 25, "msg": "Invalid signature"}},
            Category.AUTH,
            "25",
            False,
        ),
        # fields=item_img always lists the images ([] when none): no list proves nothing.
        (item_listing(None), Category.UNKNOWN, "no_item_imgs", False),
        (
            {"item_seller_get_response": {"request_id": "r"}},
            Category.UNKNOWN,
            "no_item_imgs",
            False,
        ),
    ],
)
def test_tmall_failures(body: Any, category: Category, code: str, retryable: bool) -> None:
    assert_failure(TMALL.parse_lookup_response(answer(body)), category, code, retryable)


# --- qianmi_sku: qianmi.cloudshop.sku.images.get -------------------------------------------------


def test_qianmi_request_shape_and_signature() -> None:
    job = Job("18353/g1234", "a.jpg", data=b"\xff\xd8\xff", fmt="jpeg", options={"position": "2"})
    request = QIANMI.build_lookup_request(job, shop("qianmi_sku"), now=NOW)
    assert request is not None
    assert request.method == "POST"
    assert request.url.path == "/api"
    query = dict(parse_qsl(request.url.query.decode()))
    assert set(query) == QM_SYSTEM
    assert query["method"] == "qianmi.cloudshop.sku.images.get"
    assert (query["v"], query["appKey"], query["format"]) == ("1.1", "10009001", "json")
    assert (query["timestamp"], query["access_token"]) == (STAMP, QM_TOKEN)
    body = form_fields(request)
    assert body == {"num_iid": "18353", "sku_id": "g1234", "fields": "id,url,position,created"}
    assert query["sign"] == qianmi_sign({**query, **body})


def test_qianmi_request_uses_the_given_token() -> None:
    request = QIANMI.build_lookup_request(
        Job("18353/g1234", "a.jpg"), shop("qianmi_sku"), now=NOW, token="tok-2"
    )
    assert request is not None
    query = dict(request.url.params)
    assert query["access_token"] == "tok-2"
    assert query["sign"] == qianmi_sign({**query, **form_fields(request)})


def test_qianmi_request_refuses_a_bad_target_without_secrets() -> None:
    with pytest.raises(ImgkitError) as caught:
        QIANMI.build_lookup_request(Job("18353", "a.jpg"), shop("qianmi_sku"), now=NOW)
    assert caught.value.category is Category.INVALID_INPUT
    assert caught.value.code == "bad_target"
    assert_no_secret(str(caught.value), caught.value)


def sku_listing(images: Any, total: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {"total_results": total}
    if images is not None:
        answer["sku_imgs"] = {"sku_img": images}
    return {"sku_images_get_response": answer}


def sku_img(image_id: str, position: int) -> dict[str, Any]:
    return {
        "id": image_id,
        "url": f"http://127.0.0.1:8765/img/q{image_id}.jpg",
        "position": position,
        "created": "2024-01-01 12:00:00",
    }


def test_qianmi_success() -> None:
    out = QIANMI.parse_lookup_response(answer(sku_listing([sku_img("a1", 0), sku_img("a2", 1)], 2)))
    assert out == Lookup(
        (
            Candidate("a1", "http://127.0.0.1:8765/img/qa1.jpg", position=0),
            Candidate("a2", "http://127.0.0.1:8765/img/qa2.jpg", position=1),
        ),
        complete=True,
    )


def test_qianmi_empty() -> None:
    assert QIANMI.parse_lookup_response(answer(sku_listing([], 0))) == Lookup((), True)
    assert QIANMI.parse_lookup_response(answer(sku_listing(None, 0))) == Lookup((), True)
    assert QIANMI.parse_lookup_response(answer(sku_listing([], "0"))) == Lookup((), True)


def test_qianmi_truncated() -> None:
    images = [sku_img(f"a{n}", n) for n in range(5)]
    out = QIANMI.parse_lookup_response(answer(sku_listing(images, 6)))
    assert isinstance(out, Lookup)
    assert (len(out.candidates), out.complete) == (5, False)
    unreadable = QIANMI.parse_lookup_response(answer(sku_listing(images, "lots")))
    assert isinstance(unreadable, Lookup)
    assert unreadable.complete is False


def seed_error(code: str, sub_code: str, message: str = "") -> dict[str, Any]:
    return {
        "errorToken": "@@$-ERROR_TOKEN$-@@",
        "code": code,
        "message": message or "业务逻辑出错",
        "solution": "",
        "subErrors": {"subError": [{"code": sub_code, "message": "…"}]},
    }


_SKU = "isv.qianmi-cloudshop-sku-image-upload-service-error:"


@pytest.mark.parametrize(
    ("body", "category", "code", "sub_code", "retryable"),
    [
        (seed_error("9", _SKU + "01030001"), Category.NOT_FOUND, "9", _SKU + "01030001", False),
        (seed_error("9", _SKU + "01030002"), Category.NOT_FOUND, "9", _SKU + "01030002", False),
        (
            seed_error("25", "isv.invalid-signature"),
            Category.AUTH,
            "25",
            "isv.invalid-signature",
            False,
        ),
        (seed_error("37", ""), Category.RATE_LIMITED, "37", "", True),
        (
            seed_error("1", "isp.service-unavailable"),
            Category.TRANSIENT,
            "1",
            "isp.service-unavailable",
            True,
        ),
        (
            {"error_response": {"code": 21, "msg": "Invalid access_token", "sub_code": ""}},
            Category.AUTH,
            "21",
            "",
            False,
        ),
        (sku_listing(None, 2), Category.UNKNOWN, "no_sku_imgs", "", False),
        (sku_listing(None, None), Category.UNKNOWN, "no_sku_imgs", "", False),
    ],
)
def test_qianmi_failures(
    body: Any, category: Category, code: str, sub_code: str, retryable: bool
) -> None:
    out = QIANMI.parse_lookup_response(answer(body))
    assert_failure(out, category, code, retryable)
    assert isinstance(out, Outcome)
    assert out.sub_code == sub_code


# --- doudian: POST /gateway/dd/material/searchMaterial ----------------------------------------


def fw199_sign(params: Mapping[str, str], secret: str = DD_SECRET) -> str:
    """§2 restated: every text parameter but ``sign``, empties kept, byte order, lowercase."""
    joined = "".join(k + params[k] for k in sorted(params, key=str.encode) if k != "sign")
    return hashlib.md5((secret + joined + secret).encode()).hexdigest()


@pytest.mark.parametrize(
    ("job", "name", "folder"),
    [
        (
            Job("73691281073984637961425", "白色 杯子.jpg", data=b"x"),
            "白色 杯子.jpg",
            "73691281073984637961425",
        ),
        (Job("", "a.png", options={"title": "主图"}), "主图", "0"),  # "0": the root, as the upload
        (Job(" 0 ", "x" * 60 + ".jpg"), "x" * 46 + ".jpg", "0"),  # cut as the upload cuts it
        (Job("0", "a.jpg", options={"need_distinct": "true"}), "a.jpg", "0"),
    ],
)
def test_doudian_request_is_signed_and_filtered_as_the_upload(
    job: Job, name: str, folder: str
) -> None:
    request = DOUDIAN.build_lookup_request(job, shop("doudian"), now=NOW)
    assert request is not None
    assert (request.method, str(request.url)) == (
        "POST",
        BASE + "/gateway/dd/material/searchMaterial",
    )
    fields = form_fields(request)
    assert fields == {
        "appid": "app",
        "timestamp": "1704081600",
        "seller_nick": "38173182",
        "material_name": name,
        "folder_id": folder,
        "material_type": "photo",
        "page_num": "1",
        "page_size": "100",
        "sign": fw199_sign(fields),
    }
    upload = form_fields(
        DOUDIAN.build_request(
            replace(job, data=None, source_url="http://i/a.jpg"), shop("doudian"), now=NOW
        )
    )
    assert (upload["material_name"], upload["folder_id"]) == (name, folder)
    assert_no_secret(request.url, fields)


def dd_material(material_id: str, status: int = 3, **fields: Any) -> dict[str, Any]:
    """A listed material as the upload's ``material_info`` (the seed's fields)."""
    url = f"http://127.0.0.1:8765/img/d{material_id}.jpg" if status == 3 else ""
    base = {
        "material_id": material_id,
        "folder_id": "0",
        "origin_url": "",
        "byte_url": url,
        "materil_name": "杯子.jpg",
        "material_type": "photo",
        "operate_status": 1,
        "audit_status": status,
        "audit_reject_desc": "违规" if status == 4 else "",
        "size": 11264,
        "photo_info": {"height": 350, "width": 339, "format": "jpeg"},
        "video_info": None,
        "create_time": STAMP,
        "update_time": STAMP,
        "delete_time": "",
    }
    return base | fields


def dd_listing(items: Any, total: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"total": total}
    if items is not None:
        data["material_info_list"] = items
    return {"code": 0, "message": "ok", "data": data, "trace_id": ""}


def dd_lookup(items: Any, total: Any) -> Lookup:
    out = DOUDIAN.parse_lookup_response(answer(dd_listing(items, total)))
    assert isinstance(out, Lookup), out
    return out


def test_doudian_passed_materials_are_candidates_without_a_size() -> None:
    # The listed size is whole KB (seed: 11264 for a 10411-byte image): bytes decide.
    sdk_spelling = dd_material("8", material_name="杯子(SDK).jpg")
    del sdk_spelling["materil_name"]
    out = dd_lookup([dd_material("7"), sdk_spelling], 2)
    assert out == Lookup(
        (
            Candidate("7", "http://127.0.0.1:8765/img/d7.jpg", None, "杯子.jpg"),
            Candidate("8", "http://127.0.0.1:8765/img/d8.jpg", None, "杯子(SDK).jpg"),
        ),
        complete=True,
        pending=False,
    )


@pytest.mark.parametrize(
    "item",
    [
        pytest.param(dd_material("9", 1), id="waiting"),
        pytest.param(dd_material("9", 2), id="auditing"),
        pytest.param(dd_material("9", 1, audit_status="1"), id="status-as-text"),
        pytest.param(dd_material("9", 3, operate_status=0, byte_url=""), id="not-downloaded"),
    ],
)
def test_doudian_a_material_under_audit_makes_the_lookup_pending(item: dict[str, Any]) -> None:
    out = dd_lookup([dd_material("7"), item], 2)
    assert out.pending is True
    assert out.complete is True
    assert [c.image_id for c in out.candidates] == ["7"]  # a passed one still settles it


def test_doudian_rejected_materials_are_neither_candidates_nor_pending() -> None:
    assert dd_lookup([dd_material("4", 4)], 1) == Lookup((), complete=True, pending=False)


def test_doudian_empty_and_truncated() -> None:
    assert dd_lookup([], 0) == Lookup((), True)
    assert dd_lookup(None, 0) == Lookup((), True)
    assert dd_lookup([], "0") == Lookup((), True)
    assert dd_lookup(None, 3).complete is False
    assert dd_lookup([dd_material("7")], 101).complete is False  # more than one page
    assert dd_lookup([dd_material("7")], None).complete is False
    assert dd_lookup([dd_material("7")], "many").complete is False


@pytest.mark.parametrize(
    "broken",
    [
        pytest.param("x", id="not-an-object"),
        pytest.param(dd_material(""), id="no-id"),
        pytest.param(dd_material("9", 3, byte_url=""), id="passed-without-url"),
        pytest.param(dd_material("9", 5), id="unknown-status"),
        pytest.param(dd_material("9", 3, audit_status=None), id="no-status"),
    ],
)
def test_doudian_unreadable_entries_make_it_incomplete(broken: Any) -> None:
    out = dd_lookup([dd_material("7"), broken], 2)
    assert out.complete is False
    assert [c.image_id for c in out.candidates] == ["7"]


def dd_error(code: int, sub_code: str, sub_msg: str = "…") -> dict[str, Any]:
    return {"code": code, "message": "失败", "sub_code": sub_code, "sub_msg": sub_msg}


@pytest.mark.parametrize(
    ("body", "category", "code", "retryable"),
    [
        (dd_error(40003, "isv.signature-invalid"), Category.AUTH, "40003", False),
        (dd_error(40003, "isv.timestamp-invalid"), Category.INVALID_INPUT, "40003", False),
        (
            dd_error(40004, "isv.parameter-invalid:folder_id"),
            Category.INVALID_INPUT,
            "40004",
            False,
        ),
        (dd_error(60000, "isv.frequency-limited"), Category.RATE_LIMITED, "60000", True),
        (dd_error(20000, "isp.service-unavailable"), Category.TRANSIENT, "20000", True),
        (dd_error(30002, "isv.shop-unauthorized"), Category.PERMISSION, "30002", False),
        ({"code": 0, "message": "ok"}, Category.UNKNOWN, "0", False),
        ({"code": 0, "message": "ok", "data": []}, Category.UNKNOWN, "0", False),
    ],
)
def test_doudian_failures(body: Any, category: Category, code: str, retryable: bool) -> None:
    out = DOUDIAN.parse_lookup_response(answer(body))
    assert_failure(out, category, code, retryable)


# --- malformed answers, every platform ------------------------------------------------------


@pytest.mark.parametrize("key", WITH_LOOKUP)
@pytest.mark.parametrize(
    ("status", "content", "category", "retryable"),
    [
        (200, b'{"truncated": ', Category.TRANSIENT, True),
        (200, b"\xff\xfe not utf-8", Category.TRANSIENT, True),
        (200, b"[1, 2, 3]", Category.TRANSIENT, True),
        (200, b"", Category.TRANSIENT, True),
        (502, b"<html><body>502 Bad Gateway</body></html>", Category.TRANSIENT, True),
        (404, b"Not Found", Category.INVALID_INPUT, False),
    ],
)
def test_malformed_answers_are_classified(
    key: str, status: int, content: bytes, category: Category, retryable: bool
) -> None:
    out = get_adapter(key).parse_lookup_response(answer(content, status))
    assert_failure(out, category, f"HTTP {status}", retryable)


@pytest.mark.parametrize("key", WITH_LOOKUP)
def test_a_stranger_json_is_not_a_listing(key: str) -> None:
    out = get_adapter(key).parse_lookup_response(answer(json.loads('{"hello": "world"}')))
    assert isinstance(out, Outcome)
    assert out.category is Category.TRANSIENT  # asked again: a proxy's page is not an answer
    assert not out.ok
