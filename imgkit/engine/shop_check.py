"""Checking a shops file's credentials without storing anything (``imgkit shops check``).

Every platform imgkit knows has a look-up (``docs/lookups.md``: the listing that settles an
unanswered upload).  A look-up is signed and authenticated exactly as an upload is, and it
stores nothing, so asking one for something that is not there tells the two cases apart:

* the platform answers (a listing, or "no such item / SKU / mini-app"): it accepted the
  credentials, the shop is ``ok``;
* it refuses with its authentication code (a bad signature, an unknown token): ``auth``;
* anything else (unreachable, rate limited, no permission...) is reported as it came.

A shop whose platform (or API) has no look-up is reported ``unchecked``: the only call left
would be an upload, which stores an image.  Every request goes through the engine's
exchange (:func:`imgkit.engine.exchange.call`), with its token fetches and retries.

Example
-------
>>> import imgkit
>>> with imgkit.Sandbox() as sb:
...     checked = check_shops(sb.shops)
>>> checked["category"].tolist().count("ok") == len(checked)
True
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pandas as pd

from imgkit.engine.exchange import Link, Token, call
from imgkit.engine.retry import RetryPolicy
from imgkit.engine.tokens import RunTokens
from imgkit.errors import Category
from imgkit.intake.shops import Shop, load_shops
from imgkit.net.transport import Sender
from imgkit.platforms import get_adapter
from imgkit.platforms.base import Job, Lookup, Outcome
from imgkit.words import DEFAULT_LANG, Lang, Words, check_lang

COLUMNS = ("shop", "platform", "ok", "category", "code", "message")
# A target no shop has: the look-up then lists nothing, or answers "not found", after it
# has judged the credentials.  Per platform, in the shape its targets take.
PROBE_TARGETS = {
    "taobao_picture": "0",
    "taobao_miniapp": "1",
    "tmall_item": "1",
    "doudian": "0",
    "qianmi_sku": "1/1",
}
PROBE_FILE = "imgkit-credential-check.jpg"
# A look-up is safe to ask again: a dropped connection or a rate limit should not make a
# good shop look bad.  Few tries, short waits: the user is waiting at a terminal.
POLICY = RetryPolicy(max_attempts=3, base_delay=0.2, max_delay=1.0, max_total=10.0)

OK = Words("凭证有效(平台已接受)", "credentials OK (the platform accepted them)")
AUTH = Words("凭证被平台拒绝", "the platform refused the credentials")
UNCHECKED = Words(
    "无法在不存储图片的情况下检查", "cannot be checked without storing (no look-up call)"
)
OTHER = Words("检查未能完成", "the check could not finish")


def _verdict(shop: Shop, answer: Lookup | Outcome | None, lang: Lang) -> dict[str, Any]:
    row: dict[str, Any] = {"shop": shop.name, "platform": shop.platform}
    if answer is None:
        return {**row, "ok": None, "category": "unchecked", "code": "",
                "message": UNCHECKED.render(lang)}  # fmt: skip
    if isinstance(answer, Lookup) or answer.ok or answer.category is Category.NOT_FOUND:
        # "Not found" comes after the signature and the token were judged.
        return {**row, "ok": True, "category": "ok", "code": "", "message": OK.render(lang)}
    category = answer.category.value if answer.category else Category.UNKNOWN.value
    head = AUTH if answer.category is Category.AUTH else OTHER
    detail = f"{answer.code} {answer.message}".strip()
    message = f"{head.render(lang)}: {detail}" if detail else head.render(lang)
    return {**row, "ok": False, "category": category, "code": answer.code, "message": message}


async def _check(link: Link, shop: Shop, lang: Lang) -> dict[str, Any]:
    adapter = get_adapter(shop.platform)
    job = Job(PROBE_TARGETS.get(shop.platform, "0"), PROBE_FILE)
    if adapter.build_lookup_request(job, shop, now=time.time(), token="") is None:
        return _verdict(shop, None, lang)

    async def build(fetch: Token) -> httpx.Request | Outcome:
        request = adapter.build_lookup_request(job, shop, now=time.time(), token=await fetch())
        assert request is not None  # checked above: the same job and shop
        return request

    answer = await call(link, adapter, shop, build, adapter.parse_lookup_response, policy=POLICY)
    return _verdict(shop, answer, lang)


async def check_shops_async(
    shops: Any = None,
    *,
    timeout: float = 20.0,
    transport: httpx.AsyncBaseTransport | None = None,
    lang: Lang = DEFAULT_LANG,
) -> pd.DataFrame:
    """:func:`check_shops` in a running event loop.

    >>> import asyncio
    >>> asyncio.run(check_shops_async({})).columns.tolist()
    ['shop', 'platform', 'ok', 'category', 'code', 'message']
    """
    lang = check_lang(lang)
    loaded = load_shops(shops)
    async with Sender(8, timeout=timeout, transport=transport) as sender:
        link = Link(sender, None, RunTokens())
        rows = await asyncio.gather(*(_check(link, shop, lang) for shop in loaded.values()))
    frame = pd.DataFrame(list(rows), columns=list(COLUMNS))
    frame["ok"] = frame["ok"].astype("boolean")
    return frame


def check_shops(
    shops: Any = None,
    *,
    timeout: float = 20.0,
    transport: httpx.AsyncBaseTransport | None = None,
    lang: Lang = DEFAULT_LANG,
) -> pd.DataFrame:
    """Ask each shop's platform to judge its credentials, with a call that stores nothing.

    Parameters
    ----------
    shops
        A shops file, a mapping of tables or :class:`imgkit.Shops` (None: the default file).
    timeout
        Seconds per request phase.
    transport
        Another transport (a mock); default: the engine's.
    lang
        Language of ``message``: ``"zh"``, ``"en"`` or ``"both"``.

    Returns
    -------
    pandas.DataFrame
        One row per shop, sorted by name: ``shop``, ``platform``, ``ok`` (True: accepted,
        False: refused or not reached, ``<NA>``: cannot be checked), ``category`` (``ok``,
        ``auth``, ``unchecked`` or the failure's category), ``code`` (the platform's) and
        ``message``.

    Raises
    ------
    imgkit.errors.ShopConfigError
        When the shops file is missing or wrong.

    Examples
    --------
    >>> import imgkit
    >>> with imgkit.Sandbox() as sb:
    ...     wrong = {**sb.shops["qianmi_shop"], "app_secret": "not-it"}
    ...     checked = check_shops({"qm": wrong}, lang="en")
    >>> bool(checked.loc[0, "ok"]), checked.loc[0, "category"], checked.loc[0, "code"]
    (False, 'auth', '25')
    """
    frame = asyncio.run(check_shops_async(shops, timeout=timeout, transport=transport, lang=lang))
    return frame.sort_values("shop", ignore_index=True)
