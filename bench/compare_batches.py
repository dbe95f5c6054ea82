"""The batches of ``bench/compare.py``: its scenarios, their rows, shops, limits and faults.

Every row has a file of its own (distinct bytes), so no row is a duplicate of another; the
five-image targets (Tmall items, Qianmi SKUs) get at most the rows they take.

Example
-------
>>> [row["platform"] for row in bulk_rows(3, [DOUYIN, MINIAPP])]
['doudian', 'taobao_miniapp', 'doudian']
>>> len(limited_rows(100))  # 5 Tmall items x 4 + 4 Qianmi SKUs x 5
40
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from throughput import make_files  # the benches' small distinct JPEGs

CLIENTS = ("imgkit", "baseline")
SCENARIOS = ("latency", "limits", "unconfigured", "faults", "mix")
FAST = 1000.0  # a rate_per_s far above anything reached: "no limit"
LIMITED = ("tb_picture_main", "tb_picture_oauth", "miniapp_main", "miniapp_tmall_session")
# (platform, shop, target, rows it takes at most); None: no per-target limit.
TMALL_SLOTS = [("tmall_store", i) for i in ("1489161940", "1489161932", "1489161941", "1489161942")]
TMALL_SLOTS.append(("tmall_outlet", "1489162001"))
QIANMI_SKUS = ("18353/g1234", "18353/g1235", "18355/g3001", "18355/g3002")


@dataclass
class Scenario:
    """One scenario: its rows, shops, sandbox limits and faults, and the client knobs."""

    name: str
    batch: pd.DataFrame
    shops: dict[str, dict[str, Any]]
    limits: dict[str, Any] = field(default_factory=dict)
    faults: dict[str, Any] = field(default_factory=dict)
    concurrency: int = 32
    repeats: int = 3
    clients: tuple[str, ...] = CLIENTS  # the mix adds imgkit with journal=False
    ceiling: float = 0.0  # requests/s the sandbox allows, when it limits


# --- the batches ----------------------------------------------------------------------------


def base_shops(base_url: str) -> dict[str, dict[str, Any]]:
    """The sandbox's good shops, and a second mini-app shop on its own TOP session."""
    from imgkit.sandbox import sandbox_shops

    shops = {name: dict(shop) for name, shop in sandbox_shops(base_url).items()}
    shops["miniapp_tmall_session"] = {**shops["miniapp_main"], "session": "sbx-session-tmall-1"}
    return shops


def frame(rows: list[dict[str, str]], files: list[str], seed: int) -> pd.DataFrame:
    """The batch: ``rows`` shuffled (seeded), one distinct file each; options as text."""
    random.Random(seed).shuffle(rows)
    columns = ("platform", "shop", "file", "target", "position")
    records = [
        {**dict.fromkeys(columns, ""), **r, "file": f} for r, f in zip(rows, files, strict=True)
    ]
    return pd.DataFrame.from_records(records, columns=list(columns))


def bulk_rows(count: int, places: list[tuple[str, str, str]]) -> list[dict[str, str]]:
    """``count`` rows over ``places`` (platform, shop, target) in turn."""
    keys = ("platform", "shop", "target")
    return [dict(zip(keys, places[i % len(places)], strict=True)) for i in range(count)]


def limited_rows(count: int) -> list[dict[str, str]]:
    """Up to ``count`` rows on the five-image targets: Tmall (4 non-main images per item,
    as each seeded main image stays) and Qianmi (positions 0-4 of each SKU)."""
    tmall = [
        {"platform": "tmall_item", "shop": s, "target": t} for s, t in TMALL_SLOTS for _ in range(4)
    ]
    qianmi = [
        {"platform": "qianmi_sku", "shop": "qianmi_shop", "target": t, "position": str(p)}
        for t in QIANMI_SKUS
        for p in range(5)
    ]
    mixed = [r for pair in zip(tmall, qianmi, strict=True) for r in pair]
    return mixed[:count]


# The bulk targets, by (platform, shop, target): no per-target limit.
DOUYIN = ("doudian", "douyin_shop", "0")
MINIAPP = ("taobao_miniapp", "miniapp_main", "3000000012345")
MINIAPP_2 = ("taobao_miniapp", "miniapp_tmall_session", "3000000012345")
PICTURE = ("taobao_picture", "tb_picture_main", "0")
PICTURE_2 = ("taobao_picture", "tb_picture_oauth", "0")
QUICK_ROWS = {"latency": 40, "limits": 40, "unconfigured": 40, "faults": 40, "mix": 30}
DEFAULT_ROWS = {"latency": 2000, "limits": 1000, "unconfigured": 1000, "faults": 1000}
DEFAULT_ROWS["mix"] = 1000


def scenarios(args: argparse.Namespace, base_url: str, folder: Path) -> list[Scenario]:
    """The scenarios asked for, each with its batch and shops."""
    sizes = {k: args.rows or v for k, v in (QUICK_ROWS if args.quick else DEFAULT_ROWS).items()}
    files = make_files(folder / "images", max(sizes[name] for name in args.scenarios))
    shops = base_shops(base_url)
    # "No limit" is a rate far above what is reached; picture space keeps its documented
    # 10/s per token (the sandbox enforces it by default), told to both clients alike.
    known = {name: {**shop, "rate_per_s": FAST} for name, shop in shops.items()}
    for name in ("tb_picture_main", "tb_picture_oauth"):
        known[name]["rate_per_s"] = 10.0
    repeats = args.repeats or (1 if args.quick else 3)
    long_repeats = args.repeats or (1 if args.quick else 2)  # ~25 s a run at 40/s
    out: list[Scenario] = []
    for seed, name in enumerate(args.scenarios):
        n = sizes[name]
        if name == "latency":
            ms = 20 if args.quick else 50
            batch = frame(bulk_rows(n, [DOUYIN, MINIAPP]), files[:n], seed)
            out.append(Scenario(name, batch, known, faults={"latency_ms": [ms, ms]}))
        elif name in ("limits", "unconfigured"):
            told = {"rate_per_s": 10.0} if name == "limits" else {}
            limited = {s: {**shops[s], **told} for s in LIMITED}
            batch = frame(bulk_rows(n, [PICTURE, PICTURE_2, MINIAPP, MINIAPP_2]), files[:n], seed)
            limits = {"vv_token_qps": 10, "top_session_qps": 10}
            out.append(Scenario(name, batch, limited, limits, concurrency=16, ceiling=40.0))
            out[-1].repeats = long_repeats
        elif name == "faults":
            rows = bulk_rows(max(2, n // 5), [PICTURE, PICTURE_2])
            rows += bulk_rows(n - len(rows), [DOUYIN, MINIAPP])
            plan = {"seed": 7, "transient": 0.05, "drop_after_store": 0.02}
            batch = frame(rows, files[:n], seed)
            out.append(Scenario(name, batch, known, faults=plan, concurrency=16))
        else:  # mix: a few rows on the five-image targets, a fifth of the rest on picture space
            rows = limited_rows(max(2, n // 25))
            rows += bulk_rows(max(2, (n - len(rows)) // 5), [PICTURE, PICTURE_2])
            rows += bulk_rows(n - len(rows), [DOUYIN, MINIAPP])
            batch = frame(rows, files[:n], seed)
            out.append(Scenario(name, batch, known, faults={"audit_delay_s": 0.2}))
            out[-1].clients = (*CLIENTS, "imgkit_nojournal")
        out[-1].repeats = long_repeats if out[-1].ceiling else repeats
    return out
