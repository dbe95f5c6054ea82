"""Sandbox: the image model of ``taobao.item.img.upload.tmall`` over loopback HTTP.

The seed page (taobao.item.img.upload.tmall): at most 5 images per item, "主图id默认为0"
(the main image's id is 0), ``is_major`` "默认值:false(非主图)" (by default *not* the
main image), ``is_rectangle`` uploads the "3:4商品主图", and an update names the image by
its ``id`` as ``taobao.item.seller.get`` lists it.  Where the page says no more, the
sandbox is strict (docs/sandbox.md): the main image is id 0 at position 0, every other
image has a non-zero id and a position of its own (1–4), a taken position is refused with
TOP's 41 ``isv.invalid-parameter:position`` (protocols.md, TOP codes), and the 3:4 image
has a non-zero id of its own.  Requests are built only with ``spec_clients``.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from spec_clients import make_jpeg, make_png, tmall_lookup
from top_support import (
    APP,
    ITEM,
    ITEM_EMPTY,
    ITEM_FULL,
    SECRET,
    TMALL_API,
    TMALL_SESSION,
    call,
    error_of,
    fetch,
    item_img,
)

POSITION = "isv.invalid-parameter:position"
NOT_EXIST = "isv.image-not-exist:invalid-image-id"
IMAGE_NUM = "isv.invalid-permission:image-num"


def upload(client: httpx.Client, image: bytes | None, num_iid: str, **params: Any) -> Any:
    """A Tmall upload of ``image`` (none when None) to ``num_iid`` with ``params``."""
    return call(client, TMALL_API, image, params={"num_iid": num_iid, **params})


def added(client: httpx.Client, image: bytes | None, num_iid: str, **params: Any) -> Any:
    """``item_img`` of a successful upload."""
    return item_img(upload(client, image, num_iid, **params))


def refused(response: httpx.Response, sub_code: str, code: int) -> None:
    error = error_of(response, code)
    assert error["sub_code"] == sub_code, error


def listing(client: httpx.Client, num_iid: str) -> list[dict[str, Any]]:
    """``taobao.item.seller.get`` (lookups.md): the item's images, as listed."""
    response = tmall_lookup(
        client, app_key=APP, secret=SECRET, session=TMALL_SESSION, num_iid=num_iid
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"item_seller_get_response"}, body
    images: list[dict[str, Any]] = body["item_seller_get_response"]["item"]["item_imgs"]["item_img"]
    return images


def placed(client: httpx.Client, num_iid: str) -> list[tuple[int, int]]:
    """``(id, position)`` of each listed image, in the listing's order."""
    return [(image["id"], image["position"]) for image in listing(client, num_iid)]


def jpeg(n: int) -> bytes:
    return make_jpeg(color=(n, 90, 140))


# --- the main image is id 0 at position 0 --------------------------------------------------


def test_first_image_of_an_empty_item_is_not_the_main_image(client: httpx.Client) -> None:
    # is_major defaults to false, "非主图": a plain upload never gets the main image's id 0.
    first = added(client, jpeg(1), ITEM_EMPTY)
    assert first["id"] != 0
    assert placed(client, ITEM_EMPTY) == [(first["id"], 1)]
    main = added(client, jpeg(2), ITEM_EMPTY, is_major=True)
    assert main["id"] == 0
    assert placed(client, ITEM_EMPTY) == [(0, 0), (first["id"], 1)]


def test_no_image_but_the_main_one_is_id_0_or_at_position_0(client: httpx.Client) -> None:
    for n in range(3):
        added(client, jpeg(n), ITEM_EMPTY)
    added(client, jpeg(9), ITEM_EMPTY, is_major=True)
    for image_id, position in placed(client, ITEM_EMPTY):
        assert (image_id == 0) == (position == 0), (image_id, position)


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"is_major": True, "position": 3}, id="is_major-at-3"),
        pytest.param({"id": 0, "position": 2}, id="id-0-to-2"),
        pytest.param({"position": 0}, id="plain-at-0"),
    ],
)
def test_the_main_image_stays_at_position_0(client: httpx.Client, params: dict[str, Any]) -> None:
    before = placed(client, ITEM)
    refused(upload(client, jpeg(3), ITEM, **params), POSITION, 41)
    assert placed(client, ITEM) == before == [(0, 0)]


def test_is_major_with_position_0_is_the_main_image(client: httpx.Client) -> None:
    assert added(client, jpeg(4), ITEM, is_major=True, position=0)["id"] == 0
    assert placed(client, ITEM) == [(0, 0)]


# --- the other images: non-zero ids, one position each ----------------------------------------


def test_two_images_never_share_a_position(client: httpx.Client) -> None:
    first = added(client, jpeg(5), ITEM, position=2)
    refused(upload(client, jpeg(6), ITEM, position=2), POSITION, 41)
    second = added(client, jpeg(6), ITEM)  # the lowest free position
    assert placed(client, ITEM) == [(0, 0), (second["id"], 1), (first["id"], 2)]
    # Moving an image by id onto a taken position is refused too; onto its own is fine.
    refused(upload(client, None, ITEM, id=second["id"], position=2), POSITION, 41)
    added(client, None, ITEM, id=second["id"], position=1)
    added(client, None, ITEM, id=second["id"], position=4)
    assert placed(client, ITEM) == [(0, 0), (first["id"], 2), (second["id"], 4)]


def test_the_five_places_are_the_main_image_and_positions_1_to_4(client: httpx.Client) -> None:
    ids = [added(client, jpeg(10 + n), ITEM_EMPTY)["id"] for n in range(4)]
    assert placed(client, ITEM_EMPTY) == list(zip(ids, range(1, 5), strict=True))
    # Only the main image's place is left: a fifth plain image does not take it.
    refused(upload(client, jpeg(20), ITEM_EMPTY), IMAGE_NUM, 15)
    assert added(client, jpeg(21), ITEM_EMPTY, is_major=True)["id"] == 0
    assert len(listing(client, ITEM_EMPTY)) == 5
    refused(upload(client, jpeg(22), ITEM_EMPTY), IMAGE_NUM, 15)


def test_a_full_item_refuses_a_new_image_before_its_position(client: httpx.Client) -> None:
    refused(upload(client, jpeg(23), ITEM_FULL, position=2), IMAGE_NUM, 15)


# --- is_major with id: that image becomes the main image -----------------------------------


def test_is_major_with_id_makes_that_image_the_main_image(client: httpx.Client) -> None:
    old_main_url = listing(client, ITEM)[0]["url"]
    other = added(client, jpeg(30), ITEM, position=3)
    data = make_png(color=(30, 0, 0))
    main = added(client, data, ITEM, id=other["id"], is_major=True)
    assert main["id"] == 0
    assert main["url"] == other["url"]
    assert main["created"] == other["created"]
    images = listing(client, ITEM)
    assert (images[0]["id"], images[0]["position"]) == (0, 0)
    assert fetch(client, images[0]["url"]).content == data
    # The former main image keeps its bytes and URL, at the promoted image's position,
    # under a new id: the promoted image's old id names nothing any more.
    (demoted,) = images[1:]
    assert demoted["position"] == 3
    assert demoted["url"] == old_main_url
    assert demoted["id"] not in (0, other["id"])
    refused(upload(client, jpeg(31), ITEM, id=other["id"]), NOT_EXIST, 15)
    # A replace by id 0 now changes the promoted image, not the former main one.
    again = make_png(color=(31, 0, 0))
    assert added(client, again, ITEM, id=0)["url"] == other["url"]
    assert fetch(client, other["url"]).content == again
    assert fetch(client, old_main_url).content != again


def test_is_major_with_id_and_no_image_only_promotes_it(client: httpx.Client) -> None:
    data = jpeg(32)
    other = added(client, data, ITEM_EMPTY, position=2)
    main = added(client, None, ITEM_EMPTY, id=other["id"], is_major=True)
    assert (main["id"], main["url"]) == (0, other["url"])
    assert placed(client, ITEM_EMPTY) == [(0, 0)]
    assert fetch(client, main["url"]).content == data


def test_is_major_with_id_and_another_position_is_refused(client: httpx.Client) -> None:
    other = added(client, jpeg(33), ITEM, position=1)
    refused(upload(client, jpeg(34), ITEM, id=other["id"], is_major=True, position=1), POSITION, 41)
    assert placed(client, ITEM) == [(0, 0), (other["id"], 1)]


# --- the 3:4 image has an id of its own, never 0 ---------------------------------------------


def test_the_3_by_4_image_has_a_non_zero_id_and_leaves_the_main_image_alone(
    client: httpx.Client,
) -> None:
    main_url = listing(client, ITEM)[0]["url"]
    main_bytes = fetch(client, main_url).content
    tall = make_jpeg(300, 400, color=(40, 0, 0))
    rectangle = added(client, tall, ITEM, is_rectangle=True)
    assert rectangle["id"] != 0
    assert rectangle["url"] != main_url
    # Replacing by id 0 changes the main image only, and the 3:4 image is not listed.
    new_main = make_png(color=(41, 0, 0))
    added(client, new_main, ITEM, id=0)
    assert fetch(client, main_url).content == new_main != main_bytes
    assert fetch(client, rectangle["url"]).content == tall
    assert placed(client, ITEM) == [(0, 0)]


def test_the_3_by_4_image_is_replaced_by_its_id_with_is_rectangle(client: httpx.Client) -> None:
    rectangle = added(client, make_jpeg(300, 400, color=(42, 0, 0)), ITEM, is_rectangle=True)
    taller = make_jpeg(600, 800, color=(43, 0, 0))
    again = added(client, taller, ITEM, id=rectangle["id"], is_rectangle=True)
    assert (again["id"], again["url"]) == (rectangle["id"], rectangle["url"])
    assert fetch(client, rectangle["url"]).content == taller
    # A second 3:4 upload replaces the item's one 3:4 image as well.
    third = make_jpeg(3, 4, color=(44, 0, 0))
    assert added(client, third, ITEM, is_rectangle=True)["id"] == rectangle["id"]
    assert fetch(client, rectangle["url"]).content == third


def test_the_3_by_4_images_id_is_no_item_image_id(client: httpx.Client) -> None:
    rectangle = added(client, make_jpeg(300, 400), ITEM, is_rectangle=True)
    other = added(client, jpeg(45), ITEM)
    refused(upload(client, jpeg(46), ITEM, id=rectangle["id"]), NOT_EXIST, 15)
    refused(
        upload(client, make_jpeg(300, 400), ITEM, id=other["id"], is_rectangle=True),
        NOT_EXIST,
        15,
    )
    refused(upload(client, make_jpeg(300, 400), ITEM, id=0, is_rectangle=True), NOT_EXIST, 15)


def test_the_3_by_4_image_takes_no_position(client: httpx.Client) -> None:
    refused(upload(client, make_jpeg(300, 400), ITEM, is_rectangle=True, position=1), POSITION, 41)


def test_is_major_beside_is_rectangle_is_the_3_by_4_main_image(client: httpx.Client) -> None:
    # The page calls the is_rectangle image the "3:4商品主图": is_major says nothing more.
    main_url = listing(client, ITEM)[0]["url"]
    main_bytes = fetch(client, main_url).content
    tall = make_jpeg(300, 400, color=(47, 0, 0))
    rectangle = added(client, tall, ITEM, is_major=True, is_rectangle=True)
    assert rectangle["id"] != 0
    assert fetch(client, main_url).content == main_bytes
    assert placed(client, ITEM) == [(0, 0)]
