"""``taobao.item.img.upload.tmall`` behind the TOP gateway (``tmall_item``), and its look-up.

Adds an image to an item (at most 5, main image included; the main image's id is 0),
replaces one by ``id``, or sets the main (``is_major``) or 3:4 (``is_rectangle``) image;
where each goes (the main image at position 0, the others at positions 1–4 of their own,
the 3:4 image apart) is :mod:`imgkit.sandbox.tmall_item_images`.
Every error of the seed page is reachable; the items of the sandbox world that trigger
them are listed in ``docs/sandbox-errors.md``.

``taobao.item.seller.get`` (``docs/lookups.md``) lists an item's images from the same
records: what a client uses to learn whether an unanswered upload was stored.

Example
-------
>>> (API.method, LOOKUP_API.method)
('taobao.item.img.upload.tmall', 'taobao.item.seller.get')
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from starlette.responses import JSONResponse, Response

from imgkit.sandbox.imageinfo import ImageFacts, inspect_image
from imgkit.sandbox.pipeline import Call, Upload
from imgkit.sandbox.registry import Emulator
from imgkit.sandbox.seeded import seeded_key
from imgkit.sandbox.state import SandboxState
from imgkit.sandbox.store import IMAGE_ROUTE
from imgkit.sandbox.tmall_item_failures import API_FAILURES as API_FAILURES
from imgkit.sandbox.tmall_item_images import (
    MAX_IMAGES,
    Ask,
    ItemImage,
    ItemImages,
    Refusal,
)
from imgkit.sandbox.top import TOP_GATEWAY, TopApi, TopPlatform, authenticate, success_body
from imgkit.sandbox.world import TMALL_LOOKUP_METHOD, TMALL_METHOD, World

KEY = "tmall_item"
MAX_BYTES = 3145728
FORMATS = frozenset({"jpeg", "png", "gif"})
# ASCII digits only: str.isdigit() also takes superscript and fullwidth digits, which
# int() then refuses (an HTTP 500) or silently reads.
_NUMBER = re.compile(r"[0-9]+")
_ITEM_PROBLEMS = {
    "deleted": "item_deleted",
    "adult": "update_item_permission",
    "alcohol": "alcohol",
    "needs_deposit": "needs_deposit",
    "not_a_shop": "not_a_shop",
    "user_info_error": "user_info_error",
}


@dataclass
class TmallBook:
    """Images per item (:class:`ItemImages`: the main one, the others, the 3:4 one)."""

    items: dict[str, ItemImages] = field(default_factory=dict)

    @classmethod
    def from_world(cls, world: World) -> TmallBook:
        """Seed each item with its existing images: the main one (id 0), then 1, 2… ."""
        book = cls()
        for num_iid, item in world.tmall_items.items():
            images = ItemImages()
            for n in range(min(item.images, MAX_IMAGES)):
                image_id = 0 if n == 0 else int(num_iid[-4:]) * 100 + n
                image = ItemImage(image_id, n, key=seeded_key(KEY, num_iid, n))
                if n == 0:
                    images.main = image
                else:
                    images.others[image_id] = image
            book.items[num_iid] = images
        return book


def seeded_keys(world: World) -> set[str]:
    """The keys of every image the world seeds on its items (served by ``/img/``)."""
    return {
        seeded_key(KEY, num_iid, n)
        for num_iid, item in world.tmall_items.items()
        for n in range(item.images)
    }


def image_url(call: Call, image: ItemImage) -> str:
    """Where ``image`` is served: its upload's URL, or a seeded image's at the caller's host."""
    return image.url or f"{call.base_url}{IMAGE_ROUTE}/{image.key}"


PLATFORM = TopPlatform(KEY, API_FAILURES)


def _flag(call: Call, name: str) -> bool:
    # Exactly "true" or "false", as the error table documents ("True" is refused, so a
    # client that sends Python's str(True) fails here, not on Tmall), unless the sandbox
    # setting boolean_case is "any".
    try:
        return call.state.settings.flag(call.param(name)) is True
    except ValueError:
        raise PLATFORM.fail("invalid_argument", name=name) from None


def _number(call: Call, name: str) -> int | None:
    text = call.param(name)
    if not text:
        return None
    if not _NUMBER.fullmatch(text):
        raise PLATFORM.fail("invalid_argument", name=name)
    return int(text)


async def _upload(call: Call) -> Response:
    state = call.state
    caller = authenticate(call, PLATFORM, TMALL_METHOD)
    num_iid = call.param("num_iid")
    if not num_iid:
        raise PLATFORM.fail("missing_num_iid")
    if not _NUMBER.fullmatch(num_iid):
        raise PLATFORM.fail("invalid_argument", name="num_iid")
    image_id = _number(call, "id")
    position = _number(call, "position")
    is_major = _flag(call, "is_major")
    is_rectangle = _flag(call, "is_rectangle")
    seller = caller.session.seller
    if caller.session.problem == "user_missing":
        raise PLATFORM.fail("user_not_exist")
    item = state.world.tmall_items.get(num_iid)
    if item is None:
        raise PLATFORM.fail("item_get_not_found")
    if item.seller != seller:
        raise PLATFORM.fail("item_not_found")
    if item.problem in _ITEM_PROBLEMS:
        raise PLATFORM.fail(_ITEM_PROBLEMS[item.problem])
    with state.lock:
        busy = state.limiter.hit(f"tmall-seller:{seller}", state.limits.tmall_seller_qps)
    if busy is not None:
        raise PLATFORM.fail("icdb_qps")
    if position is not None and not 0 <= position < MAX_IMAGES:
        raise PLATFORM.fail("pic_num_overflow")
    upload = call.files.get("image")
    facts = _check_image(upload, is_rectangle) if upload is not None else None
    ask = Ask(image_id, position, is_major, is_rectangle)
    single_picture = caller.session.problem == "no_multi_picture"
    with state.lock:
        images = book(state).items.setdefault(num_iid, ItemImages())
        try:
            step = images.plan(ask, has_image=upload is not None, single_picture=single_picture)
        except Refusal as refusal:
            raise PLATFORM.fail(refusal.key, **refusal.fields) from None
        stored = None
        if upload is not None and facts is not None:
            previous = step.previous
            kept = call.keep(
                seller,
                num_iid,
                upload,
                facts,
                replace=previous is not None,
                key=previous.key if previous is not None else None,
            )
            stored = (kept.key, kept.url(call.base_url))
        record = images.apply(step, state.next_id, stored)
    return _answer(call, record)


def _check_image(upload: Upload, is_rectangle: bool) -> ImageFacts:
    if upload.size > MAX_BYTES:
        raise PLATFORM.fail("too_large")
    facts = inspect_image(upload.data)
    if facts.format is None or not facts.decodable:
        raise PLATFORM.fail("check_failed")
    if facts.format not in FORMATS:
        raise PLATFORM.fail("type_unsupported")
    if is_rectangle and facts.width * 4 != facts.height * 3:
        raise PLATFORM.fail("rectangle_ratio")
    return facts


def _answer(call: Call, image: ItemImage) -> Response:
    item_img = {"id": image.id, "url": image_url(call, image), "created": image.created}
    return JSONResponse(success_body(TMALL_METHOD, {"item_img": item_img}))


async def _lookup(call: Call) -> Response:
    """``taobao.item.seller.get``: the item's images as the uploads left them."""
    state = call.state
    caller = authenticate(call, PLATFORM, TMALL_LOOKUP_METHOD)
    num_iid = call.param("num_iid")
    if not num_iid:
        raise PLATFORM.fail("missing_argument", name="num_iid")
    if not _NUMBER.fullmatch(num_iid):
        raise PLATFORM.fail("invalid_argument", name="num_iid")
    if not call.param("fields"):
        raise PLATFORM.fail("missing_argument", name="fields")
    fields = {name.strip() for name in call.param("fields").split(",")}
    if caller.session.problem == "user_missing":
        raise PLATFORM.fail("user_not_exist")
    item = state.world.tmall_items.get(num_iid)
    # lookups.md: an unknown item and another seller's item get the same answer.  The item
    # problems that refuse an upload (deleted, adult, alcohol…) are about changing the
    # item, so they do not stop a read.
    if item is None or item.seller != caller.session.seller:
        raise PLATFORM.fail("item_get_not_found")
    with state.lock:
        item_images = book(state).items.get(num_iid)
        # The 3:4 image is not one of the item's images (lookups.md): it is not listed.
        images = item_images.listed() if item_images is not None else []
        listed = [
            {
                "id": image.id,
                "url": image_url(call, image),
                "position": image.position,
                "created": image.created,
            }
            for image in images
        ]
    answer: dict[str, object] = {}
    if "num_iid" in fields:
        answer["num_iid"] = int(num_iid)
    # TOP also takes sub-fields ("item_img.url"); the sandbox answers them with whole images.
    if any(name == "item_img" or name.startswith("item_img.") for name in fields):
        answer["item_imgs"] = {"item_img": listed}
    return JSONResponse(success_body(TMALL_LOOKUP_METHOD, {"item": answer}))


API = TopApi(TMALL_METHOD, PLATFORM, _upload)
LOOKUP_API = TopApi(TMALL_LOOKUP_METHOD, PLATFORM, _lookup)


def book(state: SandboxState) -> TmallBook:
    """The Tmall item images of ``state`` (for tests and inspection)."""
    return state.book(KEY, TmallBook.from_world, TmallBook)


# Sandbox shops using this world's credentials (``sample_data/shops.toml`` holds them too).
SHOPS: dict[str, dict[str, str]] = {
    "tmall_store": {
        "app_key": "21000001",
        "app_secret": "sbx-top-secret-a",
        "session": "sbx-session-tmall-1",
        "sign_method": "hmac-sha256",
    },
    "tmall_outlet": {
        "app_key": "21000002",
        "app_secret": "sbx-top-secret-b",
        "session": "sbx-session-tmall-2",
        "sign_method": "md5",
    },
}


EMULATOR = Emulator(
    KEY,
    PLATFORM,
    title="`tmall_item`: taobao.item.img.upload.tmall and taobao.item.seller.get",
    top_apis=(API, LOOKUP_API),
    gateway=TOP_GATEWAY,
    documented=API_FAILURES,
    seeded_keys=seeded_keys,
    shops=SHOPS,
)
