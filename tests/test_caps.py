"""Deadlines and caps on every byte imgkit reads: answers, files and URL sources.

Tiny loopback servers (127.0.0.1, port 0, a thread per connection) play the hostile
cases exactly: an answer dripped a byte every 0.2 s, a server that never answers, a body
of 64 MiB generated lazily while counting what it wrote, redirects.  Time is only ever
bounded from above, with wide margins.
"""

from __future__ import annotations

import asyncio
import io
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
from PIL import Image

import imgkit
from imgkit import ImgkitError, Sandbox
from imgkit.intake.files import READ_CAP, read_capped, read_file
from imgkit.intake.probe import probe_bytes, probe_file, probe_paths
from imgkit.intake.sniff import truncated
from imgkit.intake.sources import FetchError, fetch_source, fetch_sync
from imgkit.net.blocking import send_sync
from imgkit.net.transport import AnswerTooLarge, Sender
from imgkit.platforms.base import UNREADABLE

MIB = 1024 * 1024
# Everything here must end far sooner than this, even on a loaded 2-core machine.
BOUND_S = 10.0


class Served:
    """What a test server saw: connections accepted, bytes written, requests read."""

    def __init__(self) -> None:
        self.connections = 0
        self.written = 0
        self.requests: list[bytes] = []
        self.stop = threading.Event()


Behaviour = Callable[[socket.socket, bytes, Served], None]


def _read_head(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return b""
        data += chunk
    return data


@pytest.fixture
def server() -> Iterator[Callable[[Behaviour], tuple[str, Served]]]:
    """Start a server with one behaviour per request; yields a function returning its
    base URL and what it saw.  Every connection is served in its own thread."""
    started: list[tuple[socket.socket, Served]] = []

    def start(behaviour: Behaviour) -> tuple[str, Served]:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        served = Served()
        started.append((listener, served))

        def handle(conn: socket.socket) -> None:
            with conn:
                try:
                    while not served.stop.is_set():
                        head = _read_head(conn)
                        if not head:
                            return
                        served.requests.append(head)
                        behaviour(conn, head, served)
                except OSError:  # the client gave up: that is what these tests provoke
                    return

        def accept() -> None:
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                served.connections += 1
                threading.Thread(target=handle, args=(conn,), daemon=True).start()

        threading.Thread(target=accept, daemon=True).start()
        return f"http://127.0.0.1:{listener.getsockname()[1]}", served

    yield start
    for listener, served in started:
        served.stop.set()
        listener.close()


def drip(conn: socket.socket, head: bytes, served: Served) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
    for _ in range(1000):
        if served.stop.wait(0.2):
            return
        conn.sendall(b"x")


def silent(conn: socket.socket, head: bytes, served: Served) -> None:
    served.stop.wait(BOUND_S * 3)


def huge(conn: socket.socket, head: bytes, served: Served) -> None:
    """64 MiB, chunked (no length to refuse it by), written lazily and counted."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    piece = b"x" * 65536
    frame = b"%x\r\n" % len(piece) + piece + b"\r\n"
    for _ in range(64 * MIB // len(piece)):
        conn.sendall(frame)
        served.written += len(piece)
    conn.sendall(b"0\r\n\r\n")


def huge_then_small(conn: socket.socket, head: bytes, served: Served) -> None:
    if head.startswith(b"GET /big"):
        huge(conn, head, served)
    else:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


def _send(url: str, **sender: float) -> httpx.Response:
    async def main() -> httpx.Response:
        async with Sender(2, **sender) as client:  # type: ignore[arg-type]
            return await client.send(httpx.Request("POST", url, content=b"x=1"))

    return asyncio.run(main())


# --- Sender: a deadline on the whole exchange, a cap on the answer ------------------------


@pytest.mark.parametrize("behaviour", [drip, silent], ids=["drip", "silent"])
def test_a_slow_answer_is_cut_off_at_the_deadline(
    server: Callable[[Behaviour], tuple[str, Served]], behaviour: Behaviour
) -> None:
    url, _ = server(behaviour)
    began = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):  # sent: "may have been stored"
        _send(url + "/upload", timeout=30.0, deadline_s=1.0)
    assert time.monotonic() - began < BOUND_S


def test_the_default_deadline_is_twice_the_timeout() -> None:
    assert Sender(1, timeout=5.0).deadline_s == 10.0
    assert Sender(1, timeout=5.0, deadline_s=3.0).deadline_s == 3.0


def test_a_huge_answer_stops_at_the_cap_and_its_connection_is_dropped(
    server: Callable[[Behaviour], tuple[str, Served]],
) -> None:
    url, served = server(huge_then_small)

    async def main() -> str:
        async with Sender(2, max_answer_bytes=MIB) as client:
            with pytest.raises(AnswerTooLarge) as caught:
                await client.send(httpx.Request("GET", url + "/big"))
            assert isinstance(caught.value, httpx.ReadError)  # sent: "may have been stored"
            return (await client.send(httpx.Request("GET", url + "/small"))).text

    assert asyncio.run(main()) == "ok"
    assert served.connections == 2  # the abandoned connection was not reused
    assert served.written < 32 * MIB  # socket buffers hold a few MiB; not all 64 were sent


def test_an_announced_huge_answer_is_refused_unread(
    server: Callable[[Behaviour], tuple[str, Served]],
) -> None:
    def announced(conn: socket.socket, head: bytes, served: Served) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (64 * MIB))
        served.stop.wait(BOUND_S)

    url, _ = server(announced)
    began = time.monotonic()
    with pytest.raises(AnswerTooLarge):
        _send(url + "/", deadline_s=BOUND_S * 2)
    assert time.monotonic() - began < BOUND_S  # refused by its length, not read


def test_other_transports_get_the_deadline_and_the_cap() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(BOUND_S * 3)
        return httpx.Response(200)  # pragma: no cover - the deadline comes first

    async def main(handler: Callable[..., object], **sender: float) -> httpx.Response:
        mock = httpx.MockTransport(handler)  # type: ignore[arg-type]
        async with Sender(1, transport=mock, **sender) as client:  # type: ignore[arg-type]
            return await client.send(httpx.Request("POST", "http://x.test/"))

    began = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        asyncio.run(main(slow, deadline_s=0.5))
    assert time.monotonic() - began < BOUND_S
    with pytest.raises(AnswerTooLarge):
        asyncio.run(main(lambda r: httpx.Response(200, content=b"x" * 2000), max_answer_bytes=1000))
    gzipped = httpx.Response(200, headers={"content-encoding": "gzip"}, content=_gzip_bomb())
    with pytest.raises(AnswerTooLarge):  # decoded bytes count, not compressed ones
        asyncio.run(main(lambda r: gzipped, max_answer_bytes=MIB))


def _gzip_bomb() -> bytes:
    import gzip

    return gzip.compress(b"\0" * 16 * MIB)


def test_send_sync_has_the_same_deadline_and_cap(
    server: Callable[[Behaviour], tuple[str, Served]],
) -> None:
    dripping, _ = server(drip)
    big, served = server(huge)
    with httpx.HTTPTransport() as wire:
        began = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            send_sync(wire, httpx.Request("GET", dripping), timeout=30, deadline_s=1)
        assert time.monotonic() - began < BOUND_S
        with pytest.raises(AnswerTooLarge):
            send_sync(wire, httpx.Request("GET", big), max_answer_bytes=MIB)
    assert served.written < 32 * MIB


# --- URL sources: redirects only within the host, the deadline, the cap -------------------


def _redirects(conn: socket.socket, head: bytes, served: Served) -> None:
    path = head.split(b" ")[1]
    port = conn.getsockname()[1]
    if path == b"/image.jpg":
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nJPEG")
        return
    where = {
        b"/same": b"/image.jpg",
        b"/away": b"http://localhost:%d/image.jpg" % port,
        b"/loop": b"/loop",
        b"/ftp": b"ftp://127.0.0.1/image.jpg",
    }[path]
    conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: " + where + b"\r\nContent-Length: 0\r\n\r\n")


def test_redirects_are_followed_only_within_the_host(
    server: Callable[[Behaviour], tuple[str, Served]],
) -> None:
    url, _ = server(_redirects)
    with httpx.HTTPTransport() as wire:
        assert fetch_sync(wire, url + "/same", 100, deadline_s=BOUND_S) == b"JPEG"

    async def fetched(path: str) -> bytes:
        async with Sender(1) as sender:
            return await fetch_source(sender, url + path, 100)

    assert asyncio.run(fetched("/same")) == b"JPEG"
    for path in ("/away", "/loop", "/ftp"):
        with pytest.raises(FetchError) as caught:
            asyncio.run(fetched(path))
        assert caught.value.code == "redirect_refused"
        with pytest.raises(FetchError) as again, httpx.Client() as client:
            fetch_sync(client, url + path, 100, deadline_s=BOUND_S)
        assert again.value.code == "redirect_refused"
    with pytest.raises(FetchError, match="localhost") as away:
        asyncio.run(fetched("/away"))
    assert "重定向" in away.value.message


def test_a_url_source_is_cut_off_by_deadline_and_cap(
    server: Callable[[Behaviour], tuple[str, Served]],
) -> None:
    dripping, _ = server(drip)
    big, served = server(huge)

    async def fetched(url: str, limit: int) -> bytes:
        async with Sender(1, timeout=30.0, deadline_s=1.0) as sender:
            return await fetch_source(sender, url, limit)

    began = time.monotonic()
    with pytest.raises(FetchError) as slow:
        asyncio.run(fetched(dripping + "/a.jpg", MIB))
    assert slow.value.code == "download_failed"
    assert time.monotonic() - began < BOUND_S
    with pytest.raises(FetchError) as large:
        asyncio.run(fetched(big + "/a.jpg", MIB))
    assert (large.value.code, large.value.category) == ("file_too_large", imgkit.Category.TOO_LARGE)
    assert served.written < 32 * MIB


def test_validation_of_a_dripping_url_fails_within_its_deadline(
    server: Callable[[Behaviour], tuple[str, Served]],
    monkeypatch: pytest.MonkeyPatch,
    sandbox: Sandbox,
) -> None:
    monkeypatch.setattr("imgkit.intake.probe.DOWNLOAD_DEADLINE_S", 1.0)
    url, _ = server(drip)
    began = time.monotonic()
    assert probe_paths([url + "/a.jpg"])["probe_error"].tolist() == ["download_failed"]
    batch = pd.DataFrame(
        [
            {
                "platform": "tmall_item",
                "shop": "tmall_store",
                "file": url + "/b.jpg",
                "target": "1489161940",
            }
        ]
    )
    checked = imgkit.validate(batch, shops=sandbox.shops)
    assert "download_failed" in str(checked.loc[0, "issues"])
    assert not checked.loc[0, "ok"]
    assert time.monotonic() - began < BOUND_S * 2


# --- files: regular files only, up to the cap, never a hang --------------------------------


def _within(seconds: float, work: Callable[[], object]) -> object:
    """``work()`` run in a thread that must finish in time (a FIFO must not hang the test)."""
    result: list[object] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            result.append(work())
        except Exception as exc:  # re-raised in the test's own thread
            failed.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "blocked"
    if failed:
        raise failed[0]
    return result[0]


def test_devices_and_pipes_are_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    assert probe_file("/dev/zero").error == "not_regular_file"
    assert _within(BOUND_S, lambda: probe_file(str(fifo)).error) == "not_regular_file"
    frame = _within(BOUND_S, lambda: probe_paths([str(fifo), "/dev/zero"]))
    assert frame["probe_error"].tolist() == ["not_regular_file"] * 2  # type: ignore[index]
    for path in (fifo, Path("/dev/zero")):
        with pytest.raises(ImgkitError) as caught:
            _within(BOUND_S, lambda p=path: read_file(p, 100))  # type: ignore[misc]
        assert caught.value.code == "not_regular_file"


def test_a_pipe_swapped_in_after_the_check_cannot_block(tmp_path: Path) -> None:
    fifo = tmp_path / "swapped.jpg"
    os.mkfifo(fifo)  # what _cached's stat saw was a file; the open finds a pipe
    got = _within(BOUND_S, lambda: read_capped(str(fifo), READ_CAP))
    assert getattr(got, "error", None) == "not_regular_file"


def _stat_saying(size_change: int) -> Callable[[int], os.stat_result]:
    """os.fstat, but the size it says is off by ``size_change``: the file changed between
    the look at its size and the read."""
    real = os.fstat

    def fstat(fd: int) -> os.stat_result:
        info = list(real(fd))
        info[6] += size_change  # st_size
        return os.stat_result(info)

    return fstat


@pytest.mark.parametrize("change", [-10, -1, 0, 1, 10], ids=lambda c: f"size{c:+d}")
def test_a_file_is_read_whole_whatever_its_size_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: int
) -> None:
    # A file that grew since its size was read (the size says less), or shrank (more):
    # its bytes as they are now, never cut at the size it had.
    body = bytes(range(256)) * 40
    path = tmp_path / "changing.jpg"
    path.write_bytes(body)
    monkeypatch.setattr(os, "fstat", _stat_saying(change))
    assert read_capped(str(path), READ_CAP) == body


def test_a_short_read_before_the_end_reads_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One read as a rule; a read that stops short of what the size said is not the end.
    body = bytes(range(256)) * 40
    path = tmp_path / "slow.jpg"
    path.write_bytes(body)
    real, calls = os.read, []

    def short_first(fd: int, n: int) -> bytes:
        calls.append(n)
        return real(fd, 100 if len(calls) == 1 else n)

    monkeypatch.setattr(os, "read", short_first)
    assert read_capped(str(path), READ_CAP) == body
    assert len(calls) >= 2
    calls.clear()

    def counted(fd: int, n: int) -> bytes:
        calls.append(n)
        return real(fd, n)

    monkeypatch.setattr(os, "read", counted)
    assert read_capped(str(path), READ_CAP) == body
    assert calls == [len(body) + 1]  # whole at once: no second read to find the end


def test_a_file_over_the_cap_is_refused_by_its_size(tmp_path: Path) -> None:
    sparse = tmp_path / "huge.jpg"
    with sparse.open("wb") as fh:
        fh.truncate(200 * MIB)  # sparse: nothing is written, and nothing may be read
    facts = probe_file(str(sparse))
    assert (facts.error, facts.bytes) == ("file_too_large", 200 * MIB)
    assert probe_paths([str(sparse)])["probe_error"].tolist() == ["file_too_large"]
    with pytest.raises(ImgkitError) as caught:
        read_file(sparse, 10 * MIB)
    assert (caught.value.code, caught.value.category) == (
        "file_too_large",
        imgkit.Category.TOO_LARGE,
    )
    small = tmp_path / "small.bin"
    small.write_bytes(b"12345")
    assert read_file(small, 5) == b"12345"
    with pytest.raises(ImgkitError, match="over the limit"):
        read_file(small, 4)


def test_bad_names_are_probe_errors_never_exceptions(tmp_path: Path) -> None:
    names = ["a\0b.jpg", "x" * 5000 + ".jpg", str(tmp_path / ("y" * 300)), str(tmp_path)]
    frame = probe_paths(names)
    assert frame["probe_error"].tolist() == [
        "unreadable_file",
        "unreadable_file",
        "unreadable_file",  # a component over NAME_MAX
        "unreadable_file",  # a folder stays what it was
    ]
    with pytest.raises(ImgkitError, match="cannot read") as caught:
        read_file("a\0b.jpg", 100)
    assert caught.value.code == "unreadable_file"


# --- truncation: a motion photo is whole, a cut file is not --------------------------------


def _image(fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    pixels = Image.effect_noise((64, 48), 60).convert("RGB")
    pixels.save(buffer, fmt, **options)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
@pytest.mark.parametrize("marker", [True, False], ids=["with-ffd9", "without-ffd9"])
def test_data_appended_after_the_end_marker_is_not_damage(fmt: str, marker: bool) -> None:
    video = bytes(range(256)) * 1200  # 300 KB holding FF D9 / "IEND"-free runs
    if marker:
        video = b"\0" * 1000 + b"\xff\xd9" + video + b"\xff\xd9IEND" + b"\0" * 5000
    else:
        video = video.replace(b"\xff\xd9", b"\xff\x00")
    facts = probe_bytes(_image(fmt) + b"ftypmp42" + video)
    assert facts.error == "", facts
    assert facts.width == 64


@pytest.mark.parametrize(
    ("fmt", "options"), [("JPEG", {}), ("JPEG", {"progressive": True}), ("PNG", {})]
)
def test_a_really_truncated_image_is_still_corrupt(fmt: str, options: dict[str, object]) -> None:
    whole = _image(fmt, **options)
    assert probe_bytes(whole).error == ""
    for cut in (len(whole) - 3, len(whole) // 2, 400):
        assert probe_bytes(whole[:cut]).error == "corrupt_image", cut


@pytest.mark.parametrize("progressive", [False, True], ids=["baseline", "progressive"])
def test_no_cut_of_a_jpeg_is_whole(progressive: bool) -> None:
    # Every cut, at every byte: inside the headers, the thumbnail's own EOI, each scan,
    # the tables between a progressive JPEG's scans and the EOI's first byte.  An EOI near
    # the end is taken without walking the scan data, which holds only because no cut
    # leaves one there.
    exif = Image.Exif()
    exif[0x010E] = "x"
    whole = _image("JPEG", progressive=progressive, exif=exif.tobytes() + _image("JPEG"))
    assert len(whole) < 8 * 4096  # small enough that every cut is tried
    assert not truncated("jpeg", whole)
    whole_cuts = [cut for cut in range(4, len(whole)) if not truncated("jpeg", whole[:cut])]
    assert whole_cuts == []


def test_an_exif_thumbnail_end_marker_does_not_count() -> None:
    thumb = _image("JPEG")  # its own SOI ... EOI, carried inside APP1
    exif = Image.Exif()
    exif[0x010E] = "x"
    whole = _image("JPEG", exif=exif.tobytes() + thumb)
    assert probe_bytes(whole).error == ""
    assert probe_bytes(whole[: len(whole) - 200]).error == "corrupt_image"


# --- upload_one: the same deadline and cap, and answers that defeat the JSON parser -------

MUG = Path(__file__).resolve().parent.parent / "sample_data" / "images" / "mug.jpg"


def _answering(body: bytes) -> Behaviour:
    def answer(conn: socket.socket, head: bytes, served: Served) -> None:
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        received = len(head.partition(b"\r\n\r\n")[2])
        while received < length:
            received += len(conn.recv(65536))
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)

    return answer


def _shops_at(sandbox: Sandbox, url: str) -> dict[str, dict[str, str]]:
    shops = sandbox.shops
    shops["tb_picture_main"] = {**shops["tb_picture_main"], "base_url": url}
    return shops


@pytest.mark.parametrize(
    "body",
    [b"[" * 200_000 + b"]" * 200_000, b'{"code": ' + b"9" * 5000 + b"}"],
    ids=["nested", "huge-integer"],
)
def test_an_answer_that_defeats_the_parser_is_an_outcome(
    server: Callable[[Behaviour], tuple[str, Served]], sandbox: Sandbox, body: bytes
) -> None:
    url, _ = server(_answering(body))
    out = imgkit.upload_one("tb_picture_main", MUG, "0", shops=_shops_at(sandbox, url))
    assert not out.ok
    assert out.maybe_stored  # it was sent and answered: it may be stored


def test_a_parser_that_raises_anyway_gives_an_outcome(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from imgkit.platforms import get_adapter

    def exhausted(self: object, response: httpx.Response) -> object:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(type(get_adapter("taobao_picture")), "parse_response", exhausted)
    out = imgkit.upload_one("tb_picture_main", MUG, "0", shops=sandbox.shops)
    assert (out.ok, out.maybe_stored, out.category) == (False, True, UNREADABLE.category)


def test_upload_one_has_a_deadline(
    server: Callable[[Behaviour], tuple[str, Served]], sandbox: Sandbox
) -> None:
    url, _ = server(silent)
    began = time.monotonic()
    out = imgkit.upload_one(
        "tb_picture_main", MUG, "0", shops=_shops_at(sandbox, url), timeout=30, deadline_s=1
    )
    assert time.monotonic() - began < BOUND_S
    assert (out.category, out.maybe_stored) == (imgkit.Category.TIMEOUT, True)


def test_upload_one_refuses_a_source_redirected_elsewhere(
    server: Callable[[Behaviour], tuple[str, Served]], sandbox: Sandbox
) -> None:
    url, _ = server(_redirects)
    out = imgkit.upload_one("qianmi_shop", url + "/away", "18353/g1234", shops=sandbox.shops)
    assert (out.ok, out.code) == (False, "redirect_refused")
    assert "localhost" in out.message
    assert sandbox.state.request_log() == []  # nothing reached the platform


def test_upload_one_is_cut_off_when_the_headers_drip(sandbox: Sandbox) -> None:
    """httpcore restarts its read timeout on every byte of the headers: the deadline
    must still hold (the exchange runs where the deadline can walk away from it)."""
    sandbox.set_faults(drip_headers=1.0, drip_interval_s=0.2)  # ~40 s of headers
    image = str(Path(__file__).resolve().parent.parent / "sample_data" / "images" / "mug.jpg")

    def send() -> imgkit.Outcome:
        return imgkit.upload_one(
            "qianmi_shop", image, "18353/g1234", shops=sandbox.shops, timeout=1, deadline_s=2
        )

    out = _within(BOUND_S, send)
    assert isinstance(out, imgkit.Outcome)
    assert (out.ok, out.maybe_stored) == (False, True), out
    assert sandbox.stats()["total"]["stored"] == 1  # it was stored: in doubt, not failed
