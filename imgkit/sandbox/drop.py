"""Closing a connection without answering: the ``drop_before_store`` / ``drop_after_store`` faults.

ASGI has no way for an app to hang up on a client, so the sandbox's own server (see
:mod:`imgkit.sandbox.server`) uses a uvicorn protocol that lends the app its transport
through a context variable.  In-process (``httpx.ASGITransport``) there is no socket:
:class:`ConnectionDropped` is raised instead, and :func:`asgi_transport` turns it into the
same ``httpx.RemoteProtocolError`` a real client sees.

Example
-------
>>> import httpx
>>> isinstance(asgi_transport(lambda *a: None), httpx.AsyncBaseTransport)
True
"""

from __future__ import annotations

import asyncio
from contextvars import ContextVar
from typing import Any

import httpx
from starlette.requests import Request
from uvicorn.protocols.http.h11_impl import H11Protocol

_TRANSPORT: ContextVar[asyncio.Transport | None] = ContextVar(
    "imgkit_sandbox_transport", default=None
)


class ConnectionDropped(Exception):
    """Raised in-process where a real server would have hung up."""


class DroppingH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, lending each request's task the connection's transport."""

    def data_received(self, data: bytes) -> None:
        # The request task is created inside this call and copies the current context.
        _TRANSPORT.set(self.transport)
        super().data_received(data)


async def drop_connection(request: Request) -> None:
    """Hang up on the client of ``request`` without sending a byte of response.

    Returns once the server has noticed, so the caller's response is discarded silently.
    """
    transport = _TRANSPORT.get()
    if transport is None or transport.is_closing():
        raise ConnectionDropped("the sandbox dropped the connection")
    transport.abort()
    await request.receive()  # resolves with http.disconnect once uvicorn saw the abort


class _DroppingASGITransport(httpx.ASGITransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except ConnectionDropped as exc:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            ) from exc


def asgi_transport(
    app: Any, client: tuple[str, int] = ("127.0.0.1", 123)
) -> httpx.AsyncBaseTransport:
    """An in-process httpx transport for the sandbox app that maps drops like a socket would."""
    return _DroppingASGITransport(app=app, client=client)
