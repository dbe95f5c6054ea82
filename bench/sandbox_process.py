"""The sandbox in a process of its own, for the benchmarks that must not share its CPU.

Used as ``from sandbox_process import start_sandbox, stop_sandbox`` by the scripts beside it
(``python bench/<script>.py`` puts this folder on ``sys.path``).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_sandbox(log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``python -m imgkit sandbox`` on a free port; returns once it answers /health."""
    port = free_port()
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "imgkit", "sandbox", "--port", str(port)],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"the sandbox exited ({proc.returncode}):\n{log_path.read_text()}")
        try:
            if httpx.get(base_url + "/_sandbox/health", timeout=1, trust_env=False).is_success:
                return proc, base_url
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            stop_sandbox(proc)
            raise SystemExit(f"the sandbox did not answer in 30 s:\n{log_path.read_text()}")
        time.sleep(0.1)


def stop_sandbox(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
