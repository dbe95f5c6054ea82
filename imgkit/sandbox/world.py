"""The sandbox's seed world: apps, credentials, shops, items, SKUs and folders it knows.

Everything a client can be accepted or refused for lives here as plain data, so a reader
can see at a glance which credential or target id triggers which documented answer.  The
shipped ``sample_data/shops.toml`` holds credentials from this world (a test keeps the two
in step).  Pass your own :class:`World` to :class:`imgkit.sandbox.SandboxState` to change it.

Example
-------
>>> world = default_world()
>>> world.top_apps["21000001"].secret
'sbx-top-secret-a'
"""

from __future__ import annotations

from dataclasses import dataclass, field

# --- TOP (taobao_miniapp, tmall_item) -------------------------------------------------


@dataclass(frozen=True)
class TopApp:
    """A TOP application.  ``apis`` lists the methods it may call (None: all)."""

    secret: str
    apis: frozenset[str] | None = None
    daily_quota: int | None = None
    ip_whitelist: frozenset[str] | None = None


@dataclass(frozen=True)
class TopSession:
    """A seller's access token (``session``) for one app.

    ``problem`` makes the gateway or the API answer with a documented error:
    ``expired`` (27), ``user_permission`` (12), ``session_permission`` (13),
    ``user_missing`` (isv.user-not-exist), ``no_multi_picture`` (picture-space).
    """

    app_key: str
    seller: str
    problem: str = ""


@dataclass(frozen=True)
class TmallItem:
    """A Tmall item.  ``images`` is how many images it already has (main image included).

    ``problem`` names the documented refusal the item triggers: ``deleted``, ``adult``,
    ``alcohol``, ``needs_deposit``, ``not_a_shop``, ``user_info_error``, ``no_spec``.
    """

    seller: str
    images: int = 1
    problem: str = ""


# --- vv-tool (taobao_picture) ------------------------------------------------------------


@dataclass(frozen=True)
class VvClient:
    """A vv-tool client: fixed tokens and client credentials, the shops it may upload to.

    ``problem``: ``no_permission`` or ``no_credit`` (both code 204).
    """

    client_secret: str
    tokens: frozenset[str]
    shops: frozenset[str]
    problem: str = ""


@dataclass(frozen=True)
class VvShop:
    """A Taobao shop known to vv-tool and its picture categories (0 is the default)."""

    categories: frozenset[str] = frozenset({"0"})


# --- fw199 (doudian) ---------------------------------------------------------------------


@dataclass(frozen=True)
class Fw199App:
    """An fw199 partner app and the Douyin sellers that authorized it."""

    secret: str
    sellers: frozenset[str]
    problem: str = ""


@dataclass(frozen=True)
class BinaryFile:
    """A file a Douyin shop sent earlier through the binary upload (not emulated).

    Named by its ``file_uri``; ``format`` is ``jpeg``, ``png`` or ``gif``, ``size`` the exact
    byte length of a JPEG (0: as small as it encodes).
    """

    format: str
    width: int = 16
    height: int = 16
    size: int = 0


@dataclass(frozen=True)
class DoudianSeller:
    """A Douyin shop.  ``problem``: ``library_full`` (30001 quota), ``no_material`` (30004).

    ``folders`` maps folder id → folder type (0 folder, 1 images, 2 videos); ``file_uris``
    the files the shop already holds for the upload's ``file_uri``.
    """

    folders: dict[str, int] = field(default_factory=lambda: {"0": 0})
    problem: str = ""
    file_uris: dict[str, BinaryFile] = field(default_factory=dict)


# --- Qianmi (qianmi_sku) -----------------------------------------------------------------


@dataclass(frozen=True)
class QianmiApp:
    """A QMOP app.  ``problem``: ``no_permission`` (2), ``forbidden`` (7)."""

    secret: str
    problem: str = ""


@dataclass(frozen=True)
class QianmiToken:
    """An access token: app, user; ``problem``: ``expired`` (21), ``user_permission`` (3)."""

    app_key: str
    user: str
    problem: str = ""


@dataclass(frozen=True)
class QianmiSku:
    """A SKU of an item: its owner, images already there, whether specs are enabled."""

    user: str
    images: int = 0
    specs_enabled: bool = True


@dataclass(frozen=True)
class World:
    """All seed data of the sandbox."""

    top_apps: dict[str, TopApp]
    top_sessions: dict[str, TopSession]
    tmall_items: dict[str, TmallItem]
    miniapps: dict[str, str]
    vv_clients: dict[str, VvClient]
    vv_shops: dict[str, VvShop]
    fw199_apps: dict[str, Fw199App]
    doudian_sellers: dict[str, DoudianSeller]
    qianmi_apps: dict[str, QianmiApp]
    qianmi_tokens: dict[str, QianmiToken]
    qianmi_skus: dict[tuple[str, str], QianmiSku]


TMALL_METHOD = "taobao.item.img.upload.tmall"
MINIAPP_METHOD = "taobao.miniapp.trade.picture.upload"
# The look-ups of docs/lookups.md: what an unanswered upload may have stored.
TMALL_LOOKUP_METHOD = "taobao.item.seller.get"
MINIAPP_LOOKUP_METHOD = "taobao.miniapp.trade.picture.get"
# The storage prefix of the seed page's `file_uri` example (tos-cn-i-7veqoeduo3/9e1df78…).
TOS = "tos-cn-i-7veqoeduo3"


def default_world() -> World:
    """The world the demo, the sample data and the tests use."""
    return World(
        top_apps={
            "21000001": TopApp("sbx-top-secret-a"),
            "21000002": TopApp("sbx-top-secret-b"),
            # Mini-app package only: its look-up too, but no Tmall call (upload or look-up).
            "21000003": TopApp(
                "sbx-top-secret-noapi", apis=frozenset({MINIAPP_METHOD, MINIAPP_LOOKUP_METHOD})
            ),
            "21000004": TopApp("sbx-top-secret-ip", ip_whitelist=frozenset({"203.0.113.7"})),
            "21000009": TopApp("sbx-top-secret-quota", daily_quota=0),
        },
        top_sessions={
            "sbx-session-tmall-1": TopSession("21000001", "sandbox_tmall_store"),
            "sbx-session-tmall-2": TopSession("21000002", "sandbox_tmall_outlet"),
            "sbx-session-miniapp-1": TopSession("21000001", "sandbox_miniapp_seller"),
            "sbx-session-noapi": TopSession("21000003", "sandbox_tmall_store"),
            "sbx-session-ip": TopSession("21000004", "sandbox_tmall_store"),
            "sbx-session-quota": TopSession("21000009", "sandbox_tmall_store"),
            "sbx-session-expired": TopSession("21000001", "sandbox_tmall_store", "expired"),
            "sbx-session-userperm": TopSession(
                "21000001", "sandbox_tmall_store", "user_permission"
            ),
            "sbx-session-readonly": TopSession(
                "21000001", "sandbox_tmall_store", "session_permission"
            ),
            "sbx-session-ghost": TopSession("21000001", "sandbox_ghost_user", "user_missing"),
            "sbx-session-single-pic": TopSession(
                "21000001", "sandbox_small_seller", "no_multi_picture"
            ),
        },
        tmall_items={
            "1489161932": TmallItem("sandbox_tmall_store", images=1),
            "1489161940": TmallItem("sandbox_tmall_store", images=0),
            "1489161941": TmallItem("sandbox_tmall_store", images=1),
            "1489161942": TmallItem("sandbox_tmall_store", images=1),
            "1489161933": TmallItem("sandbox_tmall_store", images=5),
            "1489161934": TmallItem("sandbox_tmall_store", problem="deleted"),
            "1489161935": TmallItem("sandbox_tmall_store", problem="adult"),
            "1489161936": TmallItem("sandbox_tmall_store", problem="alcohol"),
            "1489161937": TmallItem("sandbox_tmall_store", problem="needs_deposit"),
            "1489161938": TmallItem("sandbox_tmall_store", problem="not_a_shop"),
            "1489161939": TmallItem("sandbox_tmall_store", problem="user_info_error"),
            "1489162001": TmallItem("sandbox_tmall_outlet", images=1),
            "1489162100": TmallItem("sandbox_small_seller", images=1),
            "1489162200": TmallItem("sandbox_ghost_user", images=1),
        },
        miniapps={"3000000012345": "21000001", "3000000012346": "21000001"},
        vv_clients={
            "sbx-vv-client": VvClient(
                "sbx-vv-client-secret",
                tokens=frozenset({"sbx-vv-token-1"}),
                shops=frozenset({"sbx_tb_shop_1", "sbx_tb_shop_2"}),
            ),
            "sbx-vv-noperm": VvClient(
                "sbx-vv-noperm-secret",
                tokens=frozenset({"sbx-vv-token-noperm"}),
                shops=frozenset({"sbx_tb_shop_1"}),
                problem="no_permission",
            ),
            "sbx-vv-nocredit": VvClient(
                "sbx-vv-nocredit-secret",
                tokens=frozenset({"sbx-vv-token-nocredit"}),
                shops=frozenset({"sbx_tb_shop_1"}),
                problem="no_credit",
            ),
        },
        vv_shops={
            "sbx_tb_shop_1": VvShop(frozenset({"0", "1657717355974335419"})),
            "sbx_tb_shop_2": VvShop(frozenset({"0"})),
            "sbx_tb_shop_other": VvShop(frozenset({"0"})),
        },
        fw199_apps={
            "sbx-fw199-app": Fw199App(
                "sbx-fw199-secret",
                sellers=frozenset({"38173182", "38173183", "38173199", "38173198"}),
            ),
            "sbx-fw199-noapi": Fw199App(
                "sbx-fw199-noapi-secret", sellers=frozenset({"38173182"}), problem="no_api"
            ),
        },
        doudian_sellers={
            "38173182": DoudianSeller(
                {"0": 0, "73691281073984637961425": 1, "73691281073984637961999": 2},
                file_uris={
                    f"{TOS}/sbx-photo-jpeg": BinaryFile("jpeg", 64, 48),
                    f"{TOS}/sbx-photo-png": BinaryFile("png", 32, 24),
                    f"{TOS}/sbx-photo-gif": BinaryFile("gif"),
                    f"{TOS}/sbx-photo-10mb": BinaryFile("jpeg", size=10 * 1024 * 1024),
                    f"{TOS}/sbx-photo-over-10mb": BinaryFile("jpeg", size=10 * 1024 * 1024 + 1),
                },
            ),
            "38173183": DoudianSeller({"0": 0}),
            "38173199": DoudianSeller({"0": 0}, problem="library_full"),
            "38173198": DoudianSeller({"0": 0}, problem="no_material"),
            "38173100": DoudianSeller({"0": 0}),
        },
        qianmi_apps={
            "10009001": QianmiApp("sbx-qianmi-secret"),
            "10009002": QianmiApp("sbx-qianmi-noperm-secret", problem="no_permission"),
            "10009003": QianmiApp("sbx-qianmi-forbidden-secret", problem="forbidden"),
        },
        qianmi_tokens={
            "sbx-qm-token-1": QianmiToken("10009001", "sandbox_qm_user"),
            "sbx-qm-token-expired": QianmiToken("10009001", "sandbox_qm_user", "expired"),
            "sbx-qm-token-userperm": QianmiToken("10009001", "sandbox_qm_user", "user_permission"),
            "sbx-qm-token-noperm": QianmiToken("10009002", "sandbox_qm_user"),
            "sbx-qm-token-forbidden": QianmiToken("10009003", "sandbox_qm_user"),
        },
        qianmi_skus={
            ("18353", "g1234"): QianmiSku("sandbox_qm_user"),
            ("18353", "g1235"): QianmiSku("sandbox_qm_user"),
            ("18353", "g1236"): QianmiSku("sandbox_qm_user", images=5),
            ("18354", "g2001"): QianmiSku("sandbox_qm_user", specs_enabled=False),
            ("18355", "g3001"): QianmiSku("sandbox_qm_user"),
            ("18355", "g3002"): QianmiSku("sandbox_qm_user"),
        },
    )
