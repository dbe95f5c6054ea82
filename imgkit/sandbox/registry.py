"""The sandbox's one registration table: platform key → the module that emulates it.

Each sandbox platform module declares itself in one :class:`Emulator` (named
``EMULATOR``): its failure catalogue and envelope (its
:class:`~imgkit.sandbox.pipeline.SandboxPlatform`), its routes or the TOP APIs it serves
behind the shared gateway, the images its world seeds, the title of its section of
``docs/sandbox-errors.md``.  :data:`SANDBOX_MODULES` lists the built-in ones; the app, the
state (its counters and which forced errors exist), the control routes and the docs all
read :func:`emulators`, and the tests check the table against the adapters' declarations
(:func:`problems`).  A sixth platform's emulator joins with :func:`register_emulator`.

The modules are imported on first use: they import the pipeline and the state, so this
table (which the state reads) must not import them when it is itself imported.

Example
-------
>>> list(emulators())[:2]
['taobao_picture', 'taobao_miniapp']
>>> gateway_of("tmall_item").key
'top_gateway'
>>> problems()
[]
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from imgkit.platforms import platform_keys

if TYPE_CHECKING:
    from starlette.routing import Route

    from imgkit.sandbox.failures import Failure
    from imgkit.sandbox.pipeline import SandboxPlatform
    from imgkit.sandbox.state import SandboxState
    from imgkit.sandbox.top import TopApi
    from imgkit.sandbox.world import World

# The built-in emulators, in the adapters' registry order; each module has an EMULATOR.
SANDBOX_MODULES: dict[str, str] = {
    "taobao_picture": "imgkit.sandbox.taobao_picture",
    "taobao_miniapp": "imgkit.sandbox.taobao_miniapp",
    "tmall_item": "imgkit.sandbox.tmall_item",
    "doudian": "imgkit.sandbox.doudian",
    "qianmi_sku": "imgkit.sandbox.qianmi_sku",
}
# Gateways several platforms sit behind; they count and refuse requests of their own (the
# TOP gateway answers a request naming no known API).  Each module has a GATEWAY_EMULATOR.
GATEWAY_MODULES: dict[str, str] = {"top_gateway": "imgkit.sandbox.top"}


@dataclass(frozen=True)
class Emulator:
    """How the sandbox serves one platform (or one shared gateway).

    ``routes`` binds the platform's own HTTP routes to a state; a platform served behind
    the TOP gateway gives its ``top_apis`` instead and names the ``gateway``.
    ``documented`` is the catalogue its docs section lists (default: every failure of
    ``platform``); ``seeded_keys`` the image keys its world seeds (served by ``/img/``);
    ``shops`` the sandbox shops using its credentials (:func:`imgkit.sandbox.sandbox_shops`);
    ``shapes`` the alternative answer shapes it can be set to answer in.
    """

    key: str
    platform: SandboxPlatform
    title: str
    routes: Callable[[SandboxState], Sequence[Route]] | None = None
    top_apis: tuple[TopApi, ...] = ()
    gateway: str = ""
    documented: Mapping[str, Failure] | None = None
    seeded_keys: Callable[[World], set[str]] | None = None
    # Shops (name → fields, without ``base_url``) holding credentials of the sandbox world.
    shops: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # Alternative answer shapes the platform is known to use, selectable with
    # ``POST /_sandbox/settings {"shapes": {key: shape}}`` (see imgkit.sandbox.settings).
    shapes: tuple[str, ...] = ()

    @property
    def failures(self) -> Mapping[str, Failure]:
        """Every failure a forced-error fault may name for this platform."""
        return self.platform.failures

    @property
    def documented_failures(self) -> Mapping[str, Failure]:
        """The failures its section of ``docs/sandbox-errors.md`` lists."""
        return self.platform.failures if self.documented is None else self.documented


_EXTRA: dict[str, Emulator] = {}
_LOADED: dict[str, Emulator] = {}


def _load(key: str, module_name: str, attribute: str) -> Emulator:
    if key not in _LOADED:
        emulator = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(emulator, Emulator) or emulator.key != key:
            raise TypeError(f"{module_name}.{attribute} is not the Emulator of {key!r}")
        _LOADED[key] = emulator
    return _LOADED[key]


def emulators() -> dict[str, Emulator]:
    """Platform key → :class:`Emulator`: the built-in ones, then the registered ones.

    >>> emulators()["doudian"].platform.failures["too_large"].code
    50002
    """
    found = {key: _load(key, name, "EMULATOR") for key, name in SANDBOX_MODULES.items()}
    return {**found, **_EXTRA}


def gateways() -> dict[str, Emulator]:
    """Gateway key → :class:`Emulator` of the shared gateways.

    >>> list(gateways())
    ['top_gateway']
    """
    return {key: _load(key, name, "GATEWAY_EMULATOR") for key, name in GATEWAY_MODULES.items()}


def gateway_of(key: str) -> Emulator | None:
    """The gateway platform ``key`` sits behind, or None.

    >>> gateway_of("doudian") is None
    True
    """
    name = emulators()[key].gateway
    return gateways()[name] if name else None


def counted_keys() -> tuple[str, ...]:
    """Every key the sandbox keeps counters for: the platforms, then the gateways.

    >>> counted_keys()[-1]
    'top_gateway'
    """
    return (*emulators(), *gateways())


def catalogues() -> dict[str, Mapping[str, Failure]]:
    """Key → every failure a forced-error fault may name there (platforms and gateways).

    >>> "invalid_signature" in catalogues()["top_gateway"]
    True
    """
    both = {**emulators(), **gateways()}
    return {key: emulator.failures for key, emulator in both.items()}


def register_emulator(emulator: Emulator) -> None:
    """Serve another platform: its adapter is registered with
    :func:`imgkit.platforms.register_platform`, its emulator here, before the sandbox
    (its :class:`~imgkit.sandbox.state.SandboxState` and app) is made.

    Raises :class:`ValueError` when the key is taken.

    >>> register_emulator(emulators()["doudian"])
    Traceback (most recent call last):
    ...
    ValueError: the sandbox already emulates 'doudian'
    """
    if emulator.key in SANDBOX_MODULES or emulator.key in _EXTRA:
        raise ValueError(f"the sandbox already emulates {emulator.key!r}")
    if emulator.key in GATEWAY_MODULES:
        raise ValueError(f"{emulator.key!r} is a gateway's key")
    _EXTRA[emulator.key] = emulator


def unregister_emulator(key: str) -> None:
    """Forget an emulator added with :func:`register_emulator`.

    >>> unregister_emulator("doudian")
    Traceback (most recent call last):
    ...
    KeyError: "no registered emulator 'doudian'"
    """
    if key not in _EXTRA:
        raise KeyError(f"no registered emulator {key!r}")
    del _EXTRA[key]


@contextmanager
def emulating(emulator: Emulator) -> Iterator[Emulator]:
    """Register ``emulator`` for the ``with`` block only.

    >>> from dataclasses import replace
    >>> copy = replace(emulators()["doudian"], key="doudian_copy")
    >>> with emulating(copy):
    ...     "doudian_copy" in emulators()
    True
    >>> "doudian_copy" in emulators()
    False
    """
    register_emulator(emulator)
    try:
        yield emulator
    finally:
        unregister_emulator(emulator.key)


def problems() -> list[str]:
    """Where the sandbox's table disagrees with the adapters' registry; empty when none.

    Every registered platform needs an emulator and every emulator a platform; a
    platform behind a gateway must name a known one, and routes or APIs to serve.

    >>> problems()
    []
    """
    found = emulators()
    out = []
    if set(found) != set(platform_keys()):
        out.append(
            f"the sandbox emulates {sorted(found)} but the registry has {sorted(platform_keys())}"
        )
    for key, emulator in found.items():
        if emulator.gateway and emulator.gateway not in GATEWAY_MODULES:
            out.append(f"{key}: unknown gateway {emulator.gateway!r}")
        if emulator.routes is None and not emulator.top_apis:
            out.append(f"{key}: neither routes nor TOP APIs to serve")
        if emulator.platform.key != key:
            out.append(f"{key}: its SandboxPlatform says {emulator.platform.key!r}")
    return out
