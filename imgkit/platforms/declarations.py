"""What an adapter declares as data: who the platform is, what it accepts, what codes mean.

:class:`PlatformDeclaration` names the platform once — its key, the aliases analysts write,
and its abilities (look-up, audit poll, token endpoint, replace-by-id); the registry, the
sandbox's table, the docs and the tests derive from it.  :class:`Limits`,
:class:`OptionSpec`, :class:`CredentialSpec` and the :class:`CodeTable` of
:class:`CodeRule` say what the platform accepts, which columns and shop fields it reads,
and what its raw codes mean.

Example
-------
>>> PlatformDeclaration("demo", aliases=("演示",), lookup=True).abilities
('lookup',)
>>> Limits(max_bytes=1024, formats=frozenset({"jpeg"})).allows_format("png")
False
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from imgkit.errors import Category

# A platform key: what the shops file and the results name; also a Python identifier.
KEY_PATTERN = re.compile(r"[a-z][a-z0-9_]*")
ABILITIES = ("lookup", "poll", "token", "replace")


@dataclass(frozen=True)
class PlatformDeclaration:
    """A platform's identity and abilities, declared once in its adapter module.

    ``aliases`` are the other names analysts write in the platform column (matched
    ignoring case, spaces and dashes).  The abilities say what the adapter implements:

    * ``lookup`` — it lists the images an unanswered upload could have stored
      (``build_lookup_request`` / ``parse_lookup_response``, ``docs/lookups.md``);
    * ``poll`` — uploads may wait for an audit, polled with ``build_poll_request``;
    * ``token`` — it can fetch an access token from a token endpoint (``token_request``);
    * ``replace`` — it replaces an image by id (the ``replace_id`` option).

    >>> PlatformDeclaration("Bad key")
    Traceback (most recent call last):
    ...
    ValueError: platform key 'Bad key' must be lowercase letters, digits and '_'
    """

    key: str
    aliases: tuple[str, ...] = ()
    lookup: bool = False
    poll: bool = False
    token: bool = False
    replace: bool = False

    def __post_init__(self) -> None:
        if not KEY_PATTERN.fullmatch(self.key):
            raise ValueError(f"platform key {self.key!r} must be lowercase letters, digits and '_'")
        if isinstance(self.aliases, str):
            raise ValueError(f"{self.key}: aliases must be a tuple of names, not one string")

    @property
    def abilities(self) -> tuple[str, ...]:
        """The names of the abilities declared, in :data:`ABILITIES` order."""
        declared = {f.name: getattr(self, f.name) for f in fields(self)}
        return tuple(name for name in ABILITIES if declared[name])


@dataclass(frozen=True)
class PixelRule:
    """A pixel rule that applies when option ``when[0]`` equals ``when[1]`` (always if None).

    Parameters
    ----------
    when
        ``(option, canonical value)`` the rule applies to, or None for every image.
    min_width, max_width, min_height, max_height
        Bounds in pixels, inclusive (None: no bound).
    ratio
        ``(width, height)``: the image must have exactly that aspect ratio.
    zh, en
        The validation message, in Chinese and English.

    Examples
    --------
    >>> rule = PixelRule(when=("is_rectangle", "true"), ratio=(3, 4), en="must be 3:4")
    >>> rule.when, rule.ratio, rule.min_width
    (('is_rectangle', 'true'), (3, 4), None)
    >>> from imgkit.platforms import get_adapter
    >>> get_adapter("tmall_item").limits.pixel_rules[0].ratio
    (3, 4)
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
    """What a platform accepts: size, formats, titles, positions, pixels and rate.

    Parameters
    ----------
    max_bytes
        The largest file accepted, in bytes.
    formats
        The content formats accepted (as probed): ``jpeg``, ``png``, ``gif``.
    title_max
        The longest title, in characters (None: no limit or no title).
    title_cut
        True: a longer title is cut by the platform (a warning); False: it is refused.
    title_dedup
        True when the platform marks a clashing title with "(n)".
    positions
        The valid ``position`` values (None: the platform has no positions).
    default_position
        The position a row without one takes (None: the platform picks a free one). Two
        images of one target may not share a position where this is set.
    main_position, main_flag, unplaced_flag
        Where the main image sits and the option that makes an image the main one (Tmall:
        0 and ``is_major``): no other image may ask for that position, nor the main image
        for another. ``unplaced_flag`` names the option whose image takes no position at
        all (Tmall's 3:4 image, ``is_rectangle``).
    images_per_target
        How many images one target holds (None: no limit).
    pixel_rules
        The :class:`PixelRule` s images must meet.
    rate_per_s
        The platform's request rate per shop (None: the engine's default).

    Examples
    --------
    >>> limits = Limits(max_bytes=3 * 1024 * 1024, formats=frozenset({"jpeg", "png"}))
    >>> limits.allows_format("png"), limits.allows_format("gif"), limits.allows_format(None)
    (True, False, False)
    >>> from imgkit.platforms import get_adapter
    >>> get_adapter("qianmi_sku").limits.positions
    range(0, 5)
    """

    max_bytes: int
    formats: frozenset[str]
    title_max: int | None = None
    # True: a longer title is cut by the platform (a warning); False: it is refused.
    title_cut: bool = False
    title_dedup: bool = False
    positions: range | None = None
    default_position: int | None = None
    main_position: int | None = None
    main_flag: str = ""
    unplaced_flag: str = ""
    images_per_target: int | None = None
    pixel_rules: tuple[PixelRule, ...] = ()
    rate_per_s: float | None = None

    def allows_format(self, fmt: str | None) -> bool:
        """True when content of format ``fmt`` is accepted."""
        return fmt in self.formats


@dataclass(frozen=True)
class OptionSpec:
    """An optional column the platform understands, and what it means there.

    Parameters
    ----------
    name
        The column's name (``title``, ``position``, ``is_major``, ...).
    meaning
        What the column means on this platform, in words (for the docs).
    kind
        ``text``, ``int``, ``bool`` or ``choice``: how validation reads the value.
    choices
        The values a ``choice`` option accepts.

    Examples
    --------
    >>> OptionSpec("client_type", "where the image is shown", kind="choice",
    ...            choices=("client:computer", "client:phone")).choices[1]
    'client:phone'
    >>> from imgkit.platforms import get_adapter
    >>> [option.name for option in get_adapter("doudian").options]
    ['title', 'need_distinct']
    """

    name: str
    meaning: str
    kind: str = "text"  # text | int | bool | choice
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class CredentialSpec:
    """Shop fields: required ones, alternatives, optional and secret ones.

    Parameters
    ----------
    required
        The fields every shop of the platform must set.
    alternatives
        Groups of options, one of each group must be complete:
        ``((("access_token",), ("client_id", "client_secret")),)`` reads "an access token,
        or a client id and secret".
    optional
        Fields read when set.
    secret
        Fields kept as :class:`imgkit.secret.Secret` (masked when a shop is printed).
    identity
        The fields that say which account a shop is (the journal keys on them).
    choices
        Fields that take one of a few values, checked when a shop is loaded.

    Examples
    --------
    >>> spec = CredentialSpec(required=("shop_id",),
    ...                       alternatives=((("access_token",), ("client_id", "client_secret")),),
    ...                       secret=frozenset({"access_token", "client_secret"}))
    >>> spec.alternatives[0][1], "client_secret" in spec.secret
    (('client_id', 'client_secret'), True)
    >>> from imgkit.platforms import get_adapter
    >>> get_adapter("tmall_item").credentials.choices["sign_method"]
    ('md5', 'hmac', 'hmac-sha256')
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
    """What a raw platform code means: a category, whether to retry, plain words.

    Parameters
    ----------
    category
        The :class:`imgkit.errors.Category` the results report.
    retryable
        Whether the engine sends the row again (with back-off).
    zh, en
        The plain words for the results, in Chinese and English.

    Examples
    --------
    >>> busy = CodeRule(Category.RATE_LIMITED, True, "请求过于频繁", "too many requests")
    >>> busy.category, busy.retryable, busy.en
    (<Category.RATE_LIMITED: 'rate_limited'>, True, 'too many requests')
    """

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
