"""The Qianmi open platform's documented error answers (``qianmi_sku``), as data.

ROP main codes with the official page's ``solution`` text, and the SKU service's sub-codes
(under main code 9, a sandbox convention).  :mod:`imgkit.sandbox.qianmi_sku` raises from
this catalogue; ``docs/sandbox-errors.md`` is generated from it.

Example
-------
>>> FAILURES["sku_not_found"].advice
'检查系统中是否存在该sku'
"""

from __future__ import annotations

from imgkit.sandbox.failures import Failure, catalogue

_SVC = "isv.qianmi-cloudshop-sku-image-upload-service-error:"


def _m(
    key: str,
    code: str,
    message: str,
    solution: str,
    trigger: str,
    sub_code: str = "",
    sub_msg: str = "",
) -> Failure:
    return Failure(
        key, code, message, sub_code=sub_code, sub_msg=sub_msg, trigger=trigger, advice=solution
    )


def _s(key: str, number: str, message: str, trigger: str) -> Failure:
    return Failure(
        key,
        "9",
        "业务逻辑出错",
        sub_code=_SVC + number,
        sub_msg=message,
        trigger=trigger,
        advice=_SEED_SOLUTIONS.get(number, "请查看根据服务接口对参数格式的要求"),
    )


# The seed page's 解决方案 column, verbatim (its "9" and "10" predate the 0–4 / 5 limits).
_SEED_SOLUTIONS = {
    "01030001": "检查系统中是否存在该商品",
    "01030028": "检查图片大小与格式是否正确",
    "01030029": "检查图片大小是否超过1M",
    "01030042": "检查图片格式是否正确",
    "01030053": "检查所上传图片格式是否正确",
    "01030002": "检查系统中是否存在该sku",
    "01030043": "检查入参的图片顺序是否大于9;检查商品的图片数量是否已经等于10张。",
    "01030044": "检查该商品下是否存在该图片",
    "01030038": "新增图片时,检查参数中是否有图片文件",
}


FAILURES = catalogue(
    _m(
        "service_unavailable",
        "1",
        "服务不可用",
        "请稍后重试",
        "fault `transient`",
        "isp.service-unavailable",
        "服务暂时不可用",
    ),
    _m(
        "isv_permission",
        "2",
        "开发者权限不足",
        "请申请该API的调用权限",
        "app key 10009002 (token `sbx-qm-token-noperm`)",
    ),
    _m(
        "user_permission", "3", "用户权限不足", "请让用户授权该API", "token `sbx-qm-token-userperm`"
    ),
    _m("upload_fail", "4", "上传文件失败", "请稍后重试", "forced error `upload_fail`"),
    Failure(
        "method_not_allowed",
        "5",
        "HTTP方法被禁止",
        trigger="any HTTP method but POST (GET, PUT, DELETE…) on `/api`",
        advice="请使用POST请求",
        source="choice",
    ),
    _m(
        "forbidden",
        "7",
        "禁止访问",
        "请联系千米开放平台",
        "app key 10009003 (token `sbx-qm-token-forbidden`)",
    ),
    _m("missing_session", "20", "缺少会话参数", "请传入access_token", "no `access_token`"),
    _m(
        "invalid_session",
        "21",
        "无效的会话参数",
        "请重新获取access_token",
        "an unknown `access_token`, one of another app, `sbx-qm-token-expired`, or a token "
        "expired on demand (`POST /_sandbox/expire`)",
    ),
    _m("missing_app_key", "22", "缺少appKey参数", "请传入appKey", "no `appKey`"),
    _m("invalid_app_key", "23", "无效的appKey参数", "请检查appKey", "an unknown `appKey`"),
    _m("missing_signature", "24", "缺少签名参数", "请传入sign", "no `sign`"),
    _m(
        "invalid_signature",
        "25",
        "无效签名",
        "请检查签名算法与密钥",
        "a wrong secret or a tampered parameter",
    ),
    _m("missing_method", "26", "缺少方法名参数", "请传入method", "no `method`"),
    _m("invalid_method", "27", "不存在的方法名", "请检查method", "an unknown `method`"),
    _m("missing_version", "28", "缺少版本参数", "请传入v", "no `v`"),
    _m("invalid_version", "29", "非法的版本参数", "请检查v", "a `v` not like `1.1`"),
    _m("unsupported_version", "30", "不支持的版本号", "请使用v=1.1", "a `v` other than 1.1"),
    _m("invalid_format", "31", "无效的格式类型", "请使用format=json", "a `format` other than json"),
    _m(
        "missing_argument",
        "32",
        "缺少必选参数",
        "请查看根据服务接口对参数的要求",
        "no `format`, `timestamp`, `num_iid`, `sku_id` or (uploads only) `fields`",
        "isv.missing-parameter:{name}",
        "缺少必选参数{name}",
    ),
    _m(
        "invalid_argument",
        "33",
        "非法的参数",
        "请查看根据服务接口对参数格式的要求",
        "a malformed or stale (> 10 min) `timestamp`, a non-numeric `position`, an unparseable "
        "body",
        "isv.invalid-paramete:{name}",
        "参数{name}无效,格式不对、非法值、越界等",
    ),
    _m("user_call_limit", "34", "用户调用次数超限", "请明日再试", "forced error `user_call_limit`"),
    _m(
        "session_call_limit",
        "35",
        "会话调用次数超限",
        "请明日再试",
        "forced error `session_call_limit`",
    ),
    _m("app_call_limit", "36", "应用调用次数超限", "请明日再试", "forced error `app_call_limit`"),
    _m(
        "app_frequency_limit",
        "37",
        "应用调用频率超限",
        "请降低调用频率",
        "more than `qianmi_app_qps` calls per second from one app, or fault `rate_limited`",
    ),
    _s(
        "item_not_found",
        "01030001",
        "商品不存在",
        "a `num_iid` the user does not have (e.g. 99999)",
    ),
    _s(
        "upload_failed",
        "01030028",
        "图片上传失败",
        "an `image` that is not `<ext>@<base64>` or whose base64 does not decode",
    ),
    _s("too_large", "01030029", "图片大小超过1M", "an image over 1 MB once decoded"),
    _s(
        "bad_format",
        "01030042",
        "图片格式错误",
        "an `<ext>` outside gif/jpg/jpeg/png, or an image whose content is another format",
    ),
    _s(
        "not_image",
        "01030053",
        "所上传图片为非图片文件",
        "decoded bytes that are not an image, or a corrupt one",
    ),
    _s("sku_not_found", "01030002", "sku不存在", "a `sku_id` the item does not have"),
    _s(
        "position_or_full",
        "01030043",
        "图片顺序超出范围,或者图片数量已满不可新增",
        "a `position` outside 0–4, or one another image of the SKU holds (a missing "
        "`position` is 0, replaces included), or a sixth image (SKU 18353/g1236 has 5)",
    ),
    _s("image_not_found", "01030044", "图片不存在", "an `img_id` that is not an image of the SKU"),
    _s("image_required", "01030038", "新增图片时,图片文件不可为空", "no `image` and no `img_id`"),
    _s("specs_disabled", "01030064", "未开启规格的商品不能添加sku图片", "SKU 18354/g2001"),
)
