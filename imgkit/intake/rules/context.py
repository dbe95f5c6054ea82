"""The :class:`Context` the rules share: the frame under validation and the columns
derived from it, each computed once.

A rule (:mod:`imgkit.intake.rules.core`) is a function of the context returning a boolean
mask over the batch.  The context resolves each distinct platform cell once, keeps each
input column as stripped text and its codes (a factorize per column, once), reads each
row's platform limits from the adapters and memoizes what several rules share.

Example
-------
>>> frame = pd.DataFrame({"platform": ["tmall_item", "jd"], "file": ["a.jpg", "b.jpg"],
...                       "probe_error": ["", ""], "format": ["jpeg", "jpeg"]})
>>> ctx = Context(frame, {}, {})
>>> ctx.platform.tolist(), ctx.col("title").tolist()
(['tmall_item', ''], ['', ''])
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from imgkit.errors import UnknownPlatformError
from imgkit.intake.headers import OPTIONAL_COLUMNS
from imgkit.intake.options import TRUE_WORDS, option_registry
from imgkit.intake.shops import Shop
from imgkit.intake.texts import (
    arrow_of,
    as_str,
    codes_of,
    listed,
    per_value,
    strip,
    text_array,
)
from imgkit.platforms import get_adapter, resolve_platform
from imgkit.words import DEFAULT_LANG, Lang, say

if TYPE_CHECKING:
    from imgkit.intake.rules.core import Rule

# The yes/no options and the client types' short words, read off the adapters' OptionSpecs
# (imgkit.intake.options), so a new option is checked the moment an adapter declares it.
BOOL_OPTIONS = tuple(name for name in OPTIONAL_COLUMNS if option_registry()[name].kind == "bool")
CLIENT_TYPES = {
    word: choice
    for word, choice in option_registry()["client_type"].spellings().items()
    if ":" not in word  # "phone", not "client:phone": the full choice is taken as written
}  # The columns Context.codes reads as they are (not as stripped input text): the file as
# the probe was given it, and the probe's facts.
FACTS = ("file", "format", "sha256", "probe_error", "bytes", "width", "height")


class Context:
    """The frame under validation with its derived columns, computed once and shared."""

    def __init__(
        self,
        frame: pd.DataFrame,
        shops: dict[str, Shop],
        bad_shops: dict[str, str],
        lang: Lang = DEFAULT_LANG,
        *,
        texts: bool = False,
        known: dict[str, tuple[np.ndarray, Any]] | None = None,
    ):
        # texts: the input columns are stripped text without NaN (validation made them so).
        # known: columns factorized already (validation knows each row's distinct file and
        # so its probe facts' codes: a million SHA-256 texts need not be hashed again).
        self.texts = texts
        self.frame = frame
        self.lang = lang
        self.shops = shops
        self.bad_shops = bad_shops
        # Each distinct platform cell resolved once; rows know theirs by a code into keys.
        codes, uniques = codes_of(frame["platform"])
        self.platform_keys = [_platform_key(v) if isinstance(v, str) else "" for v in uniques]
        self.platform_codes = small_codes(np.where(codes < 0, len(uniques), codes))
        self.platform_keys.append("")
        self.adapters = {key: get_adapter(key) for key in set(self.platform_keys) if key}
        self.has_image = (frame["probe_error"] == "") & (frame["format"] != "")
        self._columns: dict[str, pd.Series] = {}
        self._codes: dict[str, tuple[np.ndarray, Any]] = dict(known or {})
        self._memo: dict[str, Any] = {}

    def subset(self, rows: np.ndarray) -> Context:
        """The same context over the rows at positions ``rows`` only (their labels kept).

        The details of a rule's message are row by row: they are computed for the rows
        the rule holds for, not for the whole batch.
        """
        part = object.__new__(Context)
        part.frame = self.frame.iloc[rows]
        part.lang, part.shops, part.bad_shops = self.lang, self.shops, self.bad_shops
        part.texts = self.texts
        part.platform_keys, part.platform_codes = self.platform_keys, self.platform_codes[rows]
        part.adapters = self.adapters
        part.has_image = self.has_image.iloc[rows]
        part._columns = {name: column.iloc[rows] for name, column in self._columns.items()}
        part._codes = {}
        part._memo = {}
        return part

    @cached_property
    def platform(self) -> pd.Series:
        """Each row's platform key ("" for a platform imgkit does not know).

        Made when a detail asks for it (on the rows the rule holds for): the rules read
        the rows' codes (:attr:`platform_codes`), not a million texts.
        """
        keys = pd.Series(text_array(self.platform_keys))
        if not len(self.frame):  # (pandas 2.2 cannot join an empty Arrow column with an object one)
            keys = keys.astype(object)
        return pd.Series(keys.take(self.platform_codes).array, index=self.frame.index)

    def per_platform_value(self, values: dict[str, Any], missing: Any = None) -> pd.Series:
        """Each row's platform's entry in ``values`` (``missing`` for another platform)."""
        table = pd.Series([values.get(key, missing) for key in self.platform_keys], dtype=object)
        return pd.Series(table.to_numpy()[self.platform_codes], index=self.frame.index)

    def codes(self, name: str) -> tuple[np.ndarray, Any]:
        """An input column (:meth:`col`) factorized: each row's code (-1: missing), and
        the distinct values as an array (a million distinct targets stay in Arrow)."""
        if name not in self._codes:
            if name in FACTS:  # a probe fact, as probing gave it
                values = self.frame[name]
            elif name in self.frame.columns:
                values = self.col(name)
            else:  # an absent column: "" on every row (one zero seen n times: no memory)
                self._codes[name] = (np.broadcast_to(np.intp(0), (len(self.frame),)), [""])
                return self._codes[name]
            codes, uniques = pd.factorize(values, use_na_sentinel=True)
            self._codes[name] = (small_codes(codes), uniques)
        return self._codes[name]

    def numbers(self, name: str) -> pd.Series:
        """An input column read as numbers (``pd.to_numeric``, NaN where it is none),
        once per distinct value."""

        def compute() -> pd.Series:
            codes, uniques = self.codes(name)
            table = pd.to_numeric(pd.Series(listed(uniques), dtype=object), errors="coerce")
            return pd.Series(table.to_numpy()[codes], index=self.frame.index)

        found: pd.Series = self.once("numbers:" + name, compute)
        return found

    def per_value(self, name: str, function: Callable[[Any], Any], dtype: Any = None) -> pd.Series:
        """``function`` of an input column's value (:meth:`col`) or of a probe fact
        (``format``, ``sha256``), once per distinct value."""
        codes, uniques = self.codes(name)
        # A missing value (code -1: a hand-made frame's NaN) is read as "".
        answers = [function(v) for v in listed(uniques)] + [function("")]
        table = np.empty(len(answers), dtype=dtype if dtype is not None else object)
        table[:] = answers
        found: pd.Series = pd.Series(table[codes], index=self.frame.index, dtype=table.dtype)
        return found

    def groups(self, *columns: str | pd.Series) -> np.ndarray:
        """One int64 code per row such that two rows share a code exactly when they hold
        equal values in every one of ``columns`` (missing values equal to each other): an
        input column by name (:meth:`col`, factorized once), ``"platform"`` for the
        platform key, or a Series."""
        key = np.zeros(len(self.frame), dtype=np.int64)
        bound = 1  # the key is below this
        for column in columns:
            if isinstance(column, str) and column == "platform":
                codes, count = self.platform_codes, len(self.platform_keys)
            elif isinstance(column, str) and column in self._codes:
                codes, uniques = self._codes[column]
                count = len(uniques) + 1
            elif isinstance(column, str):
                # Only the codes are kept: a million distinct targets need not stay twice.
                def compute(name: str = column) -> tuple[np.ndarray, int]:
                    values = self.frame[name] if name in FACTS else self.col(name)
                    found, distinct = group_codes(values)
                    return found, distinct + 1

                codes, count = self.once("group codes:" + column, compute)
            else:
                codes, found = pd.factorize(column, use_na_sentinel=False)
                count = len(found) + 1
            if bound * count >= 2**62:  # renumber the groups so far before going on
                key = np.asarray(pd.factorize(key)[0], dtype=np.int64)
                bound = int(key.max(initial=0)) + 1
            # In place: a million rows' key is 8 MB, and each step would make two more.
            key *= count
            key += codes
            bound *= count
        return key

    def say(self, zh: str, en: str) -> str:
        """``zh``, ``en`` or ``"zh / en"``: the words a detail uses, in the run's language."""
        return say(zh, en, self.lang)

    def mask(self, rule: Rule) -> pd.Series:
        """``rule``'s mask over the frame (NaN as False), computed once and shared."""
        found: pd.Series = self.once(
            "rule:" + rule.code, lambda: rule.check(self).fillna(False).astype(bool)
        )
        return found

    def once(self, name: str, compute: Callable[[], Any]) -> Any:
        """``compute()`` the first time ``name`` is asked for; the same answer after."""
        if name not in self._memo:
            self._memo[name] = compute()
        return self._memo[name]

    def no_rows(self) -> pd.Series:
        """An all-False mask over the frame."""
        return pd.Series(False, index=self.frame.index, dtype=bool)

    def col(self, name: str) -> pd.Series:
        """An input column as stripped text ("" when the column is absent); computed once."""
        if name not in self._columns:
            if name not in self.frame.columns:
                # "" on every row, in the compact storage (compared at Arrow's speed).
                empty = pd.Series(text_array([""])).take(np.zeros(len(self.frame), np.intp))
                column = pd.Series(empty.array, index=self.frame.index)
            elif self.texts and arrow_of(self.frame[name]) is not None:
                column = self.frame[name]  # validation's own frame: stripped text already
            else:
                column = strip(as_str(self.frame[name]))
            self._columns[name] = column
        return self._columns[name]

    def limit(self, attribute: str) -> pd.Series:
        """A per-row limit read from each row's adapter (NaN for unknown platforms)."""
        values = {key: getattr(a.limits, attribute) for key, a in self.adapters.items()}
        # The platforms of the batch, each with its limit (NaN: unknown), then row by row.
        present = np.unique(self.platform_codes)
        table = np.full(len(self.platform_keys), np.nan, dtype=object)
        table[present] = [values.get(self.platform_keys[c], np.nan) for c in present.tolist()]
        numbers = pd.to_numeric(pd.Series(table[present], dtype=object), errors="coerce")
        at = np.zeros(len(self.platform_keys), dtype=np.intp)
        at[present] = np.arange(len(present))
        return pd.Series(numbers.to_numpy()[at[self.platform_codes]], index=self.frame.index)

    def platforms_where(self, predicate: Callable[[Any], bool]) -> list[str]:
        """Platform keys in this batch whose adapter satisfies ``predicate``."""
        return [key for key, adapter in self.adapters.items() if predicate(adapter)]

    def on(self, keys: list[str]) -> pd.Series:
        """Rows of the given platforms (``""``: of no platform imgkit knows)."""
        # By the rows' platform codes: a look-up in a table of a few platforms, not a
        # million text comparisons per platform and rule.
        wanted = np.array([key in keys for key in self.platform_keys], dtype=bool)
        return pd.Series(wanted[self.platform_codes], index=self.frame.index, dtype=bool)

    def known(self) -> pd.Series:
        """Rows of a platform imgkit knows."""
        return ~self.on([""])

    def lower(self, name: str) -> pd.Series:
        """An input column lower-cased as Python does (once per distinct value)."""
        found: pd.Series = self.once("lower:" + name, lambda: self.per_value(name, str.lower))
        return found

    def option_true(self, name: str) -> pd.Series:
        """A boolean option as written by a person ("1", "是", "TRUE"...)."""
        # Once per distinct value, straight to booleans (no column of lower-cased text).
        found: pd.Series = self.once(
            "true:" + name,
            lambda: self.per_value(name, lambda v: v.lower() in TRUE_WORDS, dtype=bool),
        )
        return found

    @cached_property
    def client_type(self) -> pd.Series:
        """``client_type`` normalized (``phone`` → ``client:phone``)."""
        return self.per_value("client_type", lambda raw: CLIENT_TYPES.get(raw.lower(), raw))

    @cached_property
    def title(self) -> pd.Series:
        """The title the platform will use: the given one, else the file name's stem."""
        title = self.col("title")
        untitled = title == ""
        if untitled.any():
            title = title.astype(object)
            files = as_str(self.frame["file"])[untitled]
            title.loc[untitled] = per_value(files, _stem, missing="", dtype=object)
        return title

    def option_value(self, name: str) -> pd.Series:
        """An option as the pixel rules compare it (booleans as true/false)."""
        if name in BOOL_OPTIONS:
            return self.option_true(name).map({True: "true", False: "false"})
        if name == "client_type":
            return self.client_type
        return self.col(name)


def small_codes(codes: Any) -> np.ndarray:
    """Codes (``pd.factorize``'s) in 32 bits where they fit: a million rows' codes of
    many columns are kept while the rules run.

    >>> small_codes(np.array([0, -1, 2])).dtype
    dtype('int32')
    """
    found = np.asarray(codes)
    if len(found) < 2**31 - 1 and found.dtype != np.int32:
        return found.astype(np.int32)
    return found


# group_codes sorts a text column of at least SORT_FROM rows whose sample of as many rows
# (drawn with repeats) holds at least NEAR_UNIQUE of the distinct values a column without
# repeated values would show; any other column is hashed (pd.factorize), the faster where
# values repeat (on a million rows, six shops: 10 ms against 140; 110,000 files: 36
# against 92).
SORT_FROM = 2**16
NEAR_UNIQUE = 0.9


def group_codes(values: pd.Series) -> tuple[np.ndarray, int]:
    """A code per row such that two rows share one exactly when their values are equal
    (missing values equal to each other), and how many codes there are.

    ``pd.factorize``'s codes, in another order for a long text column held in Arrow
    (without missing values) whose values nearly all differ: such a column is sorted
    instead of hashed, which needs no table over its distinct values (a million distinct
    targets: a 40 MB peak against factorize's 105 MB, in about the same time).

    >>> codes, count = group_codes(pd.Series(["b", "a", "b", ""], dtype="string[pyarrow]"))
    >>> sorted(set(codes.tolist())), count, bool(codes[0] == codes[2])
    ([0, 1, 2], 3, True)
    """
    arrow = arrow_of(values)
    if arrow is None or arrow.null_count or len(arrow) < max(2, SORT_FROM):
        return _hashed(values)
    # Here only when arrow_of found Arrow: pyarrow is there.
    import pyarrow.compute as pc  # type: ignore[import-untyped,unused-ignore]

    array = arrow.chunk(0) if arrow.num_chunks == 1 else arrow.combine_chunks()
    # Rows drawn at random (the same each time), not every k-th: a batch laid out in a
    # period (each file again 100,000 rows on) looks unique to an even stride.
    n = len(array)
    sample = array.take(np.random.default_rng(0).integers(0, n, size=SORT_FROM))
    # What a sample of a column with no value twice holds: the rows it drew, once each.
    if_unique = n * -math.expm1(SORT_FROM * math.log1p(-1 / n))
    if pc.count_distinct(sample).as_py() < NEAR_UNIQUE * if_unique:
        return _hashed(values)
    order = pc.sort_indices(array)
    ordered = array.take(order)
    starts = np.empty(n, dtype=bool)
    starts[0] = True
    starts[1:] = pc.not_equal(ordered[1:], ordered[:-1]).to_numpy(zero_copy_only=False)
    del ordered
    ranks = np.cumsum(starts, dtype=np.int64) - 1
    codes = np.empty(n, dtype=np.int32 if n < 2**31 - 1 else np.int64)
    codes[order.to_numpy()] = ranks
    return codes, int(ranks[-1]) + 1


def _hashed(values: pd.Series) -> tuple[np.ndarray, int]:
    found, uniques = pd.factorize(values, use_na_sentinel=False)
    return small_codes(found), len(uniques)


def _platform_key(value: str) -> str:
    try:
        return resolve_platform(value)
    except UnknownPlatformError:
        return ""


_DIRECTORY = re.compile(r"^.*[\\/]")
_SUFFIX = re.compile(r"\.[^.]*$")


def _stem(path: str) -> str:
    """A file name without its folder and extension: the title a platform gives it."""
    return _SUFFIX.sub("", _DIRECTORY.sub("", path))


__all__ = ["BOOL_OPTIONS", "CLIENT_TYPES", "FACTS", "Context", "group_codes", "small_codes"]
