"""The run's asynchronous transport offered to synchronous code (validation's downloads).

``upload(transport=...)`` replaces the network for a whole run, an in-process sandbox
(``Sandbox.asgi_transport()``) say.  Validation runs before the run's event loop sends
anything and downloads URL sources with synchronous code
(:func:`imgkit.intake.sources.fetch_sync`); :class:`AsyncBridge` lets those downloads go
through the same transport, so a URL source is fetched from where the run sends, never from
the real network behind the caller's back.

The async transport runs on the run's own event loop (validation runs in a worker thread
while that loop waits for it), so its connections stay on the loop that made them; without a
loop it gets a private one in a thread. The answer's body comes back chunk by chunk (never
read whole first), so the download cap and deadline of
:func:`imgkit.net.blocking.send_sync` still hold.

Example
-------
>>> async def served(request):
...     return httpx.Response(200, content=b"GIF89a")
>>> with AsyncBridge(httpx.MockTransport(served)) as bridge:
...     response = bridge.handle_request(httpx.Request("GET", "http://cdn.test/a.gif"))
...     response.read()
b'GIF89a'
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from types import TracebackType
from typing import Any, TypeVar

import httpx

T = TypeVar("T")


class AsyncBridge(httpx.BaseTransport):
    """A synchronous httpx transport that sends through an asynchronous one.

    Parameters
    ----------
    transport : httpx.AsyncBaseTransport
        The run's transport; it is not closed here (the run owns it).
    loop : asyncio.AbstractEventLoop, optional
        The running loop the transport belongs to; the bridge must then be used from
        another thread.  Default: a private loop in a thread of the bridge's own.

    Examples
    --------
    >>> async def served(request):
    ...     return httpx.Response(204)
    >>> bridge = AsyncBridge(httpx.MockTransport(served))
    >>> bridge.handle_request(httpx.Request("GET", "http://x.test/")).status_code
    204
    >>> bridge.close()
    """

    def __init__(
        self, transport: httpx.AsyncBaseTransport, loop: asyncio.AbstractEventLoop | None = None
    ) -> None:
        self._transport = transport
        self._thread: threading.Thread | None = None
        if loop is None:
            loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=loop.run_forever, name="imgkit-bridge")
            self._thread.daemon = True
            self._thread.start()
        self._loop = loop
        self._closed = False

    def _run(self, step: Coroutine[Any, Any, T]) -> T:
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:  # waiting here would block the loop that must answer
            step.close()
            raise RuntimeError("an AsyncBridge cannot be used from its own loop's thread")
        return asyncio.run_coroutine_threadsafe(step, self._loop).result()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``; the body streams back through the bridge's loop."""
        if self._closed:
            raise httpx.ConnectError("the run's transport is closed", request=request)
        answer = self._run(self._transport.handle_async_request(_async_traced(request)))
        return httpx.Response(
            answer.status_code,
            headers=answer.headers,
            stream=_Chunks(self, answer),
            extensions=answer.extensions,
            request=request,
        )

    def close(self) -> None:
        """Stop the bridge's loop (the wrapped transport stays open for the run)."""
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:  # the private loop: the run's own is the run's to stop
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()

    def __enter__(self) -> AsyncBridge:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None = None,
        value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        self.close()


class _Chunks(httpx.SyncByteStream):
    """An async answer's body, pulled one chunk at a time through the bridge's loop."""

    def __init__(self, bridge: AsyncBridge, answer: httpx.Response) -> None:
        self._bridge = bridge
        self._answer = answer

    def __iter__(self) -> Iterator[bytes]:
        stream = self._answer.stream
        assert isinstance(stream, httpx.AsyncByteStream)
        chunks = stream.__aiter__()
        while True:
            try:
                chunk = self._bridge._run(_next(chunks))
            except StopAsyncIteration:
                return
            yield chunk

    def close(self) -> None:
        stream = self._answer.stream
        if isinstance(stream, httpx.AsyncByteStream) and not self._bridge._closed:
            self._bridge._run(stream.aclose())


def _async_traced(request: httpx.Request) -> httpx.Request:
    """``request`` with its synchronous ``trace`` callback (set by
    :func:`imgkit.net.blocking.send_sync` to watch the connection) wrapped for httpcore's
    asynchronous interface, which refuses a plain function."""
    trace = request.extensions.get("trace")
    if trace is None or asyncio.iscoroutinefunction(trace):
        return request

    async def traced(event: str, info: dict[str, Any]) -> None:
        trace(event, info)

    request.extensions = {**request.extensions, "trace": traced}
    return request


async def _next(chunks: Any) -> bytes:
    chunk: bytes = await chunks.__anext__()
    return chunk
