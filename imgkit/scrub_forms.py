"""The forms a secret may take in text, compiled into the patterns that find them.

:class:`imgkit.scrub.Scrubber` replaces every occurrence of a secret; this module knows
what an occurrence looks like: each character raw, percent-encoded (any case, double
encoded too), JSON-escaped (surrogate pairs, several levels of backslashes) or
HTML-escaped; the secret's base64 runs at each of the three byte alignments, standard and
URL-safe; and, at the very end of a text, a secret cut off after :data:`MIN_LENGTH` or more
characters.  Everything is built into one regular expression per set of secrets
(:func:`compile_secrets`), so that scrubbing a text is a single search.

Example
-------
>>> compiled = compile_secrets(["pa ss/1"])
>>> compiled.whole.sub("*", "a=pa+ss%2F1 b=pa%20ss%2f1")
'a=* b=*'
>>> compiled.tail.sub("*", "cut at pa ss/")
'cut at *'
"""

from __future__ import annotations

import base64
import functools
import re

MIN_LENGTH = 6
_SAFE = str.maketrans("+/", "-_")  # standard base64 to URL-safe
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}


def _hex(byte: int) -> str:
    """A byte's two hex digits as a case-insensitive pattern: ``[eE]4``."""
    return "".join(f"[{d.lower()}{d.upper()}]" if d.isalpha() else d for d in f"{byte:02x}")


def _json_escape(code: int) -> str:
    """The ``\\u`` escape (four hex digits) of one UTF-16 unit, any number of backslashes,
    either case."""
    return r"\\+u" + _hex(code >> 8) + _hex(code & 0xFF)


def _char(c: str) -> str:
    """Every form one character of a secret may take in text, as a pattern."""
    forms = [re.escape(c)]
    # Percent-encoding of each UTF-8 byte; "%25" is an encoded "%" (double encoding).
    forms.append("".join("%(?:25)?" + _hex(b) for b in c.encode("utf-8")))
    code = ord(c)
    if c == " ":
        forms.append(r"\+")
    if code > 0xFFFF:  # JSON writes it as a surrogate pair
        high, low = divmod(code - 0x10000, 0x400)
        forms.append(_json_escape(0xD800 + high) + _json_escape(0xDC00 + low))
    else:
        forms.append(_json_escape(code))
    if c in '"\\/':
        forms.append(r"\\+" + re.escape(c))
    if c in _HTML or code > 0x7E:
        forms.append(re.escape(_HTML.get(c, f"&#{code};")))
        digits = "".join(f"[{d}{d.upper()}]" if d.isalpha() else d for d in f"{code:x}")
        forms.append(f"&#[xX]0*{digits};")
    return forms[0] if len(forms) == 1 else "(?:" + "|".join(forms) + ")"


def _literal(value: str) -> str:
    """A pattern matching ``value`` with each character in any of its forms."""
    return "".join(_char(c) for c in value)


def base64_cores(value: str) -> list[str]:
    """The base64 runs that ``value``'s UTF-8 bytes produce at each of the 3 alignments.

    At alignment ``k`` the secret follows ``k`` other bytes (mod 3); only the characters
    whose 6 bits all come from the secret are kept.  URL-safe forms are not listed: they
    differ only in ``-_`` for ``+/``.

    >>> base64_cores("secret")
    ['c2VjcmV0', 'NlY3Jld', 'zZWNyZX']
    >>> [base64.b64encode(b).decode() for b in (b"id:secret", b":secret", b"x:secret")]
    ['aWQ6c2VjcmV0', 'OnNlY3JldA==', 'eDpzZWNyZXQ=']
    """
    data = value.encode("utf-8")
    cores = []
    for k in range(3):
        encoded = base64.b64encode(b"\0" * k + data + b"\0\0").decode("ascii")
        first, end = -(-8 * k // 6), 8 * (k + len(data)) // 6
        cores.append(encoded[first:end])
    return cores


def _prefixes(value: str) -> str:
    """A pattern matching the first ``MIN_LENGTH`` or more characters of ``value``."""
    pattern = ""
    for c in reversed(value[MIN_LENGTH:]):
        pattern = f"(?:{_char(c)}{pattern})?"
    return _literal(value[:MIN_LENGTH]) + pattern


class Compiled:
    """A set of secrets' patterns: a quick first look, and, built only when it finds
    something, every whole secret and a cut-off one at the end of a text.

    Compiling the whole patterns of a dozen long secrets takes Python's ``re`` a few
    hundred milliseconds, and nearly every text holds no secret at all.  Every match of
    them starts with the first :data:`MIN_LENGTH` characters of a secret or of one of its
    base64 runs, in one of their forms: :attr:`quick` looks for just those, compiles
    about ten times faster, and a text it finds nothing in is clean.

    >>> compiled = Compiled(("tok-123456",))
    >>> bool(compiled.quick.search("all fine")), "whole" in vars(compiled)
    (False, False)
    >>> compiled.whole.sub("*", "Bearer tok%2D123456")
    'Bearer *'
    """

    def __init__(self, secrets: tuple[str, ...]) -> None:
        self.secrets = secrets
        cores = {core for value in secrets for core in base64_cores(value)}
        # Longest first: the regex takes the first branch that matches.
        self._runs = sorted(cores, key=len, reverse=True)
        # Every branch starts with one of these characters: checking them first lets the
        # search skip most positions of a long text in one step instead of trying each branch.
        starts = {c for value in [*secrets, *cores] for c in (value[0], value[0].translate(_SAFE))}
        self._first = "".join(sorted(re.escape(c) for c in starts | {"%", "\\", "&", "+"}))
        heads = {
            form[:MIN_LENGTH]
            for value in [*secrets, *cores]
            for form in (value, value.translate(_SAFE))
        }
        branches = "|".join(_literal(head) for head in sorted(heads, key=len, reverse=True))
        self.quick = re.compile(f"(?=[{self._first}])(?:{branches})")
        # The longest form of a character is its double-encoded UTF-8 (4 x "%25XX") or a
        # doubly escaped surrogate pair; 24 characters per character is more than either.
        self.window = 24 * max(len(value) for value in secrets)

    @functools.cached_property
    def whole(self) -> re.Pattern[str]:
        """Each secret's forms (longest secrets first), then its base64 runs."""
        branches = [_literal(value) for value in self.secrets]
        for core in self._runs:
            branches.append(_literal(core))
            url_safe = core.translate(_SAFE)
            if url_safe != core:
                branches.append(_literal(url_safe))
        return re.compile(f"(?=[{self._first}])(?:{'|'.join(branches)})")

    @functools.cached_property
    def _cut_offs(self) -> str:
        return "(?:" + "|".join(_prefixes(value) for value in self.secrets) + ")"

    @functools.cached_property
    def tail(self) -> re.Pattern[str]:
        """A secret cut off after :data:`MIN_LENGTH` or more characters at the end."""
        return re.compile(self._cut_offs + r"\Z")

    @functools.cached_property
    def tails(self) -> re.Pattern[str]:
        """A cut-off secret at the end of any of several texts joined by NUL: one search
        tells whether a batch of texts needs scrubbing at all."""
        # The same first-character check as the whole pattern's: most positions fail at once.
        return re.compile(f"(?=[{self._first}])" + self._cut_offs + r"(?=\x00|\Z)")


def compile_secrets(secrets: list[str]) -> Compiled:
    """The patterns of a set of secrets (:class:`Compiled`; longest secrets first).

    One per set of secrets in a process (a run's scrubber, validation's, the next run's).

    >>> compile_secrets(["pa ss/1"]).tail.sub("*", "cut at pa ss/")
    'cut at *'
    """
    return _compiled(tuple(secrets))


@functools.lru_cache(maxsize=16)
def _compiled(secrets: tuple[str, ...]) -> Compiled:
    return Compiled(secrets)


__all__ = ["MIN_LENGTH", "Compiled", "base64_cores", "compile_secrets"]
