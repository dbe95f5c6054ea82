"""Where fetched access tokens are kept: one run's, or the whole process's.

Platforms that authenticate with client credentials (``Adapter.token_request``) hand out
bearer tokens that last a while.  :func:`imgkit.engine.exchange.fetch_token` asks a store
first and fetches through the exchange when it has none; a token the platform refuses
(``auth``) is dropped with :meth:`invalidate` and fetched again, once.

* :class:`RunTokens`: one upload run's tokens, per shop (a run never reuses another's);
* :class:`TokenCache`: the process's, for ``upload_one``, keyed by the token request
  itself, so changed credentials mean a new token.  Thread-safe.

Example
-------
>>> from imgkit.intake.shops import make_shop
>>> from imgkit.platforms import get_adapter
>>> from imgkit.sandbox import sandbox_shops
>>> shop = make_shop("tb_picture_oauth", sandbox_shops("http://vv.test")["tb_picture_oauth"])
>>> adapter, tokens = get_adapter("taobao_picture"), RunTokens()
>>> tokens.keep(adapter, shop, "tok", 3600.0)
>>> tokens.cached(adapter, shop)
'tok'
>>> tokens.invalidate(adapter, shop), tokens.cached(adapter, shop)
(True, None)
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from typing import Protocol

import httpx

from imgkit.errors import ImgkitError
from imgkit.intake.shops import Shop
from imgkit.platforms.base import Adapter
from imgkit.scrub_logs import register

# Refresh a fetched token this long before it expires.
MARGIN_S = 60.0


def expiry(lifetime: float) -> float:
    """When a token that lasts ``lifetime`` seconds is fetched again (epoch seconds).

    >>> expiry(30.0) > time.time()
    True
    """
    return time.time() + max(lifetime - MARGIN_S, 1.0)


class Tokens(Protocol):
    """A token store: what :func:`imgkit.engine.exchange.fetch_token` needs of one."""

    def cached(self, adapter: Adapter, shop: Shop) -> str | None:
        """``shop``'s token while it is valid, else None."""

    def keep(self, adapter: Adapter, shop: Shop, token: str, lifetime: float) -> None:
        """Remember a token just fetched, valid ``lifetime`` seconds."""

    def invalidate(self, adapter: Adapter, shop: Shop, token: str = "") -> bool:
        """Forget ``shop``'s token (refused by the platform) if it is ``token`` (any when
        ""): one replaced meanwhile is kept.  True if one was forgotten."""


class RunTokens:
    """One run's tokens, per shop name."""

    def __init__(self) -> None:
        self._tokens: dict[str, tuple[str, float]] = {}

    def cached(self, adapter: Adapter, shop: Shop) -> str | None:
        """``shop``'s token while it is valid, else None."""
        kept = self._tokens.get(shop.name)
        return kept[0] if kept is not None and kept[1] > time.time() else None

    def keep(self, adapter: Adapter, shop: Shop, token: str, lifetime: float) -> None:
        """Remember a token just fetched."""
        self._tokens[shop.name] = (token, expiry(lifetime))

    def invalidate(self, adapter: Adapter, shop: Shop, token: str = "") -> bool:
        """Forget ``shop``'s token if it is ``token`` (any when ""); True if one was."""
        kept = self._tokens.get(shop.name)
        if kept is None or (token and kept[0] != token):
            return False
        del self._tokens[shop.name]
        return True

    def values(self) -> list[str]:
        """Every token kept."""
        return [token for token, _expires in self._tokens.values()]


class TokenCache:
    """Access tokens fetched with client credentials, per (platform, token URL, shop,
    credentials).  Shared by every caller in the process; thread-safe."""

    _tokens: dict[tuple[str, ...], tuple[str, float]] = {}  # noqa: RUF012 - shared
    _lock = threading.Lock()
    margin_s = MARGIN_S

    @staticmethod
    def _key(adapter: Adapter, shop: Shop) -> tuple[str, ...] | None:
        request = adapter.token_request(shop)
        if request is None:
            return None
        # The request body holds the credentials: changed credentials mean a new token.
        digest = hashlib.sha256(request.read()).hexdigest()
        return (adapter.key, str(request.url), shop.name, digest)

    def cached(self, adapter: Adapter, shop: Shop) -> str | None:
        """``shop``'s token while it is valid, else None."""
        key = self._key(adapter, shop)
        with self._lock:
            kept = self._tokens.get(key) if key is not None else None
        return kept[0] if kept is not None and kept[1] > time.time() else None

    def keep(self, adapter: Adapter, shop: Shop, token: str, lifetime: float) -> None:
        """Remember a token just fetched."""
        key = self._key(adapter, shop)
        if key is not None:
            with self._lock:
                self._tokens[key] = (token, expiry(lifetime))

    def get(
        self,
        adapter: Adapter,
        shop: Shop,
        client: httpx.Client | Callable[[httpx.Request], httpx.Response],
    ) -> str:
        """A valid token for ``shop`` ("" when it needs none), fetched synchronously through
        ``client`` (an ``httpx.Client`` or a function sending a request) when missing.

        For synchronous callers (the conformance tests); uploads fetch through
        :func:`imgkit.engine.exchange.fetch_token`.
        """
        request = adapter.token_request(shop)
        if request is None:
            return ""
        cached = self.cached(adapter, shop)
        if cached is not None:
            return cached
        send = client.send if isinstance(client, httpx.Client) else client
        try:
            token, lifetime = adapter.parse_token_response(send(request))
        except (RecursionError, ValueError, TypeError, OverflowError) as exc:  # hostile answer
            raise ImgkitError(f"unreadable token answer: {type(exc).__name__}") from exc
        register(token)  # a bearer token is a secret: the logs never show it
        self.keep(adapter, shop, token, lifetime)
        return token

    def values(self) -> list[str]:
        """Every cached token (to scrub them from what a server echoes back)."""
        with self._lock:
            return [token for token, _expires in self._tokens.values()]

    def invalidate(self, adapter: Adapter, shop: Shop, token: str = "") -> bool:
        """Forget ``shop``'s token (refused by the platform) if it is ``token`` (any when
        ""); True if one was forgotten."""
        key = self._key(adapter, shop)
        if key is None:
            return False
        with self._lock:
            kept = self._tokens.get(key)
            if kept is None or (token and kept[0] != token):
                return False
            del self._tokens[key]
            return True

    @classmethod
    def clear(cls) -> None:
        """Forget every token."""
        with cls._lock:
            cls._tokens.clear()
