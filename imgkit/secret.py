"""A string that never prints: credentials live in :class:`Secret`.

``repr``, ``str`` and f-strings show a mask; only :meth:`Secret.reveal` gives the value, so
a secret can sit in a dataclass, a log line or an exception message without leaking.

Example
-------
>>> s = Secret("hunter2")
>>> s, str(s), f"{s}"
(Secret('***'), '***', '***')
>>> s.reveal()
'hunter2'
"""

from __future__ import annotations

import hmac

MASK = "***"


class Secret:
    """A masked credential value: shows ``***`` everywhere but :meth:`reveal`.

    Parameters
    ----------
    value : str
        The credential (an app secret, an access token).

    Examples
    --------
    >>> token = Secret("t0ps3cret")
    >>> token, f"Bearer {token}", bool(token)
    (Secret('***'), 'Bearer ***', True)
    >>> token == Secret("t0ps3cret"), token.reveal()
    (True, 't0ps3cret')
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The actual value, for signing and headers only."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret is not pickled, so that it is never written out by accident")
