"""vv-tool gateway → Taobao picture space (``taobao_picture``).

``POST /tool/erps/tbpicture`` (multipart, ``Authorization: Bearer``) and the
client-credentials token endpoint ``POST /api/proxy/oauth/token``.  Codes and Chinese
messages follow the seed page; the 401/429 bodies are a sandbox convention (see
``docs/protocols.md``, picture space rate limit, 401 and 429).

``POST /tool/erps/tbpicture/get`` is the look-up of ``docs/lookups.md`` (a sandbox
convention modelled on TOP's ``taobao.picture.get``): a shop's pictures, filtered by
category and title, paged; same token checks and the same 10/s budget as the upload.

The bearer token is judged before the body: a missing, unknown or expired token is 401
whatever the body holds, and only then is a body that cannot be parsed refused (100).
A 302 (未授权店铺) carries the link the page says to follow for the QR-code
authorization, ``data.url``, which leads to a page the sandbox serves at
``GET /tool/erps/authorize`` (both sandbox conventions: the page names no field).

Example
-------
>>> PLATFORM.failures["shop_unauthorized"].code
302
"""

from __future__ import annotations

import html
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from imgkit.sandbox.failures import PlatformFailure
from imgkit.sandbox.imageinfo import inspect_image
from imgkit.sandbox.paging import BadPaging, page_of, read_paging
from imgkit.sandbox.pipeline import (
    Call,
    MalformedRequest,
    SandboxPlatform,
    handle,
    malformed_call,
    parse_call,
    serve,
)
from imgkit.sandbox.registry import Emulator
from imgkit.sandbox.state import SandboxState
from imgkit.sandbox.taobao_picture_failures import FAILURES as FAILURES
from imgkit.sandbox.timestamps import format_gmt8
from imgkit.sandbox.titles import picture_title, title_matches, unique_title
from imgkit.sandbox.world import VvClient, VvShop, World

KEY = "taobao_picture"
UPLOAD_PATH = "/tool/erps/tbpicture"
LOOKUP_PATH = "/tool/erps/tbpicture/get"
LOOKUP_PAGE_SIZE = 40
TOKEN_PATH = "/api/proxy/oauth/token"
# [choice] The page a 302's link leads to (vv-tool's own QR-code page is not public).
AUTHORIZE_PATH = "/tool/erps/authorize"
MAX_BYTES = 3 * 1024 * 1024
FORMATS = frozenset({"jpeg", "png", "gif"})
TOKEN_TTL_S = 7200


@dataclass
class VvBook:
    """Picture space per shop: titles in use, pictures by id; tokens handed out.

    ``pictures`` maps a picture id to its shop and the ``picture`` the upload answered.
    """

    titles: dict[str, set[str]] = field(default_factory=dict)
    pictures: dict[int, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    issued: dict[str, tuple[str, float]] = field(default_factory=dict)

    @classmethod
    def from_world(cls, world: World) -> VvBook:
        """A fresh book: no pictures, no issued tokens."""
        return cls()


class VvPlatform(SandboxPlatform):
    """How vv-tool answers."""

    key = KEY
    failures = FAILURES
    transient_failure = "timeout"
    rate_limited_failure = "rate_limited"
    malformed_failure = "malformed_body"

    def render(self, call: Call, failure: PlatformFailure) -> Response:
        """``{"code", "msg", "msec", "time", "data"}`` with the HTTP status of the failure.

        The HTTP 401 / 429 refusals are the bare ``{"code", "msg"}`` bodies of
        ``docs/protocols.md``, picture space (a sandbox convention, not the API's envelope).
        ``data`` is null, but for 302, whose ``data.url`` is the authorization link.
        """
        code, status = int(failure.failure.code), failure.failure.http_status
        if status != 200:
            return JSONResponse({"code": code, "msg": failure.message}, status_code=status)
        data = None
        if failure.failure.key == "shop_unauthorized":
            data = {"url": authorize_url(call.base_url, call.param("shop_id"))}
        return JSONResponse(_envelope(call, code, failure.message, data), status_code=status)


PLATFORM = VvPlatform()


def _envelope(call: Call, code: int, msg: str, data: Any) -> dict[str, Any]:
    return {
        "code": code,
        "msg": msg,
        "msec": int((time.monotonic() - call.started) * 1000),
        "time": int(time.time()),
        "data": data,
    }


def authorize_url(base_url: str, shop_id: str) -> str:
    """The link a 302 answer gives for authorizing ``shop_id`` (a sandbox page).

    >>> authorize_url("http://127.0.0.1:8000", "sbx_tb_shop_other")
    'http://127.0.0.1:8000/tool/erps/authorize?shop_id=sbx_tb_shop_other'
    """
    return f"{base_url.rstrip('/')}{AUTHORIZE_PATH}?{urlencode({'shop_id': shop_id})}"


def _book(state: SandboxState) -> VvBook:
    return state.book(KEY, VvBook.from_world, VvBook)


def _client_for_token(state: SandboxState, token: str) -> tuple[str, VvClient] | None:
    # Expired on demand (POST /_sandbox/expire) reads as a token past its expires_in: the
    # page has no answer of its own for an expired token, so both are the 401 of a bad one.
    if not token or state.is_expired(token):
        return None
    for client_id, client in state.world.vv_clients.items():
        if token in client.tokens:
            return client_id, client
    issued = _book(state).issued.get(token)
    if issued is not None and issued[1] > state.clock.now():
        return issued[0], state.world.vv_clients[issued[0]]
    return None


def _authorize(call: Call) -> VvClient:
    """The bearer token, its 10/s budget and its client's standing: all from the header."""
    state = call.state
    header = call.request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    found = _client_for_token(state, token.strip()) if scheme.lower() == "bearer" else None
    if found is None:
        raise PLATFORM.fail("unauthorized")
    _client_id, client = found
    call.credential = token.strip()
    # One budget per token, whichever API the call is for (uploads and look-ups alike).
    with state.lock:
        wait = state.limiter.hit(f"vv:{call.credential}", state.limits.vv_token_qps)
    if wait is not None:
        raise PLATFORM.fail("rate_limited")
    if client.problem:
        raise PLATFORM.fail(client.problem)
    return client


BearerHandler = Callable[[Call, VvClient], Awaitable[Response]]


async def _handle_bearer(request: Request, state: SandboxState, handler: BearerHandler) -> Response:
    """Serve an API call whose credential is a header: the token is judged before the body.

    The body is read and parsed as :func:`imgkit.sandbox.pipeline.handle` does, but a body
    that cannot be parsed is refused only once the header's checks have passed.
    """
    unparsed: str | None = None
    try:
        call = await parse_call(request, state)
    except MalformedRequest as exc:
        call = malformed_call(request, state)
        unparsed = str(exc)
    except ClientDisconnect:
        return Response(status_code=499)  # the client is gone: nobody to answer

    async def checked(call: Call) -> Response:
        client = _authorize(call)
        if unparsed is not None:
            raise PLATFORM.fail(PLATFORM.malformed_failure, name="body", detail=unparsed)
        if call.param("vvtype") != "2":
            raise PLATFORM.fail("unsupported")
        return await handler(call, client)

    return await serve(call, PLATFORM, checked)


def _shop(call: Call, client: VvClient) -> tuple[str, VvShop]:
    """The ``shop_id`` and its shop, known to vv-tool and authorized for the client."""
    shop_id = call.param("shop_id")
    shop = call.state.world.vv_shops.get(shop_id)
    if shop is None:
        raise PLATFORM.fail("account_missing")
    if shop_id not in client.shops:
        raise PLATFORM.fail("shop_unauthorized")
    return shop_id, shop


async def _upload(call: Call, client: VvClient) -> Response:
    state = call.state
    for name in ("shop_id", "picture_category_id", "image_input_title"):
        if not call.param(name):
            raise PLATFORM.fail("missing_param", name=name)
    shop_id, shop = _shop(call, client)
    category = call.param("picture_category_id")
    if category not in shop.categories:
        raise PLATFORM.fail("bad_category")
    upload = call.files.get("img")
    if upload is None or upload.size == 0:
        raise PLATFORM.fail("missing_param", name="img")
    if upload.size > MAX_BYTES:
        raise PLATFORM.fail("too_large")
    facts = inspect_image(upload.data)
    if facts.format not in FORMATS:
        raise PLATFORM.fail("bad_format")
    if not facts.decodable:
        raise PLATFORM.fail("corrupt_image")
    client_type = call.param("client_type") or "client:computer"
    if client_type not in ("client:computer", "client:phone"):
        raise PLATFORM.fail("bad_client_type")
    if client_type == "client:phone" and not (480 <= facts.width <= 620 and facts.height <= 960):
        raise PLATFORM.fail("phone_dimensions")
    with state.lock:
        titles = _book(state).titles.setdefault(shop_id, set())
        title = unique_title(
            picture_title(call.param("title"), call.param("image_input_title")), titles
        )
        titles.add(title)
        picture_id = state.next_id()
    image = call.keep(shop_id, category, upload, facts)
    now = format_gmt8()
    picture = {
        "picture_id": picture_id,
        "picture_category_id": int(category),
        "picture_path": image.url(call.base_url),
        "title": title,
        "sizes": facts.size,
        # The page: "格式:长 x 宽" (length x width), and its phone rule calls the height
        # 长度 (length): height first.  ``deleted`` is the page's example value.
        "pixel": f"{facts.height}x{facts.width}",
        "status": "unfroze",
        "deleted": "deleted",
        "created": now,
        "modified": now,
        "client_type": client_type,
    }
    with state.lock:
        _book(state).pictures[picture_id] = (shop_id, picture)
    data = {"withholding_money": 4, "picture_upload_response": {"picture": picture}}
    return JSONResponse(_envelope(call, 0, "操作成功", data))


async def _lookup(call: Call, client: VvClient) -> Response:
    """The shop's pictures, by ``picture_id``; ``total_results`` counts every match."""
    state = call.state
    if not call.param("shop_id"):
        raise PLATFORM.fail("missing_param", name="shop_id")
    shop_id, shop = _shop(call, client)
    category = call.param("picture_category_id")
    # As the upload: a category the shop does not have is refused, not an empty list.
    if category and category not in shop.categories:
        raise PLATFORM.fail("bad_category")
    try:
        page_no, page_size = read_paging(
            call.param("page_no"), call.param("page_size"), default_size=LOOKUP_PAGE_SIZE
        )
    except BadPaging as exc:
        raise PLATFORM.fail("bad_paging", name=exc.name) from exc
    wanted = call.param("title")
    with state.lock:
        matches = [
            dict(picture)
            for _picture_id, (owner, picture) in sorted(_book(state).pictures.items())
            if owner == shop_id
            and (not category or str(picture["picture_category_id"]) == category)
            and (not wanted or title_matches(wanted, picture["title"]))
        ]
    pictures = {"picture": page_of(matches, page_no, page_size)}
    data = {"picture_get_response": {"pictures": pictures, "total_results": len(matches)}}
    return JSONResponse(_envelope(call, 0, "success", data))


async def _token(call: Call) -> Response:
    state = call.state
    if call.param("grant_type") != "client_credentials":
        raise PLATFORM.fail("token_bad_grant")
    client_id = call.param("client_id")
    client = state.world.vv_clients.get(client_id)
    call.credential = client_id
    if client is None or not secrets.compare_digest(
        client.client_secret.encode(), call.param("client_secret").encode()
    ):
        raise PLATFORM.fail("token_bad_client")
    token = "sbx-vv-" + secrets.token_hex(16)
    with state.lock:
        _book(state).issued[token] = (client_id, state.clock.now() + TOKEN_TTL_S)
    data = {"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_TTL_S}
    return JSONResponse(_envelope(call, 0, "success", data))


def routes(state: SandboxState) -> list[Route]:
    """The vv-tool routes bound to ``state``."""

    async def upload(request: Request) -> Response:
        return await _handle_bearer(request, state, _upload)

    async def token(request: Request) -> Response:
        return await handle(request, state, PLATFORM, _token)

    async def lookup(request: Request) -> Response:
        return await _handle_bearer(request, state, _lookup)

    async def authorize(request: Request) -> Response:
        return authorize_page(state, request.query_params.get("shop_id", ""))

    return [
        Route(UPLOAD_PATH, upload, methods=["POST"]),
        Route(LOOKUP_PATH, lookup, methods=["POST"]),
        Route(TOKEN_PATH, token, methods=["POST"]),
        Route(AUTHORIZE_PATH, authorize, methods=["GET"]),
    ]


def authorize_page(state: SandboxState, shop_id: str) -> HTMLResponse:
    """The page a 302's link leads to: it says what it stands for and authorizes nothing.

    404 for a shop vv-tool does not know.
    """
    known = shop_id in state.world.vv_shops
    shop = html.escape(shop_id or "(none)")
    body = (
        f"<p>Shop <code>{shop}</code>: vv-tool does not know this shop (103).</p>"
        if not known
        else f"<p>Shop <code>{shop}</code>: on vv-tool, the shop's owner scans the QR code "
        "shown here with the Taobao app to authorize the client (扫码授权).</p>"
    )
    page = (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        "<title>vv-tool 店铺授权 / shop authorization (imgkit sandbox)</title></head>\n<body>\n"
        "<h1>vv-tool 店铺授权 / shop authorization</h1>\n"
        "<p>The imgkit sandbox's stand-in for the page a 302 (未授权店铺) answer links to. "
        "It authorizes nothing: which shops a client may reach is fixed by the sandbox "
        "world (docs/sandbox.md).</p>\n"
        f"{body}\n</body></html>\n"
    )
    return HTMLResponse(page, status_code=200 if known else 404)


# Sandbox shops using this world's credentials (``sample_data/shops.toml`` holds them too).
SHOPS: dict[str, dict[str, str]] = {
    "tb_picture_main": {
        "shop_id": "sbx_tb_shop_1",
        "access_token": "sbx-vv-token-1",
    },
    "tb_picture_oauth": {
        "shop_id": "sbx_tb_shop_2",
        "client_id": "sbx-vv-client",
        "client_secret": "sbx-vv-client-secret",
    },
}


EMULATOR = Emulator(
    KEY,
    PLATFORM,
    title="`taobao_picture`: vv-tool → Taobao picture space (upload and look-up)",
    routes=routes,
    shops=SHOPS,
)
