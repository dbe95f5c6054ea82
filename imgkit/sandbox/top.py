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

import json
import math
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from imgkit.sandbox.failures import Failure, PlatformFailure
from imgkit.sandbox.pipeline import (
    Call,
    Handler,
    MalformedRequest,
    SandboxPlatform,
    malformed_call,
    parse_call,
    refuse,
    serve,
)
from imgkit.sandbox.registry import Emulator
from imgkit.sandbox.signing import TOP_SIGN_METHODS, same_sign, top_sign
from imgkit.sandbox.state import SandboxState
from imgkit.sandbox.timestamps import GMT8, parse_top_timestamp, within_skew
from imgkit.sandbox.top_failures import GATEWAY_FAILURES
from imgkit.sandbox.world import TopApp, TopSession

PATH = "/router/rest"
# Requests the TOP gateway refuses before it knows which API was meant are counted here.
TOP_GATEWAY = "top_gateway"


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


def xml_error_body(failure: PlatformFailure) -> str:
    """TOP's XML form of :func:`error_body`.

    >>> from imgkit.sandbox.failures import PlatformFailure
    >>> print(xml_error_body(PlatformFailure(GATEWAY_FAILURES["missing_method"]))[:60])
    <?xml version="1.0" encoding="utf-8" ?><error_response><code
    """
    members = error_body(failure)["error_response"]
    inner = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in members.items())
    return f'<?xml version="1.0" encoding="utf-8" ?><error_response>{inner}</error_response>'


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
        """Gateway-level errors as ``error_response``; HTTP 200 as TOP does.

        A request that did not ask for JSON (TOP's default format is XML) is answered in
        XML, so a client that forgot ``format=json`` breaks here as it would on TOP.
        """
        if call.params.get("format") != "json":
            return Response(xml_error_body(failure), media_type="text/xml;charset=UTF-8")
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
    # Exactly "json", as sent: absent means XML on TOP, and "JSON" is not what it documents.
    if call.params.get("format") != "json":
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
    sign_method = call.params.get("sign_method", "")
    if not sign_method:  # a required system parameter: no default is assumed
        raise fail("missing_argument", name="sign_method")
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
    expired = session is not None and (
        session.problem == "expired" or state.is_expired(session_key)
    )
    if session is None or session.app_key != app_key or expired:
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
    if simplified(call) is None:
        raise fail("invalid_argument", name="simplify")
    return TopCaller(app_key, app, session_key, session)


def simplified(call: Call) -> bool | None:
    """Whether the caller asked for TOP's simplified JSON (``simplify=true``); None: invalid."""
    try:
        return call.state.settings.flag(call.params.get("simplify", "")) is True
    except ValueError:
        return None


def answer(call: Call, method: str, payload: dict[str, Any]) -> JSONResponse:
    """The success envelope of ``method``, simplified when the caller asked for it."""
    body = success_body(method, payload)
    return JSONResponse(unwrap(body) if simplified(call) else body)


def unwrap(body: dict[str, Any]) -> dict[str, Any]:
    """``{"<method>_response": {...}}`` → its members (TOP's ``simplify=true``).

    >>> unwrap({"a_b_response": {"x": 1, "request_id": "r"}})
    {'x': 1, 'request_id': 'r'}
    >>> unwrap({"error_response": {"code": 7}})
    {'error_response': {'code': 7}}
    """
    roots = [k for k in body if k.endswith("_response") and k != "error_response"]
    if len(body) == 1 and len(roots) == 1 and isinstance(body[roots[0]], dict):
        inner: dict[str, Any] = body[roots[0]]
        return inner
    return body


def _simplify(handler: Handler) -> Handler:
    # simplify=true: the success answer loses its ``<method>_response`` root; errors keep
    # ``error_response`` (the sandbox's reading, see docs/sandbox.md).
    async def unwrapped(call: Call) -> Response:
        response = await handler(call)
        if not simplified(call) or not isinstance(response, JSONResponse):
            return response
        body = json.loads(bytes(response.body))
        return JSONResponse(unwrap(body), status_code=response.status_code)

    return unwrapped


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
            call = malformed_call(request, state)
            return await serve(call, GATEWAY, refuse(GATEWAY, "parameter_error", str(exc)))
        except ClientDisconnect:
            return Response(status_code=499)  # the client is gone: nobody to answer
        method = call.param("method")
        if not method:
            return await serve(call, GATEWAY, refuse(GATEWAY, "missing_method"))
        api = by_method.get(method)
        if api is None:
            return await serve(call, GATEWAY, refuse(GATEWAY, "invalid_method"))
        return await serve(call, api.platform, _simplify(api.handler))

    return [Route(PATH, router, methods=["POST"])]
