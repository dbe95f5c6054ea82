"""The sandbox: a faithful local emulator of all five platforms, over real HTTP.

The platforms it serves are those of its table (:mod:`imgkit.sandbox.registry`).  It
serves every API at its real path and in its real envelopes, checks signatures,
enforces the documented limits, reaches every documented error code, keeps uploaded images
and serves them back, and takes faults and rate limits on demand.  See ``docs/sandbox.md``.

Example
-------
>>> from imgkit.sandbox import Sandbox
>>> with Sandbox() as sb:
...     sb.stats()["total"]["requests"]
0
"""

from __future__ import annotations

from imgkit.sandbox.app import create_app
from imgkit.sandbox.drop import asgi_transport
from imgkit.sandbox.faults import FaultConfigError, FaultPlan
from imgkit.sandbox.registry import Emulator, emulating, register_emulator, unregister_emulator
from imgkit.sandbox.server import DEFAULT_PORT, Sandbox, SandboxError
from imgkit.sandbox.shops import sandbox_shops
from imgkit.sandbox.state import AuditRule, RateLimits, SandboxState
from imgkit.sandbox.world import World, default_world

__all__ = [
    "DEFAULT_PORT",
    "AuditRule",
    "Emulator",
    "FaultConfigError",
    "FaultPlan",
    "RateLimits",
    "Sandbox",
    "SandboxError",
    "SandboxState",
    "World",
    "asgi_transport",
    "create_app",
    "default_world",
    "emulating",
    "register_emulator",
    "sandbox_shops",
    "unregister_emulator",
]
