"""fw199 gateway → Douyin shop material centre (``doudian``).

``POST /gateway/dd/material/uploadimagesync`` needs ``folder_id`` and ``material_name``
(names as the page spells them) and takes a ``url`` (form-urlencoded; the sandbox fetches
it from loopback only), a ``file_uri`` of a file the shop already holds, or a multipart
``file`` part (unsigned): :mod:`imgkit.sandbox.doudian_sources`.  Materials are audited
asynchronously: ``audit_status`` goes 1 → 2 → 3 (or 4) over ``audit_delay_s``
(a fault setting, 0 by default: passed at once), and ``byte_url`` is given only at 3.
``POST /gateway/dd/material/querymaterialdetail`` reports the current state, and
``POST /gateway/dd/material/searchMaterial`` (the look-up of ``docs/lookups.md``: its
parameters and answer are a sandbox convention after the Doudian API of that name) lists a
seller's materials by name and folder, paged, each as the upload's ``material_info``.
Set to the answer shape ``flat_data`` (:mod:`imgkit.sandbox.settings`), the upload and
the detail query give the material's fields directly in ``data``.

The error envelope ``{"code", "message", "sub_code", "sub_msg"}`` and the main code 50002
for ``isv.business-failed:*`` are sandbox conventions; the codes are documented.

Example
-------
>>> PLATFORM.failures["too_large"].sub_code
'isv.business-failed:22001'
"""

from __future__ import annotations

import hmac
import secrets
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from imgkit.sandbox.doudian_failures import FAILURES as FAILURES
from imgkit.sandbox.doudian_materials import DoudianBook, Material
from imgkit.sandbox.doudian_sources import MAX_BYTES, fetch_once, pick
from imgkit.sandbox.failures import PlatformFailure
from imgkit.sandbox.imageinfo import inspect_image
from imgkit.sandbox.paging import BadPaging, page_of, read_paging
from imgkit.sandbox.pipeline import Call, SandboxPlatform, handle
from imgkit.sandbox.registry import Emulator
from imgkit.sandbox.signing import fw199_sign
from imgkit.sandbox.state import AuditRule, SandboxState
from imgkit.sandbox.timestamps import format_gmt8, parse_unix_seconds, within_skew

KEY = "doudian"
UPLOAD_PATH = "/gateway/dd/material/uploadimagesync"
DETAIL_PATH = "/gateway/dd/material/querymaterialdetail"
SEARCH_PATH = "/gateway/dd/material/searchMaterial"
SEARCH_PAGE_SIZE = 50  # the Doudian SDK's default page
FORMATS = frozenset({"jpeg", "png"})
MAX_NAME = 50


class DoudianPlatform(SandboxPlatform):
    """How the fw199 gateway answers."""

    key = KEY
    failures = FAILURES
    transient_failure = "service_unavailable"
    rate_limited_failure = "rate_limited"
    malformed_failure = "param_invalid"

    def render(self, call: Call, failure: PlatformFailure) -> Response:
        """``{"code", "message", "sub_code", "sub_msg"}`` with HTTP 200."""
        body = {
            "code": failure.failure.code,
            "message": failure.message,
            "sub_code": failure.sub_code,
            "sub_msg": failure.sub_msg,
        }
        return JSONResponse(body)


PLATFORM = DoudianPlatform()


def book(state: SandboxState) -> DoudianBook:
    """The Douyin materials of ``state``."""
    return state.book(KEY, DoudianBook.from_world, DoudianBook)


def _authenticate(call: Call) -> str:
    """Check app, timestamp, signature, seller and limits; return the seller nick."""
    state = call.state
    app = state.world.fw199_apps.get(call.param("appid"))
    if app is None or not call.param("sign"):
        raise PLATFORM.fail("signature_invalid")
    call.credential = call.param("appid")
    stamp = parse_unix_seconds(call.param("timestamp"))
    if stamp is None or not within_skew(stamp, state.clock.now()):
        raise PLATFORM.fail("timestamp_invalid")
    # docs/protocols.md, Douyin signing: lowercase hex; uppercase is not the documented one.
    expected = fw199_sign(call.params, app.secret).encode()
    if not hmac.compare_digest(expected, call.param("sign").encode()):
        raise PLATFORM.fail("signature_invalid")
    if app.problem == "no_api":
        raise PLATFORM.fail("no_permission")
    with state.lock:
        wait = state.limiter.hit(f"fw199:{call.credential}", state.limits.doudian_app_qps)
    if wait is not None:
        raise PLATFORM.fail("rate_limited")
    seller = call.param("seller_nick")
    if not seller:
        raise PLATFORM.fail("param_invalid", name="seller_nick")
    if seller not in app.sellers or seller not in state.world.doudian_sellers:
        raise PLATFORM.fail("shop_unauthorized")
    return seller


def _matching_rule(state: SandboxState, name: str, sha256: str) -> AuditRule | None:
    with state.lock:
        for rule in state.audit_rules:
            if (rule.material_name is not None and rule.material_name == name) or (
                rule.sha256 is not None and rule.sha256 == sha256
            ):
                return rule
    return None


def _info(call: Call, material: Material) -> dict[str, Any]:
    status = material.audit_status(call.state.clock.now())
    stored = call.state.store.get(material.image_key)
    byte_url = stored.url(call.base_url) if stored is not None and status == 3 else ""
    return {
        "material_id": material.material_id,
        "folder_id": material.folder_id,
        "origin_url": material.origin_url,
        "byte_url": byte_url,
        "materil_name": material.name,
        "material_type": "photo",
        "operate_status": 1,
        "audit_status": status,
        "audit_reject_desc": (material.reject_reason or "") if status == 4 else "",
        "size": material.facts.size,
        "photo_info": {
            "height": material.facts.height,
            "width": material.facts.width,
            "format": material.facts.format,
        },
        "video_info": None,
        "create_time": material.create_time,
        "update_time": format_gmt8(),
        "delete_time": "",
    }


def _ok(call: Call, material: Material) -> Response:
    """The material in ``data.material_info``, or directly in ``data`` (shape ``flat_data``)."""
    info = _info(call, material)
    flat = call.state.settings.shape(KEY) == "flat_data"
    data = info if flat else {"material_info": info}
    return JSONResponse({"code": 0, "message": "ok", "data": data, "trace_id": ""})


def _required(call: Call, name: str) -> str:
    """A parameter the request must carry, named exactly (``Material_Name`` is not it)."""
    value = call.param(name)
    if not value:
        raise PLATFORM.fail("param_invalid", name=name)
    return value


async def _upload(call: Call) -> Response:
    state = call.state
    seller = _authenticate(call)
    shop = state.world.doudian_sellers[seller]
    folder_id = _required(call, "folder_id")
    if folder_id not in shop.folders:
        raise PLATFORM.fail("param_invalid", name="folder_id")
    try:  # exactly "true" / "false" ("True" is refused) unless boolean_case is "any"
        distinct = state.settings.flag(call.param("need_distinct")) is True
    except ValueError:
        raise PLATFORM.fail("param_invalid", name="need_distinct") from None
    name = _required(call, "material_name")
    if len(name) > MAX_NAME:
        raise PLATFORM.fail("param_invalid", name="material_name")
    source = pick(call, PLATFORM, shop)
    if shop.problem == "no_material":
        raise PLATFORM.fail("no_material_permission")
    if shop.folders[folder_id] not in (0, 1):
        raise PLATFORM.fail("folder_not_image")
    if shop.problem == "library_full":
        raise PLATFORM.fail("library_full")
    materials = book(state)
    url = source if isinstance(source, str) else ""
    if isinstance(source, str):
        upload = await fetch_once(call, PLATFORM, materials.in_flight, seller, source)
    else:
        upload = source
    if upload.size > MAX_BYTES:
        raise PLATFORM.fail("too_large")
    facts = inspect_image(upload.data)
    if facts.format not in FORMATS or not facts.decodable:
        raise PLATFORM.fail("image_invalid")
    rule = _matching_rule(state, name, facts.sha256)
    if rule is not None and rule.at_upload:
        raise PLATFORM.fail("content_violation")
    if distinct:
        with state.lock:
            for existing in materials.materials.values():
                if (
                    existing.seller == seller
                    and existing.facts.sha256 == facts.sha256
                    and existing.audit_status(state.clock.now()) == 3
                ):
                    return _ok(call, existing)
    stored = call.keep(seller, folder_id, upload, facts)
    material = Material(
        material_id=f"{int(time.time() * 1000)}{secrets.randbelow(10**10):010d}",
        seller=seller,
        folder_id=folder_id,
        name=name,
        origin_url=url,
        image_key=stored.key,
        facts=facts,
        created=state.clock.now(),
        audit_delay_s=state.faults.audit_delay_s,
        reject_reason=rule.reason if rule is not None else None,
    )
    with state.lock:
        materials.materials[material.material_id] = material
    return _ok(call, material)


def _apply_id_rules(state: SandboxState, material: Material) -> None:
    """Audit rules naming ``material`` by id reject it (they are added after its upload)."""
    for rule in state.audit_rules:
        if rule.material_id == material.material_id:
            material.reject_reason = rule.reason


async def _detail(call: Call) -> Response:
    state = call.state
    seller = _authenticate(call)
    material_id = call.param("material_id")
    with state.lock:
        material = book(state).materials.get(material_id)
        if material is not None:
            _apply_id_rules(state, material)
    if material is None or material.seller != seller:
        raise PLATFORM.fail("param_invalid", name="material_id")
    return _ok(call, material)


# order_type of the Doudian API: 0 newest first, 1 oldest first, 6 largest, 7 smallest.
_ORDERS = {"0": (True, False), "1": (False, False), "6": (True, True), "7": (False, True)}


async def _search(call: Call) -> Response:
    """The seller's materials whose name contains ``material_name``, in ``folder_id``."""
    state = call.state
    seller = _authenticate(call)
    folder_id = call.param("folder_id")
    if folder_id and folder_id not in state.world.doudian_sellers[seller].folders:
        raise PLATFORM.fail("param_invalid", name="folder_id")  # as the upload
    wanted = call.param("material_name")
    if len(wanted) > MAX_NAME:
        raise PLATFORM.fail("param_invalid", name="material_name")
    kind = call.param("material_type")
    if kind not in ("", "photo", "video"):
        raise PLATFORM.fail("param_invalid", name="material_type")
    order = _ORDERS.get(call.param("order_type") or "0")
    if order is None:
        raise PLATFORM.fail("param_invalid", name="order_type")
    try:
        page_num, page_size = read_paging(
            call.param("page_num"), call.param("page_size"), default_size=SEARCH_PAGE_SIZE
        )
    except BadPaging as exc:
        name = "page_num" if exc.name == "page_no" else exc.name
        raise PLATFORM.fail("param_invalid", name=name) from exc
    newest, by_size = order
    with state.lock:
        matches = [
            m
            for m in book(state).materials.values()
            if m.seller == seller
            and kind != "video"  # the sandbox stores photos only
            and (not folder_id or m.folder_id == folder_id)
            and wanted in m.name  # the API's name filter is fuzzy: "contains" here
        ]
        for material in matches:
            _apply_id_rules(state, material)
    matches.sort(
        key=lambda m: (m.facts.size if by_size else m.created, m.material_id), reverse=newest
    )
    listed = [_info(call, m) for m in page_of(matches, page_num, page_size)]
    data = {"material_info_list": listed, "total": len(matches)}
    return JSONResponse({"code": 0, "message": "ok", "data": data, "trace_id": ""})


def routes(state: SandboxState) -> list[Route]:
    """The fw199 routes bound to ``state``."""

    async def upload(request: Request) -> Response:
        return await handle(request, state, PLATFORM, _upload)

    async def detail(request: Request) -> Response:
        return await handle(request, state, PLATFORM, _detail)

    async def search(request: Request) -> Response:
        return await handle(request, state, PLATFORM, _search)

    return [
        Route(UPLOAD_PATH, upload, methods=["POST"]),
        Route(DETAIL_PATH, detail, methods=["POST"]),
        Route(SEARCH_PATH, search, methods=["POST"]),
    ]


# Sandbox shops using this world's credentials (``sample_data/shops.toml`` holds them too).
SHOPS: dict[str, dict[str, str]] = {
    "douyin_shop": {
        "appid": "sbx-fw199-app",
        "app_secret": "sbx-fw199-secret",
        "seller_nick": "38173182",
    },
}


EMULATOR = Emulator(
    KEY,
    PLATFORM,
    title="`doudian`: fw199 → Douyin material centre",
    routes=routes,
    shops=SHOPS,
    shapes=("flat_data",),
)
