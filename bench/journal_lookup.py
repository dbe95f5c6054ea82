"""Benchmark: what settling one unanswered upload costs in the journal, by journal size.

A look-up that settles an unanswered upload must not take another row's image for its
own, so for each candidate the platform lists it asks the journal "is this id already
recorded at this target?". This script fills a journal with N confirmed uploads at one
target (a picture-space category holding them all: the worst case) and times, per call:

* **before**: reading every id the target holds (``Journal.image_ids``), then testing
  the candidate: what the engine did until the claim check became an index probe;
* **now**: one indexed probe for the candidate (``Journal.holds_image``), what the
  engine's look-up asks.

It prints both at each size and the ratio between sizes: the probe stays flat (O(log n))
while the full read grows with n. One run, one process, the same file for both.

    python bench/journal_lookup.py                 # sizes 5,000 and 100,000
    python bench/journal_lookup.py --sizes 5000 1000000
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from imgkit.engine.journal import Journal, Record

PLACE = ("taobao_picture", "http://127.0.0.1:8765", "acct", "0")
CALLS = 200


def fill(path: Path, n: int) -> None:
    """``n`` confirmed entries at :data:`PLACE`, written in one transaction (setup only)."""
    with Journal(path) as journal:
        for i in range(n):
            record = Record(PLACE[0], "shop", PLACE[3], f"{i:064x}", PLACE[1], PLACE[2])
            journal.begin(f"{i:064x}", record, commit=False)
            journal.confirm(f"{i:064x}", f"u/{i}", str(10**9 + i), commit=False)
        journal.flush()


def per_call_ms(journal: Journal, n: int) -> tuple[float, float]:
    """Median ms per claim check: the full read, then the probe (a candidate in the middle)."""
    candidate = str(10**9 + n // 2)
    before, now = [], []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(max(1, CALLS // 20)):
            assert candidate in journal.image_ids(*PLACE)
        before.append((time.perf_counter() - started) / max(1, CALLS // 20) * 1000)
        started = time.perf_counter()
        for _ in range(CALLS):
            assert journal.holds_image(*PLACE, candidate)
        now.append((time.perf_counter() - started) / CALLS * 1000)
    return statistics.median(before), statistics.median(now)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5_000, 100_000])
    args = parser.parse_args()
    figures: list[tuple[int, float, float]] = []
    with tempfile.TemporaryDirectory(prefix="imgkit-journal-bench-") as folder:
        for n in args.sizes:
            path = Path(folder) / f"j{n}.sqlite"
            fill(path, n)
            with Journal(path) as journal:
                before, now = per_call_ms(journal, n)
            figures.append((n, before, now))
            print(
                f"{n:>9,} entries at one target: before {before:8.3f} ms/check, "
                f"now {now:7.4f} ms/check ({before / now:,.0f}x less)"
            )
    if len(figures) > 1:
        (n0, b0, p0), (n1, b1, p1) = figures[0], figures[-1]
        print(
            f"from {n0:,} to {n1:,} entries ({n1 / n0:g}x): before grows {b1 / b0:.1f}x, "
            f"now {p1 / p0:.2f}x (flat is 1)"
        )


if __name__ == "__main__":
    main()
