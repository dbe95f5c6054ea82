"""Shared fixtures: one real sandbox server per test session (per xdist worker), and the
Jupyter kernel the notebook tests run in.

Tests talk to it over loopback HTTP with requests built by ``spec_clients`` (written from
``docs/protocols.md``, not from the sandbox code).  The state is reset before each test.
"""

from __future__ import annotations

import json
import sys
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


# The kernelspec name the notebook tests run under, pinned to this interpreter.
KERNEL = "python3"


@pytest.fixture
def python3_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The ``python3`` kernelspec, running this interpreter (where imgkit is installed)."""
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    kernel = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"Python 3 ({sys.executable})",
        "language": "python",
        "metadata": {"debugger": False},
    }
    (spec / "kernel.json").write_text(json.dumps(kernel), encoding="utf-8")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    return KERNEL
