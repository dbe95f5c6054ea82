"""``upload_one``: one image, one request, through the platform's adapter.

For quick use and for trying a shop's credentials.  There is no retry and no polling here
(the upload engine adds concurrency, pacing, retries and audit polling for batches), but
the exchange is the engine's own (:func:`imgkit.engine.exchange.call`): the same token
fetch and refresh (a refused token is dropped and fetched again, once), the same mapping
of every failure to an :class:`imgkit.platforms.base.Outcome` (a shop that cannot make a
valid request is ``bad_shop``, an unreadable answer ``unreadable``), in ``upload`` and
here alike.

Requests go straight to an httpx transport under :func:`imgkit.net.blocking.send_sync`'s
rules (a total deadline, a cap on the answer), never through ``httpx.Client.send``: its
logger prints every URL, and TOP's ``session`` and Qianmi's ``access_token`` travel in the
query string.  URL sources are downloaded through the same wire under the same rules
(redirects only within the URL's host).

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

import asyncio
import os
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import httpx

from imgkit.aliases import ShopsSource
from imgkit.engine.exchange import Link, Token, call
from imgkit.engine.tokens import TokenCache
from imgkit.errors import Category
from imgkit.intake.files import READ_CAP, read_file
from imgkit.intake.options import normalize
from imgkit.intake.probe import sniff_format
from imgkit.intake.shops import load_shops
from imgkit.intake.sources import FetchError, fetch_sync
from imgkit.net.blocking import SyncWire
from imgkit.platforms import get_adapter
from imgkit.platforms.base import Adapter, CodeRule, Job, Outcome
from imgkit.scrub import scrubber_for
from imgkit.scrub_logs import register

__all__ = ["TokenCache", "read_source", "upload_one"]

T = TypeVar("T")


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


def _complete(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to its end from synchronous code, in or out of a running loop
    (Jupyter): then on a private loop in a worker thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["result"] = asyncio.run(coroutine)
        except BaseException as exc:  # handed to the calling thread below
            box["error"] = exc

    worker = threading.Thread(target=work, name="imgkit-upload-one", daemon=True)
    worker.start()
    worker.join()
    if "error" in box:
        raise box["error"]
    result: T = box["result"]
    return result


def upload_one(
    platform_or_shop: str,
    file: str | os.PathLike[str],
    target: str,
    *,
    shops: ShopsSource = None,
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
    adapter's :class:`imgkit.platforms.base.Outcome` — every failure of the exchange is
    one, a shop whose values cannot make a request (``bad_shop``) included; raises only for
    unusable input (an unknown shop, an unreadable file).

    Examples
    --------
    >>> import imgkit
    >>> with imgkit.Sandbox() as sb:
    ...     out = imgkit.upload_one("tmall_item", "sample_data/images/mug.jpg", "1489161940",
    ...                             shops=sb.shops, position="2.0", is_major="否")
    >>> out.ok, out.url.endswith(".jpg"), out.category
    (True, True, None)
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
        # The canonical text validation would give (imgkit.intake.options): "2.0" is "2".
        options={k: normalize(k, v, shop.platform) for k, v in options.items()},
    )
    scrubber = scrubber_for(shop)
    register(scrubber)  # no log line shows them, httpx's included
    budget = 2.0 * timeout if deadline_s is None else deadline_s
    # A bare transport: no proxies from the environment, no logging of signed URLs.
    wire = client if client is not None else httpx.HTTPTransport(retries=0)
    try:
        if job.source_url is not None and not adapter.accepts_url_source:
            fetched = _download(job, wire, adapter.limits.max_bytes, budget)
            if isinstance(fetched, Outcome):
                return fetched
            job = fetched
        sending = job
        tokens = TokenCache()
        link = Link(SyncWire(wire, timeout=timeout, deadline_s=budget), None, tokens, scrubber)

        async def build(token: Token) -> httpx.Request | Outcome:
            return adapter.build_request(sending, shop, now=time.time(), token=await token())

        # One attempt (no retry), but a refused token is fetched again once, as in upload().
        outcome = _complete(call(link, adapter, shop, build, adapter.parse_response))
        # A server may echo the request: nothing of the shop's, nor its token, goes back.
        for token in tokens.values():
            scrubber.add(token)
        return scrubber.outcome(outcome)
    finally:
        if client is None:
            wire.close()
