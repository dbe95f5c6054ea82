"""The path every API request takes through the sandbox, whatever the platform.

parse the body (a real multipart parser) → pick the platform → draw faults → latency →
HTTP 500 / drop before store / injected transient or rate-limit / forced error →
the platform's handler → drop after store (only if something was stored).

A platform module supplies a :class:`SandboxPlatform` (its failure catalogue and how it
renders a failure in its own envelope) and a handler ``async (Call) -> Response``.

Example
-------
>>> Upload("a.jpg", "image/jpeg", b"xyz").size
3
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from starlette.datastructures import UploadFile
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from imgkit.sandbox.drop import drop_connection
from imgkit.sandbox.failures import Failure, PlatformFailure
from imgkit.sandbox.imageinfo import ImageFacts
from imgkit.sandbox.state import RequestRecord, SandboxState
from imgkit.sandbox.store import StoredImage

MAX_BODY_PART = 64 * 1024 * 1024


@dataclass(frozen=True)
class Upload:
    """A file part of a request."""

    filename: str
    content_type: str
    data: bytes

    @property
    def size(self) -> int:
        """Length in bytes."""
        return len(self.data)


class MalformedRequest(Exception):
    """The body could not be parsed (broken multipart, bad encoding)."""


@dataclass
class Call:
    """One API request being served."""

    request: Request
    state: SandboxState
    params: dict[str, str]
    files: dict[str, Upload]
    platform: str = ""
    credential: str = ""
    stored: bool = False
    started: float = field(default_factory=time.monotonic)

    @property
    def base_url(self) -> str:
        """Scheme, host and port the client used, for building image URLs."""
        return str(self.request.base_url).rstrip("/")

    @property
    def client_ip(self) -> str:
        """The peer address as the server sees it."""
        return self.request.client.host if self.request.client else ""

    def keep(
        self,
        shop: str,
        target: str,
        upload: Upload,
        facts: ImageFacts,
        *,
        replace: bool = False,
        key: str | None = None,
    ) -> StoredImage:
        """Store ``upload`` for this call's platform; a later drop fault then applies."""
        image = self.state.keep(
            self.platform, shop, target, upload.data, facts, replace=replace, key=key
        )
        self.stored = True
        return image

    def param(self, name: str) -> str:
        """A text parameter, stripped; empty when absent."""
        return self.params.get(name, "").strip()


class SandboxPlatform(ABC):
    """What the pipeline needs to know of a platform."""

    key: str
    failures: Mapping[str, Failure]
    # Catalogue keys used for injected faults.
    transient_failure: str
    rate_limited_failure: str
    malformed_failure: str

    @abstractmethod
    def render(self, call: Call, failure: PlatformFailure) -> Response:
        """The platform's own error answer for ``failure``."""

    def http_500(self) -> Response:
        """What a front proxy answers when the backend breaks (sandbox convention)."""
        return JSONResponse({"error": "Internal Server Error"}, status_code=500)

    def fail(self, key: str, **fields: object) -> PlatformFailure:
        """The exception answering with catalogue entry ``key``."""
        return PlatformFailure(self.failures[key], **fields)


async def parse_call(request: Request, state: SandboxState) -> Call:
    """Merge query-string and body parameters (body wins) and collect file parts."""
    params: dict[str, str] = dict(request.query_params)
    files: dict[str, Upload] = {}
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        _refuse_truncated_multipart(content_type, await request.body())
        try:
            form = await request.form(max_files=100, max_fields=1000, max_part_size=MAX_BODY_PART)
        except Exception as exc:  # the one place parser errors of any kind are mapped
            raise MalformedRequest(str(exc)) from exc
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                data = await value.read()
                files[name] = Upload(value.filename or "", value.content_type or "", data)
            else:
                params[name] = value
        await form.close()
    else:
        await request.body()
    return Call(request=request, state=state, params=params, files=files)


def _refuse_truncated_multipart(content_type: str, body: bytes) -> None:
    # python-multipart reads a body cut short as a shorter form; a server would not.
    if not content_type.startswith("multipart/form-data"):
        return
    boundary = content_type.partition("boundary=")[2].split(";")[0].strip().strip('"')
    if not boundary or f"--{boundary}--".encode() not in body:
        raise MalformedRequest("multipart body without its closing boundary")


Handler = Callable[[Call], Awaitable[Response]]


async def handle(
    request: Request, state: SandboxState, platform: SandboxPlatform, handler: Handler
) -> Response:
    """Parse ``request`` and serve it; an unparseable body gets the platform's own refusal."""
    try:
        call = await parse_call(request, state)
    except MalformedRequest as exc:
        call = Call(request=request, state=state, params=dict(request.query_params), files={})
        return await serve(call, platform, refuse(platform, platform.malformed_failure, str(exc)))
    except ClientDisconnect:
        return Response(status_code=499)  # the client is gone: nobody to answer
    return await serve(call, platform, handler)


def refuse(platform: SandboxPlatform, key: str, detail: str = "") -> Handler:
    """A handler that always answers with catalogue entry ``key``."""

    async def handler(call: Call) -> Response:
        raise platform.fail(key, name="body", detail=detail)

    return handler


async def serve(call: Call, platform: SandboxPlatform, handler: Handler) -> Response:
    """Run ``handler`` for ``call`` with the active faults applied and stats recorded."""
    state = call.state
    call.platform = platform.key
    with state.lock:
        stats = state.platform_stats(platform.key)
        stats.requests += 1
        decision = state.faults.decide(platform.key)
    if decision.latency_s:
        await asyncio.sleep(decision.latency_s)
    if decision.http_500:
        _count_fault(call, "http_500")
        return platform.http_500()
    if decision.drop_before_store:
        _count_fault(call, "drop_before_store")
        await drop_connection(call.request)
        return Response(status_code=499)
    try:
        if decision.transient:
            _count_fault(call, "transient")
            raise platform.fail(platform.transient_failure)
        if decision.rate_limited:
            _count_fault(call, "rate_limited")
            raise platform.fail(platform.rate_limited_failure, seconds=1)
        if decision.forced is not None:
            _count_fault(call, "forced")
            raise platform.fail(decision.forced, seconds=1, name="forced")
        response = await handler(call)
        _log(call, "ok")
    except PlatformFailure as failure:
        with state.lock:
            stats.rejections[failure.failure.label] += 1
        _log(call, failure.failure.label)
        response = platform.render(call, failure)
    if decision.drop_after_store and call.stored:
        _count_fault(call, "drop_after_store")
        await drop_connection(call.request)
    return response


def _count_fault(call: Call, name: str) -> None:
    with call.state.lock:
        call.state.platform_stats(call.platform).faults[name] += 1
    _log(call, f"fault:{name}")


def _log(call: Call, outcome: str) -> None:
    with call.state.lock:
        call.state.requests.append(
            RequestRecord(time.time(), call.platform, call.credential, outcome)
        )
