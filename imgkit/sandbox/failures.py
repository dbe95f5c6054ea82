"""A platform's documented error answers, as data, and the exception that raises one.

Every platform module lists its errors in a catalogue of :class:`Failure` records: the raw
code, sub-code and messages the real platform sends, the HTTP status it comes with, and in
plain words how a client reaches it in the sandbox.  The catalogue is what the docs table
(``docs/sandbox-errors.md``) is generated from and what the tests check, error by error.

Example
-------
>>> f = Failure("demo", code=15, message="Remote service error", sub_code="isv.x",
...             sub_msg="bad {what}", trigger="send a bad thing")
>>> PlatformFailure(f, what="thing").sub_msg
'bad thing'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Failure:
    """One documented error answer of a platform.

    ``advice`` is the platform's suggested fix where it sends one (Qianmi's ``solution``).
    ``level`` is ``"gateway"`` for envelope-level errors and ``"result"`` for errors that a
    platform reports inside a successful envelope (the mini-app API does this).  Messages may
    hold ``{name}`` fields, filled in when the failure is raised.
    """

    key: str
    code: int | str
    message: str
    sub_code: str = ""
    sub_msg: str = ""
    http_status: int = 200
    trigger: str = ""
    level: str = "gateway"
    source: str = "doc"
    advice: str = ""

    @property
    def label(self) -> str:
        """The code as stats and docs show it: ``"15 isv.item-is-delete:…"`` or ``"100"``."""
        return f"{self.code} {self.sub_code}".strip()


class _Fields(dict[str, Any]):
    # A ``{field}`` with no value stays visible instead of raising KeyError.
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@dataclass
class PlatformFailure(Exception):
    """Raised inside a platform handler to answer with a catalogued error."""

    failure: Failure
    fields: dict[str, Any] = field(default_factory=dict)

    def __init__(self, failure: Failure, **fields: Any) -> None:
        super().__init__(failure.key)
        self.failure = failure
        self.fields = fields

    @property
    def message(self) -> str:
        """The main message with its fields filled in."""
        return self.failure.message.format_map(_Fields(self.fields))

    @property
    def sub_msg(self) -> str:
        """The sub-message with its fields filled in."""
        return self.failure.sub_msg.format_map(_Fields(self.fields))

    @property
    def sub_code(self) -> str:
        """The sub-code with its fields filled in (some carry a parameter name)."""
        return self.failure.sub_code.format_map(_Fields(self.fields))


def catalogue(*failures: Failure) -> dict[str, Failure]:
    """Index failures by key, refusing duplicate keys.

    >>> sorted(catalogue(Failure("a", 1, "x"), Failure("b", 2, "y")))
    ['a', 'b']
    """
    out: dict[str, Failure] = {}
    for failure in failures:
        if failure.key in out:
            raise ValueError(f"duplicate failure key {failure.key!r}")
        out[failure.key] = failure
    return out
