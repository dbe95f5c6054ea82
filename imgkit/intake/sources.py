"""Downloading an image URL (a row's ``file`` that is an http(s) address) safely.

A URL source is fetched under the rules of every exchange (:mod:`imgkit.net.transport`: a
total deadline, a size cap, which here is the platform's largest upload), following at
most :data:`MAX_REDIRECTS` redirects, only over http(s) and only within the URL's own
host: a redirect elsewhere is refused with a plain-words error naming the host, so that a
batch never makes imgkit fetch from, or reveal its requests to, a place the user did not
write.  Errors are :class:`FetchError`, an :class:`imgkit.errors.ImgkitError` whose
message leaves out the URL's query (a signed URL carries its signature there).

:func:`fetch_source` is the engine's (through the run's :class:`imgkit.net.transport.Sender`),
:func:`fetch_sync` validation's and ``upload_one``'s (through a synchronous transport).

Example
-------
>>> wire = httpx.MockTransport(lambda request: httpx.Response(200, content=b"GIF89a"))
>>> fetch_sync(wire, "http://cdn.test/a.gif", 100, deadline_s=5)
b'GIF89a'
"""

from __future__ import annotations

import asyncio
import time

import httpx

from imgkit.errors import Category, ImgkitError
from imgkit.net.blocking import send_sync, wire_of
from imgkit.net.transport import AnswerTooLarge, Sender

MAX_REDIRECTS = 5
_REDIRECTS = (301, 302, 303, 307, 308)


class FetchError(ImgkitError):
    """An image URL that could not be downloaded; ``detail`` is the short cause (e.g.
    ``HTTP 404``), ``size`` a lower bound on the bytes of a too-large one."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "download_failed",
        detail: str = "",
        size: int = 0,
        category: Category = Category.INVALID_INPUT,
    ) -> None:
        super().__init__(message, category=category, code=code)
        self.detail = detail or code
        self.size = size


def _shown(url: httpx.URL) -> str:
    """``url`` without its query (a signed source URL carries its signature there)."""
    return str(url.copy_with(query=None, fragment=None))


def _failed(url: httpx.URL, en: str, zh: str, detail: str = "") -> FetchError:
    shown = _shown(url)
    return FetchError(f"cannot download {shown}: {en} / 无法下载 {shown}:{zh}", detail=detail)


def _start(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise FetchError(f"not a valid URL: {exc} / 图片地址无效", detail="invalid_url") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise _failed(parsed, "only http and https URLs are fetched", "只支持 http 和 https 地址")
    return parsed


def _after(original: httpx.URL, current: httpx.URL, response: httpx.Response) -> bytes | httpx.URL:
    """The image bytes of ``response``, or the URL it redirects to (if allowed)."""
    status = response.status_code
    location = response.headers.get("location")
    if status in _REDIRECTS and location:
        try:
            target = current.join(location)
        except httpx.InvalidURL as exc:
            raise _failed(current, "it redirected to an invalid URL", "重定向地址无效") from exc
        if target.scheme not in ("http", "https") or target.host != original.host:
            where = target.host or target.scheme
            raise FetchError(
                f"{_shown(original)} redirected to another host ({where}); imgkit follows "
                f"redirects only within {original.host} / 图片地址重定向到其他主机 {where},"
                f"只允许在 {original.host} 内重定向",
                code="redirect_refused",
            )
        return target
    if status != 200:
        raise _failed(
            current,
            f"the server answered HTTP {status}",
            f"服务器返回 HTTP {status}",
            detail=f"HTTP {status}",
        )
    return response.content


def _translated(exc: httpx.HTTPError, url: httpx.URL, limit: int, deadline_s: float) -> FetchError:
    if isinstance(exc, AnswerTooLarge):
        return FetchError(
            f"{_shown(url)} is larger than {limit} bytes / 图片超过 {limit} 字节",
            code="file_too_large",
            category=Category.TOO_LARGE,
            size=limit + 1,
        )
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return _failed(url, "could not connect", "无法连接服务器", type(exc).__name__)
    if isinstance(exc, httpx.TimeoutException):
        return _timed_out(url, deadline_s)
    return _failed(url, "the connection failed", "连接失败", type(exc).__name__)


def _timed_out(url: httpx.URL, deadline_s: float) -> FetchError:
    return _failed(
        url,
        f"no complete answer within {deadline_s:g} s",
        f"{deadline_s:g} 秒内未下载完成",
        "timeout",
    )


def _too_many(url: httpx.URL) -> FetchError:
    return FetchError(
        f"{_shown(url)}: more than {MAX_REDIRECTS} redirects / 重定向超过 {MAX_REDIRECTS} 次",
        code="redirect_refused",
    )


_HEADERS = {"User-Agent": "imgkit", "Accept": "image/*, */*"}


async def fetch_source(sender: Sender, url: str, limit: int) -> bytes:
    """Download an http(s) image source through ``sender``: at most ``limit`` bytes, within
    the sender's deadline (all redirects included), following at most
    :data:`MAX_REDIRECTS` redirects and only within the URL's host.

    Raises :class:`FetchError` (an :class:`imgkit.errors.ImgkitError`) with code
    ``download_failed``, ``redirect_refused`` or ``file_too_large``.

    >>> def served(request):
    ...     if request.url.path == "/a.jpg":
    ...         return httpx.Response(302, headers={"location": "/b.jpg"})
    ...     return httpx.Response(200, content=b"JPEG")
    >>> async def main():
    ...     async with Sender(1, transport=httpx.MockTransport(served)) as sender:
    ...         return await fetch_source(sender, "http://cdn.test/a.jpg", 100)
    >>> asyncio.run(main())
    b'JPEG'
    """
    original = current = _start(url)
    try:
        async with asyncio.timeout(sender.deadline_s):
            for _ in range(MAX_REDIRECTS + 1):
                request = httpx.Request("GET", current, headers=_HEADERS)
                step = _after(original, current, await sender.send(request, max_answer_bytes=limit))
                if isinstance(step, bytes):
                    return step
                current = step
    except TimeoutError as exc:
        raise _timed_out(current, sender.deadline_s) from exc
    except httpx.HTTPError as exc:
        raise _translated(exc, current, limit, sender.deadline_s) from exc
    raise _too_many(original)


def fetch_sync(
    client: httpx.Client | httpx.BaseTransport, url: str, limit: int, *, deadline_s: float
) -> bytes:
    """:func:`fetch_source` for synchronous code: through ``client``'s transport (never its
    URL-logging ``send``), within ``deadline_s`` for the whole download.

    >>> away = httpx.Response(301, headers={"location": "http://evil.test/"})
    >>> wire = httpx.MockTransport(lambda request: away)
    >>> try:
    ...     fetch_sync(wire, "http://cdn.test/a.jpg", 100, deadline_s=5)
    ... except FetchError as exc:
    ...     print(exc.code)
    redirect_refused
    """
    original = current = _start(url)
    end = time.monotonic() + deadline_s
    for _ in range(MAX_REDIRECTS + 1):
        left = end - time.monotonic()
        if left <= 0:
            raise _timed_out(current, deadline_s)
        request = httpx.Request("GET", current, headers=_HEADERS)
        try:
            response = send_sync(
                wire_of(client, current),
                request,
                timeout=left,
                deadline_s=left,
                max_answer_bytes=limit,
            )
        except httpx.HTTPError as exc:
            raise _translated(exc, current, limit, deadline_s) from exc
        step = _after(original, current, response)
        if isinstance(step, bytes):
            return step
        current = step
    raise _too_many(original)
