"""Scrubbing: shop secrets never reach results, workbooks, the journal or the logs.

A platform's answer is not always the platform speaking: a proxy that echoes the request
it received puts the shop's session, access token, client secret or bearer token into the
answer body, and imgkit copies unrecognised bodies into outcome messages.  A
:class:`Scrubber` holds the secret strings of a run and replaces every occurrence of each
one by :data:`MARK`, in whatever form it travelled:

* raw;
* URL-encoded, any quoting style (``quote``, ``quote_plus``, any set of safe characters,
  upper or lower case hex, even double-encoded ``%25XX``), character by character, so a
  partly encoded copy is found too;
* JSON-escaped (``\\u00e9``-style escapes in either case, surrogate pairs, ``\\/``,
  ``\\"``; escaped once or several times, as JSON inside JSON is) and HTML-escaped
  (``&amp;``, ``&#x27;``);
* base64, standard and URL-safe, padded or not, alone or inside a longer base64 string
  (HTTP Basic's ``base64(id:secret)``): for each of the three byte alignments the run of
  base64 characters that depends on the secret's bytes alone is matched.  The one or two
  characters at either edge that mix secret bits with their neighbours' are left; they
  hold at most 4 bits of the secret each.

A text that *ends* with the first :data:`MIN_LENGTH` or more characters of a secret (in any
of the forms above but base64) has that tail redacted too: an answer cut at 200 characters
for the results may cut a secret in two, and its first half is still a leak.

Values shorter than :data:`MIN_LENGTH` (6) characters are ignored, and so are empty ones:
blanking every "1" or "test" would destroy ordinary text, and such a value is no secret
worth the name.  All patterns of a scrubber are compiled into one regular expression, once
(again only after :meth:`Scrubber.add`; :mod:`imgkit.scrub_forms` builds it); a scrubber
without secrets does no work at all.

Logs: :mod:`imgkit.scrub_logs` scrubs every record of imgkit's and httpx's loggers with
the process-wide scrubber it holds.

Example
-------
>>> s = Scrubber(["SeCrEt-session-7f3a9c"])
>>> s.text("GET /router/rest?session=SeCrEt-session-7f3a9c&v=2.0")
'GET /router/rest?session=[redacted]&v=2.0'
>>> s.text('{"msg": "U2VDckV0LXNlc3Npb24tN2YzYTlj"}')  # its base64
'{"msg": "[redacted]"}'
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from imgkit.errors import UnknownPlatformError
from imgkit.platforms import get_adapter
from imgkit.scrub_forms import MIN_LENGTH, Compiled, base64_cores, compile_secrets
from imgkit.secret import Secret

if TYPE_CHECKING:
    from imgkit.intake.shops import Shop
    from imgkit.platforms.base import Outcome

MARK = "[redacted]"
# Looked up here at each (re)build, so a test can count or break the builds.
_compile = compile_secrets
# A message from an answer is cut to this many characters, always after scrubbing (a cut
# first could split a secret where it is no longer recognisable): enough for any
# platform's words, short enough for a workbook cell, the journal and a person.
MESSAGE_MAX = 600


class Scrubber:
    """The secrets of a run, and the one compiled pattern that replaces them.

    Secrets shorter than :data:`MIN_LENGTH` characters are ignored.  ``repr`` never shows
    a secret.

    >>> s = Scrubber(["hunter2-xyz", "abc"])
    >>> s, len(s), s.text("pw hunter2-xyz, short abc")
    (Scrubber(1 secret), 1, 'pw [redacted], short abc')
    """

    def __init__(self, secrets: Iterable[str | Secret] = ()) -> None:
        self._secrets: set[str] = set()
        self._compiled: Compiled | None = None
        self._lock = threading.Lock()
        for value in secrets:
            self.add(value)

    def add(self, value: str | Secret | None) -> bool:
        """Add a secret learned at run time (a fetched token); True when it is new.

        Empty values and values under :data:`MIN_LENGTH` characters are ignored.

        >>> s = Scrubber()
        >>> s.add("tok-123456"), s.add("tok-123456"), s.add("12345"), s.add(None)
        (True, False, False, False)
        """
        text = value.reveal() if isinstance(value, Secret) else value
        if not text or len(text) < MIN_LENGTH:
            return False
        with self._lock:
            if text in self._secrets:
                return False
            self._secrets.add(text)
            self._compiled = None  # rebuilt on next use
        return True

    def merge(self, other: Scrubber) -> None:
        """Add every secret of ``other``.

        >>> s = Scrubber(["tok-123456"])
        >>> s.merge(Scrubber(["key-654321", "tok-123456"])); len(s)
        2
        """
        for secret in sorted(other._secrets):
            self.add(secret)

    def __len__(self) -> int:
        return len(self._secrets)

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def __repr__(self) -> str:
        n = len(self._secrets)
        return f"Scrubber({n} secret{'' if n == 1 else 's'})"

    def __contains__(self, value: object) -> bool:
        return isinstance(value, str) and value in self._secrets

    @property
    def pattern(self) -> re.Pattern[str] | None:
        """The compiled pattern of every secret in every form (None without secrets).

        Built once, and again only after :meth:`add` brought a new secret.

        >>> s = Scrubber(["secret-1"])
        >>> s.pattern is s.pattern
        True
        """
        compiled = self._patterns()
        return None if compiled is None else compiled.whole

    def _patterns(self) -> Compiled | None:
        compiled = self._compiled
        if compiled is None and self._secrets:
            with self._lock:
                if self._compiled is None:
                    longest_first = sorted(self._secrets, key=lambda v: (-len(v), v))
                    self._compiled = _compile(longest_first)
                compiled = self._compiled
        return compiled

    def text(self, s: str) -> str:
        """``s`` with every secret, in any form, replaced by :data:`MARK`.

        >>> s = Scrubber(["pa ss/wörd+1"])
        >>> s.text("a=pa+ss%2Fw%C3%B6rd%2B1 b=pa%20ss/w%c3%b6rd%2b1 c=pa ss\\\\/w\\\\u00f6rd+1")
        'a=[redacted] b=[redacted] c=[redacted]'
        """
        compiled = self._patterns() if s else None
        if compiled is None or not compiled.quick.search(s):
            return s
        out = compiled.whole.sub(MARK, s)
        # A cut-off secret can only be at the very end: look at the last few hundred
        # characters only, so that long texts cost no more than short ones here.
        head, tail = out[: -compiled.window], out[-compiled.window :]
        return head + compiled.tail.sub(MARK, tail, count=1)

    def hits(self, texts: Iterable[str]) -> bool:
        """Whether any of ``texts`` holds a secret in any form, or the start of one at its
        end: one search over them all, so that texts with nothing to hide (nearly all)
        cost one regex call together instead of two each.

        >>> s = Scrubber(["tok-123456"])
        >>> s.hits(["ok", "all fine"]), s.hits(["ok", "Bearer tok-123456"]), s.hits(["tok-12"])
        (False, True, True)
        """
        compiled = self._patterns()
        if compiled is None:
            return False
        joined = "\x00".join(texts)
        if not compiled.quick.search(joined):  # nearly always: the whole patterns stay unbuilt
            return False
        return bool(compiled.whole.search(joined) or compiled.tails.search(joined))

    def value(self, obj: Any) -> Any:
        """``obj`` with every string scrubbed, through dicts (keys too), lists and tuples.

        Other values come back as they are (a :class:`imgkit.secret.Secret` never prints).

        >>> Scrubber(["tok-123456"]).value({"echo": ["Bearer tok-123456", 7], "ok": True})
        {'echo': ['Bearer [redacted]', 7], 'ok': True}
        """
        if not self._secrets:
            return obj
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, Mapping):
            return {self.value(k): self.value(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self.value(v) for v in obj]
        if isinstance(obj, tuple):
            return tuple(self.value(v) for v in obj)
        return obj

    def _clean(self, texts: list[str], raw: Any) -> bool:
        """True when ``texts`` and every string in ``raw`` surely hold no secret; False
        when that takes a closer look.

        The answer's JSON is written out again by the C encoder, cheaper than walking it in
        Python.  Written without a single escape, it holds each of its strings as it is, so
        the quick look finding nothing there means no string holds anything.
        """
        compiled = self._patterns()
        if compiled is None:
            return True
        try:
            flat = _WRITE_JSON(raw)
        except (TypeError, ValueError, RecursionError):  # not JSON: walked instead
            return False
        if "\\" in flat:  # a quote, backslash or control character was escaped
            return False
        return not compiled.quick.search("\x00".join([*texts, flat]))

    def outcome(self, o: Outcome) -> Outcome:
        """``o`` with its texts and ``raw`` scrubbed, its message then cut to
        :data:`MESSAGE_MAX`; ``o`` itself when nothing changed.

        ``url``, ``image_id`` and ``pending_id`` are kept unless they hold a secret.

        >>> from imgkit.platforms.base import Outcome
        >>> echo = Outcome(ok=False, code="HTTP 502", message="session=secret-77",
        ...                raw={"q": "secret-77"})
        >>> clean = Scrubber(["secret-77"]).outcome(echo)
        >>> clean.message, clean.raw, clean.code
        ('session=[redacted]', {'q': '[redacted]'}, 'HTTP 502')
        """
        if not self._secrets:
            message = clip(o.message)
            return o if message == o.message else dataclasses.replace(o, message=message)
        names = ("url", "image_id", "code", "sub_code", "message", "zh", "en", "pending_id")
        texts = [getattr(o, name) for name in names]
        if self._clean(texts, o.raw) or not self.hits([*texts, *_strings(o.raw)]):
            message = clip(o.message)
            return o if message == o.message else dataclasses.replace(o, message=message)
        changes: dict[str, Any] = {}
        for name in names:
            before = getattr(o, name)
            after = self.text(before)
            if name == "message":
                after = clip(after)
            if after != before:
                changes[name] = after
        raw = self.value(dict(o.raw))
        if raw != dict(o.raw):
            changes["raw"] = raw
        return dataclasses.replace(o, **changes) if changes else o


# One encoder for every answer: json.dumps with options builds a new one per call.
_WRITE_JSON = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode


def _strings(obj: Any) -> list[str]:
    """Every string in ``obj``, dict keys included, through dicts, lists and tuples.

    A loop over a stack rather than nested generators: it runs on every answer, and an
    answer's JSON holds dozens of values.

    >>> _strings({"a": [1, "b", ("c",)], "d": {"e": None}})
    ['a', 'b', 'c', 'd', 'e']
    """
    out: list[str] = []
    stack = [obj]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str:
            out.append(item)
        elif kind is dict or (kind is not list and isinstance(item, Mapping)):
            for key, value in reversed(list(item.items())):
                stack += (value, key)
        elif kind is list or kind is tuple or isinstance(item, list | tuple):
            stack += reversed(item)
        elif isinstance(item, str):  # a str subclass
            out.append(item)
    return out


def clip(text: str, limit: int = MESSAGE_MAX) -> str:
    """``text`` cut to ``limit`` characters, marked with an ellipsis when cut.

    >>> clip("x" * 700)[-3:], len(clip("x" * 700))
    ('xx…', 600)
    """
    return text if len(text) <= limit else text[: limit - 1] + "…"


def scrubber_for(shop: Shop) -> Scrubber:
    """A scrubber of ``shop``'s secret fields: those its adapter declares secret, and any
    field the shop keeps masked (:class:`imgkit.secret.Secret`).

    >>> from imgkit.intake.shops import make_shop
    >>> shop = make_shop("tm", {"platform": "tmall_item", "app_key": "21000001",
    ...                         "app_secret": "app-secret-1", "session": "session-1"})
    >>> s = scrubber_for(shop)
    >>> s, s.text("app_key=21000001&session=session-1")
    (Scrubber(2 secrets), 'app_key=21000001&session=[redacted]')
    """
    try:
        declared: frozenset[str] = get_adapter(shop.platform).credentials.secret
    except UnknownPlatformError:
        declared = frozenset()
    masked = {name for name, value in shop.fields.items() if isinstance(value, Secret)}
    return Scrubber(shop.get(name) for name in sorted(declared | masked))


def scrubber_for_shops(shops: Iterable[Shop]) -> Scrubber:
    """One scrubber of every secret of ``shops`` (a run's, which may hold many shops).

    >>> from imgkit.intake.shops import make_shop
    >>> tm = make_shop("tm", {"platform": "tmall_item", "app_key": "21000001",
    ...                       "app_secret": "app-secret-1", "session": "session-1"})
    >>> scrubber_for_shops([tm]).text("session-1 app-secret-1")
    '[redacted] [redacted]'
    """
    merged = Scrubber()
    for shop in shops:
        merged.merge(scrubber_for(shop))
    return merged


__all__ = ["MARK", "MESSAGE_MAX", "MIN_LENGTH", "Scrubber", "base64_cores", "clip"]
__all__ += ["scrubber_for", "scrubber_for_shops"]
