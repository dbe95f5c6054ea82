"""Shared fixtures: one real sandbox server per test session (per xdist worker).

Tests talk to it over loopback HTTP with requests built by ``spec_clients`` (written from
``shared/platforms.md``, not from the sandbox code).  The state is reset before each test.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from imgkit.sandbox import Sandbox


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[Sandbox]:
    with Sandbox() as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server: Sandbox) -> Iterator[Sandbox]:
    """The session's sandbox with fresh state (no uploads, faults or limits)."""
    sandbox_server.reset()
    yield sandbox_server
    sandbox_server.reset()


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[httpx.Client]:
    """An httpx client whose ``base_url`` is the sandbox."""
    with sandbox.client(timeout=10.0) as http:
        yield http
