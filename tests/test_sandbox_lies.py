"""The sandbox lying like a gateway, and the limits of its server.

After-store lies (HTML, 504, empty, truncated, URL-less answers once the image is stored),
wire lies (dripped body, dripped headers, silence) and the server's body cap and
header/body timeouts, all over real loopback HTTP with raw httpx clients and sockets;
requests are built by ``spec_clients`` only.  Timing checks are lower bounds given by the
sandbox's own delays (or generous windows), never tight upper bounds.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from spec_clients import build_fw199_upload_request, make_jpeg, make_png
from test_sandbox_faults import FW199, PLATFORM_KEYS, TARGETS, get_stats, set_faults

import imgkit.sandbox
from imgkit.sandbox import Sandbox, SandboxState

AFTER_STORE = (
    "gateway_504_after_store",
    "html_after_store",
    "empty_after_store",
    "truncated_after_store",
    "no_url_after_store",
)
WIRE = ("drip_body", "drip_headers", "silent")
# Where each platform's success answer keeps the new image's id (docs/protocols.md).
ID_PATHS: dict[str, tuple[str, ...]] = {
    "taobao_picture": ("data", "picture_upload_response", "picture", "picture_id"),
    "taobao_miniapp": ("miniapp_trade_picture_upload_response", "result", "model", "pic_id"),
    "tmall_item": ("item_img_upload_tmall_response", "item_img", "id"),
    "doudian": ("data", "material_info", "material_id"),
    "qianmi_sku": ("sku_image_upload_response", "sku_img", "id"),
}
each_platform = pytest.mark.parametrize("key", PLATFORM_KEYS)
UNAUTHORISED = b'{"code":401,"msg":"\xe6\x9c\xaa\xe6\x8e\x88\xe6\x9d\x83"}'  # vv-tool, no token


def _dig(body: Any, path: tuple[str, ...]) -> Any:
    for name in path:
        body = body[name]
    return body


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


def _stored_once(client: httpx.Client, key: str) -> None:
    stats = get_stats(client)
    assert (stats[key]["stored"], stats["images"], stats["total"]["stored"]) == (1, 1, 1)


def _wait_for(condition: Callable[[], bool], within_s: float = 10.0) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, "condition never met"
        time.sleep(0.01)


def _no_token(client: httpx.Client) -> httpx.Response:
    # The smallest answer there is (vv-tool's 401, 30 bytes): dripping it stays quick.
    return client.post("/tool/erps/tbpicture", data={"vvtype": "2"})


# --- the plan ------------------------------------------------------------------------------


def test_new_kinds_are_off_by_default_and_echoed(client: httpx.Client) -> None:
    plan = client.get("/_sandbox/faults").json()
    assert all(plan[key] == 0 for key in (*AFTER_STORE, *WIRE))
    assert (plan["drip_interval_s"], plan["silent_s"]) == (1.0, 3600.0)
    wanted = {**dict.fromkeys(AFTER_STORE, 0.25), **dict.fromkeys(WIRE, 0.5)}
    echoed = set_faults(client, {**wanted, "drip_interval_s": 0.2, "silent_s": 0})
    assert {k: echoed[k] for k in wanted} == wanted
    assert (echoed["drip_interval_s"], echoed["silent_s"]) == (0.2, 0)


@pytest.mark.parametrize(
    "body",
    [
        {"gateway_504_after_store": 1.5},
        {"html_after_store": -0.1},
        {"empty_after_store": "1"},
        {"truncated_after_store": True},
        {"no_url_after_store": None},
        {"drip_body": 2},
        {"drip_headers": [1]},
        {"silent": "always"},
        {"drip_interval_s": -1},
        {"drip_interval_s": "1s"},
        {"silent_s": -0.5},
        {"silent_s": False},
        {"drip_intervals": 1},
        {"no_url": 1.0},
    ],
    ids=lambda body: "-".join(f"{k}={v}" for k, v in body.items()),
)
def test_bad_values_of_the_new_keys_are_refused(client: httpx.Client, body: dict[str, Any]) -> None:
    before = set_faults(client, {"seed": 4, "drip_body": 0.5})
    response = client.post("/_sandbox/faults", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]
    assert client.get("/_sandbox/faults").json() == before
    with pytest.raises(imgkit.sandbox.FaultConfigError):
        SandboxState().set_faults(body)


# --- after-store lies ----------------------------------------------------------------------


@each_platform
@pytest.mark.parametrize("lie", AFTER_STORE)
def test_after_store_lies_store_once_and_lie(client: httpx.Client, key: str, lie: str) -> None:
    set_faults(client, {lie: 1.0})
    response = TARGETS[key].send(client, make_jpeg(21, 13))
    _stored_once(client, key)
    assert get_stats(client)[key]["faults"] == {lie: 1}
    assert response.headers["content-length"] == str(len(response.content))
    set_faults(client, {})
    real = TARGETS[key].send(client, make_jpeg(22, 13))  # the same answer, told truly
    real_type = real.headers["content-type"]
    if lie == "gateway_504_after_store":
        assert response.status_code == 504
        assert response.headers["content-type"].startswith("text/html")
        assert response.text.startswith("<html>\r\n<head><title>504 Gateway Time-out</title>")
    elif lie == "html_after_store":
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert "<html>" in response.text
    elif lie == "empty_after_store":
        assert (response.status_code, response.content) == (200, b"")
        assert response.headers["content-type"] == real_type
    elif lie == "truncated_after_store":
        assert response.status_code == 200
        assert response.headers["content-type"] == real_type
        # Half of an answer of the same shape (ids and times have the same length here).
        assert abs(len(response.content) - len(real.content) // 2) <= 2
        assert real.content[:12] == response.content[:12]
        with pytest.raises(json.JSONDecodeError):
            json.loads(response.content)
    else:
        assert response.status_code == 200
        body = response.json()
        assert _dig(body, ID_PATHS[key])  # the id is kept …
        assert not [s for s in _strings(body) if "/img/" in s]  # … every URL is gone
        expected = set(_flat_keys(real.json())) - {_url_key(real.json(), str(client.base_url))}
        assert set(_flat_keys(body)) == expected


def _flat_keys(value: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(value, dict):
        for name, item in value.items():
            yield f"{prefix}{name}"
            yield from _flat_keys(item, f"{prefix}{name}.")


def _url_key(value: Any, base: str, prefix: str = "") -> str:
    for name, item in value.items():
        if isinstance(item, str) and item.startswith(base.rstrip("/") + "/img/"):
            return f"{prefix}{name}"
        if isinstance(item, dict) and (found := _url_key(item, base, f"{prefix}{name}.")):
            return found
    return ""


@pytest.mark.parametrize("lie", AFTER_STORE)
def test_after_store_lies_spare_answers_that_store_nothing(client: httpx.Client, lie: str) -> None:
    set_faults(client, {lie: 1.0})
    response = TARGETS["doudian"].send(client, b"not an image at all")
    assert response.status_code == 200
    assert response.json()["code"] != 0  # the platform's own refusal, told truly
    stats = get_stats(client)
    assert (stats["doudian"]["faults"], stats["images"]) == ({}, 0)


def test_drop_after_store_wins_over_the_other_lies(client: httpx.Client) -> None:
    set_faults(client, {"drop_after_store": 1.0, **dict.fromkeys(AFTER_STORE, 1.0)})
    with pytest.raises(httpx.RemoteProtocolError):
        TARGETS["tmall_item"].send(client, make_jpeg())
    _stored_once(client, "tmall_item")
    assert get_stats(client)["tmall_item"]["faults"] == {"drop_after_store": 1}


# --- wire lies -----------------------------------------------------------------------------


def test_drip_body_is_slow_and_whole(sandbox: Sandbox) -> None:
    sandbox.set_faults(drip_body=1.0, drip_interval_s=0.05)
    with sandbox.client(timeout=10.0) as client:
        started = time.monotonic()
        response = _no_token(client)
        elapsed = time.monotonic() - started
    assert response.status_code == 401
    assert response.content == UNAUTHORISED
    assert response.headers["content-length"] == str(len(UNAUTHORISED))
    assert elapsed >= len(UNAUTHORISED) * 0.05 * 0.95  # one byte per interval
    assert sandbox.stats()["taobao_picture"]["faults"] == {"drip_body": 1}


def test_drip_body_after_a_store(client: httpx.Client) -> None:
    set_faults(client, {"drip_body": 1.0, "drip_interval_s": 0.001})
    data = make_png(9, 9)
    url = TARGETS["qianmi_sku"].ok(TARGETS["qianmi_sku"].send(client, data))
    assert client.get(url).content == data  # the dripped answer is whole and true
    _stored_once(client, "qianmi_sku")


def test_drip_headers_is_slow_and_whole(sandbox: Sandbox) -> None:
    sandbox.set_faults(drip_headers=1.0, drip_interval_s=0.01)
    with sandbox.client(timeout=10.0) as client:
        started = time.monotonic()
        response = _no_token(client)
        elapsed = time.monotonic() - started
        assert response.status_code == 401
        assert response.content == UNAUTHORISED
        assert response.headers["content-type"] == "application/json"
        assert response.headers["connection"] == "close"
        # The head has well over 100 bytes: the status line alone is 30.
        assert elapsed >= 100 * 0.01
        assert client.get("/_sandbox/health").json() == {"ok": True}  # a new connection
    assert sandbox.stats()["taobao_picture"]["faults"] == {"drip_headers": 1}


def test_silent_stores_and_never_answers(sandbox: Sandbox) -> None:
    sandbox.set_faults(silent=1.0)
    with sandbox.client(timeout=0.5) as client, pytest.raises(httpx.ReadTimeout):
        TARGETS["doudian"].send(client, make_jpeg(5, 5))
    # Counted once the handler has run: on a loaded machine that may be after the timeout.
    _wait_for(lambda: sandbox.stats()["doudian"]["faults"] == {"silent": 1})
    stats = sandbox.stats()
    assert (stats["doudian"]["stored"], stats["images"]) == (1, 1)
    assert stats["doudian"]["faults"] == {"silent": 1}


def test_silent_closes_after_silent_s(client: httpx.Client) -> None:
    set_faults(client, {"silent": 1.0, "silent_s": 0.2})
    started = time.monotonic()
    with pytest.raises(httpx.RemoteProtocolError):
        TARGETS["tmall_item"].send(client, make_jpeg())  # the client would wait 10 s
    assert time.monotonic() - started >= 0.2
    _stored_once(client, "tmall_item")


def test_wire_lies_spare_control_requests(client: httpx.Client) -> None:
    set_faults(client, {"silent": 1.0, "drip_headers": 1.0, "drip_body": 1.0})
    assert client.get("/_sandbox/health").json() == {"ok": True}
    assert client.get("/_sandbox/stats").status_code == 200


def test_stopping_the_server_ends_a_silent_request() -> None:
    server = Sandbox().start()
    server.set_faults(silent=1.0)  # silent_s: an hour
    thread = server._thread
    assert thread is not None
    outcome: list[BaseException] = []

    def send() -> None:
        with server.client(timeout=30.0) as client:
            try:
                TARGETS["doudian"].send(client, make_jpeg())
            except httpx.HTTPError as exc:
                outcome.append(exc)

    sender = threading.Thread(target=send)
    sender.start()
    _wait_for(lambda: server.stats()["doudian"]["faults"] == {"silent": 1})
    server.stop()
    sender.join(timeout=20)
    assert not thread.is_alive()  # shutdown did not wait for the hour
    assert len(outcome) == 1, outcome


# --- replay --------------------------------------------------------------------------------


def _outcome(client: httpx.Client, n: int) -> str:
    try:
        response = TARGETS["doudian"].send(client, make_jpeg(8 + n, 8))
    except httpx.HTTPError as exc:
        return type(exc).__name__
    return f"{response.status_code} {response.headers.get('connection')} {response.content[:8]!r}"


def _lied(client: httpx.Client, seed: int) -> list[str]:
    plan = {**dict.fromkeys((*AFTER_STORE, *WIRE), 0.12), "drip_interval_s": 0, "silent_s": 0}
    set_faults(client, {"seed": seed, **plan})
    return [_outcome(client, n) for n in range(24)]


def test_a_seed_replays_the_same_lies(client: httpx.Client) -> None:
    first = _lied(client, 11)
    faults = get_stats(client)["doudian"]["faults"]
    assert len(set(first)) >= 4, first  # several different lies were told
    assert sum(faults.values()) >= 4, faults
    assert _lied(client, 11) == first
    assert _lied(client, 12) != first


# --- in-process ----------------------------------------------------------------------------


def test_in_process_emulation() -> None:
    state = SandboxState()
    app = imgkit.sandbox.create_app(state)

    def build(name: str) -> httpx.Request:
        with httpx.Client(base_url="http://sandbox") as builder:
            return build_fw199_upload_request(
                builder, **FW199, material_name=name, file=make_jpeg(3, 3)
            )

    async def scenario() -> None:
        transport = imgkit.sandbox.asgi_transport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
            state.set_faults({"drip_body": 1.0, "drip_interval_s": 0.001})
            answer = await client.send(build("a.jpg"))
            assert answer.json()["data"]["material_info"]["byte_url"]
            state.set_faults({"drip_headers": 1.0, "drip_interval_s": 0.001})
            assert (await client.send(build("b.jpg"))).json()["code"] == 0
            state.set_faults({"silent": 1.0, "silent_s": 0.05})
            with pytest.raises(httpx.RemoteProtocolError):
                await client.send(build("c.jpg"))
            state.set_faults({"no_url_after_store": 1.0})
            stripped = (await client.send(build("d.jpg"))).json()["data"]["material_info"]
            assert "byte_url" not in stripped
            assert stripped["material_id"]

    asyncio.run(scenario())
    faults = state.stats()["doudian"]["faults"]
    assert faults == {"drip_body": 1, "drip_headers": 1, "silent": 1, "no_url_after_store": 1}
    assert state.stats()["doudian"]["stored"] == 4


# --- the limits of the server ------------------------------------------------------------------

CAP = 64 * 1024


@pytest.fixture(scope="module")
def limited() -> Iterator[Sandbox]:
    with Sandbox(max_body_bytes=CAP, header_timeout_s=0.3, body_timeout_s=0.3) as server:
        yield server


def _raw(server: Sandbox) -> socket.socket:
    sock = socket.create_connection((server.host, server.port), timeout=5.0)
    return sock


def _read_until_closed(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_a_declared_body_over_the_cap_is_refused_unread(limited: Sandbox) -> None:
    limited.reset()
    with _raw(limited) as sock:
        sock.sendall(
            b"POST /api HTTP/1.1\r\nHost: sandbox\r\nContent-Length: 1073741824\r\n"
            b"Content-Type: multipart/form-data; boundary=x\r\n\r\n" + b"x" * 1000
        )
        # The 413 comes at once, before the gigabyte: the server is not waiting for it.
        answer = _read_until_closed(sock)
        assert answer.startswith(b"HTTP/1.1 413 ")
        assert b"<title>413 Request Entity Too Large</title>" in answer
        sock.sendall(b"y" * 200_000)  # still read (and thrown away): no reset
    assert limited.stats()["total"]["requests"] == 0  # no platform ever saw it


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_over_the_cap_gets_413(limited: Sandbox, chunked: bool) -> None:
    limited.reset()
    body = make_jpeg()
    data = b"z" * (4 * CAP)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(data), 8192):
            yield data[start : start + 8192]

    with limited.client(timeout=10.0) as client:
        response = client.post(
            "/gateway/dd/material/uploadimagesync",
            content=chunks() if chunked else data,
            headers={"content-type": "application/octet-stream"},
        )
        assert response.status_code == 413
        assert response.headers["content-type"] == "text/html"
        assert "Request Entity Too Large" in response.text
        # An upload under the cap passes on the same server.
        with limited.client(timeout=10.0) as fresh:
            upload = build_fw199_upload_request(fresh, **FW199, material_name="a.jpg", file=body)
            assert len(upload.read()) < CAP
            TARGETS["doudian"].ok(fresh.send(upload))
    assert limited.stats()["doudian"]["stored"] == 1


def test_exactly_the_cap_is_allowed(limited: Sandbox) -> None:
    limited.reset()
    with limited.client(timeout=10.0) as client:
        for size, status in ((CAP, 200), (CAP + 1, 413)):
            padded = b"{" + b" " * (size - 2) + b"}"  # an empty fault plan, read whole
            response = client.post(
                "/_sandbox/faults", content=padded, headers={"content-type": "application/json"}
            )
            assert response.status_code == status, size


@pytest.mark.parametrize(
    "sent",
    [
        pytest.param(b"", id="nothing"),
        pytest.param(b"POST /api HT", id="half-a-request-line"),
        pytest.param(b"POST /api HTTP/1.1\r\nHost: sandbox\r\nContent-", id="half-the-headers"),
        pytest.param(
            b"POST /api HTTP/1.1\r\nHost: sandbox\r\nContent-Length: 500\r\n\r\nabc",
            id="stalled-body",
        ),
    ],
)
def test_stalled_connections_are_closed(limited: Sandbox, sent: bytes) -> None:
    with _raw(limited) as sock:
        started = time.monotonic()
        sock.sendall(sent)
        assert _read_until_closed(sock) == b""  # closed without an answer, within 5 s
        assert time.monotonic() - started >= 0.25


def test_an_idle_keep_alive_connection_outlives_the_header_timeout(limited: Sandbox) -> None:
    request = b"GET /_sandbox/health HTTP/1.1\r\nHost: sandbox\r\n\r\n"
    with _raw(limited) as sock:
        for attempt in range(2):
            if attempt:
                time.sleep(0.6)  # twice the header timeout: keep-alive (30 s) governs idleness
            sock.sendall(request)
            answer = b""
            while not answer.endswith(b'{"ok":true}'):
                chunk = sock.recv(65536)
                assert chunk, answer  # closed before the answer
                answer += chunk


def test_server_limits_are_validated() -> None:
    makers: list[Callable[[], Sandbox]] = [
        lambda: Sandbox(max_body_bytes=0),
        lambda: Sandbox(header_timeout_s=0),
        lambda: Sandbox(body_timeout_s=-1),
    ]
    for make in makers:
        with pytest.raises(ValueError, match="positive"):
            make()
    with pytest.raises(ValueError, match="whole number"):
        Sandbox(max_body_bytes=1.5)  # type: ignore[arg-type]
