"""The shared journal directory: one journal file per platform account, named by its identity.

A cluster run keeps every account's rows in one partition (:mod:`imgkit.dask.partition`),
so each account's journal is written by one task at a time; the file is found again by
any worker, in any later run, however the batch was partitioned, because its name comes
from the account, never from a partition number.  The name is the journal's own idea of
the account (:func:`imgkit.engine.destination.endpoint_of` and
:func:`~imgkit.engine.destination.account_of`: platform, endpoint, the adapter's
identity fields, a secret one by a keyed fingerprint or the shop's ``account``), hashed:
``<platform>-<32 hex digits>.sqlite``.  The fingerprint key is made once per directory and
kept in it (``accounts.key``), as a journal keeps its own, so a file name can never be
checked against a guessed session or token without that directory.

Example
-------
>>> import tempfile
>>> from imgkit.intake.shops import make_shop
>>> shop = make_shop("s", {"platform": "qianmi", "app_key": "10009001",
...                        "app_secret": "x", "access_token": "sbx-qm-token-1"})
>>> with tempfile.TemporaryDirectory() as tmp:
...     folder = JournalDir(tmp)
...     name = folder.account_name(shop)
...     again = JournalDir(tmp).account_name(shop)
>>> name == again, name.startswith("qianmi_sku-"), len(name)
(True, True, 50)
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from pathlib import Path

from imgkit.engine.destination import account_of, endpoint_of
from imgkit.engine.journal import Journal
from imgkit.intake.shops import Shop
from imgkit.paths import data_dir

KEY_FILE = "accounts.key"
SUFFIX = ".sqlite"
_NAME_HEX = 32  # 128 bits: no two accounts of one agency share a file


def default_journal_dir() -> Path:
    """The shared journal directory when none is given: ``journals`` in
    :func:`imgkit.paths.data_dir` (``$IMGKIT_HOME/journals`` on a cluster's shared disk).

    >>> default_journal_dir().name
    'journals'
    """
    return data_dir() / "journals"


class JournalDir:
    """A directory of per-account journal files that every worker can reach.

    Parameters
    ----------
    path
        The directory (created when missing).  SQLite's WAL needs every process that
        opens a file to be on one host, or on a filesystem with working POSIX locks and
        shared memory: a local disk, not NFS or SMB (``docs/dask.md``).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     folder = JournalDir(tmp)
    ...     len(folder.key), folder.key == JournalDir(tmp).key
    (32, True)
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.key = self._key()

    def _key(self) -> bytes:
        """The directory's fingerprint key, made by the first process to need it.

        Written to a file of its own, then linked into place: ``os.link`` fails when the
        name exists, so two workers starting at once agree on the first one's key, and
        nobody ever reads a half-written one.
        """
        final = self.path / KEY_FILE
        if not final.exists():
            draft = self.path / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
            descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w", encoding="ascii") as out:
                out.write(secrets.token_hex(32))
                out.flush()
                os.fsync(out.fileno())
            try:
                os.link(draft, final)
            except FileExistsError:
                pass  # another worker was first: its key is the directory's
            finally:
                draft.unlink()
        return bytes.fromhex(final.read_text(encoding="ascii").strip())

    def account_name(self, shop: Shop) -> str:
        """The journal file name of ``shop``'s platform account (see the module's example)."""
        identity = [shop.platform, endpoint_of(shop), account_of(shop, self.key)]
        material = json.dumps(identity, ensure_ascii=False, separators=(",", ":"))
        digest = hashlib.sha256(material.encode("utf-8")).hexdigest()[:_NAME_HEX]
        return f"{shop.platform}-{digest}{SUFFIX}"

    def journal(self, shop: Shop) -> Journal:
        """The journal of ``shop``'s account, opened (the caller closes it).

        >>> import tempfile
        >>> from imgkit.intake.shops import make_shop
        >>> shop = make_shop("s", {"platform": "doudian", "appid": "a", "app_secret": "x",
        ...                        "seller_nick": "38173182"})
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     with JournalDir(tmp).journal(shop) as journal:
        ...         journal.path.parent == Path(tmp), journal.path.suffix
        (True, '.sqlite')
        """
        return Journal(self.path / self.account_name(shop))
