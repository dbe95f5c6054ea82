"""Benchmark: upload and fit throughput on a Dask LocalCluster, one worker against two.

(Named ``dask_cluster.py``, not ``distributed.py``: ``bench/`` goes on ``sys.path`` for the
scripts and two test modules, and a ``distributed.py`` there would shadow the
``distributed`` package itself.)

Upload: the sandbox in its own process (``python -m imgkit sandbox`` on a free loopback
port) with its server-side limits lifted, six real accounts (two picture-space shops,
two mini-app sessions, two Douyin sellers) with ``rate_per_s`` far above what is reached,
so that no platform limit holds the run: what bounds it is CPU — the client's (reading,
hashing, validating, signing, sending, journalling) and the sandbox's (parsing, storing),
on the same machine.
``N`` rows of small distinct JPEG files are uploaded by one local ``imgkit.upload``, then
by ``imgkit.dask.upload`` on a cluster of one worker process and of two, each from a
reset sandbox with fresh journals.  Printed per run: rows per second, the CPU seconds per
1,000 rows of the client processes (this one, or the workers) and of the sandbox, read
from ``/proc``, and the cores each kept busy (CPU seconds per second of the run): a
client that keeps its cores busy is the bottleneck; one that cannot (a machine with no
core to spare, another program's load) says so.

Fit: ``F`` distinct WebP photos (``--fit-size`` pixels square) fitted for Douyin (decoded,
converted to JPEG) by ``imgkit.dask.fit`` on one worker and on two; images per second.

The ratio of two workers to one is printed for each; judge by those ratios measured in
one run (the machine's other work moves the absolute figures).

    python bench/dask_cluster.py                 # N=6000, F=200
    python bench/dask_cluster.py -n 12000 -f 400
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from distributed import Client, LocalCluster
from PIL import Image
from sandbox_process import start_sandbox, stop_sandbox

import imgkit
import imgkit.dask
from imgkit.intake.shops_files import write_shops
from imgkit.sandbox import sandbox_shops

ACCOUNTS = {  # shop -> (platform, target): six accounts, no per-target limit on any
    "tb_picture_main": ("taobao_picture", "0"),
    "tb_picture_2": ("taobao_picture", "0"),
    "miniapp_main": ("taobao_miniapp", "3000000012345"),
    "miniapp_2": ("taobao_miniapp", "3000000012345"),
    "douyin_shop": ("doudian", "0"),
    "douyin_2": ("doudian", "0"),
}
NO_LIMITS = {
    "vv_token_qps": None,
    "top_app_qps": None,
    "top_session_qps": None,
    "tmall_seller_qps": None,
    "doudian_app_qps": None,
    "qianmi_app_qps": None,
}
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def shops_for(base_url: str) -> dict[str, dict[str, Any]]:
    shops: dict[str, dict[str, Any]] = dict(sandbox_shops(base_url))
    shops["tb_picture_2"] = dict(shops["tb_picture_main"], shop_id="sbx_tb_shop_2")
    shops["miniapp_2"] = dict(shops["miniapp_main"], session="sbx-session-tmall-1")
    shops["douyin_2"] = dict(shops["douyin_shop"], seller_nick="38173183")
    for table in shops.values():
        table["rate_per_s"] = 100_000  # far above what is reached: CPU is the bound
    return {name: shops[name] for name in ACCOUNTS}


def write_jpegs(folder: Path, count: int) -> list[Path]:
    folder.mkdir()
    files = []
    for n in range(count):
        image = Image.new("RGB", (64, 48), (n % 256, n // 256 % 256, 90))
        for bit in range(16):  # n's bits as blocks: every file's bytes its own
            if n >> bit & 1:
                x, y = bit % 8 * 8, bit // 8 * 8
                image.paste((255, 255, 255), (x, y, x + 8, y + 8))
        path = folder / f"{n:05d}.jpg"
        image.save(path, quality=85)
        files.append(path)
    return files


def write_webps(folder: Path, count: int, side: int) -> list[Path]:
    folder.mkdir()
    files = []
    for n in range(count):
        # Noise, as a photo's detail is: no two alike, and dear to decode and encode.
        image = Image.effect_noise((side, side), 48).convert("RGB")
        image.paste((n % 256, 30, n // 256 % 256), (0, 0, 16, 16))
        path = folder / f"{n:05d}.webp"
        image.save(path, quality=80)
        files.append(path)
    return files


@contextmanager
def cluster(workers: int) -> Iterator[Client]:
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
        ) as local,
        Client(local) as client,
    ):
        yield client


def timed(run: Callable[[], pd.DataFrame], pids: list[int]) -> tuple[float, float, pd.DataFrame]:
    """Wall seconds and CPU seconds of ``pids`` over ``run()``, and its frame."""
    before = sum(cpu_s(pid) for pid in pids)
    started = time.perf_counter()
    out = run()
    wall = time.perf_counter() - started
    return wall, sum(cpu_s(pid) for pid in pids) - before, out


def upload_on(client: Client, batch: pd.DataFrame, shops: Path, journals: Path) -> pd.DataFrame:
    out: pd.DataFrame = imgkit.dask.upload(
        batch, shops, client=client, journal_dir=journals, progress=False
    ).compute()
    return out


def fit_on_cluster(client: Client, photos: pd.DataFrame, out: Path, shops: Path) -> pd.DataFrame:
    fitted: pd.DataFrame = imgkit.dask.fit(
        photos, out, shops=shops, client=client, progress=False
    ).compute()
    return fitted


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--rows", type=int, default=6000)
    parser.add_argument("-f", "--fit-images", type=int, default=200)
    parser.add_argument("--fit-size", type=int, default=1600)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="imgkit-dask-bench-"))
    files = write_jpegs(tmp / "jpegs", args.rows)
    names = list(ACCOUNTS)
    batch = pd.DataFrame(
        [
            {
                "platform": ACCOUNTS[names[n % len(names)]][0],
                "shop": names[n % len(names)],
                "file": str(file),
                "target": ACCOUNTS[names[n % len(names)]][1],
            }
            for n, file in enumerate(files)
        ]
    )
    proc, base_url = start_sandbox(tmp / "sandbox.log")
    http = httpx.Client(base_url=base_url, trust_env=False, timeout=30)
    shops = write_shops(tmp / "shops.toml", shops_for(base_url))
    figures: dict[str, float] = {}

    def fresh() -> None:
        http.post("/_sandbox/reset").raise_for_status()
        http.post("/_sandbox/limits", json=NO_LIMITS).raise_for_status()

    def report(label: str, wall: float, client_cpu: float, server_cpu: float) -> None:
        rate = args.rows / wall
        figures[label] = rate
        per_row = client_cpu / args.rows * 1000, server_cpu / args.rows * 1000
        print(
            f"{label:<20} {rate:6.0f} rows/s | CPU per 1,000 rows: client {per_row[0]:4.2f} s,"
            f" sandbox {per_row[1]:4.2f} s | cores busy: client {client_cpu / wall:4.2f},"
            f" sandbox {server_cpu / wall:4.2f}"
        )

    try:
        print(f"upload: {args.rows} rows over {len(ACCOUNTS)} accounts, no platform limit")
        fresh()
        me = os.getpid()
        before = cpu_s(proc.pid)
        wall, used, out = timed(
            lambda: imgkit.upload(batch, shops=shops, journal=tmp / "local.sqlite", progress=False),
            [me],
        )
        assert set(out["status"]) == {"uploaded"}, out["status"].value_counts()
        report("local, one process", wall, used, cpu_s(proc.pid) - before)
        for workers in (1, 2):
            fresh()
            with cluster(workers) as client:
                pids = list(client.run(os.getpid).values())
                before = cpu_s(proc.pid)
                journals = tmp / f"journals-{workers}"
                on_cluster = partial(upload_on, client, batch, shops, journals)
                wall, used, out = timed(on_cluster, pids)
                assert set(out["status"]) == {"uploaded"}, out["status"].value_counts()
                report(f"dask, {workers} worker(s)", wall, used, cpu_s(proc.pid) - before)
        ratio = figures["dask, 2 worker(s)"] / figures["dask, 1 worker(s)"]
        print(f"upload, 2 workers / 1: {ratio:.2f}x")

        print(f"fit: {args.fit_images} WebP photos of {args.fit_size}x{args.fit_size} -> JPEG")
        webps = write_webps(tmp / "webps", args.fit_images, args.fit_size)
        photos = pd.DataFrame(
            {"platform": "doudian", "shop": "douyin_shop", "file": [str(p) for p in webps],
             "target": "0"}
        )  # fmt: skip
        rates = {}
        for workers in (1, 2):
            with cluster(workers) as client:
                pids = list(client.run(os.getpid).values())
                fit_on = partial(fit_on_cluster, client, photos, tmp / f"fit-{workers}", shops)
                wall, used, fitted = timed(fit_on, pids)
                rates[workers] = args.fit_images / wall
                assert set(fitted["fit_actions"]) == {"converted"}, fitted[
                    ["fit_actions", "issues"]
                ]
                print(
                    f"dask, {workers} worker(s)   {rates[workers]:6.1f} images/s | CPU per image"
                    f" {used / args.fit_images:4.2f} s | cores busy: workers {used / wall:4.2f}"
                )
        print(f"fit, 2 workers / 1: {rates[2] / rates[1]:.2f}x")
    finally:
        http.close()
        stop_sandbox(proc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
