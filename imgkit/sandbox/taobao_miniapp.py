"""``taobao.miniapp.trade.picture.upload`` behind the TOP gateway (``taobao_miniapp``).

Gateway problems come as ``error_response``; content problems come inside a normal
envelope as ``result.success = false`` with a numeric ``err_code`` (sandbox convention,
``docs/protocols.md``, mini-app): the error codes 2001–2005 are the sandbox's own.

``taobao.miniapp.trade.picture.get`` is the look-up of ``docs/lookups.md`` (a sandbox
convention): a mini-app's pictures of the session's seller, filtered by title, paged.

Example
-------
>>> (API.method, LOOKUP_API.method)
('taobao.miniapp.trade.picture.upload', 'taobao.miniapp.trade.picture.get')
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import JSONResponse, Response

from imgkit.sandbox.failures import Failure, PlatformFailure, catalogue
from imgkit.sandbox.imageinfo import inspect_image
from imgkit.sandbox.paging import BadPaging, page_of, read_paging
from imgkit.sandbox.pipeline import Call
from imgkit.sandbox.registry import Emulator
from imgkit.sandbox.state import SandboxState
from imgkit.sandbox.timestamps import format_gmt8
from imgkit.sandbox.titles import picture_title, title_matches, unique_title
from imgkit.sandbox.top import (
    TOP_GATEWAY,
    TopApi,
    TopPlatform,
    answer,
    authenticate,
    success_body,
)
from imgkit.sandbox.world import MINIAPP_LOOKUP_METHOD, MINIAPP_METHOD, World

KEY = "taobao_miniapp"
MAX_BYTES = 3 * 1024 * 1024
FORMATS = frozenset({"jpeg", "png", "gif"})
LOOKUP_PAGE_SIZE = 20
# A picture record holds the upload's ``model`` plus these bookkeeping fields.
_BOOKKEEPING = ("seller", "key", "miniapp_id")
# ASCII digits only: str.isdigit() also takes superscript and fullwidth digits, which
# int() then refuses (an HTTP 500) or silently reads.
_NUMBER = re.compile(r"-?[0-9]+")


def _r(key: str, code: int, msg: str, trigger: str) -> Failure:
    return Failure(key, code, msg, trigger=trigger, level="result", source="choice")


API_FAILURES = catalogue(
    _r(
        "miniapp_not_found",
        2001,
        "小程序不存在或不属于当前应用",
        "a `miniapp_id` the app does not own (the sandbox app 21000001 owns 3000000012345 "
        "and 3000000012346), uploading or looking up",
    ),
    _r("too_large", 2002, "图片大小不能超过3M", "`bytes` over 3 MB"),
    _r(
        "bad_format",
        2003,
        "图片格式只支持png、jpg、gif",
        "`bytes` holding an image of another format (WEBP, BMP, TIFF…)",
    ),
    _r(
        "not_image",
        2004,
        "文件不是有效的图片",
        "`bytes` that are not an image at all, or a corrupt/truncated one",
    ),
    _r(
        "picture_not_found",
        2005,
        "图片不存在,无法替换",
        "`pic_id` > 0 that is not a picture of this seller",
    ),
)


@dataclass
class MiniappBook:
    """The sellers' picture spaces: titles in use and pictures by id.

    A picture is its upload's ``model`` plus ``seller``, ``key`` (in the image store) and
    ``miniapp_id`` (of its latest upload or replace), which the look-up filters on.
    """

    titles: dict[str, set[str]] = field(default_factory=dict)
    pictures: dict[int, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_world(cls, world: World) -> MiniappBook:
        """A fresh book: no pictures."""
        return cls()


class MiniappPlatform(TopPlatform):
    """Renders result-level failures inside the success envelope."""

    def render(self, call: Call, failure: PlatformFailure) -> Response:
        """``result.success=false`` for content problems, ``error_response`` otherwise."""
        if failure.failure.level != "result":
            return super().render(call, failure)
        result = {
            "success": False,
            "err_code": failure.failure.code,
            "err_message": failure.message,
        }
        # The look-up answers under its own root, as any TOP method does.
        method = (
            MINIAPP_LOOKUP_METHOD
            if call.param("method") == MINIAPP_LOOKUP_METHOD
            else MINIAPP_METHOD
        )
        return answer(call, method, {"result": result})


PLATFORM = MiniappPlatform(KEY, API_FAILURES)


def _int_param(call: Call, name: str, *, required: bool) -> int | None:
    text = call.param(name)
    if not text:
        if required:
            raise PLATFORM.fail("missing_argument", name=name)
        return None
    if not _NUMBER.fullmatch(text):
        raise PLATFORM.fail("invalid_argument", name=name)
    return int(text)


async def _upload(call: Call) -> Response:
    state = call.state
    caller = authenticate(call, PLATFORM, MINIAPP_METHOD)
    miniapp_id = _int_param(call, "miniapp_id", required=True)
    if not call.param("file_name"):
        raise PLATFORM.fail("missing_argument", name="file_name")
    pic_id = _int_param(call, "pic_id", required=False)
    upload = call.files.get("bytes")
    if upload is None:
        raise PLATFORM.fail("missing_argument", name="bytes")
    if state.world.miniapps.get(str(miniapp_id)) != caller.app_key:
        raise PLATFORM.fail("miniapp_not_found")
    seller = caller.session.seller
    book = state.book(KEY, MiniappBook.from_world, MiniappBook)
    replacing = None
    if pic_id is not None and pic_id > 0:
        replacing = book.pictures.get(pic_id)
        if replacing is None or replacing["seller"] != seller:
            raise PLATFORM.fail("picture_not_found")
    if upload.size > MAX_BYTES:
        raise PLATFORM.fail("too_large")
    facts = inspect_image(upload.data)
    if facts.format is None or not facts.decodable:
        raise PLATFORM.fail("not_image")
    if facts.format not in FORMATS:
        raise PLATFORM.fail("bad_format")
    now = format_gmt8()
    with state.lock:
        titles = book.titles.setdefault(seller, set())
        if replacing is not None:
            titles.discard(replacing["title"])
        title = unique_title(picture_title(call.param("file_name"), ""), titles)
        titles.add(title)
        new_id = pic_id if replacing is not None and pic_id is not None else state.next_id()
    image = call.keep(
        seller,
        str(miniapp_id),
        upload,
        facts,
        replace=replacing is not None,
        key=replacing["key"] if replacing is not None else None,
    )
    model = {
        "pic_id": new_id,
        "path": image.url(call.base_url),
        "title": title,
        "sizes": facts.size,
        # The page: "格式:长x宽" (length x width), read as the picture space's vv-tool page
        # reads it (its phone rule calls the height 长度): height first.  ``deleted`` is the
        # page's example value.
        "pixel": f"{facts.height}x{facts.width}",
        "status": "unfroze",
        "deleted": "deleted",
        "created": replacing["created"] if replacing is not None else now,
        "modified": now,
    }
    with state.lock:
        book.pictures[new_id] = {
            **model,
            "seller": seller,
            "key": image.key,
            "miniapp_id": str(miniapp_id),
        }
    result = {"success": True, "model": model}
    return JSONResponse(success_body(MINIAPP_METHOD, {"result": result}))


async def _lookup(call: Call) -> Response:
    """``taobao.miniapp.trade.picture.get``: the seller's pictures of one mini-app."""
    state = call.state
    caller = authenticate(call, PLATFORM, MINIAPP_LOOKUP_METHOD)
    miniapp_id = _int_param(call, "miniapp_id", required=True)
    try:
        page_no, page_size = read_paging(
            call.param("page_no"), call.param("page_size"), default_size=LOOKUP_PAGE_SIZE
        )
    except BadPaging as exc:
        raise PLATFORM.fail("invalid_argument", name=exc.name) from exc
    # As the upload: an id the app does not own is a content answer, not a gateway one.
    if state.world.miniapps.get(str(miniapp_id)) != caller.app_key:
        raise PLATFORM.fail("miniapp_not_found")
    wanted = call.param("file_name")
    seller = caller.session.seller
    with state.lock:
        matches = [
            {k: v for k, v in picture.items() if k not in _BOOKKEEPING}
            for pic_id, picture in sorted(book(state).pictures.items())
            if picture["seller"] == seller
            and picture["miniapp_id"] == str(miniapp_id)
            and (not wanted or title_matches(wanted, picture["title"]))
        ]
    result = {
        "success": True,
        "total": len(matches),
        "models": {"picture": page_of(matches, page_no, page_size)},
    }
    return JSONResponse(success_body(MINIAPP_LOOKUP_METHOD, {"result": result}))


API = TopApi(MINIAPP_METHOD, PLATFORM, _upload)
LOOKUP_API = TopApi(MINIAPP_LOOKUP_METHOD, PLATFORM, _lookup)


def book(state: SandboxState) -> MiniappBook:
    """The mini-app picture records of ``state`` (for tests and inspection)."""
    return state.book(KEY, MiniappBook.from_world, MiniappBook)


# Sandbox shops using this world's credentials (``sample_data/shops.toml`` holds them too).
SHOPS: dict[str, dict[str, str]] = {
    "miniapp_main": {
        "app_key": "21000001",
        "app_secret": "sbx-top-secret-a",
        "session": "sbx-session-miniapp-1",
        "sign_method": "hmac",
    },
}


EMULATOR = Emulator(
    KEY,
    PLATFORM,
    title="`taobao_miniapp`: taobao.miniapp.trade.picture.upload and .get",
    top_apis=(API, LOOKUP_API),
    gateway=TOP_GATEWAY,
    documented=API_FAILURES,
    shops=SHOPS,
)
