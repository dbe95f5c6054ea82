"""The soak harness: a large batch over all five platforms, every fault, SIGKILLs, re-runs.

Shared by ``bench/soak.py`` (the script, 10,000 rows by default) and ``tests/test_soak.py``
(~500 rows).  The sandbox runs in a process of its own (``python bench/soak_lib.py serve``:
the sandbox's own server, plus one read-only route, :data:`STORE_ROUTE`, listing what its
image store holds, so duplicates are counted from the store itself).  Each upload run is a
child process (``python bench/soak_lib.py child``) with ``IMGKIT_HOME`` in the soak's temp
folder, so every run shares one journal, as a user's re-runs do.  Runs are killed with
SIGKILL at seeded random moments and the batch is run again until a run leaves nothing to
send; then the faults are cleared and a last run settles what is left.  The figures come
from ``soak.py`` (:func:`soak.figures`).

Example
-------
>>> rows = plan_rows(100, seed=1)
>>> len(rows), sorted({platform for platform, _shop, _target in rows})[:2]
(100, ['doudian', 'qianmi_sku'])
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
STORE_ROUTE = "/_soak/store"
# Shops with no per-target image limit carry the bulk: (shop name, sandbox shop it copies,
# field overrides, targets).  A copy under another name is paced on its own.
BULK_SHOPS: tuple[tuple[str, str, str, dict[str, str], tuple[str, ...]], ...] = (
    ("tb_picture_main", "taobao_picture", "tb_picture_main", {}, ("0", "1657717355974335419")),
    ("tb_picture_oauth", "taobao_picture", "tb_picture_oauth", {}, ("0",)),
    ("miniapp_main", "taobao_miniapp", "miniapp_main", {}, ("3000000012345",)),
    ("miniapp_second", "taobao_miniapp", "miniapp_main", {}, ("3000000012346",)),
    ("douyin_shop", "doudian", "douyin_shop", {}, ("0", "73691281073984637961425")),
    ("douyin_second", "doudian", "douyin_shop", {"seller_nick": "38173183"}, ("0",)),
)
# Targets that hold at most five images (Tmall counts the seeded main image): how many more
# each takes, so that every row is valid and fits.
SLOTS: tuple[tuple[str, str, str, int], ...] = (  # Tmall and Qianmi in turn
    ("tmall_item", "tmall_store", "1489161940", 5),
    ("qianmi_sku", "qianmi_shop", "18353/g1234", 5),
    ("tmall_item", "tmall_store", "1489161932", 4),
    ("qianmi_sku", "qianmi_shop", "18353/g1235", 5),
    ("tmall_item", "tmall_store", "1489161941", 4),
    ("qianmi_sku", "qianmi_shop", "18355/g3001", 5),
    ("tmall_item", "tmall_store", "1489161942", 4),
    ("qianmi_sku", "qianmi_shop", "18355/g3002", 5),
    ("tmall_item", "tmall_outlet", "1489162001", 4),
)
LIMITED_SHOPS = ("tmall_store", "tmall_outlet", "qianmi_shop")
# Fault kinds, probability per API request at --fault-scale 1 (docs/sandbox.md, Faults);
# the after-store lies and the slow answers are newer and may not be served yet.
LIES: tuple[str, ...] = ("gateway_504_after_store", "html_after_store", "empty_after_store")
LIES += ("truncated_after_store", "no_url_after_store")
FAULT_KINDS: dict[str, float] = {
    **dict.fromkeys(("transient", "rate_limited"), 0.02),
    **dict.fromkeys(("http_500", "drop_before_store", "drop_after_store"), 0.01),
    **dict.fromkeys(LIES, 0.005),
    **dict.fromkeys(("drip_body", "drip_headers", "silent"), 0.002),
}
# Knobs that go with a kind: sent only when the kind itself is accepted.
KNOBS: dict[str, str] = {"drip_interval_s": "drip_body", "silent_s": "silent"}


@dataclass
class Config:
    """One soak: sizes, seed, kills, faults and the client's knobs."""

    rows: int = 10_000
    seed: int = 1
    kills: int = 3
    fault_scale: float = 1.0
    kinds: tuple[str, ...] = tuple(FAULT_KINDS)
    rate_per_s: float = 40.0
    concurrency: int = 48
    timeout_s: float = 2.0
    latency_ms: tuple[float, float] = (0.0, 20.0)
    audit_delay_s: float = 0.2
    extra_runs: int = 3  # runs with faults after the kills, before the fault-free one
    run_timeout_s: float = 0.0  # 0: chosen from the row count
    workdir: Path | None = None


@dataclass
class RunRecord:
    """One child run: how it ended, its results (None when killed), its wall-clock span."""

    number: int
    faults: bool
    killed: bool
    returncode: int
    started: float
    ended: float
    kill_after_stored: int | None = None
    results: pd.DataFrame | None = None


# --- the batch ------------------------------------------------------------------------------


def plan_rows(rows: int, seed: int) -> list[tuple[str, str, str]]:
    """(platform, shop, target) for each row: a few to the five-image targets, the rest
    spread over the bulk shops, shuffled (seeded) so every platform is busy all along."""
    # Round-robin over the limited targets, so that a small batch still reaches them all.
    room = [(p, s, t) for k in range(5) for p, s, t, n in SLOTS if k < n]
    limited = room[: min(len(room), rows // 25)]
    bulk = [(p, name, t) for name, p, _base, _o, targets in BULK_SHOPS for t in targets]
    out = limited + [bulk[i % len(bulk)] for i in range(rows - len(limited))]
    random.Random(seed).shuffle(out)
    return out


def write_image(path: Path, row: int, seed: int) -> None:
    """A tiny PNG whose pixels spell the row number and the seed: distinct bytes per row."""
    image = Image.new("RGB", (4, 4), (seed % 256, 40, 200))
    image.putpixel((0, 0), ((row >> 16) & 255, (row >> 8) & 255, row & 255))
    image.putpixel((1, 0), ((seed >> 16) & 255, (seed >> 8) & 255, 99))
    image.save(path, "PNG")


def make_batch(folder: Path, rows: int, seed: int) -> pd.DataFrame:
    """The batch frame, its images written under ``folder/images``."""
    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    records = []
    held: dict[str, int] = {}  # Qianmi SKU -> positions given so far
    for n, (platform, shop, target) in enumerate(plan_rows(rows, seed)):
        path = images / f"row_{n:06d}.png"
        write_image(path, n, seed)
        # Douyin's safe re-send: without need_distinct an unanswered row can never settle.
        distinct = "true" if platform == "doudian" else ""
        # Qianmi refuses a position another image of the SKU holds (a missing one is 0).
        position = ""
        if platform == "qianmi_sku":
            position = str(held.get(target, 0))
            held[target] = held.get(target, 0) + 1
        row = dict(platform=platform, shop=shop, file=str(path), target=target)
        records.append(row | {"need_distinct": distinct, "position": position})
    return pd.DataFrame(records)


def file_sha256(batch: pd.DataFrame) -> list[str]:
    """The SHA-256 of each row's file, read here (not from any imgkit result)."""
    return [hashlib.sha256(Path(f).read_bytes()).hexdigest() for f in batch["file"]]


def make_shops(base_url: str, rate: float) -> dict[str, dict[str, Any]]:
    """Every shop of the batch, pointing at ``base_url``, each paced at ``rate``.

    >>> shops = make_shops("http://127.0.0.1:9", 40.0)
    >>> shops["douyin_second"]["seller_nick"], shops["douyin_second"]["rate_per_s"]
    ('38173183', 40.0)
    """
    from imgkit.sandbox import sandbox_shops

    known = sandbox_shops(base_url)
    shops = {name: {**known[base], **extra} for name, _p, base, extra, _t in BULK_SHOPS}
    shops.update({name: dict(known[name]) for name in LIMITED_SHOPS})
    return {name: {**shop, "rate_per_s": rate} for name, shop in shops.items()}


# --- the sandbox in its own process -----------------------------------------------------------


def serve(port: int) -> None:
    """Serve the sandbox on ``port`` with the store listing (the ``serve`` subcommand)."""
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from imgkit.sandbox import Sandbox

    sandbox = Sandbox(port=port)

    async def listing(request: Request) -> JSONResponse:
        with sandbox.state.lock:
            images = sandbox.state.store.images()
        keys = ("key", "platform", "shop", "target")
        listed = [{k: getattr(i, k) for k in keys} | {"sha256": i.facts.sha256} for i in images]
        return JSONResponse({"images": listed})

    # Read-only and outside /_sandbox/: the sandbox itself is not changed.
    sandbox.app.router.routes.append(Route(STORE_ROUTE, listing, methods=["GET"]))
    sandbox.serve_forever()


@contextmanager
def sandbox_process(log_path: Path) -> Iterator[str]:
    """A sandbox server in a child process; yields its base URL, stops it at the end."""
    from sandbox_process import free_port, stop_sandbox

    port = free_port()
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, str(Path(__file__)), "serve", str(port)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_child_env(None),
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"the sandbox exited ({proc.returncode}): {log_path.read_text()}"
                )
            try:
                if httpx.get(f"{base_url}/_sandbox/health", timeout=1, trust_env=False).is_success:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the sandbox did not answer in 30 s: {log_path.read_text()}")
            time.sleep(0.1)
        yield base_url
    finally:
        stop_sandbox(proc)


class Control:
    """The sandbox's control endpoints, and the soak's store listing."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=60, trust_env=False)

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return self.http.post(f"/_sandbox/{path}", json=body)

    def get(self, path: str) -> Any:
        return self.http.get(path).raise_for_status().json()

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self.get("/_sandbox/stats")
        return stats

    def wait_quiet(self, still_s: float = 0.5, limit_s: float = 15.0) -> None:
        """Until the sandbox's counters stop moving: a killed run's requests are served."""
        deadline = time.monotonic() + limit_s
        last, since = self.stats()["total"], time.monotonic()
        while time.monotonic() - since < still_s and time.monotonic() < deadline:
            time.sleep(0.1)
            now = self.stats()["total"]
            if now != last:
                last, since = now, time.monotonic()


def fault_plan(control: Control, config: Config) -> tuple[dict[str, Any], list[str]]:
    """Set every wanted fault kind the sandbox accepts; (the plan set, kinds refused).

    The plan is built up one key at a time: a key the server answers 400 for is left out
    (and reported), so a sandbox without the newest fault kinds still gets all the others.
    """
    plan: dict[str, Any] = {
        "seed": config.seed,
        "latency_ms": list(config.latency_ms),
        "audit_delay_s": config.audit_delay_s,
    }
    knobs = {"drip_interval_s": 0.5, "silent_s": config.timeout_s + 1.0}
    wanted = [(k, min(1.0, FAULT_KINDS[k] * config.fault_scale)) for k in config.kinds]
    wanted += [(k, v) for k, v in knobs.items() if KNOBS[k] in config.kinds]
    refused: list[str] = []
    response = control.post("faults", plan)
    response.raise_for_status()
    for key, value in wanted:
        if key in KNOBS and KNOBS[key] in refused:
            continue
        response = control.post("faults", {**plan, key: value})
        if response.status_code == 400:
            refused.append(key)
            continue
        response.raise_for_status()
        plan[key] = value
    control.post("faults", plan).raise_for_status()
    return plan, refused


# --- the upload runs ----------------------------------------------------------------------------


def _child_env(home: Path | None) -> dict[str, str]:
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    if home is not None:
        env["IMGKIT_HOME"] = str(home)
    return env


def child(batch: str, shops: str, out: str, options: str) -> None:
    """One upload run (the ``child`` subcommand): the results frame pickled to ``out``."""
    import imgkit

    results = imgkit.upload(batch, shops=shops, progress=False, **json.loads(options))
    results.to_pickle(out + ".part")
    os.replace(out + ".part", out)


def run_once(
    config: Config,
    control: Control,
    folder: Path,
    number: int,
    kill_after: int | None,
    faults: bool,
) -> RunRecord:
    """One child upload run; SIGKILLed once the sandbox stored ``kill_after`` more images."""
    out = folder / f"results_{number}.pkl"
    limit = config.run_timeout_s or max(60.0, config.rows / 10)
    stored0 = control.stats()["total"]["stored"]
    log = (folder / f"run_{number}.log").open("wb")
    started = time.time()
    # Short request timeouts and a row deadline, so the slow faults (drip, silent) and
    # backoffs cost a row seconds, not minutes; generous enough for retries and audit polls.
    options = {"timeout": config.timeout_s, "concurrency": config.concurrency}
    options["row_deadline_s"] = max(10.0, 5 * config.timeout_s)
    files = [str(folder / "batch.csv"), str(folder / "shops.toml"), str(out)]
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__)), "child", *files, json.dumps(options)],
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=_child_env(folder / "home"),
    )
    log.close()
    killed = False
    jitter = random.Random(config.seed * 1000 + number).uniform(0.0, 0.05)
    try:
        while proc.poll() is None:
            if time.time() - started > limit:
                raise RuntimeError(f"run {number} still going after {limit:.0f} s (see {log.name})")
            if (
                kill_after is not None
                and control.stats()["total"]["stored"] - stored0 >= kill_after
            ):
                time.sleep(jitter)  # a seeded moment between stored images, mid-request
                os.kill(proc.pid, signal.SIGKILL)
                killed = True
                break
            time.sleep(0.02)
    finally:
        if proc.poll() is None and not killed:
            proc.kill()
        proc.wait(timeout=30)
    record = RunRecord(number, faults, killed, proc.returncode, started, time.time(), kill_after)
    if killed:
        control.wait_quiet(limit_s=config.timeout_s + 10)
    elif proc.returncode != 0:
        raise RuntimeError(
            f"run {number} failed ({proc.returncode}): {(folder / log.name).read_text()[-3000:]}"
        )
    else:
        record.results = pd.read_pickle(out)
    return record


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(int(sys.argv[2]))
    elif sys.argv[1] == "child":
        child(*sys.argv[2:6])
