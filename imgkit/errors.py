"""The error categories the whole toolkit speaks, and imgkit's exceptions.

Every platform answer that is not a success becomes one :class:`Category` plus the
platform's raw code, so that results from five platforms can be filtered, counted and
retried alike.  Only ``rate_limited``, ``transient`` and ``timeout`` are ever retried.

Exceptions::

    ImgkitError                 root: a category, a raw code (if any), a message
    ├── UnknownPlatformError    a platform key or alias imgkit does not know
    └── ShopConfigError         a shop missing, malformed, or lacking a field

Example
-------
>>> Category("rate_limited").retryable
True
>>> str(ShopConfigError("shop 'x': missing field 'app_key'"))
"shop 'x': missing field 'app_key'"
"""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    """Normalized error category of a failed (or pending) upload.

    Every non-success answer of every platform maps to one of these, so results from five
    platforms filter, count and retry alike; only three are ever retried.

    Examples
    --------
    >>> Category("quota"), Category.QUOTA.retryable
    (<Category.QUOTA: 'quota'>, False)
    >>> sorted(c.value for c in Category if c.retryable)
    ['rate_limited', 'timeout', 'transient']
    """

    INVALID_INPUT = "invalid_input"
    TOO_LARGE = "too_large"
    BAD_FORMAT = "bad_format"
    BAD_DIMENSIONS = "bad_dimensions"
    AUTH = "auth"
    PERMISSION = "permission"
    QUOTA = "quota"
    NOT_FOUND = "not_found"
    RATE_LIMITED = "rate_limited"
    TRANSIENT = "transient"
    TIMEOUT = "timeout"
    AUDIT_PENDING = "audit_pending"
    AUDIT_REJECTED = "audit_rejected"
    UNKNOWN = "unknown"

    @property
    def retryable(self) -> bool:
        """Whether a category can ever be retried (the platform may still say no)."""
        return self in _RETRYABLE


_RETRYABLE = frozenset({Category.RATE_LIMITED, Category.TRANSIENT, Category.TIMEOUT})


class ImgkitError(Exception):
    """Root of imgkit's exceptions: a message, a :class:`Category` and the raw code.

    Parameters
    ----------
    message : str
        Plain words for the person reading the error.
    category : Category, default ``Category.INVALID_INPUT``
        What kind of failure it is (decides whether it is retried).
    code : str, default ""
        The platform's or imgkit's raw code, when there is one.

    Examples
    --------
    >>> error = ImgkitError("no lookup for this API", code="no_lookup")
    >>> error.category, error.code, str(error)
    (<Category.INVALID_INPUT: 'invalid_input'>, 'no_lookup', 'no lookup for this API')
    """

    def __init__(
        self, message: str, *, category: Category = Category.INVALID_INPUT, code: str = ""
    ) -> None:
        super().__init__(message)
        self.message = message
        self.category = category
        self.code = code


class UnknownPlatformError(ImgkitError):
    """A platform key or alias imgkit does not know.

    Examples
    --------
    >>> import imgkit
    >>> try:
    ...     imgkit.resolve_platform("amazon")
    ... except UnknownPlatformError as error:
    ...     print(type(error).__name__, error.category)
    UnknownPlatformError invalid_input
    """


class ShopConfigError(ImgkitError):
    """A shop is missing or malformed; the message names the shop and the field.

    Examples
    --------
    >>> import imgkit
    >>> try:
    ...     imgkit.load_shops({"s": {"platform": "tmall_item"}})
    ... except ShopConfigError as error:
    ...     print("app_key" in str(error))
    True
    """
