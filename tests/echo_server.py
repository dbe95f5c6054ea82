"""A test helper: an HTTP server on 127.0.0.1 that answers every request with itself.

Some proxies and misconfigured gateways answer with the request they received: its request
line (the query, with TOP's ``session`` or Qianmi's ``access_token``), its headers (the
vv-tool bearer token), its body (vv-tool's client secret).  :class:`EchoServer` plays one,
so that tests can check that none of it comes out of imgkit.

The echo (:func:`echo_text`) holds the request line, every header, the query and the form
or multipart text fields decoded, and the raw body in base64.  Its *shape* (how it is
wrapped) is chosen per request, by path or by request count (:attr:`EchoServer.shape`):

``json``
    ``200`` with ``{"message", "msg", "sub_msg", "error_description"}`` all holding the
    echo: no platform's envelope, so an adapter judges it by its status.
``html``
    ``502`` with an HTML page (the echo HTML-escaped in a ``<pre>``).
``text``
    ``400`` with the echo as plain text.
``envelope``
    ``200`` with the platform's own error envelope (picked by path) and the echo as its
    message: TOP ``error_response{code,msg,sub_code,sub_msg}``, vv-tool ``{code,msg}``,
    Douyin ``{code,message,sub_code,sub_msg}``, Qianmi ``{errorToken,code,message,
    subErrors}``.
``success``
    ``200`` with the platform's success answer, the echo in an extra member of the image
    object (what an adapter keeps as ``raw``).

vv-tool's token path (``/api/proxy/oauth/token``) answers with :attr:`EchoServer.token`
unless :attr:`EchoServer.token_shape` names a shape, so that the bearer token travels.

Example
-------
>>> import httpx
>>> with EchoServer(shape="text") as echo:
...     answer = httpx.post(echo.base_url + "/x?session=abc", data={"k": "v"})
>>> answer.status_code, answer.text.splitlines()[0], echo.count
(400, 'POST /x?session=abc HTTP/1.1', 1)
"""

from __future__ import annotations

import base64
import html
import json
import threading
from collections.abc import Callable, Sequence
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

TOKEN_PATH = "/api/proxy/oauth/token"
SHAPES = ("json", "html", "text", "envelope", "success")
Shape = str | Sequence[str] | Callable[[int, str], str]


def _form_fields(content_type: str, body: bytes) -> list[tuple[str, str]]:
    """The text fields of a form or multipart body, decoded (file parts left out)."""
    if content_type.startswith("application/x-www-form-urlencoded"):
        return parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    if not content_type.startswith("multipart/"):
        return []
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    fields = []
    for part in message.iter_parts():
        if part.get_filename() is None:
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                fields.append(
                    (
                        str(part.get_param("name", header="content-disposition")),
                        payload.decode("utf-8", "replace"),
                    )
                )
    return fields


def echo_text(request_line: str, headers: Sequence[tuple[str, str]], body: bytes) -> str:
    """The echo of one request: what it was, decoded where it is text.

    >>> print(echo_text("POST /p?a=%E4%B8%AD HTTP/1.1", [("Host", "h")], b"x=1"))
    POST /p?a=%E4%B8%AD HTTP/1.1
    Host: h
    query: a=中
    body: x=1
    body (base64): eD0x
    """
    target = request_line.split(" ")[1] if " " in request_line else ""
    lines = [request_line, *(f"{name}: {value}" for name, value in headers)]
    query = parse_qsl(urlsplit(target).query, keep_blank_values=True)
    if query:
        lines.append("query: " + "&".join(f"{k}={v}" for k, v in query))
    content_type = dict((k.lower(), v) for k, v in headers).get("content-type", "")
    fields = _form_fields(content_type, body)
    if fields:
        lines.append("form: " + "&".join(f"{k}={v}" for k, v in fields))
    elif body:
        lines.append("body: " + body.decode("utf-8", "replace"))
    if body:
        lines.append("body (base64): " + base64.b64encode(body).decode("ascii"))
    return "\n".join(lines)


def envelope(path: str, echo: str) -> dict[str, Any]:
    """The platform's error envelope for ``path``, with ``echo`` as its message."""
    if path.startswith("/router/rest"):  # TOP: tmall_item, taobao_miniapp
        return {
            "error_response": {
                "code": 15,
                "msg": "Remote service error",
                "sub_code": "isv.echo-proxy",
                "sub_msg": echo,
            }
        }
    if path.startswith("/tool/erps/"):  # vv-tool
        return {"code": 100, "msg": echo, "data": None}
    if path.startswith("/gateway/dd/"):  # Douyin via fw199
        return {"code": 50002, "message": "业务处理失败", "sub_code": "isv.echo", "sub_msg": echo}
    if path.startswith(TOKEN_PATH):
        return {"code": 401, "msg": echo}
    return {  # Qianmi (QMOP), root-level error
        "errorToken": "echo",
        "code": "9",
        "message": echo,
        "subErrors": {"subError": [{"code": "isv.echo", "message": echo}]},
    }


def success(path: str, query: str, echo: str) -> dict[str, Any]:
    """The platform's success answer for ``path``, the echo inside the image object."""
    url = "http://127.0.0.1/echo/image.jpg"
    if path.startswith("/router/rest"):
        method = dict(parse_qsl(query)).get("method", "")
        if "miniapp" in method:
            model = {"path": url, "pic_id": 7, "echo": echo}
            return {
                "miniapp_trade_picture_upload_response": {
                    "result": {"success": True, "model": model}
                }
            }
        return {"item_img_upload_tmall_response": {"item_img": {"id": 7, "url": url, "echo": echo}}}
    if path.startswith("/tool/erps/"):
        picture = {"picture_id": 7, "picture_path": url, "echo": echo}
        return {
            "code": 0,
            "msg": "success",
            "data": {"picture_upload_response": {"picture": picture}},
        }
    if path.startswith("/gateway/dd/"):
        info = {"material_id": "7", "audit_status": 3, "byte_url": url, "echo": echo}
        return {"code": 0, "data": {"material_info": info}}
    return {"sku_image_upload_response": {"sku_img": {"id": 7, "url": url, "echo": echo}}}


def answer(shape: str, path: str, query: str, echo: str) -> tuple[int, str, bytes]:
    """``(status, content type, body)`` of ``shape`` for a request to ``path``."""
    if shape == "json":
        keys = ("message", "msg", "sub_msg", "error_description")
        return 200, "application/json", json.dumps(dict.fromkeys(keys, echo)).encode()
    if shape == "html":
        page = f"<html><body><h1>502 Bad Gateway</h1><pre>{html.escape(echo)}</pre></body></html>"
        return 502, "text/html; charset=utf-8", page.encode()
    if shape == "text":
        return 400, "text/plain; charset=utf-8", echo.encode()
    if shape == "envelope":
        return 200, "application/json", json.dumps(envelope(path, echo)).encode()
    if shape == "success":
        return 200, "application/json", json.dumps(success(path, query, echo)).encode()
    raise ValueError(f"unknown echo shape {shape!r}")


class EchoServer:
    """The echoing server, on ``127.0.0.1`` at a free port, in a thread.

    ``shape``: one of :data:`SHAPES`, a sequence of them by request count (the last one
    repeats), or ``f(count, path) -> shape``.  ``requests`` keeps ``(request line, echo)``
    of every request answered, so a test can check that a secret did travel.
    """

    def __init__(
        self, shape: Shape = "json", *, token: str = "echo-token-123456", token_shape: str = ""
    ) -> None:
        self.shape: Shape = shape
        self.token = token
        self.token_shape = token_shape
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                server._handle(self)

            do_GET = do_PUT = do_POST

            def log_message(self, format: str, *args: Any) -> None:
                pass  # no noise on stderr

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def count(self) -> int:
        """Requests answered so far."""
        return len(self.requests)

    def shape_for(self, count: int, path: str) -> str:
        """The shape of the ``count``-th request (from 0), to ``path``."""
        shape = self.shape
        if callable(shape):
            return shape(count, path)
        if isinstance(shape, str):
            return shape
        return shape[min(count, len(shape) - 1)]

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        echo = echo_text(handler.requestline, list(handler.headers.items()), body)
        parts = urlsplit(handler.path)
        with self._lock:
            count = len(self.requests)
            self.requests.append((handler.requestline, echo))
        if parts.path == TOKEN_PATH and not self.token_shape:
            data = {"access_token": self.token, "expires_in": 7200}
            status, ctype, content = (
                200,
                "application/json",
                json.dumps({"code": 0, "msg": "success", "data": data}).encode(),
            )
        else:
            shape = (
                self.token_shape if parts.path == TOKEN_PATH else self.shape_for(count, parts.path)
            )
            status, ctype, content = answer(shape, parts.path, parts.query, echo)
        handler.send_response(status)
        handler.send_header("Content-Type", ctype)
        handler.send_header("Content-Length", str(len(content)))
        handler.end_headers()
        handler.wfile.write(content)

    def start(self) -> EchoServer:
        """Start serving; returns the server."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> EchoServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
