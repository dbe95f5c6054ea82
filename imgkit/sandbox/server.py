"""Run the sandbox as a real HTTP server on a loopback port.

Example
-------
>>> import httpx
>>> with Sandbox() as sb:
...     httpx.get(sb.base_url + "/_sandbox/health").json()
{'ok': True}
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import httpx
import uvicorn

from imgkit.sandbox.app import create_app
from imgkit.sandbox.drop import (
    DEFAULT_BODY_TIMEOUT_S,
    DEFAULT_HEADER_TIMEOUT_S,
    MAX_BODY_BYTES,
    ServerLimits,
    asgi_transport,
    protocol_class,
)
from imgkit.sandbox.shops import sandbox_shops
from imgkit.sandbox.state import SandboxState
from imgkit.sandbox.world import World

LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 8765


class SandboxError(RuntimeError):
    """The sandbox server could not start."""


class Sandbox:
    """The sandbox app served by uvicorn in a background thread (or the foreground).

    ``port=0`` picks a free port.  ``state`` is the live memory: set faults, read stats or
    reset from Python through it, or through the HTTP endpoints under ``/_sandbox/``.

    Like a real gateway the server refuses request bodies over ``max_body_bytes`` with
    HTTP 413, and closes connections whose request head has not arrived within
    ``header_timeout_s`` of the connection (or of the first byte of a keep-alive request)
    or whose body stalls for ``body_timeout_s``.

    Parameters
    ----------
    host, port
        Where to listen (``port=0``: a free port, read from :attr:`port` once started).
    state, world
        The sandbox's memory, or the world (shops, products) to make it from.
    log_level
        uvicorn's log level.
    max_body_bytes, header_timeout_s, body_timeout_s
        The gateway limits above.

    Examples
    --------
    >>> import imgkit
    >>> batch = imgkit.read_batch("sample_data/batch.csv").head(2)
    >>> with Sandbox() as sb:
    ...     with sb.client() as http:
    ...         health = http.get("/_sandbox/health").json()
    ...     out = imgkit.upload(batch, shops=sb.shops, journal=False, progress=False)
    ...     served_here = out["url"].str.startswith(sb.base_url).all()
    >>> health, out["status"].tolist(), bool(served_here)
    ({'ok': True}, ['uploaded', 'uploaded'], True)
    """

    def __init__(
        self,
        *,
        host: str = LOOPBACK,
        port: int = 0,
        state: SandboxState | None = None,
        world: World | None = None,
        log_level: str = "warning",
        max_body_bytes: int = MAX_BODY_BYTES,
        header_timeout_s: float = DEFAULT_HEADER_TIMEOUT_S,
        body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S,
    ) -> None:
        if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int):
            raise ValueError(f"max_body_bytes must be a whole number, got {max_body_bytes!r}")
        if max_body_bytes < 1 or not header_timeout_s > 0 or not body_timeout_s > 0:
            raise ValueError("max_body_bytes and the timeouts must be positive")
        self.limits = ServerLimits(max_body_bytes, float(header_timeout_s), float(body_timeout_s))
        self.state = state or SandboxState(world)
        self.app = create_app(self.state)
        self.host = host
        self._requested_port = port
        self._log_level = log_level
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    def __repr__(self) -> str:
        where = self.base_url if self._socket else "not started"
        return f"<Sandbox {where}>"

    # --- life cycle -------------------------------------------------------------------------

    def _bind(self) -> socket.socket:
        # IPPROTO_TCP (not 0) so asyncio sets TCP_NODELAY on accepted connections: without
        # it Nagle's algorithm and delayed ACKs add ~40 ms to every keep-alive request.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self._requested_port))
        except OSError as exc:
            sock.close()
            raise SandboxError(
                f"cannot listen on {self.host}:{self._requested_port}: {exc.strerror}"
            ) from exc
        sock.listen(2048)
        sock.set_inheritable(True)
        return sock

    def _make_server(self) -> uvicorn.Server:
        config = uvicorn.Config(
            self.app,
            http=protocol_class(self.limits),
            lifespan="off",
            log_level=self._log_level,
            access_log=False,
            timeout_keep_alive=30,
        )
        return uvicorn.Server(config)

    def start(self, timeout_s: float = 10.0) -> Sandbox:
        """Start serving in a daemon thread; returns once the port accepts connections."""
        if self._thread is not None:
            return self
        self._socket = self._bind()
        self._server = self._make_server()
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name=f"imgkit-sandbox-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise SandboxError("the sandbox server did not start")
            time.sleep(0.005)
        return self

    def serve_forever(self, on_ready: Callable[[Sandbox], None] | None = None) -> None:
        """Serve in the foreground until interrupted (used by ``imgkit sandbox``).

        ``on_ready`` is called once the port is bound, before the first request.
        """
        self._socket = self._bind()
        self._server = self._make_server()
        if on_ready is not None:
            on_ready(self)
        try:
            self._server.run(sockets=[self._socket])
        finally:
            self._socket.close()

    def stop(self) -> None:
        """Stop the server and wait for its thread."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
            self._socket = None  # repr() reads the port of an open socket only
        self._thread = None
        self._server = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- what clients need ------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port served on (known once started)."""
        if self._socket is None:
            raise SandboxError("the sandbox is not started")
        return int(self._socket.getsockname()[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``: give this to clients as every shop's ``base_url``."""
        return f"http://{self.host}:{self.port}"

    @property
    def shops(self) -> dict[str, dict[str, str]]:
        """A shops configuration (one shop per platform and more) pointing at this server."""
        return sandbox_shops(self.base_url)

    def client(self, **kwargs: Any) -> httpx.Client:
        """An ``httpx.Client`` with ``base_url`` set to this server."""
        return httpx.Client(base_url=self.base_url, **kwargs)

    def asgi_transport(self) -> httpx.AsyncBaseTransport:
        """An in-process transport to the same app and state (no sockets)."""
        return asgi_transport(self.app)

    # --- control shortcuts --------------------------------------------------------------------

    def set_faults(self, **faults: Any) -> None:
        """Same as ``POST /_sandbox/faults`` with these keys."""
        self.state.set_faults(faults)

    def stats(self) -> dict[str, Any]:
        """Same as ``GET /_sandbox/stats``."""
        return self.state.stats()

    def reset(self) -> None:
        """Same as ``POST /_sandbox/reset``."""
        self.state.reset()
