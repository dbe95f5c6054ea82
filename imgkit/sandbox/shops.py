"""Sandbox credentials as a shops configuration, one or more shops per platform.

Each sandbox platform module declares its shops (``Emulator.shops``, credentials of the
sandbox world); this gathers them in the table's order.  The same shops, with
``base_url = "http://127.0.0.1:8765"``, are in ``sample_data/shops.toml``; a test keeps
the two in step.

Example
-------
>>> shops = sandbox_shops("http://127.0.0.1:9")
>>> shops["tmall_store"]["platform"], shops["tmall_store"]["base_url"]
('tmall_item', 'http://127.0.0.1:9')
"""

from __future__ import annotations

from imgkit.sandbox import registry


def sandbox_shops(base_url: str) -> dict[str, dict[str, str]]:
    """Fresh copies of the sandbox shops, each with ``platform`` and ``base_url`` set."""
    return {
        name: {"platform": key, **fields, "base_url": base_url}
        for key, emulator in registry.emulators().items()
        for name, fields in emulator.shops.items()
    }
