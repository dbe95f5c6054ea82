"""imgkit's own Qianmi adapter against the sandbox answering in its TOP-style error shape.

protocols.md: the Qianmi SDK also parses a TOP-style ``error_response``, and so the client
accepts both shapes.  The sandbox answers in that shape once
``POST /_sandbox/settings {"shapes": {"qianmi_sku": "top_error"}}`` is set; an error read by
:func:`imgkit.upload_one` over loopback HTTP must then come out as it does in the seed page's
shape: same category, code, sub-code and message.  Categories are platforms.md's (§4).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

import imgkit
from imgkit import Category, Sandbox
from imgkit.platforms.base import Outcome

ROOT = Path(__file__).resolve().parent.parent
MUG = ROOT / "sample_data" / "images" / "mug.jpg"
SHOP = "qianmi_shop"
SVC = "isv.qianmi-cloudshop-sku-image-upload-service-error:"


def set_shape(sandbox: Sandbox, shape: str | None) -> None:
    """Choose the Qianmi answer shape over HTTP (None: the seed page's)."""
    answer = httpx.post(
        sandbox.base_url + "/_sandbox/settings", json={"shapes": {"qianmi_sku": shape}}
    )
    assert answer.status_code == 200, answer.text


def wrong_secret(sandbox: Sandbox) -> Outcome:
    shops = {name: dict(shop) for name, shop in sandbox.shops.items()}
    shops[SHOP]["app_secret"] = "not-the-secret"
    return imgkit.upload_one(SHOP, MUG, "18353/g1234", shops=shops)


def expired_token(sandbox: Sandbox) -> Outcome:
    sandbox.state.expire(str(sandbox.shops[SHOP]["access_token"]))
    return imgkit.upload_one(SHOP, MUG, "18353/g1234", shops=sandbox.shops)


CASES: dict[str, tuple[Callable[[Sandbox], Outcome], Category, str, str, str]] = {
    # name: (send, category, code, sub_code, words the message must hold)
    "sku_not_found": (
        lambda sb: imgkit.upload_one(SHOP, MUG, "18353/g9999", shops=sb.shops),
        Category.NOT_FOUND,
        "9",
        SVC + "01030002",
        "sku不存在",
    ),
    "item_not_found": (
        lambda sb: imgkit.upload_one(SHOP, MUG, "99999/g1234", shops=sb.shops),
        Category.NOT_FOUND,
        "9",
        SVC + "01030001",
        "商品不存在",
    ),
    "invalid_signature": (wrong_secret, Category.AUTH, "25", "", "无效签名"),
    "expired_on_demand": (expired_token, Category.AUTH, "21", "", "无效的会话参数"),
    "sku_full": (
        lambda sb: imgkit.upload_one(SHOP, MUG, "18353/g1236", shops=sb.shops, position="1"),
        # platforms.md: "position out of range or images full → invalid_input / quota"; the
        # one sub-code says either, so the client cannot tell which.
        Category.INVALID_INPUT,
        "9",
        SVC + "01030043",
        "图片数量已满",
    ),
}


def facts(outcome: Outcome) -> tuple[object, ...]:
    """What the results show of a failure."""
    return (
        outcome.ok,
        outcome.category,
        outcome.code,
        outcome.sub_code,
        outcome.message,
        outcome.zh,
        outcome.en,
        outcome.retryable,
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_adapter_reads_the_top_error_shape_as_the_seed_shape(
    sandbox: Sandbox, name: str
) -> None:
    send, category, code, sub_code, words = CASES[name]
    seed = send(sandbox)
    sandbox.reset()
    set_shape(sandbox, "top_error")
    top = send(sandbox)
    assert not top.ok, top
    assert (top.category, top.code, top.sub_code) == (category, code, sub_code), top
    assert words in top.message, top
    assert facts(top) == facts(seed)
    assert "error_response" in top.raw, top.raw  # it did read the TOP-style answer
    assert "errorToken" in seed.raw, seed.raw


def test_the_results_keep_the_top_style_answer(sandbox: Sandbox) -> None:
    set_shape(sandbox, "top_error")
    out = imgkit.upload_one(SHOP, MUG, "18353/g9999", shops=sandbox.shops)
    assert out.raw == {
        "error_response": {
            "code": "9",
            "msg": "业务逻辑出错",
            "sub_code": SVC + "01030002",
            "sub_msg": "sku不存在",
        }
    }, out.raw
