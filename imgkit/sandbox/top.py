"""The Taobao Open Platform gateway at ``/router/rest``, shared by two platforms.

It merges query-string and body parameters (the official Python SDK sends system
parameters in the query and the rest as multipart with ``Content-Disposition: file``
parts; other SDKs send all of it as form fields), checks the system parameters, the
signature (md5, hmac, hmac-sha256), the timestamp (GMT+8 text or epoch milliseconds,
10 minutes of skew), the app, its limits and the session, then hands the call to the API
named by ``method``.  Errors are ``{"error_response": {...}}`` with HTTP 200.

Example
-------
>>> GATEWAY_FAILURES["invalid_signature"].code
25
"""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from imgkit.sandbox.failures import Failure, PlatformFailure, catalogue
from imgkit.sandbox.pipeline import (
    Call,
    Handler,
    MalformedRequest,
    SandboxPlatform,
    parse_call,
    refuse,
    serve,
)
from imgkit.sandbox.registry import Emulator
from imgkit.sandbox.signing import TOP_SIGN_METHODS, same_sign, top_sign
from imgkit.sandbox.state import SandboxState
from imgkit.sandbox.timestamps import GMT8, parse_top_timestamp, within_skew
from imgkit.sandbox.world import TopApp, TopSession

PATH = "/router/rest"
# Requests the TOP gateway refuses before it knows which API was meant are counted here.
TOP_GATEWAY = "top_gateway"
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
    _g("missing_method", 21, "Missing Method", "no `method` parameter"),
    _g("invalid_method", 22, "Invalid Method", "a `method` the sandbox does not serve"),
    _g(
        "invalid_format",
        23,
        "Invalid Format",
        "`format` other than json (the sandbox answers JSON only)",
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
        "a body that is not valid multipart/form-data or form-urlencoded",
        "isv.parameter-error",
        "请求体无法解析",
    ),
)


def request_id() -> str:
    """A TOP-looking request id."""
    return secrets.token_hex(7)[:13]


def error_body(failure: PlatformFailure) -> dict[str, Any]:
    """``{"error_response": {...}}`` for a gateway-level failure."""
    body: dict[str, Any] = {"code": failure.failure.code, "msg": failure.message}
    if failure.failure.sub_code:
        body["sub_code"] = failure.sub_code
        body["sub_msg"] = failure.sub_msg
    body["request_id"] = request_id()
    return {"error_response": body}


def success_body(method: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The success envelope: ``taobao.a.b`` answers under ``a_b_response``."""
    root = method.removeprefix("taobao.").replace(".", "_") + "_response"
    return {root: {**payload, "request_id": request_id()}}


class TopPlatform(SandboxPlatform):
    """A TOP API (or the bare gateway): gateway failures plus the API's own."""

    transient_failure = "remote_service_error"
    rate_limited_failure = "api_banned"
    malformed_failure = "parameter_error"

    def __init__(self, key: str, api_failures: dict[str, Failure] | None = None) -> None:
        self.key = key
        overlap = set(api_failures or {}) & set(GATEWAY_FAILURES)
        if overlap:
            raise ValueError(f"API failure keys clash with the gateway's: {sorted(overlap)}")
        self.api_failures = api_failures or {}
        self.failures = {**GATEWAY_FAILURES, **self.api_failures}

    def render(self, call: Call, failure: PlatformFailure) -> Response:
        """Gateway-level errors as ``error_response``; HTTP 200 as TOP does."""
        return JSONResponse(error_body(failure))


GATEWAY = TopPlatform(TOP_GATEWAY)
GATEWAY_EMULATOR = Emulator(
    TOP_GATEWAY,
    GATEWAY,
    title="TOP gateway (`/router/rest`, both `taobao_miniapp` and `tmall_item`)",
    documented=GATEWAY_FAILURES,
)


@dataclass(frozen=True)
class TopApi:
    """One API behind the gateway: its method name, platform and handler."""

    method: str
    platform: TopPlatform
    handler: Handler


@dataclass(frozen=True)
class TopCaller:
    """Who is calling, once the gateway has let the call through."""

    app_key: str
    app: TopApp
    session_key: str
    session: TopSession


def _seconds_to_midnight_gmt8(now: float) -> int:
    day = 86400
    return day - int((now + GMT8.utcoffset(None).total_seconds()) % day)


def authenticate(call: Call, platform: TopPlatform, method: str) -> TopCaller:
    """Check everything the gateway checks, in the gateway's order; raise its error."""
    state = call.state
    fail = platform.fail
    if call.param("format") and call.param("format").lower() != "json":
        raise fail("invalid_format")
    app_key = call.param("app_key")
    if not app_key:
        raise fail("missing_app_key")
    app = state.world.top_apps.get(app_key)
    if app is None:
        raise fail("invalid_app_key")
    call.credential = app_key
    if not call.param("sign"):
        raise fail("missing_signature")
    if not call.param("timestamp"):
        raise fail("missing_timestamp")
    stamp = parse_top_timestamp(call.param("timestamp"))
    if stamp is None or not within_skew(stamp, state.clock.now()):
        raise fail("invalid_timestamp")
    version = call.params.get("v", "")
    if not version:
        raise fail("missing_version")
    if not re.fullmatch(r"\d+\.\d+", version):
        raise fail("invalid_version")
    if version != "2.0":
        raise fail("unsupported_version")
    sign_method = call.param("sign_method") or "md5"
    if sign_method not in TOP_SIGN_METHODS:
        raise fail("invalid_signature")
    expected = top_sign(call.params, app.secret, sign_method)
    # As sent, not stripped: the platform compares the signature exactly.
    if not same_sign(expected, call.params.get("sign", "")):
        raise fail("invalid_signature")
    if app.ip_whitelist is not None and call.client_ip not in app.ip_whitelist:
        raise fail("forbidden")
    if app.apis is not None and method not in app.apis:
        raise fail("isv_permission")
    if app.daily_quota is not None and app.daily_quota <= 0:
        raise fail("app_quota", seconds=_seconds_to_midnight_gmt8(state.clock.now()))
    _pace(call, platform, f"top-app:{app_key}")
    session_key = call.param("session")
    if not session_key:
        raise fail("missing_session")
    session = state.world.top_sessions.get(session_key)
    if session is None or session.app_key != app_key or session.problem == "expired":
        raise fail("invalid_session")
    if session.problem == "user_permission":
        raise fail("user_permission")
    if session.problem == "session_permission":
        raise fail("session_permission")
    with state.lock:
        wait = state.limiter.hit(f"top-session:{session_key}", state.limits.top_session_qps)
    if wait is not None:
        raise fail("frequency_exceeded")
    empty = [name for name, upload in call.files.items() if upload.size == 0]
    if empty:
        raise fail("upload_fail")
    return TopCaller(app_key, app, session_key, session)


def _pace(call: Call, platform: TopPlatform, key: str) -> None:
    state = call.state
    with state.lock:
        banned = state.limiter.banned_for(key)
        if not banned:
            wait = state.limiter.hit(key, state.limits.top_app_qps)
            if wait is not None:
                state.limiter.ban(key, state.limits.top_ban_s)
                # The call over the limit is refused even when ``top_ban_s`` is 0; then
                # the wait is until the one-second window lets a call through again.
                banned = state.limiter.banned_for(key) or max(1, math.ceil(wait))
    if banned:
        raise platform.fail("app_api_banned", seconds=banned)


def routes(state: SandboxState, apis: Sequence[TopApi]) -> list[Route]:
    """``POST /router/rest`` dispatching on ``method`` to ``apis``."""
    by_method = {api.method: api for api in apis}

    async def router(request: Request) -> Response:
        try:
            call = await parse_call(request, state)
        except MalformedRequest as exc:
            call = Call(request=request, state=state, params=dict(request.query_params), files={})
            return await serve(call, GATEWAY, refuse(GATEWAY, "parameter_error", str(exc)))
        except ClientDisconnect:
            return Response(status_code=499)  # the client is gone: nobody to answer
        method = call.param("method")
        if not method:
            return await serve(call, GATEWAY, refuse(GATEWAY, "missing_method"))
        api = by_method.get(method)
        if api is None:
            return await serve(call, GATEWAY, refuse(GATEWAY, "invalid_method"))
        return await serve(call, api.platform, api.handler)

    return [Route(PATH, router, methods=["POST"])]
