"""Signature algorithms of the platforms, written from ``docs/protocols.md`` (signing).

These are the sandbox's verifiers.  They are deliberately independent of the client
signers in ``imgkit.platforms``: the two are checked against the same published test
vectors, so that one shared bug cannot make a wrong client pass.

Example
-------
>>> top_sign({"foo": "1", "bar": "2", "foo_bar": "3", "foobar": "4"}, "helloworld", "md5")
'5AAF1C690262A24768F5478B084C2C8A'
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping

TOP_SIGN_METHODS = ("md5", "hmac", "hmac-sha256")
QIANMI_UNSIGNED_KEYS = frozenset({"file", "image", "logo"})


def _concat(params: Iterable[tuple[str, str]]) -> bytes:
    # Byte order of the UTF-8 names, as Java's String.compareTo does for ASCII names.
    ordered = sorted(params, key=lambda kv: kv[0].encode("utf-8"))
    return "".join(f"{k}{v}" for k, v in ordered).encode("utf-8")


def top_sign(params: Mapping[str, str], secret: str, method: str = "md5") -> str:
    """Sign TOP parameters: skip ``sign`` and empty values; uppercase hex.

    >>> top_sign({"foo": "1", "bar": "2", "foo_bar": "3", "foobar": "4"}, "helloworld", "hmac")
    'E687005F819D6F9E6ED085311C8ACC75'
    """
    body = _concat((k, v) for k, v in params.items() if k != "sign" and v != "")
    key = secret.encode("utf-8")
    if method == "md5":
        digest = hashlib.md5(key + body + key).hexdigest()
    elif method == "hmac":
        digest = hmac.new(key, body, hashlib.md5).hexdigest()
    elif method == "hmac-sha256":
        digest = hmac.new(key, body, hashlib.sha256).hexdigest()
    else:
        raise ValueError(f"unknown TOP sign_method {method!r}")
    return digest.upper()


def fw199_sign(params: Mapping[str, str], secret: str) -> str:
    """Sign fw199 parameters: skip ``sign`` only (empty values count); lowercase MD5.

    >>> fw199_sign({"appid": "a", "timestamp": "1", "url": ""}, "s") == fw199_sign(
    ...     {"timestamp": "1", "url": "", "appid": "a"}, "s")
    True
    """
    body = _concat((k, v) for k, v in params.items() if k != "sign")
    key = secret.encode("utf-8")
    return hashlib.md5(key + body + key).hexdigest()


def qianmi_sign(params: Mapping[str, str], secret: str) -> str:
    """Sign Qianmi parameters: skip ``sign``, empty values and file keys; uppercase SHA-1.

    >>> len(qianmi_sign({"appKey": "1"}, "s"))
    40
    """
    body = _concat(
        (k, v)
        for k, v in params.items()
        if k != "sign" and v != "" and k not in QIANMI_UNSIGNED_KEYS
    )
    key = secret.encode("utf-8")
    return hashlib.sha1(key + body + key).hexdigest().upper()


def same_sign(expected: str, given: str) -> bool:
    """Compare signatures in constant time, exactly: TOP and Qianmi sign in uppercase hex,
    and a lowercase or padded ``sign`` is refused as the platforms refuse it (a signer that
    forgets ``.upper()`` after ``hexdigest()`` must fail here, not in production).

    >>> same_sign("ABC123", "ABC123"), same_sign("ABC123", "abc123"), same_sign("ABC123", " ABC123")
    (True, False, False)
    """
    return hmac.compare_digest(expected.encode(), given.encode())
