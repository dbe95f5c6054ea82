"""The synchronous side of the wire: :class:`imgkit.net.transport.Sender`'s rules for
synchronous httpx transports, for ``upload_one`` and validation's downloads.

:func:`send_sync` sends one request through a synchronous transport with a total deadline
and a cap on the answer, never through ``httpx.Client.send`` (its logger prints every URL,
signed query strings and tokens with it).  :class:`SyncWire` offers it as the
:class:`imgkit.engine.exchange.Wire` an exchange sends through, so ``upload_one`` makes its
exchanges with the engine's own :func:`imgkit.engine.exchange.call`.

Example
-------
>>> import asyncio
>>> mock = httpx.MockTransport(lambda request: httpx.Response(200, text="ok"))
>>> wire = SyncWire(mock, timeout=5.0)
>>> asyncio.run(wire.send(httpx.Request("GET", "http://x.test/"))).text
'ok'
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from imgkit.net.answers import MAX_ANSWER_BYTES, AnswerTooLarge, too_large

# The thread's own deadline fires first; the wait for it ends this much later, so that the
# thread's (which knows whether anything was sent) wins the race.
_GRACE_S = 1.0


class SyncWire:
    """``client`` (an ``httpx.Client``, whose mounts and proxies are honoured, or a
    synchronous transport) as an exchange's wire, under :func:`send_sync`'s rules.

    ``timeout`` bounds each phase, ``deadline_s`` the whole exchange (default twice
    ``timeout``).  ``send`` blocks its event loop: it is meant for the private loop of one
    synchronous call.
    """

    def __init__(
        self,
        client: httpx.Client | httpx.BaseTransport,
        *,
        timeout: float = 60.0,
        deadline_s: float | None = None,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        self.client = client
        self.timeout = timeout
        self.deadline_s = 2.0 * timeout if deadline_s is None else deadline_s
        self.max_answer_bytes = max_answer_bytes

    async def send(
        self, request: httpx.Request, *, max_answer_bytes: int | None = None
    ) -> httpx.Response:
        """Send ``request``; the response comes back read."""
        cap = self.max_answer_bytes if max_answer_bytes is None else max_answer_bytes
        return send_sync(
            wire_of(self.client, request.url),
            request,
            timeout=self.timeout,
            deadline_s=self.deadline_s,
            max_answer_bytes=cap,
        )


def send_sync(
    wire: httpx.BaseTransport,
    request: httpx.Request,
    *,
    timeout: float = 60.0,
    deadline_s: float | None = None,
    max_answer_bytes: int = MAX_ANSWER_BYTES,
) -> httpx.Response:
    """Send ``request`` through a synchronous transport under :class:`Sender`'s rules.

    The transport is used directly, never through ``httpx.Client.send``, whose logger
    prints every URL (signed query strings and tokens with it) at INFO.  Each phase gets
    at most ``timeout`` and at most what is left of ``deadline_s`` (default twice
    ``timeout``) when it starts; a dripping answer is cut off at the deadline
    (``httpx.ReadTimeout``), one over the cap raises :class:`AnswerTooLarge`.

    >>> wire = httpx.MockTransport(lambda request: httpx.Response(200, text="ok"))
    >>> send_sync(wire, httpx.Request("GET", "http://x.test/"), deadline_s=5).text
    'ok'
    """
    budget = 2.0 * timeout if deadline_s is None else deadline_s
    end = time.monotonic() + budget
    streams: list[Any] = []  # the connection's network stream, once connected
    sent = threading.Event()  # the request has started to leave

    def left() -> float:
        return max(min(timeout, end - time.monotonic()), 0.001)

    timeouts = {"connect": left(), "read": left(), "write": left(), "pool": left()}

    def trace(event: str, info: dict[str, Any]) -> None:
        # httpcore reads these timeouts as each phase starts, after announcing the phase.
        timeouts["read"] = timeouts["write"] = left()
        if event.endswith(("connect_tcp.complete", "start_tls.complete")):
            streams.append(info.get("return_value"))
        elif event.endswith("send_request_headers.started"):
            sent.set()

    request.extensions = {**request.extensions, "timeout": timeouts, "trace": trace}
    box: dict[str, Any] = {}

    def exchange() -> None:
        try:
            limits = (end, budget, max_answer_bytes)
            box["response"] = _exchange(wire, request, *limits, timeouts, left)
        except BaseException as exc:  # handed to the caller below
            box["error"] = exc

    # httpcore applies the read timeout to each receive, so headers dripped a byte at a
    # time would never end: the exchange runs in a thread the deadline can walk away from.
    worker = threading.Thread(target=exchange, name="imgkit-send", daemon=True)
    worker.start()
    worker.join(budget + _GRACE_S)
    if worker.is_alive():
        for stream in streams:  # unblock the thread: its socket is shut
            _shut(stream)
        if not sent.is_set():
            raise httpx.ConnectTimeout(f"not connected within {budget:g} s", request=request)
        raise httpx.ReadTimeout(f"no whole answer within {budget:g} s", request=request)
    if "error" in box:
        raise box["error"]
    response: httpx.Response = box["response"]
    return response


def _shut(stream: Any) -> None:
    """Shut a network stream's socket so that a thread blocked reading it wakes up."""
    sock = stream.get_extra_info("socket") if stream is not None else None
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _exchange(
    wire: httpx.BaseTransport,
    request: httpx.Request,
    end: float,
    budget: float,
    max_answer_bytes: int,
    timeouts: dict[str, float],
    left: Callable[[], float],
) -> httpx.Response:
    """The request sent and its answer read, under the cap and the deadline."""
    response = wire.handle_request(request)
    response.request = request
    try:
        if too_large(response, max_answer_bytes):
            raise AnswerTooLarge(max_answer_bytes, request=request)
        chunks: list[bytes] = []
        size = 0
        for part in response.iter_bytes():
            size += len(part)
            if size > max_answer_bytes:
                raise AnswerTooLarge(max_answer_bytes, request=request)
            chunks.append(part)
            if time.monotonic() >= end:
                raise httpx.ReadTimeout(f"no whole answer within {budget:g} s", request=request)
            timeouts["read"] = left()
        response._content = b"".join(chunks)  # what read() would have kept
    finally:
        response.close()  # a half-read answer's connection is dropped, not reused
    return response


def wire_of(client: httpx.Client | httpx.BaseTransport, url: httpx.URL) -> httpx.BaseTransport:
    """The transport ``client`` would send a request for ``url`` through (its mounts and
    proxies included), for :func:`send_sync`; a transport is its own."""
    if isinstance(client, httpx.Client):
        # Private, but the only way to honour a user's client without its URL logging.
        return client._transport_for_url(url)
    return client
