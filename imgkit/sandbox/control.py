"""Control endpoints under ``/_sandbox/`` and the image server at ``/img/``.

``POST /_sandbox/faults``   set the fault plan (JSON, see ``docs/sandbox.md``); returns it
``GET  /_sandbox/faults``   the active plan
``POST /_sandbox/limits``   change server-side rate limits; returns all limits
``GET  /_sandbox/stats``    counters per platform
``GET  /_sandbox/requests`` the request log (``?platform=``), for pacing measurements
``GET  /_sandbox/images``   every stored image: platform, shop, target, sha256, when stored
``POST /_sandbox/audit``    make matching Douyin uploads fail their audit
``POST /_sandbox/clock``    fix the sandbox clock (``{"at": <epoch s>}``) or free it (``null``)
``GET  /_sandbox/clock``    the fixed instant (or null) and the clock's current reading
``POST /_sandbox/reset``    forget everything
``GET  /_sandbox/health``   liveness
``GET  /img/{key}``         an uploaded image, byte-for-byte (or one the world seeded)

Example
-------
>>> [r.path for r in routes(SandboxState())][:2]
['/_sandbox/faults', '/_sandbox/faults']
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from imgkit.sandbox import registry
from imgkit.sandbox.faults import FaultConfigError
from imgkit.sandbox.seeded import seeded_png
from imgkit.sandbox.state import AuditRule, SandboxState
from imgkit.sandbox.store import IMAGE_ROUTE


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except json.JSONDecodeError as exc:
        raise FaultConfigError(f"body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise FaultConfigError("body must be a JSON object")
    return body


def _bad(exc: Exception) -> JSONResponse:
    return JSONResponse({"error": str(exc)}, status_code=400)


def routes(state: SandboxState) -> list[Route]:
    """The control and image routes bound to ``state``."""

    async def set_faults(request: Request) -> Response:
        try:
            plan = state.set_faults(await _json_body(request))
        except FaultConfigError as exc:
            return _bad(exc)
        return JSONResponse(plan.to_json())

    async def get_faults(request: Request) -> Response:
        return JSONResponse(state.faults.to_json())

    async def set_limits(request: Request) -> Response:
        try:
            limits = state.set_limits(await _json_body(request))
        except FaultConfigError as exc:
            return _bad(exc)
        return JSONResponse(dataclasses.asdict(limits))

    async def stats(request: Request) -> Response:
        return JSONResponse(state.stats())

    async def requests_log(request: Request) -> Response:
        platform = request.query_params.get("platform")
        records = [dataclasses.asdict(r) for r in state.request_log(platform)]
        return JSONResponse({"requests": records})

    async def images(request: Request) -> Response:
        # What a test in another process needs to count copies and per-shop rates; the
        # bytes themselves are at /img/{key}.
        listed = [
            {
                "platform": image.platform,
                "shop": image.shop,
                "target": image.target,
                "sha256": image.facts.sha256,
                "created": image.created,
            }
            for image in state.store.images()
        ]
        return JSONResponse({"images": listed})

    async def audit(request: Request) -> Response:
        try:
            rule = AuditRule.from_json(await _json_body(request))
        except FaultConfigError as exc:
            return _bad(exc)
        state.add_audit_rule(rule)
        return JSONResponse(dataclasses.asdict(rule))

    def clock_json() -> dict[str, Any]:
        return {"at": state.clock.fixed, "now": state.clock.now()}

    async def set_clock(request: Request) -> Response:
        try:
            body = await _json_body(request)
            # All or nothing, as the other settings: a typo must not leave real time on.
            if set(body) != {"at"}:
                raise FaultConfigError(f"the clock takes exactly one key 'at'; got {sorted(body)}")
            state.set_clock(body["at"])
        except FaultConfigError as exc:
            return _bad(exc)
        return JSONResponse(clock_json())

    async def get_clock(request: Request) -> Response:
        return JSONResponse(clock_json())

    async def set_settings(request: Request) -> Response:
        try:
            settings = state.set_settings(await _json_body(request))
        except FaultConfigError as exc:
            return _bad(exc)
        return JSONResponse(settings.to_json())

    async def get_settings(request: Request) -> Response:
        return JSONResponse(state.settings.to_json())

    async def expire(request: Request) -> Response:
        try:
            body = await _json_body(request)
            if set(body) != {"credential"}:
                raise FaultConfigError('the body must be {"credential": "<token or session>"}')
            state.expire(body["credential"])
        except FaultConfigError as exc:
            return _bad(exc)
        # The credential is not echoed back: a control answer is a log line too.
        return JSONResponse({"expired": len(state.settings.expired)})

    async def reset(request: Request) -> Response:
        state.reset()
        return JSONResponse({"reset": True})

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def image(request: Request) -> Response:
        key = request.path_params["key"]
        stored = state.store.get(key)
        if stored is not None:
            return Response(stored.data, media_type=stored.facts.content_type)
        # Images the world seeded were never uploaded; a replace stores over them (above).
        seeders = [e.seeded_keys for e in registry.emulators().values() if e.seeded_keys]
        if any(key in seeded(state.world) for seeded in seeders):
            return Response(seeded_png(key), media_type="image/png")
        return JSONResponse({"error": "no such image"}, status_code=404)

    return [
        Route("/_sandbox/faults", set_faults, methods=["POST"]),
        Route("/_sandbox/faults", get_faults, methods=["GET"]),
        Route("/_sandbox/limits", set_limits, methods=["POST"]),
        Route("/_sandbox/stats", stats, methods=["GET"]),
        Route("/_sandbox/requests", requests_log, methods=["GET"]),
        Route("/_sandbox/images", images, methods=["GET"]),
        Route("/_sandbox/audit", audit, methods=["POST"]),
        Route("/_sandbox/clock", set_clock, methods=["POST"]),
        Route("/_sandbox/clock", get_clock, methods=["GET"]),
        Route("/_sandbox/settings", set_settings, methods=["POST"]),
        Route("/_sandbox/settings", get_settings, methods=["GET"]),
        Route("/_sandbox/expire", expire, methods=["POST"]),
        Route("/_sandbox/reset", reset, methods=["POST"]),
        Route("/_sandbox/health", health, methods=["GET"]),
        Route(IMAGE_ROUTE + "/{key:path}", image, methods=["GET"]),
    ]
