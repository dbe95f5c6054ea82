"""Settling an unanswered upload by a look-up: was the image stored or not?

When an upload gets no answer (a dropped connection, a timeout, or imgkit killed while the
request was out), re-sending it could store a second copy and giving up could leave it
never stored.  Where the platform has a look-up (``docs/lookups.md``), imgkit lists the
images the upload could have created and compares their bytes with the bytes it sent:

* ``stored``: one listed image has those bytes (and is not already another row's): the row
  is done, with that image's id and URL;
* ``absent``: the listing was complete and none matched: nothing was stored, send again;
* ``unknown``: no look-up, a failed one, a truncated listing or a failed download: the row
  stays in doubt and is not re-sent.

A listing that says some matching image is still being processed (``Lookup.pending``:
Douyin's audit, before which a material has no URL to download) proves nothing yet: unless
a listed image already matches, the look-up is asked again, 0.5 s later and doubling to
5 s, until nothing is pending or ``pending_wait_s`` runs out (then ``unknown``).

Example
-------
>>> import asyncio, hashlib, httpx
>>> from imgkit.engine.pacing import PacerPool
>>> from imgkit.platforms import get_adapter
>>> from imgkit.platforms.base import Job
>>> from imgkit.intake.shops import make_shop
>>> from imgkit.net.transport import Sender
>>> data = b"GIF89a-bytes"
>>> def platform(request):  # a Tmall item listing one image with those bytes
...     if request.url.path == "/img/7.gif":
...         return httpx.Response(200, content=data)
...     item = {"num_iid": 1001, "item_imgs": {"item_img": [
...         {"id": 7, "url": "http://tb.test/img/7.gif", "position": 1}]}}
...     return httpx.Response(200, json={"item_seller_get_response": {"item": item}})
>>> shop = make_shop("t", {"platform": "tmall_item", "app_key": "1", "app_secret": "s",
...                         "session": "x", "base_url": "http://tb.test"})
>>> async def main():
...     async with Sender(2, transport=httpx.MockTransport(platform)) as sender:
...         return await look_up(sender, PacerPool(lambda p, c: 100.0), get_adapter("tmall_item"),
...                              shop, Job("1001", "a.gif", data), "",
...                              hashlib.sha256(data).hexdigest(), claimed=set())
>>> verdict = asyncio.run(main())
>>> verdict.state, verdict.outcome.image_id
('stored', '7')
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Container
from dataclasses import dataclass

import httpx

from imgkit.engine.exchange import Link, Means, Token, Wire, call
from imgkit.engine.pacing import PacerPool
from imgkit.engine.retry import Decision, RetryPolicy
from imgkit.engine.tokens import RunTokens
from imgkit.intake.shops import Shop
from imgkit.net.transport import AnswerTooLarge
from imgkit.platforms.base import Adapter, Job, Lookup, Outcome
from imgkit.words import Words

log = logging.getLogger("imgkit.engine.settle")

# Look-ups that fail for a retryable reason (rate limited, busy, a dropped connection) are
# tried this often, 0.2 s apart and doubling up to 1 s: a failed look-up leaves the row in
# doubt, which costs the user more than a few seconds.
LOOKUP_TRIES = 6
MAX_REFUSALS = RetryPolicy().max_refusals
# Candidates downloaded at most per look-up: more than a target ever holds in practice.
MAX_DOWNLOADS = 20
# A listing with an image still being processed is asked again this long after, doubling
# up to the cap: Douyin audits 99% of images within 4 s (seed page), some take hours.
PENDING_FIRST_S = 0.5
PENDING_MAX_S = 5.0

FOUND_MESSAGE = Words(
    "请求未获可信的应答,经查询确认图片已存储",
    "no answer that could be trusted came back; a look-up found the image stored",
)


@dataclass(frozen=True)
class Verdict:
    """What a look-up settled: ``stored`` (with the ok ``outcome``), ``absent`` or
    ``unknown`` (with a ``reason`` for the log)."""

    state: str
    outcome: Outcome | None = None
    reason: str = ""


class _Asking:
    """The retry policy of a look-up: ask again after a failure that may pass (rate
    limited, busy, a dropped connection), :data:`LOOKUP_TRIES` times in all."""

    def decide(
        self,
        outcome: Outcome,
        attempt: int,
        elapsed: float,
        *,
        retry_safe: bool,
        refusals: int = 0,
    ) -> Decision:
        if not outcome.retryable:
            return Decision(False, 0.0, "refused / 被拒绝", "final")
        # A "rate limited" refusal is not a try: the pacer slows down and the look-up waits
        # its turn again (up to the retry policy's default patience for refusals).
        # LOOKUP_TRIES is read now: tests lower it.
        if attempt - refusals >= LOOKUP_TRIES or refusals >= MAX_REFUSALS:
            return Decision(False, 0.0, "kept failing / 一直失败", "attempts")
        delay = outcome.retry_after or min(0.2 * 2 ** (attempt - 1), 1.0)
        return Decision(True, delay, "asked again / 再次查询", "retry")


async def _listing(
    means: Means, adapter: Adapter, shop: Shop, job: Job, token: str | None
) -> Lookup | str:
    """The look-up's answer, or why there is none (``token`` None: the means' own)."""
    if adapter.build_lookup_request(job, shop, now=time.time(), token=token or "") is None:
        return f"{adapter.key} has no look-up for this upload"

    async def build(fetch: Token) -> httpx.Request | Outcome:
        given = await fetch() if token is None else token
        request = adapter.build_lookup_request(job, shop, now=time.time(), token=given)
        assert request is not None
        return request

    answer = await call(means, adapter, shop, build, adapter.parse_lookup_response,
                        policy=_Asking())  # fmt: skip
    if isinstance(answer, Lookup):
        return answer
    if not answer.retryable:
        return f"look-up refused: {answer.code} {answer.message}".strip()
    return "look-up kept failing"


async def look_up(
    client: Wire,
    pacers: PacerPool,
    adapter: Adapter,
    shop: Shop,
    job: Job,
    token: str | None,
    sha256: str,
    *,
    claimed: Container[str],
    pending_wait_s: float = 60.0,
    means: Means | None = None,
) -> Verdict:
    """Settle an unanswered upload of ``job`` (whose bytes hash to ``sha256``).

    ``claimed`` holds ids of images already recorded for other rows at the same target:
    those are never taken as this row's.  Only ``in`` is asked of it, once per candidate,
    so the engine passes an index look-up rather than every id the target holds.  While
    the listing says a matching image is still being processed and none listed matches,
    it is asked again for up to
    ``pending_wait_s`` seconds (the engine passes its audit wait).  Every listing goes
    through :func:`imgkit.engine.exchange.call`, over ``means`` when given (the run: its
    client, pacers and tokens, ``token`` None to use them), else ``client`` and ``pacers``.
    """
    if means is None:
        means = Link(client, pacers, RunTokens())
    deadline = time.monotonic() + pending_wait_s
    delay = PENDING_FIRST_S
    compared: set[str] = set()  # candidates whose bytes did not match: a material's bytes stay
    while True:
        listing = await _listing(means, adapter, shop, job, token)
        if isinstance(listing, str):
            return Verdict("unknown", reason=listing)
        verdict = await _compare(client, listing, job, sha256, claimed, compared)
        if verdict.state == "stored" or not listing.pending:
            return verdict
        left = deadline - time.monotonic()
        if left <= 0:
            return Verdict(
                "unknown",
                reason=f"a matching image was still being processed after {pending_wait_s:g} s",
            )
        log.debug("look-up: an image is still being processed; asking again in %.1f s", delay)
        await asyncio.sleep(min(delay, left))
        delay = min(delay * 2, PENDING_MAX_S)


async def _compare(
    client: Wire,
    listing: Lookup,
    job: Job,
    sha256: str,
    claimed: Container[str],
    compared: set[str],
) -> Verdict:
    """Download the candidates of ``listing`` (but the ``claimed`` and already ``compared``
    ones) and compare them with the bytes sent; ids whose bytes differ join ``compared``."""
    size = len(job.data) if job.data is not None else None
    complete = listing.complete
    downloads = 0
    for candidate in listing.candidates:
        if candidate.image_id in compared or candidate.image_id in claimed:
            continue
        if size is not None and candidate.size is not None and candidate.size != size:
            continue
        if downloads == MAX_DOWNLOADS:
            complete = False
            break
        downloads += 1
        try:
            # client.send: the engine's transport, with its deadline; capped at the sent
            # size when known (a bigger image cannot have these bytes), else at the
            # transport's own cap.
            answer = await client.send(httpx.Request("GET", candidate.url), max_answer_bytes=size)
        except AnswerTooLarge:
            if size is None:  # only the transport's cap: the bytes are unknown
                complete = False
            else:
                compared.add(candidate.image_id)
            continue
        except httpx.TransportError:
            complete = False
            continue
        if answer.status_code != 200:
            complete = False
            continue
        if hashlib.sha256(answer.content).hexdigest() == sha256:
            found = Outcome(
                ok=True,
                url=candidate.url,
                image_id=candidate.image_id,
                zh=FOUND_MESSAGE.zh,
                en=FOUND_MESSAGE.en,
            )
            return Verdict("stored", found)
        compared.add(candidate.image_id)
    if complete:
        return Verdict("absent", reason=f"{len(listing.candidates)} listed, none with these bytes")
    return Verdict("unknown", reason="the listing or a download was incomplete")
