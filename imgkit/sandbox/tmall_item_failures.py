"""``taobao.item.img.upload.tmall``'s documented error answers (``tmall_item``), as data.

The official page's list (code 15, or 40/41 with these sub-codes); the TOP gateway's own are
in :mod:`imgkit.sandbox.top`.  :mod:`imgkit.sandbox.tmall_item` raises from this
catalogue; ``docs/sandbox-errors.md`` is generated from it.

Example
-------
>>> API_FAILURES["image_num"].sub_msg
'商品图片不能超过5张'
"""

from __future__ import annotations

from imgkit.sandbox.failures import Failure, catalogue

_SVC = "isv.item-image-upload-service-error:"


def _e(key: str, sub_code: str, sub_msg: str, trigger: str, code: int = 15) -> Failure:
    msg = "Remote service error" if code == 15 else "Invalid Arguments"
    return Failure(key, code, msg, sub_code=sub_code, sub_msg=sub_msg, trigger=trigger)


API_FAILURES = catalogue(
    Failure(
        "missing_image",
        40,
        "Missing Required Arguments",
        sub_code="isv.missing-parameter:image",
        sub_msg="缺少必要的参数:image",
        trigger="no `image` part and no `id` to update",
    ),
    Failure(
        "missing_num_iid",
        40,
        "Missing Required Arguments",
        sub_code="isv.missing-parameter:iid-or-numIid",
        sub_msg="参数:num_iid没有传入",
        trigger="no `num_iid`",
    ),
    _e(
        "rectangle_ratio",
        "isv.invalid-parameter:is_rectangle",
        "3:4主图的宽高比必须为3:4",
        "`is_rectangle=true` with an image that is not 3:4",
        code=41,
    ),
    Failure(
        "position_conflict",
        41,
        "Invalid Arguments",
        sub_code="isv.invalid-parameter:position",
        sub_msg="非法参数:position",
        trigger="a `position` another image of the item holds, `position=0` for an image that "
        "is not the main image, `is_major=true` (or `id=0`) with a position other than 0, or "
        "any `position` with `is_rectangle=true` (the 3:4 image has none)",
        source="choice",
    ),
    _e(
        "image_not_exist",
        "isv.image-not-exist:invalid-image-id",
        "image 不存在",
        "an `id` that is not an image of that item (`id=0` on an item without a main "
        "image; the 3:4 image's id without `is_rectangle=true`, or another id with it)",
    ),
    _e(
        "check_failed",
        _SVC + "IC_IMAGE_CHECK_IMAGE_IS_UNSUCCESSFUL",
        "检查图片失败",
        "an `image` that is not an image (text, random bytes) or is corrupt/truncated",
    ),
    _e(
        "image_num",
        "isv.invalid-permission:image-num",
        "商品图片不能超过5张",
        "a new image that is not the main one when positions 1–4 are all taken (item "
        "1489161933 already has 5 images)",
    ),
    _e(
        "type_unsupported",
        _SVC + "IC_IMAGE_TYPE_IS_UNSUPPORTED",
        "不支持该图片类型",
        "an image in a format other than jpg/png/gif (WEBP, BMP, TIFF…)",
    ),
    _e(
        "update_item_permission",
        "isv.invalid-permission:update-item",
        "操作 update-item 权限不够、非法访问",
        "item 1489161935 (an adult-category item)",
    ),
    _e(
        "user_not_exist",
        "isv.user-not-exist:invalid-nick",
        "user 不存在",
        "session `sbx-session-ghost` (its seller no longer exists), uploading or looking up",
    ),
    _e(
        "too_large",
        _SVC + "IC_ITEM_PIC_IS_TOO_LARGES",
        "商品图片太大",
        "an `image` over 3145728 bytes",
    ),
    _e(
        "picture_space_permission",
        "isv.invalid-permission:picture-space",
        "操作 picture-space 权限不够、非法访问",
        "session `sbx-session-single-pic` adding a non-main image (seller without multi-image "
        "service)",
    ),
    _e(
        "item_deleted",
        "isv.item-is-delete:invalid-numIid-or-iid",
        "根据num_iid或iid查询到的商品一经被删除",
        "item 1489161934 (deleted)",
    ),
    _e(
        "item_get_not_found",
        "isv.item-get-service-error:ITEM_NOT_FOUND",
        "没有找到宝贝",
        "a `num_iid` the sandbox does not know; for the look-up `taobao.item.seller.get` "
        "also an item of another seller",
    ),
    _e(
        "picture_service_error",
        "isv.picture-service-error",
        "上传图片到图片空间报错",
        "forced error `picture_service_error`",
    ),
    _e(
        "pic_num_overflow",
        _SVC + "IC_ITEM_PIC_NUM_OVERFLOW",
        "宝贝图片数量超过限制",
        "a `position` outside 0–4",
    ),
    _e(
        "needs_deposit",
        _SVC + "IC_STUFF_STATUS_NEW_LIMITED_WITH_NOPREPAY",
        "该类目下发布、编辑和上架全新宝贝需要冻结消费者保障服务保证金",
        "item 1489161937",
    ),
    _e(
        "not_a_shop",
        _SVC + "IC_STUFF_STATUS_NEW_LIMITED_WITH_NOSHOP",
        "发布、编辑和上架全新宝贝必须是店铺卖家",
        "item 1489161938",
    ),
    _e(
        "alcohol",
        _SVC + "ERROR_ALCOHOL_PERMISSION_INVALID",
        "没有发布酒类宝贝的权限",
        "item 1489161936 (an alcohol item)",
    ),
    _e(
        "item_not_found",
        _SVC + "ITEM_NOT_FOUND",
        "没有找到宝贝",
        "an item of another seller (e.g. 1489162001 with session `sbx-session-tmall-1`)",
    ),
    _e(
        "icdb_qps",
        _SVC + "ICDB_QPS_LIMIT",
        "系统繁忙,请稍后重试",
        "more than `tmall_seller_qps` uploads per second for one seller (set it with "
        "`POST /_sandbox/limits`)",
    ),
    _e(
        "user_info_error",
        _SVC + "QUERY_USER_INFO_ERROR",
        "系统错误,获取用户数据失败",
        "item 1489161939",
    ),
)
