"""Where a Douyin upload's bytes come from: ``url``, ``file_uri`` or the ``file`` part.

The seed page: ``url`` and ``file_uri`` are the two sources, one of them must be given, and
when both are, ``url`` is taken (``file_uri`` is then ignored, even an unknown one).  The
fw199 gateway adds a third, the multipart ``file`` part of its Java sample; ``url`` wins
over it too, and ``file_uri`` together with a ``file`` part is refused (40004
``isv.parameter-invalid:file_uri``): the page says nothing of the pair, so the sandbox
takes the strict reading rather than guess which one the gateway would keep.

A ``file_uri`` names a file sent earlier through Douyin's binary upload ("二进制上传素材
指南"), which the sandbox does not emulate: only the files the world gives a seller
(:attr:`~imgkit.sandbox.world.DoudianSeller.file_uris`) resolve, and any other
``file_uri`` is unknown (40004 ``isv.parameter-invalid:file_uri``).  Their bytes are made
here, deterministically, and each names its URI, so no two share content.  A ``url`` is
downloaded from loopback only.  Whatever the source, the upload then meets the same
limits (10 MB, png/jpg by content).

Example
-------
>>> from imgkit.sandbox.world import BinaryFile
>>> data = binary_file_bytes("tos-cn-i-7veqoeduo3/x", BinaryFile("jpeg", size=5000))
>>> len(data), data[:2]
(5000, b'\\xff\\xd8')
"""

from __future__ import annotations

import functools
import io
import ipaddress
from urllib.parse import urlsplit

import httpx
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from imgkit.sandbox.failures import PlatformFailure
from imgkit.sandbox.pipeline import Call, SandboxPlatform, Upload
from imgkit.sandbox.store import IMAGE_ROUTE
from imgkit.sandbox.world import BinaryFile, DoudianSeller

MAX_BYTES = 10 * 1024 * 1024
_COM_PAYLOAD = 65533  # the largest payload of a JPEG comment segment


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _comments(need: int) -> bytes:
    """JPEG comment segments of exactly ``need`` bytes (0 or at least 4)."""
    segments = []
    while need > 0:
        chunk = min(need, 4 + _COM_PAYLOAD)
        if 0 < need - chunk < 4:
            chunk -= 4
        payload = chunk - 4
        segments.append(b"\xff\xfe" + (payload + 2).to_bytes(2, "big") + b"c" * payload)
        need -= chunk
    return b"".join(segments)


@functools.lru_cache(maxsize=8)
def binary_file_bytes(uri: str, spec: BinaryFile) -> bytes:
    """The bytes of the seeded binary file ``uri``: an image that names its URI.

    A JPEG with a ``size`` is padded with comment segments to exactly that many bytes.
    """
    out = io.BytesIO()
    image = Image.new("RGB", (spec.width, spec.height), (40, 120, 200))
    if spec.format == "png":
        info = PngInfo()
        info.add_text("imgkit-sandbox-file-uri", uri)
        image.save(out, format="PNG", pnginfo=info)
    elif spec.format == "gif":
        image.save(out, format="GIF", comment=uri.encode())
    else:
        image.save(out, format="JPEG", quality=80, comment=uri.encode())
    data = out.getvalue()
    if spec.format != "jpeg" or not spec.size:
        return data
    need = spec.size - len(data)
    if need < 4:
        raise ValueError(f"{uri}: {spec.size} bytes is too small for its JPEG")
    return data[:2] + _comments(need) + data[2:]


def pick(call: Call, platform: SandboxPlatform, seller: DoudianSeller) -> str | Upload:
    """The upload's source: the ``url`` to download, or the bytes at hand.

    Raises the platform's ``param_invalid`` when there is no source, an unknown
    ``file_uri``, or a ``file_uri`` with a ``file`` part.
    """
    url, file_uri, part = call.param("url"), call.param("file_uri"), call.files.get("file")
    if url:
        return url
    if file_uri:
        if part is not None:
            raise platform.fail("param_invalid", name="file_uri")
        spec = seller.file_uris.get(file_uri)
        if spec is None:
            raise platform.fail("param_invalid", name="file_uri")
        return Upload(file_uri.rsplit("/", 1)[-1], "", binary_file_bytes(file_uri, spec))
    if part is None:
        raise platform.fail("param_invalid", name="url")
    return part


async def _download(call: Call, platform: SandboxPlatform, url: str) -> bytes:
    """Download ``url`` as the platform would, but from loopback only."""

    def failed() -> PlatformFailure:
        return platform.fail("url_download_failed")

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise failed()
    own = urlsplit(call.base_url)
    if parts.netloc == own.netloc and parts.path.startswith(IMAGE_ROUTE + "/"):
        stored = call.state.store.get(parts.path[len(IMAGE_ROUTE) + 1 :])
        if stored is None:
            raise failed()
        return stored.data
    if not _is_loopback(parts.hostname):
        raise failed()
    try:
        async with (
            httpx.AsyncClient(timeout=10.0, trust_env=False) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                raise failed()
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_BYTES:
                    raise platform.fail("too_large")
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx.HTTPError as exc:
        raise failed() from exc


async def fetch_once(
    call: Call, platform: SandboxPlatform, in_flight: set[tuple[str, str]], seller: str, url: str
) -> Upload:
    """Download a URL source; the same URL for the same seller may be in flight only once."""
    state = call.state
    flight = (seller, url)
    with state.lock:
        if flight in in_flight:
            raise platform.fail("duplicate_request")
        in_flight.add(flight)
    try:
        data = await _download(call, platform, url)
    finally:
        with state.lock:
            in_flight.discard(flight)
    return Upload(url.rsplit("/", 1)[-1], "", data)
