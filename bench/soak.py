"""Soak: a 10,000-row batch, every fault kind, SIGKILLs and re-runs — proof as figures.

Starts the sandbox in a process of its own, writes a batch of ``--rows`` tiny distinct PNGs
over all five platforms and nine shops (``soak_lib.plan_rows``: a few rows to the Tmall
items and Qianmi SKUs, which hold five images each, the rest to picture space, mini-app
pictures and Douyin with ``need_distinct``), sets a fault plan mixing every fault kind the
sandbox accepts (those it refuses are printed), uploads the batch in child processes killed
with SIGKILL at seeded moments (``--kills``), runs it again until nothing is left to send,
and settles the rest with a fault-free run.  Then it prints, from the last run's results,
the sandbox's stats and its image store:

* rows per final status; retries per category; faults injected per kind;
* duplicates: identical bytes stored more than once at the same platform + shop + target,
  counted from the store itself (and the sandbox's own counter) — must be 0;
* rows lost: a row that did not end ``uploaded``/``skipped`` with a URL serving its bytes
  at its target, or ``failed``/``invalid`` for a final reason with nothing stored — must
  be 0 (every row that was ever in doubt is settled);
* the request rate the sandbox saw against the ceiling (the sum of the shops' rates).

Exit status 1 when duplicates or lost rows are not 0.

    python bench/soak.py                      # 10,000 rows, 3 kills
    python bench/soak.py --rows 2000 --kinds drop_after_store --json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from soak_lib import (
    FAULT_KINDS,
    STORE_ROUTE,
    Config,
    Control,
    RunRecord,
    fault_plan,
    file_sha256,
    make_batch,
    make_shops,
    run_once,
    sandbox_process,
)

import imgkit
from imgkit.intake.shops_files import write_shops
from imgkit.report.verify import verify_counts

# Statuses nothing more will happen to, and the categories a ``failed`` row may not end
# with: "it may have been stored" or a passing trouble is no definite answer.
FINAL = frozenset({"uploaded", "skipped", "invalid", "failed"})
PASSING = frozenset({"timeout", "transient", "rate_limited", "unknown", "audit_pending"})
BULK = ("taobao_picture", "taobao_miniapp", "doudian")


@dataclass
class Soak:
    """Everything a soak produced, for :func:`figures`."""

    config: Config
    base_url: str
    batch: pd.DataFrame
    shops: dict[str, dict[str, Any]]
    fault_plan: dict[str, Any]
    unavailable: list[str]
    runs: list[RunRecord] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    store: list[dict[str, Any]] = field(default_factory=list)
    request_log: list[dict[str, Any]] = field(default_factory=list)
    served: dict[str, str] = field(default_factory=dict)  # url -> sha256 of what it serves
    verified: pd.DataFrame | None = None  # imgkit.verify of the final results
    wall_s: float = 0.0

    @property
    def final(self) -> pd.DataFrame:
        """The last run's results (the last run is never killed)."""
        results = self.runs[-1].results
        assert results is not None
        return results


def left_to_send(results: pd.DataFrame) -> pd.Series:
    """Rows a re-run would still act on: not final, or failed for a passing reason.

    >>> frame = pd.DataFrame({"status": ["skipped", "in_doubt", "failed", "failed"],
    ...                       "retryable": [False, False, True, False]})
    >>> left_to_send(frame).tolist()
    [False, True, True, False]
    """
    status = results["status"]
    passing = (status == "failed") & results["retryable"].fillna(False).astype(bool)
    return ~status.isin(FINAL) | passing


def run(config: Config, say: Callable[[str], None] = lambda text: None) -> Soak:
    """The whole soak: sandbox, batch, faults, killed runs, re-runs, the settling run, and
    the URLs checked before the sandbox stops.  ``say`` hears a line per run."""
    begin = time.time()
    with tempfile.TemporaryDirectory(prefix="imgkit-soak-", dir=config.workdir) as tmp:
        folder = Path(tmp)
        (folder / "home").mkdir()
        with sandbox_process(folder / "sandbox.log") as base_url:
            control = Control(base_url)
            rate = config.rate_per_s
            # The documented 10/s per vv-tool token stays on, above the shops' own pacing.
            control.post("limits", {"vv_token_qps": max(10.0, rate * 1.5)}).raise_for_status()
            batch = make_batch(folder, config.rows, config.seed)
            batch.to_csv(folder / "batch.csv", index=False)
            batch["file_sha256"] = file_sha256(batch)
            shops = make_shops(base_url, rate)
            write_shops(folder / "shops.toml", shops)
            plan, refused = fault_plan(control, config)
            soak = Soak(config, base_url, batch, shops, plan, refused)
            say(f"faults: {plan}; not available: {refused or 'none'}")
            rng = random.Random(config.seed)
            number = 0
            for _ in range(config.kills + config.extra_runs):
                number += 1
                kills_left = config.kills - sum(r.killed for r in soak.runs)
                kill_after = None
                if kills_left > 0:
                    remaining = max(2, config.rows - control.stats()["total"]["stored"])
                    share = remaining // (kills_left + 1)
                    kill_after = rng.randint(max(1, share // 3), max(1, share))
                record = run_once(config, control, folder, number, kill_after, faults=True)
                soak.runs.append(record)
                say(_run_line(record))
                done = record.results is not None and not left_to_send(record.results).any()
                if done and kills_left <= 0:
                    break
            control.post("faults", {}).raise_for_status()
            for _ in range(2):  # fault-free: settles what the faults left in doubt
                number += 1
                record = run_once(config, control, folder, number, None, faults=False)
                soak.runs.append(record)
                say(_run_line(record))
                if record.results is not None and not left_to_send(record.results).any():
                    break
            soak.stats = control.stats()
            soak.store = control.get(STORE_ROUTE)["images"]
            soak.request_log = control.get("/_sandbox/requests")["requests"]
            check_urls(soak, control.http)
            control.http.close()
            soak.wall_s = time.time() - begin
            return soak


def _run_line(run: RunRecord) -> str:
    span = f"{run.ended - run.started:.1f} s"
    if run.killed:
        return f"run {run.number}: SIGKILL after {run.kill_after_stored} new images ({span})"
    assert run.results is not None
    counts = run.results["status"].value_counts().to_dict()
    return f"run {run.number}{'' if run.faults else ' (no faults)'}: {counts} ({span})"


def duplicates(store: list[dict[str, Any]]) -> int:
    """Extra copies of identical bytes at one platform + shop + target.

    >>> img = {"platform": "doudian", "shop": "s", "target": "0", "sha256": "ab"}
    >>> duplicates([img, img, {**img, "target": "1"}])
    1
    """
    return sum(n - 1 for n in _places(store).values())


def _places(store: list[dict[str, Any]]) -> Counter[tuple[str, str, str, str]]:
    return Counter((i["platform"], i["shop"], i["target"], i["sha256"]) for i in store)


def duplicate_rows(soak: Soak) -> list[dict[str, Any]]:
    """The rows whose bytes are stored more than once at their place, and how."""
    rows = {sha: n for n, sha in enumerate(soak.batch["file_sha256"])}
    out = []
    for (platform, shop, target, sha), count in _places(soak.store).items():
        if count > 1:
            row = rows.get(sha, -1)
            message = str(soak.final["message"].iloc[row]) if row >= 0 else ""
            out.append(
                dict(
                    row=row,
                    platform=platform,
                    shop=shop,
                    target=target,
                    copies=count,
                    message=message[:160],
                )
            )
    return out


def row_problems(soak: Soak) -> pd.Series:
    """Why each row is not settled truthfully ("" when it is): the "lost" rows."""
    final = soak.final
    stored_at = Counter((i["platform"], i["target"], i["sha256"]) for i in soak.store)
    by_key = {i["key"]: i for i in soak.store}
    verdicts = None if soak.verified is None else soak.verified["verified"].to_dict()
    problems = []
    for (index, row), sha in zip(final.iterrows(), soak.batch["file_sha256"], strict=True):
        place = (row["platform_key"], str(row["target"]), sha)
        status, url = row["status"], row["url"] if isinstance(row["url"], str) else ""
        if status in ("uploaded", "skipped"):
            image = by_key.get(url.split("/img/", 1)[-1]) if "/img/" in url else None
            if soak.served.get(url) != sha:
                problems.append("URL does not serve the row's bytes")
            elif verdicts is not None and verdicts.get(index) is not True:
                problems.append("imgkit.verify did not verify it")
            elif image is None or (image["platform"], image["target"]) != place[:2]:
                problems.append("URL is not at the row's target")
            else:
                problems.append("")
        elif status in ("failed", "invalid"):
            if row["category"] in PASSING or bool(row["retryable"]):
                problems.append(f"failed for a passing reason ({row['category']})")
            elif stored_at[place]:
                problems.append("reported failed but stored")
            else:
                problems.append("")
        else:
            problems.append(f"not settled ({status})")
    return pd.Series(problems, index=final.index, dtype=object)


def stray_images(soak: Soak) -> int:
    """Stored images no final row points at (a copy stored elsewhere, or twice)."""
    claimed = {str(u).split("/img/", 1)[-1] for u in soak.final["url"] if isinstance(u, str)}
    return sum(1 for image in soak.store if image["key"] not in claimed)


def retries(soak: Soak) -> Counter[str]:
    """Retries (attempts beyond the first) per category, over every run that finished."""
    out: Counter[str] = Counter()
    for run in soak.runs:
        if run.results is None:
            continue
        again = run.results[run.results["attempts"] > 1]
        for category, attempts in zip(again["category"], again["attempts"], strict=True):
            out[str(category) or "(then answered)"] += int(attempts) - 1
    return out


def request_rates(soak: Soak) -> dict[str, dict[str, float]]:
    """Per platform: requests/s the sandbox saw while the platform was busy, and ceiling.

    Within each run, a platform's span is its first to last request; runs are added up.
    """
    ceilings: dict[str, float] = {}
    for name in set(soak.batch["shop"]):
        platform = soak.shops[name]["platform"]
        ceilings[platform] = ceilings.get(platform, 0.0) + float(soak.shops[name]["rate_per_s"])
    out: dict[str, dict[str, float]] = {}
    for platform, ceiling in ceilings.items():
        count, span = 0, 0.0
        for run in soak.runs:
            times = sorted(
                r["at"]
                for r in soak.request_log
                if r["platform"] == platform and run.started <= r["at"] <= run.ended
            )
            if len(times) >= 20:  # too few requests say nothing about pacing
                count, span = count + len(times), span + times[-1] - times[0]
        rate = count / span if span else 0.0
        out[platform] = {"requests": count, "rate": rate, "ceiling": ceiling}
    return out


def _counts(results: pd.DataFrame | None, which: Any) -> dict[str, int]:
    """Rows per status (``which`` given: per "status/category" of the rows it selects)."""
    if results is None:
        return {}
    if which is None:
        return {str(k): int(v) for k, v in results["status"].value_counts().items()}
    left = results[which(results)]
    return dict(
        Counter(f"{s}/{c or '-'}" for s, c in zip(left["status"], left["category"], strict=True))
    )


def figures(soak: Soak) -> dict[str, Any]:
    """Every figure of the soak as plain JSON-ready values."""
    final = soak.final
    problems = row_problems(soak)
    stats = {k: v for k, v in soak.stats.items() if isinstance(v, dict) and "faults" in v}
    faults: Counter[str] = Counter()
    rejections: Counter[str] = Counter()
    for platform in stats.values():
        faults.update(platform["faults"])
        rejections.update(platform["rejections"])
    rates = request_rates(soak)
    bulk_rate = sum(rates[p]["rate"] for p in BULK if p in rates)
    bulk_ceiling = sum(rates[p]["ceiling"] for p in BULK if p in rates)
    stored = final["status"].isin(["uploaded", "skipped"])
    return {
        "rows": len(final),
        "seed": soak.config.seed,
        "wall_s": round(soak.wall_s, 1),
        "runs": [
            {
                "number": r.number,
                "faults": r.faults,
                "killed": r.killed,
                "seconds": round(r.ended - r.started, 1),
                "statuses": _counts(r.results, None),
                "left": _counts(r.results, left_to_send),
            }
            for r in soak.runs
        ],
        "kills": sum(r.killed for r in soak.runs),
        "fault_plan": soak.fault_plan,
        "fault_kinds_unavailable": soak.unavailable,
        "statuses": final["status"].value_counts().to_dict(),
        "failed_categories": final.loc[~stored, "category"].value_counts().to_dict(),
        "retries": dict(retries(soak)),
        "faults_injected": dict(faults),
        "rejections": dict(rejections),
        "stored_images": len(soak.store),
        "duplicates": duplicates(soak.store),
        "duplicates_sandbox_stats": int(soak.stats["total"]["duplicates"]),
        "stray_images": stray_images(soak),
        "duplicate_rows": duplicate_rows(soak),
        "verified": int((stored & (problems == "")).sum()),
        "imgkit_verify": None if soak.verified is None else verify_counts(soak.verified),
        "lost": int((problems != "").sum()),
        "lost_reasons": problems[problems != ""].value_counts().to_dict(),
        "request_rates": rates,
        "bulk_rate": round(bulk_rate, 1),
        "bulk_ceiling": bulk_ceiling,
    }


def served(results: pd.DataFrame, http: httpx.Client) -> dict[str, str]:
    """url -> SHA-256 of what each stored row's URL serves ("" for anything but a 200)."""
    stored = results["status"].isin(["uploaded", "skipped"])
    urls = sorted({u for u in results.loc[stored, "url"] if isinstance(u, str) and u})

    def one(url: str) -> tuple[str, str]:
        response = http.get(url)
        return url, hashlib.sha256(response.content).hexdigest() if response.is_success else ""

    with ThreadPoolExecutor(4) as pool:
        return dict(pool.map(one, urls))


def check_urls(soak: Soak, http: httpx.Client) -> None:
    """Download every stored row's URL ourselves, and through ``imgkit.verify``."""
    soak.served = served(soak.final, http)
    # Bytes only (reencoded=False): the sandbox serves exactly what it stored.
    soak.verified = imgkit.verify(soak.final, rate_per_host=500.0, reencoded=False)


def report(fig: dict[str, Any]) -> str:
    """The figures as text, one block per question."""

    def counts(values: dict[str, Any]) -> str:
        return ", ".join(f"{k} {v}" for k, v in sorted(values.items())) or "none"

    lines = [
        f"soak: {fig['rows']} rows, seed {fig['seed']}, {fig['kills']} SIGKILLs, "
        f"{len(fig['runs'])} runs, {fig['wall_s']} s",
        f"fault kinds the sandbox refused: {', '.join(fig['fault_kinds_unavailable']) or 'none'}",
        f"rows per final status: {counts(fig['statuses'])}",
        f"final categories of rows not stored: {counts(fig['failed_categories'])}",
        f"retries per category (finished runs): {counts(fig['retries'])}",
        f"faults injected per kind: {counts(fig['faults_injected'])}",
        f"refused by the sandbox's rate limits etc.: {counts(fig['rejections'])}",
        f"images stored: {fig['stored_images']} ({fig['stray_images']} that no row points at)",
        f"duplicates stored (from the store): {fig['duplicates']} "
        f"(sandbox stats: {fig['duplicates_sandbox_stats']})",
        *[f"  duplicate: {d}" for d in fig["duplicate_rows"]],
        f"rows lost: {fig['lost']} {counts(fig['lost_reasons']) if fig['lost'] else ''}".rstrip(),
        f"uploaded/skipped rows verified (URL serves the row's SHA-256 at its target): "
        f"{fig['verified']}; imgkit.verify: {fig['imgkit_verify'] or 'not available'}",
        "runs (left to send: status/category):",
    ]
    for run in fig["runs"]:
        what = "SIGKILL" if run["killed"] else counts(run["statuses"])
        left = f"; left {counts(run['left'])}" if run["left"] else ""
        lines.append(
            f"  run {run['number']}{'' if run['faults'] else ' (no faults)'}: "
            f"{what}{left} ({run['seconds']} s)"
        )
    for platform, rate in sorted(fig["request_rates"].items()):
        lines.append(
            f"  {platform:15} {rate['requests']:6} requests, {rate['rate']:6.1f}/s "
            f"of {rate['ceiling']:g}/s"
        )
    share = fig["bulk_rate"] / fig["bulk_ceiling"] if fig["bulk_ceiling"] else 0.0
    lines.append(
        f"request rate of the bulk platforms: {fig['bulk_rate']}/s = {share:.0%} of the "
        f"{fig['bulk_ceiling']:g}/s ceiling (sum of their shops' rate_per_s, paced per shop)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse the options, soak, print; 1 when a duplicate was stored or a row was lost."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--fault-scale", type=float, default=1.0)
    parser.add_argument(
        "--kinds", default=",".join(FAULT_KINDS), help="fault kinds, comma-separated"
    )
    parser.add_argument("--rate", type=float, default=40.0, help="each shop's rate_per_s")
    parser.add_argument("--timeout", type=float, default=2.0, help="per-request timeout, s")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    kinds = tuple(k for k in args.kinds.split(",") if k)
    unknown = set(kinds) - set(FAULT_KINDS)
    if unknown:
        parser.error(f"unknown fault kinds {sorted(unknown)}; known: {list(FAULT_KINDS)}")
    config = Config(
        rows=args.rows,
        seed=args.seed,
        kills=args.kills,
        fault_scale=args.fault_scale,
        kinds=kinds,
        rate_per_s=args.rate,
        timeout_s=args.timeout,
    )
    start = time.monotonic()
    say = (lambda text: None) if args.json else (lambda text: print(text, file=sys.stderr))
    fig = figures(run(config, say))
    fig["wall_s"] = round(time.monotonic() - start, 1)
    print(json.dumps(fig, indent=2, ensure_ascii=False) if args.json else report(fig))
    return 1 if fig["duplicates"] or fig["duplicates_sandbox_stats"] or fig["lost"] else 0


if __name__ == "__main__":
    sys.exit(main())
