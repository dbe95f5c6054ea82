"""Tmall item images through TOP ``taobao.item.img.upload.tmall`` (``tmall_item``).

``POST {base}/router/rest`` with the TOP system parameters in the query string (see
:mod:`imgkit.platforms.top`) and ``num_iid`` (the target), ``id``, ``position``,
``is_major``, ``is_rectangle`` and the file part ``image`` in a multipart body.  With
``replace_id`` the image of that id is replaced (the main image's id is 0); an item holds
at most 5 images, at positions 0–4.  Success is
``item_img_upload_tmall_response.item_img {id, url, created}``.

An unanswered upload is settled by the look-up ``taobao.item.seller.get`` (named by the
seed page, ``docs/lookups.md``): every image of the item, ``item_imgs.item_img``.  A 3:4
image (``is_rectangle``) is not listed there, so such a job has no look-up.

Example
-------
>>> adapter = TmallItemAdapter()
>>> adapter.limits.max_bytes, sorted(adapter.limits.formats), adapter.limits.positions
(3145728, ['gif', 'jpeg', 'png'], range(0, 5))
>>> adapter.api_params(Job(target="1489161932", filename="a.jpg",
...                        options={"replace_id": "0", "is_major": "是"}))
{'num_iid': '1489161932', 'id': '0', 'is_major': 'true'}
>>> adapter.lookup_params(Job(target="1489161932", filename="a.jpg"))
{'num_iid': '1489161932', 'fields': 'num_iid,item_img'}
"""

from __future__ import annotations

from typing import Any

from imgkit.errors import Category
from imgkit.platforms.base import (
    LOOKUP_SETTLES,
    CodeRule,
    CodeTable,
    Job,
    Limits,
    Lookup,
    OptionSpec,
    Outcome,
    PixelRule,
    PlatformDeclaration,
    bool_text,
    candidates_of,
    listed,
    text,
)
from imgkit.platforms.top import GATEWAY_CODES, TopAdapter

METHOD = "taobao.item.img.upload.tmall"
LOOKUP_METHOD = "taobao.item.seller.get"
# item_imgs is in the answer only when fields names item_img (docs/lookups.md).
LOOKUP_FIELDS = "num_iid,item_img"
_SERVICE = "isv.item-image-upload-service-error:"


def _rule(category: Category, retryable: bool, zh: str, en: str) -> CodeRule:
    return CodeRule(category, retryable, zh, en)


# The seed page's error list (code 15, or 40/41 with these sub-codes), then the gateway's.
CODES = CodeTable(
    {
        "isv.missing-parameter:image": _rule(
            Category.INVALID_INPUT, False, "缺少图片(新增图片时必须上传)", "missing image"
        ),
        "isv.missing-parameter:iid-or-numIid": _rule(
            Category.INVALID_INPUT, False, "缺少商品ID num_iid", "missing num_iid"
        ),
        "isv.invalid-parameter:is_rectangle": _rule(
            Category.BAD_DIMENSIONS, False, "3:4主图的宽高比必须为3:4", "is_rectangle needs 3:4"
        ),
        "isv.image-not-exist:invalid-image-id": _rule(
            Category.NOT_FOUND, False, "要替换的图片不存在", "no image with that id on the item"
        ),
        "isv.invalid-permission:image-num": _rule(
            # The item is full: a fact about this row's target, never the shop's quota
            # (a quota failure stops every row of the shop; other items still have room).
            Category.INVALID_INPUT,
            False,
            "商品图片不能超过5张:请先删除一张,或用 replace_id 替换",
            "the item already has 5 images: delete one first, or replace one by replace_id",
        ),
        "isv.invalid-permission:update-item": _rule(
            Category.PERMISSION, False, "无权修改该商品(如成人类目)", "not allowed to update item"
        ),
        "isv.invalid-permission:picture-space": _rule(
            Category.PERMISSION,
            False,
            "非多图用户不能上传商品多图",
            "the seller has no multi-image service",
        ),
        "isv.user-not-exist:invalid-nick": _rule(
            Category.AUTH, False, "授权用户不存在", "the session's user does not exist"
        ),
        "isv.item-is-delete:*": _rule(
            Category.NOT_FOUND, False, "商品已被删除,不要重试", "the item was deleted"
        ),
        "isv.item-get-service-error:ITEM_NOT_FOUND": _rule(
            Category.NOT_FOUND, False, "没有找到宝贝,不要重试", "item not found"
        ),
        "isv.picture-service-error": _rule(
            Category.TRANSIENT, True, "上传图片到图片空间报错", "picture space error"
        ),
        _SERVICE + "ITEM_NOT_FOUND": _rule(
            Category.NOT_FOUND, False, "没有找到宝贝,不要重试", "item not found"
        ),
        _SERVICE + "IC_ITEM_PIC_IS_TOO_LARGES": _rule(
            Category.TOO_LARGE, False, "商品图片太大(不能超过3M)", "image over 3 MB"
        ),
        _SERVICE + "IC_IMAGE_TYPE_IS_UNSUPPORTED": _rule(
            Category.BAD_FORMAT, False, "不支持该图片类型", "unsupported image type"
        ),
        _SERVICE + "IC_IMAGE_CHECK_IMAGE_IS_UNSUCCESSFUL": _rule(
            Category.BAD_FORMAT, False, "检查图片失败(不是有效图片)", "not a valid image"
        ),
        _SERVICE + "IC_ITEM_PIC_NUM_OVERFLOW": _rule(
            Category.INVALID_INPUT, False, "宝贝图片数量超过限制", "too many images on the item"
        ),
        _SERVICE + "IC_STUFF_STATUS_NEW_LIMITED_WITH_NOPREPAY": _rule(
            Category.PERMISSION,
            False,
            "该类目需要冻结消费者保障服务保证金",
            "this category needs a consumer-protection deposit",
        ),
        _SERVICE + "IC_STUFF_STATUS_NEW_LIMITED_WITH_NOSHOP": _rule(
            Category.PERMISSION, False, "必须是店铺卖家", "only shop sellers may do this"
        ),
        _SERVICE + "ERROR_ALCOHOL_PERMISSION_INVALID": _rule(
            Category.PERMISSION, False, "没有发布酒类宝贝的权限", "no permission for alcohol"
        ),
        _SERVICE + "ICDB_QPS_LIMIT": _rule(
            Category.RATE_LIMITED, True, "系统繁忙,请稍后重试", "item database busy; retry"
        ),
        _SERVICE + "QUERY_USER_INFO_ERROR": _rule(
            Category.TRANSIENT, True, "系统错误,获取用户数据失败", "could not read user data"
        ),
        **GATEWAY_CODES,
    }
)

_MISSING_IMAGES = CodeRule(
    Category.UNKNOWN, False, "平台返回的商品信息没有图片列表", "an item without its item_imgs list"
)


class TmallItemAdapter(TopAdapter):
    """Tmall item images (add, or replace by id).

    >>> TmallItemAdapter().retry_safe(Job(target="1", filename="a.jpg",
    ...                                   options={"replace_id": "0"}))
    True
    """

    declaration = PlatformDeclaration(
        "tmall_item",
        # Names analysts write in the platform column (case, spaces, dashes ignored).
        aliases=("天猫商品图", "天猫", "天猫商品", "tmall"),
        lookup=True,
        replace=True,
    )
    title = "Tmall item images (TOP taobao.item.img.upload.tmall)"
    method = METHOD
    file_part = "image"
    limits = Limits(
        max_bytes=3145728,
        formats=frozenset({"jpeg", "png", "gif"}),
        positions=range(0, 5),
        # The page: the main image's id is 0, and is_major (default false) makes it; a 3:4
        # image (is_rectangle) is an image of its own, outside the five positions.
        main_position=0,
        main_flag="is_major",
        unplaced_flag="is_rectangle",
        images_per_target=5,
        pixel_rules=(
            PixelRule(
                when=("is_rectangle", "true"),
                ratio=(3, 4),
                zh="3:4主图的宽高比必须为3:4",
                en="is_rectangle images must be 3:4 (width:height)",
            ),
        ),
        rate_per_s=None,
    )
    target_meaning = "the seller's item id (`num_iid`)"
    options = (
        OptionSpec(
            "replace_id",
            "item image id to replace (`id`); the main image's id is 0",
            kind="int",
        ),
        OptionSpec("position", "image position, 0–4 (`position`)", kind="int"),
        OptionSpec("is_major", "make it the main image (`is_major`)", kind="bool"),
        OptionSpec("is_rectangle", "a 3:4 main image (`is_rectangle`)", kind="bool"),
    )
    codes = CODES
    lookup_method = LOOKUP_METHOD
    unanswered_policy = (
        "an unanswered upload is settled by a look-up (`taobao.item.seller.get`: the item's "
        f"images): {LOOKUP_SETTLES}; see docs/lookups.md. A 3:4 image (`is_rectangle`) is "
        "not listed by that call, so such a row is reported `failed` / `timeout` (it may "
        "have been stored) and not sent again. A row that replaces by id (`replace_id`) is "
        "simply re-sent, which is idempotent"
    )

    def api_params(self, job: Job) -> dict[str, str]:
        """``num_iid`` and whichever of ``id``, ``position``, ``is_major``, ``is_rectangle``."""
        params = {"num_iid": job.target}
        if job.option("replace_id"):
            params["id"] = job.option("replace_id")
        if job.option("position"):
            params["position"] = job.option("position")
        for name in ("is_major", "is_rectangle"):
            if job.option(name):
                params[name] = bool_text(job.option(name))
        return params

    def lookup_params(self, job: Job) -> dict[str, str] | None:
        """The item's images (``num_iid``); None for a 3:4 image, which the call never lists.

        >>> TmallItemAdapter().lookup_params(Job("1", "a.jpg", options={"is_rectangle": "是"}))
        """
        if bool_text(job.option("is_rectangle")) == "true":
            # "No match" would wrongly prove it was not stored, and a re-send could store
            # a second copy: without a look-up the engine reports the row instead.
            return None
        return {"num_iid": job.target, "fields": LOOKUP_FIELDS}

    def parse_listing(self, root: dict[str, Any], body: dict[str, Any]) -> Lookup | Outcome:
        """``item.item_imgs.item_img``: the whole item (no paging; the main image is id 0).

        >>> found = TmallItemAdapter().parse_listing({"item": {"num_iid": 1, "item_imgs": {
        ...     "item_img": [{"id": 0, "url": "http://i/0.jpg", "position": 0}]}}}, {})
        >>> found.complete, found.candidates[0].image_id
        (True, '0')
        """
        item = root.get("item")
        images = listed(item.get("item_imgs") if isinstance(item, dict) else None, "item_img")
        if images is None:
            # Asked with fields=item_img, an item always lists them ([] when it has none):
            # an answer without the list cannot say "nothing was stored".
            return Outcome.failure(
                _MISSING_IMAGES,
                code="no_item_imgs",
                message="success without item.item_imgs.item_img",
                raw=body,
            )
        found, readable = candidates_of(images, id_key="id", url_key="url")
        return Lookup(found, complete=readable)

    def parse_success(self, root: dict[str, Any], body: dict[str, Any]) -> Outcome:
        """``item_img`` with a url is success; its ``id`` may be 0 (the main image)."""
        image = root.get("item_img")
        if isinstance(image, dict) and text(image.get("url")):
            return Outcome(
                ok=True, url=text(image["url"]), image_id=text(image.get("id")), raw=image
            )
        image_id = text(image.get("id")) if isinstance(image, dict) else ""
        return self.details_missing("success without item_img.url", body, image_id)
