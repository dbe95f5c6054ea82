"""The fw199 / Douyin material centre's documented error answers (``doudian``), as data.

The catalogue :mod:`imgkit.sandbox.doudian` raises from; ``docs/sandbox-errors.md`` is
generated from it.  Main code 50002 for ``isv.business-failed:*`` is a sandbox convention.

Example
-------
>>> FAILURES["too_large"].sub_code
'isv.business-failed:22001'
"""

from __future__ import annotations

from imgkit.sandbox.failures import Failure, catalogue

_BIZ = "isv.business-failed:"


def _b(key: str, number: str, msg: str, trigger: str) -> Failure:
    return Failure(key, 50002, "业务处理失败", sub_code=_BIZ + number, sub_msg=msg, trigger=trigger)


FAILURES = catalogue(
    Failure(
        "signature_invalid",
        40003,
        "签名校验失败",
        sub_code="isv.signature-invalid",
        sub_msg="签名错误",
        trigger="a wrong secret, a tampered parameter, no `sign`, or an unknown `appid`",
    ),
    Failure(
        "timestamp_invalid",
        40003,
        "时间戳无效",
        sub_code="isv.timestamp-invalid",
        sub_msg="timestamp 缺失、格式错误或与服务器时间相差超过600秒",
        trigger="no `timestamp`, one that is not Unix seconds, or one more than 600 s off",
    ),
    Failure(
        "param_invalid",
        40004,
        "参数错误",
        sub_code="isv.parameter-invalid:{name}",
        sub_msg="参数 {name} 不合法",
        trigger="no `seller_nick`, `folder_id` or `material_name` (or an empty one; names "
        "are case-sensitive, `Material_Name` is not `material_name`); neither `url`, "
        "`file_uri` nor `file`; `file_uri` with a `file` part; an unknown `folder_id`, "
        "`file_uri` or `material_id`; `material_name` over 50 characters; "
        "`need_distinct` other than true/false; a body that cannot be parsed; in a "
        "searchMaterial look-up, a `material_type` other than photo/video, an `order_type` "
        "other than 0/1/6/7, `page_num` below 1 or `page_size` outside 1–100",
    ),
    Failure(
        "method_not_allowed",
        40004,
        "参数错误",
        sub_code="isv.parameter-invalid:http_method",
        sub_msg="只支持POST请求",
        source="choice",
        trigger="any HTTP method but POST (GET, PUT, DELETE…) on a `/gateway/dd/…` path",
    ),
    Failure(
        "image_invalid",
        40004,
        "参数错误",
        sub_code="isv.parameter-invalid:20001",
        sub_msg="图片无法解析,仅支持png/jpg",
        trigger="content that is not a decodable PNG or JPEG (GIF, WEBP, text, truncated)",
    ),
    _b("too_large", "22001", "图片大小超过10M", "an image over 10 MB"),
    _b(
        "folder_not_image",
        "22006",
        "该文件夹不支持上传图片",
        "folder 73691281073984637961999 of seller 38173182 (a video folder)",
    ),
    _b(
        "content_violation",
        "22007",
        "素材内容违规",
        "an audit rule with `at_upload: true` matching the upload (`POST /_sandbox/audit`)",
    ),
    _b(
        "url_download_failed",
        "10010",
        "图片下载失败",
        "a `url` that is not on loopback, or that does not answer 200",
    ),
    _b("library_full", "30001", "素材空间已满", "seller 38173199"),
    _b("no_material_permission", "30004", "无素材中心权限", "seller 38173198"),
    _b(
        "duplicate_request",
        "31001",
        "重复请求,相同素材正在处理中",
        "a second upload of the same `url` for the same seller while the first is in flight",
    ),
    Failure(
        "service_unavailable",
        20000,
        "服务不可用",
        sub_code="isp.service-unavailable",
        sub_msg="服务暂时不可用,请稍后重试",
        trigger="fault `transient`",
    ),
    Failure(
        "service_busy",
        20001,
        "服务繁忙",
        sub_code="isp.service-busy",
        sub_msg="服务繁忙,请稍后重试",
        trigger="forced error `service_busy`",
    ),
    Failure(
        "no_permission",
        30001,
        "权限不足",
        sub_code="isv.permission-denied",
        sub_msg="应用无该接口权限",
        trigger="appid `sbx-fw199-noapi`",
    ),
    Failure(
        "shop_unauthorized",
        30002,
        "店铺未授权",
        sub_code="isv.shop-unauthorized",
        sub_msg="店铺未授权给当前应用",
        trigger="a `seller_nick` that did not authorize the app (e.g. 38173100)",
    ),
    Failure(
        "rate_limited",
        60000,
        "请求过于频繁",
        sub_code="isv.frequency-limited",
        sub_msg="调用频率超限,请稍后重试",
        trigger="more than `doudian_app_qps` calls per second from one appid, or fault "
        "`rate_limited`",
    ),
)
