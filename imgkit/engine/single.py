"""``upload_one``: one image, one request, through the platform's adapter.

For quick use and for trying a shop's credentials.  There is no retry and no polling here
(the upload engine adds concurrency, pacing, retries and audit polling for batches).

Requests go straight to an httpx transport under :func:`imgkit.engine.transport.send_sync`'s
rules (a total deadline, a cap on the answer), never through ``httpx.Client.send``: its
logger prints every URL, and TOP's ``session`` and Qianmi's ``access_token`` travel in the
query string.  URL sources are downloaded under the same rules (redirects only within the
URL's host).

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
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx

from imgkit.engine.transport import MAX_ANSWER_BYTES, send_sync, wire_of
from imgkit.errors import Category, ImgkitError
from imgkit.intake.files import READ_CAP, read_file
from imgkit.intake.probe import sniff_format
from imgkit.intake.shops import Shop, Shops, load_shops
from imgkit.intake.sources import FetchError, fetch_sync
from imgkit.platforms import get_adapter
from imgkit.platforms.base import NOT_SENT, UNREADABLE, Adapter, CodeRule, Job, Outcome
from imgkit.scrub import register, scrubber_for

# Sends a built request and returns the whole answer (see _wire).
Send = Callable[[httpx.Request], httpx.Response]


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

    def get(self, adapter: Adapter, shop: Shop, client: httpx.Client | Send) -> str:
        """A valid token for ``shop`` ("" when it needs none), fetched when missing or stale.

        ``client`` is an ``httpx.Client`` or a function sending a request.
        """
        request = adapter.token_request(shop)
        if request is None:
            return ""
        key = self._key(adapter, shop, request)
        with self._lock:
            cached = self._tokens.get(key)
        if cached is not None and cached[1] > time.time():
            return cached[0]
        send = client.send if isinstance(client, httpx.Client) else client
        answer = send(request)
        try:
            token, lifetime = adapter.parse_token_response(answer)
        except (RecursionError, ValueError, TypeError, OverflowError) as exc:  # hostile answer
            raise ImgkitError(f"unreadable token answer: {type(exc).__name__}") from exc
        expires = time.time() + max(lifetime - self.margin_s, 1.0)
        register(token)  # a bearer token is a secret: the logs never show it
        with self._lock:
            self._tokens[key] = (token, expires)
        return token

    def values(self) -> list[str]:
        """Every cached token (to scrub them from what a server echoes back)."""
        with self._lock:
            return [token for token, _expires in self._tokens.values()]

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

    Raises :class:`imgkit.errors.ImgkitError` for a file that is missing or unreadable
    (``unreadable_file``), not a regular file (``not_regular_file``) or over
    :data:`imgkit.intake.files.READ_CAP` (``file_too_large``; below it the platform judges).
    """
    name = os.fspath(file)
    if name.startswith(("http://", "https://")):
        return Job(target="", filename=name.rsplit("/", 1)[-1] or "image", source_url=name)
    data = read_file(name, READ_CAP)
    return Job(target="", filename=Path(name).name, data=data, fmt=sniff_format(data[:32]))


_DOWNLOAD_FAILED = CodeRule(
    Category.INVALID_INPUT, False, "无法下载图片地址", "the image URL could not be downloaded"
)


def _download(
    job: Job, client: httpx.Client | httpx.BaseTransport, limit: int, deadline_s: float
) -> Job | Outcome:
    assert job.source_url is not None
    try:
        data = fetch_sync(client, job.source_url, limit, deadline_s=deadline_s)
    except FetchError as exc:
        return Outcome.failure(_DOWNLOAD_FAILED, code=exc.detail, message=exc.message)
    return Job(
        target=job.target,
        filename=job.filename,
        data=data,
        fmt=sniff_format(data[:32]),
        options=job.options,
    )


def _wire(client: httpx.Client | httpx.BaseTransport, timeout: float, deadline_s: float) -> Send:
    """Send through ``client``'s transport (never its URL-logging ``send``) with the
    deadline and the answer cap of the engine's Sender."""

    def send(request: httpx.Request) -> httpx.Response:
        return send_sync(
            wire_of(client, request.url),
            request,
            timeout=timeout,
            deadline_s=deadline_s,
            max_answer_bytes=MAX_ANSWER_BYTES,
        )

    return send


def _parsed(parse: Callable[[httpx.Response], Outcome], response: httpx.Response) -> Outcome:
    """``parse(response)``, or "unreadable" when the JSON itself defeats the parser (nested
    too deep: RecursionError; an integer too long: ValueError)."""
    try:
        return parse(response)
    except (RecursionError, ValueError) as exc:
        # The request was sent and answered: whatever the answer said, it may be stored.
        return Outcome.failure(
            UNREADABLE,
            code=f"HTTP {response.status_code}",
            message=type(exc).__name__,
            maybe_stored=True,
        )


def _send(adapter: Adapter, job: Job, shop: Shop, http: Send, token: str) -> Outcome:
    request = adapter.build_request(job, shop, now=time.time(), token=token)
    try:
        response = http(request)
    except httpx.TransportError as exc:
        return adapter.parse_transport_error(exc)
    return _parsed(adapter.parse_response, response)


_TOKEN_REFUSED = CodeRule(
    Category.AUTH,
    False,
    "无法获取访问令牌,请检查客户端凭证",
    "no access token: check the client credentials",
)


def _send_with_token(
    adapter: Adapter, job: Job, shop: Shop, http: Send, tokens: TokenCache
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
    deadline_s: float | None = None,
    client: httpx.Client | httpx.BaseTransport | None = None,
    **options: Any,
) -> Outcome:
    """Upload ``file`` to ``target`` of a shop (by name, or the first shop of a platform).

    ``options`` are the optional columns (``title``, ``position``, ``replace_id``,
    ``is_major``, ``is_rectangle``, ``client_type``, ...).  ``timeout`` bounds each phase
    of a request, ``deadline_s`` the whole of it (default twice ``timeout``, as for
    batches); ``client`` lends its transport (mounts, proxies, certificates).  Returns the
    adapter's :class:`imgkit.platforms.base.Outcome`; raises only for unusable input (an
    unknown shop, an unreadable file).
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
    scrubber = scrubber_for(shop)
    register(scrubber)  # no log line shows them, httpx's included
    budget = 2.0 * timeout if deadline_s is None else deadline_s
    # A bare transport: no proxies from the environment, no logging of signed URLs.
    wire = client if client is not None else httpx.HTTPTransport(retries=0)
    http = _wire(wire, timeout, budget)
    try:
        if job.source_url is not None and not adapter.accepts_url_source:
            fetched = _download(job, wire, adapter.limits.max_bytes, budget)
            if isinstance(fetched, Outcome):
                return fetched
            job = fetched
        tokens = TokenCache()
        outcome = _send_with_token(adapter, job, shop, http, tokens)
        if outcome.category is Category.AUTH and tokens.invalidate(adapter, shop):
            # A cached token may have been revoked early: fetch a fresh one, once.
            outcome = _send_with_token(adapter, job, shop, http, tokens)
        # A server may echo the request: nothing of the shop's, nor its token, goes back.
        for token in tokens.values():
            scrubber.add(token)
        return scrubber.outcome(outcome)
    finally:
        if client is None:
            wire.close()
