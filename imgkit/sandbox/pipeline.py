"""The path every API request takes through the sandbox, whatever the platform.

parse the body (a real multipart parser) → pick the platform → draw faults → latency →
HTTP 500 / drop before store / injected transient or rate-limit / forced error →
the platform's handler → drop after store or an after-store lie (only if something was
stored) → the answer goes out, possibly dripped or never (the wire lies).

A platform module supplies a :class:`SandboxPlatform` (its failure catalogue and how it
renders a failure in its own envelope) and a handler ``async (Call) -> Response``.

Example
-------
>>> Upload("a.jpg", "image/jpeg", b"xyz").size
3
"""

from __future__ import annotations

import asyncio
import json
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from starlette.datastructures import UploadFile
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from imgkit.sandbox.drop import (
    DripBodyResponse,
    drip_headers,
    drop_connection,
    nginx_page,
    stay_silent,
)
from imgkit.sandbox.failures import Failure, PlatformFailure
from imgkit.sandbox.faults import FaultDecision
from imgkit.sandbox.forms import first_wins, query_items, read_form
from imgkit.sandbox.imageinfo import ImageFacts
from imgkit.sandbox.state import RequestRecord, SandboxState
from imgkit.sandbox.store import IMAGE_ROUTE, StoredImage

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
    stored_urls: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    # Wall-clock time the handler began serving the call: what the request log records, so
    # that it counts requests as the rate limits do (not when their answers were ready).
    served_at: float = field(default_factory=time.time)

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
        self.stored_urls.append(image.url(self.base_url))
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
    # Answers a request with another HTTP method than POST, in the platform's envelope.
    method_failure: str = "method_not_allowed"

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
    """Merge query-string and body parameters and collect file parts.

    As a Java servlet reads them (:mod:`imgkit.sandbox.forms`): the first value of a
    repeated name wins, the query string before the body; text must be UTF-8.
    """
    files: list[tuple[str, Upload]] = []
    try:
        items = query_items(request)
    except Exception as exc:
        raise MalformedRequest(str(exc)) from exc
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        _refuse_truncated_multipart(content_type, await request.body())
        try:
            form = await read_form(request, max_part_size=MAX_BODY_PART)
        except Exception as exc:  # the one place parser errors of any kind are mapped
            raise MalformedRequest(str(exc)) from exc
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                data = await value.read()
                files.append((name, Upload(value.filename or "", value.content_type or "", data)))
            else:
                items.append((name, value))
        await form.close()
    else:
        await request.body()
    params, by_name = first_wins(items), first_wins(files)
    return Call(request=request, state=state, params=params, files=by_name)


def malformed_call(request: Request, state: SandboxState) -> Call:
    """The call of a request whose body could not be read: its query string only."""
    params = first_wins(request.query_params.multi_items())
    return Call(request=request, state=state, params=params, files={})


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
        call = malformed_call(request, state)
        return await serve(call, platform, refuse(platform, platform.malformed_failure, str(exc)))
    except ClientDisconnect:
        return Response(status_code=499)  # the client is gone: nobody to answer
    return await serve(call, platform, handler)


OTHER_METHODS = ("GET", "PUT", "PATCH", "DELETE", "OPTIONS")
"""Methods the platforms' API paths refuse, in their own envelope (HEAD comes with GET)."""


def method_refusals(
    routes: Sequence[BaseRoute], platform: SandboxPlatform, state: SandboxState
) -> list[Route]:
    """Routes answering every method but POST on ``routes``' POST paths.

    A servlet answers a GET on a POST-only API in its platform's envelope (TOP's code 9,
    for instance), not with a framework's bare 405; so does the sandbox.
    """

    async def refusal(request: Request) -> Response:
        call = malformed_call(request, state)  # the query string only: no body is read
        return await serve(call, platform, refuse(platform, platform.method_failure))

    return [
        Route(route.path, refusal, methods=list(OTHER_METHODS))
        for route in routes
        if isinstance(route, Route) and "POST" in (route.methods or ())
    ]


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
    call.served_at = time.time()
    if decision.http_500:
        _count_fault(call, "http_500")
        return await _deliver(call, decision, platform.http_500())
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
    if decision.after_store_lie is not None and call.stored:
        lie = after_store_answer(
            decision.after_store_lie, response, call.stored_urls, call.base_url
        )
        if lie is not None:
            _count_fault(call, decision.after_store_lie)
            response = lie
    return await _deliver(call, decision, response)


async def _deliver(call: Call, decision: FaultDecision, response: Response) -> Response:
    # The wire lies come after the handler: the image is stored, the client cannot know.
    lie = decision.wire_lie
    if lie is None:
        return response
    _count_fault(call, lie)
    if lie == "silent":
        return await stay_silent(call.request, decision.silent_s)
    if lie == "drip_headers":
        return await drip_headers(response, decision.drip_interval_s)
    return DripBodyResponse(response, decision.drip_interval_s)


LOGIN_PAGE = (
    '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
    "<title>安全验证 / Security check</title></head>\n<body>\n"
    "<h1>请登录后继续访问 / Please sign in to continue</h1>\n"
    '<form method="post" action="/login"><input name="username">'
    '<input name="password" type="password"><button>登录 / Sign in</button></form>\n'
    "</body></html>\n"
)


def after_store_answer(
    lie: str, response: Response, stored_urls: list[str], base_url: str
) -> Response | None:
    """What a lying gateway answers instead of ``response`` once the image is stored.

    ``None`` when the lie cannot be told of this answer (no JSON to strip URLs from).

    >>> real = JSONResponse({"id": 7, "url": "http://h/img/x.jpg"})
    >>> after_store_answer("no_url_after_store", real, [], "http://h").body
    b'{"id":7}'
    >>> cut = after_store_answer("truncated_after_store", real, [], "http://h")
    >>> cut.body, cut.headers["content-length"]
    (b'{"id":7,"url":"ht', '17')
    """
    content_type = response.headers.get("content-type", "application/json")
    body = bytes(response.body)
    if lie == "gateway_504_after_store":
        page = nginx_page(504, "Gateway Time-out")
        return Response(page, status_code=504, media_type="text/html")
    if lie == "html_after_store":
        return Response(LOGIN_PAGE, media_type="text/html")
    if lie == "empty_after_store":
        return Response(b"", headers={"content-type": content_type})
    if lie == "truncated_after_store":
        return Response(body[: len(body) // 2], headers={"content-type": content_type})
    try:
        document = json.loads(body)
    except ValueError:
        return None
    stripped = strip_urls(document, stored_urls, f"{base_url.rstrip('/')}{IMAGE_ROUTE}/")
    text = json.dumps(stripped, ensure_ascii=False, separators=(",", ":"))
    return Response(text.encode(), headers={"content-type": content_type})


def strip_urls(value: object, urls: list[str], prefix: str) -> object:
    """``value`` without the members (and list items) that are image URLs.

    >>> strip_urls({"id": 1, "pic": {"url": "http://h/img/a", "n": [1, "http://h/img/b"]}},
    ...            [], "http://h/img/")
    {'id': 1, 'pic': {'n': [1]}}
    """

    def is_url(item: object) -> bool:
        return isinstance(item, str) and (
            item.startswith(prefix) or any(url in item for url in urls)
        )

    if isinstance(value, dict):
        return {k: strip_urls(v, urls, prefix) for k, v in value.items() if not is_url(v)}
    if isinstance(value, list):
        return [strip_urls(v, urls, prefix) for v in value if not is_url(v)]
    return value


def _count_fault(call: Call, name: str) -> None:
    with call.state.lock:
        call.state.platform_stats(call.platform).faults[name] += 1
    _log(call, f"fault:{name}")


def _log(call: Call, outcome: str) -> None:
    with call.state.lock:
        call.state.requests.append(
            RequestRecord(call.served_at, call.platform, call.credential, outcome)
        )
