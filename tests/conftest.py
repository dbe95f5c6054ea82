"""Shared fixtures: one real sandbox server per test session (per xdist worker).

Tests talk to it over loopback HTTP with requests built by ``spec_clients`` (written from
``docs/protocols.md``, not from the sandbox code).  The state is reset before each test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from imgkit.sandbox import Sandbox


@pytest.fixture(autouse=True)
def imgkit_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test has its own ``$IMGKIT_HOME``: its own journal and caches, never the
    developer's (child processes and notebook kernels inherit it)."""
    home = tmp_path_factory.mktemp("imgkit-home")
    monkeypatch.setenv("IMGKIT_HOME", str(home))
    return home


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
