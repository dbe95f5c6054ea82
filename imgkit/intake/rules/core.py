"""What every rule is made of: the :class:`Rule` record, the :func:`rule` decorator that
registers one, and the helpers the rules word their details with.

A rule is a function of the :class:`~imgkit.intake.rules.context.Context` (the frame and
its derived columns, shared) returning a boolean mask over the batch.  It
declares, where it is defined, its code, severity, whether :func:`imgkit.fit` repairs it,
its words in Chinese and English and (optionally) a per-row detail naming the value and
the limit.  The decorator checks the declaration and adds it to the registry, in the order
of definition; :data:`imgkit.intake.rules.RULES` is that registry.

Example
-------
>>> found = {entry.code: entry for entry in registered()}
>>> found["missing_file"].severity, found["too_large"].fixable
('error', True)
>>> shown(pd.Series(["x" * 100])).str.len().tolist()
[61]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from imgkit.intake.texts import as_str

if TYPE_CHECKING:
    from imgkit.intake.rules.context import Context

Severity = Literal["error", "warning"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning")
Check = Callable[["Context"], pd.Series]


# A value shown in a message is cut to this many characters: a 200,000-character cell
# must not become a 200,000-character message.
SHOWN_CHARS = 60

_CODE = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class Rule:
    """One check: a code, a severity, whether fit repairs it, words, and the mask function.

    ``zh`` and ``en`` say what is wrong; ``detail`` (optional) gives a per-row text naming
    the value and the limit (numbers and names, so that one text serves both languages).
    """

    code: str
    severity: Severity
    fixable: bool
    zh: str
    en: str
    check: Check
    detail: Check | None = None
    # What the detail is a function of (names :meth:`Context.groups` takes): the detail is
    # then worded once per distinct combination of them and mapped onto the rows (148,000
    # refused formats are a few (platform, format) pairs).  Empty: worded row by row.
    detail_by: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # A declaration that is incomplete fails at import, not in a user's batch.
        if not _CODE.fullmatch(self.code):
            raise ValueError(f"rule code {self.code!r} is not snake_case")
        if self.severity not in SEVERITIES:
            raise ValueError(f"rule {self.code}: severity {self.severity!r} not in {SEVERITIES}")
        if not self.zh.strip() or not self.en.strip():
            raise ValueError(f"rule {self.code}: both the Chinese and the English words are needed")


_REGISTRY: dict[str, Rule] = {}


def register(entry: Rule) -> Rule:
    """Add ``entry`` to the registry (after those before it); a code is registered once."""
    if entry.code in _REGISTRY:
        raise ValueError(f"rule code {entry.code!r} is registered twice")
    _REGISTRY[entry.code] = entry
    return entry


def rule(
    code: str,
    *,
    severity: Severity,
    zh: str,
    en: str,
    fixable: bool = False,
    detail: Check | None = None,
    detail_by: tuple[str, ...] = (),
) -> Callable[[Check], Check]:
    """Declare the decorated function as the check of rule ``code`` and register it.

    The function itself is returned unchanged (it stays callable and testable alone).

    >>> @rule("always_fine_example", severity="warning", zh="示例", en="example")
    ... def always_fine_example(ctx: Context) -> pd.Series:
    ...     '''Never holds.'''
    ...     return ctx.no_rows()
    >>> registered()[-1].code, registered()[-1].fixable
    ('always_fine_example', False)
    >>> unregister("always_fine_example")
    """

    def declare(check: Check) -> Check:
        register(Rule(code, severity, fixable, zh, en, check, detail, detail_by))
        return check

    return declare


def unregister(code: str) -> None:
    """Take ``code`` out of the registry (for examples and tests)."""
    _REGISTRY.pop(code, None)


def registered() -> tuple[Rule, ...]:
    """Every registered rule, in the order of registration (the order validation runs)."""
    return tuple(_REGISTRY.values())


def as_mask(ctx: Context, values: pd.Series | np.ndarray | bool) -> pd.Series:
    """``values`` as a boolean mask over the frame's index."""
    return pd.Series(values, index=ctx.frame.index, dtype=bool)


def any_of(ctx: Context, masks: Iterable[pd.Series]) -> pd.Series:
    """The rows where any of ``masks`` holds (none: no row)."""
    out = as_mask(ctx, False)
    for mask in masks:
        out |= mask
    return out


def shown(values: pd.Series) -> pd.Series:
    """Values cut to :data:`SHOWN_CHARS` characters ("…" marks a cut), for messages.

    >>> shown(pd.Series(["short", "x" * 100])).str.len().tolist()
    [5, 61]
    """
    text = as_str(values)
    long = text.str.len() > SHOWN_CHARS
    if not long.any():
        return text
    return text.where(~long, text.str.slice(0, SHOWN_CHARS) + "…")


def written(ctx: Context, name: str, values: pd.Series) -> pd.Series:
    """``name = 'value'`` for each row (cut, see :func:`shown`); an empty cell is called
    empty, in the run's language, rather than shown as ``''``.

    >>> frame = pd.DataFrame({"platform": ["doudian"] * 2, "file": ["a.jpg"] * 2,
    ...                       "probe_error": [""] * 2, "format": ["jpeg"] * 2})
    >>> from imgkit.intake.rules.context import Context
    >>> written(Context(frame, {}, {}, "en"), "target", pd.Series(["x", ""])).tolist()
    ["target = 'x'", 'the target cell is empty']
    """
    text = as_str(values)
    named = name + " = '" + shown(text) + "'"
    # "the file cell", not "file": "file is empty" would read as a file of no bytes.
    empty = ctx.say(f"{name} 列为空", f"the {name} cell is empty")
    return named.where(text != "", empty)


def per_platform(ctx: Context, words: Callable[[Any], str]) -> pd.Series:
    """``words(adapter)`` for each row's platform ("" for an unknown platform).

    Computed once per platform of the batch, then mapped onto the rows.
    """
    texts = {key: words(adapter) for key, adapter in ctx.adapters.items()}
    return ctx.per_platform_value(texts, "").astype(str)
