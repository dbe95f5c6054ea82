"""The fw199 gateway to the Douyin shop material centre (``doudian``), over real loopback HTTP.

Requests are built only with ``spec_clients`` (written from ``docs/protocols.md``, Douyin), so
these tests hold the sandbox to the written protocol: signing, Unix-second
timestamps, the ``material_info`` answer with the seed's ``materil_name`` spelling, the
asynchronous audit, ``need_distinct``, the limits, folders, URL downloads (loopback only) and
every entry of the failure catalogue.  One test drives imgkit's own adapter instead, on
purpose: that it uploads and polls audits in the alternative ``flat_data`` answer shape.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import pandas as pd
import pytest
from spec_clients import (
    FW199_UPLOAD_PATH,
    build_fw199_upload_request,
    fw199_detail,
    fw199_sign,
    fw199_upload,
    make_bmp,
    make_gif,
    make_jpeg,
    make_png,
    make_webp,
    unix_now,
)

import imgkit
from imgkit.engine.retry import RetryPolicy
from imgkit.sandbox import Sandbox, doudian

APPID = "sbx-fw199-app"
SECRET = "sbx-fw199-secret"
SELLER = "38173182"
OTHER_SELLER = "38173183"
AUTH: dict[str, Any] = {"appid": APPID, "secret": SECRET, "seller_nick": SELLER}
IMAGE_FOLDER = "73691281073984637961425"  # folder type 1 (images) of seller 38173182
VIDEO_FOLDER = "73691281073984637961999"  # folder type 2 (videos) of seller 38173182
MAX_BYTES = 10 * 1024 * 1024  # docs/protocols.md, Douyin limits: ≤ 10 MB
INFO_KEYS = {
    "material_id",
    "folder_id",
    "origin_url",
    "byte_url",
    "materil_name",
    "material_type",
    "operate_status",
    "audit_status",
    "audit_reject_desc",
    "size",
    "photo_info",
    "video_info",
    "create_time",
    "update_time",
    "delete_time",
}
ERROR_KEYS = {"code", "message", "sub_code", "sub_msg"}
BIZ = 50002  # main code of `isv.business-failed:*`: a sandbox convention (doudian.py)
# The sandbox clock in tests near a time boundary (2024-01-01 12:00:00 GMT+8): fixed, it does
# not move between stamping a request and the sandbox judging it, so the exact edges of the
# ±600 s window and of the audit can be tested; far from today, so a request stamped from the
# real clock instead would be refused.
FIXED_NOW = 1704081600


# --- helpers --------------------------------------------------------------------------------


def upload(client: httpx.Client, **kwargs: Any) -> httpx.Response:
    """``fw199_upload`` as seller 38173182 of the sandbox app, named ``a.jpg`` by default."""
    return fw199_upload(client, **{**AUTH, "material_name": "a.jpg", **kwargs})


def detail(client: httpx.Client, material_id: str, **kwargs: Any) -> httpx.Response:
    """``fw199_detail`` as seller 38173182 of the sandbox app."""
    return fw199_detail(client, **{**AUTH, "material_id": material_id, **kwargs})


def material(response: httpx.Response) -> dict[str, Any]:
    """The ``material_info`` of a successful answer (after checking the envelope)."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["code"] == 0, body
    assert body["message"] == "ok"
    info: dict[str, Any] = body["data"]["material_info"]
    return info


def refused(response: httpx.Response, code: int, sub_code: str) -> dict[str, Any]:
    """Check the error envelope ``{"code", "message", "sub_code", "sub_msg"}``."""
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert set(body) >= ERROR_KEYS, body
    assert "data" not in body
    assert (body["code"], body["sub_code"]) == (code, sub_code), body
    assert body["message"]
    assert body["sub_msg"]
    return body


def stats(sandbox: Sandbox) -> dict[str, Any]:
    """The sandbox's counters for ``doudian``."""
    out: dict[str, Any] = sandbox.state.stats()["doudian"]
    return out


def control(client: httpx.Client, path: str, body: dict[str, Any]) -> None:
    """``POST /_sandbox/<path>`` with a JSON body, which must be accepted."""
    response = client.post(f"/_sandbox/{path}", json=body)
    assert response.status_code == 200, response.text


def fix_clock(client: httpx.Client, at: float | None) -> None:
    """Stand the sandbox clock at ``at`` (``POST /_sandbox/clock``); None: real time again."""
    control(client, "clock", {"at": at})


@pytest.fixture
def fixed_clock(client: httpx.Client) -> int:
    """The sandbox clock stands at ``FIXED_NOW`` for the test (the next reset frees it)."""
    fix_clock(client, FIXED_NOW)
    return FIXED_NOW


def fetch(client: httpx.Client, url: str) -> bytes:
    """GET an image URL the sandbox returned."""
    response = client.get(url)
    assert response.status_code == 200
    return response.content


def jpeg_of_size(size: int) -> bytes:
    """A decodable JPEG of exactly ``size`` bytes: a small image padded with COM segments."""
    base = make_jpeg(16, 16)
    need = size - len(base)
    segments = []
    while need > 0:
        chunk = min(need, 4 + 65533)  # marker + length + the largest payload
        if 0 < need - chunk < 4:
            chunk -= 4
        payload = chunk - 4
        segments.append(b"\xff\xfe" + (payload + 2).to_bytes(2, "big") + b"c" * payload)
        need -= chunk
    data = base[:2] + b"".join(segments) + base[2:]
    assert len(data) == size
    return data


def wait_for_status(
    client: httpx.Client, material_id: str, final: set[int], budget_s: float = 5.0
) -> list[dict[str, Any]]:
    """Poll the detail query until ``audit_status`` is in ``final``; return every answer."""
    seen = []
    deadline = time.monotonic() + budget_s
    while True:
        info = material(detail(client, material_id))
        seen.append(info)
        if info["audit_status"] in final:
            return seen
        assert time.monotonic() < deadline, f"audit never finished: {seen[-1]}"
        time.sleep(0.03)


def statuses(answers: list[dict[str, Any]]) -> list[int]:
    """The distinct ``audit_status`` values in the order they were seen."""
    out: list[int] = []
    for info in answers:
        if not out or out[-1] != info["audit_status"]:
            out.append(info["audit_status"])
    return out


class ImageServer:
    """A loopback HTTP server the sandbox downloads ``url`` uploads from.

    ``serve(path, data)`` publishes bytes; unknown paths answer 404.  After ``hold()`` every
    GET is recorded, then waits until ``release()``: a slow origin under the test's
    control (``wait_for_hits`` tells when a download has started).
    """

    def __init__(self) -> None:
        self.files: dict[str, tuple[int, bytes]] = {}
        self.hits: list[str] = []
        self._seen = threading.Condition()
        self._gate: threading.Event | None = None
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with outer._seen:
                    outer.hits.append(self.path)
                    outer._seen.notify_all()
                gate = outer._gate
                if gate is not None:
                    gate.wait(10)
                status, body = outer.files.get(self.path, (404, b"not found"))
                self.send_response(status)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(OSError):  # the sandbox stops reading what is too large
                    self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass

        self._httpd = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def serve(self, path: str, data: bytes, status: int = 200) -> str:
        """Publish ``data`` at ``path``; return its URL."""
        self.files[path] = (status, data)
        return self.url(path)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        """The URL of ``path`` on this server."""
        return f"http://{host}:{self._httpd.server_address[1]}{path}"

    def hold(self) -> None:
        """Make every GET wait until :meth:`release`."""
        self._gate = threading.Event()

    def wait_for_hits(self, count: int, timeout_s: float = 5.0) -> bool:
        """Wait until ``count`` GETs have arrived."""
        with self._seen:
            return self._seen.wait_for(lambda: len(self.hits) >= count, timeout_s)

    def release(self) -> None:
        """Let held GETs answer."""
        if self._gate is not None:
            self._gate.set()
        self._gate = None

    def __enter__(self) -> ImageServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


@pytest.fixture
def image_server() -> Iterator[ImageServer]:
    with ImageServer() as server:
        yield server


def _is_loopback(host: object) -> bool:
    if not isinstance(host, str):
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture
def network_guard(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Refuse (and record) every name lookup or connection that is not loopback.

    The sandbox runs in this process, so this also sees what the sandbox tries.
    """
    attempts: list[object] = []
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_loopback(host.decode() if isinstance(host, bytes) else host):
            attempts.append(host)
            raise socket.gaierror(f"test: no network access to {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(self: socket.socket, address: Any) -> None:
        if isinstance(address, tuple) and not _is_loopback(address[0]):
            attempts.append(address)
            raise OSError(f"test: no network access to {address!r}")
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if isinstance(address, tuple) and not _is_loopback(address[0]):
            attempts.append(address)
            raise OSError(f"test: no network access to {address!r}")
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    return attempts


# --- uploads --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("maker", "fmt"), [(make_jpeg, "jpeg"), (make_png, "png")], ids=["jpeg", "png"]
)
def test_local_file_upload_is_multipart_with_unsigned_file_part(
    client: httpx.Client, sandbox: Sandbox, maker: Callable[..., bytes], fmt: str
) -> None:
    data = maker(120, 90)
    request = build_fw199_upload_request(client, **AUTH, material_name="女上衣", file=data)
    assert request.headers["content-type"].startswith("multipart/form-data")
    info = material(client.send(request))
    assert set(info) == INFO_KEYS
    assert info["materil_name"] == "女上衣"
    assert info["folder_id"] == "0"
    assert info["origin_url"] == ""
    assert info["material_type"] == "photo"
    assert info["operate_status"] == 1
    assert info["audit_status"] == 3
    assert info["audit_reject_desc"] == ""
    assert info["size"] == len(data)
    assert info["photo_info"] == {"height": 90, "width": 120, "format": fmt}
    assert info["material_id"].isdigit()
    assert fetch(client, info["byte_url"]) == data
    assert stats(sandbox)["stored"] == 1


def test_answer_shape_follows_the_seed(client: httpx.Client) -> None:
    response = upload(client, file=make_jpeg(), material_name="test3.jpg")
    body = response.json()
    assert body["code"] == 0
    assert body["message"] == "ok"
    assert set(body["data"]) == {"material_info"}
    info = body["data"]["material_info"]
    assert "materil_name" in info  # (sic) as the seed page spells it
    assert "material_name" not in info
    assert info["materil_name"] == "test3.jpg"
    assert info["video_info"] is None
    assert info["delete_time"] == ""
    for stamp in (info["create_time"], info["update_time"]):
        time.strptime(stamp, "%Y-%m-%d %H:%M:%S")


def test_url_upload_of_an_image_the_sandbox_serves(client: httpx.Client, sandbox: Sandbox) -> None:
    data = make_png(30, 40)
    first = material(upload(client, file=data))
    info = material(upload(client, url=first["byte_url"], material_name="again.png"))
    assert info["origin_url"] == first["byte_url"]
    assert info["material_id"] != first["material_id"]
    assert info["byte_url"]
    assert info["byte_url"] != first["byte_url"]
    assert info["photo_info"] == {"height": 40, "width": 30, "format": "png"}
    assert fetch(client, info["byte_url"]) == data
    assert stats(sandbox)["stored"] == 2


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_url_upload_from_a_loopback_server(
    client: httpx.Client, image_server: ImageServer, host: str
) -> None:
    data = make_jpeg(50, 70)
    image_server.serve("/shop/p1.jpg", data)
    url = image_server.url("/shop/p1.jpg", host=host)
    request = build_fw199_upload_request(client, **AUTH, material_name="p1.jpg", url=url)
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    info = material(client.send(request))
    assert image_server.hits == ["/shop/p1.jpg"]
    assert info["origin_url"] == url
    assert info["size"] == len(data)
    assert fetch(client, info["byte_url"]) == data


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/a.jpg",
        "https://p3-aio.ecombdimg.com/obj/ecom-shop-material/a.jpg",
        "http://203.0.113.7/a.jpg",
        "http://[2001:db8::1]/a.jpg",
        "http://10.0.0.1:8080/a.jpg",
    ],
)
def test_url_off_loopback_is_refused_without_network_access(
    client: httpx.Client, sandbox: Sandbox, network_guard: list[object], url: str
) -> None:
    refused(upload(client, url=url), BIZ, "isv.business-failed:10010")
    assert network_guard == []  # refused without trying: no connection was even attempted
    assert stats(sandbox)["stored"] == 0


def test_url_that_cannot_be_downloaded_is_10010(
    client: httpx.Client, sandbox: Sandbox, image_server: ImageServer
) -> None:
    image_server.serve("/gone.jpg", make_jpeg(), status=404)
    image_server.serve("/error.jpg", make_jpeg(), status=500)
    for url in (
        image_server.url("/gone.jpg"),
        image_server.url("/error.jpg"),
        image_server.url("/never-published.jpg"),
        f"{sandbox.base_url}/img/doudian/no-such-image.jpg",
        "ftp://127.0.0.1/a.jpg",
        "not a url",
    ):
        refused(upload(client, url=url), BIZ, "isv.business-failed:10010")
    assert stats(sandbox)["stored"] == 0


def test_url_wins_when_both_url_and_file_are_sent(
    client: httpx.Client, image_server: ImageServer
) -> None:
    from_url = make_png(10, 10)
    url = image_server.serve("/u.png", from_url)
    info = material(upload(client, url=url, file=make_jpeg(20, 20)))
    assert info["photo_info"]["format"] == "png"
    assert fetch(client, info["byte_url"]) == from_url


def test_neither_url_nor_file_is_refused(client: httpx.Client) -> None:
    body = refused(upload(client), 40004, "isv.parameter-invalid:url")
    assert body["code"] == 40004


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        pytest.param("multipart/form-data", b"appid=x", id="multipart-without-boundary"),
        pytest.param(
            "multipart/form-data; boundary=b",
            b"--b\r\nContent-Disposition: form-data\r\n\r\n1\r\n--b--\r\n",
            id="part-without-name",
        ),
    ],
)
def test_unparseable_body_is_refused(
    client: httpx.Client, sandbox: Sandbox, content_type: str, body: bytes
) -> None:
    response = client.post(FW199_UPLOAD_PATH, content=body, headers={"content-type": content_type})
    refused(response, 40004, "isv.parameter-invalid:body")
    assert stats(sandbox)["rejections"] == {doudian.PLATFORM.failures["param_invalid"].label: 1}


def test_detail_query_reports_the_material(client: httpx.Client) -> None:
    data = make_jpeg()
    info = material(upload(client, file=data, folder_id=IMAGE_FOLDER))
    again = material(detail(client, info["material_id"]))
    assert set(again) == INFO_KEYS
    for key in ("material_id", "folder_id", "byte_url", "materil_name", "size", "photo_info"):
        assert again[key] == info[key]


def test_detail_of_unknown_or_foreign_material_is_refused(client: httpx.Client) -> None:
    info = material(upload(client, file=make_jpeg()))
    refused(detail(client, "74484998751869176420425"), 40004, "isv.parameter-invalid:material_id")
    refused(
        detail(client, info["material_id"], seller_nick=OTHER_SELLER),
        40004,
        "isv.parameter-invalid:material_id",
    )
    refused(detail(client, info["material_id"], secret="wrong"), 40003, "isv.signature-invalid")


# --- signature and timestamp ----------------------------------------------------------------


def test_signature_covers_empty_values(client: httpx.Client) -> None:
    # An empty `url` travels and is signed (docs/protocols.md, Douyin signing: empty ones count).
    info = material(upload(client, file=make_jpeg(), extra={"url": ""}))
    assert info["origin_url"] == ""
    material(upload(client, url=None, file=make_png(), extra={"need_distinct": ""}))


def test_signature_that_skips_empty_values_is_refused(client: httpx.Client) -> None:
    now = unix_now()
    sent = {
        "appid": APPID,
        "timestamp": str(now),
        "seller_nick": SELLER,
        "folder_id": "0",
        "material_name": "a.jpg",
        "need_distinct": "false",
        "url": "",
    }
    without_empty = fw199_sign({k: v for k, v in sent.items() if v != ""}, SECRET)
    assert without_empty != fw199_sign(sent, SECRET)
    response = upload(client, file=make_jpeg(), timestamp=now, extra={"url": "", "sign": None})
    refused(response, 40003, "isv.signature-invalid")  # no sign at all
    response = upload(
        client, file=make_jpeg(), timestamp=now, extra={"url": "", "sign": without_empty}
    )
    refused(response, 40003, "isv.signature-invalid")
    response = upload(
        client, file=make_jpeg(), timestamp=now, extra={"url": "", "sign": fw199_sign(sent, SECRET)}
    )
    material(response)


def test_signature_is_md5_lowercase_hex(client: httpx.Client) -> None:
    now = unix_now()
    sent = {
        "appid": APPID,
        "timestamp": str(now),
        "seller_nick": SELLER,
        "folder_id": "0",
        "material_name": "a.jpg",
        "need_distinct": "false",
    }
    ordered = "".join(k + sent[k] for k in sorted(sent))
    sign = hashlib.md5(f"{SECRET}{ordered}{SECRET}".encode()).hexdigest()
    assert sign == sign.lower()
    response = upload(client, file=make_jpeg(), timestamp=now, extra={"sign": sign.upper()})
    refused(response, 40003, "isv.signature-invalid")
    material(upload(client, file=make_jpeg(), timestamp=now, extra={"sign": sign}))


def _tampered(client: httpx.Client) -> httpx.Response:
    good = build_fw199_upload_request(client, **AUTH, material_name="a.jpg", url="http://x/")
    form = dict(httpx.QueryParams(good.content.decode()))
    form["material_name"] = "b.jpg"
    return client.post(FW199_UPLOAD_PATH, data=form)


@pytest.mark.parametrize(
    "send",
    [
        pytest.param(lambda c: upload(c, file=make_jpeg(), secret="not-it"), id="wrong-secret"),
        pytest.param(_tampered, id="tampered-parameter"),
        pytest.param(lambda c: upload(c, file=make_jpeg(), extra={"sign": None}), id="no-sign"),
        pytest.param(lambda c: upload(c, file=make_jpeg(), extra={"sign": ""}), id="empty-sign"),
        pytest.param(
            lambda c: upload(c, file=make_jpeg(), appid="sbx-fw199-nobody"), id="unknown-appid"
        ),
        pytest.param(lambda c: upload(c, file=make_jpeg(), extra={"appid": None}), id="no-appid"),
    ],
)
def test_bad_signatures_are_refused(
    client: httpx.Client, sandbox: Sandbox, send: Callable[[httpx.Client], httpx.Response]
) -> None:
    refused(send(client), 40003, "isv.signature-invalid")
    assert stats(sandbox)["stored"] == 0


@pytest.mark.parametrize("offset", [-600, -599, 0, 599, 600])
def test_timestamp_within_ten_minutes_is_accepted(
    client: httpx.Client, fixed_clock: int, offset: int
) -> None:
    # The clock stands still, so the edge itself (600 s, inclusive) is tested exactly.
    material(upload(client, file=make_jpeg(), timestamp=fixed_clock + offset))


def test_fixed_clock_stands_still_while_a_request_is_slow(
    client: httpx.Client, fixed_clock: int
) -> None:
    # Over a second of latency: on the real clock the edge would be left behind (the CI flake
    # this clock exists for); on the fixed one the request is judged where it was stamped.
    control(client, "faults", {"latency_ms": [1100, 1100]})
    material(upload(client, file=make_jpeg(), timestamp=fixed_clock - 600))


@pytest.mark.parametrize("offset", [-300, 300])
def test_real_clock_window(client: httpx.Client, offset: int) -> None:
    # No clock fixed: the real one.  Half the window away, a margin no delay can cross.
    material(upload(client, file=make_jpeg(), timestamp=unix_now() + offset))


def test_fixed_clock_is_what_the_timestamp_is_judged_by(client: httpx.Client) -> None:
    fix_clock(client, FIXED_NOW)
    now = unix_now()
    refused(upload(client, file=make_jpeg(), timestamp=now), 40003, "isv.timestamp-invalid")
    material(upload(client, file=make_jpeg(), timestamp=FIXED_NOW))
    fix_clock(client, None)
    material(upload(client, file=make_jpeg(), timestamp=unix_now()))
    refused(upload(client, file=make_jpeg(), timestamp=FIXED_NOW), 40003, "isv.timestamp-invalid")


@pytest.mark.parametrize(
    "stamp",
    [
        pytest.param(lambda now: now - 601, id="601s-behind"),
        pytest.param(lambda now: now + 601, id="601s-ahead"),
        pytest.param(lambda now: now * 1000, id="milliseconds"),
        pytest.param(
            lambda now: time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now + 8 * 3600)),
            id="text",
        ),
        pytest.param(lambda now: "", id="empty"),
        pytest.param(lambda now: f"{now:.3f}", id="fractional"),
    ],
)
def test_timestamp_outside_unix_seconds_window_is_refused(
    client: httpx.Client, sandbox: Sandbox, fixed_clock: int, stamp: Callable[[int], object]
) -> None:
    refused(
        upload(client, file=make_jpeg(), timestamp=str(stamp(fixed_clock))),
        40003,
        "isv.timestamp-invalid",
    )
    assert stats(sandbox)["stored"] == 0


def test_missing_timestamp_is_refused(client: httpx.Client) -> None:
    response = upload(client, file=make_jpeg(), extra={"timestamp": None})
    refused(response, 40003, "isv.timestamp-invalid")


# --- audit ----------------------------------------------------------------------------------


def test_audit_goes_waiting_auditing_passed(client: httpx.Client) -> None:
    # Real time: the audit ends on its own.  A slow poll may step over the 0.4 s of status 2,
    # so only the order is checked here; the exact edges are tested on a fixed clock below.
    control(client, "faults", {"audit_delay_s": 0.8})
    data = make_jpeg(33, 44)
    info = material(upload(client, file=data))
    assert info["audit_status"] == 1
    assert info["byte_url"] == ""
    assert info["audit_reject_desc"] == ""
    answers = wait_for_status(client, info["material_id"], {3, 4})
    assert statuses(answers) in ([1, 2, 3], [1, 3])
    for pending in answers[:-1]:
        assert pending["byte_url"] == ""
    done = answers[-1]
    assert done["byte_url"]
    assert done["audit_reject_desc"] == ""
    assert fetch(client, done["byte_url"]) == data


# Offsets from the upload, in seconds, with the status each must give for a 1 s audit (binary
# fractions, so that FIXED_NOW + offset - FIXED_NOW is exactly the offset).
AUDIT_STEPS = [(0.0, 1), (0.4375, 1), (0.5, 2), (0.9375, 2), (1.0, 3), (60.0, 3)]


def test_audit_edges_on_a_fixed_clock(client: httpx.Client, fixed_clock: int) -> None:
    control(client, "faults", {"audit_delay_s": 1.0})
    data = make_jpeg(35, 44)
    info = material(upload(client, file=data, timestamp=fixed_clock))
    assert info["audit_status"] == 1
    for offset, status in AUDIT_STEPS:
        fix_clock(client, fixed_clock + offset)
        seen = material(detail(client, info["material_id"], timestamp=fixed_clock))
        assert seen["audit_status"] == status, (offset, seen)
        assert bool(seen["byte_url"]) == (status == 3), (offset, seen)
    assert fetch(client, seen["byte_url"]) == data


@pytest.mark.parametrize("match", ["material_name", "sha256", "material_id"])
def test_audit_rule_rejects_the_material(
    client: httpx.Client, sandbox: Sandbox, match: str
) -> None:
    data = make_png(21, 21)
    reason = "图片涉嫌违规"
    control(client, "faults", {"audit_delay_s": 1.0})
    if match == "material_name":
        control(client, "audit", {"reason": reason, "material_name": "bad.png"})
    elif match == "sha256":
        control(client, "audit", {"reason": reason, "sha256": hashlib.sha256(data).hexdigest()})
    fix_clock(client, FIXED_NOW)  # the audit moves only when the test moves the clock
    info = material(upload(client, file=data, material_name="bad.png", timestamp=FIXED_NOW))
    assert info["audit_status"] == 1
    if match == "material_id":
        control(client, "audit", {"reason": reason, "material_id": info["material_id"]})
    answers = []
    for offset in (0.0, 0.5, 1.0):  # binary fractions: exact edges
        fix_clock(client, FIXED_NOW + offset)
        answers.append(material(detail(client, info["material_id"], timestamp=FIXED_NOW)))
    assert statuses(answers) == [1, 2, 4]
    assert all(a["byte_url"] == "" for a in answers)
    assert answers[-1]["audit_reject_desc"] == reason
    assert all(a["audit_reject_desc"] == "" for a in answers[:-1])


def test_audit_rule_without_delay_rejects_at_once(client: httpx.Client) -> None:
    control(client, "audit", {"reason": "含有违规内容", "material_name": "x.jpg"})
    info = material(upload(client, file=make_jpeg(), material_name="x.jpg"))
    assert (info["audit_status"], info["byte_url"]) == (4, "")
    assert info["audit_reject_desc"] == "含有违规内容"
    other = material(upload(client, file=make_jpeg(), material_name="y.jpg"))
    assert other["audit_status"] == 3


def test_audit_rule_at_upload_is_22007(client: httpx.Client, sandbox: Sandbox) -> None:
    data = make_jpeg(9, 9)
    control(
        client,
        "audit",
        {"reason": "违规", "sha256": hashlib.sha256(data).hexdigest(), "at_upload": True},
    )
    refused(upload(client, file=data), BIZ, "isv.business-failed:22007")
    assert stats(sandbox)["stored"] == 0
    material(upload(client, file=make_jpeg(10, 10)))


# --- need_distinct and duplicates -----------------------------------------------------------


def test_need_distinct_true_returns_the_passed_material(
    client: httpx.Client, sandbox: Sandbox
) -> None:
    data = make_jpeg(40, 40)
    first = material(upload(client, file=data))
    before = stats(sandbox)
    again = material(upload(client, file=data, material_name="other.jpg", need_distinct=True))
    assert again["material_id"] == first["material_id"]
    assert again["byte_url"] == first["byte_url"]
    after = stats(sandbox)
    assert after["stored"] == before["stored"] == 1
    assert after["duplicates"] == 0
    assert sandbox.state.stats()["images"] == 1


def test_need_distinct_false_stores_again_and_counts_a_duplicate(
    client: httpx.Client, sandbox: Sandbox
) -> None:
    data = make_jpeg(40, 40)
    first = material(upload(client, file=data))
    again = material(upload(client, file=data, need_distinct=False))
    assert again["material_id"] != first["material_id"]
    assert again["byte_url"] != first["byte_url"]
    assert (stats(sandbox)["stored"], stats(sandbox)["duplicates"]) == (2, 1)


def test_need_distinct_ignores_materials_not_yet_passed(
    client: httpx.Client, sandbox: Sandbox
) -> None:
    control(client, "faults", {"audit_delay_s": 5})
    fix_clock(client, FIXED_NOW)  # still auditing at the second upload, however slow it is
    data = make_png(12, 12)
    first = material(upload(client, file=data, timestamp=FIXED_NOW))
    assert first["audit_status"] == 1
    again = material(upload(client, file=data, need_distinct=True, timestamp=FIXED_NOW))
    assert again["material_id"] != first["material_id"]
    assert stats(sandbox)["stored"] == 2


def test_need_distinct_is_per_seller(client: httpx.Client, sandbox: Sandbox) -> None:
    data = make_png(13, 13)
    first = material(upload(client, file=data))
    theirs = material(upload(client, file=data, seller_nick=OTHER_SELLER, need_distinct=True))
    assert theirs["material_id"] != first["material_id"]
    assert (stats(sandbox)["stored"], stats(sandbox)["duplicates"]) == (2, 0)


@pytest.mark.parametrize("value", ["yes", "True", "FALSE"])
def test_need_distinct_must_be_true_or_false(client: httpx.Client, value: str) -> None:
    refused(  # exactly "true" / "false": Python's str(True) is refused too
        upload(client, file=make_jpeg(), need_distinct=value),
        40004,
        "isv.parameter-invalid:need_distinct",
    )


# --- limits and folders ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("a.gif", make_gif()),
        ("a.webp", make_webp()),
        ("a.bmp", make_bmp()),
        ("gif-named.jpg", make_gif()),
        ("a.jpg", b"this is not an image"),
        ("a.jpg", make_jpeg(64, 64)[:200]),
        ("empty.jpg", b""),
    ],
    ids=["gif", "webp", "bmp", "gif-named-jpg", "text", "truncated-jpeg", "empty"],
)
def test_only_png_and_jpeg_are_taken(
    client: httpx.Client, sandbox: Sandbox, name: str, data: bytes
) -> None:
    refused(upload(client, file=data, material_name=name), 40004, "isv.parameter-invalid:20001")
    assert stats(sandbox)["stored"] == 0


def test_png_named_jpg_is_judged_by_content(client: httpx.Client) -> None:
    info = material(upload(client, file=make_png(), material_name="really-a-png.jpg"))
    assert info["photo_info"]["format"] == "png"


def test_ten_megabytes_is_the_limit_for_files(client: httpx.Client, sandbox: Sandbox) -> None:
    info = material(upload(client, file=jpeg_of_size(MAX_BYTES)))
    assert info["size"] == MAX_BYTES
    refused(upload(client, file=jpeg_of_size(MAX_BYTES + 1)), BIZ, "isv.business-failed:22001")
    assert stats(sandbox)["stored"] == 1


def test_ten_megabytes_is_the_limit_for_urls(
    client: httpx.Client, image_server: ImageServer
) -> None:
    exact = image_server.serve("/exact.jpg", jpeg_of_size(MAX_BYTES))
    over = image_server.serve("/over.jpg", jpeg_of_size(MAX_BYTES + 1))
    assert material(upload(client, url=exact))["size"] == MAX_BYTES
    refused(upload(client, url=over), BIZ, "isv.business-failed:22001")


def test_material_name_up_to_fifty_characters(client: httpx.Client) -> None:
    name = "图" * 46 + ".jpg"
    assert len(name) == 50
    assert material(upload(client, file=make_jpeg(), material_name=name))["materil_name"] == name
    refused(
        upload(client, file=make_jpeg(), material_name="图" + name),
        40004,
        "isv.parameter-invalid:material_name",
    )


def test_folders(client: httpx.Client, sandbox: Sandbox) -> None:
    assert material(upload(client, file=make_jpeg(), folder_id="0"))["folder_id"] == "0"
    no_folder = upload(client, file=make_png(), extra={"folder_id": None})
    refused(no_folder, 40004, "isv.parameter-invalid:folder_id")  # required, no default
    root = material(upload(client, file=make_png(), folder_id="0"))
    assert root["folder_id"] == "0"
    info = material(upload(client, file=make_jpeg(), folder_id=IMAGE_FOLDER))
    assert info["folder_id"] == IMAGE_FOLDER
    refused(
        upload(client, file=make_jpeg(), folder_id=VIDEO_FOLDER), BIZ, "isv.business-failed:22006"
    )
    refused(
        upload(client, file=make_jpeg(), folder_id="12345"),
        40004,
        "isv.parameter-invalid:folder_id",
    )
    # A folder of another seller is unknown to this one.
    refused(
        upload(client, file=make_jpeg(), seller_nick=OTHER_SELLER, folder_id=IMAGE_FOLDER),
        40004,
        "isv.parameter-invalid:folder_id",
    )
    # The same bytes in another folder are no duplicate; in the same folder they are.
    assert (stats(sandbox)["stored"], stats(sandbox)["duplicates"]) == (3, 0)
    material(upload(client, file=make_jpeg(), folder_id=IMAGE_FOLDER))
    assert (stats(sandbox)["stored"], stats(sandbox)["duplicates"]) == (4, 1)


# --- every catalogue entry ------------------------------------------------------------------

Recipe = Callable[[httpx.Client, Sandbox], httpx.Response]
RECIPES: dict[str, Recipe] = {}
EXPECTED: dict[str, tuple[int, str]] = {}


def recipe(key: str, code: int, sub_code: str) -> Callable[[Recipe], Recipe]:
    """Register how to reach catalogue entry ``key`` and the answer it must give."""

    def register(fn: Recipe) -> Recipe:
        RECIPES[key] = fn
        EXPECTED[key] = (code, sub_code)
        return fn

    return register


@recipe("method_not_allowed", 40004, "isv.parameter-invalid:http_method")
def _method_not_allowed(client: httpx.Client, sandbox: Sandbox) -> httpx.Response:
    return client.get(FW199_UPLOAD_PATH)


@recipe("signature_invalid", 40003, "isv.signature-invalid")
def _signature_invalid(client: httpx.Client, sandbox: Sandbox) -> httpx.Response:
    return upload(client, file=make_jpeg(), secret="wrong-secret")


@recipe("timestamp_invalid", 40003, "isv.timestamp-invalid")
def _timestamp_invalid(client: httpx.Client, sandbox: Sandbox) -> httpx.Response:
    fix_clock(client, FIXED_NOW)
    return upload(client, file=make_jpeg(), timestamp=FIXED_NOW - 601)


@recipe("param_invalid", 40004, "isv.parameter-invalid:seller_nick")
def _param_invalid(client: httpx.Client, sandbox: Sandbox) -> httpx.Response:
    return upload(client, file=make_jpeg(), seller_nick="")


@recipe("image_invalid", 40004, "isv.parameter-invalid:20001")
def _image_invalid(client: httpx.Client, sandbox: Sandbox) -> httpx.Response:
    return upload(client, file=make_gif(), material_name="a.gif")


@recipe("too_large", BIZ, "isv.business-failed:22001")
def _too_large(client: httpx.Client, sandbox: Sandbox) -> httpx.Response:
    return upload(client, file=jpeg_of_size(MAX_BYTES + 1))


@recipe("folder_not_image", BIZ, "isv.business-failed:22006")
def _folder_not_image(client: httpx.Client, sandbox: Sandbox) -> httpx.Response:
    return upload(client, file=make_jpeg(), folder_id=VIDEO_FOLDER)


@recipe("content_violation", BIZ, "isv.business-failed:22007")
def _content_violation(client: httpx.Client, sandbox: Sandbox) -> httpx.Response:
    control(client, "audit", {"reason": "违规", "material_name": "bad.jpg", "at_upload": True})
    return upload(client, file=make_jpeg(), material_name="bad.jpg")


@recipe("url_download_failed", BIZ, "isv.business-failed:10010")
def _url_download_failed(client: httpx.Client, sandbox: Sandbox) -> httpx.Response:
    return upload(client, url="http://example.com/a.jpg")


@recipe("library_full", BIZ, "isv.business-failed:30001")
def _library_full(client: httpx.Client, sandbox: Sandbox) -> httpx.Response:
    return upload(client, file=make_jpeg(), seller_nick="38173199")


@recipe("no_material_permission", BIZ, "isv.business-failed:30004")
def _no_material_permission(client: httpx.Client, sandbox: Sandbox) -> httpx.Response:
    return upload(client, file=make_jpeg(), seller_nick="38173198")


@recipe("duplicate_request", BIZ, "isv.business-failed:31001")
def _duplicate_request(client: httpx.Client, sandbox: Sandbox) -> httpx.Response:
    with ImageServer() as origin, ThreadPoolExecutor(1) as pool:
        url = origin.serve("/slow.jpg", make_jpeg())
        origin.hold()

        def first_upload() -> httpx.Response:
            with sandbox.client(timeout=10.0) as own:
                return upload(own, url=url)

        first = pool.submit(first_upload)
        assert origin.wait_for_hits(1), "the sandbox never fetched the URL"
        try:
            second = upload(client, url=url)  # while the first is still downloading
        finally:
            origin.release()
        assert material(first.result(10))["origin_url"] == url
        # Once the first is done, the same URL may be uploaded again.
        material(upload(client, url=url))
    return second


@recipe("service_unavailable", 20000, "isp.service-unavailable")
def _service_unavailable(client: httpx.Client, sandbox: Sandbox) -> httpx.Response:
    control(client, "faults", {"transient": 1.0})
    return upload(client, file=make_jpeg())


@recipe("service_busy", 20001, "isp.service-busy")
def _service_busy(client: httpx.Client, sandbox: Sandbox) -> httpx.Response:
    control(client, "faults", {"force": [{"platform": "doudian", "error": "service_busy"}]})
    return upload(client, file=make_jpeg())


@recipe("no_permission", 30001, "isv.permission-denied")
def _no_permission(client: httpx.Client, sandbox: Sandbox) -> httpx.Response:
    return upload(
        client, file=make_jpeg(), appid="sbx-fw199-noapi", secret="sbx-fw199-noapi-secret"
    )


@recipe("shop_unauthorized", 30002, "isv.shop-unauthorized")
def _shop_unauthorized(client: httpx.Client, sandbox: Sandbox) -> httpx.Response:
    return upload(client, file=make_jpeg(), seller_nick="38173100")


@recipe("rate_limited", 60000, "isv.frequency-limited")
def _rate_limited(client: httpx.Client, sandbox: Sandbox) -> httpx.Response:
    control(client, "limits", {"doudian_app_qps": 1})
    material(upload(client, file=make_jpeg()))
    # The next call within the same second is refused (a slow machine may need another go).
    for _ in range(5):
        response = upload(client, file=make_png())
        if response.json()["code"] != 0:
            return response
    pytest.fail("one call per second was never enforced")


@pytest.mark.parametrize("key", sorted(doudian.PLATFORM.failures))
def test_every_catalogue_entry_is_reached(client: httpx.Client, sandbox: Sandbox, key: str) -> None:
    if key not in RECIPES:
        pytest.fail(f"no recipe for catalogue entry {key!r}")
    code, sub_code = EXPECTED[key]
    entry = doudian.PLATFORM.failures[key]
    assert entry.code == code
    response = RECIPES[key](client, sandbox)
    refused(response, code, sub_code)
    counted = stats(sandbox)["rejections"]
    assert counted.get(entry.label) == 1, counted
    assert sum(counted.values()) == 1, counted


def test_every_recipe_names_a_catalogue_entry() -> None:
    assert set(RECIPES) <= set(doudian.PLATFORM.failures)


def test_duplicate_request_is_only_for_the_same_seller(
    client: httpx.Client, image_server: ImageServer
) -> None:
    url = image_server.serve("/shared.jpg", make_jpeg())
    image_server.hold()

    def send(seller: str) -> httpx.Response:
        with httpx.Client(base_url=client.base_url, timeout=10.0) as own:
            return upload(own, url=url, seller_nick=seller)

    with ThreadPoolExecutor(2) as pool:
        mine = pool.submit(send, SELLER)
        assert image_server.wait_for_hits(1)
        theirs = pool.submit(send, OTHER_SELLER)
        assert image_server.wait_for_hits(2), "the other seller's download never started"
        image_server.release()
        assert material(mine.result(10))["origin_url"] == url
        assert material(theirs.result(10))["origin_url"] == url


# --- the look-up: POST /gateway/dd/material/searchMaterial (docs/lookups.md) ------------------

SEARCH_PATH = "/gateway/dd/material/searchMaterial"
# update_time is "now" on every answer; everything else is the upload's material_info.
MOVING = {"update_time"}


def search(
    client: httpx.Client,
    *,
    secret: str = SECRET,
    timestamp: int | None = None,
    drop: tuple[str, ...] = (),
    **business: str,
) -> httpx.Response:
    """searchMaterial as seller 38173182, built here from docs/lookups.md: the public
    parameters and signature of §2, the business parameters form-urlencoded."""
    params = {
        "appid": APPID,
        "timestamp": str(unix_now() if timestamp is None else timestamp),
        "seller_nick": SELLER,
        **business,
    }
    params = {k: v for k, v in params.items() if k not in drop}
    params["sign"] = fw199_sign(params, secret)
    if "sign" in drop:
        del params["sign"]
    return client.post(SEARCH_PATH, data=params)


def listing(response: httpx.Response) -> tuple[int, list[dict[str, Any]]]:
    """``(total, material_info_list)`` of a successful search (after checking the envelope)."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["code"], body["message"]) == (0, "ok"), body
    assert set(body["data"]) == {"material_info_list", "total"}, body
    items: list[dict[str, Any]] = body["data"]["material_info_list"]
    for item in items:
        assert set(item) == INFO_KEYS, item
    return body["data"]["total"], items


def same_material(listed: dict[str, Any], uploaded: dict[str, Any]) -> None:
    fixed = set(INFO_KEYS) - MOVING
    assert {k: listed[k] for k in fixed} == {k: uploaded[k] for k in fixed}


def test_search_lists_what_the_uploads_left_by_name_and_folder(
    client: httpx.Client, sandbox: Sandbox
) -> None:
    data = make_jpeg(41, 41)
    mine = material(upload(client, file=data, material_name="杯子.jpg"))
    material(upload(client, file=make_jpeg(42, 42), material_name="盘子.jpg"))
    material(upload(client, file=data, material_name="杯子.jpg", folder_id=IMAGE_FOLDER))
    material(upload(client, file=data, material_name="杯子.jpg", seller_nick=OTHER_SELLER))
    stored = stats(sandbox)["stored"]
    total, items = listing(search(client, material_name="杯子.jpg", folder_id="0"))
    assert total == 1
    same_material(items[0], mine)
    assert fetch(client, items[0]["byte_url"]) == data
    assert stats(sandbox)["stored"] == stored  # a look-up stores nothing


def test_search_name_filter_is_fuzzy_and_every_filter_is_optional(client: httpx.Client) -> None:
    white = material(upload(client, file=make_jpeg(43, 43), material_name="白色杯子.jpg"))
    red = material(upload(client, file=make_jpeg(44, 44), material_name="红色杯子.jpg"))
    other = material(
        upload(client, file=make_png(), material_name="盘子.png", folder_id=IMAGE_FOLDER)
    )
    total, items = listing(search(client, material_name="杯子"))
    assert (total, {i["material_id"] for i in items}) == (
        2,
        {white["material_id"], red["material_id"]},
    )
    total, items = listing(search(client))
    assert total == 3
    ids = [white["material_id"], red["material_id"], other["material_id"]]
    assert {i["material_id"] for i in items} == set(ids)
    assert listing(search(client, material_type="video")) == (0, [])
    assert listing(search(client, material_name="杯子", folder_id=IMAGE_FOLDER)) == (0, [])


def test_search_orders_and_pages(client: httpx.Client, fixed_clock: int) -> None:
    sizes = (30, 90, 60)
    uploaded = []
    for n, side in enumerate(sizes):
        fix_clock(client, fixed_clock + n)  # distinct creation times, oldest first
        info = material(upload(client, file=make_png(side, side), timestamp=fixed_clock))
        uploaded.append(info["material_id"])

    def ids(**params: Any) -> list[str]:
        total, items = listing(search(client, timestamp=fixed_clock, **params))
        assert total == 3
        return [i["material_id"] for i in items]

    by_size = [uploaded[i] for i in sorted(range(3), key=lambda i: sizes[i])]
    assert ids() == uploaded[::-1]  # order_type 0, the default: newest first
    assert ids(order_type="1") == uploaded
    assert ids(order_type="6") == by_size[::-1]
    assert ids(order_type="7") == by_size
    assert ids(order_type="1", page_size="2") == uploaded[:2]
    assert ids(order_type="1", page_size="2", page_num="2") == uploaded[2:]
    assert ids(order_type="1", page_size="2", page_num="3") == []


def test_search_follows_the_audit_clock(client: httpx.Client, fixed_clock: int) -> None:
    control(client, "faults", {"audit_delay_s": 1.0})
    data = make_jpeg(45, 45)
    info = material(upload(client, file=data, material_name="审核.jpg", timestamp=fixed_clock))
    for offset, status in AUDIT_STEPS:
        fix_clock(client, fixed_clock + offset)
        _, items = listing(search(client, material_name="审核.jpg", timestamp=fixed_clock))
        assert [(i["material_id"], i["audit_status"]) for i in items] == [
            (info["material_id"], status)
        ], offset
        assert bool(items[0]["byte_url"]) == (status == 3), (offset, items)
    assert fetch(client, items[0]["byte_url"]) == data


def test_search_shows_a_rejection_by_material_id(client: httpx.Client) -> None:
    info = material(upload(client, file=make_jpeg(46, 46), material_name="违规.jpg"))
    control(client, "audit", {"reason": "图片违规", "material_id": info["material_id"]})
    _, items = listing(search(client, material_name="违规.jpg"))
    assert (items[0]["audit_status"], items[0]["byte_url"]) == (4, "")
    assert items[0]["audit_reject_desc"] == "图片违规"


@pytest.mark.parametrize(
    ("kwargs", "code", "sub_code"),
    [
        pytest.param({"secret": "wrong"}, 40003, "isv.signature-invalid", id="bad-sign"),
        pytest.param({"drop": ("sign",)}, 40003, "isv.signature-invalid", id="no-sign"),
        pytest.param({"drop": ("appid",)}, 40003, "isv.signature-invalid", id="no-appid"),
        pytest.param({"drop": ("timestamp",)}, 40003, "isv.timestamp-invalid", id="no-timestamp"),
        pytest.param({"timestamp": 1}, 40003, "isv.timestamp-invalid", id="stale-timestamp"),
        pytest.param(
            {"drop": ("seller_nick",)}, 40004, "isv.parameter-invalid:seller_nick", id="no-seller"
        ),
        pytest.param({"folder_id": "123"}, 40004, "isv.parameter-invalid:folder_id", id="folder"),
        pytest.param(
            {"material_name": "x" * 51}, 40004, "isv.parameter-invalid:material_name", id="name"
        ),
        pytest.param(
            {"material_type": "gif"}, 40004, "isv.parameter-invalid:material_type", id="type"
        ),
        pytest.param({"order_type": "5"}, 40004, "isv.parameter-invalid:order_type", id="order"),
        pytest.param({"page_num": "0"}, 40004, "isv.parameter-invalid:page_num", id="page-0"),
        pytest.param({"page_num": "x"}, 40004, "isv.parameter-invalid:page_num", id="page-x"),
        pytest.param({"page_size": "0"}, 40004, "isv.parameter-invalid:page_size", id="size-0"),
        pytest.param({"page_size": "101"}, 40004, "isv.parameter-invalid:page_size", id="size-101"),
    ],
)
def test_search_is_refused_as_the_upload_would_be(
    client: httpx.Client, sandbox: Sandbox, kwargs: dict[str, Any], code: int, sub_code: str
) -> None:
    refused(search(client, **kwargs), code, sub_code)
    assert sum(stats(sandbox)["rejections"].values()) == 1


def test_search_of_a_foreign_folder_or_an_unauthorized_seller_is_refused(
    client: httpx.Client,
) -> None:
    params = {"appid": APPID, "timestamp": str(unix_now()), "seller_nick": OTHER_SELLER}
    params |= {"folder_id": IMAGE_FOLDER}
    params["sign"] = fw199_sign(params, SECRET)
    refused(client.post(SEARCH_PATH, data=params), 40004, "isv.parameter-invalid:folder_id")
    params = {"appid": APPID, "timestamp": str(unix_now()), "seller_nick": "38173100"}
    params["sign"] = fw199_sign(params, SECRET)
    refused(client.post(SEARCH_PATH, data=params), 30002, "isv.shop-unauthorized")


def test_search_shares_the_apps_rate_limit_with_uploads(client: httpx.Client) -> None:
    control(client, "limits", {"doudian_app_qps": 1})
    material(upload(client, file=make_jpeg()))
    # Within the same second the look-up is refused (a slow machine may need another go).
    for _ in range(5):
        response = search(client)
        if response.json()["code"] != 0:
            refused(response, 60000, "isv.frequency-limited")
            return
    pytest.fail("the look-up never met the upload's rate limit")


def test_search_takes_faults_but_is_never_dropped_after_store(
    client: httpx.Client, sandbox: Sandbox
) -> None:
    material(upload(client, file=make_jpeg()))
    control(client, "faults", {"transient": 1.0, "platforms": ["doudian"]})
    refused(search(client), 20000, "isp.service-unavailable")
    control(client, "faults", {"drop_after_store": 1.0, "platforms": ["doudian"]})
    assert listing(search(client))[0] == 1  # nothing stored: the connection is kept
    control(client, "faults", {"drop_before_store": 1.0, "platforms": ["doudian"]})
    with pytest.raises(httpx.TransportError):
        search(client)


# --- required parameters (issue 14): folder_id and material_name, by their exact names -------


@pytest.mark.parametrize(
    ("extra", "name"),
    [
        pytest.param({"folder_id": None}, "folder_id", id="no-folder_id"),
        pytest.param({"folder_id": ""}, "folder_id", id="empty-folder_id"),
        pytest.param({"folder_id": None, "Folder_Id": "0"}, "folder_id", id="Folder_Id"),
        pytest.param({"material_name": None}, "material_name", id="no-material_name"),
        pytest.param({"material_name": ""}, "material_name", id="empty-material_name"),
        pytest.param(
            {"material_name": None, "Material_Name": "a.jpg"}, "material_name", id="Material_Name"
        ),
        pytest.param(
            {"material_name": None, "materil_name": "a.jpg"}, "material_name", id="materil_name"
        ),
    ],
)
@pytest.mark.parametrize("source", ["file", "url"])
def test_folder_id_and_material_name_are_required_by_their_exact_names(
    client: httpx.Client,
    sandbox: Sandbox,
    image_server: ImageServer,
    extra: dict[str, str | None],
    name: str,
    source: str,
) -> None:
    # The page's parameter table names both, and its samples always send them; the sandbox
    # fills in nothing: a misspelt (or missing, or empty) one is a missing one.
    data = make_jpeg(18, 18)
    sent: dict[str, Any] = (
        {"file": data} if source == "file" else {"url": image_server.serve("/a.jpg", data)}
    )
    refused(upload(client, **sent, extra=extra), 40004, f"isv.parameter-invalid:{name}")
    assert image_server.hits == []  # refused before anything is downloaded
    assert stats(sandbox)["stored"] == 0
    assert stats(sandbox)["rejections"] == {doudian.PLATFORM.failures["param_invalid"].label: 1}
    material(upload(client, **sent))  # the same request, correctly named, passes


# --- file_uri (issue 14): the page's second source, beside url ------------------------------

TOS = "tos-cn-i-7veqoeduo3"  # the storage prefix of the seed page's file_uri example
JPEG_URI = f"{TOS}/sbx-photo-jpeg"  # docs/sandbox-world.md: a file seller 38173182 holds
PNG_URI = f"{TOS}/sbx-photo-png"


def by_uri(client: httpx.Client, file_uri: str, **kwargs: Any) -> httpx.Response:
    """An upload whose source is ``file_uri`` (a signed text parameter), form-urlencoded."""
    extra = {"file_uri": file_uri, **kwargs.pop("extra", {})}
    return upload(client, extra=extra, **kwargs)


@pytest.mark.parametrize(
    ("uri", "fmt", "size"), [(JPEG_URI, "jpeg", (64, 48)), (PNG_URI, "png", (32, 24))]
)
def test_file_uri_of_a_file_the_shop_holds_is_uploaded(
    client: httpx.Client, sandbox: Sandbox, uri: str, fmt: str, size: tuple[int, int]
) -> None:
    request = build_fw199_upload_request(
        client, **AUTH, material_name="uri.jpg", extra={"file_uri": uri}
    )
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    info = material(client.send(request))
    assert set(info) == INFO_KEYS
    assert info["origin_url"] == ""  # the page: origin_url is a url the developer sent
    assert info["materil_name"] == "uri.jpg"
    assert info["photo_info"] == {"width": size[0], "height": size[1], "format": fmt}
    served = fetch(client, info["byte_url"])
    assert len(served) == info["size"]
    assert stats(sandbox)["stored"] == 1
    # file_uri is a text parameter like any other: it is signed.
    unsigned = fw199_sign(
        {
            "appid": APPID,
            "timestamp": str(FIXED_NOW),
            "seller_nick": SELLER,
            "folder_id": "0",
            "material_name": "uri.jpg",
            "need_distinct": "false",
        },
        SECRET,
    )
    fix_clock(client, FIXED_NOW)
    response = by_uri(client, uri, timestamp=FIXED_NOW, extra={"sign": unsigned})
    refused(response, 40003, "isv.signature-invalid")


def test_url_wins_when_both_url_and_file_uri_are_sent(
    client: httpx.Client, sandbox: Sandbox, image_server: ImageServer
) -> None:
    # The page: "如果2者都不为空取url" - the file_uri is then not looked at, known or not.
    from_url = make_png(11, 11)
    url = image_server.serve("/both.png", from_url)
    for uri in (JPEG_URI, f"{TOS}/not-a-file-of-this-shop"):
        info = material(by_uri(client, uri, url=url))
        assert info["origin_url"] == url
        assert fetch(client, info["byte_url"]) == from_url
    assert image_server.hits == ["/both.png", "/both.png"]


def test_file_uri_with_a_file_part_is_refused(client: httpx.Client, sandbox: Sandbox) -> None:
    # The page pairs file_uri with url only; with the gateway's file part the sandbox
    # will not guess which the gateway keeps (docs/sandbox.md, conventions).
    response = by_uri(client, JPEG_URI, file=make_jpeg())
    refused(response, 40004, "isv.parameter-invalid:file_uri")
    assert stats(sandbox)["stored"] == 0


@pytest.mark.parametrize(
    ("uri", "seller"),
    [
        pytest.param(f"{TOS}/9e1df78", SELLER, id="unknown"),
        pytest.param(JPEG_URI.upper(), SELLER, id="case-changed"),
        pytest.param("https://example.com/a.jpg", SELLER, id="a-url"),
        pytest.param(JPEG_URI, OTHER_SELLER, id="another-sellers-file"),
    ],
)
def test_file_uri_the_shop_does_not_hold_is_refused(
    client: httpx.Client, sandbox: Sandbox, network_guard: list[object], uri: str, seller: str
) -> None:
    # Binary uploads are not emulated: only the world's files resolve (docs/sandbox-world.md).
    refused(by_uri(client, uri, seller_nick=seller), 40004, "isv.parameter-invalid:file_uri")
    assert network_guard == []  # a file_uri is never downloaded
    assert stats(sandbox)["stored"] == 0


def test_an_empty_file_uri_is_no_source(client: httpx.Client) -> None:
    refused(by_uri(client, ""), 40004, "isv.parameter-invalid:url")


def test_file_uri_meets_the_limits_of_the_other_sources(
    client: httpx.Client, sandbox: Sandbox
) -> None:
    exact = material(by_uri(client, f"{TOS}/sbx-photo-10mb"))
    assert exact["size"] == MAX_BYTES
    refused(by_uri(client, f"{TOS}/sbx-photo-over-10mb"), BIZ, "isv.business-failed:22001")
    refused(by_uri(client, f"{TOS}/sbx-photo-gif"), 40004, "isv.parameter-invalid:20001")
    refused(by_uri(client, JPEG_URI, folder_id=VIDEO_FOLDER), BIZ, "isv.business-failed:22006")
    assert stats(sandbox)["stored"] == 1


def test_file_uri_takes_need_distinct_and_audit_rules(
    client: httpx.Client, sandbox: Sandbox
) -> None:
    first = material(by_uri(client, JPEG_URI))
    again = material(by_uri(client, JPEG_URI, material_name="other.jpg", need_distinct=True))
    assert again["material_id"] == first["material_id"]
    control(client, "audit", {"reason": "违规", "material_name": "bad.jpg", "at_upload": True})
    refused(by_uri(client, PNG_URI, material_name="bad.jpg"), BIZ, "isv.business-failed:22007")
    assert stats(sandbox)["stored"] == 1


# --- the answer shape flat_data (issue 14): the material directly in `data` -----------------


def test_flat_data_shape_puts_the_material_in_data(client: httpx.Client) -> None:
    control(client, "settings", {"shapes": {"doudian": "flat_data"}})
    body = upload(client, file=make_jpeg(), material_name="flat.jpg").json()
    assert (body["code"], body["message"]) == (0, "ok"), body
    assert set(body["data"]) == INFO_KEYS  # no material_info wrapper
    assert body["data"]["materil_name"] == "flat.jpg"
    material_id = body["data"]["material_id"]
    again = detail(client, material_id).json()
    assert set(again["data"]) == INFO_KEYS
    assert again["data"]["material_id"] == material_id
    assert fetch(client, again["data"]["byte_url"])
    # The look-up's list keeps its own shape; the standard shape is one setting away.
    assert [i["material_id"] for i in listing(search(client))[1]] == [material_id]
    control(client, "settings", {"shapes": {"doudian": None}})
    assert material(detail(client, material_id))["material_id"] == material_id


def test_flat_data_shape_is_cleared_by_reset(client: httpx.Client, sandbox: Sandbox) -> None:
    sandbox.state.set_settings({"shapes": {"doudian": "flat_data"}})
    assert sandbox.state.settings.shape("doudian") == "flat_data"
    control(client, "reset", {})
    material(upload(client, file=make_jpeg()))


def test_imgkit_uploads_and_polls_audits_in_the_flat_data_shape(
    client: httpx.Client, sandbox: Sandbox, tmp_path: Path
) -> None:
    # imgkit's own adapter (not a spec client) end to end: upload, audit polling, results.
    control(client, "settings", {"shapes": {"doudian": "flat_data"}})
    control(client, "faults", {"audit_delay_s": 0.6})
    control(client, "audit", {"reason": "素材违规", "material_name": "bad.jpg"})
    files = {"good.jpg": make_jpeg(51, 51), "bad.jpg": make_jpeg(52, 52)}
    rows = []
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        rows.append(
            {"platform": "doudian", "shop": "douyin_shop", "file": str(tmp_path / name)}
            | {"target": "0"}
        )
    results = imgkit.upload(
        pd.DataFrame(rows),
        shops=sandbox.shops,
        journal=False,
        progress=False,
        policy=RetryPolicy(base_delay=0.01, max_delay=0.05, max_total=10.0),
    )
    good, bad = results.iloc[0], results.iloc[1]
    assert good["status"] == "uploaded", good.to_dict()
    assert fetch(client, good["url"]) == files["good.jpg"]
    info = detail(client, good["image_id"]).json()["data"]
    assert (info["material_id"], info["byte_url"]) == (good["image_id"], good["url"])
    assert (bad["status"], bad["category"]) == ("failed", "audit_rejected"), bad.to_dict()
    assert "素材违规" in bad["message"]
    assert len(sandbox.state.request_log("doudian")) > 2  # the audits were polled


# --- boolean_case (issue 14): need_distinct's reading of "True" -----------------------------


def test_need_distinct_true_capitalised_follows_the_boolean_case_setting(
    client: httpx.Client, sandbox: Sandbox
) -> None:
    data = make_jpeg(53, 53)
    first = material(upload(client, file=data))
    refused(  # the default, "exact": only true / false
        upload(client, file=data, need_distinct="True"),
        40004,
        "isv.parameter-invalid:need_distinct",
    )
    sandbox.state.set_settings({"boolean_case": "any"})
    again = material(upload(client, file=data, need_distinct="True"))
    assert again["material_id"] == first["material_id"]  # read as true: the existing copy
    assert stats(sandbox)["stored"] == 1
