"""``verify(results)``: download what each upload's URL serves and check it is what was sent.

An upload that answered "stored" only says the platform took the bytes; ``verify`` asks the
URL.  Every ``uploaded`` or ``skipped`` row with a URL is downloaded (in parallel, paced per
host, with a body cap and a deadline) and judged:

* the SHA-256 of the body equals the row's ``sha256``: verified;
* the platform re-encodes what it stores (:data:`REENCODING_PLATFORMS`, an adapter's
  ``reencodes`` attribute, or ``reencoded=``): verified when the served image has the
  local file's pixel size and a near-identical picture (see :func:`picture_difference`),
  with a reason that says it was re-encoded;
* otherwise not verified, with the reason: an HTTP status, not an image, different bytes,
  a different pixel size or picture, a time-out, a body over the cap.

The answer is the results frame (same index, same columns) plus ``verified`` (True, False,
or <NA> for a row with nothing to check) and ``verify_reason``.  ``docs/verify.md`` has
the details; ``imgkit verify RESULTS`` does the same from the shell.

Example
-------
>>> import imgkit
>>> with imgkit.Sandbox() as sb:
...     out = imgkit.upload("sample_data/batch.csv", shops=sb.shops, journal=False,
...                         progress=False)
...     checked = verify(out, rate_per_host=100.0)
>>> verify_counts(checked)
{'verified': 15, 'not_verified': 0, 'not_checked': 0}
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import io
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import numpy as np
import pandas as pd
from PIL import Image, ImageOps

from imgkit.aliases import BatchSource, ShopsSource
from imgkit.engine.in_thread import run_sync
from imgkit.engine.pacing import PacerPool
from imgkit.errors import UnknownPlatformError
from imgkit.intake.cells import cell_text as _text
from imgkit.intake.probe import is_url
from imgkit.intake.validation import load_shops_lenient
from imgkit.net.transport import AnswerTooLarge, Sender
from imgkit.platforms import get_adapter, resolve_platform
from imgkit.report.readback import read_results

log = logging.getLogger("imgkit.report.verify")

# Platforms whose image URLs may serve a re-encoded copy rather than the bytes sent: Douyin
# serves audited material from its image CDN with no promise of the same bytes; the other
# four serve the stored file.  An adapter may also declare ``reencodes = True``.
REENCODING_PLATFORMS: frozenset[str] = frozenset({"doudian"})
CHECKED_STATUSES = ("uploaded", "skipped")
VERIFY_COLUMNS = ("verified", "verify_reason")
# Body cap: the row's bytes x 4 + 1 MiB (a re-encode may grow a file), never above this.
MAX_BODY = 64 * 1024 * 1024
BODY_SLACK = 1024 * 1024
MAX_REDIRECTS = 5
# The picture test: a greyscale thumbnail of each image, compared pixel by pixel (0-255).
# JPEG quality 50 of the sample images stays under 0.8 mean / 5 peak; two different
# product photos of the same size differ by 20+ mean / 130+ peak.
THUMB_SIDE = 64
MEAN_TOLERANCE = 2.0
PEAK_TOLERANCE = 24.0


@dataclass(frozen=True, slots=True)
class _Check:
    """One row to download and judge."""

    url: str
    sha256: str
    size: int | None
    width: int | None
    height: int | None
    file: str
    reencoded: bool

    @property
    def cap(self) -> int:
        return MAX_BODY if self.size is None else min(self.size * 4 + BODY_SLACK, MAX_BODY)


Finding = tuple[bool | None, str]


def picture_difference(first: Image.Image, second: Image.Image) -> tuple[float, float]:
    """Mean and peak absolute difference (0-255) of two images' greyscale thumbnails.

    Both are turned upright (EXIF), put on white where transparent and shrunk to
    ``THUMB_SIDE`` squared by averaging, so re-encoding noise cancels out and a changed
    picture does not.

    >>> red, blue = Image.new("RGB", (80, 80), "red"), Image.new("RGB", (80, 80), "blue")
    >>> picture_difference(red, red.copy()), picture_difference(red, blue)[0] > 20
    ((0.0, 0.0), True)
    """

    def thumb(image: Image.Image) -> np.ndarray[Any, np.dtype[np.float32]]:
        image = ImageOps.exif_transpose(image)
        if image.mode in ("RGBA", "LA", "P", "PA"):
            rgba = image.convert("RGBA")
            image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
        side = (THUMB_SIDE, THUMB_SIDE)
        small = image.convert("L").resize(side, Image.Resampling.BOX)
        return np.asarray(small, dtype=np.float32)

    diff = np.abs(thumb(first) - thumb(second))
    return round(float(diff.mean()), 2), round(float(diff.max()), 2)


def _image(data: bytes) -> Image.Image | None:
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None
    return image


def _upright_size(image: Image.Image) -> tuple[int, int]:
    size: tuple[int, int] = ImageOps.exif_transpose(image).size
    return size


def _judge(check: _Check, status: int, data: bytes, content_type: str) -> Finding:
    """Whether ``data`` (what the URL served) is what ``check``'s row sent, and why not."""
    if status != 200:
        return False, f"图片地址返回 HTTP {status} / the URL answered HTTP {status}"
    if hashlib.sha256(data).hexdigest() == check.sha256:
        return True, ""
    served = _image(data)
    if served is None:
        kind = content_type or "no content type"
        return False, f"不是图片 / not an image: {kind}, {len(data)} bytes"
    sent = f"{check.size} sent" if check.size is not None else "sent"
    different = f"字节不同 / different bytes: {len(data)} served, {sent}"
    original = _image(Path(check.file).read_bytes()) if Path(check.file).is_file() else None
    wanted = _upright_size(original) if original is not None else (check.width, check.height)
    got = _upright_size(served)
    pixels = ""
    if None not in wanted and got != wanted:
        pixels = (
            f"像素尺寸不同 / different pixel size: {got[0]}x{got[1]} served, "
            f"{wanted[0]}x{wanted[1]} sent"
        )
    if not check.reencoded:
        return False, f"{different}; {pixels}" if pixels else different
    if pixels:
        return False, pixels
    if original is None:
        where = "is a URL" if is_url(check.file) else "is gone"
        return False, (
            f"{different}; 本地原图不可用,无法比较画面 / the local file {check.file} {where}, "
            "so the picture could not be compared"
        )
    mean, peak = picture_difference(original, served)
    if mean <= MEAN_TOLERANCE and peak <= PEAK_TOLERANCE:
        return True, (
            f"平台已重新编码,画面一致 / re-encoded by the platform; the picture matches "
            f"(difference {mean} mean, {peak} peak)"
        )
    return False, (
        f"{different}; 画面不同 / a different picture (difference {mean} mean, {peak} peak; "
        f"tolerance {MEAN_TOLERANCE}, {PEAK_TOLERANCE})"
    )


async def _download(
    sender: Sender, pool: PacerPool, check: _Check, timeout: float
) -> tuple[int, bytes, str] | str:
    """(status, body, content type) of ``check.url`` after redirects, or why there is none."""
    url = check.url
    for _ in range(MAX_REDIRECTS + 1):
        request = httpx.Request("GET", url)
        async with pool.turn("verify", urlsplit(url).netloc) as pacer:
            try:  # the Sender's deadline covers the whole answer, however it trickles
                answer = await sender.send(request, max_answer_bytes=check.cap)
            except AnswerTooLarge:  # reading stopped at the cap
                return f"图片过大 / too large: more than {check.cap} bytes"
            except (TimeoutError, httpx.TimeoutException):
                return f"下载超时 / timed out after {timeout:g} s"
            except httpx.TransportError as exc:
                return f"无法下载 / could not download: {type(exc).__name__}"
            if answer.status_code == 429:  # slow down the rest of this host's rows
                pacer.backoff()
        location = answer.headers.get("location")
        if answer.status_code not in (301, 302, 303, 307, 308) or not location:
            return answer.status_code, answer.content, answer.headers.get("content-type", "")
        url = urljoin(url, location)
    return f"重定向过多 / more than {MAX_REDIRECTS} redirects"


def _number(value: object) -> int | None:
    text = _text(value)
    try:
        return int(float(text)) if text else None
    except ValueError:
        return None


def _platform(row: pd.Series, shops: dict[str, Any]) -> str:
    for name in (_text(row.get("platform_key")), _text(row.get("platform"))):
        try:
            if name:
                return resolve_platform(name)
        except UnknownPlatformError:
            continue
    shop = shops.get(_text(row.get("shop")))
    return str(shop.platform) if shop is not None else ""


def _reencoders(reencoded: bool | Iterable[str] | None) -> frozenset[str] | bool:
    if reencoded is None or isinstance(reencoded, bool):
        return bool(reencoded) if reencoded is not None else REENCODING_PLATFORMS
    return frozenset(resolve_platform(name) for name in reencoded)


def _plan(
    frame: pd.DataFrame, reencoded: bool | Iterable[str] | None, shops: Any
) -> list[_Check | Finding]:
    """For each row by position: a check to run, or its finding already."""
    known = load_shops_lenient(shops)[0] if shops is not None else {}
    chosen = _reencoders(reencoded)
    plans: list[_Check | Finding] = []
    for _, row in frame.iterrows():
        status, url = _text(row.get("status")), _text(row.get("url"))
        if status not in CHECKED_STATUSES or not url:
            why = f"status {status or 'empty'}" if status not in CHECKED_STATUSES else "no URL"
            plans.append((None, f"未检查 / not checked: {why}"))
            continue
        url = "https:" + url if url.startswith("//") else url
        file, sha256 = _text(row.get("file")), _text(row.get("sha256")).lower()
        if not sha256 and file and not is_url(file) and Path(file).is_file():
            sha256 = hashlib.sha256(Path(file).read_bytes()).hexdigest()
        if not sha256:
            plans.append((None, "未检查 / not checked: no sha256 and no local file to compare"))
            continue
        key = _platform(row, known)
        if isinstance(chosen, bool):
            again = chosen
        else:
            declared = bool(getattr(get_adapter(key), "reencodes", False)) if key else False
            again = key in chosen or declared
        size, width, height = (_number(row.get(n)) for n in ("bytes", "width", "height"))
        plans.append(_Check(url, sha256, size, width, height, file, again))
    return plans


def _as_frame(results: pd.DataFrame | str | os.PathLike[str]) -> pd.DataFrame:
    frame = results if isinstance(results, pd.DataFrame) else read_results(results)
    return frame.drop(columns=[c for c in VERIFY_COLUMNS if c in frame.columns])


async def verify_async(
    results: BatchSource,
    *,
    concurrency: int = 8,
    rate_per_host: float = 10.0,
    timeout: float = 30.0,
    shops: ShopsSource = None,
    reencoded: bool | Iterable[str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> pd.DataFrame:
    """Download every stored row's URL and say whether it serves what was sent.

    Parameters
    ----------
    results
        A results frame (:func:`imgkit.upload`), or a results workbook / CSV path
        (read with :func:`imgkit.read_results`).
    concurrency, rate_per_host
        Downloads at once, and downloads per second to any one host.
    timeout
        Seconds each request may take in all (connecting, waiting, reading).
    shops
        Optional shops (file, mapping or :class:`imgkit.Shops`): tells a row's platform
        from its shop when the row does not name it.
    reencoded
        Which platforms to compare as re-encoded: None (those known to re-encode), True
        (every row), False (none: bytes only), or platform names.
    transport
        Replaces the network (e.g. a mock).

    Returns
    -------
    pandas.DataFrame
        ``results`` with ``verified`` (nullable boolean) and ``verify_reason``.

    Examples
    --------
    A mock transport stands for the platform's image server (the module's example
    uploads to the sandbox and downloads from it):

    >>> data = Path("sample_data/images/mug.jpg").read_bytes()
    >>> served = httpx.MockTransport(lambda request: httpx.Response(
    ...     200, content=data, headers={"content-type": "image/jpeg"}))
    >>> results = pd.DataFrame({"status": ["uploaded", "failed"], "platform": ["qianmi_sku"] * 2,
    ...                         "url": ["http://img.example/mug.jpg", ""],
    ...                         "sha256": [hashlib.sha256(data).hexdigest(), ""]})
    >>> checked = asyncio.run(verify_async(results, transport=served))
    >>> checked["verified"].tolist(), checked.loc[1, "verify_reason"]
    ([True, <NA>], '未检查 / not checked: status failed')
    """
    frame = _as_frame(results)
    plans = await asyncio.to_thread(_plan, frame, reencoded, shops)
    pool = PacerPool(lambda _kind, _host: rate_per_host, concurrency=concurrency)

    async def one(check: _Check) -> Finding:
        got = await _download(client, pool, check, timeout)
        if isinstance(got, str):
            return False, got
        return await asyncio.to_thread(_judge, check, *got)

    async with Sender(
        concurrency, timeout=timeout, deadline_s=timeout, transport=transport
    ) as client:
        checks = [(i, p) for i, p in enumerate(plans) if isinstance(p, _Check)]
        answers = await asyncio.gather(*(one(check) for _, check in checks))
    settled = dict(zip((i for i, _ in checks), answers, strict=True))
    findings: list[Finding] = [
        settled[i] if isinstance(p, _Check) else p for i, p in enumerate(plans)
    ]
    out = frame.copy()
    out["verified"] = pd.Series([f[0] for f in findings], index=out.index, dtype="boolean")
    out["verify_reason"] = [f[1] for f in findings]
    log.info("verify: %s", verify_counts(out))
    return out


def verify(results: BatchSource, **options: Any) -> pd.DataFrame:
    """Synchronous :func:`verify_async` (same parameters); works inside Jupyter too.

    >>> import pandas as pd
    >>> frame = pd.DataFrame({"status": ["failed"], "url": [""], "sha256": [""]})
    >>> out = verify(frame)
    >>> out.loc[0, "verified"] is pd.NA, out.loc[0, "verify_reason"]
    (True, '未检查 / not checked: status failed')
    """
    try:
        return run_sync(lambda: verify_async(results, **options))
    except asyncio.CancelledError:  # Ctrl-C: nothing half-checked is worth returning
        raise KeyboardInterrupt from None


# ``verify?`` in Jupyter lists verify_async's options, which are declared once, there.
verify.__dict__["__signature__"] = inspect.signature(verify_async)


def verify_counts(verified: pd.DataFrame) -> dict[str, int]:
    """How many rows were verified, not verified, and not checked.

    >>> frame = pd.DataFrame({"verified": pd.array([True, False, None], dtype="boolean")})
    >>> verify_counts(frame)
    {'verified': 1, 'not_verified': 1, 'not_checked': 1}
    """
    column = verified["verified"].astype("boolean")
    return {
        "verified": int(column.eq(True).fillna(False).sum()),
        "not_verified": int(column.eq(False).fillna(False).sum()),
        "not_checked": int(column.isna().sum()),
    }
