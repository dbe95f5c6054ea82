"""Shops: the credentials imgkit uploads with, from a TOML file, a dict or the environment.

A shops file has one table per shop name::

    [tmall_store]
    platform = "tmall_item"              # a key or alias
    base_url = "http://127.0.0.1:8765"   # optional; the platform's real endpoint otherwise
    app_key = "21000001"
    app_secret = "env:TMALL_SECRET"      # any value may come from the environment
    session = "env:TMALL_SESSION"
    rate_per_s = 5                       # optional: this shop's own request rate
    account = "my-seller-nick"           # optional: the account's stable name (journal)

The fields each platform needs are declared by its adapter (``credentials``).  Secret
fields are kept as :class:`imgkit.secret.Secret`, so a shop prints without them.  Where no
source is given, ``$IMGKIT_SHOPS`` or ``<user config dir>/imgkit/shops.toml`` is read.  A
shops file that other users of the machine may read and that holds a credential gets a
:class:`ShopsFileExposedWarning` (once per file per process; not on Windows).  A
:class:`Shop` can be copied and pickled (Dask ships shops to its workers).

Example
-------
>>> shops = load_shops({"s": {"platform": "千米", "app_key": "1", "app_secret": "x",
...                           "access_token": "t"}})
>>> shops["s"].fields["app_secret"], shops["s"].fields["app_key"]
(Secret('***'), '1')
>>> shops["s"].get("app_secret")
'x'
>>> import pickle
>>> pickle.loads(pickle.dumps(shops["s"])) == shops["s"]
True
"""

from __future__ import annotations

import os
import sys
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from imgkit.errors import ShopConfigError, UnknownPlatformError
from imgkit.intake.shops_files import COMMON_FIELDS as _COMMON
from imgkit.intake.shops_files import SECRET_HINTS as _SECRET_HINTS

# The exposure warning lives in imgkit.intake.shops_files; importable from here too.
from imgkit.intake.shops_files import ShopsFileExposedWarning as ShopsFileExposedWarning
from imgkit.intake.shops_files import warn_if_exposed as warn_if_exposed
from imgkit.platforms import get_adapter, resolve_platform
from imgkit.secret import Secret

ENV_VAR = "IMGKIT_SHOPS"


@dataclass(frozen=True)
class Shop:
    """One shop's credentials for one platform; secret fields are masked.

    Usually made by :func:`load_shops`, which checks the fields against the platform's
    :class:`~imgkit.platforms.CredentialSpec` and wraps the secret ones.

    Parameters
    ----------
    name
        The shop's name (its table in the shops file; the batch's ``shop`` column).
    platform
        The platform's key (``tmall_item``, ``doudian``, ...).
    base_url
        ``scheme://host[:port]`` of the gateway (empty: the platform's real one).
    fields
        The credentials and other fields; secret ones as :class:`imgkit.secret.Secret`.
    rate_per_s
        This shop's own request rate (None: the platform's).
    account
        The account's stable name on the platform, when known (the journal keys on it).

    Examples
    --------
    >>> shop = Shop("qm", "qianmi_sku", fields={"app_key": "1", "app_secret": Secret("x")})
    >>> shop.fields["app_secret"], shop.get("app_secret"), shop.has("access_token")
    (Secret('***'), 'x', False)
    """

    name: str
    platform: str
    base_url: str = ""
    fields: Mapping[str, str | Secret] = field(default_factory=dict)
    rate_per_s: float | None = None
    # The account's stable name on the platform (a seller nick or id), when the shops file
    # gives one: the journal keys on it instead of a fingerprint of the session or token,
    # so a renewed session is still the same account.
    account: str = ""

    def get(self, name: str) -> str:
        """A field's value (secrets revealed, for signing); empty when absent."""
        value = self.fields.get(name, "")
        return value.reveal() if isinstance(value, Secret) else value

    def has(self, name: str) -> bool:
        """Whether the field is set and not empty."""
        return bool(self.get(name))

    def __reduce__(self) -> tuple[Callable[..., Shop], tuple[object, ...]]:
        # Dask ships shops to its workers by pickling them, and a worker signs with the
        # secrets: they travel revealed and are Secrets again on the other side.  A Secret
        # alone refuses pickling so that it is never written out by accident; a Shop is
        # pickled on purpose.
        plain = {k: v.reveal() if isinstance(v, Secret) else v for k, v in self.fields.items()}
        hidden = tuple(k for k, v in self.fields.items() if isinstance(v, Secret))
        state = (self.name, self.platform, self.base_url, plain, hidden)
        return _rebuild_shop, (*state, self.rate_per_s, self.account)

    def __copy__(self) -> Shop:
        return replace(self, fields=dict(self.fields))

    def __deepcopy__(self, memo: dict[int, object]) -> Shop:
        # Secrets and strings are immutable: the copy shares them and reveals nothing.
        return replace(self, fields=dict(self.fields))


def _rebuild_shop(
    name: str,
    platform: str,
    base_url: str,
    plain: Mapping[str, str],
    hidden: tuple[str, ...],
    rate_per_s: float | None,
    account: str,
) -> Shop:
    fields: dict[str, str | Secret] = {k: Secret(v) if k in hidden else v for k, v in plain.items()}
    return Shop(name, platform, base_url, fields, rate_per_s, account)


class Shops(Mapping[str, Shop]):
    """Shops by name, with look-up by shop name or platform.

    Parameters
    ----------
    shops
        The shops by name (:func:`load_shops` makes them from a file or a mapping).
    origin
        Where they were read from (named in the error about an unknown shop).

    Examples
    --------
    >>> shops = load_shops("sample_data/shops.toml", environ={})
    >>> len(shops), shops.resolve("天猫").name, shops.resolve("qianmi_shop").platform
    (7, 'tmall_store', 'qianmi_sku')
    >>> [shop.name for shop in shops.for_platform("taobao_picture")]
    ['tb_picture_main', 'tb_picture_oauth']
    >>> shops["nope"]
    Traceback (most recent call last):
    ...
    imgkit.errors.ShopConfigError: no shop named 'nope' in sample_data/shops.toml ...
    """

    def __init__(self, shops: Mapping[str, Shop], origin: str = "") -> None:
        self._shops = dict(shops)
        self.origin = origin

    def __getitem__(self, name: str) -> Shop:
        try:
            return self._shops[name]
        except KeyError:
            where = f" in {self.origin}" if self.origin else ""
            known = ", ".join(self._shops) or "none"
            raise ShopConfigError(
                f"no shop named {name!r}{where} / 找不到店铺 {name!r}; shops: {known}",
                code="unknown_shop",
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._shops)

    def __len__(self) -> int:
        return len(self._shops)

    def __repr__(self) -> str:
        return f"Shops({list(self._shops)})"

    def for_platform(self, platform: str) -> list[Shop]:
        """The shops of a platform (key or alias), in file order."""
        key = resolve_platform(platform)
        return [shop for shop in self._shops.values() if shop.platform == key]

    def resolve(self, shop_or_platform: str) -> Shop:
        """A shop by name, or else the first shop of the named platform."""
        if shop_or_platform in self._shops:
            return self._shops[shop_or_platform]
        try:
            candidates = self.for_platform(shop_or_platform)
        except UnknownPlatformError:
            candidates = []
        if not candidates:
            return self[shop_or_platform]
        return candidates[0]


def user_config_dir() -> Path:
    """Where per-user configuration lives on this system."""
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming"))
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support"
    return Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config"))


def default_shops_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$IMGKIT_SHOPS``, or ``<user config dir>/imgkit/shops.toml``."""
    env = os.environ if environ is None else environ
    return Path(env[ENV_VAR]) if env.get(ENV_VAR) else user_config_dir() / "imgkit" / "shops.toml"


def _resolve_value(shop: str, name: str, raw: Any, env: Mapping[str, str]) -> str:
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise ShopConfigError(
            f"shop {shop!r}: field {name!r} must be text / "
            f"店铺 {shop!r} 的字段 {name!r} 必须是文本",
            code="bad_field",
        )
    value = str(raw)
    if value.startswith("env:"):
        var = value[4:].strip()
        if not var or var not in env:
            raise ShopConfigError(
                f"shop {shop!r}: field {name!r} reads environment variable {var!r}, which is not "
                f"set / 店铺 {shop!r} 的字段 {name!r} 所需的环境变量 {var!r} 未设置",
                code="missing_env",
            )
        value = env[var]
    return value.strip()


def _check_base_url(shop: str, url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        raise ShopConfigError(
            f"shop {shop!r}: base_url must be scheme://host[:port], got {url!r} / "
            f"店铺 {shop!r} 的 base_url 格式应为 scheme://host[:port]",
            code="bad_field",
        )
    return url.rstrip("/")


def make_shop(
    name: str, table: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> Shop:
    """Build and check one shop from its table (``env:NAME`` values resolved)."""
    env = os.environ if environ is None else environ
    if not isinstance(table, Mapping):
        raise ShopConfigError(f"shop {name!r} must be a table of fields", code="bad_shop")
    if "platform" not in table:
        raise ShopConfigError(
            f"shop {name!r}: missing field 'platform' / 店铺 {name!r} 缺少字段 'platform'",
            code="missing_field",
        )
    try:
        platform = resolve_platform(str(table["platform"]))
    except UnknownPlatformError as exc:
        raise ShopConfigError(f"shop {name!r}: {exc}", code="unknown_platform") from exc
    spec = get_adapter(platform).credentials
    alternative_fields = (f for group in spec.alternatives for option in group for f in option)
    known = {*_COMMON, *spec.required, *spec.optional, *alternative_fields}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ShopConfigError(
            f"shop {name!r}: unknown field {unknown[0]!r} for {platform} (fields: "
            f"{', '.join(sorted(known - set(_COMMON)))}) / 店铺 {name!r} 有未知字段 {unknown[0]!r}",
            code="unknown_field",
        )
    values: dict[str, str | Secret] = {}
    for key, raw in table.items():
        if key in _COMMON:
            continue
        value = _resolve_value(name, key, raw, env)
        secret = key in spec.secret or any(hint in key for hint in _SECRET_HINTS)
        values[key] = Secret(value) if secret else value
    for key in spec.required:
        if not values.get(key):
            raise ShopConfigError(
                f"shop {name!r}: missing field {key!r} for {platform} / "
                f"店铺 {name!r} 缺少字段 {key!r}",
                code="missing_field",
            )
    for group in spec.alternatives:
        if not any(all(values.get(f) for f in option) for option in group):
            raise ShopConfigError(
                f"shop {name!r}: {platform} needs {_describe(group)} / "
                f"店铺 {name!r} 需要 {_describe(group)}",
                code="missing_field",
            )
    for key, allowed in spec.choices.items():
        found = values.get(key)
        text = found.reveal() if isinstance(found, Secret) else (found or "")
        if text and text.lower() not in allowed:
            raise ShopConfigError(
                f"shop {name!r}: field {key!r} must be one of {', '.join(allowed)}, got "
                f"{text!r} / 店铺 {name!r} 的字段 {key!r} 只能是 {'、'.join(allowed)}",
                code="bad_field",
            )
    rate = table.get("rate_per_s")
    if rate is not None and (
        isinstance(rate, bool) or not isinstance(rate, int | float) or rate <= 0
    ):
        raise ShopConfigError(
            f"shop {name!r}: rate_per_s must be a positive number / "
            f"店铺 {name!r} 的 rate_per_s 必须是正数",
            code="bad_field",
        )
    base_url = (
        _resolve_value(name, "base_url", table["base_url"], env) if "base_url" in table else ""
    )
    return Shop(
        name=name,
        platform=platform,
        base_url=_check_base_url(name, base_url) if base_url else "",
        fields=values,
        rate_per_s=float(rate) if rate is not None else None,
        account=_resolve_value(name, "account", table["account"], env)
        if "account" in table
        else "",
    )


def _describe(group: tuple[tuple[str, ...], ...]) -> str:
    return " or ".join(" + ".join(option) for option in group)


def load_shops(
    source: str | os.PathLike[str] | Mapping[str, Any] | Shops | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> Shops:
    """Load shops from a TOML path, a mapping of tables, or the default file.

    Parameters
    ----------
    source
        A shops file (TOML), a mapping of shop name to its table of fields, or
        :class:`Shops` (returned as they are).  None reads ``$IMGKIT_SHOPS`` or
        ``<user config dir>/imgkit/shops.toml``.
    environ
        Where ``env:NAME`` values and ``$IMGKIT_SHOPS`` are read (default: ``os.environ``).

    Returns
    -------
    Shops
        The shops by name, each checked against its platform's credential fields.

    Raises
    ------
    imgkit.errors.ShopConfigError
        Naming the shop and field at fault (a missing field, an unset variable, ...).

    Examples
    --------
    >>> shops = load_shops("sample_data/shops.toml", environ={})
    >>> shops["tmall_store"].platform, shops["tmall_store"].fields["session"]
    ('tmall_item', Secret('***'))
    >>> tables = {"dy": {"platform": "抖店", "appid": "a", "app_secret": "env:DY_SECRET",
    ...                  "seller_nick": "38173182"}}
    >>> load_shops(tables, environ={"DY_SECRET": "s3"})["dy"].get("app_secret")
    's3'
    >>> load_shops(tables, environ={})
    Traceback (most recent call last):
    ...
    imgkit.errors.ShopConfigError: shop 'dy': field 'app_secret' reads environment variable ...
    """
    if isinstance(source, Shops):
        return source
    env = os.environ if environ is None else environ
    origin = ""
    if source is None or isinstance(source, str | os.PathLike):
        path = Path(source) if source is not None else default_shops_path(env)
        origin = str(path)
        try:
            with path.open("rb") as fh:
                tables: Mapping[str, Any] = tomllib.load(fh)
                warn_if_exposed(path, tables, fh.fileno())
        except FileNotFoundError as exc:
            raise ShopConfigError(
                f"no shops file at {path} (set {ENV_VAR} or pass shops=) / "
                f"找不到店铺配置文件 {path}",
                code="no_shops_file",
            ) from exc
        except tomllib.TOMLDecodeError as exc:
            raise ShopConfigError(
                f"{path} is not valid TOML: {exc} / 店铺配置文件格式错误", code="bad_shops_file"
            ) from exc
    else:
        tables = source
    shops = {name: make_shop(name, table, env) for name, table in tables.items()}
    return Shops(shops, origin)
