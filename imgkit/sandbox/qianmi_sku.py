"""Qianmi open platform → ``qianmi.cloudshop.sku.image.upload`` (``qianmi_sku``).

``POST /api`` with system parameters in the query string and business parameters in a
form-urlencoded body; the image travels as ``"<ext>@<base64>"`` in ``image``, which is not
signed.  The ROP gateway's checks and the error answers are
:mod:`imgkit.sandbox.qianmi_rop`'s; the SKU service's own errors carry main code 9 and a
documented sub-code (the main code is a sandbox convention).

The same endpoint serves the look-up ``qianmi.cloudshop.sku.images.get`` of
``docs/lookups.md`` (a sandbox convention): every image of a SKU, from the records the
uploads keep.

Example
-------
>>> PLATFORM.failures["sku_not_found"].sub_code
'isv.qianmi-cloudshop-sku-image-upload-service-error:01030002'
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from imgkit.sandbox.imageinfo import inspect_image
from imgkit.sandbox.pipeline import Call, Upload, handle
from imgkit.sandbox.qianmi_rop import KEY as KEY
from imgkit.sandbox.qianmi_rop import PLATFORM as PLATFORM
from imgkit.sandbox.qianmi_rop import SHAPES, authenticate
from imgkit.sandbox.qianmi_sku_failures import FAILURES as FAILURES
from imgkit.sandbox.registry import Emulator
from imgkit.sandbox.seeded import seeded_key
from imgkit.sandbox.state import SandboxState
from imgkit.sandbox.store import IMAGE_ROUTE
from imgkit.sandbox.timestamps import format_gmt8
from imgkit.sandbox.world import World

PATH = "/api"
METHOD = "qianmi.cloudshop.sku.image.upload"
LOOKUP_METHOD = "qianmi.cloudshop.sku.images.get"
# The look-up's fields when it names none (lookups.md gives these four in its answer).
LOOKUP_FIELDS = "id,url,position,created"
MAX_BYTES = 1024 * 1024
MAX_IMAGES = 5
DEFAULT_POSITION = 0
EXTENSIONS = frozenset({"gif", "jpg", "jpeg", "png"})
FORMATS = frozenset({"gif", "jpeg", "png"})
FIELDS = ("id", "url", "position", "created", "num_iid", "sku_id")


@dataclass
class SkuImage:
    """An image of a SKU, stored under ``key``.

    ``url`` is empty for an image seeded by the world (nobody uploaded it): it is served
    from :mod:`imgkit.sandbox.seeded` at the host the caller used (see :func:`image_url`).
    """

    id: str
    position: int
    url: str = ""
    key: str | None = None
    created: str = field(default_factory=format_gmt8)


@dataclass
class QianmiBook:
    """Images per SKU."""

    skus: dict[tuple[str, str], dict[str, SkuImage]] = field(default_factory=dict)

    @classmethod
    def from_world(cls, world: World) -> QianmiBook:
        """Seed each SKU with its number of existing images."""
        book = cls()
        for (num_iid, sku_id), sku in world.qianmi_skus.items():
            book.skus[(num_iid, sku_id)] = {
                f"{sku_id}-{n}": SkuImage(f"{sku_id}-{n}", n, key=_seeded_key(num_iid, sku_id, n))
                for n in range(sku.images)
            }
        return book


def _seeded_key(num_iid: str, sku_id: str, n: int) -> str:
    return seeded_key(KEY, f"{num_iid}/{sku_id}", n)


def seeded_keys(world: World) -> set[str]:
    """The keys of every image the world seeds on its SKUs (served by ``/img/``)."""
    return {
        _seeded_key(num_iid, sku_id, n)
        for (num_iid, sku_id), sku in world.qianmi_skus.items()
        for n in range(sku.images)
    }


def image_url(call: Call, image: SkuImage) -> str:
    """Where ``image`` is served: its upload's URL, or a seeded image's at the caller's host."""
    return image.url or f"{call.base_url}{IMAGE_ROUTE}/{image.key}"


def book(state: SandboxState) -> QianmiBook:
    """The Qianmi SKU images of ``state``."""
    return state.book(KEY, QianmiBook.from_world, QianmiBook)


def _decode_image(text: str) -> Upload:
    ext, sep, payload = text.partition("@")
    if not sep:
        raise PLATFORM.fail("upload_failed")
    if ext.lower() not in EXTENSIONS:
        raise PLATFORM.fail("bad_format")
    try:
        data = base64.b64decode(payload.replace(" ", "+"), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PLATFORM.fail("upload_failed") from exc
    return Upload(f"image.{ext.lower()}", "", data)


async def _upload(call: Call) -> Response:
    state = call.state
    user = authenticate(call, (METHOD, LOOKUP_METHOD))
    for name in ("num_iid", "sku_id", "fields"):
        if not call.param(name):
            raise PLATFORM.fail("missing_argument", name=name)
    num_iid, sku_id = call.param("num_iid"), call.param("sku_id")
    position_text = call.param("position")
    # A signed integer, as the platform's Java parser reads it: "-1" is a position out of
    # range (01030043), while "x" or "²" (isdigit() but not int()-able) is not a number.
    if position_text and not re.fullmatch(r"[+-]?\d+", position_text):
        raise PLATFORM.fail("invalid_argument", name="position")
    # The page: "图片顺序,默认0" — a missing position is 0, for a new image and a replace alike.
    position = int(position_text) if position_text else DEFAULT_POSITION
    skus = {k: v for k, v in state.world.qianmi_skus.items() if v.user == user}
    if not any(k[0] == num_iid for k in skus):
        raise PLATFORM.fail("item_not_found")
    sku = skus.get((num_iid, sku_id))
    if sku is None:
        raise PLATFORM.fail("sku_not_found")
    if not sku.specs_enabled:
        raise PLATFORM.fail("specs_disabled")
    images = book(state).skus.setdefault((num_iid, sku_id), {})
    img_id = call.param("img_id")
    if img_id and img_id not in images:
        raise PLATFORM.fail("image_not_found")
    if not 0 <= position < MAX_IMAGES:
        raise PLATFORM.fail("position_or_full")
    text = call.param("image")
    if not text:
        if img_id:
            _check_free(images, position, img_id)
            images[img_id].position = position
            return _answer(call, images[img_id], num_iid, sku_id)
        raise PLATFORM.fail("image_required")
    upload = _decode_image(text)
    if upload.size == 0:
        raise PLATFORM.fail("image_required")
    if upload.size > MAX_BYTES:
        raise PLATFORM.fail("too_large")
    facts = inspect_image(upload.data)
    if facts.format is None or not facts.decodable:
        raise PLATFORM.fail("not_image")
    if facts.format not in FORMATS:
        raise PLATFORM.fail("bad_format")
    previous = images.get(img_id) if img_id else None
    if previous is None and len(images) >= MAX_IMAGES:
        raise PLATFORM.fail("position_or_full")
    _check_free(images, position, img_id)
    stored = call.keep(
        user,
        f"{num_iid}/{sku_id}",
        upload,
        facts,
        replace=previous is not None,
        key=previous.key if previous is not None else None,
    )
    new_id = previous.id if previous is not None else str(state.next_id())
    record = SkuImage(
        new_id,
        position,
        stored.url(call.base_url),
        stored.key,
        previous.created if previous is not None else format_gmt8(),
    )
    with state.lock:
        images[new_id] = record
    return _answer(call, record, num_iid, sku_id)


def _check_free(images: dict[str, SkuImage], position: int, img_id: str) -> None:
    """Refuse a ``position`` held by another image of the SKU than ``img_id`` (01030043).

    The page names no code for a taken position; 01030043 is its one code about the
    position (图片顺序超出范围,或者图片数量已满不可新增), so the sandbox answers with it.
    """
    if any(image.position == position for key, image in images.items() if key != img_id):
        raise PLATFORM.fail("position_or_full")


def _sku_img(
    call: Call, image: SkuImage, num_iid: str, sku_id: str, fields: str
) -> dict[str, object]:
    wanted = [f.strip() for f in fields.split(",")]
    everything = {
        "id": image.id,
        "url": image_url(call, image),
        "position": image.position,
        "created": image.created,
        "num_iid": num_iid,
        "sku_id": sku_id,
    }
    return {name: everything[name] for name in FIELDS if name in wanted}


def _answer(call: Call, image: SkuImage, num_iid: str, sku_id: str) -> Response:
    sku_img = _sku_img(call, image, num_iid, sku_id, call.param("fields"))
    return JSONResponse({"sku_image_upload_response": {"sku_img": sku_img}})


async def _lookup(call: Call) -> Response:
    """``qianmi.cloudshop.sku.images.get``: every image of the SKU, by position."""
    state = call.state
    user = authenticate(call, (METHOD, LOOKUP_METHOD))
    for name in ("num_iid", "sku_id"):
        if not call.param(name):
            raise PLATFORM.fail("missing_argument", name=name)
    num_iid, sku_id = call.param("num_iid"), call.param("sku_id")
    # The upload's own checks and sub-codes (lookups.md).  A SKU without specs is still
    # read: it simply has no images, since the upload refuses to give it any.
    skus = {k for k, v in state.world.qianmi_skus.items() if v.user == user}
    if not any(k[0] == num_iid for k in skus):
        raise PLATFORM.fail("item_not_found")
    if (num_iid, sku_id) not in skus:
        raise PLATFORM.fail("sku_not_found")
    fields = call.param("fields") or LOOKUP_FIELDS
    with state.lock:
        images = sorted(
            book(state).skus.get((num_iid, sku_id), {}).values(),
            key=lambda image: (image.position, image.id),
        )
        listed = [_sku_img(call, image, num_iid, sku_id, fields) for image in images]
    answer = {"sku_imgs": {"sku_img": listed}, "total_results": len(listed)}
    return JSONResponse({"sku_images_get_response": answer})


async def _serve(call: Call) -> Response:
    # One endpoint, two methods; an unknown method is refused by ``authenticate`` at its
    # place in the ROP order, so anything but the look-up goes to the upload.
    if call.param("method") == LOOKUP_METHOD:
        return await _lookup(call)
    return await _upload(call)


def routes(state: SandboxState) -> list[Route]:
    """``POST /api`` bound to ``state``."""

    async def api(request: Request) -> Response:
        return await handle(request, state, PLATFORM, _serve)

    return [Route(PATH, api, methods=["POST"])]


# Sandbox shops using this world's credentials (``sample_data/shops.toml`` holds them too).
SHOPS: dict[str, dict[str, str]] = {
    "qianmi_shop": {
        "app_key": "10009001",
        "app_secret": "sbx-qianmi-secret",
        "access_token": "sbx-qm-token-1",
    },
}


EMULATOR = Emulator(
    KEY,
    PLATFORM,
    title="`qianmi_sku`: qianmi.cloudshop.sku.image.upload and sku.images.get",
    routes=routes,
    seeded_keys=seeded_keys,
    shops=SHOPS,
    shapes=SHAPES,
)
