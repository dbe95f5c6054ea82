"""Sandbox: ``taobao.item.img.upload.tmall`` (``tmall_item``) over loopback HTTP.

Requests are built only with ``spec_clients``; expected sub-codes are copied from the seed
page (taobao.item.img.upload.tmall) and ``docs/protocols.md`` (TOP, Tmall).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import httpx
import pytest
from spec_clients import GMT8, epoch_ms_now, make_bmp, make_gif, make_jpeg, make_png, make_webp
from top_support import (
    ITEM,
    ITEM_B,
    ITEM_EMPTY,
    ITEM_FULL,
    JPEG,
    MAX_BYTES,
    STAMP,
    TEXT,
    TMALL_API,
    TMALL_ROOT,
    TMALL_SESSION_B,
    Recipe,
    call,
    check_refusal,
    control,
    envelope,
    error_of,
    fetch,
    fullwidth,
    gateway_recipes,
    item_img,
    jpeg_of_size,
    succeeded,
    truncated_jpeg,
)

from imgkit.sandbox import Sandbox, tmall_item

PLATFORM = "tmall_item"


def upload(client: httpx.Client, image: bytes | None = JPEG, **kw: Any) -> httpx.Response:
    """A Tmall upload to ``ITEM`` unless ``params`` say otherwise."""
    return call(client, TMALL_API, image, **kw)


def refused(response: httpx.Response, sub_code: str, code: int = 15) -> None:
    error = error_of(response, code)
    assert error["sub_code"] == sub_code, error


def stats(sandbox: Sandbox) -> dict[str, Any]:
    out: dict[str, Any] = sandbox.stats()[PLATFORM]
    return out


# --- success, both encodings, all sign methods, both timestamp forms -------------------------


@pytest.mark.parametrize("stamp", ["gmt8", "epoch_ms"])
@pytest.mark.parametrize("sign_method", ["md5", "hmac", "hmac-sha256"])
@pytest.mark.parametrize("style", ["sdk", "multipart"])
def test_upload_succeeds_and_serves_the_bytes(
    client: httpx.Client, sandbox: Sandbox, style: str, sign_method: str, stamp: str
) -> None:
    data = make_jpeg(120, 90, color=(10, 20, 30))
    timestamp = epoch_ms_now() if stamp == "epoch_ms" else None
    before = time.time()
    response = upload(
        client,
        data,
        filename="红色杯子 正面图.jpg",
        style=style,
        sign_method=sign_method,
        timestamp=timestamp,
    )
    after = time.time()
    body = envelope(response, TMALL_ROOT)
    assert set(body) == {"item_img", "request_id"}
    image = body["item_img"]
    assert isinstance(image["id"], int)
    assert image["id"] > 0
    assert STAMP.fullmatch(image["created"]), image
    created = datetime.strptime(image["created"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=GMT8)
    # Printed while the request was served, to the whole second: however slow it was.
    assert int(before) <= created.timestamp() <= after
    served = fetch(client, image["url"])
    assert served.content == data
    assert served.headers["content-type"] == "image/jpeg"
    counters = stats(sandbox)
    assert counters["stored"] == 1
    assert counters["duplicates"] == 0
    assert counters["rejections"] == {}


@pytest.mark.parametrize("item", [ITEM, ITEM_EMPTY])
def test_is_major_answers_id_0(client: httpx.Client, item: str) -> None:
    data = make_jpeg(80, 80, color=(1, 99, 1))
    image = item_img(upload(client, data, params={"num_iid": item, "is_major": True}))
    assert image["id"] == 0
    assert fetch(client, image["url"]).content == data


def test_distinct_uploads_get_distinct_ids(client: httpx.Client) -> None:
    first = item_img(upload(client, make_jpeg(color=(1, 1, 1))))
    second = item_img(upload(client, make_jpeg(color=(2, 2, 2))))
    assert first["id"] != second["id"]
    assert first["url"] != second["url"]


def test_second_identical_upload_is_counted_as_a_duplicate(
    client: httpx.Client, sandbox: Sandbox
) -> None:
    # platforms.md: no idempotency key; a plain retry stores a second copy.
    first = item_img(upload(client, JPEG))
    second = item_img(upload(client, JPEG))
    assert first["id"] != second["id"]
    assert stats(sandbox)["duplicates"] == 1


# --- replacement by id -----------------------------------------------------------------------


def test_replace_by_id_keeps_id_and_url_and_is_no_duplicate(
    client: httpx.Client, sandbox: Sandbox
) -> None:
    old, new = make_jpeg(color=(200, 0, 0)), make_png(color=(0, 0, 200))
    first = item_img(upload(client, old))
    for _ in range(2):  # the retry of a replace is idempotent
        again = item_img(upload(client, new, params={"id": first["id"]}))
        assert again["id"] == first["id"]
        assert again["url"] == first["url"]
        assert again["created"] == first["created"]
        assert fetch(client, first["url"]).content == new
    counters = stats(sandbox)
    assert (counters["stored"], counters["replaced"], counters["duplicates"]) == (1, 2, 0)


def test_replace_with_identical_bytes_is_no_duplicate(
    client: httpx.Client, sandbox: Sandbox
) -> None:
    first = item_img(upload(client, JPEG))
    assert item_img(upload(client, JPEG, params={"id": first["id"]}))["id"] == first["id"]
    assert stats(sandbox)["duplicates"] == 0


def test_replace_on_a_full_item_is_allowed(client: httpx.Client) -> None:
    ids = [item_img(upload(client, make_jpeg(color=(n, 0, 0))))["id"] for n in range(4)]
    refused(upload(client, make_jpeg(color=(9, 0, 0))), "isv.invalid-permission:image-num")
    data = make_gif(color=(5, 6, 7))
    assert item_img(upload(client, data, params={"id": ids[0]}))["id"] == ids[0]


def test_bytes_retired_by_a_replace_are_no_duplicate_when_uploaded_again(
    client: httpx.Client, sandbox: Sandbox
) -> None:
    a, b = make_jpeg(color=(50, 0, 0)), make_jpeg(color=(0, 50, 0))
    first = item_img(upload(client, a))
    item_img(upload(client, b, params={"id": first["id"]}))
    item_img(upload(client, a))  # the item no longer holds ``a``
    assert stats(sandbox)["duplicates"] == 0
    item_img(upload(client, b))  # but it does hold ``b``
    assert stats(sandbox)["duplicates"] == 1


def test_id_0_names_the_main_image(client: httpx.Client, sandbox: Sandbox) -> None:
    # Seed page: the main image's id is 0; an update names the image by its id.
    data = make_png(color=(3, 4, 5))
    image = item_img(upload(client, data, params={"id": "0"}))
    assert image["id"] == 0
    assert fetch(client, image["url"]).content == data
    assert (stats(sandbox)["stored"], stats(sandbox)["replaced"]) == (0, 1)
    refused(
        upload(client, params={"num_iid": ITEM_EMPTY, "id": "0"}),
        "isv.image-not-exist:invalid-image-id",
    )


@pytest.mark.parametrize("image_id", ["987654321", "1"])
def test_unknown_id_is_refused(client: httpx.Client, image_id: str) -> None:
    refused(upload(client, params={"id": image_id}), "isv.image-not-exist:invalid-image-id")


def test_id_of_another_items_image_is_refused(client: httpx.Client) -> None:
    image = item_img(upload(client, params={"num_iid": "1489161941"}))
    refused(
        upload(client, params={"num_iid": "1489161942", "id": image["id"]}),
        "isv.image-not-exist:invalid-image-id",
    )


def test_update_by_id_without_image_keeps_the_image(client: httpx.Client) -> None:
    data = make_jpeg(color=(3, 3, 3))
    image = item_img(upload(client, data))
    moved = item_img(upload(client, None, params={"id": image["id"], "position": 3}))
    assert (moved["id"], moved["url"]) == (image["id"], image["url"])
    assert fetch(client, image["url"]).content == data


# --- limits: five images, 3:4, size, format ----------------------------------------------------


def test_five_images_per_item_main_image_included(client: httpx.Client, sandbox: Sandbox) -> None:
    # ITEM already has its main image: four more fit, the sixth is refused.
    for n in range(4):
        item_img(upload(client, make_jpeg(color=(n, 50, 50))))
    response = upload(client, make_jpeg(color=(99, 50, 50)))
    refused(response, "isv.invalid-permission:image-num")
    # Setting the main image replaces image 0, so it still works on a full item.
    assert item_img(upload(client, params={"is_major": True}))["id"] == 0
    assert stats(sandbox)["stored"] == 4


def test_five_images_on_an_empty_item(client: httpx.Client) -> None:
    # Four that are not the main image (positions 1-4), then the main image (id 0).
    for n in range(4):
        item_img(upload(client, make_jpeg(color=(n, 60, 60)), params={"num_iid": ITEM_EMPTY}))
    refused(upload(client, params={"num_iid": ITEM_EMPTY}), "isv.invalid-permission:image-num")
    main = item_img(upload(client, params={"num_iid": ITEM_EMPTY, "is_major": True}))
    assert main["id"] == 0
    refused(upload(client, params={"num_iid": ITEM_EMPTY}), "isv.invalid-permission:image-num")


@pytest.mark.parametrize(("w", "h"), [(300, 400), (750, 1000), (3, 4)])
def test_is_rectangle_takes_a_3_by_4_image(client: httpx.Client, w: int, h: int) -> None:
    data = make_jpeg(w, h)
    image = item_img(upload(client, data, params={"is_rectangle": True}))
    # Not 0: that is the main image's id, and a replace by it must not reach this one.
    assert isinstance(image["id"], int)
    assert image["id"] > 0
    assert fetch(client, image["url"]).content == data


@pytest.mark.parametrize(("w", "h"), [(400, 300), (64, 64), (300, 401)])
def test_is_rectangle_refuses_other_ratios(client: httpx.Client, w: int, h: int) -> None:
    refused(
        upload(client, make_jpeg(w, h), params={"is_rectangle": True}),
        "isv.invalid-parameter:is_rectangle",
        code=41,
    )


def test_other_ratios_are_fine_without_is_rectangle(client: httpx.Client) -> None:
    item_img(upload(client, make_jpeg(400, 300), params={"is_rectangle": False}))


def test_exactly_3145728_bytes_is_accepted(client: httpx.Client) -> None:
    data = jpeg_of_size(MAX_BYTES)
    assert len(data) == 3145728
    assert fetch(client, item_img(upload(client, data))["url"]).content == data


def test_one_byte_more_is_refused(client: httpx.Client, sandbox: Sandbox) -> None:
    refused(
        upload(client, jpeg_of_size(MAX_BYTES + 1)),
        "isv.item-image-upload-service-error:IC_ITEM_PIC_IS_TOO_LARGES",
    )
    assert stats(sandbox)["stored"] == 0


@pytest.mark.parametrize(
    ("data", "filename", "content_type"),
    [
        (make_png(), "photo.jpg", "image/png"),
        (make_gif(), "photo.jpg", "image/gif"),
        (make_jpeg(), "photo.png", "image/jpeg"),
        (make_jpeg(), "no_extension", "image/jpeg"),
    ],
    ids=["png-named-jpg", "gif-named-jpg", "jpeg-named-png", "jpeg-no-extension"],
)
def test_format_is_judged_by_content(
    client: httpx.Client, data: bytes, filename: str, content_type: str
) -> None:
    image = item_img(upload(client, data, filename=filename))
    served = fetch(client, image["url"])
    assert served.content == data
    assert served.headers["content-type"] == content_type


@pytest.mark.parametrize(
    ("data", "sub_code"),
    [
        (TEXT, "isv.item-image-upload-service-error:IC_IMAGE_CHECK_IMAGE_IS_UNSUCCESSFUL"),
        (
            truncated_jpeg(),
            "isv.item-image-upload-service-error:IC_IMAGE_CHECK_IMAGE_IS_UNSUCCESSFUL",
        ),
        (make_webp(), "isv.item-image-upload-service-error:IC_IMAGE_TYPE_IS_UNSUPPORTED"),
        (make_bmp(), "isv.item-image-upload-service-error:IC_IMAGE_TYPE_IS_UNSUPPORTED"),
    ],
    ids=["text-named-jpg", "truncated-jpeg", "webp-named-jpg", "bmp-named-jpg"],
)
def test_bad_content_is_refused(
    client: httpx.Client, sandbox: Sandbox, data: bytes, sub_code: str
) -> None:
    refused(upload(client, data, filename="photo.jpg"), sub_code)
    assert stats(sandbox)["stored"] == 0


@pytest.mark.parametrize("position", ["1", "4"])
def test_position_1_to_4_is_accepted(client: httpx.Client, position: str) -> None:
    item_img(upload(client, params={"position": position}))


def test_position_0_is_accepted_for_the_main_image(client: httpx.Client) -> None:
    assert item_img(upload(client, params={"position": "0", "is_major": True}))["id"] == 0


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"num_iid": "14891619x2"}, "num_iid"),
        ({"id": "abc"}, "id"),
        ({"position": "first"}, "position"),
        ({"is_major": "yes"}, "is_major"),
        ({"is_rectangle": "1"}, "is_rectangle"),
        # Exactly "true" / "false": Python's str(True) is refused, as Tmall refuses it.
        ({"is_major": "True"}, "is_major"),
        ({"is_rectangle": "TRUE"}, "is_rectangle"),
        ({"is_major": "False"}, "is_major"),
        ({"id": "²"}, "id"),
        ({"num_iid": fullwidth(ITEM)}, "num_iid"),
    ],
)
def test_parameters_of_the_wrong_type_are_refused(
    client: httpx.Client, params: dict[str, str], name: str
) -> None:
    error = error_of(upload(client, params=params), 41)
    assert error["sub_code"] == f"isv.invalid-parameter:{name}"


def test_other_app_and_seller_uploads_to_its_own_item(client: httpx.Client) -> None:
    image = item_img(
        upload(
            client,
            params={"num_iid": ITEM_B},
            app_key="21000002",
            secret="sbx-top-secret-b",
            session=TMALL_SESSION_B,
        )
    )
    assert image["id"] > 0


# --- every catalogue entry ---------------------------------------------------------------------

_SVC = "isv.item-image-upload-service-error:"


def _item(item: str, sub_code: str, session: str | None = None) -> Recipe:
    """Upload to ``item`` (with ``session``): code 15 with ``sub_code``."""
    extra: dict[str, Any] = {"session": session} if session else {}
    return Recipe(
        lambda client, sandbox: upload(client, params={"num_iid": item}, **extra),
        15,
        sub_code,
    )


def _icdb(client: httpx.Client, sandbox: Sandbox) -> httpx.Response:
    control(client, "limits", {"tmall_seller_qps": 1})
    assert succeeded(upload(client, make_jpeg(color=(7, 7, 7))))
    return upload(client, make_jpeg(color=(8, 8, 8)))


def _forced(error: str) -> Recipe:
    def send(client: httpx.Client, sandbox: Sandbox) -> httpx.Response:
        control(client, "faults", {"force": [{"platform": PLATFORM, "error": error}]})
        return upload(client)

    return Recipe(send, 15, "isv.picture-service-error")


RECIPES: dict[str, Recipe] = {
    **gateway_recipes(TMALL_API),
    "missing_image": Recipe(
        lambda client, sandbox: upload(client, None), 40, "isv.missing-parameter:image"
    ),
    "missing_num_iid": Recipe(
        lambda client, sandbox: upload(client, params={"num_iid": None}),
        40,
        "isv.missing-parameter:iid-or-numIid",
    ),
    "rectangle_ratio": Recipe(
        lambda client, sandbox: upload(client, make_jpeg(400, 300), params={"is_rectangle": True}),
        41,
        "isv.invalid-parameter:is_rectangle",
    ),
    "image_not_exist": Recipe(
        lambda client, sandbox: upload(client, params={"id": "987654321"}),
        15,
        "isv.image-not-exist:invalid-image-id",
    ),
    "check_failed": Recipe(
        lambda client, sandbox: upload(client, TEXT, filename="notes.jpg"),
        15,
        "isv.item-image-upload-service-error:IC_IMAGE_CHECK_IMAGE_IS_UNSUCCESSFUL",
    ),
    "image_num": _item(ITEM_FULL, "isv.invalid-permission:image-num"),
    "type_unsupported": Recipe(
        lambda client, sandbox: upload(client, make_webp(), filename="photo.jpg"),
        15,
        "isv.item-image-upload-service-error:IC_IMAGE_TYPE_IS_UNSUPPORTED",
    ),
    "update_item_permission": _item("1489161935", "isv.invalid-permission:update-item"),
    "user_not_exist": _item("1489162200", "isv.user-not-exist:invalid-nick", "sbx-session-ghost"),
    "too_large": Recipe(
        lambda client, sandbox: upload(client, jpeg_of_size(MAX_BYTES + 1)),
        15,
        "isv.item-image-upload-service-error:IC_ITEM_PIC_IS_TOO_LARGES",
    ),
    "picture_space_permission": _item(
        "1489162100", "isv.invalid-permission:picture-space", "sbx-session-single-pic"
    ),
    "item_deleted": _item("1489161934", "isv.item-is-delete:invalid-numIid-or-iid"),
    "item_get_not_found": _item("1489169999", "isv.item-get-service-error:ITEM_NOT_FOUND"),
    "picture_service_error": _forced("picture_service_error"),
    "position_conflict": Recipe(
        lambda client, sandbox: upload(client, params={"position": 0}),
        41,
        "isv.invalid-parameter:position",
    ),
    "pic_num_overflow": Recipe(
        lambda client, sandbox: upload(client, params={"position": 5}),
        15,
        "isv.item-image-upload-service-error:IC_ITEM_PIC_NUM_OVERFLOW",
    ),
    "needs_deposit": _item(
        "1489161937",
        "isv.item-image-upload-service-error:IC_STUFF_STATUS_NEW_LIMITED_WITH_NOPREPAY",
    ),
    "not_a_shop": _item(
        "1489161938", "isv.item-image-upload-service-error:IC_STUFF_STATUS_NEW_LIMITED_WITH_NOSHOP"
    ),
    "alcohol": _item(
        "1489161936", "isv.item-image-upload-service-error:ERROR_ALCOHOL_PERMISSION_INVALID"
    ),
    "item_not_found": _item(ITEM_B, "isv.item-image-upload-service-error:ITEM_NOT_FOUND"),
    "icdb_qps": Recipe(_icdb, 15, "isv.item-image-upload-service-error:ICDB_QPS_LIMIT"),
    "user_info_error": _item(
        "1489161939", "isv.item-image-upload-service-error:QUERY_USER_INFO_ERROR"
    ),
}


@pytest.mark.parametrize("key", sorted(tmall_item.PLATFORM.failures))
def test_every_catalogue_entry_is_reached(client: httpx.Client, sandbox: Sandbox, key: str) -> None:
    recipe = RECIPES.get(key)
    if recipe is None:
        pytest.fail(f"no recipe for tmall_item catalogue entry {key!r}: add one to RECIPES")
    check_refusal(
        recipe.send(client, sandbox), recipe, tmall_item.PLATFORM.failures[key], sandbox, PLATFORM
    )


def test_recipes_name_only_catalogue_entries() -> None:
    assert set(RECIPES) <= set(tmall_item.PLATFORM.failures)


def test_seed_page_sub_codes_are_all_in_the_catalogue() -> None:
    seed = {
        "isv.missing-parameter:image",
        "isv.image-not-exist:invalid-image-id",
        _SVC + "IC_IMAGE_CHECK_IMAGE_IS_UNSUCCESSFUL",
        "isv.invalid-permission:image-num",
        _SVC + "IC_IMAGE_TYPE_IS_UNSUPPORTED",
        "isv.invalid-permission:update-item",
        "isv.missing-parameter:iid-or-numIid",
        "isv.user-not-exist:invalid-nick",
        _SVC + "IC_ITEM_PIC_IS_TOO_LARGES",
        "isv.invalid-permission:picture-space",
        "isv.item-is-delete:invalid-numIid-or-iid",
        "isv.item-get-service-error:ITEM_NOT_FOUND",
        "isv.picture-service-error",
        _SVC + "IC_ITEM_PIC_NUM_OVERFLOW",
        _SVC + "IC_STUFF_STATUS_NEW_LIMITED_WITH_NOPREPAY",
        _SVC + "IC_STUFF_STATUS_NEW_LIMITED_WITH_NOSHOP",
        _SVC + "ERROR_ALCOHOL_PERMISSION_INVALID",
        _SVC + "ITEM_NOT_FOUND",
        _SVC + "ICDB_QPS_LIMIT",
        _SVC + "QUERY_USER_INFO_ERROR",
    }
    catalogued = {f.sub_code for f in tmall_item.PLATFORM.failures.values()}
    assert seed <= catalogued, sorted(seed - catalogued)


def test_stats_labels_tell_entries_apart() -> None:
    labels = [f.label for f in tmall_item.PLATFORM.failures.values()]
    assert len(labels) == len(set(labels))
