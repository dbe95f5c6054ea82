"""What goes into an adapter and what comes out, and the rules shared by every platform.

A :class:`Job` is one row as the adapter sees it; an :class:`Outcome` classifies one
answer (or its absence); a look-up answers a :class:`Lookup` of :class:`Candidate` images.
The module-level :class:`~imgkit.platforms.declarations.CodeRule` constants classify the
answers that are not the platform speaking (proxies, overload, silence), the same way on
every platform.

Example
-------
>>> Outcome.failure(NO_ANSWER, code="no_answer", maybe_stored=True).category
<Category.TIMEOUT: 'timeout'>
>>> Lookup((Candidate("7", "http://img/7.jpg", size=1024),), complete=True).candidates[0].size
1024
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from imgkit.errors import Category
from imgkit.platforms.declarations import CodeRule


@dataclass(frozen=True)
class Job:
    """One row to upload, as the adapter sees it.

    Parameters
    ----------
    target
        What the image is for: a product, SKU or folder id, as the platform means it.
    filename
        The file's name (some platforms send it, or title the image after it).
    data
        The bytes to send (None when the platform fetches ``source_url`` itself).
    fmt
        The content format found by probing (jpeg, png, gif).
    source_url
        The image's http(s) address, for platforms that fetch it themselves.
    options
        The optional columns as canonical text (``title``, ``position``, ``replace_id``,
        ``is_major``, ``is_rectangle``, ``client_type``, ...).

    Examples
    --------
    >>> job = Job("1489161940", "mug.jpg", data=b"JPEG", fmt="jpeg",
    ...           options={"position": " 1 ", "is_major": "false"})
    >>> job.option("position"), job.option("title"), job.data
    ('1', '', b'JPEG')
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

    Parameters
    ----------
    ok
        True when the platform stored the image.
    url, image_id
        The stored image's address and id.
    category, code, sub_code, message
        A failure's :class:`imgkit.errors.Category` and the platform's raw code and words.
    zh, en
        A failure's plain words, in Chinese and English.
    retryable, retry_after
        Whether to send again, and after how many seconds when the platform says so.
    pending_id, audit_status
        An upload still under audit: the id to poll, and the platform's status number.
    maybe_stored
        True when the request may have reached the platform although no answer came.
    raw
        The platform's answer (or its part that matters), for the results.

    Examples
    --------
    >>> stored = Outcome(ok=True, url="https://img.example/7.jpg", image_id="7")
    >>> stored.ok, stored.category, stored.image_id
    (True, None, '7')
    >>> lost = Outcome.failure(NO_ANSWER, code="no_answer", maybe_stored=True)
    >>> lost.ok, lost.retryable, lost.en
    (False, True, 'sent but no answer came; the image may have been stored')
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
