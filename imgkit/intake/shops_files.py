"""Shops files and who may read them: writing one owner-only (:func:`write_shops`), the
one-time warning when others can read one, and what counts as a credential.

A shops file that group or others have rights to and that holds a credential gets a
:class:`ShopsFileExposedWarning` once per file per process (not on Windows, whose rights
are not mode bits).  A credential is a secret field (declared by the platform's adapter,
or named like one) written in the file itself: an ``env:NAME`` value, or one of the
sandbox's published credentials, protects nothing.

Example
-------
>>> holds_credential({"platform": "千米", "app_key": "1", "access_token": "env:QM_TOKEN"})
False
>>> holds_credential({"platform": "千米", "app_key": "1", "access_token": "t-7"})
True
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shlex
import stat
import threading
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from imgkit.errors import UnknownPlatformError
from imgkit.platforms import get_adapter, resolve_platform

# The fields every shop may have besides its platform's credentials.
COMMON_FIELDS = ("platform", "base_url", "rate_per_s", "account")
# Masked whatever the platform declares: a misdeclared adapter must not leak.
SECRET_HINTS = ("secret", "token", "session", "password")


class ShopsFileExposedWarning(UserWarning):
    """A shops file other users of this machine may read: it holds credentials."""


_LOG = logging.getLogger("imgkit.intake.shops")
_WARNED: set[tuple[str, int, int]] = set()  # files warned about: (real path, device, inode)
_WARNED_LOCK = threading.Lock()


def warn_if_exposed(
    path: str | os.PathLike[str],
    tables: Mapping[str, Any],
    fd: int | None = None,
    *,
    stacklevel: int = 3,
) -> bool:
    """Warn once per file per process when group or others have rights to a shops file.

    Parameters
    ----------
    path
        The shops file, as the user named it (the message repeats it in the command).
    tables
        What the file holds.  A file whose every credential is an ``env:NAME`` or one of
        the sandbox's published credentials (the sample shops file's) holds nothing to
        protect, and gets no warning.
    fd
        An open descriptor of it, if there is one (its mode is read without a second look
        up of the path).
    stacklevel
        Passed to :func:`warnings.warn`, to point at the user's call.

    Returns
    -------
    bool
        True when this call warned: a :class:`ShopsFileExposedWarning`, also logged on the
        logger ``imgkit.intake.shops``.  Never on Windows, whose permissions are not mode bits.

    Examples
    --------
    >>> import tempfile
    >>> shop = {"s": {"platform": "千米", "app_key": "1", "app_secret": "x",
    ...               "access_token": "t"}}
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "shops.toml")
    ...     with open(path, "w") as fh:
    ...         _ = fh.write("")
    ...     os.chmod(path, 0o600)
    ...     warn_if_exposed(path, shop)
    False
    """
    if os.name == "nt":
        return False
    try:
        info = os.fstat(fd) if fd is not None else os.stat(path)
    except OSError:
        return False  # reading it will say what is wrong
    if not stat.S_ISREG(info.st_mode) or not info.st_mode & 0o077:
        return False
    if not any(holds_credential(table) for table in tables.values()):
        return False
    key = (os.path.realpath(path), info.st_dev, info.st_ino)
    with _WARNED_LOCK:
        if key in _WARNED:
            return False
        _WARNED.add(key)
    name = os.fspath(path)
    command = f"chmod 600 {shlex.quote(name)}"
    message = (
        f"shops file {name} is readable by other users of this machine; it holds "
        f"credentials: run `{command}` / 店铺配置文件可被本机其他用户读取,其中含有凭证:"
        f"请运行 {command}"
    )
    warnings.warn(ShopsFileExposedWarning(message), stacklevel=stacklevel)
    _LOG.warning("%s", message)
    return True


def holds_credential(table: object) -> bool:
    """Whether a shop's table has a secret written in it that is not the sandbox's."""
    if not isinstance(table, Mapping):
        return False
    published = _sandbox_secrets()
    try:
        declared = get_adapter(resolve_platform(str(table.get("platform", "")))).credentials
        secret = declared.secret
    except UnknownPlatformError:
        secret = frozenset()
    return any(
        (key in secret or any(hint in key for hint in SECRET_HINTS))
        and not (isinstance(value, str) and value.startswith("env:"))
        and bool(value)
        and value not in published
        for key, value in table.items()
        if isinstance(key, str) and key not in COMMON_FIELDS
    )


@functools.cache
def _sandbox_secrets() -> frozenset[str]:
    """The sandbox's credentials (``sample_data/shops.toml``): published, so they protect
    nothing and a file holding only them needs no warning."""
    from imgkit.sandbox.shops import sandbox_shops  # the sandbox only when a file is exposed

    tables = sandbox_shops("http://127.0.0.1").values()
    return frozenset(value for table in tables for key, value in table.items() if key != "platform")


__all__ = [
    "COMMON_FIELDS",
    "SECRET_HINTS",
    "ShopsFileExposedWarning",
    "holds_credential",
    "warn_if_exposed",
]


def shops_toml(tables: Mapping[str, Mapping[str, Any]]) -> str:
    """Shop tables as the text of a shops file (TOML: a table per shop).

    Values are written as JSON strings and numbers, which are TOML's too.

    >>> print(shops_toml({"s": {"platform": "tmall_item", "rate_per_s": 5}}))
    [s]
    platform = "tmall_item"
    rate_per_s = 5
    <BLANKLINE>
    """
    lines = []
    for name, fields in tables.items():
        lines.append(f"[{name}]")
        lines.extend(
            f"{key} = {json.dumps(value, ensure_ascii=False)}" for key, value in fields.items()
        )
        lines.append("")
    return "\n".join(lines)


def write_shops(path: str | os.PathLike[str], tables: Mapping[str, Mapping[str, Any]]) -> Path:
    """Write a shops file readable by its owner only (it holds credentials).

    >>> import tempfile
    >>> from imgkit.intake.shops import load_shops
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     table = {"platform": "天猫", "app_key": "1", "app_secret": "x", "session": "y"}
    ...     path = write_shops(Path(folder) / "shops.toml", {"s": table})
    ...     oct(path.stat().st_mode & 0o777), load_shops(path, environ={})["s"].platform
    ('0o600', 'tmall_item')
    """
    written = Path(path)
    written.touch(mode=0o600)
    written.chmod(0o600)  # an existing file keeps its mode on touch
    written.write_text(shops_toml(tables), encoding="utf-8")
    return written
