"""Shared fixtures: one real sandbox server per test session (per xdist worker), and the
Jupyter kernel the notebook tests run in.

Tests talk to it over loopback HTTP with requests built by ``spec_clients`` (written from
``docs/protocols.md``, not from the sandbox code).  The state is reset before each test.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import browser_harness as bh
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


# The kernelspec name the notebook tests run under, pinned to this interpreter.
KERNEL = bh.KERNEL
# Names of shop settings that hold a secret (the tests look for leaks of their values).
SECRET_HINTS = ("secret", "token", "session", "password")


def shop_secrets(shops: Mapping[str, Mapping[str, object]]) -> list[str]:
    """Every secret value of ``shops`` (a sandbox's shop tables)."""
    return [
        str(value)
        for shop in shops.values()
        for name, value in shop.items()
        if any(hint in name for hint in SECRET_HINTS)
    ]


@pytest.fixture
def python3_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The ``python3`` kernelspec, running this interpreter (where imgkit is installed)."""
    name = bh.write_kernelspec(tmp_path / "jupyter")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    return name
