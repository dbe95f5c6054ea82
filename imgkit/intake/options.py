"""The optional batch columns, as data: one registry derived from the adapters' declarations.

Each adapter lists the options it understands (:class:`imgkit.platforms.base.OptionSpec`:
name, meaning, kind ``text | int | bool | choice`` and the choices).  This module gathers
them into one :class:`Option` per name — which platforms read it and as what — and owns the
one set of yes/no words and the one :func:`normalize` that gives an option's canonical text:

- ``bool``: ``"true"`` or ``"false"`` for any of :data:`TRUE_WORDS` / :data:`FALSE_WORDS`
  (case ignored: ``是``, ``YES``, ``1``, ``否``...);
- ``int``: the whole number, ``"2"`` for ``2``, ``2.0``, ``"2.0"``, ``"+002"``;
- ``choice``: the choice as declared (``client:phone``), or, for a choice declared
  ``prefix:word``, its ``word`` in any case (``Phone`` is ``client:phone``) — what
  validation has always accepted;
- ``text``: the text, stripped.

A value that is none of these stays as written (stripped): validation reports it, and
nothing is guessed.  :func:`imgkit.validate` normalizes once; everything after it (the
engine, the destination key, fit) reads the canonical values.

Example
-------
>>> normalize("is_major", " 是 "), normalize("position", 2.0), normalize("client_type", "PHONE")
('true', '2', 'client:phone')
>>> normalize("is_major", "maybe"), normalize("note", " mine ")
('maybe', 'mine')
>>> sorted(option_registry()["replace_id"].platforms)
['qianmi_sku', 'taobao_miniapp', 'tmall_item']
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from imgkit.intake.cells import cell_text
from imgkit.intake.texts import arrow_of, codes_of, strip, text_array
from imgkit.platforms.wire import FALSE_WORDS, TRUE_WORDS

if TYPE_CHECKING:
    from imgkit.platforms.base import OptionSpec

KINDS = ("text", "int", "bool", "choice")
# The words a person writes for yes and no are written once, beside the adapters' wire
# helper ``imgkit.platforms.wire.bool_text`` (the layer below), and read from there.
# Every value a yes/no option may hold: a yes, a no or nothing.
BOOL_WORDS = TRUE_WORDS | FALSE_WORDS | {""}
# Options that do not change where or as what an image is stored, so not the destination
# key: how Douyin de-duplicates (need_distinct), the URL's scheme (is_https).  Every other
# option is in the key: an option added later is keyed until someone says otherwise, which
# at worst sends a changed row again, never skips one.
NOT_IN_KEY = frozenset({"need_distinct", "is_https"})
# Which kind wins when adapters declare one name differently: the more specific reading
# (Tmall's replace_id is a number, Qianmi's an opaque id) is the name's kind where the
# platform is not known; a row of a known platform is read as its adapter declares.
_SPECIFIC = ("choice", "bool", "int", "text")
# A whole number: "3", "+3", "3.0" (Excel hands numbers over as floats).  \d as the
# destination key has always read it; validation refuses digits that are not ASCII.
_WHOLE = re.compile(r"\+?(\d+)(?:\.0*)?")


@dataclass(frozen=True)
class Option:
    """One optional column: every adapter's declaration of it, by platform key.

    >>> option = option_registry()["client_type"]
    >>> option.kind, option.choices, option.default, option.in_key
    ('choice', ('client:computer', 'client:phone'), 'client:computer', True)
    >>> option.spellings()["phone"]
    'client:phone'
    """

    name: str
    specs: Mapping[str, OptionSpec]

    @property
    def platforms(self) -> tuple[str, ...]:
        """The platform keys whose adapters read this option."""
        return tuple(self.specs)

    @property
    def kind(self) -> str:
        """The option's kind where the platform is not known (the most specific declared)."""
        kinds = {spec.kind for spec in self.specs.values()}
        return next((k for k in _SPECIFIC if k in kinds), "text")

    @property
    def choices(self) -> tuple[str, ...]:
        """Every choice any adapter declares, in declaration order."""
        return tuple(dict.fromkeys(c for spec in self.specs.values() for c in spec.choices))

    @property
    def default(self) -> str | None:
        """The value that means "not set": ``false``, a choice's first choice, else None.

        An adapter lists a choice option's default first (the picture space's
        ``client:computer``).
        """
        if self.kind == "bool":
            return "false"
        if self.kind == "choice" and self.choices:
            return self.choices[0]
        return None

    @property
    def in_key(self) -> bool:
        """Whether the option changes where the image lands (see :data:`NOT_IN_KEY`)."""
        return self.name not in NOT_IN_KEY

    def kind_for(self, platform: str | None) -> str:
        """The kind ``platform``'s adapter reads the option as (:attr:`kind` otherwise)."""
        spec = self.specs.get(platform or "")
        return spec.kind if spec is not None else self.kind

    def spellings(self, platform: str | None = None) -> dict[str, str]:
        """Every accepted spelling of a choice and the choice it means: the choice itself,
        and the ``word`` of a ``prefix:word`` choice lower-cased (compared lower-cased)."""
        spec = self.specs.get(platform or "")
        choices = spec.choices if spec is not None and spec.choices else self.choices
        found: dict[str, str] = {}
        for choice in choices:
            found.setdefault(choice, choice)
            short = choice.partition(":")[2]
            if short:
                found.setdefault(short.lower(), choice)
        return found


@lru_cache(maxsize=8)
def _registry(platforms: tuple[tuple[str, str], ...]) -> dict[str, Option]:
    from imgkit.platforms import get_adapter

    specs: dict[str, dict[str, OptionSpec]] = {}
    for key, _ in platforms:
        for spec in get_adapter(key).options:
            specs.setdefault(spec.name, {})[key] = spec
    return {name: Option(name, by_platform) for name, by_platform in specs.items()}


def option_registry() -> dict[str, Option]:
    """Every option any registered adapter declares, by name, in registry order.

    Built from :data:`imgkit.platforms.REGISTRY` (again whenever it changes).

    >>> list(option_registry())[:3]
    ['title', 'client_type', 'is_https']
    """
    from imgkit.platforms import REGISTRY

    return _registry(tuple(REGISTRY.items()))


def normalize(name: str, value: object, platform: str | None = None) -> str:
    """The canonical text of option ``name``'s ``value`` (see the module's description).

    Parameters
    ----------
    name
        The option's column name; any other name gives the value as text.
    value
        The cell: text, a number, a boolean, None or NaN.
    platform
        The row's platform key: read the option as that adapter declares it.

    Returns
    -------
    str
        The canonical text, ``""`` for a blank cell, the value as written when it is none
        of the option's values.

    Examples
    --------
    >>> normalize("replace_id", "007", "tmall_item"), normalize("replace_id", "007", "qianmi_sku")
    ('7', '007')
    >>> normalize("need_distinct", "否"), normalize("title", " 杯子 ")
    ('false', '杯子')
    """
    text = cell_text(value)
    option = option_registry().get(name)
    if option is None or not text:
        return text
    kind = option.kind_for(platform)
    if kind == "bool":
        lowered = text.lower()
        if lowered in TRUE_WORDS:
            return "true"
        return "false" if lowered in FALSE_WORDS else text
    if kind == "int":
        match = _WHOLE.fullmatch(text)
        return str(int(match.group(1))) if match else text
    if kind == "choice":
        spellings = option.spellings(platform)
        if text in spellings:
            return spellings[text]
        lowered = text.lower()
        # Lower-cased, only a short word: "CLIENT:PHONE" was never accepted.
        return spellings.get(lowered, text) if ":" not in lowered else text
    return text


def normalize_column(
    name: str,
    values: pd.Series,
    platforms: pd.Series | tuple[np.ndarray, Sequence[str]] | None = None,
) -> pd.Series:
    """:func:`normalize` over a column, each row read as its platform's adapter reads it.

    Each distinct value is normalized once per platform (a 100,000-row batch has a few).
    ``platforms``: each row's platform key, or (each row's code, the keys) as validation
    holds them.  The answer is compact text (:func:`imgkit.intake.texts.text_array`).

    >>> normalize_column("is_major", pd.Series(["是", "", "0"])).tolist()
    ['true', '', 'false']
    """
    option = option_registry().get(name)
    kinds = {option.kind_for(k) for k in [None, *option.platforms]} if option else {"text"}
    if not kinds & {"bool", "int", "choice"} and arrow_of(values) is not None:
        return strip(values.fillna(""))  # the cells' texts: text as written, stripped
    # Each distinct (value, platform) pair once: the answer is a table look-up per row.
    value_codes, uniques = codes_of(values)
    texts = [cell_text(v) for v in uniques]
    table_text = [*texts, ""]
    rows = np.where(value_codes < 0, len(texts), value_codes).astype(np.int64)
    if name not in option_registry():
        return _taken(table_text, rows, values.index)
    if platforms is None:
        keys: list[str] = [""]
        key_codes = np.zeros(len(values), dtype=np.int64)
    elif isinstance(platforms, tuple):
        key_codes, keys = np.asarray(platforms[0], dtype=np.int64), [*platforms[1], ""]
    else:
        key_codes, found = codes_of(platforms)
        keys = [k if isinstance(k, str) else "" for k in found] + [""]
        key_codes = np.where(key_codes < 0, len(keys) - 1, key_codes)
    # (A hash of the pairs, not a sort: pd.factorize numbers them in order of appearance.)
    inverse, pairs = pd.factorize(rows * len(keys) + key_codes)
    answers = [
        normalize(name, table_text[pair // len(keys)], keys[pair % len(keys)] or None)
        for pair in np.asarray(pairs).tolist()
    ]
    return _taken(answers, np.asarray(inverse), values.index)


def _taken(table: list[str], at: np.ndarray, index: pd.Index) -> pd.Series:
    """``table[at[i]]`` for each row, as compact text over ``index``."""
    found = pd.Series(text_array(table)).take(at)
    return pd.Series(found.array, index=index)


def order_columns(names: Iterable[str], preferred: Iterable[str]) -> tuple[str, ...]:
    """``names`` with those in ``preferred`` first, in its order, then the rest as given.

    >>> order_columns(["a", "b", "c"], ["c", "x", "a"])
    ('c', 'a', 'b')
    """
    wanted = list(dict.fromkeys(names))
    first = [n for n in dict.fromkeys(preferred) if n in wanted]
    return (*first, *(n for n in wanted if n not in first))


__all__ = [
    "BOOL_WORDS",
    "FALSE_WORDS",
    "KINDS",
    "NOT_IN_KEY",
    "TRUE_WORDS",
    "Option",
    "normalize",
    "normalize_column",
    "option_registry",
    "order_columns",
]
