"""Pure unit tests of the TOP adapters (``taobao_miniapp``, ``tmall_item``): no network.

Expectations come from ``docs/protocols.md`` (signature vectors, TOP gateway codes), the
seed pages' samples and error lists, and the mini-app ``err_code`` convention of
``docs/sandbox-errors.md``; responses are ``httpx.Response`` objects built by hand.
"""

from __future__ import annotations

import doctest
import fnmatch
import hashlib
import hmac
import re
import time
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

import httpx
import pytest

import imgkit.platforms.taobao_miniapp as miniapp_module
import imgkit.platforms.tmall_item as tmall_module
import imgkit.platforms.top as top_module
from imgkit.errors import Category, ShopConfigError
from imgkit.intake.shops import Shop, load_shops
from imgkit.platforms import get_adapter
from imgkit.platforms.base import Job, Outcome
from imgkit.platforms.taobao_miniapp import TaobaoMiniappAdapter
from imgkit.platforms.tmall_item import TmallItemAdapter
from imgkit.platforms.top import TopAdapter, ban_seconds, response_key, sign, top_timestamp
from imgkit.secret import Secret

TMALL = TmallItemAdapter()
MINIAPP = TaobaoMiniappAdapter()
BASE = "http://127.0.0.1:8765"
# 2024-01-01 12:00:00 in GMT+8.
NOW = 1704081600.0
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\r\n--not-a-boundary\r\n\x00\xff\xd9"
SYSTEM = {"method", "app_key", "session", "timestamp", "v", "format", "sign_method", "sign"}


def _shop(platform: str, base_url: str = BASE, **extra: str) -> Shop:
    table: dict[str, str] = {
        "platform": platform,
        "app_key": "21000001",
        "app_secret": "sbx-top-secret-a",
        "session": "sbx-session-1",
        **extra,
    }
    if base_url:
        table["base_url"] = base_url
    return load_shops({"s": table})["s"]


def _multipart(request: httpx.Request) -> dict[str, tuple[str | None, str, bytes]]:
    """name → (filename, content type, value) of a multipart/form-data body."""
    content_type = request.headers["content-type"]
    assert content_type.startswith("multipart/form-data")
    boundary = content_type.split("boundary=", 1)[1].encode()
    body = request.read()
    assert body.endswith(b"--" + boundary + b"--\r\n")
    parts: dict[str, tuple[str | None, str, bytes]] = {}
    for chunk in body.split(b"--" + boundary)[1:-1]:
        assert chunk.startswith(b"\r\n")
        assert chunk.endswith(b"\r\n")
        head, _, value = chunk[2:-2].partition(b"\r\n\r\n")
        headers = head.decode("utf-8")
        name = re.search(r'; name="([^"]*)"', headers)
        filename = re.search(r'; filename="([^"]*)"', headers)
        ctype = re.search(r"Content-Type: (\S+)", headers)
        assert name is not None
        parts[name.group(1)] = (
            filename.group(1) if filename else None,
            ctype.group(1) if ctype else "",
            value,
        )
    return parts


def _texts(request: httpx.Request) -> dict[str, str]:
    """Every text parameter of a request: query and body (file parts left out)."""
    params = dict(request.url.params)
    for name, (filename, _, value) in _multipart(request).items():
        if filename is None:
            assert name not in params
            params[name] = value.decode("utf-8")
    return params


def _response(body: Any, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=body, request=httpx.Request("POST", BASE + "/router/rest"))


def _error(code: int | str, sub_code: str = "", msg: str = "", sub_msg: str = "") -> Any:
    error: dict[str, Any] = {"code": code, "msg": msg or "Remote service error"}
    if sub_code:
        error["sub_code"] = sub_code
    if sub_msg:
        error["sub_msg"] = sub_msg
    error["request_id"] = "r1"
    return {"error_response": error}


def _result(**result: Any) -> Any:
    return {"miniapp_trade_picture_upload_response": {"result": result, "request_id": "r1"}}


# --- signing -------------------------------------------------------------------------------

VECTOR = {"foo": "1", "bar": "2", "foo_bar": "3", "foobar": "4"}


@pytest.mark.parametrize(
    ("sign_method", "expected"),
    [
        ("md5", "5AAF1C690262A24768F5478B084C2C8A"),
        ("hmac", "E687005F819D6F9E6ED085311C8ACC75"),
        ("hmac-sha256", "339676BF36C50A8BD3D8F6B4A81B2F9AA614B05BFCFEBEFC169CB830D6B77D3B"),
    ],
)
def test_signature_vectors(sign_method: str, expected: str) -> None:
    assert sign(VECTOR, "helloworld", sign_method) == expected


TMALL_VECTOR = {
    "app_key": "12345678",
    "format": "json",
    "is_major": "true",
    "method": "taobao.item.img.upload.tmall",
    "num_iid": "1001",
    "session": "sess",
    "sign_method": "md5",
    "timestamp": "2024-01-01 12:00:00",
    "v": "2.0",
}


def test_tmall_signature_vector() -> None:
    assert sign(TMALL_VECTOR, "testsecret", "md5") == "A3A427BF0E85CB00589F251876F844B3"


def test_tmall_request_reproduces_the_signature_vector() -> None:
    shop = load_shops(
        {
            "s": {
                "platform": "tmall_item",
                "app_key": "12345678",
                "app_secret": "testsecret",
                "session": "sess",
            }
        }
    )["s"]
    job = Job(target="1001", filename="a.jpg", data=JPEG, fmt="jpeg", options={"is_major": "1"})
    request = TMALL.build_request(job, shop, now=NOW)
    params = _texts(request)
    assert params.pop("sign") == "A3A427BF0E85CB00589F251876F844B3"
    assert params == TMALL_VECTOR


def test_sign_leaves_out_sign_and_empty_values() -> None:
    with_extras = {**VECTOR, "sign": "OLD", "session": ""}
    assert sign(with_extras, "helloworld") == "5AAF1C690262A24768F5478B084C2C8A"


def test_sign_sorts_by_byte_order_and_hashes_utf8() -> None:
    params = {"b": "2", "a": "1", "B": "3", "file_name": "白色T恤"}
    expected_text = "B3a1b2file_name白色T恤"
    md5 = hashlib.md5(("s" + expected_text + "s").encode("utf-8")).hexdigest().upper()
    hmac_md5 = hmac.new(b"s", expected_text.encode("utf-8"), hashlib.md5).hexdigest().upper()
    assert sign(params, "s", "md5") == md5
    assert sign(params, "s", "hmac") == hmac_md5


def test_unknown_sign_method() -> None:
    with pytest.raises(ValueError, match="sha1"):
        sign(VECTOR, "x", "sha1")
    job = Job(target="1", filename="a.jpg", data=JPEG, fmt="jpeg")
    with pytest.raises(ShopConfigError, match="sign_method"):
        TMALL.build_request(job, _shop("tmall_item", sign_method="sha1"), now=NOW)


@pytest.mark.parametrize("sign_method", ["md5", "hmac", "hmac-sha256", "HMAC", ""])
def test_request_signature_verifies(sign_method: str) -> None:
    extra = {"sign_method": sign_method} if sign_method else {}
    shop = _shop("taobao_miniapp", **extra)
    job = Job(
        target="3000000012345",
        filename="白色T恤.jpg",
        data=JPEG,
        fmt="jpeg",
        options={"title": "夏季 新款", "replace_id": "42"},
    )
    params = _texts(MINIAPP.build_request(job, shop, now=NOW))
    assert params["sign_method"] == (sign_method.lower() or "md5")
    assert params["sign"] == sign(params, "sbx-top-secret-a", params["sign_method"])
    assert len(params["sign"]) == (64 if params["sign_method"] == "hmac-sha256" else 32)
    assert params["sign"] == params["sign"].upper()


# --- timestamps ----------------------------------------------------------------------------


@pytest.fixture
def new_york(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    if not hasattr(time, "tzset"):
        pytest.skip("time.tzset is Unix-only")
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        yield
    finally:
        monkeypatch.undo()
        time.tzset()


def test_timestamp_is_gmt8() -> None:
    assert top_timestamp(NOW) == "2024-01-01 12:00:00"
    assert top_timestamp(0) == "1970-01-01 08:00:00"
    assert top_timestamp(NOW + 0.999) == "2024-01-01 12:00:00"


@pytest.mark.usefixtures("new_york")
def test_timestamp_ignores_the_local_zone() -> None:
    assert datetime.fromtimestamp(NOW).hour == 23  # the local zone really is New York
    assert top_timestamp(NOW) == "2024-01-01 12:00:00"
    job = Job(target="1", filename="a.jpg", data=JPEG, fmt="jpeg")
    request = TMALL.build_request(job, _shop("tmall_item"), now=NOW)
    assert request.url.params["timestamp"] == "2024-01-01 12:00:00"


# --- request shape -------------------------------------------------------------------------


def test_tmall_request_shape() -> None:
    job = Job(
        target="1489161932",
        filename='白色 "T"恤.jpg',
        data=JPEG,
        fmt="jpeg",
        options={"replace_id": "0", "position": "3", "is_major": "否", "is_rectangle": "TRUE"},
    )
    request = TMALL.build_request(job, _shop("tmall_item", sign_method="hmac-sha256"), now=NOW)
    assert request.method == "POST"
    assert str(request.url).startswith(BASE + "/router/rest?")
    query = dict(request.url.params)
    assert set(query) == SYSTEM
    assert query["method"] == "taobao.item.img.upload.tmall"
    assert (query["v"], query["format"], query["app_key"]) == ("2.0", "json", "21000001")
    assert query["session"] == "sbx-session-1"
    parts = _multipart(request)
    assert set(parts) == {"num_iid", "id", "position", "is_major", "is_rectangle", "image"}
    assert parts["num_iid"] == (None, "", b"1489161932")
    assert parts["id"][2] == b"0"  # the main image's id is 0, and it is sent
    assert parts["position"][2] == b"3"
    assert (parts["is_major"][2], parts["is_rectangle"][2]) == (b"false", b"true")
    filename, content_type, value = parts["image"]
    assert filename == "白色 %22T%22恤.jpg"  # UTF-8 as is; quotes escaped, no filename*
    assert (content_type, value) == ("image/jpeg", JPEG)


def test_tmall_request_sends_only_given_options() -> None:
    job = Job(target="1489161940", filename="bottle.png", data=b"\x89PNG\r\n\x1a\n", fmt="png")
    request = TMALL.build_request(job, _shop("tmall_item", base_url=""), now=NOW)
    assert str(request.url).startswith("https://eco.taobao.com/router/rest?")
    parts = _multipart(request)
    assert set(parts) == {"num_iid", "image"}
    assert parts["image"][:2] == ("bottle.png", "image/png")


def test_miniapp_request_shape() -> None:
    job = Job(
        target="3000000012345",
        filename="running shoe.jpg",
        data=JPEG,
        fmt="gif",
        options={"title": "跑鞋 (白色)", "replace_id": "123"},
    )
    request = MINIAPP.build_request(job, _shop("taobao_miniapp"), now=NOW)
    assert set(request.url.params) == SYSTEM
    assert request.url.params["method"] == "taobao.miniapp.trade.picture.upload"
    parts = _multipart(request)
    assert set(parts) == {"miniapp_id", "file_name", "pic_id", "bytes"}
    assert parts["miniapp_id"][2] == b"3000000012345"
    assert parts["file_name"][2].decode("utf-8") == "跑鞋 (白色)"
    assert parts["pic_id"][2] == b"123"
    assert parts["bytes"] == ("running shoe.jpg", "image/gif", JPEG)


@pytest.mark.parametrize(
    ("filename", "title"),
    [("白色T恤.jpg", "白色T恤"), ("a.b.png", "a.b"), ("noext", "noext"), ("x.jpeg", "x")],
)
def test_miniapp_file_name_defaults_to_the_stem(filename: str, title: str) -> None:
    job = Job(target="3000000012345", filename=filename, data=JPEG, fmt="jpeg")
    assert _texts(MINIAPP.build_request(job, _shop("taobao_miniapp"), now=NOW))["file_name"] == (
        title
    )
    assert MINIAPP.api_params(job) == {"miniapp_id": "3000000012345", "file_name": title}


def test_unknown_format_is_octet_stream() -> None:
    job = Job(target="1", filename="x.bin", data=b"????", fmt=None)
    assert _multipart(TMALL.build_request(job, _shop("tmall_item"), now=NOW))["image"][1] == (
        "application/octet-stream"
    )


def test_retry_safe() -> None:
    def job(**options: str) -> Job:
        return Job(target="1", filename="a.jpg", options=options)

    assert TMALL.retry_safe(job(replace_id="0"))
    assert TMALL.retry_safe(job(replace_id="1645920"))
    assert not TMALL.retry_safe(job())
    assert MINIAPP.retry_safe(job(replace_id="123"))
    assert not MINIAPP.retry_safe(job(replace_id="0"))  # pic_id 0 uploads a new picture
    assert not MINIAPP.retry_safe(job())


# --- declarations ---------------------------------------------------------------------------


def test_registry_and_declarations() -> None:
    assert get_adapter("天猫").__class__ is TmallItemAdapter
    assert get_adapter("小程序").__class__ is TaobaoMiniappAdapter
    assert (TMALL.key, MINIAPP.key) == ("tmall_item", "taobao_miniapp")
    for adapter in (TMALL, MINIAPP):
        assert isinstance(adapter, TopAdapter)
        assert adapter.default_base_url == "https://eco.taobao.com"
        assert adapter.path == "/router/rest"
        assert adapter.credentials.required == ("app_key", "app_secret", "session")
        assert adapter.credentials.optional == ("sign_method",)
        assert adapter.limits.formats == frozenset({"jpeg", "png", "gif"})
        assert adapter.limits.max_bytes == 3145728
    limits = TMALL.limits
    assert (limits.positions, limits.images_per_target, limits.rate_per_s) == (range(5), 5, None)
    (rule,) = limits.pixel_rules
    assert (rule.when, rule.ratio) == (("is_rectangle", "true"), (3, 4))
    assert (MINIAPP.limits.title_max, MINIAPP.limits.title_dedup) == (50, True)
    assert {o.name for o in TMALL.options} == {"replace_id", "position", "is_major", "is_rectangle"}
    assert {o.name for o in MINIAPP.options} == {"title", "replace_id"}


def test_shop_secrets_are_masked() -> None:
    shop = _shop("tmall_item", sign_method="hmac")
    assert isinstance(shop.fields["app_secret"], Secret)
    assert isinstance(shop.fields["session"], Secret)
    assert shop.fields["sign_method"] == "hmac"


@pytest.mark.parametrize("module", [top_module, tmall_module, miniapp_module])
def test_docstring_examples_run(module: Any) -> None:
    result = doctest.testmod(module)
    assert result.attempted > 0
    assert result.failed == 0


# --- success answers -------------------------------------------------------------------------


def test_response_key() -> None:
    assert response_key(TMALL.method) == "item_img_upload_tmall_response"
    assert response_key(MINIAPP.method) == "miniapp_trade_picture_upload_response"


TMALL_SAMPLE = {  # the seed page's XML example, as JSON
    "item_img_upload_tmall_response": {
        "item_img": {
            "id": 1645920,
            "url": "http://img03.taobao.net/bao/uploaded/i3/T1HXdXXgPSt0JxZ2.8_070458.jpg",
            "created": "2000-01-01 00:00:00",
        },
        "request_id": "r1",
    }
}

MINIAPP_SAMPLE = _result(  # the seed page's XML example, as JSON
    success=True,
    err_code=1,
    model={
        "sizes": 100,
        "title": "title",
        "path": "http://img07.taobaocdn.com/imgextra/i7/22670458/T2dD0kXb4cXXXXXXXX_!!22670458.jpg",
        "pic_id": 123,
        "pixel": "450x150",
        "modified": "2000-01-01 00:00:00",
        "created": "2000-01-01 00:00:00",
        "deleted": "deleted",
        "status": "unfroze",
    },
    err_message="error",
)


def test_tmall_seed_sample() -> None:
    out = TMALL.parse_response(_response(TMALL_SAMPLE))
    assert out.ok
    assert out.url == "http://img03.taobao.net/bao/uploaded/i3/T1HXdXXgPSt0JxZ2.8_070458.jpg"
    assert out.image_id == "1645920"
    assert out.category is None


def test_tmall_main_image_id_zero_is_kept() -> None:
    body = {"item_img_upload_tmall_response": {"item_img": {"id": 0, "url": "http://x/0.jpg"}}}
    out = TMALL.parse_response(_response(body))
    assert (out.ok, out.image_id, out.url) == (True, "0", "http://x/0.jpg")


@pytest.mark.parametrize(
    "root",
    [{}, {"item_img": None}, {"item_img": {"id": 1}}, {"item_img": {"id": 1, "url": ""}}],
    ids=["no-item_img", "null", "no-url", "empty-url"],
)
def test_tmall_success_without_image(root: Mapping[str, Any]) -> None:
    out = TMALL.parse_response(_response({"item_img_upload_tmall_response": root}))
    # Success without the image's address: probably stored, so looked up, never failed.
    assert not out.ok
    assert (out.category, out.code, out.maybe_stored) == (Category.TRANSIENT, "no_url", True)


def test_miniapp_seed_sample() -> None:
    out = MINIAPP.parse_response(_response(MINIAPP_SAMPLE))
    assert out.ok  # success true wins over the sample's err_code 1 / err_message
    assert out.url.endswith("T2dD0kXb4cXXXXXXXX_!!22670458.jpg")
    assert out.image_id == "123"


def test_miniapp_success_as_text() -> None:
    body = _result(success="true", model={"pic_id": "9", "path": "http://x/9.jpg"})
    assert MINIAPP.parse_response(_response(body)).ok


@pytest.mark.parametrize(
    ("err_code", "category"),
    [
        (2001, Category.NOT_FOUND),
        (2002, Category.TOO_LARGE),
        (2003, Category.BAD_FORMAT),
        (2004, Category.BAD_FORMAT),
        ("2005", Category.NOT_FOUND),
        (9999, Category.UNKNOWN),
        (7, Category.UNKNOWN),  # result codes are not gateway codes
    ],
)
def test_miniapp_success_false_without_error_response(
    err_code: int | str, category: Category
) -> None:
    body = _result(success=False, err_code=err_code, err_message="图片大小不能超过3M")
    out = MINIAPP.parse_response(_response(body))
    assert not out.ok
    assert out.category is category
    assert out.code == str(err_code)
    assert out.message == "图片大小不能超过3M"
    assert not out.retryable


@pytest.mark.parametrize(
    "result",
    [
        {"success": False},
        {"success": "false", "err_message": "x"},
        {"model": {"pic_id": 1, "path": "http://x/1.jpg"}},
        {"success": "yes", "model": {"pic_id": 1, "path": "http://x/1.jpg"}},
        {"success": True},
        {"success": True, "model": {"pic_id": 1}},
    ],
    ids=["false-no-code", "false-text", "no-flag", "odd-flag", "no-model", "no-path"],
)
def test_miniapp_result_missing_fields(result: Mapping[str, Any]) -> None:
    out = MINIAPP.parse_response(_response(_result(**result)))
    assert not out.ok
    if result.get("success") is True:  # success without the path: looked up, never failed
        assert (out.category, out.code, out.maybe_stored) == (Category.TRANSIENT, "no_url", True)
    else:
        assert out.category is Category.UNKNOWN


def test_miniapp_without_result() -> None:
    out = MINIAPP.parse_response(_response({"miniapp_trade_picture_upload_response": {}}))
    assert (out.ok, out.category) == (False, Category.UNKNOWN)


def test_other_methods_root_is_not_success() -> None:
    out = MINIAPP.parse_response(_response(TMALL_SAMPLE))
    assert (out.ok, out.category, out.maybe_stored) == (False, Category.TRANSIENT, True)


# --- error answers ---------------------------------------------------------------------------


def _sample_for(key: str) -> tuple[str, str]:
    """An error_response (code, sub_code) that a code-table key is meant to decide."""
    if key.isdigit():
        return key, ""
    if key.startswith("15:"):
        return "15", key[3:].replace("*", "some-cause")
    if key.startswith("accesscontrol."):
        return "7", key
    return "15", key.replace("*", "invalid-numIid-or-iid")


def _table_cases() -> list[Any]:
    cases = []
    for adapter in (TMALL, MINIAPP):
        for key, rule in adapter.codes.rules.items():
            cases.append(pytest.param(adapter, key, rule, id=f"{adapter.key}-{key}"))
    return cases


@pytest.mark.parametrize(("adapter", "key", "rule"), _table_cases())
def test_every_code_table_entry(adapter: TopAdapter, key: str, rule: Any) -> None:
    if key.startswith("result:"):
        err_code = key.removeprefix("result:")
        body = _result(success=False, err_code=int(err_code), err_message="失败")
        code, sub_code = err_code, ""
    else:
        code, sub_code = _sample_for(key)
        body = _error(int(code), sub_code, sub_msg="原因")
        assert fnmatch.fnmatchcase(adapter.rule_key(code, sub_code), key)
    out = adapter.parse_response(_response(body))
    assert not out.ok
    assert (out.code, out.sub_code) == (code, sub_code)
    assert out.category is rule.category
    assert out.retryable is rule.retryable
    assert out.retryable <= out.category.retryable
    assert out.zh == rule.zh
    assert out.en == rule.en
    assert out.raw == body


# Written from docs/protocols.md (TOP, Tmall) and the page, apart from the adapters' tables.
EXPECTED = [
    ("3", "isv.upload-fail", Category.TRANSIENT, True),
    ("7", "accesscontrol.limited-by-app-access-count", Category.QUOTA, False),
    ("7", "accesscontrol.limited-by-api-access-count", Category.RATE_LIMITED, True),
    ("7", "accesscontrol.limited-by-app-api-access-count", Category.RATE_LIMITED, True),
    ("8", "isv.call-limited", Category.RATE_LIMITED, True),
    ("10", "isp.service-unavailable", Category.TRANSIENT, True),
    ("11", "isv.permission-api-package-not-allowed", Category.PERMISSION, False),
    ("12", "isv.permission-user-not-allowed", Category.PERMISSION, False),
    ("13", "isv.permission-session-not-allowed", Category.PERMISSION, False),
    ("15", "isp.remote-service-error", Category.TRANSIENT, True),
    ("15", "isp.top-remote-connection-timeout", Category.TRANSIENT, True),
    ("15", "isv.something-we-never-heard-of", Category.INVALID_INPUT, False),
    ("21", "", Category.INVALID_INPUT, False),
    ("22", "", Category.INVALID_INPUT, False),
    ("23", "", Category.INVALID_INPUT, False),
    ("24", "", Category.AUTH, False),
    ("25", "isv.invalid-signature", Category.AUTH, False),
    ("26", "", Category.AUTH, False),
    ("27", "invalid-sessionkey", Category.AUTH, False),
    ("28", "", Category.AUTH, False),
    ("29", "", Category.AUTH, False),
    ("30", "", Category.INVALID_INPUT, False),
    ("31", "isv.invalid-timestamp", Category.INVALID_INPUT, False),
    ("32", "", Category.INVALID_INPUT, False),
    ("33", "", Category.INVALID_INPUT, False),
    ("34", "", Category.INVALID_INPUT, False),
    ("40", "isv.missing-parameter:bytes", Category.INVALID_INPUT, False),
    ("41", "isv.invalid-parameter:miniapp_id", Category.INVALID_INPUT, False),
    ("42", "", Category.PERMISSION, False),
    ("43", "isv.parameter-error", Category.INVALID_INPUT, False),
    ("50", "isv.invalid-parameter", Category.UNKNOWN, False),  # the seed's exception sample
    ("99", "", Category.UNKNOWN, False),
]

TMALL_EXPECTED = [
    ("40", "isv.missing-parameter:image", Category.INVALID_INPUT, False),
    ("40", "isv.missing-parameter:iid-or-numIid", Category.INVALID_INPUT, False),
    ("41", "isv.invalid-parameter:is_rectangle", Category.BAD_DIMENSIONS, False),
    ("15", "isv.image-not-exist:invalid-image-id", Category.NOT_FOUND, False),
    ("15", "isv.invalid-permission:image-num", Category.INVALID_INPUT, False),
    ("15", "isv.invalid-permission:update-item", Category.PERMISSION, False),
    ("15", "isv.invalid-permission:picture-space", Category.PERMISSION, False),
    ("15", "isv.item-is-delete:invalid-numIid-or-iid", Category.NOT_FOUND, False),
    ("15", "isv.item-get-service-error:ITEM_NOT_FOUND", Category.NOT_FOUND, False),
    ("15", "isv.picture-service-error", Category.TRANSIENT, True),
    ("15", "isv.user-not-exist:invalid-nick", Category.AUTH, False),
]
_SVC = "isv.item-image-upload-service-error:"
TMALL_EXPECTED += [
    ("15", _SVC + "IC_IMAGE_CHECK_IMAGE_IS_UNSUCCESSFUL", Category.BAD_FORMAT, False),
    ("15", _SVC + "IC_IMAGE_TYPE_IS_UNSUPPORTED", Category.BAD_FORMAT, False),
    ("41", _SVC + "IC_IMAGE_TYPE_IS_UNSUPPORTED", Category.BAD_FORMAT, False),
    ("15", _SVC + "IC_ITEM_PIC_IS_TOO_LARGES", Category.TOO_LARGE, False),
    ("15", _SVC + "IC_ITEM_PIC_NUM_OVERFLOW", Category.INVALID_INPUT, False),
    ("15", _SVC + "IC_STUFF_STATUS_NEW_LIMITED_WITH_NOPREPAY", Category.PERMISSION, False),
    ("15", _SVC + "IC_STUFF_STATUS_NEW_LIMITED_WITH_NOSHOP", Category.PERMISSION, False),
    ("15", _SVC + "ERROR_ALCOHOL_PERMISSION_INVALID", Category.PERMISSION, False),
    ("15", _SVC + "ITEM_NOT_FOUND", Category.NOT_FOUND, False),
    ("15", _SVC + "ICDB_QPS_LIMIT", Category.RATE_LIMITED, True),
    ("15", _SVC + "QUERY_USER_INFO_ERROR", Category.TRANSIENT, True),
    ("15", _SVC + "SOMETHING_NEW", Category.INVALID_INPUT, False),
]


@pytest.mark.parametrize(
    ("adapter", "code", "sub_code", "category", "retryable"),
    [
        pytest.param(a, *case, id=f"{a.key}-{case[0]}-{case[1]}")
        for a in (TMALL, MINIAPP)
        for case in EXPECTED
    ]
    + [pytest.param(TMALL, *case, id=f"tmall-{case[0]}-{case[1]}") for case in TMALL_EXPECTED],
)
def test_expected_classification(
    adapter: TopAdapter, code: str, sub_code: str, category: Category, retryable: bool
) -> None:
    out = adapter.parse_response(_response(_error(code, sub_code, sub_msg="说明")))
    assert (out.ok, out.category, out.retryable) == (False, category, retryable)
    assert (out.code, out.sub_code) == (code, sub_code)
    assert out.message == "Remote service error / 说明"


def test_miniapp_does_not_take_tmall_sub_codes() -> None:
    body = _error(41, "isv.invalid-parameter:is_rectangle")
    assert MINIAPP.parse_response(_response(body)).category is Category.INVALID_INPUT
    body = _error(15, _SVC + "ICDB_QPS_LIMIT")
    assert MINIAPP.parse_response(_response(body)).category is Category.INVALID_INPUT


def test_code_15_without_sub_code_is_transient() -> None:
    out = TMALL.parse_response(_response(_error(15)))
    assert (out.category, out.retryable, out.message) == (
        Category.TRANSIENT,
        True,
        "Remote service error",
    )


@pytest.mark.parametrize(
    ("sub_code", "sub_msg", "msg", "category", "retry_after"),
    [
        (
            "accesscontrol.limited-by-api-access-count",
            "This ban will last for 17 more seconds",
            "App Call Limited",
            Category.RATE_LIMITED,
            17.0,
        ),
        (
            "accesscontrol.limited-by-app-api-access-count",
            "This ban will last for 1 more seconds",
            "App Call Limited",
            Category.RATE_LIMITED,
            1.0,
        ),
        (
            "accesscontrol.limited-by-app-api-access-count",
            "",
            "App Call Limited: this ban will last for 2.5 more seconds",
            Category.RATE_LIMITED,
            2.5,
        ),
        (
            "accesscontrol.limited-by-api-access-count",
            "稍后再试",
            "App Call Limited",
            Category.RATE_LIMITED,
            None,
        ),
        (
            "accesscontrol.limited-by-app-access-count",
            "This ban will last for 71302 more seconds",
            "App Call Limited",
            Category.QUOTA,
            None,
        ),
        (
            "",
            "This ban will last for 3 more seconds",
            "App Call Limited",
            Category.RATE_LIMITED,
            3.0,
        ),
    ],
)
def test_code_7_and_retry_after(
    sub_code: str, sub_msg: str, msg: str, category: Category, retry_after: float | None
) -> None:
    for adapter in (TMALL, MINIAPP):
        out = adapter.parse_response(_response(_error(7, sub_code, msg=msg, sub_msg=sub_msg)))
        assert out.category is category
        assert out.retry_after == retry_after
        assert out.retryable is (category is Category.RATE_LIMITED)


def test_ban_seconds() -> None:
    assert ban_seconds("This ban will last for 0 more seconds") == 0.0
    assert ban_seconds("This ban will last for 60 more seconds.") == 60.0
    assert ban_seconds("ban") is None


def test_error_codes_as_text() -> None:
    out = TMALL.parse_response(_response(_error("25", "isv.invalid-signature")))
    assert (out.category, out.code) == (Category.AUTH, "25")


def test_error_response_wins_over_success_root() -> None:
    body = {**_error(27, "invalid-sessionkey"), **MINIAPP_SAMPLE}
    assert MINIAPP.parse_response(_response(body)).category is Category.AUTH


def test_miniapp_gateway_errors_come_as_error_response() -> None:
    out = MINIAPP.parse_response(_response(_error(40, "isv.missing-parameter:bytes")))
    assert (out.ok, out.category) == (False, Category.INVALID_INPUT)


# --- answers that are not the platform speaking ---------------------------------------------


def _raw(status: int, content: bytes) -> httpx.Response:
    return httpx.Response(
        status, content=content, request=httpx.Request("POST", BASE + "/router/rest")
    )


@pytest.mark.parametrize("adapter", [TMALL, MINIAPP])
def test_non_json_502_is_transient(adapter: TopAdapter) -> None:
    out = adapter.parse_response(_raw(502, b"<html><body>502 Bad Gateway</body></html>"))
    assert (out.ok, out.category, out.retryable, out.code) == (
        False,
        Category.TRANSIENT,
        True,
        "HTTP 502",
    )


@pytest.mark.parametrize("adapter", [TMALL, MINIAPP])
def test_json_500_without_envelope_is_transient(adapter: TopAdapter) -> None:
    out = adapter.parse_response(_response({"error": "Internal Server Error"}, status=500))
    assert (out.category, out.retryable, out.code) == (Category.TRANSIENT, True, "HTTP 500")


@pytest.mark.parametrize(
    "response",
    [
        _raw(200, b"<html>ok</html>"),
        _raw(200, b"\xff\xfe\x00garbage"),
        _raw(200, b""),
        _response([1, 2, 3]),
        _response({"unexpected": {"x": 1}}),
        _response({"error_response": "oops"}),
    ],
    ids=["html", "binary", "empty", "list", "no-root", "error-not-object"],
)
def test_garbage_200_is_in_doubt(response: httpx.Response) -> None:
    # Not the platform's envelope, after the request left: it may have stored the image.
    for adapter in (TMALL, MINIAPP):
        out = adapter.parse_response(response)
        assert (out.ok, out.category, out.maybe_stored) == (False, Category.TRANSIENT, True)


@pytest.mark.parametrize(
    ("status", "category"),
    [
        (429, Category.RATE_LIMITED),
        (403, Category.PERMISSION),
        (401, Category.AUTH),
        (404, Category.INVALID_INPUT),
        (418, Category.UNKNOWN),
    ],
)
def test_http_errors_without_envelope(status: int, category: Category) -> None:
    for response in (_raw(status, b"nope"), _response({"message": "nope"}, status=status)):
        out = TMALL.parse_response(response)
        assert (out.ok, out.category, out.code) == (False, category, f"HTTP {status}")


# --- no answer at all -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "category", "maybe_stored"),
    [
        (httpx.ConnectError("refused"), Category.TRANSIENT, False),
        (httpx.ConnectTimeout("slow"), Category.TRANSIENT, False),
        (httpx.ReadTimeout("slow"), Category.TIMEOUT, True),
        (httpx.RemoteProtocolError("Server disconnected"), Category.TIMEOUT, True),
        (httpx.WriteError("broken pipe"), Category.TIMEOUT, True),
    ],
)
def test_parse_transport_error(
    exc: httpx.TransportError, category: Category, maybe_stored: bool
) -> None:
    for adapter in (TMALL, MINIAPP):
        out: Outcome = adapter.parse_transport_error(exc)
        assert (out.ok, out.category, out.retryable) == (False, category, True)
        assert out.maybe_stored is maybe_stored
