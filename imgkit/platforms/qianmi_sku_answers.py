"""What the Qianmi open platform answers, read (``qianmi_sku``).

The code table (ROP main codes, then the SKU service's sub-codes, looked up first) and the
two error shapes an answer may take: TOP-style ``error_response``, or the official page's
root-level ``{"errorToken", "code", "message", "subErrors": {"subError": [...]}}``.
:mod:`imgkit.platforms.qianmi_sku` builds the requests.

Example
-------
>>> error_fields({"code": "9", "message": "业务逻辑出错",
...               "subErrors": {"subError": [{"code": "x:01030002", "message": "sku不存在"}]}})
('9', 'x:01030002', '业务逻辑出错: sku不存在')
>>> CODES.lookup("37").category
<Category.RATE_LIMITED: 'rate_limited'>
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from imgkit.errors import Category
from imgkit.platforms.base import CodeRule, CodeTable, text

_SERVICE = "isv.qianmi-cloudshop-sku-image-upload-service-error:"


def _rule(category: Category, retryable: bool, zh: str, en: str) -> CodeRule:
    return CodeRule(category, retryable, zh, en)


def _auth(zh: str, en: str) -> CodeRule:
    return _rule(Category.AUTH, False, zh, en)


def _bad(zh: str, en: str) -> CodeRule:
    return _rule(Category.INVALID_INPUT, False, zh, en)


def _count(zh: str, en: str) -> CodeRule:
    return _rule(Category.QUOTA, False, zh, en)


# ROP main codes, then the SKU service's sub-codes (looked up first, see _key).  The
# sandbox answers SKU-service failures with main code 9 (business logic error).
CODES = CodeTable(
    {
        "1": _rule(Category.TRANSIENT, True, "服务不可用,稍后重试", "service unavailable"),
        "2": _rule(Category.PERMISSION, False, "开发者权限不足", "the app lacks permission"),
        "3": _rule(Category.PERMISSION, False, "用户权限不足", "the user lacks permission"),
        "4": _rule(Category.TRANSIENT, True, "上传文件失败,稍后重试", "upload failed; retry"),
        "7": _rule(Category.PERMISSION, False, "禁止访问", "access forbidden"),
        "9": _rule(Category.UNKNOWN, False, "业务逻辑出错", "business logic error"),
        "20": _auth("缺少会话参数 access_token", "missing access_token"),
        "21": _auth("access_token 无效或已过期", "access_token invalid or expired"),
        "22": _auth("缺少 appKey", "missing appKey"),
        "23": _auth("appKey 无效", "invalid appKey"),
        "24": _auth("缺少签名", "missing signature"),
        "25": _auth("签名错误,请检查密钥", "invalid signature; check the secret"),
        "26": _bad("缺少方法名参数", "missing method"),
        "27": _bad("不存在的方法名", "unknown method"),
        "28": _bad("缺少版本参数", "missing version"),
        "29": _bad("非法的版本参数", "invalid version"),
        "30": _bad("不支持的版本号", "unsupported version"),
        "31": _bad("无效的格式类型", "invalid format"),
        "32": _bad("缺少必选参数", "missing required parameter"),
        "33": _bad("非法的参数", "invalid parameter"),
        "34": _count("用户调用次数超限", "user call count exceeded"),
        "35": _count("会话调用次数超限", "session call count exceeded"),
        "36": _count("应用调用次数超限", "app call count exceeded"),
        "37": _rule(Category.RATE_LIMITED, True, "应用调用频率超限", "app call frequency exceeded"),
        _SERVICE + "01030001": _rule(Category.NOT_FOUND, False, "商品不存在", "no such item"),
        _SERVICE + "01030002": _rule(Category.NOT_FOUND, False, "sku不存在", "no such SKU"),
        _SERVICE + "01030028": _bad("图片上传失败,检查图片大小与格式", "image upload failed"),
        _SERVICE + "01030029": _rule(
            Category.TOO_LARGE, False, "图片大小超过1M", "image over 1 MB"
        ),
        _SERVICE + "01030042": _rule(
            Category.BAD_FORMAT, False, "图片格式错误", "bad image format"
        ),
        _SERVICE + "01030053": _rule(
            Category.BAD_FORMAT, False, "所上传图片为非图片文件", "not an image file"
        ),
        _SERVICE + "01030043": _bad(
            "图片顺序超出范围,或者图片数量已满不可新增",
            "position out of range, or the SKU already has all its images",
        ),
        _SERVICE + "01030044": _rule(
            Category.NOT_FOUND, False, "图片不存在", "no such image (img_id) on this SKU"
        ),
        _SERVICE + "01030038": _bad(
            "新增图片时,图片文件不可为空", "a new image needs image content"
        ),
        _SERVICE + "01030064": _bad(
            "未开启规格的商品不能添加sku图片", "the item has no specs enabled; no SKU images"
        ),
        "isp.*": _rule(Category.TRANSIENT, True, "平台服务错误,稍后重试", "platform service error"),
    }
)

MISSING_LIST = _rule(
    Category.UNKNOWN, False, "平台返回的结果没有图片列表", "an answer without the sku_imgs list"
)


def error_object(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """TOP-style ``error_response``, or the seed's root-level error (``code`` at the root)."""
    wrapped = body.get("error_response")
    if isinstance(wrapped, dict):
        return wrapped
    if any(key in body for key in ("errorToken", "code", "subErrors")):
        return body
    return None


def error_fields(error: Mapping[str, Any]) -> tuple[str, str, str]:
    """``(code, sub_code, message)`` from either error shape."""
    code = text(error.get("code"))
    message = text(error.get("message") or error.get("msg"))
    sub_code = text(error.get("sub_code"))
    detail = text(error.get("sub_msg") or error.get("sub_message"))
    first = first_sub_error(error.get("subErrors"))
    if first is not None and not sub_code:
        sub_code = text(first.get("code"))
        detail = text(first.get("message"))
    if message and detail and detail != message:
        return code, sub_code, f"{message}: {detail}"
    return code, sub_code, detail or message


def first_sub_error(sub_errors: Any) -> Mapping[str, Any] | None:
    """The first of ``{"subError": [...]}`` (or of a bare list, or a single object)."""
    items = sub_errors.get("subError") if isinstance(sub_errors, dict) else sub_errors
    if isinstance(items, dict):
        return items
    if isinstance(items, list) and items and isinstance(items[0], dict):
        return items[0]
    return None
