"""Where an image lands: the destination a journal entry is keyed on.

An upload is the same upload — and must never be stored twice — when it sends the same
bytes to the same place: the same platform, at the same endpoint (the sandbox at
``127.0.0.1:8765`` is not the real gateway), for the same account on that platform, under
the same target, with the same options that change where or as what the image is stored.
Nothing else counts: not the batch file's name or format, not the shop's name in the shops
file, not the file's path, not the user's own columns.

The account is what the platform's adapter declares as its identity fields
(``CredentialSpec.identity``): non-secret ones by value, secret ones (a TOP session, a
Qianmi access token) by a keyed fingerprint — an HMAC whose key lives in the journal, so
the journal never holds a secret and a fingerprint cannot be checked against a guess
without that file.  A shop's ``account`` field, when given, replaces the fingerprint (a
renewed session is then still the same account).

Example
-------
>>> from imgkit.intake.shops import make_shop
>>> shop = make_shop("s", {"platform": "tmall_item", "app_key": "21000001",
...                        "app_secret": "x", "session": "seller-session",
...                        "base_url": "http://127.0.0.1:8765/"})
>>> place = Destination.of(shop, "1001", {"is_major": "是"}, fingerprint_key=b"k")
>>> place.endpoint, place.account.split(";")[0], place.options
('http://127.0.0.1:8765', 'app_key=21000001', (('is_major', 'true'),))
>>> len(place.key("ab" * 32))
64
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from imgkit.intake.cells import cell_text
from imgkit.intake.headers import OPTIONAL_COLUMNS
from imgkit.intake.options import normalize, option_registry
from imgkit.intake.shops import Shop
from imgkit.platforms import get_adapter, resolve_platform

# The options that change where an image lands (or what it is called there), and so the
# key: every option an adapter declares but those of imgkit.intake.options.NOT_IN_KEY —
# replace_id (which image is overwritten), position (which slot), is_major / is_rectangle
# (main or extra image, Tmall), client_type (computer or phone picture, picture space),
# title (the stored name: picture space, mini-app file_name, Douyin material_name); not
# need_distinct (how Douyin de-duplicates, not where), not is_https (the URL's scheme).  Not
# the file's name or path either (the bytes count, so a renamed or moved folder is not
# re-sent), and no other column: notes, SKU names or row numbers must not cause a second
# upload.
DESTINATION_OPTIONS: tuple[str, ...] = tuple(
    name for name in OPTIONAL_COLUMNS if option_registry()[name].in_key
)
_FINGERPRINT_HEX = 16  # 64 bits: enough to tell accounts apart, too short to be a secret
_DEFAULT_PORTS = {"http": 80, "https": 443}
KEY_VERSION = "imgkit-destination/2"  # bump when normalization changes


def destination_options(options: Mapping[str, object] | None) -> dict[str, str]:
    """The options of ``options`` that go into the key, normalized; defaults dropped.

    Each value is read as :func:`imgkit.intake.options.normalize` reads it where the
    platform is not known (a validated row's canonical value is read unchanged), then
    written as keys have always written it: a yes/no only when yes, a choice by its short
    spelling (``phone`` for ``client:phone``), nothing for a default.

    >>> destination_options({"is_major": "1", "is_rectangle": "否", "position": 2.0,
    ...                      "client_type": "computer", "note": "red", "title": " 杯 "})
    {'title': '杯', 'position': '2', 'is_major': 'true'}
    """
    found: dict[str, str] = {}
    registry = option_registry()
    for name in DESTINATION_OPTIONS:
        option = registry[name]
        value = normalize(name, (options or {}).get(name))
        if option.kind == "bool":
            value = "true" if value == "true" else ""  # false is every default
        elif option.kind == "choice":
            value = _short(value, option.choices)
            value = "" if value == _short(option.default or "", option.choices) else value
        if value:
            found[name] = value
    return found


def _short(value: str, choices: tuple[str, ...]) -> str:
    """A choice as keys write it: lower-cased, without the ``prefix:`` its choices share."""
    lowered = value.lower()
    for choice in choices:
        prefix, colon, _ = choice.lower().partition(":")
        if colon and lowered.startswith(prefix + colon):
            return lowered[len(prefix) + 1 :]
    return lowered


def endpoint_of(shop: Shop) -> str:
    """The shop's endpoint, normalized: ``scheme://host[:port]``, default ports dropped.

    >>> from imgkit.intake.shops import make_shop
    >>> endpoint_of(make_shop("s", {"platform": "douyin", "appid": "1", "app_secret": "x",
    ...                             "seller_nick": "n", "base_url": "HTTP://LocalHost:80/"}))
    'http://localhost'
    """
    raw = shop.base_url or get_adapter(shop.platform).default_base_url
    parts = urlsplit(raw.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        netloc += f":{port}"
    return f"{scheme}://{netloc}"


def account_of(shop: Shop, fingerprint_key: bytes) -> str:
    """The account ``shop`` uploads as: ``field=value`` pairs joined by ``;``, secret
    fields as ``field#<fingerprint>`` (or the shop's ``account`` field in their place).

    >>> from imgkit.intake.shops import make_shop
    >>> shop = make_shop("s", {"platform": "qianmi", "app_key": "10001", "app_secret": "x",
    ...                        "access_token": "s3cr3t"})
    >>> label = account_of(shop, b"k")
    >>> label.startswith("app_key=10001;access_token#"), "s3cr3t" in label
    (True, False)
    """
    spec = get_adapter(shop.platform).credentials
    names = spec.identity or spec.required
    parts: list[str] = []
    secret_names = [n for n in names if n in spec.secret]
    for name in names:
        if name in spec.secret:
            continue
        parts.append(f"{name}={shop.get(name)}")
    if shop.account:
        parts.append(f"account={shop.account}")
    else:
        for name in secret_names:
            digest = hmac.new(fingerprint_key, shop.get(name).encode("utf-8"), hashlib.sha256)
            parts.append(f"{name}#{digest.hexdigest()[:_FINGERPRINT_HEX]}")
    return ";".join(parts)


@dataclass(frozen=True, slots=True)
class Destination:
    """Where one row's image lands; :meth:`key` adds the content."""

    platform: str
    endpoint: str
    account: str
    target: str
    options: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(
        cls,
        shop: Shop,
        target: str,
        options: Mapping[str, object] | None,
        *,
        fingerprint_key: bytes,
    ) -> Destination:
        """The destination of a row of ``shop`` (see the module's example)."""
        return cls(
            shop.platform,
            endpoint_of(shop),
            account_of(shop, fingerprint_key),
            cell_text(target),
            tuple(sorted(destination_options(options).items())),
        )

    def key(self, sha256: str) -> str:
        """The journal key of sending the bytes with ``sha256`` here (64 hex digits)."""
        parts = [
            KEY_VERSION,
            self.platform,
            self.endpoint,
            self.account,
            self.target,
            sha256.strip().lower(),
            [list(pair) for pair in self.options],
        ]
        material = json.dumps(parts, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(material.encode("utf-8")).hexdigest()


def legacy_key(
    platform: str, shop: str, target: str, sha256: str, options: Mapping[str, object] | None
) -> str:
    """The key imgkit 0.1 used (platform, shop *name*, target, content, options).

    Only to find what an old per-batch journal confirmed (:mod:`imgkit.engine.journal` migrates
    it); it knows neither the endpoint nor the account.

    >>> legacy_key("天猫", "s", "1001", "ab" * 32, {"is_major": "TRUE"}) == legacy_key(
    ...     "tmall_item", "s", " 1001", "AB" * 32, {"is_major": "是"})
    True
    """
    parts = [
        "imgkit-journal/1",
        resolve_platform(platform),
        shop.strip(),
        cell_text(target),
        sha256.strip().lower(),
        sorted(destination_options(options).items()),
    ]
    material = json.dumps(parts, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()
