"""The platform registry, and every name an adapter author needs.

Each adapter module declares its platform once (:class:`PlatformDeclaration`: key,
aliases, abilities); the registry reads those declarations, so keys, aliases and
:func:`platform_keys` cannot disagree with the adapters.  A sixth platform joins with
:func:`register_platform` (``docs/adding-a-platform.md``), without editing this module.

Example
-------
>>> resolve_platform("天猫商品图")
'tmall_item'
>>> get_adapter("Taobao_Picture").key
'taobao_picture'
>>> declaration("doudian").abilities
('lookup', 'poll')
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager

from imgkit.errors import Category, UnknownPlatformError
from imgkit.platforms.base import Adapter
from imgkit.platforms.declarations import (
    ABILITIES,
    CodeRule,
    CodeTable,
    CredentialSpec,
    Limits,
    OptionSpec,
    PixelRule,
    PlatformDeclaration,
)
from imgkit.platforms.outcomes import (
    CHOICE_FALLBACK,
    LOOKUP_SETTLES,
    NO_ANSWER,
    NOT_SENT,
    Candidate,
    Job,
    Lookup,
    Outcome,
    details_missing,
)
from imgkit.platforms.wire import (
    as_int,
    bool_text,
    candidates_of,
    default_title,
    first_object,
    listed,
    paged_lookup,
    text,
    title_filter,
)

# The built-in adapters, in the order platforms are listed (docs, results, the sandbox).
BUILTIN_ADAPTERS = (
    "imgkit.platforms.taobao_picture:TaobaoPictureAdapter",
    "imgkit.platforms.taobao_miniapp:TaobaoMiniappAdapter",
    "imgkit.platforms.tmall_item:TmallItemAdapter",
    "imgkit.platforms.doudian:DoudianAdapter",
    "imgkit.platforms.qianmi_sku:QianmiSkuAdapter",
)

# key → adapter class, and key → aliases: both derived from the declarations, and kept
# as the same objects when platforms are registered or unregistered.
REGISTRY: dict[str, type[Adapter]] = {}
ALIASES: dict[str, tuple[str, ...]] = {}
_LOOKUP: dict[str, str] = {}
_INSTANCES: dict[str, Adapter] = {}


def _normal(name: str) -> str:
    return "".join(name.split()).replace("-", "_").lower()


def _rebuild_lookup() -> None:
    _LOOKUP.clear()
    for key in REGISTRY:
        _LOOKUP[_normal(key)] = key
    for key, aliases in ALIASES.items():
        for alias in aliases:
            _LOOKUP.setdefault(_normal(alias), key)


def declaration_problems(adapter: Adapter) -> list[str]:
    """What is wrong with ``adapter``'s declaration; empty when it can be registered.

    The declared abilities must be the ones its code implements, so that the registry,
    the sandbox and the docs never promise what the adapter does not do.

    >>> declaration_problems(get_adapter("tmall_item"))
    []
    """
    spec = type(adapter).__dict__.get("declaration")
    if not isinstance(spec, PlatformDeclaration):
        return [f"{type(adapter).__name__} declares no PlatformDeclaration"]
    problems = []
    implemented = adapter.implemented_abilities()
    if spec.abilities != implemented:
        problems.append(
            f"{spec.key}: declares abilities {list(spec.abilities)} but implements "
            f"{list(implemented)}"
        )
    return problems


def register_platform(
    adapter: type[Adapter] | Adapter, *, replace: bool = False
) -> PlatformDeclaration:
    """Add a platform to the registry from its adapter (a class or an instance).

    Its declaration gives the key and aliases; ``replace`` allows re-registering a key.
    Raises :class:`ValueError` when the declaration is inconsistent (see
    :func:`declaration_problems`), when it declares an option no built-in platform has
    (batch columns are fixed at import), or when its key or an alias is already taken.
    Returns the declaration.

    >>> from imgkit.platforms.doudian import DoudianAdapter
    >>> class DemoAdapter(DoudianAdapter):
    ...     declaration = PlatformDeclaration("demo_doc", aliases=("演示平台",),
    ...                                       lookup=True, poll=True)
    >>> register_platform(DemoAdapter).key
    'demo_doc'
    >>> resolve_platform("演示平台"), "demo_doc" in platform_keys()
    ('demo_doc', True)
    >>> unregister_platform("demo_doc")
    >>> "demo_doc" in platform_keys()
    False
    """
    instance = adapter() if isinstance(adapter, type) else adapter
    problems = declaration_problems(instance)
    # The batch's option columns, their normalization and the journal key are fixed when
    # imgkit is imported (imgkit.intake.options reads the built-in adapters then): an
    # option no built-in platform declares would be validated and never sent.
    known = {option.name for cls in _BUILTINS for option in cls.options}
    new = [option.name for option in instance.options if option.name not in known]
    if new:
        problems.append(
            f"{type(instance).declaration.key}: option(s) {new} are not batch columns: "
            "a new option is added in a built-in adapter (docs/adding-a-platform.md)"
        )
    if problems:
        raise ValueError("; ".join(problems))
    spec = type(instance).declaration
    if spec.key in REGISTRY and not replace:
        raise ValueError(f"platform {spec.key!r} is already registered")
    for alias in (spec.key, *spec.aliases):
        owner = _LOOKUP.get(_normal(alias))
        if owner is not None and owner != spec.key:
            raise ValueError(f"{spec.key}: the name {alias!r} already means {owner!r}")
    REGISTRY[spec.key] = type(instance)
    ALIASES[spec.key] = tuple(spec.aliases)
    _INSTANCES[spec.key] = instance
    _rebuild_lookup()
    return spec


def unregister_platform(key: str) -> None:
    """Remove a platform registered with :func:`register_platform` (its key, not an alias).

    >>> unregister_platform("no_such_platform")
    Traceback (most recent call last):
    ...
    KeyError: "platform 'no_such_platform' is not registered"
    """
    if key not in REGISTRY:
        raise KeyError(f"platform {key!r} is not registered")
    del REGISTRY[key], ALIASES[key], _INSTANCES[key]
    _rebuild_lookup()


@contextmanager
def registered(adapter: type[Adapter] | Adapter) -> Iterator[PlatformDeclaration]:
    """Register ``adapter`` for the ``with`` block only (tests, notebooks, experiments).

    >>> from imgkit.platforms.tmall_item import TmallItemAdapter
    >>> class Copy(TmallItemAdapter):
    ...     declaration = PlatformDeclaration("tmall_copy", lookup=True, replace=True)
    >>> with registered(Copy):
    ...     get_adapter("TMALL-COPY").key
    'tmall_copy'
    >>> "tmall_copy" in platform_keys()
    False
    """
    spec = register_platform(adapter)
    try:
        yield spec
    finally:
        unregister_platform(spec.key)


def platform_keys() -> tuple[str, ...]:
    """Every platform key, in registry order.

    >>> platform_keys()[:2]
    ('taobao_picture', 'taobao_miniapp')
    """
    return tuple(REGISTRY)


def declaration(name: str) -> PlatformDeclaration:
    """The declaration of a platform key or alias.

    >>> declaration("千米").replace
    True
    """
    return REGISTRY[resolve_platform(name)].declaration


def resolve_platform(name: str) -> str:
    """The platform key for a key or alias (case, spaces and dashes ignored).

    Raises :class:`imgkit.errors.UnknownPlatformError` for a name no platform has.

    >>> resolve_platform(" Douyin ")
    'doudian'
    """
    key = _LOOKUP.get(_normal(str(name)))
    if key is None:
        raise UnknownPlatformError(
            f"unknown platform {name!r} / 未知平台 {name!r}; known: {', '.join(REGISTRY)}",
            code="unknown_platform",
        )
    return key


def get_adapter(name: str) -> Adapter:
    """The adapter of a platform key or alias (one shared instance per platform).

    >>> get_adapter("抖店") is get_adapter("doudian")
    True
    """
    return _INSTANCES[resolve_platform(name)]


def _load(spec: str) -> type[Adapter]:
    module_name, _, class_name = spec.partition(":")
    adapter: type[Adapter] = getattr(importlib.import_module(module_name), class_name)
    return adapter


# The built-in adapters, loaded: their options are the batch's option columns.
_BUILTINS: list[type[Adapter]] = []
for _spec in BUILTIN_ADAPTERS:
    _BUILTINS.append(_load(_spec))
    register_platform(_BUILTINS[-1])
del _spec

__all__ = [
    "ABILITIES",
    "ALIASES",
    "BUILTIN_ADAPTERS",
    "CHOICE_FALLBACK",
    "LOOKUP_SETTLES",
    "NOT_SENT",
    "NO_ANSWER",
    "REGISTRY",
    "Adapter",
    "Candidate",
    "Category",
    "CodeRule",
    "CodeTable",
    "CredentialSpec",
    "Job",
    "Limits",
    "Lookup",
    "OptionSpec",
    "Outcome",
    "PixelRule",
    "PlatformDeclaration",
    "as_int",
    "bool_text",
    "candidates_of",
    "declaration",
    "declaration_problems",
    "default_title",
    "details_missing",
    "first_object",
    "get_adapter",
    "listed",
    "paged_lookup",
    "platform_keys",
    "register_platform",
    "registered",
    "resolve_platform",
    "text",
    "title_filter",
    "unregister_platform",
]
