"""What Douyin's material centre answers through fw199, read (``doudian``).

The code table (sub-codes before main codes: fw199 answers business failures with main
code 50002 and the Douyin sub-code ``isv.business-failed:<n>``), and how an upload's,
detail query's or look-up's answer becomes an :class:`~imgkit.platforms.outcomes.Outcome`
or a :class:`~imgkit.platforms.outcomes.Lookup`.  :mod:`imgkit.platforms.doudian` builds
the requests.

Example
-------
>>> material_outcome({"code": 0, "data": {"material_info": {"material_id": "7",
...     "audit_status": 3, "byte_url": "http://i/7.jpg"}}}).url
'http://i/7.jpg'
>>> CODES.lookup("isv.business-failed:22001").category
<Category.TOO_LARGE: 'too_large'>
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from imgkit.errors import Category
from imgkit.platforms.base import (
    Candidate,
    CodeRule,
    CodeTable,
    Lookup,
    Outcome,
    as_int,
    details_missing,
    text,
)


def _rule(category: Category, retryable: bool, zh: str, en: str) -> CodeRule:
    return CodeRule(category, retryable, zh, en)


# Sub-codes are looked up before main codes (see _key).  fw199 answers business failures
# with main code 50002 and the Douyin sub-code ``isv.business-failed:<n>``.
CODES = CodeTable(
    {
        # Main codes.
        "40003": _rule(Category.AUTH, False, "签名或时间戳校验失败", "signature check failed"),
        "40004": _rule(Category.INVALID_INPUT, False, "参数错误", "bad request parameters"),
        "50002": _rule(Category.UNKNOWN, False, "业务处理失败", "business processing failed"),
        "20000": _rule(Category.TRANSIENT, True, "服务不可用,稍后重试", "service unavailable"),
        "20001": _rule(Category.TRANSIENT, True, "服务繁忙,稍后重试", "service busy"),
        "30001": _rule(Category.PERMISSION, False, "应用无该接口权限", "app lacks API permission"),
        "30002": _rule(
            Category.PERMISSION, False, "店铺未授权给当前应用", "shop has not authorized the app"
        ),
        "60000": _rule(Category.RATE_LIMITED, True, "调用频率超限", "call frequency exceeded"),
        # Sub-codes.
        "isv.signature-invalid": _rule(
            Category.AUTH, False, "签名错误,请检查 appid 和密钥", "invalid signature"
        ),
        "isv.timestamp-invalid": _rule(
            Category.INVALID_INPUT,
            False,
            "时间戳无效,请校准本机时钟",
            "timestamp invalid or over 600 s off; check the clock",
        ),
        "isv.parameter-invalid:20001": _rule(
            Category.BAD_FORMAT, False, "图片无法解析,仅支持png/jpg", "unreadable image (png/jpg)"
        ),
        "isv.business-failed:22001": _rule(
            Category.TOO_LARGE, False, "图片大小超过10M", "image over 10 MB"
        ),
        "isv.business-failed:22006": _rule(
            Category.INVALID_INPUT,
            False,
            "该文件夹不支持上传图片",
            "the folder does not take images",
        ),
        "isv.business-failed:22007": _rule(
            Category.AUDIT_REJECTED, False, "素材内容违规", "the content violates platform rules"
        ),
        # The engine retries this one once at most: a URL that failed twice stays failed.
        "isv.business-failed:10010": _rule(
            Category.TRANSIENT, True, "图片下载失败", "the platform could not download the URL"
        ),
        "isv.business-failed:30001": _rule(Category.QUOTA, False, "素材空间已满", "library full"),
        "isv.business-failed:30004": _rule(
            Category.PERMISSION, False, "无素材中心权限", "no material centre permission"
        ),
        # The same material is still being processed: a retry would race it.
        "isv.business-failed:31001": _rule(
            Category.INVALID_INPUT,
            False,
            "重复请求,相同素材正在处理中",
            "duplicate request; the same material is in progress",
        ),
        "isv.parameter-invalid:*": _rule(
            Category.INVALID_INPUT, False, "参数不合法", "invalid parameter"
        ),
        "isp.*": _rule(Category.TRANSIENT, True, "平台服务错误,稍后重试", "platform service error"),
    }
)

_AUDIT_PENDING = _rule(
    Category.AUDIT_PENDING, False, "素材审核中,稍后查询", "under audit; query it later"
)
_AUDIT_REJECTED = _rule(Category.AUDIT_REJECTED, False, "素材审核未通过", "the audit rejected it")
_ODD_AUDIT = _rule(
    Category.UNKNOWN, False, "无法识别的审核状态", "an audit status imgkit does not know"
)
MISSING_LIST = _rule(
    Category.UNKNOWN, False, "平台返回成功但没有素材列表", "success without a material list"
)


def listing(items: Any, total: int | None) -> Lookup:
    """The :class:`Lookup` of one searchMaterial page (``total`` counts every match)."""
    if items is None and total == 0:
        return Lookup((), complete=True)
    if not isinstance(items, list):
        return Lookup((), complete=False)
    found: list[Candidate] = []
    readable, pending = True, False
    for item in items:
        if not isinstance(item, dict) or not text(item.get("material_id")):
            readable = False
            continue
        status, url = _audit_status(item), text(item.get("byte_url"))
        if status in (1, 2) or as_int(item.get("operate_status")) == 0:
            pending = True
        elif status == 3 and url:
            # The listed size is no byte count (the seed's sizes are whole KB, the SDK says
            # KB): the bytes alone decide, so the candidate carries no size.
            name = text(item.get("material_name")) or text(item.get("materil_name"))
            found.append(Candidate(text(item["material_id"]), url, title=name))
        elif status != 4:  # passed without an address, or a status imgkit does not know
            readable = False
    complete = readable and total is not None and total <= len(items)
    return Lookup(tuple(found), complete, pending)


def join_message(message: str, detail: str) -> str:
    if message and detail and detail != message:
        return f"{message}: {detail}"
    return detail or message


def _material(body: Mapping[str, Any]) -> dict[str, Any] | None:
    """``data.material_info``, or a flat ``data`` holding the material fields."""
    data = body.get("data")
    if not isinstance(data, dict):
        return None
    info = data.get("material_info")
    if isinstance(info, dict):
        return info
    return data if "material_id" in data else None


def _audit_status(info: Mapping[str, Any]) -> int | None:
    try:
        return int(text(info.get("audit_status")))
    except ValueError:
        return None


def material_outcome(body: Mapping[str, Any]) -> Outcome:
    info = _material(body)
    material_id = text(info.get("material_id")) if info else ""
    if info is None or not material_id:
        return details_missing("code 0 without material_info", body)
    status = _audit_status(info)
    byte_url = text(info.get("byte_url"))
    if status == 3 and byte_url:
        return Outcome(ok=True, url=byte_url, image_id=material_id, audit_status=3, raw=info)
    if status == 3:  # passed, yet no address: stored, details missing
        return details_missing("audit passed without byte_url", info, material_id)
    if status in (1, 2):
        return Outcome.failure(
            _AUDIT_PENDING,
            code="0",
            message=f"audit_status {status}",
            raw=info,
            pending_id=material_id,
            audit_status=status,
        )
    if status == 4:
        return Outcome.failure(
            _AUDIT_REJECTED,
            code="0",
            message=text(info.get("audit_reject_desc")),
            raw=info,
            audit_status=4,
        )
    return Outcome.failure(
        _ODD_AUDIT,
        code="0",
        message=f"audit_status {info.get('audit_status')!r}, byte_url {byte_url!r}",
        raw=info,
        audit_status=status,
    )
