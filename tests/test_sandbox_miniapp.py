"""Sandbox: ``taobao.miniapp.trade.picture.upload`` (``taobao_miniapp``) over loopback HTTP.

Requests are built only with ``spec_clients``; the rules checked are those of the seed page
and ``docs/protocols.md`` (TOP, mini-app): gateway problems (and a missing
``bytes``) come as ``error_response``, content problems as ``result.success = false``.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime
from typing import Any

import httpx
import pytest
from spec_clients import GMT8, epoch_ms_now, make_bmp, make_gif, make_jpeg, make_png, make_webp
from top_support import (
    APP_B,
    JPEG,
    MAX_BYTES,
    MINIAPP_API,
    MINIAPP_ID,
    MINIAPP_ID_2,
    MINIAPP_ROOT,
    SECRET_B,
    STAMP,
    TEXT,
    TMALL,
    TMALL_SESSION,
    TMALL_SESSION_B,
    Recipe,
    call,
    check_refusal,
    envelope,
    error_of,
    fetch,
    fullwidth,
    gateway_recipes,
    jpeg_of_size,
    model_of,
    result_of,
    truncated_jpeg,
)

from imgkit.sandbox import Sandbox, default_world, taobao_miniapp
from imgkit.sandbox.world import TopApp

PLATFORM = "taobao_miniapp"
MODEL_FIELDS = {"pic_id", "path", "title", "sizes", "pixel", "status", "deleted", "created"}


def upload(client: httpx.Client, image: bytes | None = JPEG, **kw: Any) -> httpx.Response:
    """A mini-app upload to ``MINIAPP_ID``; ``file_name`` given as a keyword is the title."""
    params = dict(kw.pop("params", {}))
    if "file_name" in kw:
        params["file_name"] = kw.pop("file_name")
    return call(client, MINIAPP_API, image, params=params, **kw)


def title_of(client: httpx.Client, file_name: str, image: bytes | None = None, **kw: Any) -> str:
    """Upload (distinct bytes each time unless given) and return the title given."""
    data = image if image is not None else make_jpeg(color=(len(file_name) % 256, 0, 0))
    return str(model_of(upload(client, data, file_name=file_name, **kw))["title"])


def content_refused(response: httpx.Response) -> int:
    """Assert a content refusal inside the normal envelope; return its ``err_code``."""
    result = result_of(response)
    assert result["success"] is False, result
    assert isinstance(result["err_code"], int), result
    assert isinstance(result["err_message"], str), result
    assert result["err_message"]
    return int(result["err_code"])


def stats(sandbox: Sandbox) -> dict[str, Any]:
    out: dict[str, Any] = sandbox.stats()[PLATFORM]
    return out


# --- success ----------------------------------------------------------------------------------


@pytest.mark.parametrize("stamp", ["gmt8", "epoch_ms"])
@pytest.mark.parametrize("sign_method", ["md5", "hmac", "hmac-sha256"])
@pytest.mark.parametrize("style", ["sdk", "multipart"])
def test_upload_succeeds_and_serves_the_bytes(
    client: httpx.Client, sandbox: Sandbox, style: str, sign_method: str, stamp: str
) -> None:
    data = make_png(120, 90, color=(10, 20, 30))
    before = time.time()
    response = upload(
        client,
        data,
        filename="红色杯子 正面图.png",
        file_name="红色杯子 正面图",
        style=style,
        sign_method=sign_method,
        timestamp=epoch_ms_now() if stamp == "epoch_ms" else None,
    )
    after = time.time()
    body = envelope(response, MINIAPP_ROOT)
    assert set(body) == {"result", "request_id"}
    result = body["result"]
    assert result["success"] is True, result
    model = result["model"]
    assert set(model) >= MODEL_FIELDS, model
    assert isinstance(model["pic_id"], int)
    assert model["pic_id"] > 0
    assert model["title"] == "红色杯子 正面图"
    assert model["sizes"] == len(data)
    assert model["pixel"] == "90x120"  # the page: 长x宽, height first (see the vv-tool page)
    assert model["status"] in {"unfroze", "froze", "pass"}
    assert model["deleted"] == "deleted"  # the page's example value
    for name in ("created", "modified"):
        assert STAMP.fullmatch(model[name]), model
        stamp_at = datetime.strptime(model[name], "%Y-%m-%d %H:%M:%S").replace(tzinfo=GMT8)
        # Printed while the request was served, to the whole second: however slow it was.
        assert int(before) <= stamp_at.timestamp() <= after
    served = fetch(client, model["path"])  # an absolute URL, as the seed page shows
    assert served.content == data
    assert served.headers["content-type"] == "image/png"
    counters = stats(sandbox)
    assert (counters["stored"], counters["duplicates"], counters["rejections"]) == (1, 0, {})


def test_other_mini_app_of_the_same_app(client: httpx.Client) -> None:
    model = model_of(upload(client, params={"miniapp_id": MINIAPP_ID_2}))
    assert model["pic_id"] > 0


def test_identical_retry_is_a_duplicate_with_a_new_title(
    client: httpx.Client, sandbox: Sandbox
) -> None:
    first = model_of(upload(client, JPEG, file_name="杯子"))
    second = model_of(upload(client, JPEG, file_name="杯子"))
    assert first["pic_id"] != second["pic_id"]
    assert (first["title"], second["title"]) == ("杯子", "杯子(1)")
    assert stats(sandbox)["duplicates"] == 1


# --- titles -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "file_name",
    ["x" * 60, "红" * 60, "a" * 49 + "红色杯子", "x" * 50],
    ids=["ascii-60", "chinese-60", "mixed", "exactly-50"],
)
def test_titles_are_cut_to_50_characters(client: httpx.Client, file_name: str) -> None:
    assert title_of(client, file_name) == file_name[:50]


def test_duplicate_titles_get_a_counter(client: httpx.Client) -> None:
    titles = [title_of(client, "mug", make_jpeg(color=(n, 9, 9))) for n in range(3)]
    assert titles == ["mug", "mug(1)", "mug(2)"]


def test_existing_counter_is_incremented(client: httpx.Client) -> None:
    assert title_of(client, "杯子(3)", make_jpeg(color=(1, 0, 0))) == "杯子(3)"
    assert title_of(client, "杯子(3)", make_jpeg(color=(2, 0, 0))) == "杯子(4)"
    assert title_of(client, "杯子(3)", make_jpeg(color=(3, 0, 0))) == "杯子(5)"


def test_duplicate_of_a_cut_title(client: httpx.Client) -> None:
    long = "y" * 70
    assert title_of(client, long, make_jpeg(color=(1, 0, 0))) == "y" * 50
    assert title_of(client, long, make_jpeg(color=(2, 0, 0))) == "y" * 50 + "(1)"


def test_titles_are_unique_per_seller_picture_space(client: httpx.Client) -> None:
    assert title_of(client, "mug", make_jpeg(color=(1, 0, 0))) == "mug"
    # Another mini-app of the same seller shares the seller's picture space.
    other_app = {"params": {"miniapp_id": MINIAPP_ID_2}}
    assert title_of(client, "mug", make_jpeg(color=(2, 0, 0)), **other_app) == "mug(1)"
    # Another seller (same app) has its own picture space.
    assert title_of(client, "mug", make_jpeg(color=(3, 0, 0)), session=TMALL_SESSION) == "mug"


# --- replacement by pic_id --------------------------------------------------------------------


def test_replace_by_pic_id_keeps_id_and_path_and_is_no_duplicate(
    client: httpx.Client, sandbox: Sandbox
) -> None:
    old, new = make_jpeg(color=(200, 0, 0)), make_gif(color=(0, 0, 200))
    first = model_of(upload(client, old, file_name="主图"))
    for _ in range(2):  # the retry of a replace is idempotent
        again = model_of(upload(client, new, file_name="主图", params={"pic_id": first["pic_id"]}))
        assert again["pic_id"] == first["pic_id"]
        assert again["path"] == first["path"]
        assert again["title"] == "主图"
        assert again["created"] == first["created"]
        assert again["sizes"] == len(new)
        assert fetch(client, first["path"]).content == new
    counters = stats(sandbox)
    assert (counters["stored"], counters["replaced"], counters["duplicates"]) == (1, 2, 0)


def test_replace_renamed_to_a_taken_title_gets_a_counter(client: httpx.Client) -> None:
    assert title_of(client, "杯子", make_jpeg(color=(1, 0, 0))) == "杯子"
    other = model_of(upload(client, make_jpeg(color=(2, 0, 0)), file_name="碗"))
    renamed = upload(
        client, make_jpeg(color=(3, 0, 0)), file_name="杯子", params={"pic_id": other["pic_id"]}
    )
    assert model_of(renamed)["title"] == "杯子(1)"
    # The old title is free again.
    assert title_of(client, "碗", make_jpeg(color=(4, 0, 0))) == "碗"


def test_replace_with_identical_bytes_is_no_duplicate(
    client: httpx.Client, sandbox: Sandbox
) -> None:
    first = model_of(upload(client, JPEG))
    again = model_of(upload(client, JPEG, params={"pic_id": first["pic_id"]}))
    assert again["pic_id"] == first["pic_id"]
    assert stats(sandbox)["duplicates"] == 0


@pytest.mark.parametrize("pic_id", ["0", "-1"])
def test_pic_id_not_above_0_uploads_a_new_picture(client: httpx.Client, pic_id: str) -> None:
    first = model_of(upload(client, make_jpeg(color=(1, 2, 3))))
    second = model_of(upload(client, make_jpeg(color=(3, 2, 1)), params={"pic_id": pic_id}))
    assert second["pic_id"] not in (first["pic_id"], int(pic_id))


def test_unknown_pic_id_is_a_content_refusal(client: httpx.Client, sandbox: Sandbox) -> None:
    code = content_refused(upload(client, params={"pic_id": "987654321"}))
    assert code == taobao_miniapp.PLATFORM.failures["picture_not_found"].code
    assert stats(sandbox)["stored"] == 0


def test_pic_id_of_another_seller_is_refused(client: httpx.Client) -> None:
    theirs = model_of(upload(client, session=TMALL_SESSION))
    refused = upload(client, make_png(), params={"pic_id": theirs["pic_id"]})
    assert content_refused(refused) == taobao_miniapp.PLATFORM.failures["picture_not_found"].code
    assert fetch(client, theirs["path"]).content == JPEG


# --- content rules ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "filename", "content_type"),
    [
        (make_png(), "photo.jpg", "image/png"),
        (make_gif(), "photo.jpg", "image/gif"),
        (make_jpeg(), "photo.gif", "image/jpeg"),
    ],
    ids=["png-named-jpg", "gif-named-jpg", "jpeg-named-gif"],
)
def test_format_is_judged_by_content(
    client: httpx.Client, data: bytes, filename: str, content_type: str
) -> None:
    served = fetch(client, model_of(upload(client, data, filename=filename))["path"])
    assert served.content == data
    assert served.headers["content-type"] == content_type


@pytest.mark.parametrize(
    ("data", "key"),
    [
        (TEXT, "not_image"),
        (truncated_jpeg(), "not_image"),
        (make_webp(), "bad_format"),
        (make_bmp(), "bad_format"),
    ],
    ids=["text-named-jpg", "truncated-jpeg", "webp-named-jpg", "bmp-named-jpg"],
)
def test_bad_content_is_refused(
    client: httpx.Client, sandbox: Sandbox, data: bytes, key: str
) -> None:
    code = content_refused(upload(client, data, filename="photo.jpg"))
    assert code == taobao_miniapp.PLATFORM.failures[key].code
    assert stats(sandbox)["stored"] == 0


def test_exactly_3mb_is_accepted(client: httpx.Client) -> None:
    data = jpeg_of_size(MAX_BYTES)
    model = model_of(upload(client, data))
    assert model["sizes"] == 3 * 1024 * 1024
    assert fetch(client, model["path"]).content == data


def test_one_byte_over_3mb_is_refused(client: httpx.Client) -> None:
    code = content_refused(upload(client, jpeg_of_size(MAX_BYTES + 1)))
    assert code == taobao_miniapp.PLATFORM.failures["too_large"].code


@pytest.mark.parametrize("name", ["miniapp_id", "file_name"])
def test_missing_required_text_parameters(client: httpx.Client, name: str) -> None:
    error = error_of(upload(client, params={name: None}), 40)
    assert error["sub_code"] == f"isv.missing-parameter:{name}"


def test_missing_bytes_is_a_gateway_error(client: httpx.Client) -> None:
    error = error_of(upload(client, None), 40)
    assert error["sub_code"] == "isv.missing-parameter:bytes"


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"miniapp_id": "mini"}, "miniapp_id"),
        ({"pic_id": "abc"}, "pic_id"),
        ({"pic_id": "--5"}, "pic_id"),
        ({"pic_id": "²"}, "pic_id"),
        ({"miniapp_id": fullwidth(MINIAPP_ID)}, "miniapp_id"),
    ],
)
def test_parameters_of_the_wrong_type_are_refused(
    client: httpx.Client, params: dict[str, str], name: str
) -> None:
    error = error_of(upload(client, params=params), 41)
    assert error["sub_code"] == f"isv.invalid-parameter:{name}"


def test_mini_app_of_another_app_is_refused(client: httpx.Client) -> None:
    response = upload(client, app_key=APP_B, secret=SECRET_B, session=TMALL_SESSION_B)
    code = content_refused(response)
    assert code == taobao_miniapp.PLATFORM.failures["miniapp_not_found"].code


def test_api_permission_applies_to_the_mini_app_method_too() -> None:
    """No seeded app lacks the mini-app API, so a world with one shows the check (11)."""
    world = default_world()
    apps = {**world.top_apps, "21000003": TopApp("sbx-top-secret-noapi", frozenset({TMALL}))}
    with Sandbox(world=dataclasses.replace(world, top_apps=apps)) as box, box.client() as http:
        response = call(
            http,
            MINIAPP_API,
            app_key="21000003",
            secret="sbx-top-secret-noapi",
            session="sbx-session-noapi",
        )
        assert error_of(response, 11)
        assert box.stats()[PLATFORM]["rejections"] == {
            "11 isv.permission-api-package-not-allowed": 1
        }


# --- every catalogue entry ---------------------------------------------------------------------


def _content(**kw: Any) -> Recipe:
    """A recipe for a content refusal: ``result.success = false`` with a numeric err_code."""
    return Recipe(lambda client, sandbox: upload(client, **kw), None, result=True)


RECIPES: dict[str, Recipe] = {
    **gateway_recipes(MINIAPP_API),
    "miniapp_not_found": _content(params={"miniapp_id": "3000000099999"}),
    "too_large": _content(image=jpeg_of_size(MAX_BYTES + 1)),
    "bad_format": _content(image=make_webp(), filename="photo.jpg"),
    "not_image": _content(image=TEXT, filename="photo.jpg"),
    "picture_not_found": _content(params={"pic_id": "987654321"}),
}


@pytest.mark.parametrize("key", sorted(taobao_miniapp.PLATFORM.failures))
def test_every_catalogue_entry_is_reached(client: httpx.Client, sandbox: Sandbox, key: str) -> None:
    recipe = RECIPES.get(key)
    if recipe is None:
        pytest.fail(f"no recipe for taobao_miniapp catalogue entry {key!r}: add one to RECIPES")
    failure = taobao_miniapp.PLATFORM.failures[key]
    check_refusal(recipe.send(client, sandbox), recipe, failure, sandbox, PLATFORM)


def test_recipes_name_only_catalogue_entries() -> None:
    assert set(RECIPES) <= set(taobao_miniapp.PLATFORM.failures)


def test_content_err_codes_are_distinct_numbers() -> None:
    results = [f for f in taobao_miniapp.PLATFORM.failures.values() if f.level == "result"]
    codes = [f.code for f in results]
    assert all(isinstance(c, int) for c in codes)
    assert len(codes) == len(set(codes))


def test_stats_labels_tell_entries_apart() -> None:
    labels = [f.label for f in taobao_miniapp.PLATFORM.failures.values()]
    assert len(labels) == len(set(labels))
