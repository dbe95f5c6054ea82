"""Benchmark: pacing finds a rate limit nobody configured, from 1 to 100 requests per second.

Serves the sandbox in its own process and, for each limit L, has it enforce L requests per
second per Douyin app (``POST /_sandbox/limits {"doudian_app_qps": L}``: a sliding
one-second window, as a platform counts; a refused request is not counted).  imgkit
uploads to the one shop of that app **with no ``rate_per_s``** (Douyin documents no
rate, so imgkit starts as fast as its concurrency cap allows and must find L from the
platform's "rate limited" answers, 60000 ``isv.frequency-limited``).

Per limit, from the sandbox's request log (when each handler began, the moment the limit
counts it):

* served: requests the sandbox served, per second, from the first to the
  last served request: ``(served - 1) / span``, against L.  Target: >= 95 % of L;
* refused: requests refused as "rate limited" (the cost of finding the limit: each is one
  request sent again);
* rows failed: rows that did not end ``uploaded``; rows failed for rate reasons must be 0.

First, the same upload with no limit says what this machine reaches at all (the client,
the sandbox and anything else running share its cores): a limit above that is judged
against it, as no pacer can reach it.

Runs take about ``--seconds`` each (the rows are sized for it), so the whole benchmark
takes about ``len(limits) x seconds``.  Exit status 1 when a target is missed.

    python bench/pacing.py                            # L = 1, 2, 5, 10, 20, 50, 100
    python bench/pacing.py --limits 10,100 --seconds 20
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
from sandbox_process import start_sandbox, stop_sandbox
from throughput import Control, make_files

import imgkit
from imgkit.sandbox import sandbox_shops

SHOP = "douyin_shop"
FOLDER = "0"
REQUESTS_PER_ROW = 1  # the synchronous upload; the sandbox approves at once


def served_and_refused(control: Control) -> tuple[list[float], int]:
    """The times of the requests the sandbox served, and how many it refused for rate."""
    response = control.client.get("/_sandbox/requests", params={"platform": "doudian"})
    records = response.raise_for_status().json()["requests"]
    served = sorted(r["at"] for r in records if r["outcome"] == "ok")
    return served, sum(1 for r in records if "frequency-limited" in r["outcome"])


def one_limit(
    control: Control,
    base_url: str,
    files: list[str],
    limit: float | None,
    args: argparse.Namespace,
    rows: int = 0,
) -> dict[str, Any]:
    control.fresh()
    control.post("limits", {"doudian_app_qps": limit})
    rows = rows or max(8, math.ceil((limit or 0) * args.seconds / REQUESTS_PER_ROW))
    shops = {SHOP: sandbox_shops(base_url)[SHOP]}  # no rate_per_s: the limit is unknown
    batch = pd.DataFrame(
        {"platform": "doudian", "shop": SHOP, "file": files[:rows], "target": FOLDER}
    )
    start = time.perf_counter()
    results = imgkit.upload(
        batch, shops=shops, journal=False, progress=False, concurrency=args.concurrency
    )
    wall = time.perf_counter() - start
    served, refused = served_and_refused(control)
    span = served[-1] - served[0]
    failed = results[results["status"] != "uploaded"]
    return {
        "limit": limit,
        "rows": rows,
        "served": len(served),
        "span": span,
        "rate": (len(served) - 1) / span if span > 0 else math.nan,
        "refused": refused,
        "failed": len(failed),
        "failed_rate": int((failed["category"] == "rate_limited").sum()),
        "wall": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limits", default="1,2,5,10,20,50,100", help="requests/s, comma list")
    parser.add_argument("--seconds", type=float, default=40.0, help="length of each run (40)")
    parser.add_argument("--concurrency", type=int, default=16, help="imgkit's cap (16)")
    args = parser.parse_args()
    limits = [float(x) for x in args.limits.split(",")]
    most_rows = max(8, math.ceil(max(limits) * args.seconds / REQUESTS_PER_ROW))
    root = Path(tempfile.mkdtemp(prefix="imgkit-bench-pacing-"))
    proc = None
    rows_out: list[dict[str, Any]] = []
    try:
        files = make_files(root / "images", most_rows)
        proc, base_url = start_sandbox(root / "sandbox.log")
        control = Control(base_url)
        print(
            f"sandbox: pid {proc.pid} at {base_url}; Douyin, one shop, no rate_per_s; "
            f"about {args.seconds:g} s per limit, concurrency {args.concurrency}"
        )
        # What this machine reaches with no limit at all, the same client and server: a
        # limit above it cannot be reached whatever the pacer does.
        free = one_limit(control, base_url, files, None, args, rows=min(most_rows, 2000))
        capacity = free["rate"]
        print(f"with no limit: {capacity:.1f} requests/s served (this machine's capacity now)")
        print(
            f"\n{'limit/s':>8} {'rows':>6} {'served/s':>9} {'of limit':>9} "
            f"{'of reachable':>13} {'refused':>8} {'failed':>7} {'for rate':>9} {'wall s':>7}"
        )
        for limit in limits:
            r = one_limit(control, base_url, files, limit, args)
            r["reachable"] = min(limit, capacity)
            rows_out.append(r)
            print(
                f"{r['limit']:8g} {r['rows']:6d} {r['rate']:9.2f} {r['rate'] / limit:9.1%} "
                f"{r['rate'] / r['reachable']:13.1%} {r['refused']:8d} {r['failed']:7d} "
                f"{r['failed_rate']:9d} {r['wall']:7.1f}"
            )
    finally:
        if proc is not None:
            stop_sandbox(proc)
        shutil.rmtree(root, ignore_errors=True)
    worst = min(r["rate"] / r["reachable"] for r in rows_out)
    failed_rate = sum(r["failed_rate"] for r in rows_out)
    met = worst >= 0.95 and failed_rate == 0
    print(
        f"\nsummary: the lowest share of a limit reached {worst:.1%} (of the limit, or of "
        f"what this machine reaches without one where that is lower; target >= 95%); rows "
        f"failed for rate reasons: {failed_rate} (target 0) -> {'met' if met else 'MISSED'}"
    )
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()
