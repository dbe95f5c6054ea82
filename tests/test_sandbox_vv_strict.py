"""Sandbox, vv-tool (``taobao_picture``): the strict readings of issue 14, over loopback HTTP.

The 302's authorization link, tokens expired on demand, the token judged before the
body, and the picture's fields exactly as the page's example shows them.  Requests are
built only with ``spec_clients``; expected answers are literals from the official page
``docs/protocols.md`` names (vv-tool, "上传单张图片") and from protocols.md.  The last test
runs imgkit's own adapter through a batch whose token expires mid-way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pandas as pd
import pytest
from PIL import Image
from spec_clients import (
    build_vv_lookup_request,
    build_vv_upload_request,
    make_jpeg,
    vv_lookup,
    vv_token,
    vv_upload,
)

import imgkit
from imgkit import Sandbox
from imgkit.engine.retry import RetryPolicy

PLATFORM = "taobao_picture"
TOKEN = "sbx-vv-token-1"  # static token of client sbx-vv-client (shops 1 and 2)
CLIENT_ID = "sbx-vv-client"
CLIENT_SECRET = "sbx-vv-client-secret"
SHOP, SHOP_2, OTHER_SHOP = "sbx_tb_shop_1", "sbx_tb_shop_2", "sbx_tb_shop_other"
UNAUTHORIZED = {"code": 401, "msg": "未授权"}  # docs/protocols.md: HTTP 401, bare body
STAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")  # the page: 2000-01-01 00:00:00
ISSUED_AT = 1704081600.0
TTL_S = 7200  # docs/sandbox.md: tokens of the token endpoint last 2 h


def upload(client: httpx.Client, **kwargs: Any) -> httpx.Response:
    """One upload of a 120x80 JPEG with working defaults (``kwargs`` override them)."""
    fields: dict[str, Any] = {
        "token": TOKEN,
        "shop_id": SHOP,
        "img": make_jpeg(120, 80),
        "filename": "a.jpg",
    }
    return vv_upload(client, **(fields | kwargs))


def issued_token(client: httpx.Client) -> str:
    """A token from the client-credentials endpoint."""
    body = vv_token(client, client_id=CLIENT_ID, client_secret=CLIENT_SECRET).json()
    assert body["code"] == 0, body
    return str(body["data"]["access_token"])


def is_refused_as_unauthorized(response: httpx.Response) -> bool:
    """HTTP 401 with the bare ``{"code": 401, "msg": "未授权"}``."""
    return response.status_code == 401 and response.json() == UNAUTHORIZED


def expire(client: httpx.Client, sandbox: Sandbox, token: str, how: str) -> None:
    """Expire ``token`` through the state or through ``POST /_sandbox/expire``."""
    if how == "state":
        sandbox.state.expire(token)
    else:
        answer = client.post("/_sandbox/expire", json={"credential": token})
        assert answer.status_code == 200, answer.text


def with_broken_body(request: httpx.Request) -> httpx.Request:
    """``request`` with its multipart body replaced by bytes that are not multipart."""
    headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
    return httpx.Request(request.method, request.url, headers=headers, content=b"garbage")


# --- 1. the 302 answer carries the authorization link -----------------------------------


Send302 = Callable[[httpx.Client], httpx.Response]
SENDS_302: dict[str, Send302] = {
    "upload": lambda c: upload(c, shop_id=OTHER_SHOP),
    "look-up": lambda c: vv_lookup(c, token=TOKEN, shop_id=OTHER_SHOP),
}


@pytest.mark.parametrize("send", list(SENDS_302.values()), ids=list(SENDS_302))
def test_unauthorized_shop_answers_with_a_link_to_follow(
    client: httpx.Client, sandbox: Sandbox, send: Send302
) -> None:
    # The page: 302 未授权店铺, remedy "根据返回链接进行扫码授权" (follow the returned link).
    response = send(client)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"code", "msg", "msec", "time", "data"}
    assert (body["code"], body["msg"]) == (302, "未授权店铺")
    link = body["data"]["url"]
    assert isinstance(link, str)
    assert link.startswith(sandbox.base_url + "/"), link  # absolute, followable
    assert parse_qs(urlsplit(link).query) == {"shop_id": [OTHER_SHOP]}
    page = httpx.get(link, timeout=10.0)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for words in (OTHER_SHOP, "扫码授权", "sandbox"):  # a page that says what it is
        assert words in page.text
    assert sandbox.stats()[PLATFORM]["stored"] == 0


def test_the_authorization_page_of_an_unknown_shop_is_not_found(sandbox: Sandbox) -> None:
    page = httpx.get(f"{sandbox.base_url}/tool/erps/authorize?shop_id=nobody", timeout=10.0)
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "nobody" in page.text  # the sandbox's page, saying the shop is unknown
    assert "sandbox" in page.text


# --- 2. tokens expired on demand ----------------------------------------------------------


@pytest.mark.parametrize("how", ["state", "http"])
def test_an_issued_token_expired_on_demand_is_refused(
    client: httpx.Client, sandbox: Sandbox, how: str
) -> None:
    token = issued_token(client)
    assert upload(client, token=token, shop_id=SHOP_2).json()["code"] == 0
    expire(client, sandbox, token, how)
    assert is_refused_as_unauthorized(upload(client, token=token, shop_id=SHOP_2))
    assert is_refused_as_unauthorized(vv_lookup(client, token=token, shop_id=SHOP_2))
    # A fresh token of the same client works.
    assert upload(client, token=issued_token(client), shop_id=SHOP_2).json()["code"] == 0


@pytest.mark.parametrize("how", ["state", "http"])
def test_a_static_token_expired_on_demand_is_refused_until_reset(
    client: httpx.Client, sandbox: Sandbox, how: str
) -> None:
    expire(client, sandbox, TOKEN, how)
    assert is_refused_as_unauthorized(upload(client))
    assert sandbox.stats()[PLATFORM]["rejections"] == {"401": 1}
    assert client.post("/_sandbox/reset").status_code == 200
    assert upload(client).json()["code"] == 0


def test_expired_on_demand_answers_as_past_expires_in(
    client: httpx.Client, sandbox: Sandbox
) -> None:
    # The page has no answer of its own for an expired token: both are the 401 of a bad one.
    sandbox.state.set_clock(ISSUED_AT)
    lapsing, demanded = issued_token(client), issued_token(client)
    sandbox.state.expire(demanded)
    on_demand = upload(client, token=demanded, shop_id=SHOP_2)
    sandbox.state.set_clock(ISSUED_AT + TTL_S)
    lapsed = upload(client, token=lapsing, shop_id=SHOP_2)
    unknown = upload(client, token="sbx-vv-token-unknown", shop_id=SHOP_2)
    answers = [(r.status_code, r.json(), r.headers["content-type"]) for r in (on_demand, lapsed)]
    assert answers[0] == answers[1] == (401, UNAUTHORIZED, "application/json")
    assert (unknown.status_code, unknown.json()) == (401, UNAUTHORIZED)


# --- 4. the token is judged before the body ----------------------------------------------


@pytest.mark.parametrize(
    "token",
    [None, "sbx-vv-token-unknown", "expired"],
    ids=["no-header", "unknown-token", "expired-token"],
)
@pytest.mark.parametrize("api", ["upload", "look-up"])
def test_a_bad_token_is_reported_before_a_broken_body(
    client: httpx.Client, sandbox: Sandbox, token: str | None, api: str
) -> None:
    if token == "expired":
        token = issued_token(client)
        sandbox.state.expire(token)
    if api == "upload":
        request = build_vv_upload_request(
            client, token=token, shop_id=SHOP, img=make_jpeg(), filename="a.jpg"
        )
    else:
        request = build_vv_lookup_request(client, token=token, shop_id=SHOP)
    response = client.send(with_broken_body(request))
    assert is_refused_as_unauthorized(response), response.text
    assert sandbox.stats()[PLATFORM]["rejections"] == {"401": 1}


def test_a_good_token_with_a_broken_body_is_still_refused_as_malformed(
    client: httpx.Client,
) -> None:
    request = build_vv_upload_request(
        client, token=TOKEN, shop_id=SHOP, img=make_jpeg(), filename="a.jpg"
    )
    body = client.send(with_broken_body(request)).json()
    assert body["code"] == 100
    assert body["msg"].startswith("请求参数错误")


# --- 3. the picture's fields as the page's example shows them ------------------------------


def test_the_picture_is_as_the_pages_example(client: httpx.Client) -> None:
    # The page's example: "sizes":100, "pixel":"450x150" (格式:长 x 宽), "status":"unfroze",
    # "deleted":"deleted", "created"/"modified":"2000-01-01 00:00:00", "client_type".
    # Its phone rule calls the height 长度 (length, at most 960), the width 宽度: so 长 x 宽
    # is height x width.
    img = make_jpeg(120, 80)
    body = upload(client, img=img, title="你好", client_type="client:computer").json()
    assert body["code"] == 0, body
    picture = body["data"]["picture_upload_response"]["picture"]
    assert picture["pixel"] == "80x120"
    assert picture["deleted"] == "deleted"
    assert picture["status"] == "unfroze"
    assert picture["sizes"] == len(img)
    assert isinstance(picture["sizes"], int)
    assert isinstance(picture["picture_id"], int)
    assert picture["picture_category_id"] == 0
    assert picture["title"] == "你好"
    assert picture["client_type"] == "client:computer"
    assert STAMP.fullmatch(picture["created"])
    assert STAMP.fullmatch(picture["modified"])
    # The look-up lists the picture as the upload answered it.
    listed = vv_lookup(client, token=TOKEN, shop_id=SHOP).json()["data"]["picture_get_response"]
    assert listed["pictures"]["picture"] == [picture]


# --- 2 (continued). imgkit's adapter meets an expired token mid-batch ---------------------


FAST = RetryPolicy(base_delay=0.01, max_delay=0.05, max_total=10.0)


def uploads_by_token(sandbox: Sandbox) -> Iterator[str]:
    """The credentials of the successful uploads, oldest first (token calls left out)."""
    for record in sandbox.state.request_log(PLATFORM):
        if record.outcome == "ok" and record.credential != CLIENT_ID:
            yield record.credential


@pytest.mark.parametrize("how", ["expire", "clock"])
def test_the_adapter_refreshes_a_token_that_expires_mid_batch(
    sandbox: Sandbox, tmp_path: Path, how: str
) -> None:
    files = []
    for n in range(5):
        path = tmp_path / f"img_{n}.jpg"
        Image.new("RGB", (120, 90), (n * 40, 90, 20)).save(path, "JPEG")
        files.append(path)
    row = {"platform": PLATFORM, "shop": "tb_picture_oauth", "target": "0"}
    frame = pd.DataFrame([row | {"file": str(f)} for f in files])
    if how == "clock":
        sandbox.state.set_clock(ISSUED_AT)
    expired: list[str] = []

    def after_each_change(_progress: object) -> None:
        first = next(uploads_by_token(sandbox), None)
        if first is None or expired:
            return
        expired.append(first)
        if how == "expire":
            sandbox.state.expire(first)
        else:
            sandbox.state.set_clock(ISSUED_AT + TTL_S)  # the token's expires_in has passed

    results = imgkit.upload(
        frame,
        shops=sandbox.shops,
        journal=False,
        progress=after_each_change,
        policy=FAST,
        concurrency=1,
    )
    assert list(results["status"]) == ["uploaded"] * 5, results[["status", "message"]]
    stats = sandbox.stats()[PLATFORM]
    assert (stats["stored"], stats["duplicates"]) == (5, 0)
    assert stats["rejections"] == {"401": 1}  # met once, then a new token
    with sandbox.client() as http:
        assert http.get("/_sandbox/stats").json()[PLATFORM]["duplicates"] == 0
    tokens = list(uploads_by_token(sandbox))
    assert len(tokens) == 5
    assert len(set(tokens)) == 2
    assert tokens[0] == expired[0]
    assert expired[0] not in tokens[1:]
    log = sandbox.state.request_log(PLATFORM)
    assert sum(1 for r in log if r.credential == CLIENT_ID) == 2  # the token endpoint twice
