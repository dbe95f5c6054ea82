"""Sandbox: the four look-ups of ``docs/lookups.md``, over loopback HTTP.

Requests are built only with ``spec_clients`` (written from ``docs/lookups.md`` and
``docs/protocols.md``); answer shapes, codes and sub-codes are literals from those pages,
so the sandbox is checked against the written protocol, not against itself.  Each look-up
must list exactly what the uploads stored (replaced bytes, "(n)" renames), at URLs that
serve those bytes, and refuse what its upload refuses.
"""

from __future__ import annotations

import hashlib
import re
import time
from typing import Any

import httpx
import pytest
from spec_clients import (
    build_vv_lookup_request,
    epoch_ms_now,
    make_gif,
    make_jpeg,
    make_png,
    miniapp_lookup,
    qianmi_lookup,
    qianmi_upload,
    tmall_lookup,
    top_call,
    vv_lookup,
    vv_upload,
)
from top_support import (
    APP,
    ITEM,
    ITEM_B,
    ITEM_EMPTY,
    MINIAPP,
    MINIAPP_ID,
    MINIAPP_ID_2,
    MINIAPP_SESSION,
    SECRET,
    STAMP,
    TMALL,
    TMALL_SESSION,
    TMALL_SESSION_B,
)

from imgkit.sandbox import Sandbox

TMALL_ROOT = "item_seller_get_response"
MINIAPP_ROOT = "miniapp_trade_picture_get_response"
QIANMI_ROOT = "sku_images_get_response"
VV_TOKEN = "sbx-vv-token-1"
VV_SHOP, VV_SHOP_2 = "sbx_tb_shop_1", "sbx_tb_shop_2"
VV_CATEGORY = "1657717355974335419"
QM_APP, QM_SECRET, QM_TOKEN = "10009001", "sbx-qianmi-secret", "sbx-qm-token-1"
QM_ITEM, QM_SKU, QM_SKU_2, QM_FULL_SKU = "18353", "g1234", "g1235", "g1236"
QM_SVC = "isv.qianmi-cloudshop-sku-image-upload-service-error:"
MODEL_FIELDS = {
    "pic_id",
    "path",
    "title",
    "sizes",
    "pixel",
    "status",
    "deleted",
    "created",
    "modified",
}
PICTURE_FIELDS = {
    "picture_id",
    "picture_category_id",
    "picture_path",
    "title",
    "sizes",
    "pixel",
    "status",
    "deleted",
    "created",
    "modified",
    "client_type",
}


def jpeg(n: int) -> bytes:
    """A JPEG with its own bytes for each ``n``."""
    return make_jpeg(40 + n % 7, 30, color=(n % 256, (n * 7) % 256, 90))


def fetch(client: httpx.Client, url: str) -> bytes:
    """The bytes served at an image URL the sandbox listed (it must be the sandbox's)."""
    assert url.startswith(str(client.base_url).rstrip("/") + "/img/"), url
    response = client.get(url)
    assert response.status_code == 200, (url, response.text)
    return response.content


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stats(sandbox: Sandbox, platform: str) -> dict[str, Any]:
    out: dict[str, Any] = sandbox.stats()[platform]
    return out


def top_error(response: httpx.Response, code: int, sub_code: str | None = None) -> dict[str, Any]:
    """``error_response`` with ``code`` (and ``sub_code``), HTTP 200 as TOP answers."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"error_response"}, body
    error: dict[str, Any] = body["error_response"]
    assert error["code"] == code, error
    if sub_code is not None:
        assert error.get("sub_code") == sub_code, error
    assert error["request_id"]
    return error


def top_inner(response: httpx.Response, root: str) -> dict[str, Any]:
    """The success envelope under ``root``, with its ``request_id``."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {root}, body
    inner: dict[str, Any] = body[root]
    assert isinstance(inner["request_id"], str)
    assert inner["request_id"]
    return inner


# --- tmall_item: taobao.item.seller.get -------------------------------------------------------


def tmall_upload(
    client: httpx.Client, data: bytes, num_iid: str = ITEM, **params: Any
) -> dict[str, Any]:
    """Upload to a Tmall item (asserting success); the answer's ``item_img``."""
    response = top_call(
        client,
        method=TMALL,
        app_key=APP,
        secret=SECRET,
        session=TMALL_SESSION,
        app_params={"num_iid": num_iid, **params},
        files={"image": ("红色杯子.jpg", data)},
    )
    body = response.json()
    assert "item_img_upload_tmall_response" in body, body
    image: dict[str, Any] = body["item_img_upload_tmall_response"]["item_img"]
    return image


def tmall_get(client: httpx.Client, num_iid: str = ITEM, **kw: Any) -> httpx.Response:
    """``taobao.item.seller.get`` as the session of ``ITEM``'s seller, unless told."""
    kw.setdefault("app_key", APP)
    kw.setdefault("secret", SECRET)
    kw.setdefault("session", TMALL_SESSION)
    return tmall_lookup(client, num_iid=num_iid, **kw)


def item_imgs(response: httpx.Response) -> list[dict[str, Any]]:
    """``item.item_imgs.item_img`` of a successful look-up (checking each entry's shape)."""
    inner = top_inner(response, TMALL_ROOT)
    assert set(inner) == {"item", "request_id"}, inner
    images: list[dict[str, Any]] = inner["item"]["item_imgs"]["item_img"]
    for image in images:
        assert set(image) == {"id", "url", "position", "created"}, image
        assert isinstance(image["id"], int)
        assert isinstance(image["position"], int)
        assert STAMP.fullmatch(image["created"]), image
    return images


@pytest.mark.parametrize("stamp", ["gmt8", "epoch_ms"])
@pytest.mark.parametrize("sign_method", ["md5", "hmac", "hmac-sha256"])
@pytest.mark.parametrize("style", ["sdk", "multipart"])
def test_tmall_lists_the_uploaded_image_and_serves_its_bytes(
    client: httpx.Client, sandbox: Sandbox, style: str, sign_method: str, stamp: str
) -> None:
    data = jpeg(1)
    uploaded = tmall_upload(client, data)
    timestamp = epoch_ms_now() if stamp == "epoch_ms" else None
    response = tmall_get(client, style=style, sign_method=sign_method, timestamp=timestamp)
    inner = top_inner(response, TMALL_ROOT)
    assert inner["item"]["num_iid"] == int(ITEM)
    images = item_imgs(response)
    # ITEM starts with its main image (id 0); the upload added one more.
    assert [image["id"] for image in images] == [0, uploaded["id"]]
    mine = images[1]
    assert (mine["url"], mine["created"]) == (uploaded["url"], uploaded["created"])
    assert fetch(client, mine["url"]) == data
    # The seeded main image is served too, so a client can compare its bytes.
    assert sha(fetch(client, images[0]["url"])) != sha(data)
    counters = stats(sandbox, "tmall_item")
    assert (counters["requests"], counters["stored"], counters["rejections"]) == (2, 1, {})


def test_tmall_item_without_images_answers_an_empty_list(client: httpx.Client) -> None:
    response = tmall_get(client, ITEM_EMPTY)
    assert top_inner(response, TMALL_ROOT)["item"] == {
        "num_iid": int(ITEM_EMPTY),
        "item_imgs": {"item_img": []},
    }


def test_tmall_lists_images_by_position(client: httpx.Client) -> None:
    late = tmall_upload(client, jpeg(2), ITEM_EMPTY, position=3)
    early = tmall_upload(client, jpeg(3), ITEM_EMPTY, position=1)
    images = item_imgs(tmall_get(client, ITEM_EMPTY))
    assert [(i["id"], i["position"]) for i in images] == [(early["id"], 1), (late["id"], 3)]


def test_tmall_replace_by_id_is_listed_with_the_new_bytes(client: httpx.Client) -> None:
    first = tmall_upload(client, jpeg(4), ITEM_EMPTY)
    tmall_upload(client, jpeg(5), ITEM_EMPTY, id=first["id"])
    images = item_imgs(tmall_get(client, ITEM_EMPTY))
    assert [image["id"] for image in images] == [first["id"]]
    assert fetch(client, images[0]["url"]) == jpeg(5)


def test_tmall_replaced_main_image_keeps_its_url(client: httpx.Client) -> None:
    before = item_imgs(tmall_get(client))
    assert [image["id"] for image in before] == [0]
    seeded = fetch(client, before[0]["url"])
    main = tmall_upload(client, make_png(color=(9, 8, 7)), is_major=True)
    after = item_imgs(tmall_get(client))
    assert [image["id"] for image in after] == [0]
    assert after[0]["url"] == before[0]["url"] == main["url"]
    assert fetch(client, after[0]["url"]) == make_png(color=(9, 8, 7)) != seeded


def test_tmall_3_by_4_image_is_not_listed(client: httpx.Client) -> None:
    tmall_upload(client, make_jpeg(300, 400), ITEM_EMPTY, is_rectangle=True)
    assert item_imgs(tmall_get(client, ITEM_EMPTY)) == []


def test_tmall_item_imgs_only_when_fields_ask_for_item_img(client: httpx.Client) -> None:
    tmall_upload(client, jpeg(6), ITEM_EMPTY)
    only_id = top_inner(tmall_get(client, ITEM_EMPTY, fields="num_iid,title"), TMALL_ROOT)
    assert only_id["item"] == {"num_iid": int(ITEM_EMPTY)}
    only_images = top_inner(tmall_get(client, ITEM_EMPTY, fields="item_img"), TMALL_ROOT)
    assert set(only_images["item"]) == {"item_imgs"}
    assert len(only_images["item"]["item_imgs"]["item_img"]) == 1


@pytest.mark.parametrize("name", ["num_iid", "fields"])
def test_tmall_missing_parameter_is_40(client: httpx.Client, name: str) -> None:
    response = tmall_get(client, extra={name: None})
    top_error(response, 40, f"isv.missing-parameter:{name}")


@pytest.mark.parametrize(
    ("num_iid", "session"),
    [
        pytest.param("1489169999", TMALL_SESSION, id="unknown"),
        pytest.param(ITEM_B, TMALL_SESSION, id="another-sellers"),
        pytest.param(ITEM, "sbx-session-tmall-2", id="another-sellers-session"),
    ],
)
def test_tmall_unknown_or_foreign_item_is_item_not_found(
    client: httpx.Client, num_iid: str, session: str
) -> None:
    kw: dict[str, Any] = {"session": session}
    if session == TMALL_SESSION_B:
        kw.update(app_key="21000002", secret="sbx-top-secret-b")
    response = tmall_get(client, num_iid, **kw)
    top_error(response, 15, "isv.item-get-service-error:ITEM_NOT_FOUND")


def test_tmall_other_seller_sees_its_own_item(client: httpx.Client) -> None:
    response = tmall_get(
        client, ITEM_B, app_key="21000002", secret="sbx-top-secret-b", session=TMALL_SESSION_B
    )
    assert [image["id"] for image in item_imgs(response)] == [0]


def test_tmall_ghost_seller_is_refused_as_its_upload_is(client: httpx.Client) -> None:
    response = tmall_get(client, "1489162200", session="sbx-session-ghost")
    top_error(response, 15, "isv.user-not-exist:invalid-nick")


def test_tmall_item_refused_for_uploads_can_still_be_read(client: httpx.Client) -> None:
    # Item 1489161934 is deleted: uploads are refused, a read lists what it holds.
    assert [image["id"] for image in item_imgs(tmall_get(client, "1489161934"))] == [0]


def test_seeded_images_outside_the_world_are_not_served(client: httpx.Client) -> None:
    assert client.get("/img/tmall_item/seeded/1489169999/0.png").status_code == 404
    assert client.get("/img/tmall_item/seeded/1489161940/0.png").status_code == 404


def test_tmall_non_numeric_num_iid_is_41(client: httpx.Client) -> None:
    top_error(tmall_get(client, "abc"), 41, "isv.invalid-parameter:num_iid")


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        pytest.param({"secret": "not-the-secret"}, 25, id="bad-signature"),
        pytest.param({"extra": {"sign": None}}, 24, id="no-signature"),
        pytest.param({"session": "sbx-session-nobody"}, 27, id="unknown-session"),
        pytest.param({"session": "sbx-session-expired"}, 27, id="expired-session"),
        pytest.param({"session": None}, 26, id="no-session"),
        pytest.param({"timestamp": "2001-01-01 00:00:00"}, 31, id="stale-timestamp"),
        pytest.param({"app_key": "29999999"}, 29, id="unknown-app"),
        pytest.param(
            {
                "app_key": "21000003",
                "secret": "sbx-top-secret-noapi",
                "session": "sbx-session-noapi",
            },
            11,
            id="app-without-tmall-api",
        ),
        pytest.param({"session": "sbx-session-readonly"}, 13, id="read-only-session"),
    ],
)
def test_tmall_lookup_is_refused_as_the_upload_would_be(
    client: httpx.Client, sandbox: Sandbox, kw: dict[str, Any], code: int
) -> None:
    top_error(tmall_get(client, **kw), code)
    assert stats(sandbox, "tmall_item")["stored"] == 0


def test_tmall_lookups_share_the_apps_rate_limit_with_uploads(client: httpx.Client) -> None:
    # The limit is per one-second window of real time: the three calls must fall in one
    # window. On a loaded machine they may not; then the round is run again (a fresh
    # window after a reset), never judged, and the test fails only if no round fit.
    for attempt in range(5):
        client.post("/_sandbox/reset")
        assert client.post("/_sandbox/limits", json={"top_app_qps": 2}).status_code == 200
        started = time.monotonic()
        tmall_upload(client, jpeg(7 + attempt), ITEM_EMPTY)
        item_imgs(tmall_get(client, ITEM_EMPTY))
        third = tmall_get(client, ITEM_EMPTY)
        if time.monotonic() - started < 0.8:  # a margin inside the window
            break
    else:
        pytest.fail("five rounds of three calls each took 0.8 s or more")
    error = top_error(third, 7)
    assert error["sub_code"] == "accesscontrol.limited-by-app-api-access-count"
    assert re.search(r"This ban will last for \d+ more seconds", error["sub_msg"])


def test_tmall_lookup_takes_injected_faults(client: httpx.Client, sandbox: Sandbox) -> None:
    plan = {"force": [{"platform": "tmall_item", "error": "service_unavailable"}]}
    assert client.post("/_sandbox/faults", json=plan).status_code == 200
    top_error(tmall_get(client), 10)
    item_imgs(tmall_get(client))  # forced once only
    sandbox.state.set_faults({"transient": 1.0, "platforms": ["tmall_item"]})
    assert top_error(tmall_get(client), 15)["sub_code"].startswith("isp.")


def test_tmall_lookup_is_not_dropped_after_store(client: httpx.Client, sandbox: Sandbox) -> None:
    # Nothing is stored by a look-up, so "drop_after_store" never applies to one.
    sandbox.state.set_faults({"drop_after_store": 1.0, "platforms": ["tmall_item"]})
    item_imgs(tmall_get(client))
    sandbox.state.set_faults({"drop_before_store": 1.0, "platforms": ["tmall_item"]})
    with pytest.raises(httpx.RemoteProtocolError):
        tmall_get(client)


# --- taobao_miniapp: taobao.miniapp.trade.picture.get ------------------------------------------


def miniapp_upload(
    client: httpx.Client, data: bytes, file_name: str, miniapp_id: str = MINIAPP_ID, **params: Any
) -> dict[str, Any]:
    """A mini-app upload (asserting success); the answer's ``result.model``."""
    response = top_call(
        client,
        method=MINIAPP,
        app_key=APP,
        secret=SECRET,
        session=MINIAPP_SESSION,
        app_params={"miniapp_id": miniapp_id, "file_name": file_name, **params},
        files={"bytes": ("a.jpg", data)},
    )
    result = response.json()["miniapp_trade_picture_upload_response"]["result"]
    assert result["success"] is True, result
    model: dict[str, Any] = result["model"]
    return model


def miniapp_get(client: httpx.Client, miniapp_id: str | None = MINIAPP_ID, **kw: Any) -> Any:
    """``taobao.miniapp.trade.picture.get`` as the mini-app seller, unless told."""
    kw.setdefault("app_key", APP)
    kw.setdefault("secret", SECRET)
    kw.setdefault("session", MINIAPP_SESSION)
    return miniapp_lookup(client, miniapp_id=miniapp_id, **kw)


def miniapp_result(response: httpx.Response) -> dict[str, Any]:
    """``result`` of a look-up (success or not)."""
    inner = top_inner(response, MINIAPP_ROOT)
    assert set(inner) == {"result", "request_id"}, inner
    result: dict[str, Any] = inner["result"]
    return result


def pictures_of(response: httpx.Response) -> tuple[int, list[dict[str, Any]]]:
    """``(total, models)`` of a successful mini-app look-up."""
    result = miniapp_result(response)
    assert result["success"] is True, result
    assert isinstance(result["total"], int)
    models: list[dict[str, Any]] = result["models"]["picture"]
    for model in models:
        assert set(model) == MODEL_FIELDS, model
    return result["total"], models


@pytest.mark.parametrize("style", ["sdk", "multipart"])
def test_miniapp_lists_the_upload_model_exactly(client: httpx.Client, style: str) -> None:
    data = jpeg(10)
    model = miniapp_upload(client, data, "红色杯子 主图")
    total, models = pictures_of(miniapp_get(client, style=style))
    assert (total, models) == (1, [model])
    assert models[0]["sizes"] == len(data)
    assert fetch(client, models[0]["path"]) == data


def test_miniapp_empty_and_per_miniapp(client: httpx.Client) -> None:
    assert pictures_of(miniapp_get(client)) == (0, [])
    miniapp_upload(client, jpeg(11), "杯子")
    assert pictures_of(miniapp_get(client, MINIAPP_ID_2)) == (0, [])
    assert pictures_of(miniapp_get(client))[0] == 1


def test_miniapp_lists_only_the_sessions_sellers_pictures(client: httpx.Client) -> None:
    miniapp_upload(client, jpeg(12), "杯子")
    # Same app, same mini-app, another seller: a picture space of its own.
    assert pictures_of(miniapp_get(client, session=TMALL_SESSION)) == (0, [])


def test_miniapp_title_filter_takes_the_1_renames(client: httpx.Client) -> None:
    first = miniapp_upload(client, jpeg(13), "杯子.jpg")
    second = miniapp_upload(client, jpeg(14), "杯子.jpg")
    third = miniapp_upload(client, jpeg(15), "杯子.jpg")
    other = miniapp_upload(client, jpeg(16), "杯子.jpg 2")
    assert [first["title"], second["title"], third["title"]] == [
        "杯子.jpg",
        "杯子.jpg(1)",
        "杯子.jpg(2)",
    ]
    total, models = pictures_of(miniapp_get(client, file_name="杯子.jpg"))
    assert total == 3
    assert [m["pic_id"] for m in models] == [first["pic_id"], second["pic_id"], third["pic_id"]]
    assert [fetch(client, m["path"]) for m in models] == [jpeg(13), jpeg(14), jpeg(15)]
    assert pictures_of(miniapp_get(client, file_name="杯子.jpg 2"))[1] == [other]
    assert pictures_of(miniapp_get(client, file_name="杯子"))[0] == 0
    assert pictures_of(miniapp_get(client))[0] == 4


def test_miniapp_title_filter_finds_a_bumped_counter(client: httpx.Client) -> None:
    # A name already ending in "(n)" is renamed "(n+1)" on a clash: still a copy of it.
    miniapp_upload(client, jpeg(17), "mug(2)")
    copy = miniapp_upload(client, jpeg(18), "mug(2)")
    assert copy["title"] == "mug(3)"
    total, models = pictures_of(miniapp_get(client, file_name="mug(2)"))
    assert total == 2
    assert models[1] == copy


def test_miniapp_replace_is_listed_with_the_new_bytes(client: httpx.Client) -> None:
    first = miniapp_upload(client, jpeg(19), "杯子")
    replaced = miniapp_upload(client, make_gif(70, 20), "杯子", pic_id=first["pic_id"])
    total, models = pictures_of(miniapp_get(client, file_name="杯子"))
    assert (total, models) == (1, [replaced])
    assert models[0]["path"] == first["path"]
    assert (models[0]["sizes"], models[0]["pixel"]) == (len(make_gif(70, 20)), "20x70")
    assert fetch(client, models[0]["path"]) == make_gif(70, 20)


def test_miniapp_paging_counts_every_match(client: httpx.Client) -> None:
    ids = [miniapp_upload(client, jpeg(20 + n), "杯子")["pic_id"] for n in range(5)]
    pages = [pictures_of(miniapp_get(client, page_no=n, page_size=2)) for n in (1, 2, 3, 4)]
    assert [total for total, _ in pages] == [5, 5, 5, 5]
    assert [[m["pic_id"] for m in models] for _, models in pages] == [
        sorted(ids)[0:2],
        sorted(ids)[2:4],
        sorted(ids)[4:],
        [],
    ]


def test_miniapp_default_page_is_20(client: httpx.Client) -> None:
    for n in range(21):
        miniapp_upload(client, jpeg(40 + n), f"图{n}")
    total, models = pictures_of(miniapp_get(client))
    assert (total, len(models)) == (21, 20)
    assert len(pictures_of(miniapp_get(client, page_no=2))[1]) == 1
    assert len(pictures_of(miniapp_get(client, page_size=100))[1]) == 21


@pytest.mark.parametrize(
    ("name", "value"),
    [("page_size", 101), ("page_size", 0), ("page_no", 0), ("page_no", "x"), ("page_size", "-1")],
)
def test_miniapp_bad_paging_is_41(client: httpx.Client, name: str, value: Any) -> None:
    top_error(miniapp_get(client, **{name: value}), 41, f"isv.invalid-parameter:{name}")


def test_miniapp_unknown_miniapp_is_a_result_failure(client: httpx.Client) -> None:
    result = miniapp_result(miniapp_get(client, "3000000099999"))
    assert result["success"] is False, result
    # The upload's err_code for an unknown mini-app (sandbox-errors.md).
    assert result["err_code"] == 2001
    assert result["err_message"]


def test_miniapp_missing_miniapp_id_is_40(client: httpx.Client) -> None:
    top_error(miniapp_get(client, None), 40, "isv.missing-parameter:miniapp_id")


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        pytest.param({"secret": "not-the-secret"}, 25, id="bad-signature"),
        pytest.param({"session": "sbx-session-nobody"}, 27, id="unknown-session"),
        pytest.param({"session": None}, 26, id="no-session"),
        pytest.param({"extra": {"v": "1.0"}}, 34, id="version"),
        pytest.param(
            {
                "app_key": "21000009",
                "secret": "sbx-top-secret-quota",
                "session": "sbx-session-quota",
            },
            7,
            id="daily-quota",
        ),
    ],
)
def test_miniapp_lookup_is_refused_as_the_upload_would_be(
    client: httpx.Client, kw: dict[str, Any], code: int
) -> None:
    top_error(miniapp_get(client, **kw), code)


def test_miniapp_lookup_is_in_the_mini_app_api_package(client: httpx.Client) -> None:
    # App 21000003 may call the mini-app API (but not Tmall's); it owns no mini-app.
    kw = {"app_key": "21000003", "secret": "sbx-top-secret-noapi", "session": "sbx-session-noapi"}
    assert miniapp_result(miniapp_get(client, **kw))["err_code"] == 2001


def test_miniapp_lookups_share_the_session_rate_limit(client: httpx.Client) -> None:
    assert client.post("/_sandbox/limits", json={"top_session_qps": 1}).status_code == 200
    miniapp_upload(client, jpeg(70), "杯子")
    top_error(miniapp_get(client), 8)


# --- qianmi_sku: qianmi.cloudshop.sku.images.get ---------------------------------------------


def qm_upload(client: httpx.Client, data: bytes, sku_id: str = QM_SKU, **kw: Any) -> dict[str, Any]:
    """A Qianmi upload (asserting success); its ``sku_img``."""
    response = qianmi_upload(
        client,
        app_key=QM_APP,
        secret=QM_SECRET,
        access_token=QM_TOKEN,
        num_iid=QM_ITEM,
        sku_id=sku_id,
        image_bytes=data,
        **kw,
    )
    body = response.json()
    assert "sku_image_upload_response" in body, body
    image: dict[str, Any] = body["sku_image_upload_response"]["sku_img"]
    return image


def qm_get(client: httpx.Client, sku_id: str | None = QM_SKU, **kw: Any) -> httpx.Response:
    """``qianmi.cloudshop.sku.images.get`` with working defaults."""
    kw.setdefault("app_key", QM_APP)
    kw.setdefault("secret", QM_SECRET)
    kw.setdefault("access_token", QM_TOKEN)
    kw.setdefault("num_iid", QM_ITEM)
    return qianmi_lookup(client, sku_id=sku_id, **kw)


def sku_imgs(response: httpx.Response) -> tuple[int, list[dict[str, Any]]]:
    """``(total_results, sku_img list)`` of a successful Qianmi look-up."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {QIANMI_ROOT}, body
    inner = body[QIANMI_ROOT]
    assert set(inner) == {"sku_imgs", "total_results"}, inner
    images: list[dict[str, Any]] = inner["sku_imgs"]["sku_img"]
    return inner["total_results"], images


def qm_error(response: httpx.Response, code: str, sub_code: str | None = None) -> None:
    """The seed page's error shape with main ``code`` (and ``sub_code``)."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["errorToken"], body
    assert body["code"] == code, body
    if sub_code is not None:
        assert body["subErrors"]["subError"][0]["code"] == sub_code, body


def test_qianmi_lists_the_uploaded_image(client: httpx.Client, sandbox: Sandbox) -> None:
    data = jpeg(80)
    uploaded = qm_upload(client, data)
    total, images = sku_imgs(qm_get(client))
    assert (total, images) == (1, [uploaded])
    assert set(images[0]) == {"id", "url", "position", "created"}
    assert fetch(client, images[0]["url"]) == data
    assert stats(sandbox, "qianmi_sku")["stored"] == 1


def test_qianmi_empty_sku(client: httpx.Client) -> None:
    qm_upload(client, jpeg(81))
    assert sku_imgs(qm_get(client, QM_SKU_2)) == (0, [])


def test_qianmi_full_sku_lists_its_five_images_by_position(client: httpx.Client) -> None:
    total, images = sku_imgs(qm_get(client, QM_FULL_SKU))
    assert total == 5
    assert [image["position"] for image in images] == [0, 1, 2, 3, 4]
    served = {sha(fetch(client, image["url"])) for image in images}
    assert len(served) == 5  # five images, five different byte strings, all served


def test_qianmi_sku_without_specs_is_listed_empty(client: httpx.Client) -> None:
    assert sku_imgs(qm_get(client, "g2001", num_iid="18354")) == (0, [])


def test_qianmi_orders_by_position(client: httpx.Client) -> None:
    late = qm_upload(client, jpeg(82), position=4)
    early = qm_upload(client, jpeg(83), position=2)
    total, images = sku_imgs(qm_get(client))
    assert total == 2
    assert [image["id"] for image in images] == [early["id"], late["id"]]


def test_qianmi_replace_is_listed_with_the_new_bytes(client: httpx.Client) -> None:
    first = qm_upload(client, jpeg(84))
    qm_upload(client, jpeg(85), img_id=first["id"])
    total, images = sku_imgs(qm_get(client))
    assert (total, [image["id"] for image in images]) == (1, [first["id"]])
    assert images[0]["url"] == first["url"]
    assert fetch(client, images[0]["url"]) == jpeg(85)


def test_qianmi_replacing_a_seeded_image_keeps_its_url(client: httpx.Client) -> None:
    _, before = sku_imgs(qm_get(client, QM_FULL_SKU))
    # A missing position is 0, held by another image: the replace names its own.
    qm_upload(client, jpeg(86), QM_FULL_SKU, img_id=before[2]["id"], position=2)
    _, after = sku_imgs(qm_get(client, QM_FULL_SKU))
    assert [image["url"] for image in after] == [image["url"] for image in before]
    assert fetch(client, after[2]["url"]) == jpeg(86)


@pytest.mark.parametrize(
    ("fields", "keys"),
    [("id,url", {"id", "url"}), (None, {"id", "url", "position", "created"})],
)
def test_qianmi_fields(client: httpx.Client, fields: str | None, keys: set[str]) -> None:
    qm_upload(client, jpeg(87))
    _, images = sku_imgs(qm_get(client, fields=fields))
    assert set(images[0]) == keys


@pytest.mark.parametrize(
    ("kw", "code", "sub_code"),
    [
        pytest.param({"num_iid": "99999"}, "9", QM_SVC + "01030001", id="unknown-item"),
        pytest.param({"sku_id": "g9999"}, "9", QM_SVC + "01030002", id="unknown-sku"),
        pytest.param({"num_iid": None}, "32", "isv.missing-parameter:num_iid", id="no-num_iid"),
        pytest.param({"sku_id": None}, "32", "isv.missing-parameter:sku_id", id="no-sku_id"),
        pytest.param({"secret": "wrong"}, "25", None, id="bad-signature"),
        pytest.param({"extra": {"sign": None}}, "24", None, id="no-signature"),
        pytest.param({"access_token": "sbx-qm-nope"}, "21", None, id="unknown-token"),
        pytest.param({"access_token": "sbx-qm-token-expired"}, "21", None, id="expired-token"),
        pytest.param({"access_token": None}, "20", None, id="no-token"),
        pytest.param({"access_token": "sbx-qm-token-userperm"}, "3", None, id="user-permission"),
    ],
)
def test_qianmi_lookup_is_refused_as_the_upload_would_be(
    client: httpx.Client, kw: dict[str, Any], code: str, sub_code: str | None
) -> None:
    qm_error(qm_get(client, **kw), code, sub_code)


def test_qianmi_lookups_share_the_apps_rate_limit_with_uploads(client: httpx.Client) -> None:
    assert client.post("/_sandbox/limits", json={"qianmi_app_qps": 2}).status_code == 200
    qm_upload(client, jpeg(88))
    sku_imgs(qm_get(client))
    qm_error(qm_get(client), "37")


# --- taobao_picture: POST /tool/erps/tbpicture/get -------------------------------------------


def vv_put(
    client: httpx.Client,
    data: bytes,
    title: str | None = None,
    shop_id: str = VV_SHOP,
    **kw: Any,
) -> dict[str, Any]:
    """A picture-space upload (asserting success); its ``picture``."""
    response = vv_upload(
        client, token=VV_TOKEN, shop_id=shop_id, img=data, filename="杯子.jpg", title=title, **kw
    )
    body = response.json()
    assert body["code"] == 0, body
    picture: dict[str, Any] = body["data"]["picture_upload_response"]["picture"]
    return picture


def vv_get(client: httpx.Client, shop_id: str | None = VV_SHOP, **kw: Any) -> httpx.Response:
    """The picture-space look-up with the good token, unless told."""
    kw.setdefault("token", VV_TOKEN)
    return vv_lookup(client, shop_id=shop_id, **kw)


def vv_pictures(response: httpx.Response) -> tuple[int, list[dict[str, Any]]]:
    """``(total_results, pictures)`` of a successful look-up."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["code"], body["msg"]) == (0, "success"), body
    answer = body["data"]["picture_get_response"]
    assert set(answer) == {"pictures", "total_results"}, answer
    pictures: list[dict[str, Any]] = answer["pictures"]["picture"]
    for picture in pictures:
        assert set(picture) == PICTURE_FIELDS, picture
    return answer["total_results"], pictures


def vv_refused(response: httpx.Response, code: int, http_status: int = 200) -> dict[str, Any]:
    assert response.status_code == http_status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


def no_vv_limit(client: httpx.Client) -> None:
    assert client.post("/_sandbox/limits", json={"vv_token_qps": None}).status_code == 200


@pytest.mark.parametrize("encoding", ["multipart", "form"])
def test_vv_lists_the_upload_picture_exactly(
    client: httpx.Client, sandbox: Sandbox, encoding: str
) -> None:
    data = jpeg(100)
    picture = vv_put(client, data, "红色杯子")
    total, pictures = vv_pictures(vv_get(client, encoding=encoding))
    assert (total, pictures) == (1, [picture])
    assert pictures[0]["sizes"] == len(data)
    assert fetch(client, pictures[0]["picture_path"]) == data
    counters = stats(sandbox, "taobao_picture")
    assert (counters["requests"], counters["stored"]) == (2, 1)


def test_vv_empty_shop(client: httpx.Client) -> None:
    vv_put(client, jpeg(101))
    assert vv_pictures(vv_get(client, VV_SHOP_2)) == (0, [])


def test_vv_title_filter_takes_the_1_renames(client: httpx.Client) -> None:
    first = vv_put(client, jpeg(102), "杯子")
    second = vv_put(client, jpeg(103), "杯子")
    third = vv_put(client, jpeg(104), "杯子(1)")  # taken: becomes 杯子(2)
    vv_put(client, jpeg(105), "杯子 大")
    assert [first["title"], second["title"], third["title"]] == ["杯子", "杯子(1)", "杯子(2)"]
    total, pictures = vv_pictures(vv_get(client, title="杯子"))
    assert total == 3
    assert pictures == [first, second, third]
    assert [fetch(client, p["picture_path"]) for p in pictures] == [
        jpeg(102),
        jpeg(103),
        jpeg(104),
    ]
    assert vv_pictures(vv_get(client))[0] == 4


def test_vv_title_filter_with_the_default_title(client: httpx.Client) -> None:
    # No title: the upload takes the input title without its extension (杯子.jpg → 杯子).
    picture = vv_put(client, jpeg(106))
    assert vv_pictures(vv_get(client, title="杯子")) == (1, [picture])


def test_vv_title_filter_with_a_title_cut_to_50(client: httpx.Client) -> None:
    long_title = "杯" * 60
    first = vv_put(client, jpeg(109), long_title)
    second = vv_put(client, jpeg(110), long_title)
    assert [first["title"], second["title"]] == ["杯" * 50, "杯" * 50 + "(1)"]
    assert vv_pictures(vv_get(client, title=long_title)) == (2, [first, second])


def test_vv_category_filter(client: httpx.Client) -> None:
    default = vv_put(client, jpeg(107))
    other = vv_put(client, jpeg(108), picture_category_id=VV_CATEGORY)
    assert vv_pictures(vv_get(client, picture_category_id=VV_CATEGORY)) == (1, [other])
    assert vv_pictures(vv_get(client, picture_category_id="0")) == (1, [default])
    assert vv_pictures(vv_get(client))[0] == 2


def test_vv_paging_counts_every_match(client: httpx.Client) -> None:
    no_vv_limit(client)
    ids = [vv_put(client, jpeg(110 + n), "杯子")["picture_id"] for n in range(5)]
    pages = [vv_pictures(vv_get(client, title="杯子", page_no=n, page_size=2)) for n in (1, 2, 3)]
    assert [total for total, _ in pages] == [5, 5, 5]
    assert [[p["picture_id"] for p in pictures] for _, pictures in pages] == [
        sorted(ids)[0:2],
        sorted(ids)[2:4],
        sorted(ids)[4:],
    ]


def test_vv_default_page_is_40(client: httpx.Client) -> None:
    no_vv_limit(client)
    for n in range(41):
        vv_put(client, jpeg(120 + n), f"图{n}")
    total, pictures = vv_pictures(vv_get(client))
    assert (total, len(pictures)) == (41, 40)
    assert len(vv_pictures(vv_get(client, page_no=2))[1]) == 1
    assert len(vv_pictures(vv_get(client, page_size=100))[1]) == 41


@pytest.mark.parametrize(
    ("kw", "code", "http_status"),
    [
        pytest.param({"token": None}, 401, 401, id="no-token"),
        pytest.param({"token": "sbx-vv-token-bogus"}, 401, 401, id="bad-token"),
        pytest.param({"token": "sbx-vv-token-noperm"}, 204, 200, id="no-permission"),
        pytest.param({"token": "sbx-vv-token-nocredit"}, 204, 200, id="no-credit"),
        pytest.param({"shop_id": "sbx_tb_shop_nobody"}, 103, 200, id="unknown-shop"),
        pytest.param({"shop_id": "sbx_tb_shop_other"}, 302, 200, id="shop-not-authorized"),
        pytest.param({"shop_id": None}, 100, 200, id="no-shop"),
        pytest.param({"vvtype": None}, 203, 200, id="no-vvtype"),
        pytest.param({"picture_category_id": "123"}, 100, 200, id="unknown-category"),
        pytest.param({"page_size": 101}, 100, 200, id="page-size-over-100"),
        pytest.param({"page_no": 0}, 100, 200, id="page-no-0"),
    ],
)
def test_vv_lookup_is_refused_as_the_upload_would_be(
    client: httpx.Client, kw: dict[str, Any], code: int, http_status: int
) -> None:
    shop_id = kw.pop("shop_id", VV_SHOP)
    vv_refused(vv_get(client, shop_id, **kw), code, http_status)


def test_vv_lookups_share_the_10_per_second_budget_with_uploads(client: httpx.Client) -> None:
    for n in range(5):
        vv_put(client, jpeg(170 + n))
    for _ in range(5):
        vv_pictures(vv_get(client))
    assert vv_refused(vv_get(client), 429, 429) == {"code": 429, "msg": "请求过于频繁"}
    refused_upload = vv_upload(
        client, token=VV_TOKEN, shop_id=VV_SHOP, img=jpeg(180), filename="a.jpg"
    )
    vv_refused(refused_upload, 429, 429)
    time.sleep(1.1)
    assert vv_pictures(vv_get(client))[0] == 5


def test_vv_lookup_takes_injected_faults(client: httpx.Client, sandbox: Sandbox) -> None:
    sandbox.state.set_faults({"transient": 1.0, "platforms": ["taobao_picture"]})
    vv_refused(vv_get(client), 101)
    sandbox.state.set_faults({"http_500": 1.0, "platforms": ["taobao_picture"]})
    assert vv_get(client).status_code == 500


def test_vv_lookup_body_must_parse(client: httpx.Client) -> None:
    good = build_vv_lookup_request(client, token=VV_TOKEN, shop_id=VV_SHOP)
    headers = {k: v for k, v in good.headers.items() if k.lower() != "content-length"}
    broken = client.send(httpx.Request("POST", good.url, headers=headers, content=b"garbage"))
    assert "请求体无法解析" in vv_refused(broken, 100)["msg"]
