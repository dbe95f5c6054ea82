"""Qianmi's QMOP (ROP) gateway in the sandbox: its error answers and its system checks.

:mod:`imgkit.sandbox.qianmi_sku` serves the SKU-image methods behind it; this module holds
what every QMOP method shares: how an error is answered (:class:`QianmiPlatform`) and the
system parameters, signature, app and ``access_token`` checked in ROP's order
(:func:`authenticate`).

Errors come in the seed page's shape
``{"errorToken", "code", "message", "solution", "subErrors": {"subError": [...]}}`` with the
ROP main codes (:func:`seed_error_body`).  The Qianmi SDK also parses a TOP-style
``error_response`` (protocols.md), so the platform declares the alternative shape
``top_error``: with ``POST /_sandbox/settings {"shapes": {"qianmi_sku": "top_error"}}`` every
Qianmi error is ``{"error_response": {"code", "msg", "sub_code", "sub_msg"}}`` instead
(:func:`top_error_body`).

Example
-------
>>> seed_error_body(PLATFORM.fail("missing_session"))["code"]
'20'
>>> top_error_body(PLATFORM.fail("missing_argument", name="format"))["error_response"]["sub_code"]
'isv.missing-parameter:format'
"""

from __future__ import annotations

import re
from typing import Any

from starlette.responses import JSONResponse, Response

from imgkit.sandbox.failures import PlatformFailure
from imgkit.sandbox.pipeline import Call, SandboxPlatform
from imgkit.sandbox.qianmi_sku_failures import FAILURES
from imgkit.sandbox.signing import qianmi_sign, same_sign
from imgkit.sandbox.timestamps import parse_gmt8, within_skew

KEY = "qianmi_sku"
TOP_ERROR = "top_error"
# The alternative answer shapes the Qianmi emulator declares (imgkit.sandbox.settings).
SHAPES = (TOP_ERROR,)
VERSION = "1.1"


def seed_error_body(failure: PlatformFailure) -> dict[str, Any]:
    """The seed page's error shape: main code (a string), message, solution, sub-errors."""
    body: dict[str, Any] = {
        "errorToken": "@@$-ERROR_TOKEN$-@@",
        "code": str(failure.failure.code),
        "message": failure.message,
        "solution": failure.failure.advice,
    }
    if failure.failure.sub_code:
        body["subErrors"] = {"subError": [{"code": failure.sub_code, "message": failure.sub_msg}]}
    return body


def top_error_body(failure: PlatformFailure) -> dict[str, Any]:
    """The TOP-style shape of the same error (the ``top_error`` setting).

    ``code`` is the main code as the seed shape writes it (a string), ``msg`` its
    ``message``; ``sub_code`` / ``sub_msg`` are the code and message of its one sub-error,
    and are left out when it has none, as TOP leaves them out.  The seed shape's
    ``errorToken`` and ``solution`` have no TOP counterpart and are not sent.
    """
    body: dict[str, Any] = {"code": str(failure.failure.code), "msg": failure.message}
    if failure.failure.sub_code:
        body["sub_code"] = failure.sub_code
        body["sub_msg"] = failure.sub_msg
    return {"error_response": body}


class QianmiPlatform(SandboxPlatform):
    """How QMOP answers."""

    key = KEY
    failures = FAILURES
    transient_failure = "service_unavailable"
    rate_limited_failure = "app_frequency_limit"
    malformed_failure = "invalid_argument"

    def render(self, call: Call, failure: PlatformFailure) -> Response:
        """The seed page's error shape (or the ``top_error`` one when set), HTTP 200."""
        if call.state.settings.shape(KEY) == TOP_ERROR:
            return JSONResponse(top_error_body(failure))
        return JSONResponse(seed_error_body(failure))


PLATFORM = QianmiPlatform()


def authenticate(call: Call, methods: tuple[str, ...]) -> str:
    """ROP checks in ROP's order, for a call of one of ``methods``; returns the token's user.

    Raises :class:`~imgkit.sandbox.failures.PlatformFailure` at the first check that fails.
    ``format`` is a required system parameter (the page: 必须): without it the answer is
    32 ``isv.missing-parameter:format``, at ``format``'s place in the order (after ``v``,
    before ``timestamp``).  A token expired on demand (``state.expire``) answers as the
    world's expired token ``sbx-qm-token-expired`` does (21).
    """
    state = call.state
    fail = PLATFORM.fail
    app_key = call.param("appKey")
    if not app_key:
        raise fail("missing_app_key")
    app = state.world.qianmi_apps.get(app_key)
    if app is None:
        raise fail("invalid_app_key")
    call.credential = app_key
    if not call.param("sign"):
        raise fail("missing_signature")
    method = call.param("method")
    if not method:
        raise fail("missing_method")
    if method not in methods:
        raise fail("invalid_method")
    version = call.param("v")
    if not version:
        raise fail("missing_version")
    if not re.fullmatch(r"\d+\.\d+", version):
        raise fail("invalid_version")
    if version != VERSION:
        raise fail("unsupported_version")
    if not call.param("format"):
        raise fail("missing_argument", name="format")
    if call.param("format").lower() != "json":
        raise fail("invalid_format")
    if not call.param("timestamp"):
        raise fail("missing_argument", name="timestamp")
    stamp = parse_gmt8(call.param("timestamp"))
    if stamp is None or not within_skew(stamp, call.state.clock.now()):
        raise fail("invalid_argument", name="timestamp")
    # As sent, not stripped: the platform compares the signature exactly.
    if not same_sign(qianmi_sign(call.params, app.secret), call.params.get("sign", "")):
        raise fail("invalid_signature")
    if app.problem == "no_permission":
        raise fail("isv_permission")
    if app.problem == "forbidden":
        raise fail("forbidden")
    with state.lock:
        wait = state.limiter.hit(f"qianmi:{app_key}", state.limits.qianmi_app_qps)
    if wait is not None:
        raise fail("app_frequency_limit")
    token_key = call.param("access_token")
    if not token_key:
        raise fail("missing_session")
    token = state.world.qianmi_tokens.get(token_key)
    if token is None or token.app_key != app_key:
        raise fail("invalid_session")
    # Expired on demand (state.expire, POST /_sandbox/expire): as the world's expired token.
    if token.problem == "expired" or state.is_expired(token_key):
        raise fail("invalid_session")
    if token.problem == "user_permission":
        raise fail("user_permission")
    return token.user
