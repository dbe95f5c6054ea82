"""vv-tool gateway → Taobao picture space (``taobao_picture``).

``POST /tool/erps/tbpicture`` (multipart, ``Authorization: Bearer``) and the
client-credentials token endpoint ``POST /api/proxy/oauth/token``.  Codes and Chinese
messages follow the seed page; the 401/429 bodies are a sandbox convention (see
``docs/protocols.md``, picture space rate limit, 401 and 429).

``POST /tool/erps/tbpicture/get`` is the look-up of ``docs/lookups.md`` (a sandbox
convention modelled on TOP's ``taobao.picture.get``): a shop's pictures, filtered by
category and title, paged; same token checks and the same 10/s budget as the upload.

Example
-------
>>> PLATFORM.failures["shop_unauthorized"].code
302
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from imgkit.sandbox.failures import PlatformFailure
from imgkit.sandbox.imageinfo import inspect_image
from imgkit.sandbox.paging import BadPaging, page_of, read_paging
from imgkit.sandbox.pipeline import Call, SandboxPlatform, handle
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
        """
        code, status = int(failure.failure.code), failure.failure.http_status
        if status != 200:
            return JSONResponse({"code": code, "msg": failure.message}, status_code=status)
        return JSONResponse(_envelope(call, code, failure.message, None), status_code=status)


PLATFORM = VvPlatform()


def _envelope(call: Call, code: int, msg: str, data: Any) -> dict[str, Any]:
    return {
        "code": code,
        "msg": msg,
        "msec": int((time.monotonic() - call.started) * 1000),
        "time": int(time.time()),
        "data": data,
    }


def _book(state: SandboxState) -> VvBook:
    return state.book(KEY, VvBook.from_world, VvBook)


def _client_for_token(state: SandboxState, token: str) -> tuple[str, VvClient] | None:
    for client_id, client in state.world.vv_clients.items():
        if token in client.tokens:
            return client_id, client
    issued = _book(state).issued.get(token)
    if issued is not None and issued[1] > state.clock.now():
        return issued[0], state.world.vv_clients[issued[0]]
    return None


def _authorize(call: Call) -> VvClient:
    """The bearer token, its 10/s budget and its client's standing, as for every API call."""
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
    if call.param("vvtype") != "2":
        raise PLATFORM.fail("unsupported")
    return client


def _shop(call: Call, client: VvClient) -> tuple[str, VvShop]:
    """The ``shop_id`` and its shop, known to vv-tool and authorized for the client."""
    shop_id = call.param("shop_id")
    shop = call.state.world.vv_shops.get(shop_id)
    if shop is None:
        raise PLATFORM.fail("account_missing")
    if shop_id not in client.shops:
        raise PLATFORM.fail("shop_unauthorized")
    return shop_id, shop


async def _upload(call: Call) -> Response:
    state = call.state
    client = _authorize(call)
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


async def _lookup(call: Call) -> Response:
    """The shop's pictures, by ``picture_id``; ``total_results`` counts every match."""
    state = call.state
    client = _authorize(call)
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
        return await handle(request, state, PLATFORM, _upload)

    async def token(request: Request) -> Response:
        return await handle(request, state, PLATFORM, _token)

    async def lookup(request: Request) -> Response:
        return await handle(request, state, PLATFORM, _lookup)

    return [
        Route(UPLOAD_PATH, upload, methods=["POST"]),
        Route(LOOKUP_PATH, lookup, methods=["POST"]),
        Route(TOKEN_PATH, token, methods=["POST"]),
    ]


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
