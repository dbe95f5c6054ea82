"""The adapter interface: one small class per platform, pure and declarative.

An adapter declares, as data, its key and aliases, its :class:`Limits`, what ``target``
and the optional columns mean (:class:`OptionSpec`), the shop fields it needs
(:class:`CredentialSpec`) and its table of raw codes (:class:`CodeRule`).  It implements
two things with no I/O, no sleeping and no retries:

* :meth:`Adapter.build_request` — the ``httpx.Request`` for one :class:`Job` (signing
  included);
* :meth:`Adapter.parse_response` — an ``httpx.Response`` into an :class:`Outcome`, and
  :meth:`Adapter.parse_transport_error` for the absence of one.

Platforms with a *look-up* (``docs/lookups.md``: the call that lists the images an
unanswered upload could have stored) also build that request
(:meth:`Adapter.build_lookup_request`) and read its answer into a :class:`Lookup` of
:class:`Candidate` images (:meth:`Adapter.parse_lookup_response`).

The engine, validation and the docs read the declarations; nothing special-cases a platform.

Example
-------
>>> Limits(max_bytes=1024, formats=frozenset({"jpeg"})).allows_format("jpeg")
True
>>> CodeRule(Category.TRANSIENT, True, "系统繁忙", "busy").retryable
True
>>> Lookup((Candidate("7", "http://img/7.jpg", size=1024),), complete=True).candidates[0].size
1024
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

import httpx

from imgkit.errors import Category, ImgkitError

if TYPE_CHECKING:
    from imgkit.intake.shops import Shop

# --- declarations -------------------------------------------------------------------------


@dataclass(frozen=True)
class PixelRule:
    """A pixel rule that applies when option ``when[0]`` equals ``when[1]`` (always if None).

    ``ratio`` is (width, height): the image must have exactly that aspect ratio.
    """

    when: tuple[str, str] | None = None
    min_width: int | None = None
    max_width: int | None = None
    min_height: int | None = None
    max_height: int | None = None
    ratio: tuple[int, int] | None = None
    zh: str = ""
    en: str = ""


@dataclass(frozen=True)
class Limits:
    """What a platform accepts.  ``formats`` are content formats: jpeg, png, gif."""

    max_bytes: int
    formats: frozenset[str]
    title_max: int | None = None
    # True: a longer title is cut by the platform (a warning); False: it is refused.
    title_cut: bool = False
    title_dedup: bool = False
    positions: range | None = None
    images_per_target: int | None = None
    pixel_rules: tuple[PixelRule, ...] = ()
    rate_per_s: float | None = None

    def allows_format(self, fmt: str | None) -> bool:
        """True when content of format ``fmt`` is accepted."""
        return fmt in self.formats


@dataclass(frozen=True)
class OptionSpec:
    """An optional column the platform understands, and what it means there."""

    name: str
    meaning: str
    kind: str = "text"  # text | int | bool | choice
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class CredentialSpec:
    """Shop fields: required ones, alternatives, optional and secret ones.

    Each entry of ``alternatives`` is a group of options, one of which must be complete:
    ``((("access_token",), ("client_id", "client_secret")),)`` reads "an access token, or a
    client id and secret".
    """

    required: tuple[str, ...]
    alternatives: tuple[tuple[tuple[str, ...], ...], ...] = ()
    optional: tuple[str, ...] = ()
    secret: frozenset[str] = frozenset()
    # The fields that say which account on the platform a shop is (the journal keys on
    # them, so another account never looks done); a secret one is fingerprinted, never kept.
    identity: tuple[str, ...] = ()
    # Fields that take one of a few values (compared case-insensitively), checked when a
    # shop is loaded so that a bad value is a validation issue, not a failed request.
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class CodeRule:
    """What a raw platform code means: a category, whether to retry, plain words."""

    category: Category
    retryable: bool
    zh: str
    en: str


@dataclass(frozen=True)
class CodeTable:
    """Raw code → :class:`CodeRule`.  Keys are exact codes, or globs such as ``isp.*``.

    Look-up tries each candidate in turn (pass the most specific first: the sub-code, then
    the code), each against the exact keys and then the glob keys in declaration order.

    >>> t = CodeTable({"isp.*": CodeRule(Category.TRANSIENT, True, "", "")})
    >>> t.lookup("isp.remote-error").category
    <Category.TRANSIENT: 'transient'>
    """

    rules: Mapping[str, CodeRule]

    def lookup(self, *candidates: str) -> CodeRule | None:
        """The rule of the first candidate that matches an exact key or a glob key."""
        for candidate in candidates:
            if not candidate:
                continue
            if candidate in self.rules:
                return self.rules[candidate]
            for pattern, rule in self.rules.items():
                if "*" in pattern and fnmatch.fnmatchcase(candidate, pattern):
                    return rule
        return None


# --- what goes in and comes out ---------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """One row to upload, as the adapter sees it.

    ``data`` holds the bytes to send (None when the platform fetches ``source_url``
    itself); ``fmt`` is the content format found by probing (jpeg, png, gif);
    ``options`` holds the optional columns as text (``title``, ``position``,
    ``replace_id``, ``is_major``, ``is_rectangle``, ``client_type``, ...).
    """

    target: str
    filename: str
    data: bytes | None = None
    fmt: str | None = None
    source_url: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)

    def option(self, name: str) -> str:
        """An option's text, stripped; empty when absent."""
        return str(self.options.get(name, "") or "").strip()


@dataclass(frozen=True)
class Outcome:
    """The result of one request.

    ``ok`` with ``url`` and ``image_id``; or a ``category`` with the platform's raw
    ``code``/``sub_code``/``message`` and plain words in ``zh``/``en``.  A Douyin upload still
    under audit is ``ok=False`` with category ``audit_pending`` and ``pending_id`` set.
    ``maybe_stored`` says the request may have reached the platform although no answer came.
    """

    ok: bool
    url: str = ""
    image_id: str = ""
    category: Category | None = None
    code: str = ""
    sub_code: str = ""
    message: str = ""
    zh: str = ""
    en: str = ""
    retryable: bool = False
    retry_after: float | None = None
    pending_id: str = ""
    audit_status: int | None = None
    maybe_stored: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def failure(
        cls,
        rule: CodeRule,
        *,
        code: str = "",
        sub_code: str = "",
        message: str = "",
        retry_after: float | None = None,
        raw: Mapping[str, Any] | None = None,
        **extra: Any,
    ) -> Outcome:
        """A failed outcome classified by ``rule``."""
        return cls(
            ok=False,
            category=rule.category,
            code=code,
            sub_code=sub_code,
            message=message,
            zh=rule.zh,
            en=rule.en,
            retryable=rule.retryable,
            retry_after=retry_after,
            raw=raw or {},
            **extra,
        )


@dataclass(frozen=True)
class Candidate:
    """An image a look-up listed.

    ``size`` is the byte size when the platform lists it (the engine skips downloading a
    candidate whose size differs from the bytes sent); ``position`` is the image's slot on
    platforms with ordered images (Tmall, Qianmi).

    >>> Candidate("0", "http://img/main.jpg", position=0).title
    ''
    """

    image_id: str
    url: str
    size: int | None = None
    title: str = ""
    position: int | None = None


@dataclass(frozen=True)
class Lookup:
    """What a look-up answered: the images listed, and whether that was every match.

    ``complete`` is False when the platform has more matches than it listed (a page was
    not enough) or listed something unreadable: "no match" then proves nothing.

    >>> Lookup(candidates=(), complete=True).candidates
    ()
    """

    candidates: tuple[Candidate, ...]
    complete: bool
    # True when the platform says some matching image is still being processed (Douyin's
    # audit): its bytes cannot be compared yet, so the look-up is asked again later.
    pending: bool = False


# How a look-up settles an unanswered row (docs/lookups.md), for the adapters' policy texts.
LOOKUP_SETTLES = (
    "one listed image with the sent bytes makes the row `uploaded`, none in a complete "
    "answer sends it again, anything else reports it `failed` / `timeout` (it may have been "
    "stored)"
)
# What happens against a real gateway lacking a [choice] look-up (docs/lookups.md).
CHOICE_FALLBACK = (
    "that look-up is a sandbox convention: against a real gateway without it the row is "
    "reported `failed` / `timeout` (it may have been stored) and not sent again"
)

# Answers that are not the platform speaking: proxies, overload, a server that lies.
HTTP_RULES: Mapping[int, CodeRule] = {
    401: CodeRule(Category.AUTH, False, "认证失败,请检查凭证", "authentication failed"),
    403: CodeRule(Category.PERMISSION, False, "无权访问", "access forbidden"),
    404: CodeRule(Category.INVALID_INPUT, False, "接口地址不存在", "no such API endpoint"),
    429: CodeRule(Category.RATE_LIMITED, True, "请求过于频繁", "too many requests"),
}
# A 5xx without the platform's envelope comes from a gateway in front of it, which may have
# passed the upload on before failing: the image may have been stored (docs/reliability.md).
SERVER_ERROR = CodeRule(
    Category.TRANSIENT,
    True,
    "平台网关出错(HTTP 5xx),图片可能已上传,先查询再决定是否重发",
    "a gateway error (HTTP 5xx) after the request was sent: the image may have been stored; "
    "it is looked up before anything is sent again",
)
# A 200 that is not the platform's envelope (an HTML page, an empty or cut-off body): the
# request reached something, which may have stored it.
UNREADABLE = CodeRule(
    Category.TRANSIENT,
    True,
    "平台返回了无法识别的内容,图片可能已上传,先查询再决定是否重发",
    "the platform answered something unreadable: the image may have been stored; it is "
    "looked up before anything is sent again",
)
GATEWAY_REFUSED = CodeRule(
    Category.UNKNOWN,
    False,
    "请求被网关拒绝(不是平台的回应)",
    "a gateway refused the request (an HTTP error without the platform's answer)",
)
# The platform's success envelope without the image's address: stored, details missing.
DETAILS_MISSING = CodeRule(
    Category.TRANSIENT,
    True,
    "平台回应成功但缺少图片地址,图片可能已上传,先查询确认",
    "the platform answered success without the image's address: it was probably stored, "
    "and is looked up for its details",
)
UNKNOWN_CODE = CodeRule(Category.UNKNOWN, False, "未知错误码", "unknown error code")
NOT_SENT = CodeRule(Category.TRANSIENT, True, "无法连接平台", "could not reach the platform")
NO_ANSWER = CodeRule(
    Category.TIMEOUT,
    True,
    "请求已发出但未收到回应,图片可能已上传",
    "sent but no answer came; the image may have been stored",
)


class Adapter(ABC):
    """One platform.  Subclasses fill in the class attributes and the two methods."""

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
        return _parsed_url(base + (self.path if path is None else path))

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
            rule, code=f"HTTP {status}", message=_snippet(response), maybe_stored=doubt
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


def details_missing(message: str, raw: Mapping[str, Any], image_id: str = "") -> Outcome:
    """The platform's success envelope without the image's address: it was probably
    stored, so the row is looked up (``maybe_stored``) instead of failed.

    >>> details_missing("no url", {}, "7").maybe_stored
    True
    """
    return Outcome.failure(
        DETAILS_MISSING,
        code="no_url",
        message=message,
        raw=raw,
        image_id=image_id,
        maybe_stored=True,
    )


def _snippet(response: httpx.Response, limit: int = 64 * 1024) -> str:
    """The start of an unrecognised answer, as one line of text for the results.

    Generous on purpose: an echoing server may have put the shop's secrets there, and the
    engine scrubs them before it cuts the message short (:func:`imgkit.scrub.clip`);
    cutting first could split a secret where it is no longer recognisable.
    """
    head = response.content[: limit * 4].decode("utf-8", "replace")
    return " ".join(head.split())[:limit]


@functools.lru_cache(maxsize=256)
def _parsed_url(url: str) -> httpx.URL:
    """``url`` parsed once: httpx re-validates a text URL character by character on every
    request, which costs more than signing it; an ``httpx.URL`` is taken as it is.

    >>> _parsed_url("http://127.0.0.1:8765/api") is _parsed_url("http://127.0.0.1:8765/api")
    True
    """
    return httpx.URL(url)


def text(value: Any) -> str:
    """A JSON scalar as text (ids come as numbers from some platforms)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def bool_text(value: str) -> str:
    """A user's boolean ("1", "yes", "TRUE", "是") as the wire's ``true``/``false``.

    >>> [bool_text(v) for v in ("1", "Yes", "false", "是", "")]
    ['true', 'true', 'false', 'true', 'false']
    """
    return "true" if value.strip().lower() in {"1", "true", "yes", "y", "是", "t"} else "false"


def first_object(body: Mapping[str, Any], keys: Sequence[str] = ()) -> dict[str, Any] | None:
    """The first object-valued member of ``body`` (or of ``keys`` when given)."""
    names = keys or list(body)
    for name in names:
        value = body.get(name)
        if isinstance(value, dict):
            return value
    return None


def default_title(job: Job) -> str:
    """The title a picture space gives ``job``: its ``title``, else the file name's stem.

    >>> titled = Job("0", "a.jpg", options={"title": "主图"})
    >>> default_title(Job("0", "白色T恤.jpg")), default_title(titled)
    ('白色T恤', '主图')
    """
    return job.option("title") or PurePath(job.filename).stem or job.filename


# A title's duplicate mark, "(n)" with n >= 1, as picture spaces add it on a clash.
_DEDUP_MARK = re.compile(r"\([1-9][0-9]*\)$")


def title_filter(title: str, limit: int | None) -> str:
    """The ``title`` filter of a look-up for an upload titled ``title`` ("" = no filter).

    The platform cuts the title to ``limit`` characters, then adds "(1)" on a clash, or
    turns a trailing "(n)" into "(n+1)".  A look-up lists titles equal to the filter or
    to the filter followed by "(n)", so a trailing "(n)" of the title itself is left out:
    "a(1)" may have been stored as "a(2)", which the filter "a" finds and "a(1)" would not.

    >>> title_filter("白色T恤", 50), title_filter("x" * 60, 50) == "x" * 50
    ('白色T恤', True)
    >>> title_filter("杯子(1)", 50), title_filter("杯子(0)", 50), title_filter("(2)", 50)
    ('杯子', '杯子(0)', '')
    """
    cut = title[:limit] if limit else title
    return _DEDUP_MARK.sub("", cut)


def as_int(value: Any) -> int | None:
    """A JSON number, or its text, as an int; None for anything else.

    >>> as_int(12), as_int(" 34 "), as_int("12.5"), as_int(True), as_int(None)
    (12, 34, None, None, None)
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdecimal():
        return int(value.strip())
    return None


def listed(container: Any, key: str) -> list[Any] | None:
    """The list of ``container[key]`` (TOP's ``{"picture": [...]}`` wrapping), or None.

    A lone object stands for a one-item list, as some gateways write it; an absent or null
    container is None (the caller decides whether that means "nothing listed").

    >>> listed({"picture": [{"picture_id": 1}]}, "picture")
    [{'picture_id': 1}]
    >>> listed({"picture": {"picture_id": 1}}, "picture"), listed(None, "picture")
    ([{'picture_id': 1}], None)
    """
    if not isinstance(container, dict):
        return None
    items = container.get(key)
    if isinstance(items, dict):
        return [items]
    return items if isinstance(items, list) else None


def candidates_of(
    items: Sequence[Any], *, id_key: str, url_key: str, size_key: str = "", title_key: str = ""
) -> tuple[tuple[Candidate, ...], bool]:
    """``(candidates, all_readable)`` of listed image objects.

    An entry that is not an object or lacks its id or URL cannot be compared with the bytes
    sent; it is left out and ``all_readable`` is False, so that the caller marks the listing
    incomplete (a match elsewhere still settles the row; "no match" then proves nothing).

    >>> cands, ok = candidates_of([{"id": 0, "url": "http://i/0.jpg", "position": 0}, "junk"],
    ...                           id_key="id", url_key="url")
    >>> cands[0].image_id, cands[0].position, ok
    ('0', 0, False)
    """
    found: list[Candidate] = []
    readable = True
    for item in items:
        if not isinstance(item, dict) or item.get(id_key) is None or not text(item.get(url_key)):
            readable = False
            continue
        found.append(
            Candidate(
                image_id=text(item[id_key]),
                url=text(item[url_key]),
                size=as_int(item.get(size_key)) if size_key else None,
                title=text(item.get(title_key)) if title_key else "",
                position=as_int(item.get("position")),
            )
        )
    return tuple(found), readable


def paged_lookup(items: list[Any] | None, total: Any, **keys: str) -> Lookup:
    """The :class:`Lookup` of one page of a paged listing that states its ``total``.

    Complete only when the total is stated and no larger than what was listed (an absent
    list counts as empty: a total of 0 proves it).

    >>> page = paged_lookup([{"pic_id": 5, "path": "http://i/5.png", "sizes": "812"}], 1,
    ...                     id_key="pic_id", url_key="path", size_key="sizes")
    >>> page.complete, page.candidates[0]
    (True, Candidate(image_id='5', url='http://i/5.png', size=812, title='', position=None))
    >>> paged_lookup(None, 0, id_key="pic_id", url_key="path")
    Lookup(candidates=(), complete=True, pending=False)
    >>> paged_lookup([], None, id_key="pic_id", url_key="path").complete
    False
    """
    found, readable = candidates_of(items or [], **keys)
    count = as_int(total)
    complete = readable and count is not None and count <= len(found)
    return Lookup(found, complete)
