"""Shared helpers for the TOP sandbox tests (``test_sandbox_top/tmall/miniapp.py``).

Requests are built only with ``spec_clients``.  Credentials and targets are literals of
the sandbox world as ``docs/sandbox-world.md`` lists them; expected codes and sub-codes are
literals from ``docs/protocols.md`` (TOP) and the official pages of the two methods, so
the sandbox is checked against the written protocol, not against its own catalogue.

The recipes here reach the *gateway* entries of a TOP catalogue (both APIs share them);
each API's test module adds recipes for its own entries.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree

import httpx
from spec_clients import FileSpec, Value, big_jpeg, build_top_request, make_jpeg, top_call

from imgkit.sandbox import Sandbox
from imgkit.sandbox.failures import Failure

TMALL = "taobao.item.img.upload.tmall"
MINIAPP = "taobao.miniapp.trade.picture.upload"
TMALL_ROOT = "item_img_upload_tmall_response"
MINIAPP_ROOT = "miniapp_trade_picture_upload_response"

APP, SECRET = "21000001", "sbx-top-secret-a"
APP_B, SECRET_B = "21000002", "sbx-top-secret-b"
TMALL_SESSION = "sbx-session-tmall-1"  # seller of items 1489161932, 1489161940-42
TMALL_SESSION_B = "sbx-session-tmall-2"  # app 21000002, seller of item 1489162001
MINIAPP_SESSION = "sbx-session-miniapp-1"
ITEM = "1489161932"  # one image (the main one) already
ITEM_EMPTY = "1489161940"  # no image yet
ITEM_FULL = "1489161933"  # five images already
ITEM_B = "1489162001"  # of sbx-session-tmall-2's seller
MINIAPP_ID = "3000000012345"
MINIAPP_ID_2 = "3000000012346"
MAX_BYTES = 3145728  # Tmall "最大长度:3145728"; the mini-app's "3M" is the same
GATEWAY = "top_gateway"
JPEG = make_jpeg()
BAN = re.compile(r"This ban will last for (\d+) more seconds")
STAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
# The instant the sandbox clock is fixed at near a time boundary (2024-01-01 12:00:00 GMT+8):
# far from today, so a request stamped from the real clock instead would be refused.
FIXED_NOW = 1704081600
_API_SESSION = "(the API's own session)"


@dataclass(frozen=True)
class Api:
    """One TOP API with parameters that make a call succeed."""

    platform: str
    method: str
    session: str
    params: Mapping[str, Value]
    file_field: str


TMALL_API = Api("tmall_item", TMALL, TMALL_SESSION, {"num_iid": ITEM}, "image")
MINIAPP_API = Api(
    "taobao_miniapp",
    MINIAPP,
    MINIAPP_SESSION,
    {"miniapp_id": MINIAPP_ID, "file_name": "红色杯子 主图"},
    "bytes",
)


def call(
    client: httpx.Client,
    api: Api,
    image: bytes | None = JPEG,
    *,
    filename: str = "红色杯子.jpg",
    params: Mapping[str, Value] | None = None,
    files: Mapping[str, FileSpec] | None = None,
    app_key: str = APP,
    secret: str = SECRET,
    session: str | None = _API_SESSION,
    method: str | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """``top_call`` with working defaults; ``params`` override the API's (None drops one).

    ``image`` goes in the API's file part (none when None) unless ``files`` is given;
    ``kwargs`` go to ``spec_clients.top_call`` (style, sign_method, timestamp, extra).
    """
    if files is None:
        files = {api.file_field: (filename, image)} if image is not None else {}
    return top_call(
        client,
        method=method or api.method,
        app_key=app_key,
        secret=secret,
        session=api.session if session == _API_SESSION else session,
        app_params={**api.params, **(params or {})},
        files=files,
        **kwargs,
    )


def body_of(response: httpx.Response) -> dict[str, Any]:
    """The body; TOP answers everything, errors included, with HTTP 200.

    A request that did not ask for JSON gets TOP's XML ``<error_response>``: it is read
    into the same ``{"error_response": {...}}`` shape (numbers as numbers).
    """
    assert response.status_code == 200, response.text
    if response.headers["content-type"].startswith("text/xml"):
        root = ElementTree.fromstring(response.content)
        assert root.tag == "error_response", response.text
        members: dict[str, Any] = {child.tag: child.text or "" for child in root}
        members["code"] = int(members["code"])
        return {"error_response": members}
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    return body


def envelope(response: httpx.Response, root: str) -> dict[str, Any]:
    """The success envelope under ``root`` (asserting there is no error_response)."""
    body = body_of(response)
    assert "error_response" not in body, body
    assert set(body) == {root}, body
    inner: dict[str, Any] = body[root]
    assert isinstance(inner["request_id"], str), inner
    assert inner["request_id"]
    return inner


def item_img(response: httpx.Response) -> dict[str, Any]:
    """``item_img`` of a successful Tmall upload."""
    image: dict[str, Any] = envelope(response, TMALL_ROOT)["item_img"]
    assert set(image) >= {"id", "url", "created"}, image
    return image


def result_of(response: httpx.Response) -> dict[str, Any]:
    """``result`` of a mini-app answer (success or not)."""
    result: dict[str, Any] = envelope(response, MINIAPP_ROOT)["result"]
    return result


def model_of(response: httpx.Response) -> dict[str, Any]:
    """``result.model`` of a successful mini-app upload."""
    result = result_of(response)
    assert result["success"] is True, result
    model: dict[str, Any] = result["model"]
    return model


def error_of(response: httpx.Response, code: int | None = None) -> dict[str, Any]:
    """``error_response`` (asserting ``code`` when given)."""
    body = body_of(response)
    assert set(body) == {"error_response"}, body
    error: dict[str, Any] = body["error_response"]
    assert isinstance(error["msg"], str), error
    assert error["msg"]
    assert isinstance(error["request_id"], str), error
    assert error["request_id"]
    if code is not None:
        assert error["code"] == code, error
    return error


def succeeded(response: httpx.Response) -> bool:
    """True for a stored upload of either API."""
    body = body_of(response)
    if TMALL_ROOT in body:
        return True
    return MINIAPP_ROOT in body and body[MINIAPP_ROOT]["result"]["success"] is True


def fetch(client: httpx.Client, url: str) -> httpx.Response:
    """GET an image URL the sandbox returned."""
    assert url.startswith(str(client.base_url).rstrip("/") + "/"), url
    response = client.get(url)
    assert response.status_code == 200, response.text
    return response


def control(client: httpx.Client, what: str, body: Mapping[str, Any]) -> None:
    """``POST /_sandbox/<what>`` and check it was taken."""
    response = client.post(f"/_sandbox/{what}", json=dict(body))
    assert response.status_code == 200, response.text


def fix_clock(client: httpx.Client, at: float | None) -> None:
    """Stand the sandbox clock at ``at`` (epoch seconds), or free it (None).

    A fixed clock does not move between stamping a request and the gateway judging it, so
    a test can sit exactly on the edge of the ten-minute window; the next reset frees it.
    """
    control(client, "clock", {"at": at})


@functools.cache
def jpeg_of_size(size: int) -> bytes:
    """A valid JPEG of exactly ``size`` bytes: a noisy one padded after its EOI marker."""
    base = big_jpeg(min(size, 2_000_000))
    assert base.endswith(b"\xff\xd9")
    assert len(base) <= size
    return base + b"\x00" * (size - len(base))


def truncated_jpeg() -> bytes:
    """The first half of a real JPEG."""
    data = make_jpeg(256, 256)
    return data[: len(data) // 2]


TEXT = b"This is a text file, not a picture.\n" * 20


def fullwidth(digits: str) -> str:
    """``digits`` in fullwidth form (U+FF10...), which ``str.isdigit`` also calls digits."""
    return "".join(chr(0xFF10 + int(d)) for d in digits)


# --- every catalogue entry --------------------------------------------------------------------

Send = Callable[[httpx.Client, Sandbox], httpx.Response]


@dataclass(frozen=True)
class Recipe:
    """How to reach one catalogue entry and what the spec says the answer is.

    ``code`` / ``sub_code``: literals from platforms.md or the seed page (``None``: the spec
    gives none; for mini-app content errors it only says "a numeric err_code").
    ``stats``: the stats key the refusal is counted under when not the API's platform.
    """

    send: Send
    code: int | None
    sub_code: str | None = None
    sub_code_prefix: str | None = None
    ban: bool = False
    result: bool = False
    stats: str | None = None


def check_refusal(
    response: httpx.Response, recipe: Recipe, failure: Failure, sandbox: Sandbox, platform: str
) -> None:
    """Assert ``response`` is ``failure`` as the spec describes it, and is counted."""
    if recipe.result:
        result = result_of(response)
        assert result["success"] is False, result
        assert isinstance(result["err_code"], int), result
        assert not isinstance(result["err_code"], bool)
        # The sandbox's own numbering (sandbox-errors.md); the spec only says "numeric".
        assert result["err_code"] == failure.code, result
        assert isinstance(result["err_message"], str), result
        assert result["err_message"]
        assert not result.get("model"), result
    else:
        error = error_of(response, recipe.code)
        assert error["code"] == failure.code, error
        if recipe.sub_code is not None:
            assert error.get("sub_code") == recipe.sub_code, error
        if recipe.sub_code_prefix is not None:
            assert str(error.get("sub_code", "")).startswith(recipe.sub_code_prefix), error
        if failure.sub_code:
            assert "{" not in error["sub_code"], error
            assert isinstance(error["sub_msg"], str), error
            assert error["sub_msg"]
        if recipe.ban:
            match = BAN.search(error["sub_msg"])
            assert match, error
            assert int(match.group(1)) >= 1
    rejections = sandbox.stats()[recipe.stats or platform]["rejections"]
    assert rejections.get(failure.label) == 1, rejections


def _sign_then_break_body(client: httpx.Client, api: Api) -> httpx.Response:
    """Signed system params in the query (as the SDK sends them), an unparseable body."""
    request = build_top_request(
        client,
        method=api.method,
        app_key=APP,
        secret=SECRET,
        session=api.session,
        app_params=api.params,
    )
    body = b"--b\r\nContent-Disposition: form-data\r\n\r\nno name\r\n--b--\r\n"
    headers = {"Content-Type": "multipart/form-data; boundary=b"}
    return client.post(request.url, content=body, headers=headers)


def _after_successes(api: Api, limits: Mapping[str, Any], successes: int) -> Send:
    """Set ``limits``, make ``successes`` good calls, then one more."""

    def send(client: httpx.Client, sandbox: Sandbox) -> httpx.Response:
        control(client, "limits", limits)
        for n in range(successes):
            assert succeeded(call(client, api, make_jpeg(color=(n, 1, 2)))), n
        return call(client, api, make_jpeg(color=(9, 9, 9)))

    return send


def _with_faults(api: Api, faults: Mapping[str, Any]) -> Send:
    def send(client: httpx.Client, sandbox: Sandbox) -> httpx.Response:
        control(client, "faults", faults)
        return call(client, api)

    return send


def gateway_recipes(api: Api) -> dict[str, Recipe]:
    """Recipes for the gateway entries that every TOP API's catalogue holds.

    Two entries cannot be produced by every API: ``isv_permission`` (only app 21000003
    calling the Tmall API) and ``missing_argument`` (the Tmall API names its own missing
    parameters); their recipes use the API whose trigger it is and say where it is counted.
    """

    def with_(**kw: Any) -> Send:
        return lambda client, sandbox: call(client, api, **kw)

    return {
        "upload_fail": Recipe(with_(image=b""), 3),
        "app_quota": Recipe(
            with_(app_key="21000009", secret="sbx-top-secret-quota", session="sbx-session-quota"),
            7,
            "accesscontrol.limited-by-app-access-count",
        ),
        "api_banned": Recipe(
            _with_faults(api, {"rate_limited": 1.0, "platforms": [api.platform]}),
            7,
            "accesscontrol.limited-by-api-access-count",
            ban=True,
        ),
        "app_api_banned": Recipe(
            _after_successes(api, {"top_app_qps": 2, "top_ban_s": 1}, 2),
            7,
            "accesscontrol.limited-by-app-api-access-count",
            ban=True,
        ),
        "frequency_exceeded": Recipe(_after_successes(api, {"top_session_qps": 1}, 1), 8),
        "service_unavailable": Recipe(
            _with_faults(
                api, {"force": [{"platform": api.platform, "error": "service_unavailable"}]}
            ),
            10,
        ),
        "isv_permission": Recipe(
            lambda client, sandbox: call(
                client,
                TMALL_API,
                app_key="21000003",
                secret="sbx-top-secret-noapi",
                session="sbx-session-noapi",
            ),
            11,
            stats=TMALL_API.platform,
        ),
        "user_permission": Recipe(with_(session="sbx-session-userperm"), 12),
        "session_permission": Recipe(with_(session="sbx-session-readonly"), 13),
        "remote_service_error": Recipe(
            _with_faults(api, {"transient": 1.0, "platforms": [api.platform]}),
            15,
            sub_code_prefix="isp.",
        ),
        "missing_method": Recipe(with_(extra={"method": None}), 21, stats=GATEWAY),
        "method_not_allowed": Recipe(
            lambda client, sandbox: client.get(
                "/router/rest", params={"method": api.method, "format": "json"}
            ),
            9,
            "isv.http-action-not-allowed",
            stats=GATEWAY,
        ),
        "invalid_method": Recipe(with_(method="taobao.item.img.upload.nowhere"), 22, stats=GATEWAY),
        "invalid_format": Recipe(with_(extra={"format": "xml"}), 23),
        "missing_signature": Recipe(with_(extra={"sign": None}), 24),
        "invalid_signature": Recipe(with_(secret="not-the-secret"), 25),
        "missing_session": Recipe(with_(session=None), 26),
        "invalid_session": Recipe(with_(session="sbx-session-nobody"), 27),
        "missing_app_key": Recipe(with_(extra={"app_key": None}), 28),
        "invalid_app_key": Recipe(with_(app_key="29999999"), 29),
        "missing_timestamp": Recipe(with_(extra={"timestamp": None}), 30),
        "invalid_timestamp": Recipe(with_(timestamp="2001-01-01 00:00:00"), 31),
        "missing_version": Recipe(with_(extra={"v": None}), 32),
        "invalid_version": Recipe(with_(extra={"v": "abc"}), 33),
        "unsupported_version": Recipe(with_(extra={"v": "1.0"}), 34),
        "missing_argument": Recipe(
            lambda client, sandbox: call(client, MINIAPP_API, params={"miniapp_id": None}),
            40,
            "isv.missing-parameter:miniapp_id",
            stats=MINIAPP_API.platform,
        ),
        "invalid_argument": Recipe(
            with_(params={"num_iid": "abc"} if api is TMALL_API else {"miniapp_id": "abc"}),
            41,
            "isv.invalid-parameter:num_iid"
            if api is TMALL_API
            else "isv.invalid-parameter:miniapp_id",
        ),
        "forbidden": Recipe(
            with_(app_key="21000004", secret="sbx-top-secret-ip", session="sbx-session-ip"), 42
        ),
        "parameter_error": Recipe(
            lambda client, sandbox: _sign_then_break_body(client, api), 43, stats=GATEWAY
        ),
    }
