"""One exchange with a platform and its retries, written once (rclone's ``pacer.Call``).

:func:`call` is the only place a request to a platform is made: uploads, audit polls,
look-ups and token fetches, in ``upload`` and ``upload_one`` alike.  Each attempt

1. takes a turn of the run's pacer (the global cap and the shop's rate), unless told not to;
2. builds the request (the adapter's build step, which may ask for a token: fetched, or
   taken from the run's store, by :func:`fetch_token`, itself an exchange);
3. sends it through the run's client (:class:`Wire`: the engine's
   :class:`imgkit.net.transport.Sender`, or ``upload_one``'s synchronous wire);
4. maps whatever happened to an answer or an :class:`imgkit.platforms.base.Outcome`: a
   build-time error (``bad_shop``), a missing token (``token`` / the platform's code), a
   transport error (the adapter's ``parse_transport_error``: ``connect`` never sent,
   ``no_answer`` maybe stored), an unparseable answer (``unreadable``, maybe stored);
5. tells the pacer (back off on ``rate_limited``), lets the caller judge the outcome
   (:class:`Hooks`: settle, record), and asks the retry policy whether and when to try
   again.  A refused token (``auth`` with a token) is dropped and fetched again, once,
   before the policy is asked (only the refused one: rows sharing a shop's token that
   are refused together fetch one new token, not one each).

Example
-------
>>> import asyncio, httpx
>>> from imgkit.net.transport import Sender
>>> from imgkit.engine.tokens import RunTokens
>>> from imgkit.intake.shops import make_shop
>>> from imgkit.platforms import get_adapter
>>> shop = make_shop("t", {"platform": "tmall_item", "app_key": "1", "app_secret": "s",
...                         "session": "x", "base_url": "http://tb.test"})
>>> async def build(token):
...     return httpx.Request("POST", "http://tb.test/router/rest")
>>> async def main():
...     broken = httpx.MockTransport(lambda request: httpx.Response(200, content=b"{{"))
...     async with Sender(1, transport=broken) as sender:
...         link = Link(sender, None, RunTokens())
...         return await call(link, get_adapter("tmall_item"), shop, build,
...                           get_adapter("tmall_item").parse_response)
>>> out = asyncio.run(main())
>>> out.ok, out.maybe_stored, out.code
(False, True, 'HTTP 200')
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import httpx

from imgkit.engine.pacing import AdaptivePacer, PacerPool
from imgkit.engine.retry import Decision, RetryPolicy
from imgkit.engine.tokens import Tokens
from imgkit.errors import Category, ImgkitError, ShopConfigError
from imgkit.intake.shops import Shop
from imgkit.platforms.base import NOT_SENT, UNREADABLE, Adapter, CodeRule, Outcome
from imgkit.scrub import Scrubber
from imgkit.scrub_logs import register

log = logging.getLogger("imgkit.engine.exchange")

T = TypeVar("T")
# Asked for the token (when the build needs one), the request, or why there is none.
Token = Callable[[], Awaitable[str]]
Build = Callable[[Token], Awaitable[httpx.Request | Outcome]]

# One attempt, no retry: upload_one's sends, token fetches.
ONCE = RetryPolicy(max_attempts=1, max_refusals=1)

BAD_SHOP = CodeRule(
    Category.INVALID_INPUT,
    False,
    "店铺配置无法构造有效请求,请检查店铺配置",
    "the shop's settings cannot make a valid request: check the shops file",
)
_REFUSED = ("平台拒绝了该请求", "the platform refused the request")
_ROW_REFUSED = ("该行的值无法组成有效请求", "the row's values cannot make a valid request")
_NO_TOKEN = ("无法获取访问令牌,请检查客户端凭证", "no access token: check the client credentials")
# What a hostile answer can make a parser raise (nested too deep, an integer too long...).
_UNPARSEABLE = (RecursionError, ValueError, TypeError, OverflowError, KeyError, IndexError)


class Wire(Protocol):
    """What an exchange sends through: a built request in, the whole answer out."""

    @property
    def deadline_s(self) -> float:
        """The most one exchange may take, connect to the answer's last byte."""

    async def send(
        self, request: httpx.Request, *, max_answer_bytes: int | None = None
    ) -> httpx.Response:
        """Send ``request`` and return its whole answer (raises ``httpx.TransportError``)."""


class Policy(Protocol):
    """Whether and when to try again: :class:`imgkit.engine.retry.RetryPolicy`'s shape."""

    def decide(
        self,
        outcome: Outcome,
        attempt: int,
        elapsed: float,
        *,
        retry_safe: bool,
        refusals: int = 0,
    ) -> Decision:
        """The decision after attempt ``attempt`` (1-based) ended with ``outcome``;
        ``refusals`` of the attempts were refused as "rate limited"."""


class Means(Protocol):
    """What every exchange of one run goes through (a :class:`Link`, or the engine's Run)."""

    @property
    def client(self) -> Wire:
        """Sends the requests."""

    @property
    def pacers(self) -> PacerPool | None:
        """The run's pacers (None: not paced)."""

    @property
    def tokens(self) -> Tokens:
        """The tokens fetched so far."""

    @property
    def scrubber(self) -> Scrubber:
        """Every secret of the run, tokens included: scrubbed from what leaves."""

    @property
    def stopping(self) -> bool:
        """The run is being interrupted: no new attempt."""


@dataclass
class Link:
    """The means of exchanges outside a run (``upload_one``, a bare look-up)."""

    client: Wire
    pacers: PacerPool | None
    tokens: Tokens
    scrubber: Scrubber = field(default_factory=Scrubber)
    stopping: bool = False


class Hooks:
    """What the caller of :func:`call` does around each attempt; by default nothing.

    ``attempts`` counts the attempts made (kept here so that it survives an exception a
    hook raises), ``refusals`` those refused as "rate limited", ``started`` is when the
    first began (``time.monotonic``), ``retry_safe`` whether re-sending after an unanswered
    attempt cannot store a second copy.
    """

    def __init__(self, *, retry_safe: bool = True, started: float | None = None) -> None:
        self.attempts = 0
        self.refusals = 0
        self.started = time.monotonic() if started is None else started
        self.retry_safe = retry_safe

    def check(self) -> None:
        """At the start of each turn: raise to stop before anything is built or sent."""

    def leaving(self, request: httpx.Request) -> None:
        """The request is about to leave (the engine's journal entry is written here)."""

    async def sending(self) -> None:
        """After :meth:`leaving`, before the send: wait for what must be on disk first."""

    async def judge(self, outcome: Outcome) -> tuple[Outcome, bool]:
        """After an attempt: the outcome to go on with, and whether a re-send is safe."""
        return outcome, self.retry_safe

    def gave_up(self, outcome: Outcome, decision: Decision) -> None:
        """No more attempts: ``outcome`` is final."""

    async def wait(self, outcome: Outcome, delay: float) -> None:
        """Before the next attempt."""
        await asyncio.sleep(delay)


class _NoToken(Exception):
    """The token could not be had: ``outcome`` says why (nothing was sent)."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.code)
        self.outcome = outcome


def refused(exc: ImgkitError | ValueError) -> Outcome:
    """A build step's error as the row's outcome.

    An :class:`ImgkitError` with a code of its own is about the row (a target the adapter
    cannot split, no image): that code, and the rest of the shop goes on.  Anything else
    (a :class:`ShopConfigError`, a bare ``ValueError``) means the shop's settings cannot
    make a valid request: ``bad_shop``, which stops the shop.

    >>> refused(ValueError("unknown sign_method")).code
    'bad_shop'
    >>> refused(ImgkitError("target 'x' must be '<num_iid>/<sku_id>'", code="bad_target")).code
    'bad_target'
    """
    if isinstance(exc, ImgkitError) and exc.code and not isinstance(exc, ShopConfigError):
        rule = CodeRule(exc.category, False, *_ROW_REFUSED)
        return Outcome.failure(rule, code=exc.code, message=exc.message)
    message = exc.message if isinstance(exc, ImgkitError) else str(exc)
    return Outcome.failure(BAD_SHOP, code="bad_shop", message=message)


def parsed(parse: Callable[[httpx.Response], T | Outcome], response: httpx.Response) -> T | Outcome:
    """``parse(response)``, or an outcome when the answer defeats the parser: the request
    was sent and answered, so whatever the answer said, the image may be stored.

    >>> parsed(lambda r: r.json(), httpx.Response(502, content=b"<html>")).code
    'HTTP 502'
    """
    try:
        return parse(response)
    except ImgkitError as exc:  # the platform's refusal, raised by the parser (tokens)
        rule = CodeRule(exc.category, False, *_REFUSED)
        return Outcome.failure(rule, code=exc.code, message=exc.message)
    except _UNPARSEABLE as exc:
        return Outcome.failure(
            UNREADABLE,
            code=f"HTTP {response.status_code}",
            message=type(exc).__name__,
            maybe_stored=True,
        )


# An exchange that is not paced holds no turn: one shared, reusable empty context.
_NO_TURN: contextlib.nullcontext[None] = contextlib.nullcontext()


def _turn(
    means: Means, adapter: Adapter, shop: Shop, paced: bool
) -> contextlib.AbstractAsyncContextManager[AdaptivePacer | None]:
    """The shop's turn (its pacer), or no turn: the pacers' own context, not a wrapper
    around it, since every attempt enters one."""
    if not paced or means.pacers is None:
        return _NO_TURN
    return means.pacers.turn(adapter.key, shop.name)


async def fetch_token(means: Means, adapter: Adapter, shop: Shop) -> str:
    """``shop``'s access token ("" when the platform needs none): kept, or fetched now
    through :func:`call` (inside the caller's turn, so not paced again).

    Raises ``_NoToken`` (caught by :func:`call`) with the outcome of a failed fetch.
    """
    if adapter.token_request(shop) is None:
        return ""
    kept = means.tokens.cached(adapter, shop)
    if kept is not None:
        return kept
    # One fetch per shop at a time: rows that find no token while another row is fetching
    # one wait for it, instead of each fetching its own (a platform that revokes the old
    # token when it issues a new one would refuse all but the last).
    locks = _FETCHING.setdefault(means.tokens, {})
    async with locks.setdefault((adapter.key, shop.name), asyncio.Lock()):
        kept = means.tokens.cached(adapter, shop)
        if kept is not None:
            return kept
        return await _fetch_token(means, adapter, shop)


# The token fetches under way, per token store (a run's, upload_one's) and shop.
_FETCHING: weakref.WeakKeyDictionary[Tokens, dict[tuple[str, str], asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


async def _fetch_token(means: Means, adapter: Adapter, shop: Shop) -> str:

    async def build(token: Token) -> httpx.Request | Outcome:
        request = adapter.token_request(shop)
        assert request is not None
        return request

    answer = await call(means, adapter, shop, build, adapter.parse_token_response, paced=False)
    if isinstance(answer, Outcome):
        if answer.code in ("connect", "no_answer"):  # only the token request failed
            raise _NoToken(Outcome.failure(NOT_SENT, code="token", message=answer.message))
        rule = CodeRule(answer.category or Category.UNKNOWN, False, *_NO_TOKEN)
        raise _NoToken(Outcome.failure(rule, code=answer.code, message=answer.message))
    token, lifetime = answer
    if means.scrubber.add(token):
        register(token)  # a bearer token is a secret: the logs never show it
    means.tokens.keep(adapter, shop, token, lifetime)
    return token


async def _attempt(
    means: Means,
    adapter: Adapter,
    shop: Shop,
    build: Build,
    parse: Callable[[httpx.Response], T | Outcome],
    hooks: Hooks,
    paced: bool,
) -> tuple[T | Outcome, str]:
    """One attempt: (its answer or outcome, the token it carried or "")."""
    used = ""

    async def token() -> str:
        nonlocal used
        used = await fetch_token(means, adapter, shop)
        return used

    async with _turn(means, adapter, shop, paced) as pacer:
        hooks.check()
        try:
            request = await build(token)
        except _NoToken as exc:
            return exc.outcome, ""
        except (ImgkitError, ValueError) as exc:  # the one place a shop's values are judged
            return refused(exc), used
        if isinstance(request, Outcome):
            return request, used
        hooks.leaving(request)
        await hooks.sending()
        try:
            # One buffer, so the multipart body leaves in one write instead of one per part.
            request.read()
            answer = parsed(parse, await means.client.send(request))
        except httpx.TransportError as exc:
            answer = adapter.parse_transport_error(exc)
        if pacer is not None:
            outcome = answer if isinstance(answer, Outcome) else Outcome(ok=True)
            if outcome.category is Category.RATE_LIMITED:
                pacer.backoff(outcome.retry_after)
            elif outcome.ok or outcome.category is Category.AUDIT_PENDING:
                pacer.success()
    return answer, used


async def call(
    means: Means,
    adapter: Adapter,
    shop: Shop,
    build: Build,
    parse: Callable[[httpx.Response], T | Outcome],
    *,
    policy: Policy = ONCE,
    hooks: Hooks | None = None,
    paced: bool = True,
) -> T | Outcome:
    """Make the exchange ``build`` describes, as often as ``policy`` allows.

    Returns ``parse``'s answer, or the last :class:`Outcome` (every failure is one: no
    exception leaves but those the ``hooks`` raise).  ``paced=False`` for an exchange
    made inside a turn already held (a token fetched for an upload).
    """
    hooks = hooks or Hooks()
    refreshed = False
    while True:
        answer, used = await _attempt(means, adapter, shop, build, parse, hooks, paced)
        hooks.attempts += 1
        if isinstance(answer, Outcome) and answer.category is Category.RATE_LIMITED:
            hooks.refusals += 1
        if not isinstance(answer, Outcome):
            return answer
        if answer.category is Category.AUTH and used and not refreshed:
            # The token may have been revoked or expired early: drop it (unless another
            # attempt already replaced it) and try once more with a fresh one.
            log.info("%s: the token was refused; fetching a new one", adapter.key)
            means.tokens.invalidate(adapter, shop, used)
            refreshed = True
            await hooks.judge(answer)
            continue
        outcome, retry_safe = await hooks.judge(answer)
        elapsed = time.monotonic() - hooks.started
        decision = policy.decide(
            outcome, hooks.attempts, elapsed, retry_safe=retry_safe, refusals=hooks.refusals
        )
        if not decision.retry:
            if not outcome.ok:
                log.debug("%s: not tried again: %s", adapter.key, decision.reason)
            hooks.gave_up(outcome, decision)
            return outcome
        log.debug("%s: %s", adapter.key, decision.reason)
        await hooks.wait(outcome, decision.delay)
        if means.stopping:
            return outcome
