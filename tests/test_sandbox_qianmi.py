"""Sandbox: Qianmi open platform ``qianmi.cloudshop.sku.image.upload`` (``qianmi_sku``).

Over loopback HTTP, with requests built only by ``spec_clients`` (written from
``docs/protocols.md``, Qianmi, and the official page it names).  Expected main codes,
sub-codes and messages are literals from those pages.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest
import spec_clients
from spec_clients import (
    build_qianmi_upload_request,
    gmt8_at,
    gmt8_now,
    make_bmp,
    make_gif,
    make_jpeg,
    make_png,
    make_webp,
    qianmi_lookup,
    qianmi_upload,
)

from imgkit.sandbox import Sandbox, qianmi_sku

APP_KEY = "10009001"
SECRET = "sbx-qianmi-secret"
TOKEN = "sbx-qm-token-1"
ITEM = "18353"
SKU = "g1234"
FULL_SKU = "g1236"  # 18353/g1236 already has 5 images
PLATFORM = "qianmi_sku"
MB = 1024 * 1024
JPEG = make_jpeg()
SVC = "isv.qianmi-cloudshop-sku-image-upload-service-error:"  # seed page's sub-code prefix
GMT8 = timezone(timedelta(hours=8))
# The sandbox clock in tests near the ten-minute window (2024-01-01 12:00:00 GMT+8): fixed,
# it does not move between stamping a request and the sandbox judging it, so the edges
# (600 s accepted, 601 s refused) are tested exactly; far from today, so a request stamped
# from the real clock instead would be refused.
FIXED_NOW = 1704081600


# --- helpers -------------------------------------------------------------------------------


def upload(
    client: httpx.Client,
    image: bytes | None = JPEG,
    *,
    app_key: str = APP_KEY,
    secret: str = SECRET,
    access_token: str | None = TOKEN,
    num_iid: str = ITEM,
    sku_id: str = SKU,
    **kwargs: Any,
) -> httpx.Response:
    """One upload with working defaults; ``kwargs`` go to ``spec_clients.qianmi_upload``."""
    return qianmi_upload(
        client,
        app_key=app_key,
        secret=secret,
        access_token=access_token,
        num_iid=num_iid,
        sku_id=sku_id,
        image_bytes=image,
        **kwargs,
    )


@pytest.fixture
def fixed_clock(sandbox: Sandbox) -> int:
    """The sandbox clock stands at ``FIXED_NOW`` for the test (the next reset frees it)."""
    sandbox.state.set_clock(FIXED_NOW)
    return FIXED_NOW


def sku_img(response: httpx.Response) -> dict[str, Any]:
    """The ``sku_img`` of a successful answer (asserting success)."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"sku_image_upload_response"}, body
    assert set(body["sku_image_upload_response"]) == {"sku_img"}, body
    img: dict[str, Any] = body["sku_image_upload_response"]["sku_img"]
    return img


def error(response: httpx.Response, code: str, sub_code: str | None = None) -> dict[str, Any]:
    """Assert the seed page's error shape with main ``code`` (and sub-code); return it."""
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert {"errorToken", "code", "message", "solution"} <= set(body), body
    assert isinstance(body["code"], str)
    assert body["code"] == code, body
    assert isinstance(body["message"], str)
    assert body["message"]
    assert isinstance(body["solution"], str)
    if sub_code is not None:
        sub = body["subErrors"]["subError"][0]
        assert sub["code"] == sub_code, body
        assert isinstance(sub["message"], str)
        assert sub["message"]
    return body


def padded_jpeg(size: int) -> bytes:
    """A valid JPEG of exactly ``size`` bytes (zeros after the EOI marker)."""
    base = make_jpeg(64, 64)
    assert base.endswith(b"\xff\xd9")
    assert len(base) <= size
    return base + b"\x00" * (size - len(base))


def fetch(url: str) -> bytes:
    response = httpx.get(url, timeout=10.0)
    assert response.status_code == 200
    return response.content


def stats(sandbox: Sandbox) -> dict[str, Any]:
    platform_stats: dict[str, Any] = sandbox.stats()[PLATFORM]
    return platform_stats


def resend_with_body(
    client: httpx.Client, request: httpx.Request, **changes: str
) -> httpx.Response:
    """Send ``request`` again with some body params changed after it was signed."""
    form = dict(parse_qsl(request.read().decode(), keep_blank_values=True))
    form.update(changes)
    return client.post(
        request.url,
        content=urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


# --- success ---------------------------------------------------------------------------------


def test_request_travels_as_documented(client: httpx.Client) -> None:
    request = build_qianmi_upload_request(
        client,
        app_key=APP_KEY,
        secret=SECRET,
        access_token=TOKEN,
        num_iid=ITEM,
        sku_id=SKU,
        image_bytes=JPEG,
    )
    query = dict(request.url.params)
    assert {"method", "v", "appKey", "timestamp", "format", "access_token", "sign"} == set(query)
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    form = dict(parse_qsl(request.read().decode()))
    assert form["image"] == "jpg@" + base64.b64encode(JPEG).decode()
    answer = client.send(request)
    img = sku_img(answer)
    assert set(img) == {"id", "url", "position", "created"}


def test_success_shape_and_url_serves_the_bytes(client: httpx.Client, sandbox: Sandbox) -> None:
    before = time.time()
    img = sku_img(upload(client))
    after = time.time()
    assert set(img) == {"id", "url", "position", "created"}
    assert isinstance(img["id"], str | int)
    assert str(img["id"])
    assert img["position"] == 0
    stamp = datetime.strptime(img["created"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=GMT8)
    # Printed while the request was served, to the whole second: however slow the request.
    assert int(before) <= stamp.timestamp() <= after
    assert img["url"].startswith(sandbox.base_url + "/")
    assert fetch(img["url"]) == JPEG
    assert stats(sandbox)["stored"] == 1
    assert stats(sandbox)["rejections"] == {}


@pytest.mark.parametrize(
    ("image", "ext"),
    [(make_png(), "png"), (make_gif(), "gif"), (make_jpeg(40, 30), "jpeg"), (JPEG, "JPG")],
)
def test_every_documented_type_is_accepted(client: httpx.Client, image: bytes, ext: str) -> None:
    img = sku_img(upload(client, image, ext=ext))
    assert fetch(img["url"]) == image


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ("id", {"id"}),
        ("position", {"position"}),
        ("url,position", {"url", "position"}),
        ("num_iid,position", {"num_iid", "position"}),
        ("id,url,position,created", {"id", "url", "position", "created"}),
        (
            "id,url,position,created,num_iid,sku_id",
            {"id", "url", "position", "created", "num_iid", "sku_id"},
        ),
    ],
)
def test_only_requested_fields_come_back(
    client: httpx.Client, fields: str, expected: set[str]
) -> None:
    img = sku_img(upload(client, fields=fields))
    assert set(img) == expected
    if "num_iid" in img:
        assert str(img["num_iid"]) == ITEM
    if "sku_id" in img:
        assert img["sku_id"] == SKU


# --- replace, positions, the 5-image limit -----------------------------------------------


def test_replace_by_img_id_keeps_id_and_serves_new_bytes(
    client: httpx.Client, sandbox: Sandbox
) -> None:
    old, new = make_jpeg(color=(1, 1, 1)), make_png(color=(9, 9, 9))
    first = sku_img(upload(client, old, position=2))
    # A missing position is 0 (the page's default), for a replace too: it names its own.
    second = sku_img(upload(client, new, ext="png", img_id=str(first["id"]), position=2))
    assert second["id"] == first["id"]
    assert second["position"] == 2
    assert fetch(second["url"]) == new
    assert fetch(first["url"]) == new  # the image's URL now serves the new bytes
    # Replacing again with the very same bytes is idempotent, never a duplicate.
    third = sku_img(upload(client, new, ext="png", img_id=str(first["id"]), position=2))
    assert third["id"] == first["id"]
    counters = stats(sandbox)
    assert (counters["stored"], counters["replaced"], counters["duplicates"]) == (1, 2, 0)


def test_replace_works_when_the_sku_is_full(client: httpx.Client) -> None:
    ids = [sku_img(upload(client, make_jpeg(color=(n, 0, 0)), position=n))["id"] for n in range(5)]
    error(upload(client, make_jpeg(color=(9, 9, 9))), "9", SVC + "01030043")
    replaced = sku_img(upload(client, make_gif(), ext="gif", img_id=str(ids[3]), position=3))
    assert replaced["id"] == ids[3]
    assert replaced["position"] == 3


def test_img_id_must_belong_to_the_sku(client: httpx.Client) -> None:
    other = sku_img(upload(client, sku_id="g1235"))
    body = error(upload(client, img_id=str(other["id"])), "9", SVC + "01030044")
    assert body["subErrors"]["subError"][0]["message"] == "图片不存在"


@pytest.mark.parametrize("position", [0, 1, 2, 3, 4])
def test_positions_0_to_4_are_accepted(client: httpx.Client, position: int) -> None:
    assert sku_img(upload(client, position=position))["position"] == position


@pytest.mark.parametrize("position", [5, 9, -1, "-1", "+7"])
def test_positions_outside_0_to_4_are_refused(
    client: httpx.Client, sandbox: Sandbox, position: int | str
) -> None:
    body = error(upload(client, position=position), "9", SVC + "01030043")
    assert (
        body["subErrors"]["subError"][0]["message"] == "图片顺序超出范围,或者图片数量已满不可新增"
    )
    assert stats(sandbox)["stored"] == 0


@pytest.mark.parametrize("position", ["x", "1.5", "²", "1_0", "0x1"])
def test_non_numeric_position_is_an_invalid_argument(client: httpx.Client, position: str) -> None:
    error(upload(client, position=position), "33", "isv.invalid-paramete:position")


def test_five_images_per_sku(client: httpx.Client, sandbox: Sandbox) -> None:
    positions = [
        sku_img(upload(client, make_jpeg(color=(0, n, 0)), sku_id="g1235", position=n))["position"]
        for n in range(5)
    ]
    assert sorted(positions) == [0, 1, 2, 3, 4]
    for position in (None, 4):
        sixth = upload(client, make_jpeg(color=(0, 0, 9)), sku_id="g1235", position=position)
        error(sixth, "9", SVC + "01030043")
    # Another SKU is not affected.
    sku_img(upload(client, sku_id="g1234"))
    assert stats(sandbox)["stored"] == 6


# --- size and content --------------------------------------------------------------------


def test_1mb_decoded_is_accepted_at_the_edge(client: httpx.Client) -> None:
    image = padded_jpeg(MB)
    assert fetch(sku_img(upload(client, image))["url"]) == image


def test_one_byte_over_1mb_is_refused(client: httpx.Client, sandbox: Sandbox) -> None:
    body = error(upload(client, padded_jpeg(MB + 1)), "9", SVC + "01030029")
    assert body["subErrors"]["subError"][0]["message"] == "图片大小超过1M"
    assert stats(sandbox)["stored"] == 0


@pytest.mark.parametrize(
    ("image", "ext", "sub_code"),
    [
        (JPEG, "bmp", SVC + "01030042"),
        (JPEG, "webp", SVC + "01030042"),
        (make_webp(), "jpg", SVC + "01030042"),
        (make_bmp(), "jpg", SVC + "01030042"),
        (b"plain text, not a picture\n" * 10, "jpg", SVC + "01030053"),
        (make_jpeg(256, 256)[:400], "jpg", SVC + "01030053"),
    ],
    ids=["ext-bmp", "ext-webp", "webp-content", "bmp-content", "text", "truncated-jpeg"],
)
def test_bad_images_are_refused(
    client: httpx.Client, sandbox: Sandbox, image: bytes, ext: str, sub_code: str
) -> None:
    error(upload(client, image, ext=ext), "9", sub_code)
    assert stats(sandbox)["stored"] == 0


@pytest.mark.parametrize("image", ["no-at-sign", "jpg@!!not base64!!", "jpg@abc"])
def test_unparseable_image_param_is_upload_failed(client: httpx.Client, image: str) -> None:
    error(upload(client, None, extra={"image": image}), "9", SVC + "01030028")


def test_no_image_and_no_img_id_is_refused(client: httpx.Client) -> None:
    body = error(upload(client, None), "9", SVC + "01030038")
    assert body["subErrors"]["subError"][0]["message"] == "新增图片时,图片文件不可为空"


# --- signing and system parameters -----------------------------------------------------------


def test_image_is_not_signed(client: httpx.Client) -> None:
    signed = build_qianmi_upload_request(
        client,
        app_key=APP_KEY,
        secret=SECRET,
        access_token=TOKEN,
        num_iid=ITEM,
        sku_id=SKU,
        image_bytes=JPEG,
    )
    other = make_png(color=(7, 7, 7))
    response = resend_with_body(client, signed, image="png@" + base64.b64encode(other).decode())
    assert fetch(sku_img(response)["url"]) == other


def test_a_signed_param_changed_after_signing_is_refused(client: httpx.Client) -> None:
    signed = build_qianmi_upload_request(
        client,
        app_key=APP_KEY,
        secret=SECRET,
        access_token=TOKEN,
        num_iid=ITEM,
        sku_id=SKU,
        image_bytes=JPEG,
    )
    error(resend_with_body(client, signed, sku_id="g1235"), "25")


def test_empty_params_are_not_signed(client: httpx.Client) -> None:
    img = sku_img(upload(client, extra={"img_id": "", "position": ""}))
    assert img["position"] == 0


def test_app_key_is_camel_case(client: httpx.Client) -> None:
    response = upload(client, extra={"appKey": None, "app_key": APP_KEY})
    error(response, "22")


def test_wrong_secret_is_invalid_signature(client: httpx.Client) -> None:
    body = error(upload(client, secret="not-the-secret"), "25")
    assert "subErrors" not in body or body["subErrors"]["subError"]


@pytest.mark.parametrize("offset", [-601, 601, -3600])
def test_timestamp_over_10_minutes_off_is_refused(
    client: httpx.Client, sandbox: Sandbox, fixed_clock: int, offset: int
) -> None:
    stamp = gmt8_at(fixed_clock + offset)
    error(upload(client, timestamp=stamp), "33", "isv.invalid-paramete:timestamp")
    assert stats(sandbox)["stored"] == 0


@pytest.mark.parametrize("offset", [-600, -599, 0, 599, 600])
def test_timestamp_within_10_minutes_is_accepted(
    client: httpx.Client, fixed_clock: int, offset: int
) -> None:
    # The clock stands still, so the edge itself (600 s, inclusive) is tested exactly.
    sku_img(upload(client, timestamp=gmt8_at(fixed_clock + offset)))


@pytest.mark.parametrize("minutes", [-5, 5])
def test_real_clock_window(client: httpx.Client, minutes: int) -> None:
    # No clock fixed: the real one.  Five minutes in, a margin no delay can cross.
    stamp = (datetime.now(GMT8) + timedelta(minutes=minutes)).strftime("%Y-%m-%d %H:%M:%S")
    sku_img(upload(client, timestamp=stamp))


def test_fixed_clock_is_what_the_timestamp_is_judged_by(
    client: httpx.Client, sandbox: Sandbox
) -> None:
    sandbox.state.set_clock(FIXED_NOW)
    error(upload(client, timestamp=gmt8_now()), "33", "isv.invalid-paramete:timestamp")
    sku_img(upload(client, timestamp=gmt8_at(FIXED_NOW)))
    sandbox.state.set_clock(None)
    sku_img(upload(client, make_jpeg(color=(3, 0, 0)), timestamp=gmt8_now(), position=1))
    error(upload(client, timestamp=gmt8_at(FIXED_NOW)), "33", "isv.invalid-paramete:timestamp")


@pytest.mark.parametrize(
    "timestamp",
    [
        datetime.fromtimestamp(FIXED_NOW, UTC).strftime("%Y-%m-%d %H:%M:%S"),  # 8 hours off
        str(FIXED_NOW * 1000),  # epoch milliseconds: not Qianmi's format
        "2024/01/01 12:00:00",  # FIXED_NOW, with slashes
    ],
    ids=["utc-text", "epoch-ms", "slashes"],
)
def test_timestamp_must_be_gmt8_text(
    client: httpx.Client, fixed_clock: int, timestamp: str
) -> None:
    error(upload(client, timestamp=timestamp), "33", "isv.invalid-paramete:timestamp")


def test_missing_timestamp_is_a_missing_argument(client: httpx.Client) -> None:
    error(upload(client, extra={"timestamp": None}), "32", "isv.missing-parameter:timestamp")


@pytest.mark.parametrize("name", ["num_iid", "sku_id", "fields"])
def test_missing_business_params(client: httpx.Client, name: str) -> None:
    error(upload(client, extra={name: None}), "32", f"isv.missing-parameter:{name}")


@pytest.mark.parametrize(
    "access_token", ["sbx-qm-token-unknown", "sbx-qm-token-expired", "sbx-qm-token-noperm"]
)
def test_invalid_sessions(client: httpx.Client, access_token: str) -> None:
    # sbx-qm-token-noperm belongs to another app (10009002).
    error(upload(client, access_token=access_token), "21")


def test_gmt8_now_is_accepted(client: httpx.Client) -> None:
    sku_img(upload(client, timestamp=gmt8_now()))


# --- every catalogue entry is reached -------------------------------------------------------

Send = Callable[[httpx.Client, Sandbox], httpx.Response]


@dataclass(frozen=True)
class Expect:
    """A catalogue entry's answer as the seed page / platforms.md give it."""

    code: str
    sub_code: str | None  # None: the documents name no sub-code for it
    send: Send
    sub_message: str | None = None  # the seed page's 错误描述


def _forced(error_key: str) -> Send:
    def send(client: httpx.Client, sandbox: Sandbox) -> httpx.Response:
        answer = client.post(
            "/_sandbox/faults", json={"force": [{"platform": PLATFORM, "error": error_key}]}
        )
        assert answer.status_code == 200, answer.text
        return upload(client)

    return send


def _transient(client: httpx.Client, sandbox: Sandbox) -> httpx.Response:
    sandbox.state.set_faults({"transient": 1.0, "platforms": [PLATFORM]})
    return upload(client)


def _frequency(client: httpx.Client, sandbox: Sandbox) -> httpx.Response:
    answer = client.post("/_sandbox/limits", json={"qianmi_app_qps": 2})
    assert answer.status_code == 200, answer.text
    sku_img(upload(client, make_jpeg(color=(1, 0, 0)), position=1))
    sku_img(upload(client, make_jpeg(color=(2, 0, 0)), position=2))
    return upload(client)


def _stale_timestamp(client: httpx.Client, sandbox: Sandbox) -> httpx.Response:
    # A second out of the window, on a fixed clock so that it is exactly one second.
    sandbox.state.set_clock(FIXED_NOW)
    return upload(client, timestamp=gmt8_at(FIXED_NOW - 601))


def _svc(number: str, message: str, send: Send) -> Expect:
    # Main code 9 (ROP "业务逻辑出错") is the sandbox's convention for service errors; the
    # sub-code and its message are the seed page's.
    return Expect("9", SVC + number, send, message)


RECIPES: dict[str, Expect] = {
    "service_unavailable": Expect("1", "isp.service-unavailable", _transient),
    "isv_permission": Expect(
        "2",
        None,
        lambda c, s: upload(
            c,
            app_key="10009002",
            secret="sbx-qianmi-noperm-secret",
            access_token="sbx-qm-token-noperm",
        ),
    ),
    "user_permission": Expect(
        "3", None, lambda c, s: upload(c, access_token="sbx-qm-token-userperm")
    ),
    "upload_fail": Expect("4", None, _forced("upload_fail")),
    "method_not_allowed": Expect("5", None, lambda c, s: c.get("/api")),
    "forbidden": Expect(
        "7",
        None,
        lambda c, s: upload(
            c,
            app_key="10009003",
            secret="sbx-qianmi-forbidden-secret",
            access_token="sbx-qm-token-forbidden",
        ),
    ),
    "missing_session": Expect("20", None, lambda c, s: upload(c, access_token=None)),
    "invalid_session": Expect("21", None, lambda c, s: upload(c, access_token="sbx-qm-nope")),
    "missing_app_key": Expect("22", None, lambda c, s: upload(c, extra={"appKey": None})),
    "invalid_app_key": Expect("23", None, lambda c, s: upload(c, app_key="10000000")),
    "missing_signature": Expect("24", None, lambda c, s: upload(c, extra={"sign": None})),
    "invalid_signature": Expect("25", None, lambda c, s: upload(c, secret="wrong")),
    "missing_method": Expect("26", None, lambda c, s: upload(c, extra={"method": None})),
    "invalid_method": Expect(
        "27", None, lambda c, s: upload(c, extra={"method": "qianmi.cloudshop.sku.image.delete"})
    ),
    "missing_version": Expect("28", None, lambda c, s: upload(c, extra={"v": None})),
    "invalid_version": Expect("29", None, lambda c, s: upload(c, extra={"v": "latest"})),
    "unsupported_version": Expect("30", None, lambda c, s: upload(c, extra={"v": "2.0"})),
    "invalid_format": Expect("31", None, lambda c, s: upload(c, extra={"format": "xml"})),
    "missing_argument": Expect(
        "32", "isv.missing-parameter:num_iid", lambda c, s: upload(c, extra={"num_iid": None})
    ),
    "invalid_argument": Expect(
        "33",
        "isv.invalid-paramete:timestamp",
        _stale_timestamp,
    ),
    "user_call_limit": Expect("34", None, _forced("user_call_limit")),
    "session_call_limit": Expect("35", None, _forced("session_call_limit")),
    "app_call_limit": Expect("36", None, _forced("app_call_limit")),
    "app_frequency_limit": Expect("37", None, _frequency),
    "item_not_found": _svc("01030001", "商品不存在", lambda c, s: upload(c, num_iid="99999")),
    "upload_failed": _svc(
        "01030028", "图片上传失败", lambda c, s: upload(c, None, extra={"image": "jpg@%%%"})
    ),
    "too_large": _svc("01030029", "图片大小超过1M", lambda c, s: upload(c, padded_jpeg(MB + 1))),
    "bad_format": _svc("01030042", "图片格式错误", lambda c, s: upload(c, make_webp(), ext="webp")),
    "not_image": _svc(
        "01030053", "所上传图片为非图片文件", lambda c, s: upload(c, b"not an image at all")
    ),
    "sku_not_found": _svc("01030002", "sku不存在", lambda c, s: upload(c, sku_id="g9999")),
    "position_or_full": _svc(
        "01030043",
        "图片顺序超出范围,或者图片数量已满不可新增",
        lambda c, s: upload(c, sku_id=FULL_SKU),
    ),
    "image_not_found": _svc("01030044", "图片不存在", lambda c, s: upload(c, img_id="404404")),
    "image_required": _svc("01030038", "新增图片时,图片文件不可为空", lambda c, s: upload(c, None)),
    "specs_disabled": _svc(
        "01030064",
        "未开启规格的商品不能添加sku图片",
        lambda c, s: upload(c, num_iid="18354", sku_id="g2001"),
    ),
}


@pytest.mark.parametrize("key", sorted(qianmi_sku.PLATFORM.failures))
def test_every_catalogue_entry_is_reached(client: httpx.Client, sandbox: Sandbox, key: str) -> None:
    expect = RECIPES.get(key)
    if expect is None:
        pytest.fail(f"no recipe for catalogue entry {key!r}: add one to RECIPES")
    failure = qianmi_sku.PLATFORM.failures[key]
    body = error(expect.send(client, sandbox), expect.code, expect.sub_code)
    assert body["errorToken"]
    if expect.sub_message is not None:
        assert body["subErrors"]["subError"][0]["message"] == expect.sub_message
    if expect.code == "33":
        assert body["message"] == "非法的参数"  # the seed page's example
    # The catalogue agrees with the documented literals, and the stats counted it once.
    assert str(failure.code) == expect.code
    if expect.sub_code is not None:
        assert failure.sub_code.format(name=expect.sub_code.rsplit(":", 1)[-1]) == expect.sub_code
    assert stats(sandbox)["rejections"] == {failure.label: 1}


def test_recipes_name_only_catalogue_entries() -> None:
    assert set(RECIPES) <= set(qianmi_sku.PLATFORM.failures)


# --- seed-page details ------------------------------------------------------------------------


def test_sku_service_errors_carry_the_seed_pages_solution(client: httpx.Client) -> None:
    body = error(upload(client, num_iid="99999"), "9", SVC + "01030001")
    assert body["solution"] == "检查系统中是否存在该商品"
    assert body["subErrors"]["subError"][0]["message"] == "商品不存在"


def test_invalid_argument_solution_is_the_seed_example(client: httpx.Client) -> None:
    body = error(upload(client, position="x"), "33", "isv.invalid-paramete:position")
    assert body["solution"] == "请查看根据服务接口对参数格式的要求"
    assert body["message"] == "非法的参数"


def test_an_empty_image_payload_is_a_missing_image(client: httpx.Client) -> None:
    response = upload(client, None, extra={"image": "jpg@"})
    error(response, "9", SVC + "01030038")


@pytest.mark.parametrize(
    "spoil", [str.lower, lambda sign: f" {sign} "], ids=["lowercase-hex", "space-padded"]
)
def test_only_the_exact_uppercase_signature_is_accepted(
    client: httpx.Client,
    sandbox: Sandbox,
    spoil: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A signer that forgets .upper() after hexdigest() is refused, as Qianmi refuses it."""
    right = spec_clients.qianmi_sign
    monkeypatch.setattr(spec_clients, "qianmi_sign", lambda *a, **k: spoil(right(*a, **k)))
    error(upload(client), "25")
    assert stats(sandbox)["stored"] == 0


# --- issue 14: `format` is required ---------------------------------------------------------
# The seed page's system parameters: "formatString 必须 指定响应格式,目前支持格式为json".
# A missing required parameter is ROP's 32 (缺少必选参数, isv.missing-parameter:<name>), as a
# missing timestamp is; `format` is checked after `v` and before `timestamp`.


@pytest.mark.parametrize("value", [None, ""], ids=["absent", "empty"])
def test_missing_format_is_a_missing_argument(
    client: httpx.Client, sandbox: Sandbox, value: str | None
) -> None:
    body = error(upload(client, extra={"format": value}), "32", "isv.missing-parameter:format")
    assert body["message"] == "缺少必选参数"
    assert body["subErrors"]["subError"][0]["message"] == "缺少必选参数format"
    assert stats(sandbox)["stored"] == 0
    label = qianmi_sku.PLATFORM.failures["missing_argument"].label
    assert stats(sandbox)["rejections"] == {label: 1}


def test_the_lookup_needs_format_too(client: httpx.Client) -> None:
    response = qianmi_lookup(
        client,
        app_key=APP_KEY,
        secret=SECRET,
        access_token=TOKEN,
        num_iid=ITEM,
        sku_id=SKU,
        extra={"format": None},
    )
    error(response, "32", "isv.missing-parameter:format")


def test_format_is_checked_after_v_and_before_timestamp(client: httpx.Client) -> None:
    no_format: dict[str, str | None] = {"format": None}
    # Earlier checks win: the version.
    error(upload(client, extra={**no_format, "v": None}), "28")
    error(upload(client, extra={**no_format, "v": "2.0"}), "30")
    # Later checks lose: timestamp, signature, session.
    missing_format = "isv.missing-parameter:format"
    error(upload(client, extra={**no_format, "timestamp": None}), "32", missing_format)
    error(upload(client, secret="wrong", extra=no_format), "32", missing_format)
    error(upload(client, access_token=None, extra=no_format), "32", missing_format)
    error(upload(client, extra={**no_format, "num_iid": None}), "32", missing_format)


# --- issue 14: a token expired on demand ------------------------------------------------------


def invalid_session(response: httpx.Response) -> dict[str, Any]:
    """The whole 21 answer (seed shape asserted), to compare two answers field by field."""
    return error(response, "21")


def test_a_token_expired_over_http_answers_as_the_expired_token(
    client: httpx.Client, sandbox: Sandbox
) -> None:
    img = sku_img(upload(client))  # the token works before
    reference = invalid_session(upload(client, access_token="sbx-qm-token-expired"))
    answer = client.post("/_sandbox/expire", json={"credential": TOKEN})
    assert answer.status_code == 200, answer.text
    expired = upload(client, make_png(), ext="png")
    assert invalid_session(expired) == reference
    assert expired.headers["content-type"] == "application/json"
    # The look-up and a replace go through the same check.
    looked = qianmi_lookup(
        client, app_key=APP_KEY, secret=SECRET, access_token=TOKEN, num_iid=ITEM, sku_id=SKU
    )
    assert invalid_session(looked) == reference
    replace = upload(client, make_png(), ext="png", img_id=str(img["id"]), position=0)
    assert invalid_session(replace) == reference
    counters = stats(sandbox)
    assert counters["stored"] == 1
    assert counters["rejections"] == {"21": 4}


def test_expiry_on_demand_is_per_token_and_reset_clears_it(
    client: httpx.Client, sandbox: Sandbox
) -> None:
    sandbox.state.expire(TOKEN)
    error(upload(client), "21")
    # Another token of the same app is not expired.
    error(upload(client, access_token="sbx-qm-token-userperm"), "3")
    sandbox.state.reset()
    sku_img(upload(client))


# --- issue 14: the TOP-style error shape ----------------------------------------------------
# protocols.md: "the SDK also parses a TOP-style error_response".  With the setting
# {"shapes": {"qianmi_sku": "top_error"}} every error is {"error_response": {"code", "msg",
# "sub_code", "sub_msg"}}: the seed shape's code and message, its sub-error's code and
# message (left out when there is none, as TOP does), no errorToken or solution.


def set_shape(client: httpx.Client, shape: str | None) -> None:
    """Choose the Qianmi answer shape over HTTP (None: the seed page's)."""
    answer = client.post("/_sandbox/settings", json={"shapes": {PLATFORM: shape}})
    assert answer.status_code == 200, answer.text
    assert answer.json()["shapes"] == ({} if shape is None else {PLATFORM: shape})


def top_error(response: httpx.Response) -> dict[str, Any]:
    """Assert the TOP-style shape and nothing else; return its ``error_response``."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error_response"}, body
    inner: dict[str, Any] = body["error_response"]
    assert set(inner) in ({"code", "msg"}, {"code", "msg", "sub_code", "sub_msg"}), body
    assert all(isinstance(value, str) and value for value in inner.values()), body
    return inner


def test_the_top_error_shape_is_declared_and_switched_over_http(client: httpx.Client) -> None:
    assert client.get("/_sandbox/settings").json()["shapes"] == {}
    refused = client.post("/_sandbox/settings", json={"shapes": {PLATFORM: "flat_data"}})
    assert refused.status_code == 400
    assert "top_error" in refused.text
    set_shape(client, "top_error")
    assert client.get("/_sandbox/settings").json()["shapes"] == {PLATFORM: "top_error"}
    assert top_error(upload(client, extra={"format": None})) == {
        "code": "32",
        "msg": "缺少必选参数",
        "sub_code": "isv.missing-parameter:format",
        "sub_msg": "缺少必选参数format",
    }
    assert top_error(upload(client, secret="wrong")) == {"code": "25", "msg": "无效签名"}
    assert top_error(upload(client, sku_id="g9999")) == {
        "code": "9",
        "msg": "业务逻辑出错",
        "sub_code": SVC + "01030002",
        "sub_msg": "sku不存在",
    }
    assert top_error(upload(client, position="x"))["sub_code"] == "isv.invalid-paramete:position"
    # Success is not an error: its shape does not change.
    assert sku_img(upload(client))["position"] == 0
    # Back to the seed page's shape.
    set_shape(client, None)
    error(upload(client, sku_id="g9999"), "9", SVC + "01030002")


def test_the_top_error_shape_covers_lookups_faults_and_forced_errors(
    client: httpx.Client, sandbox: Sandbox
) -> None:
    sandbox.state.set_settings({"shapes": {PLATFORM: "top_error"}})
    looked = qianmi_lookup(
        client, app_key=APP_KEY, secret=SECRET, access_token=TOKEN, num_iid="99999", sku_id=SKU
    )
    assert top_error(looked)["sub_code"] == SVC + "01030001"
    sandbox.state.expire(TOKEN)
    assert top_error(upload(client)) == {"code": "21", "msg": "无效的会话参数"}
    sandbox.state.reset()
    sandbox.state.set_settings({"shapes": {PLATFORM: "top_error"}})
    forced = client.post(
        "/_sandbox/faults", json={"force": [{"platform": PLATFORM, "error": "app_call_limit"}]}
    )
    assert forced.status_code == 200, forced.text
    assert top_error(upload(client)) == {"code": "36", "msg": "应用调用次数超限"}
    sandbox.state.set_faults({"transient": 1.0, "platforms": [PLATFORM]})
    assert top_error(upload(client)) == {
        "code": "1",
        "msg": "服务不可用",
        "sub_code": "isp.service-unavailable",
        "sub_msg": "服务暂时不可用",
    }


@pytest.mark.parametrize("key", sorted(RECIPES))
def test_every_catalogue_entry_in_the_top_error_shape(
    client: httpx.Client, sandbox: Sandbox, key: str
) -> None:
    """Each error says the same in both shapes: code, message, sub-code, sub-message."""
    expect = RECIPES[key]
    seed = error(expect.send(client, sandbox), expect.code, expect.sub_code)
    sandbox.state.reset()
    set_shape(client, "top_error")
    inner = top_error(expect.send(client, sandbox))
    wanted = {"code": seed["code"], "msg": seed["message"]}
    if "subErrors" in seed:
        sub = seed["subErrors"]["subError"][0]
        wanted |= {"sub_code": sub["code"], "sub_msg": sub["message"]}
    assert inner == wanted


# --- issue 14: `position` defaults to 0 and a taken position is refused ----------------------
# The seed page: "position … 图片顺序,默认0;取值范围0-4".  A missing position is 0 for a new
# image and a replace alike (ROP binds a parameter's default before the service sees it).
# A position another image of the SKU holds is refused; the page names no code for it, so
# the sandbox answers with its one code about the position, 01030043.

FULL_OR_OUT = "图片顺序超出范围,或者图片数量已满不可新增"


def test_a_missing_position_is_0_and_a_second_one_is_refused(
    client: httpx.Client, sandbox: Sandbox
) -> None:
    assert sku_img(upload(client, make_jpeg(color=(5, 0, 0))))["position"] == 0
    body = error(upload(client, make_jpeg(color=(6, 0, 0))), "9", SVC + "01030043")
    assert body["subErrors"]["subError"][0]["message"] == FULL_OR_OUT
    error(upload(client, make_jpeg(color=(7, 0, 0)), position=0), "9", SVC + "01030043")
    assert sku_img(upload(client, make_jpeg(color=(8, 0, 0)), position=1))["position"] == 1
    counters = stats(sandbox)
    assert (counters["stored"], counters["rejections"]) == (2, {"9 " + SVC + "01030043": 2})


def test_an_explicit_position_cannot_repeat(client: httpx.Client) -> None:
    assert sku_img(upload(client, make_jpeg(color=(1, 2, 0)), position=3))["position"] == 3
    error(upload(client, make_jpeg(color=(1, 3, 0)), position=3), "9", SVC + "01030043")
    error(upload(client, make_jpeg(color=(1, 4, 0)), position="3"), "9", SVC + "01030043")
    # Another SKU's positions are its own.
    assert sku_img(upload(client, sku_id="g1235", position=3))["position"] == 3
    _, listed = lookup_positions(client)
    assert listed == [3]


def lookup_positions(client: httpx.Client, sku_id: str = SKU) -> tuple[int, list[int]]:
    """The SKU's images by ``qianmi.cloudshop.sku.images.get``: (total, their positions)."""
    response = qianmi_lookup(
        client, app_key=APP_KEY, secret=SECRET, access_token=TOKEN, num_iid=ITEM, sku_id=sku_id
    )
    assert response.status_code == 200, response.text
    answer = response.json()["sku_images_get_response"]
    return answer["total_results"], [image["position"] for image in answer["sku_imgs"]["sku_img"]]


def test_a_replace_keeps_or_takes_a_position_but_not_anothers(client: httpx.Client) -> None:
    first = sku_img(upload(client, make_jpeg(color=(2, 1, 0)), position=2))
    other = sku_img(upload(client, make_jpeg(color=(2, 2, 0)), position=4))
    img_id = str(first["id"])
    # Its own position, or a free one.
    kept = sku_img(upload(client, make_png(), ext="png", img_id=img_id, position=2))
    assert kept["position"] == 2
    moved = sku_img(upload(client, make_gif(), ext="gif", img_id=img_id, position=1))
    assert moved["position"] == 1
    # Another image's position: refused, with or without new bytes.
    error(upload(client, make_png(), ext="png", img_id=img_id, position=4), "9", SVC + "01030043")
    error(upload(client, None, img_id=img_id, position=4), "9", SVC + "01030043")
    # No position: 0, the page's default (free here, so the image moves there).
    assert sku_img(upload(client, make_png(), ext="png", img_id=img_id))["position"] == 0
    # Now 0 is held: the other image cannot be replaced or moved without naming a position.
    error(upload(client, make_png(), ext="png", img_id=str(other["id"])), "9", SVC + "01030043")
    error(upload(client, None, img_id=str(other["id"])), "9", SVC + "01030043")
    assert lookup_positions(client) == (2, [0, 4])


def test_the_full_sku_replaces_each_image_at_its_own_position(client: httpx.Client) -> None:
    # 18353/g1236 is seeded with five images at 0–4.
    total, positions = lookup_positions(client, FULL_SKU)
    assert (total, positions) == (5, [0, 1, 2, 3, 4])
    response = qianmi_lookup(
        client, app_key=APP_KEY, secret=SECRET, access_token=TOKEN, num_iid=ITEM, sku_id=FULL_SKU
    )
    seeded = response.json()["sku_images_get_response"]["sku_imgs"]["sku_img"]
    third = str(seeded[3]["id"])
    error(upload(client, sku_id=FULL_SKU, img_id=third), "9", SVC + "01030043")
    error(upload(client, sku_id=FULL_SKU, img_id=third, position=1), "9", SVC + "01030043")
    assert sku_img(upload(client, sku_id=FULL_SKU, img_id=third, position=3))["position"] == 3
