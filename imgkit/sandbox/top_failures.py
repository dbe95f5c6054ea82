"""The TOP gateway's own failures, shared by every API behind ``/router/rest``.

Codes and messages are TOP's published gateway codes (``docs/protocols.md``, TOP); the
*trigger* says how the sandbox reaches each (``docs/sandbox-errors.md`` is generated from it).

Example
-------
>>> GATEWAY_FAILURES["invalid_signature"].code
25
"""

from __future__ import annotations

from imgkit.sandbox.failures import Failure, catalogue

_BAN = "This ban will last for {seconds} more seconds"


def _g(
    key: str,
    code: int,
    msg: str,
    trigger: str,
    sub_code: str = "",
    sub_msg: str = "",
    source: str = "doc",
) -> Failure:
    return Failure(
        key, code, msg, sub_code=sub_code, sub_msg=sub_msg, trigger=trigger, source=source
    )


GATEWAY_FAILURES = catalogue(
    _g(
        "upload_fail",
        3,
        "Upload Fail",
        "a file part that arrives empty (0 bytes)",
        "isv.upload-fail",
        "文件上传失败",
    ),
    _g(
        "app_quota",
        7,
        "App Call Limited",
        "app key 21000009 (its daily quota is used up)",
        "accesscontrol.limited-by-app-access-count",
        _BAN,
    ),
    _g(
        "api_banned",
        7,
        "App Call Limited",
        "fault `rate_limited`, or a forced error; the ban length is in `sub_msg`",
        "accesscontrol.limited-by-api-access-count",
        _BAN,
    ),
    _g(
        "app_api_banned",
        7,
        "App Call Limited",
        "more than `top_app_qps` calls per second from one app (set it with "
        "`POST /_sandbox/limits`); the app is then banned for `top_ban_s` seconds",
        "accesscontrol.limited-by-app-api-access-count",
        _BAN,
    ),
    _g(
        "frequency_exceeded",
        8,
        "Call Frequency Exceeded",
        "more than `top_session_qps` calls per second with one session",
        "isv.call-limited",
        "调用频率超限",
        source="choice",
    ),
    _g(
        "service_unavailable",
        10,
        "Service Currently Unavailable",
        "forced error `service_unavailable`",
        "isp.service-unavailable",
        "服务暂时不可用",
    ),
    _g(
        "isv_permission",
        11,
        "Insufficient isv permissions",
        "app key 21000003 calling taobao.item.img.upload.tmall or taobao.item.seller.get "
        "(its API package lacks them)",
        "isv.permission-api-package-not-allowed",
        "应用没有该API的调用权限",
    ),
    _g(
        "user_permission",
        12,
        "Insufficient user permissions",
        "session `sbx-session-userperm`",
        "isv.permission-user-not-allowed",
        "用户没有该API权限",
    ),
    _g(
        "session_permission",
        13,
        "Insufficient session permissions",
        "session `sbx-session-readonly` (authorized read-only)",
        "isv.permission-session-not-allowed",
        "授权不包含该API",
    ),
    _g(
        "remote_service_error",
        15,
        "Remote service error",
        "fault `transient`",
        "isp.remote-service-error",
        "远程服务暂时不可用,请稍后重试",
    ),
    _g(
        "method_not_allowed",
        9,
        "Http Action Not Allowed",
        "any HTTP method but POST (GET, PUT, DELETE…) on `/router/rest`",
        "isv.http-action-not-allowed",
        "HTTP方法被禁止,请使用POST",
        source="choice",
    ),
    _g("missing_method", 21, "Missing Method", "no `method` parameter"),
    _g("invalid_method", 22, "Invalid Method", "a `method` the sandbox does not serve"),
    _g(
        "invalid_format",
        23,
        "Invalid Format",
        "no `format` (TOP's default is XML) or anything but `json`: answered in XML, since "
        "the sandbox answers JSON only",
        "isv.invalid-format",
        "沙箱只返回JSON:请传format=json",
    ),
    _g("missing_signature", 24, "Missing Signature", "no `sign` parameter"),
    _g(
        "invalid_signature",
        25,
        "Invalid Signature",
        "a wrong secret, a tampered parameter, or an unknown `sign_method`",
        "isv.invalid-signature",
        "签名错误",
    ),
    _g("missing_session", 26, "Missing Session", "no `session` parameter"),
    _g(
        "invalid_session",
        27,
        "Invalid Session",
        "an unknown session, one of another app, or `sbx-session-expired`",
        "invalid-sessionkey",
        "SessionKey非法",
    ),
    _g("missing_app_key", 28, "Missing App Key", "no `app_key` parameter"),
    _g("invalid_app_key", 29, "Invalid App Key", "an app key the sandbox does not know"),
    _g("missing_timestamp", 30, "Missing Timestamp", "no `timestamp` parameter"),
    _g(
        "invalid_timestamp",
        31,
        "Invalid Timestamp",
        "a timestamp that is not `yyyy-MM-dd HH:mm:ss` (GMT+8) or epoch ms, or is more than "
        "10 minutes off",
        "isv.invalid-timestamp",
        "时间戳格式错误或与服务器时间误差超过10分钟",
    ),
    _g("missing_version", 32, "Missing Version", "no `v` parameter"),
    _g("invalid_version", 33, "Invalid Version", "a `v` that is not like `2.0`"),
    _g("unsupported_version", 34, "Unsupported Version", "a `v` other than 2.0"),
    _g(
        "missing_argument",
        40,
        "Missing Required Arguments",
        "leave out a required API parameter",
        "isv.missing-parameter:{name}",
        "缺少必要的参数:{name}",
    ),
    _g(
        "invalid_argument",
        41,
        "Invalid Arguments",
        "an API parameter of the wrong type (e.g. a non-numeric id or a boolean that is not "
        "true/false)",
        "isv.invalid-parameter:{name}",
        "非法参数:{name}",
    ),
    _g(
        "forbidden",
        42,
        "Forbidden Request",
        "app key 21000004, whose IP whitelist does not hold 127.0.0.1",
    ),
    _g(
        "parameter_error",
        43,
        "Parameter Error",
        "a body that is not valid multipart/form-data or form-urlencoded, or a text "
        "parameter (query or body) that is not UTF-8",
        "isv.parameter-error",
        "请求体无法解析",
    ),
)
