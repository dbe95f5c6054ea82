"""``upload_one``: one image, one request, through the platform's adapter.

For quick use and for trying a shop's credentials.  There is no retry and no polling here
(the upload engine adds concurrency, pacing, retries and audit polling for batches).

Example
-------
>>> import imgkit
>>> with imgkit.Sandbox() as sb:
...     out = imgkit.upload_one("tb_picture_main", "sample_data/images/mug.jpg", "0",
...                             shops=sb.shops, title="白色马克杯")
>>> out.ok, out.url.startswith("http://127.0.0.1:")
(True, True)
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from imgkit.errors import Category, ImgkitError
from imgkit.platforms import get_adapter
from imgkit.platforms.base import NOT_SENT, Adapter, CodeRule, Job, Outcome
from imgkit.probe import sniff_format
from imgkit.shops import Shop, Shops, load_shops


class TokenCache:
    """Access tokens fetched with client credentials, per (platform, token URL, shop).

    Shared by every caller in the process; thread-safe.
    """

    _tokens: dict[tuple[str, ...], tuple[str, float]] = {}  # noqa: RUF012 - shared
    _lock = threading.Lock()
    # Refresh a fetched token this long before it expires.
    margin_s = 60.0

    @staticmethod
    def _key(adapter: Adapter, shop: Shop, request: httpx.Request) -> tuple[str, ...]:
        # The request body holds the credentials: changed credentials mean a new token.
        digest = hashlib.sha256(request.read()).hexdigest()
        return (adapter.key, str(request.url), shop.name, digest)

    def get(self, adapter: Adapter, shop: Shop, client: httpx.Client) -> str:
        """A valid token for ``shop`` ("" when it needs none), fetched when missing or stale."""
        request = adapter.token_request(shop)
        if request is None:
            return ""
        key = self._key(adapter, shop, request)
        with self._lock:
            cached = self._tokens.get(key)
        if cached is not None and cached[1] > time.time():
            return cached[0]
        token, lifetime = adapter.parse_token_response(client.send(request))
        expires = time.time() + max(lifetime - self.margin_s, 1.0)
        with self._lock:
            self._tokens[key] = (token, expires)
        return token

    def invalidate(self, adapter: Adapter, shop: Shop) -> bool:
        """Forget ``shop``'s token (refused by the platform); True if one was cached."""
        request = adapter.token_request(shop)
        if request is None:
            return False
        with self._lock:
            return self._tokens.pop(self._key(adapter, shop, request), None) is not None

    @classmethod
    def clear(cls) -> None:
        """Forget every token."""
        with cls._lock:
            cls._tokens.clear()


def read_source(file: str | os.PathLike[str], adapter: Adapter) -> Job:
    """A job for a local file, or for a URL the platform fetches itself.

    Raises :class:`imgkit.errors.ImgkitError` (``invalid_input``) for a missing file.
    """
    name = os.fspath(file)
    if name.startswith(("http://", "https://")):
        return Job(target="", filename=name.rsplit("/", 1)[-1] or "image", source_url=name)
    path = Path(name)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImgkitError(
            f"cannot read {path}: {exc.strerror} / 无法读取文件 {path}",
            category=Category.INVALID_INPUT,
            code="unreadable_file",
        ) from exc
    return Job(target="", filename=path.name, data=data, fmt=sniff_format(data[:32]))


_DOWNLOAD_FAILED = CodeRule(
    Category.INVALID_INPUT, False, "无法下载图片地址", "the image URL could not be downloaded"
)


def _download(job: Job, client: httpx.Client, limit: int) -> Job | Outcome:
    assert job.source_url is not None
    try:
        with client.stream("GET", job.source_url) as response:
            if response.status_code != 200:
                return Outcome.failure(_DOWNLOAD_FAILED, code=f"HTTP {response.status_code}")
            data = b""
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > limit:
                    break
    except httpx.HTTPError as exc:
        return Outcome.failure(_DOWNLOAD_FAILED, code="download", message=type(exc).__name__)
    return Job(
        target=job.target,
        filename=job.filename,
        data=data,
        fmt=sniff_format(data[:32]),
        options=job.options,
    )


def _send(adapter: Adapter, job: Job, shop: Shop, http: httpx.Client, token: str) -> Outcome:
    request = adapter.build_request(job, shop, now=time.time(), token=token)
    try:
        response = http.send(request)
    except httpx.TransportError as exc:
        return adapter.parse_transport_error(exc)
    return adapter.parse_response(response)


_TOKEN_REFUSED = CodeRule(
    Category.AUTH,
    False,
    "无法获取访问令牌,请检查客户端凭证",
    "no access token: check the client credentials",
)


def _send_with_token(
    adapter: Adapter, job: Job, shop: Shop, http: httpx.Client, tokens: TokenCache
) -> Outcome:
    try:
        token = tokens.get(adapter, shop, http)
    except ImgkitError as exc:
        return Outcome.failure(_TOKEN_REFUSED, code=exc.code, message=exc.message)
    except httpx.TransportError as exc:
        # Only the token request failed: the image was not sent.
        return Outcome.failure(NOT_SENT, code="token", message=type(exc).__name__)
    return _send(adapter, job, shop, http, token)


def upload_one(
    platform_or_shop: str,
    file: str | os.PathLike[str],
    target: str,
    *,
    shops: str | os.PathLike[str] | Mapping[str, Any] | Shops | None = None,
    timeout: float = 60.0,
    client: httpx.Client | None = None,
    **options: Any,
) -> Outcome:
    """Upload ``file`` to ``target`` of a shop (by name, or the first shop of a platform).

    ``options`` are the optional columns (``title``, ``position``, ``replace_id``,
    ``is_major``, ``is_rectangle``, ``client_type``, ...).  Returns the adapter's
    :class:`imgkit.platforms.base.Outcome`; raises only for unusable input (an unknown
    shop, an unreadable file).
    """
    shop = load_shops(shops).resolve(platform_or_shop)
    adapter = get_adapter(shop.platform)
    source = read_source(file, adapter)
    job = Job(
        target=str(target),
        filename=source.filename,
        data=source.data,
        fmt=source.fmt,
        source_url=source.source_url,
        options={k: "" if v is None else str(v) for k, v in options.items()},
    )
    own = client is None
    http = client or httpx.Client(timeout=timeout, trust_env=False)
    try:
        if job.source_url is not None and not adapter.accepts_url_source:
            fetched = _download(job, http, adapter.limits.max_bytes)
            if isinstance(fetched, Outcome):
                return fetched
            job = fetched
        tokens = TokenCache()
        outcome = _send_with_token(adapter, job, shop, http, tokens)
        if outcome.category is Category.AUTH and tokens.invalidate(adapter, shop):
            # A cached token may have been revoked early: fetch a fresh one, once.
            outcome = _send_with_token(adapter, job, shop, http, tokens)
        return outcome
    finally:
        if own:
            http.close()
