"""Sandbox: vv-tool gateway → Taobao picture space (``taobao_picture``), over loopback HTTP.

Requests are built only with ``spec_clients`` (written from ``docs/protocols.md``, picture
space, and the official page it names); expected codes and messages are literals from those
pages, so the sandbox is checked against the written protocol, not against itself.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from spec_clients import (
    build_vv_upload_request,
    make_bmp,
    make_gif,
    make_jpeg,
    make_png,
    make_webp,
    vv_lookup,
    vv_token,
    vv_upload,
)

from imgkit.sandbox import Sandbox, taobao_picture

TOKEN = "sbx-vv-token-1"  # static token of client sbx-vv-client (shops 1 and 2)
CLIENT_ID = "sbx-vv-client"
CLIENT_SECRET = "sbx-vv-client-secret"
SHOP = "sbx_tb_shop_1"
SHOP_2 = "sbx_tb_shop_2"
CATEGORY = "1657717355974335419"  # sbx_tb_shop_1's non-default category
MB3 = 3 * 1024 * 1024
PLATFORM = "taobao_picture"
JPEG = make_jpeg()
PICTURE_FIELDS = {
    "picture_id",
    "picture_category_id",
    "picture_path",
    "title",
    "sizes",
    "pixel",
    "status",
    "deleted",
    "created",
    "modified",
    "client_type",
}
GMT8 = timezone(timedelta(hours=8))
STAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


# --- helpers -------------------------------------------------------------------------------


def upload(
    client: httpx.Client,
    img: bytes | None = JPEG,
    filename: str = "a.jpg",
    *,
    token: str | None = TOKEN,
    shop_id: str = SHOP,
    **kwargs: Any,
) -> httpx.Response:
    """One upload with working defaults; ``kwargs`` go to ``spec_clients.vv_upload``."""
    return vv_upload(client, token=token, shop_id=shop_id, img=img, filename=filename, **kwargs)


def picture_of(response: httpx.Response) -> dict[str, Any]:
    """The ``picture`` of a successful upload (asserting success)."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["code"] == 0, body
    picture: dict[str, Any] = body["data"]["picture_upload_response"]["picture"]
    return picture


def title_of(client: httpx.Client, title: str | None, filename: str = "a.jpg", **kw: Any) -> str:
    """Upload with ``title`` and return the title the picture space gave it."""
    return str(picture_of(upload(client, JPEG, filename, title=title, **kw))["title"])


def refused(response: httpx.Response, code: int, http_status: int = 200) -> dict[str, Any]:
    """Assert a refusal with ``code`` (and HTTP status); return the body."""
    assert response.status_code == http_status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert isinstance(body["msg"], str)
    return body


def padded_jpeg(size: int) -> bytes:
    """A valid JPEG of exactly ``size`` bytes (zeros after the EOI marker)."""
    base = make_jpeg(64, 64)
    assert base.endswith(b"\xff\xd9")
    assert len(base) <= size
    return base + b"\x00" * (size - len(base))


def truncated_jpeg() -> bytes:
    """The first half of a real JPEG."""
    data = make_jpeg(256, 256)
    return data[: len(data) // 2]


def issued_token(client: httpx.Client, client_id: str = CLIENT_ID) -> str:
    """A token from the client-credentials endpoint."""
    response = vv_token(client, client_id=client_id, client_secret=CLIENT_SECRET)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["code"] == 0, body
    return str(body["data"]["access_token"])


def rejections(sandbox: Sandbox) -> dict[str, int]:
    stats: dict[str, int] = sandbox.stats()[PLATFORM]["rejections"]
    return stats


# --- success and the response shape ----------------------------------------------------------


def test_upload_with_static_token_has_documented_shape(
    client: httpx.Client, sandbox: Sandbox
) -> None:
    before = time.time()
    response = upload(client, JPEG, "Bule.jpg", title="你好")
    after = time.time()
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"code", "msg", "msec", "time", "data"}
    assert body["code"] == 0
    assert isinstance(body["msg"], str)
    assert body["msg"]
    assert isinstance(body["msec"], int)
    assert body["msec"] >= 0
    assert isinstance(body["time"], int)
    # int(time.time()) while the request was served: bracketed whatever the request took.
    assert int(before) <= body["time"] <= after
    data = body["data"]
    assert set(data) == {"withholding_money", "picture_upload_response"}
    assert isinstance(data["withholding_money"], int)
    assert set(data["picture_upload_response"]) == {"picture"}

    picture = data["picture_upload_response"]["picture"]
    assert set(picture) == PICTURE_FIELDS
    assert isinstance(picture["picture_id"], int)
    assert picture["picture_category_id"] == 0
    assert isinstance(picture["picture_path"], str)
    assert picture["picture_path"].startswith(sandbox.base_url + "/")
    assert picture["title"] == "你好"
    assert picture["sizes"] == len(JPEG)
    assert picture["pixel"] == "64x64"
    assert picture["status"] in {"unfroze", "froze", "pass"}
    assert picture["deleted"] == "deleted"  # the page's example value
    assert picture["client_type"] == "client:computer"
    for name in ("created", "modified"):
        assert STAMP.fullmatch(picture[name]), picture[name]
        # Printed in Beijing time, as the platform does.
        stamp = datetime.strptime(picture[name], "%Y-%m-%d %H:%M:%S").replace(tzinfo=GMT8)
        assert int(before) <= stamp.timestamp() <= after

    stats = sandbox.stats()[PLATFORM]
    assert stats["stored"] == 1
    assert stats["rejections"] == {}


def test_picture_ids_are_distinct(client: httpx.Client) -> None:
    first = picture_of(upload(client, make_jpeg(color=(1, 2, 3))))
    second = picture_of(upload(client, make_jpeg(color=(3, 2, 1))))
    assert first["picture_id"] != second["picture_id"]
    assert first["picture_path"] != second["picture_path"]


def test_upload_into_a_category_of_the_shop(client: httpx.Client) -> None:
    picture = picture_of(upload(client, picture_category_id=CATEGORY))
    assert picture["picture_category_id"] == int(CATEGORY)


def test_upload_with_token_from_client_credentials(client: httpx.Client) -> None:
    response = vv_token(client, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    assert response.status_code == 200
    body = response.json()
    assert body["code"] == 0
    data = body["data"]
    assert {"access_token", "token_type", "expires_in"} <= set(data)
    assert data["token_type"] == "Bearer"
    assert isinstance(data["expires_in"], int)
    assert data["expires_in"] > 0
    token = data["access_token"]
    assert isinstance(token, str)
    assert token
    picture = picture_of(upload(client, token=token, shop_id=SHOP_2))
    assert picture["title"] == "a"
    # Each call hands out a usable token.
    assert issued_token(client) != token


@pytest.mark.parametrize(
    ("client_id", "client_secret"),
    [("sbx-vv-nobody", CLIENT_SECRET), (CLIENT_ID, "wrong-secret"), (CLIENT_ID, "")],
    ids=["unknown-client", "wrong-secret", "empty-secret"],
)
def test_token_endpoint_refuses_bad_client(
    client: httpx.Client, client_id: str, client_secret: str
) -> None:
    response = vv_token(client, client_id=client_id, client_secret=client_secret)
    assert response.status_code == 401
    assert response.json() == {"code": 401, "msg": "未授权"}


@pytest.mark.parametrize("grant_type", ["password", "authorization_code", ""])
def test_token_endpoint_refuses_other_grant_types(client: httpx.Client, grant_type: str) -> None:
    response = vv_token(
        client, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, grant_type=grant_type
    )
    body = refused(response, 100)
    assert body["msg"].startswith("请求参数错误")


def test_token_endpoint_refuses_missing_grant_type(client: httpx.Client) -> None:
    response = vv_token(
        client, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, extra={"grant_type": None}
    )
    refused(response, 100)


def test_issued_token_only_reaches_its_clients_shops(client: httpx.Client) -> None:
    token = issued_token(client)
    body = refused(upload(client, token=token, shop_id="sbx_tb_shop_other"), 302)
    assert body["msg"] == "未授权店铺"


@pytest.mark.parametrize(
    ("img", "filename", "pixel"),
    [
        # The page: "格式:长 x 宽"; its phone rule calls the height 长度 (length).
        (make_jpeg(120, 80), "a.jpg", "80x120"),
        (make_png(33, 44), "a.png", "44x33"),
        (make_gif(10, 20), "a.gif", "20x10"),
    ],
    ids=["jpeg", "png", "gif"],
)
def test_picture_path_serves_identical_bytes(
    client: httpx.Client, img: bytes, filename: str, pixel: str
) -> None:
    picture = picture_of(upload(client, img, filename))
    assert picture["pixel"] == pixel
    assert picture["sizes"] == len(img)
    served = httpx.get(picture["picture_path"], timeout=10.0)
    assert served.status_code == 200
    assert served.content == img


# --- titles ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "filename", "expected"),
    [
        (None, "Bule.jpg", "Bule"),
        ("", "Bule.jpg", "Bule"),
        (None, "my.photo.png", "my.photo"),
        (None, "红色杯子.jpg", "红色杯子"),
        ("你好", "7df.png", "你好"),
    ],
)
def test_title_defaults_to_input_title_without_extension(
    client: httpx.Client, title: str | None, filename: str, expected: str
) -> None:
    assert title_of(client, title, filename) == expected


@pytest.mark.parametrize(
    ("title", "filename", "expected"),
    [
        ("t" * 60, "a.jpg", "t" * 50),
        ("t" * 50, "a.jpg", "t" * 50),
        ("t" * 51, "a.jpg", "t" * 50),
        ("图" * 60, "a.jpg", "图" * 50),
        ("图" * 49 + "片子", "a.jpg", "图" * 49 + "片"),
        (None, "n" * 70 + ".jpg", "n" * 50),
    ],
    ids=["ascii-60", "ascii-50", "ascii-51", "chinese-60", "chinese-51", "from-input-title"],
)
def test_long_titles_are_cut_to_50_characters(
    client: httpx.Client, title: str | None, filename: str, expected: str
) -> None:
    assert title_of(client, title, filename) == expected


def test_duplicate_titles_get_a_counter(client: httpx.Client) -> None:
    assert title_of(client, "mug") == "mug"
    assert title_of(client, "mug") == "mug(1)"
    assert title_of(client, "mug") == "mug(2)"
    # An existing "(n)" becomes "(n+1)".
    assert title_of(client, "mug(1)") == "mug(3)"
    assert title_of(client, "mug(2)") == "mug(4)"


def test_counter_in_a_new_title_is_kept_then_bumped(client: httpx.Client) -> None:
    assert title_of(client, "x(1)") == "x(1)"
    assert title_of(client, "x(1)") == "x(2)"
    assert title_of(client, "x") == "x"
    assert title_of(client, "x") == "x(3)"


def test_duplicate_chinese_titles(client: httpx.Client) -> None:
    assert title_of(client, "红色杯子") == "红色杯子"
    assert title_of(client, None, "红色杯子.png") == "红色杯子(1)"
    assert title_of(client, "红色杯子(1)") == "红色杯子(2)"


def test_duplicate_of_a_cut_title(client: httpx.Client) -> None:
    assert title_of(client, "t" * 60) == "t" * 50
    assert title_of(client, "t" * 55) == "t" * 50 + "(1)"


def test_titles_are_unique_per_shop(client: httpx.Client) -> None:
    assert title_of(client, "same", shop_id=SHOP) == "same"
    assert title_of(client, "same", shop_id=SHOP_2) == "same"
    assert title_of(client, "same", shop_id=SHOP) == "same(1)"


# --- client:phone pixel rule -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("width", "height", "accepted"),
    [
        (479, 600, False),
        (480, 600, True),
        (620, 600, True),
        (621, 600, False),
        (500, 960, True),
        (500, 961, False),
        (480, 960, True),
        (620, 961, False),
    ],
)
def test_phone_pixel_rule_edges(
    client: httpx.Client, width: int, height: int, accepted: bool
) -> None:
    img = make_jpeg(width, height)
    response = upload(client, img, client_type="client:phone")
    if accepted:
        picture = picture_of(response)
        assert picture["pixel"] == f"{height}x{width}"  # the page: 长 x 宽
        assert picture["client_type"] == "client:phone"
    else:
        body = refused(response, 100)
        assert body["msg"].startswith("请求参数错误")


def test_computer_uploads_have_no_pixel_rule(client: httpx.Client) -> None:
    picture = picture_of(upload(client, make_jpeg(479, 961), client_type="client:computer"))
    assert picture["client_type"] == "client:computer"


# --- size and format -------------------------------------------------------------------------


def test_3mb_is_accepted_at_the_edge(client: httpx.Client) -> None:
    img = padded_jpeg(MB3)
    picture = picture_of(upload(client, img))
    assert picture["sizes"] == MB3
    assert httpx.get(picture["picture_path"], timeout=10.0).content == img


def test_one_byte_over_3mb_is_refused(client: httpx.Client, sandbox: Sandbox) -> None:
    body = refused(upload(client, padded_jpeg(MB3 + 1)), 100)
    assert body["msg"] == taobao_picture.FAILURES["too_large"].message
    assert sandbox.stats()[PLATFORM]["stored"] == 0


@pytest.mark.parametrize(
    ("img", "filename", "pixel"),
    [
        (make_png(70, 30), "photo.jpg", "30x70"),  # pixel: 长 x 宽, height first
        (make_jpeg(30, 70), "photo.png", "70x30"),
        (make_gif(16, 16), "anim.gif", "16x16"),
        (make_gif(16, 16), "noext", "16x16"),
    ],
    ids=["png-named-jpg", "jpeg-named-png", "gif", "no-extension"],
)
def test_format_is_judged_by_content_accepted(
    client: httpx.Client, img: bytes, filename: str, pixel: str
) -> None:
    picture = picture_of(upload(client, img, filename))
    assert picture["pixel"] == pixel
    assert httpx.get(picture["picture_path"], timeout=10.0).content == img


@pytest.mark.parametrize(
    ("img", "filename", "failure"),
    [
        (b"hello, this is text and not a picture\n" * 20, "notes.jpg", "bad_format"),
        (make_webp(), "a.webp", "bad_format"),
        (make_webp(), "a.jpg", "bad_format"),
        (make_bmp(), "a.jpg", "bad_format"),
        (truncated_jpeg(), "a.jpg", "corrupt_image"),
        (make_png()[:60], "a.png", "corrupt_image"),
    ],
    ids=["text-named-jpg", "webp", "webp-named-jpg", "bmp-named-jpg", "truncated-jpeg", "cut-png"],
)
def test_format_is_judged_by_content_refused(
    client: httpx.Client, sandbox: Sandbox, img: bytes, filename: str, failure: str
) -> None:
    body = refused(upload(client, img, filename), 100)
    assert body["msg"].startswith("请求参数错误")
    assert body["msg"] == taobao_picture.FAILURES[failure].message
    assert sandbox.stats()[PLATFORM]["stored"] == 0


@pytest.mark.parametrize("name", ["shop_id", "picture_category_id", "image_input_title"])
def test_missing_text_params_are_refused(client: httpx.Client, name: str) -> None:
    body = refused(upload(client, extra={name: None}), 100)
    assert body["msg"].startswith("请求参数错误")
    assert name in body["msg"]


def test_missing_or_empty_img_is_refused(client: httpx.Client) -> None:
    assert "img" in refused(upload(client, None), 100)["msg"]
    assert "img" in refused(upload(client, b""), 100)["msg"]


@pytest.mark.parametrize("vvtype", [None, "1", "3"])
def test_vvtype_must_be_2(client: httpx.Client, vvtype: str | None) -> None:
    body = refused(upload(client, vvtype=vvtype), 203)
    assert body["msg"] == "暂不支持当前接口"


# --- rate limit and authorization ------------------------------------------------------------


def test_ten_requests_per_second_per_token(client: httpx.Client, sandbox: Sandbox) -> None:
    other = issued_token(client)  # token calls are not uploads; fetched before the burst
    started = time.monotonic()
    answers = [upload(client, make_jpeg(color=(n, 0, 0))) for n in range(11)]
    assert time.monotonic() - started < 1.0, "the burst must fit in one second"
    for response in answers[:10]:
        picture_of(response)
    assert answers[10].status_code == 429
    assert answers[10].json() == {"code": 429, "msg": "请求过于频繁"}  # docs/protocols.md
    # A different token has its own budget.
    picture_of(upload(client, token=other, shop_id=SHOP_2))
    # And the limited token recovers once the second has passed.
    time.sleep(max(0.0, started + 1.05 - time.monotonic()))
    picture_of(upload(client))
    assert rejections(sandbox) == {"429": 1}


def test_unauthorized_requests_do_not_use_the_budget(client: httpx.Client) -> None:
    for _ in range(12):
        refused(upload(client, token="sbx-vv-token-unknown"), 401, http_status=401)
    picture_of(upload(client))


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer sbx-vv-token-unknown", f"Basic {TOKEN}", TOKEN],
    ids=["no-header", "empty", "empty-token", "unknown-token", "basic-scheme", "no-scheme"],
)
def test_missing_or_bad_bearer_is_401(
    client: httpx.Client, sandbox: Sandbox, authorization: str | None
) -> None:
    request = build_vv_upload_request(client, token=None, shop_id=SHOP, img=JPEG, filename="a.jpg")
    if authorization is not None:
        request.headers["Authorization"] = authorization
    response = client.send(request)
    assert response.status_code == 401
    assert response.json() == {"code": 401, "msg": "未授权"}  # docs/protocols.md
    assert sandbox.stats()[PLATFORM]["stored"] == 0


def test_bearer_scheme_is_case_insensitive(client: httpx.Client) -> None:
    request = build_vv_upload_request(client, token=None, shop_id=SHOP, img=JPEG, filename="a.jpg")
    request.headers["Authorization"] = f"bearer {TOKEN}"
    picture_of(client.send(request))


def test_expired_issued_token_is_401(client: httpx.Client, sandbox: Sandbox) -> None:
    token = issued_token(client)
    picture_of(upload(client, token=token, shop_id=SHOP_2))
    book = sandbox.state.book(PLATFORM, taobao_picture.VvBook.from_world, taobao_picture.VvBook)
    client_id, _expires = book.issued[token]
    book.issued[token] = (client_id, time.time() - 1)
    refused(upload(client, token=token, shop_id=SHOP_2), 401, http_status=401)


def test_issued_token_lasts_exactly_its_expires_in(client: httpx.Client, sandbox: Sandbox) -> None:
    # On a fixed clock: the real one would move between the last good second and the check.
    issued_at = 1704081600.0
    sandbox.state.set_clock(issued_at)
    response = vv_token(client, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    expires_in = response.json()["data"]["expires_in"]
    assert expires_in == 7200  # docs/sandbox.md: 2 h
    token = str(response.json()["data"]["access_token"])
    sandbox.state.set_clock(issued_at + expires_in - 1)
    picture_of(upload(client, token=token, shop_id=SHOP_2))
    sandbox.state.set_clock(issued_at + expires_in)
    refused(upload(client, token=token, shop_id=SHOP_2), 401, http_status=401)
    # Static tokens do not expire.
    picture_of(upload(client, make_jpeg(color=(5, 6, 7))))


# --- every catalogue entry is reached ---------------------------------------------------------

Send = Callable[[httpx.Client, Sandbox], httpx.Response]


@dataclass(frozen=True)
class Expect:
    """A catalogue entry's answer as the seed page / platforms.md give it."""

    code: int
    http_status: int
    msg: str  # the documented message, or its documented prefix (code 100)
    send: Send


def _malformed(client: httpx.Client, sandbox: Sandbox) -> httpx.Response:
    # A well-formed upload request whose multipart body is then replaced by garbage.
    good = build_vv_upload_request(client, token=TOKEN, shop_id=SHOP, img=JPEG, filename="a.jpg")
    headers = {k: v for k, v in good.headers.items() if k.lower() != "content-length"}
    return client.send(httpx.Request("POST", good.url, headers=headers, content=b"garbage"))


def _burst(client: httpx.Client, sandbox: Sandbox) -> httpx.Response:
    for n in range(10):
        picture_of(upload(client, make_jpeg(color=(0, n, 0))))
    return upload(client)


def _forced(error: str) -> Send:
    def send(client: httpx.Client, sandbox: Sandbox) -> httpx.Response:
        answer = client.post(
            "/_sandbox/faults", json={"force": [{"platform": PLATFORM, "error": error}]}
        )
        assert answer.status_code == 200, answer.text
        return upload(client)

    return send


def _transient(client: httpx.Client, sandbox: Sandbox) -> httpx.Response:
    sandbox.state.set_faults({"transient": 1.0, "platforms": [PLATFORM]})
    return upload(client)


BAD = "请求参数错误"  # seed: code 100
RECIPES: dict[str, Expect] = {
    "unauthorized": Expect(401, 401, "未授权", lambda c, s: upload(c, token=None)),
    "rate_limited": Expect(429, 429, "请求过于频繁", _burst),
    "missing_param": Expect(100, 200, BAD, lambda c, s: upload(c, None)),
    "malformed_body": Expect(100, 200, BAD, _malformed),
    "bad_category": Expect(100, 200, BAD, lambda c, s: upload(c, picture_category_id="123")),
    # docs/lookups.md: the look-up's page_size is at most 100.
    "bad_paging": Expect(
        100, 200, BAD, lambda c, s: vv_lookup(c, token=TOKEN, shop_id=SHOP, page_size=101)
    ),
    "too_large": Expect(100, 200, BAD, lambda c, s: upload(c, padded_jpeg(MB3 + 1))),
    "bad_format": Expect(100, 200, BAD, lambda c, s: upload(c, make_webp(), "a.webp")),
    "corrupt_image": Expect(100, 200, BAD, lambda c, s: upload(c, truncated_jpeg())),
    "bad_client_type": Expect(100, 200, BAD, lambda c, s: upload(c, client_type="client:tablet")),
    "phone_dimensions": Expect(
        100, 200, BAD, lambda c, s: upload(c, make_jpeg(700, 700), client_type="client:phone")
    ),
    "timeout": Expect(101, 200, "请求超时,请重试", _transient),
    "account_missing": Expect(
        103, 200, "旺旺账号不存在", lambda c, s: upload(c, shop_id="sbx_tb_shop_nobody")
    ),
    "system_error": Expect(200, 200, "系统错误,请联系客服", _forced("system_error")),
    "unsupported": Expect(203, 200, "暂不支持当前接口", lambda c, s: upload(c, vvtype=None)),
    "method_not_allowed": Expect(
        203, 200, "暂不支持当前接口", lambda c, s: c.get("/tool/erps/tbpicture")
    ),
    "no_permission": Expect(
        204,
        200,
        "请求异常:无该接口权限,请前往官网开通正式接口。",
        lambda c, s: upload(c, token="sbx-vv-token-noperm"),
    ),
    "no_credit": Expect(
        204,
        200,
        "请求异常:API 调用次数不足,请前往网站兑换次数。",
        lambda c, s: upload(c, token="sbx-vv-token-nocredit"),
    ),
    "shop_unauthorized": Expect(
        302, 200, "未授权店铺", lambda c, s: upload(c, shop_id="sbx_tb_shop_other")
    ),
    "token_bad_grant": Expect(
        100,
        200,
        BAD,
        lambda c, s: vv_token(
            c, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, grant_type="password"
        ),
    ),
    "token_bad_client": Expect(
        401,
        401,
        "未授权",
        lambda c, s: vv_token(c, client_id=CLIENT_ID, client_secret="not-the-secret"),
    ),
}


@pytest.mark.parametrize("key", sorted(taobao_picture.PLATFORM.failures))
def test_every_catalogue_entry_is_reached(client: httpx.Client, sandbox: Sandbox, key: str) -> None:
    expect = RECIPES.get(key)
    if expect is None:
        pytest.fail(f"no recipe for catalogue entry {key!r}: add one to RECIPES")
    failure = taobao_picture.PLATFORM.failures[key]
    response = expect.send(client, sandbox)
    assert response.status_code == expect.http_status, response.text
    body = response.json()
    assert body["code"] == expect.code, body
    assert body["msg"].startswith(expect.msg), body
    if expect.http_status == 200:  # the API's own envelope, no data
        assert set(body) == {"code", "msg", "msec", "time", "data"}
        if key == "shop_unauthorized":  # but the link to follow (test_sandbox_vv_strict)
            assert set(body["data"]) == {"url"}
        else:
            assert body["data"] is None
    else:  # docs/protocols.md: bare {"code", "msg"} for HTTP 401 / 429
        assert body == {"code": expect.code, "msg": expect.msg}
    template = re.escape(failure.message).replace(re.escape("{name}"), ".+")
    assert re.fullmatch(template, body["msg"]), (body["msg"], failure.message)
    # The catalogue agrees with the documented literals, and the stats counted it once.
    assert failure.code == expect.code
    assert failure.http_status == expect.http_status
    assert rejections(sandbox) == {failure.label: 1}
    assert failure.label == str(expect.code)


def test_recipes_name_only_catalogue_entries() -> None:
    assert set(RECIPES) <= set(taobao_picture.PLATFORM.failures)


def test_a_multipart_body_cut_short_is_refused_as_malformed(
    client: httpx.Client, sandbox: Sandbox
) -> None:
    request = client.build_request(
        "POST",
        "/tool/erps/tbpicture",
        headers={"Authorization": f"Bearer {TOKEN}"},
        data={"shop_id": SHOP, "picture_category_id": "0", "vvtype": "2"},
        files={"img": ("a.jpg", JPEG, "image/jpeg")},
    )
    body = request.read()
    closing = body.rindex(b"\r\n--")
    cut = client.post(
        "/tool/erps/tbpicture",
        headers={
            "Authorization": f"Bearer {TOKEN}",
            "Content-Type": request.headers["Content-Type"],
        },
        content=body[:closing],
    )
    answer = refused(cut, 100)
    assert "请求体无法解析" in answer["msg"]
    assert sandbox.stats()[PLATFORM]["stored"] == 0
