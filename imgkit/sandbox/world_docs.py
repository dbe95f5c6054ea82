"""Generate ``docs/sandbox-world.md``: every credential, session, item and SKU the sandbox knows.

The tables are rendered from :func:`imgkit.sandbox.world.default_world`, one per kind of
entity, with every value a client needs to send (secrets included: they are the
sandbox's, not anyone's real ones).  Where an entity makes the sandbox refuse a call (its
``problem``, a full item, a shop no client may use…) the *answers* column names the
catalogue key and the code it produces; code and sub-code are read from the emulators'
failure catalogues (:mod:`imgkit.sandbox.registry`), never retyped.  The one thing
written here is which catalogue key each world problem leads to (:data:`PROBLEM_ANSWERS`),
and a test reaches every answer over HTTP from the docs' tables alone.  Regenerate with
``python -m imgkit.docgen``.

Example
-------
>>> text = world_tables()
>>> "| `sbx-session-expired` | `21000001` |" in text
True
>>> answer("top_gateway", "invalid_session")
'`top_gateway.invalid_session`: `27` `invalid-sessionkey`'
"""

from __future__ import annotations

from collections.abc import Iterable

from imgkit.sandbox import registry
from imgkit.sandbox.doudian import FORMATS as DOUDIAN_FORMATS
from imgkit.sandbox.doudian_sources import MAX_BYTES as DOUDIAN_MAX_BYTES
from imgkit.sandbox.qianmi_sku import MAX_IMAGES as QIANMI_MAX_IMAGES
from imgkit.sandbox.tmall_item_images import MAX_IMAGES as TMALL_MAX_IMAGES
from imgkit.sandbox.world import World, default_world

# A catalogue key, with the circumstance it needs when that is narrower than "any call".
Answer = tuple[str, str, str]

# What each ``problem`` of the world answers: entity kind → problem → (catalogue, key, when).
PROBLEM_ANSWERS: dict[str, dict[str, Answer]] = {
    "top_session": {
        "expired": ("top_gateway", "invalid_session", ""),
        "user_permission": ("top_gateway", "user_permission", ""),
        "session_permission": ("top_gateway", "session_permission", ""),
        "user_missing": ("tmall_item", "user_not_exist", "a Tmall upload or look-up"),
        "no_multi_picture": (
            "tmall_item",
            "picture_space_permission",
            "a Tmall upload of an image that is not the main one",
        ),
    },
    "tmall_item": {
        "deleted": ("tmall_item", "item_deleted", "an upload"),
        "adult": ("tmall_item", "update_item_permission", "an upload"),
        "alcohol": ("tmall_item", "alcohol", "an upload"),
        "needs_deposit": ("tmall_item", "needs_deposit", "an upload"),
        "not_a_shop": ("tmall_item", "not_a_shop", "an upload"),
        "user_info_error": ("tmall_item", "user_info_error", "an upload"),
    },
    "vv_client": {
        "no_permission": ("taobao_picture", "no_permission", ""),
        "no_credit": ("taobao_picture", "no_credit", ""),
    },
    "fw199_app": {"no_api": ("doudian", "no_permission", "")},
    "doudian_seller": {
        "library_full": ("doudian", "library_full", "an upload"),
        "no_material": ("doudian", "no_material_permission", "an upload"),
    },
    "qianmi_app": {
        "no_permission": ("qianmi_sku", "isv_permission", ""),
        "forbidden": ("qianmi_sku", "forbidden", ""),
    },
    "qianmi_token": {
        "expired": ("qianmi_sku", "invalid_session", ""),
        "user_permission": ("qianmi_sku", "user_permission", ""),
    },
}
# The address the sandbox's clients call from; an IP whitelist without it refuses them.
LOOPBACK = "127.0.0.1"
_FOLDER_KINDS = {0: "folder", 1: "images", 2: "videos"}

_HEADER = """# The sandbox world: every credential, session, item and SKU

Generated from `imgkit/sandbox/world.py` (`default_world()`) by
`python -m imgkit.docgen`; do not edit by hand.

These are all the apps, credentials and targets the sandbox knows, with every value a
client sends (the secrets are the sandbox's own). A row with an *answers* entry is one
the sandbox refuses: the entry is `<catalogue>.<key>`, then the code and sub-code of that
answer as [sandbox-errors.md](sandbox-errors.md) lists them, then (in brackets) the call
it needs when that is narrower than any call. Every other row is accepted. To reach an
answer, combine a refused row with accepted ones: a session of the app (TOP), an item of
the session's seller, a token of the app (Qianmi), an app the seller authorized
(fw199). `sample_data/shops.toml` and `Sandbox.shops` hold the good credentials of each
platform; see [sandbox.md](sandbox.md) for the rest of the sandbox.
"""


def answer(catalogue: str, key: str, when: str = "") -> str:
    """``catalogue.key``, its code and sub-code from the catalogue, and ``when`` if any.

    Raises :class:`KeyError` if the key is not in that catalogue's documented failures.

    >>> answer("doudian", "library_full", "an upload")
    '`doudian.library_full`: `50002` `isv.business-failed:30001` (an upload)'
    """
    emulators = {**registry.emulators(), **registry.gateways()}
    failure = emulators[catalogue].documented_failures[key]
    sub_code = f" `{failure.sub_code}`" if failure.sub_code else ""
    return f"`{catalogue}.{key}`: `{failure.code}`{sub_code}" + (f" ({when})" if when else "")


def problem_answer(kind: str, problem: str) -> str:
    """The answers cell of an entity of ``kind`` with ``problem`` ("" when none).

    >>> problem_answer("qianmi_token", "expired")
    '`qianmi_sku.invalid_session`: `21`'
    """
    if not problem:
        return ""
    found = PROBLEM_ANSWERS.get(kind, {}).get(problem)
    if found is None:
        raise KeyError(f"{kind} problem {problem!r}: add its catalogue key to PROBLEM_ANSWERS")
    return answer(*found)


def _ids(values: Iterable[str]) -> str:
    found = sorted(values)
    return ", ".join(f"`{value}`" for value in found) if found else "none"


def _table(head: Iterable[str], rows: Iterable[Iterable[str]]) -> list[str]:
    head = list(head)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return [*lines, ""]


def _section(
    title: str, text: str, head: Iterable[str], rows: Iterable[Iterable[str]]
) -> list[str]:
    return [f"### {title}", "", text, "", *_table(head, rows)]


def _top_app_answer(world: World, app_key: str) -> str:
    # In the gateway's order of checks: IP whitelist, API package, daily quota.
    app = world.top_apps[app_key]
    if app.ip_whitelist is not None and LOOPBACK not in app.ip_whitelist:
        return answer("top_gateway", "forbidden", f"any call from {LOOPBACK}")
    if app.apis is not None:
        return answer("top_gateway", "isv_permission", "a call of an API not in its list")
    if app.daily_quota is not None and app.daily_quota <= 0:
        return answer("top_gateway", "app_quota")
    return ""


def _top(world: World) -> list[str]:
    served = [api.method for e in registry.emulators().values() for api in e.top_apis]
    lines = [
        "## TOP (`taobao_miniapp`, `tmall_item`)",
        "",
        f"The gateway (`/router/rest`) serves {_ids(served)}.",
        "",
    ]
    lines += _section(
        "TOP apps",
        "`app_key` and the secret it signs with; *APIs* are the methods it may call.",
        ["app_key", "secret", "APIs", "daily quota", "IP whitelist", "answers"],
        (
            [
                f"`{key}`",
                f"`{app.secret}`",
                "all" if app.apis is None else _ids(app.apis),
                "unlimited" if app.daily_quota is None else str(app.daily_quota),
                "any" if app.ip_whitelist is None else _ids(app.ip_whitelist),
                _top_app_answer(world, key),
            ]
            for key, app in world.top_apps.items()
        ),
    )
    lines += _section(
        "TOP sessions",
        "A seller's `session` for one app (it is refused with any other app's key).",
        ["session", "app_key", "seller", "problem", "answers"],
        (
            [
                f"`{key}`",
                f"`{s.app_key}`",
                f"`{s.seller}`",
                s.problem,
                problem_answer("top_session", s.problem),
            ]
            for key, s in world.top_sessions.items()
        ),
    )
    full = answer("tmall_item", "image_num", "an upload of an image that is not the main one")
    lines += _section(
        "Tmall items",
        "*images*: how many the item already has, main image included (at most "
        f"{TMALL_MAX_IMAGES}). An item is only reached with a session of its seller.",
        ["num_iid", "seller", "images", "problem", "answers"],
        (
            [
                f"`{key}`",
                f"`{item.seller}`",
                str(item.images),
                item.problem,
                problem_answer("tmall_item", item.problem)
                or (full if item.images >= TMALL_MAX_IMAGES else ""),
            ]
            for key, item in world.tmall_items.items()
        ),
    )
    lines += _section(
        "Mini-apps",
        "A `miniapp_id` and the app that owns it.",
        ["miniapp_id", "app_key"],
        ([f"`{key}`", f"`{app}`"] for key, app in world.miniapps.items()),
    )
    return lines


def _vv(world: World) -> list[str]:
    lines = ["## vv-tool (`taobao_picture`)", ""]
    lines += _section(
        "vv-tool clients",
        "A client's fixed bearer tokens, and its `client_id` / `client_secret` for the token "
        "endpoint (`POST /api/proxy/oauth/token`); *shops* are those it may upload to.",
        ["client_id", "client_secret", "tokens", "shops", "problem", "answers"],
        (
            [
                f"`{key}`",
                f"`{c.client_secret}`",
                _ids(c.tokens),
                _ids(c.shops),
                c.problem,
                problem_answer("vv_client", c.problem),
            ]
            for key, c in world.vv_clients.items()
        ),
    )
    unauthorized = answer("taobao_picture", "shop_unauthorized", "with any client's token")
    lines += _section(
        "vv-tool shops",
        "A `shop_id` vv-tool knows, its `picture_category_id`s and the clients it authorized.",
        ["shop_id", "categories", "clients", "answers"],
        (
            [
                f"`{key}`",
                _ids(shop.categories),
                _ids(clients := [c for c, v in world.vv_clients.items() if key in v.shops]),
                "" if clients else unauthorized,
            ]
            for key, shop in world.vv_shops.items()
        ),
    )
    return lines


def _douyin(world: World) -> list[str]:
    lines = ["## fw199 → Douyin (`doudian`)", ""]
    lines += _section(
        "fw199 apps",
        "An `appid`, the secret it signs with, and the sellers (`seller_nick`) that authorized it.",
        ["appid", "secret", "sellers", "problem", "answers"],
        (
            [
                f"`{key}`",
                f"`{app.secret}`",
                _ids(app.sellers),
                app.problem,
                problem_answer("fw199_app", app.problem),
            ]
            for key, app in world.fw199_apps.items()
        ),
    )
    unauthorized = answer("doudian", "shop_unauthorized", "with any app")

    def apps_of(nick: str) -> list[str]:
        return [key for key, app in world.fw199_apps.items() if nick in app.sellers]

    lines += _section(
        "Douyin sellers",
        "A Douyin shop, the apps it authorized, its folders (`folder_id`s, listed with their "
        "kind below) and the `file_uri`s it holds (below).",
        ["seller_nick", "apps", "folders", "file_uris", "problem", "answers"],
        (
            [
                f"`{nick}`",
                _ids(apps := apps_of(nick)),
                _ids(seller.folders),
                _ids(seller.file_uris),
                seller.problem,
                (problem_answer("doudian_seller", seller.problem) if apps else unauthorized),
            ]
            for nick, seller in world.doudian_sellers.items()
        ),
    )
    not_image = answer("doudian", "folder_not_image", "an upload into it")
    lines += _section(
        "Douyin folders",
        "Each seller's folders: a folder (0) or an image folder (1) takes images, a video "
        "folder (2) does not.",
        ["seller_nick", "folder_id", "kind", "answers"],
        (
            [
                f"`{nick}`",
                f"`{folder}`",
                f"{kind} ({_FOLDER_KINDS.get(kind, 'unknown')})",
                "" if kind in (0, 1) else not_image,
            ]
            for nick, seller in world.doudian_sellers.items()
            for folder, kind in seller.folders.items()
        ),
    )
    invalid = answer("doudian", "image_invalid", "an upload of it")
    too_large = answer("doudian", "too_large", "an upload of it")
    lines += _section(
        "Douyin files",
        "Files a seller sent earlier through Douyin's binary upload, uploaded by naming their "
        "`file_uri` (any other `file_uri` is unknown). *bytes*: the exact size, or blank "
        f"when small; the limit is {DOUDIAN_MAX_BYTES} bytes, PNG or JPEG.",
        ["seller_nick", "file_uri", "format", "pixels", "bytes", "answers"],
        (
            [
                f"`{nick}`",
                f"`{uri}`",
                f.format,
                f"{f.width} x {f.height}",
                str(f.size) if f.size else "",
                invalid
                if f.format not in DOUDIAN_FORMATS
                else (too_large if f.size > DOUDIAN_MAX_BYTES else ""),
            ]
            for nick, seller in world.doudian_sellers.items()
            for uri, f in seller.file_uris.items()
        ),
    )
    return lines


def _qianmi(world: World) -> list[str]:
    lines = ["## Qianmi (`qianmi_sku`)", ""]
    lines += _section(
        "Qianmi apps",
        "An `appKey` and the secret it signs with.",
        ["appKey", "secret", "problem", "answers"],
        (
            [f"`{key}`", f"`{app.secret}`", app.problem, problem_answer("qianmi_app", app.problem)]
            for key, app in world.qianmi_apps.items()
        ),
    )
    lines += _section(
        "Qianmi tokens",
        "An `access_token`, the app it was issued to (refused with any other) and its user.",
        ["access_token", "appKey", "user", "problem", "answers"],
        (
            [
                f"`{key}`",
                f"`{t.app_key}`",
                f"`{t.user}`",
                t.problem,
                problem_answer("qianmi_token", t.problem),
            ]
            for key, t in world.qianmi_tokens.items()
        ),
    )
    full = answer("qianmi_sku", "position_or_full", "adding an image")
    specs_off = answer("qianmi_sku", "specs_disabled", "an upload")
    lines += _section(
        "Qianmi SKUs",
        f"A SKU (`num_iid` / `sku_id`), its user, the images it already has (at most "
        f"{QIANMI_MAX_IMAGES}) and whether its item has specs enabled.",
        ["num_iid", "sku_id", "user", "images", "specs", "answers"],
        (
            [
                f"`{num_iid}`",
                f"`{sku_id}`",
                f"`{sku.user}`",
                str(sku.images),
                "on" if sku.specs_enabled else "off",
                (specs_off if not sku.specs_enabled else "")
                or (full if sku.images >= QIANMI_MAX_IMAGES else ""),
            ]
            for (num_iid, sku_id), sku in world.qianmi_skus.items()
        ),
    )
    return lines


def world_tables(world: World | None = None) -> str:
    """The whole markdown document for ``world`` (default: :func:`default_world`)."""
    world = default_world() if world is None else world
    lines = [_HEADER]
    for part in (_top, _vv, _douyin, _qianmi):
        lines += part(world)
    return "\n".join(lines).rstrip("\n") + "\n"
