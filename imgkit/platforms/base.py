"""The adapter interface: one small class per platform, pure and declarative.

An adapter declares, as data, who it is (:class:`PlatformDeclaration`: key, aliases,
abilities), its :class:`Limits`, what ``target`` and the optional columns mean
(:class:`OptionSpec`), the shop fields it needs (:class:`CredentialSpec`) and its table of
raw codes (:class:`CodeRule`); those live in :mod:`imgkit.platforms.declarations`.  It
implements two things with no I/O, no sleeping and no retries:

* :meth:`Adapter.build_request` — the ``httpx.Request`` for one :class:`Job` (signing
  included);
* :meth:`Adapter.parse_response` — an ``httpx.Response`` into an :class:`Outcome`, and
  :meth:`Adapter.parse_transport_error` for the absence of one.

Platforms with a *look-up* (``docs/lookups.md``: the call that lists the images an
unanswered upload could have stored) also build that request
(:meth:`Adapter.build_lookup_request`) and read its answer into a :class:`Lookup` of
:class:`Candidate` images (:meth:`Adapter.parse_lookup_response`).

The engine, validation and the docs read the declarations; nothing special-cases a platform.
Every name of :mod:`~imgkit.platforms.declarations`, :mod:`~imgkit.platforms.outcomes`
and :mod:`~imgkit.platforms.wire` is importable from here too.

Example
-------
>>> Limits(max_bytes=1024, formats=frozenset({"jpeg"})).allows_format("jpeg")
True
>>> CodeRule(Category.TRANSIENT, True, "系统繁忙", "busy").retryable
True
>>> from imgkit.platforms import get_adapter
>>> get_adapter("doudian").declaration.abilities
('lookup', 'poll')
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from imgkit.errors import Category, ImgkitError
from imgkit.platforms.declarations import (
    ABILITIES,
    CodeRule,
    CodeTable,
    CredentialSpec,
    Limits,
    OptionSpec,
    PixelRule,
    PlatformDeclaration,
)
from imgkit.platforms.outcomes import (
    CHOICE_FALLBACK,
    DETAILS_MISSING,
    GATEWAY_REFUSED,
    HTTP_RULES,
    LOOKUP_SETTLES,
    NO_ANSWER,
    NOT_SENT,
    SERVER_ERROR,
    UNKNOWN_CODE,
    UNREADABLE,
    Candidate,
    Job,
    Lookup,
    Outcome,
    details_missing,
)
from imgkit.platforms.wire import (
    as_int,
    bool_text,
    candidates_of,
    default_title,
    first_object,
    listed,
    paged_lookup,
    parsed_url,
    snippet,
    text,
    title_filter,
)

if TYPE_CHECKING:
    from imgkit.intake.shops import Shop

# The old private names, kept for code that imported them from here.
_snippet = snippet
_parsed_url = parsed_url


class Adapter(ABC):
    """One platform.  Subclasses fill in the class attributes and the two methods.

    ``declaration`` names the platform once; ``key`` is copied from it when the class is
    defined (``adapter.key`` stays the short way to ask).  An adapter takes no
    constructor parameters: everything it knows is declared on the class.

    Examples
    --------
    >>> from imgkit.intake.shops import load_shops
    >>> from imgkit.platforms import get_adapter
    >>> adapter = get_adapter("qianmi_sku")
    >>> isinstance(adapter, Adapter), adapter.key, adapter.limits.max_bytes
    (True, 'qianmi_sku', 1048576)
    >>> shop = load_shops({"s": {"platform": "qianmi_sku", "base_url": "http://127.0.0.1:9",
    ...                          "app_key": "1", "app_secret": "x", "access_token": "t"}})["s"]
    >>> request = adapter.build_request(Job("18353/g1234", "mug.jpg", data=b"JPEG", fmt="jpeg"),
    ...                                 shop, now=1_700_000_000.0)
    >>> request.method, request.url.host, request.url.params["method"]
    ('POST', '127.0.0.1', 'qianmi.cloudshop.sku.image.upload')
    >>> answer = httpx.Response(200, json={"sku_image_upload_response": {"sku_img": {
    ...     "id": 5, "url": "http://i/5.jpg"}}}, request=request)
    >>> outcome = adapter.parse_response(answer)
    >>> outcome.ok, outcome.image_id, outcome.url
    (True, '5', 'http://i/5.jpg')
    """

    declaration: ClassVar[PlatformDeclaration]
    key: str
    title: str = ""
    default_base_url: str
    path: str
    limits: Limits
    target_meaning: str
    # A well-formed target (full match); validation flags others before anything is sent.
    target_pattern: str = r"\d+"
    options: tuple[OptionSpec, ...] = ()
    credentials: CredentialSpec
    codes: CodeTable
    # True when the platform can fetch an http(s) ``source_url`` itself (Douyin's ``url``).
    accepts_url_source: bool = False
    # How long to wait before re-sending a row whose request got no answer, when
    # ``retry_safe`` says a re-send is safe only once the platform has settled the first
    # copy (Douyin's ``need_distinct`` finds only materials that passed their audit).
    retry_settle_s: float = 0.0
    # What a re-send after an unanswered request would do, in words, for the docs.
    unanswered_policy: str = (
        "no idempotency key and no look-up: a row whose request got no answer is reported "
        "`failed` / `timeout` (it may have been stored) instead of being sent again, unless "
        "it replaces by id (`replace_id`), which is idempotent"
    )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        declaration = cls.__dict__.get("declaration")
        if declaration is not None:
            cls.key = declaration.key

    def implemented_abilities(self) -> tuple[str, ...]:
        """The abilities this adapter's code provides, to check against its declaration.

        An ability counts as implemented when the class overrides the method behind it
        (the ``replace`` ability: it declares the ``replace_id`` option).

        >>> from imgkit.platforms import get_adapter
        >>> get_adapter("taobao_picture").implemented_abilities()
        ('lookup', 'token')
        """
        kind = type(self)
        found = {
            "lookup": kind.parse_lookup_response is not Adapter.parse_lookup_response,
            "poll": kind.build_poll_request is not Adapter.build_poll_request,
            "token": kind.token_request is not Adapter.token_request,
            "replace": any(option.name == "replace_id" for option in self.options),
        }
        return tuple(name for name in ABILITIES if found[name])

    # --- the two pure jobs ---------------------------------------------------------------

    @abstractmethod
    def build_request(self, job: Job, shop: Shop, *, now: float, token: str = "") -> httpx.Request:
        """The request uploading ``job`` for ``shop`` at time ``now`` (epoch seconds)."""

    @abstractmethod
    def parse_response(self, response: httpx.Response) -> Outcome:
        """Classify the platform's answer."""

    # --- optional abilities (platforms that have them override) ----------------------------

    def token_request(self, shop: Shop) -> httpx.Request | None:
        """The request fetching an access token for ``shop``, or None when it needs none."""
        return None

    def parse_token_response(self, response: httpx.Response) -> tuple[str, float]:
        """``(token, lifetime seconds)`` from the token endpoint's answer."""
        raise ImgkitError(f"{self.key} has no token endpoint", code="no_token_endpoint")

    def build_poll_request(self, pending_id: str, shop: Shop, *, now: float) -> httpx.Request:
        """The request asking about an upload that is still pending (e.g. under audit)."""
        raise ImgkitError(f"{self.key} has no pending uploads to poll", code="no_poll")

    # --- look-ups (docs/lookups.md; platforms that have one override both) ----------------

    def build_lookup_request(
        self, job: Job, shop: Shop, *, now: float, token: str = ""
    ) -> httpx.Request | None:
        """The look-up listing what the upload of ``job`` could have stored, or None.

        None when the platform (or this kind of job) has no look-up: an unanswered row is
        then settled by the plain policy (:attr:`unanswered_policy`).  The request is signed
        and authenticated as the upload is, at time ``now`` with ``token`` when fetched.
        """
        return None

    def parse_lookup_response(self, response: httpx.Response) -> Lookup | Outcome:
        """The :class:`Lookup` of a look-up's answer, or its failure classified as an upload's.

        Raises :class:`imgkit.errors.ImgkitError` on a platform without look-ups.
        """
        raise ImgkitError(f"{self.key} has no look-up", code="no_lookup")

    # --- shared behaviour ----------------------------------------------------------------

    def url(self, shop: Shop, path: str | None = None) -> httpx.URL:
        """The shop's base URL (or the platform's real one) plus ``path``."""
        base = (shop.base_url or self.default_base_url).rstrip("/")
        return parsed_url(base + (self.path if path is None else path))

    def retry_safe(self, job: Job) -> bool:
        """Whether re-sending ``job`` after an unanswered request cannot store a copy.

        Replacing by id is idempotent on every platform that has it.
        """
        return bool(job.option("replace_id"))

    def parse_transport_error(self, exc: httpx.TransportError) -> Outcome:
        """The absence of an answer: never sent (safe to retry) or maybe stored."""
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
            return Outcome.failure(NOT_SENT, code="connect", message=type(exc).__name__)
        return Outcome.failure(
            NO_ANSWER, code="no_answer", message=type(exc).__name__, maybe_stored=True
        )

    def read_json(self, response: httpx.Response) -> dict[str, Any] | Outcome:
        """The JSON object of ``response``, or the outcome explaining why there is none.

        Hostile bodies are answers too: nesting deep enough to exhaust the parser's stack,
        or integers longer than Python converts, are unreadable, not a crash.

        >>> from imgkit.platforms import get_adapter
        >>> deep = httpx.Response(200, content=b"[" * 100_000 + b"]" * 100_000)
        >>> get_adapter("doudian").read_json(deep).maybe_stored
        True
        """
        try:
            body = json.loads(response.content)
        except (ValueError, UnicodeDecodeError, RecursionError):  # JSONDecodeError included
            body = None
        if not isinstance(body, dict):
            return self.judge_status(response)
        return body

    def read_coded(self, response: httpx.Response, key: str) -> dict[str, Any] | Outcome:
        """The JSON object of ``response`` when it carries the platform's ``key`` (its
        envelope's code), or the outcome explaining why it does not.

        >>> from imgkit.platforms import get_adapter
        >>> proxy_page = httpx.Response(502, json={"error": "bad gateway"})
        >>> get_adapter("doudian").read_coded(proxy_page, "code").category
        <Category.TRANSIENT: 'transient'>
        """
        body = self.read_json(response)
        if isinstance(body, Outcome) or key in body:
            return body
        return self.judge_status(response)

    def judge_status(self, response: httpx.Response) -> Outcome:
        """An answer without the platform's envelope (a proxy's page, say), by HTTP status.

        A 5xx or an unreadable 200 came after the request was sent: the image may have been
        stored, so the outcome is ``maybe_stored`` and the engine looks the row up before
        sending anything again.  A 4xx from a gateway refused the request before it reached
        the platform (authentication, a missing route, rate limiting).

        >>> from imgkit.platforms import get_adapter
        >>> page = httpx.Response(504, text="<html>504 Gateway Time-out</html>")
        >>> outcome = get_adapter("tmall_item").judge_status(page)
        >>> outcome.code, outcome.maybe_stored
        ('HTTP 504', True)
        """
        status = response.status_code
        if status >= 500:
            rule, doubt = SERVER_ERROR, True
        elif status in HTTP_RULES:
            rule, doubt = HTTP_RULES[status], False
        elif status >= 400:
            rule, doubt = GATEWAY_REFUSED, False
        else:  # a 2xx or 3xx that is not the platform's answer
            rule, doubt = UNREADABLE, True
        return Outcome.failure(
            rule, code=f"HTTP {status}", message=snippet(response), maybe_stored=doubt
        )

    def details_missing(self, message: str, raw: Mapping[str, Any], image_id: str = "") -> Outcome:
        """:func:`details_missing`, for the adapters' parse methods."""
        return details_missing(message, raw, image_id)

    def classify(
        self,
        *candidates: str,
        code: str,
        sub_code: str = "",
        message: str = "",
        raw: Mapping[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> Outcome:
        """A failed outcome from the code table (unknown codes are ``unknown``)."""
        rule = self.codes.lookup(*candidates) or UNKNOWN_CODE
        return Outcome.failure(
            rule,
            code=code,
            sub_code=sub_code,
            message=message,
            raw=raw,
            retry_after=retry_after if rule.retryable else None,
        )


__all__ = [
    "ABILITIES",
    "CHOICE_FALLBACK",
    "DETAILS_MISSING",
    "GATEWAY_REFUSED",
    "HTTP_RULES",
    "LOOKUP_SETTLES",
    "NOT_SENT",
    "NO_ANSWER",
    "SERVER_ERROR",
    "UNKNOWN_CODE",
    "UNREADABLE",
    "Adapter",
    "Candidate",
    "Category",
    "CodeRule",
    "CodeTable",
    "CredentialSpec",
    "Job",
    "Limits",
    "Lookup",
    "OptionSpec",
    "Outcome",
    "PixelRule",
    "PlatformDeclaration",
    "as_int",
    "bool_text",
    "candidates_of",
    "default_title",
    "details_missing",
    "first_object",
    "listed",
    "paged_lookup",
    "text",
    "title_filter",
]
