"""Benchmark: ``imgkit.fit`` against the Pillow loop an analyst would write, same images.

**The baseline, the honest Pillow loop** (:func:`pillow_loop`), one process: for each
file, ``Image.open``; when it is over the pixel limit ``Image.thumbnail`` (Pillow's own
fast path: it has libjpeg decode a JPEG at a reduced scale first, ``reducing_gap=2``);
``convert("RGB")``; then the quality: ``save(quality=95, optimize=True)`` and, when that is
too big, a binary search over 40..94 for the highest quality whose ``optimize=True``
encode fits, each probe into a ``BytesIO``; the bytes are written once.  It is honest
because it is what a competent analyst writes and no slower than it needs to be: the
optimal search for the exact answer (about seven encodes), Pillow's fastest resize, no
temporary files; and it looks for the same thing as imgkit — the same quality range, the
same encoder settings (``optimize=True``: the smallest file at each quality, hence the
highest quality within the limit) — so its output is the reference for "equal output".

Cases: ``photo->1MB`` (the headline, the issue's: 3000x3000 JPEGs of about 4 MB, textured
and noisy like real photos, for Qianmi's 1 MiB limit), ``phone`` (the same kind of JPEG
for a Taobao phone picture: at most 620x960 pixels, so downscaled) and ``png`` (2000x2000
photos saved as PNG, for the 1 MiB limit: they become JPEG).

In one run, per case, the loop and ``fit`` (default workers: every core) run on the same
files, alternated, ``--repeats`` times each, each ``fit`` into an empty cache; it prints
images/s (median, and the best), cores used (CPU seconds of the process and of its
worker processes over wall seconds), the ratio of medians and the ratio per CPU-second
(images per CPU-second, what the ratio would be with equal cores: other work on this
shared machine moves the first, hardly this one), the output quality (the JPEG quality
each chose, read back from the quantization tables, and PSNR against the source, or
against the source resized with LANCZOS from a full decode where the output is smaller),
the practical floor (one full decode and one encode per image at the chosen quality, one
process), ``fit`` again over the same rows (served by the cache's index), and the first
``fit`` of the run, which starts the worker processes.  Last, the loop once more per case
with its process keeping the heap as ``fit``'s workers do
(:func:`imgkit.intake.fit_pool.keep_heap`: glibc's allocator keeps large blocks instead of
faulting fresh pages in at every image), and ``fit``'s ratio per CPU-second against that:
how much of the ratio is the allocator setting, and how much the work saved.  The exit
status is 1 when the headline ratio, or its ratio per CPU-second, is below 3.

    python bench/fit.py                   # 16 headline images, 3 repeats
    python bench/fit.py -n 8 --repeats 5
    python bench/fit.py --quick           # 4 images per case, 1 repeat
    python bench/fit.py --only photo->1MB # the headline case alone
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from imgkit.intake.fit_pool import default_workers, keep_heap
from imgkit.intake.fitting import QUALITY_MAX, QUALITY_MIN, fit
from imgkit.platforms import get_adapter
from imgkit.sandbox import sandbox_shops

SHOPS = sandbox_shops("http://127.0.0.1:9")
TARGET = 3.0
HEADLINE = "photo->1MB"


# --- images ------------------------------------------------------------------------------------


def photo(width: int, height: int, seed: int) -> Image.Image:
    """A photo-like image: a smooth colour field, a mid-frequency texture and sensor-like
    noise, so it does not compress to nothing (about 4 MB at 3000x3000, quality 92)."""
    rng = np.random.default_rng(seed)
    field = Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8))
    base = np.asarray(field.resize((width, height), Image.Resampling.BICUBIC), np.float32)
    coarse = rng.normal(128, 40, (height // 8, width // 8, 3)).clip(0, 255).astype(np.uint8)
    texture = Image.fromarray(coarse).resize((width, height), Image.Resampling.BILINEAR)
    noise = rng.normal(0, 6 + seed % 5, (height, width, 1)).astype(np.float32)
    pixels = base + np.asarray(texture, np.float32) - 128 + noise
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8), "RGB")


@dataclass(frozen=True)
class Case:
    name: str
    platform: str
    options: dict[str, str]
    files: list[Path]
    max_size: tuple[int, int] | None  # the pixel limit, for the loop

    @property
    def limit(self) -> int:
        return get_adapter(self.platform).limits.max_bytes

    def batch(self) -> pd.DataFrame:
        shop, target = {
            "qianmi_sku": ("qianmi_shop", "18353/g"),
            "taobao_picture": ("tb_picture_main", "0"),
        }[self.platform]
        rows = [
            {
                "platform": self.platform,
                "shop": shop,
                "file": str(path),
                **self.options,
                "target": f"{target}{i}" if target.endswith("/g") else target,
            }
            for i, path in enumerate(self.files)
        ]
        return pd.DataFrame(rows)


def make_cases(folder: Path, n: int, quick: bool) -> list[Case]:
    def files(stem: str, count: int, size: int, fmt: str, seed: int) -> list[Path]:
        out = []
        for i in range(count):
            path = folder / f"{stem}{i}.{fmt.lower().replace('jpeg', 'jpg')}"
            params = {"quality": 92} if fmt == "JPEG" else {"compress_level": 6}
            photo(size, size, seed + i).save(path, fmt, **params)
            out.append(path)
        return out

    small = max(2, n // 2)
    return [
        Case(HEADLINE, "qianmi_sku", {}, files("photo", n, 3000, "JPEG", 100), None),
        Case(
            "phone",
            "taobao_picture",
            {"client_type": "phone"},
            files("phone", small, 3000, "JPEG", 200),
            (620, 960),
        ),
        Case(
            "png", "qianmi_sku", {}, files("png", small, 1200 if quick else 2000, "PNG", 300), None
        ),
    ]


# --- the baseline --------------------------------------------------------------------------------


def best_quality(image: Image.Image, limit: int) -> tuple[bytes, int] | None:
    """Quality 95 when it fits, else the binary search over 40..94 (optimize=True)."""

    def encode(quality: int) -> bytes:
        buf = io.BytesIO()
        image.save(buf, "JPEG", quality=quality, optimize=True)
        return buf.getvalue()

    top = encode(QUALITY_MAX)
    if len(top) <= limit:
        return top, QUALITY_MAX
    best, low, high = None, QUALITY_MIN, QUALITY_MAX - 1
    while low <= high:
        middle = (low + high) // 2
        data = encode(middle)
        if len(data) <= limit:
            best, low = (data, middle), middle + 1
        else:
            high = middle - 1
    return best


def pillow_loop(case: Case, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in case.files:
        with Image.open(path) as opened:
            image: Image.Image = opened
            if case.max_size and (
                image.width > case.max_size[0] or image.height > case.max_size[1]
            ):
                image.thumbnail(case.max_size)
            image = image.convert("RGB")
        found = best_quality(image, case.limit)
        if found is None:
            raise SystemExit(f"{path}: does not fit at quality {QUALITY_MIN}")
        target = out / f"{path.stem}.jpg"
        target.write_bytes(found[0])
        written.append(target)
    return written


def imgkit_fit(case: Case, out: Path) -> list[Path]:
    fitted = fit(case.batch(), out, shops=SHOPS, progress=False)
    if not fitted["ok"].all():
        raise SystemExit(f"fit left rows invalid: {fitted.loc[~fitted['ok'], 'issues']}")
    return [Path(p) for p in fitted["file"]]


# --- measuring ---------------------------------------------------------------------------------


def tree_cpu() -> float:
    """CPU seconds of this process and of its descendants alive now (Linux /proc)."""
    own = os.times()
    total = own.user + own.system
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        ticks[int(entry.name)] = int(fields[11]) + int(fields[12])
    family, frontier = set(), {os.getpid()}
    while frontier:
        family |= frontier
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - family
    family.discard(os.getpid())
    return total + sum(ticks[pid] for pid in family) / os.sysconf("SC_CLK_TCK")


@dataclass
class Timing:
    walls: list[float]
    cores: list[float]

    def rate(self, n: int, pick: Callable[[list[float]], float] = statistics.median) -> float:
        return n / pick(self.walls)


def timed(run: Callable[[], object]) -> tuple[float, float]:
    cpu, wall = tree_cpu(), time.perf_counter()
    run()
    wall = time.perf_counter() - wall
    return wall, (tree_cpu() - cpu) / wall


_TABLES: dict[tuple[tuple[int, ...], ...], int] = {}


def jpeg_quality(path: Path) -> int:
    """The quality a Pillow-made JPEG was saved at, from its quantization tables."""
    if not _TABLES:
        for quality in range(1, 101):
            buf = io.BytesIO()
            Image.new("RGB", (16, 16)).save(buf, "JPEG", quality=quality)
            tables = Image.open(buf).quantization or {}
            _TABLES[tuple(tuple(t) for _, t in sorted(tables.items()))] = quality
    with Image.open(path) as image:
        tables = image.quantization or {}
        return _TABLES.get(tuple(tuple(t) for _, t in sorted(tables.items())), -1)


def psnr(path: Path, source: Path) -> float:
    with Image.open(path) as out, Image.open(source) as src:
        reference = src.convert("RGB")
        if reference.size != out.size:
            reference = reference.resize(out.size, Image.Resampling.LANCZOS)
        a = np.asarray(out.convert("RGB"), np.float32)
        b = np.asarray(reference, np.float32)
    mse = float(np.mean((a - b) ** 2))
    return 10 * np.log10(255**2 / mse) if mse else float("inf")


def floor_rate(case: Case, qualities: list[int]) -> float:
    """Images/s of one full decode and one optimized encode per image, one process."""
    wall = time.perf_counter()
    for path, quality in zip(case.files, qualities, strict=True):
        with Image.open(path) as image:
            if case.max_size:  # decoded at a reduced scale, as the loop's thumbnail does
                image.draft(None, (2 * case.max_size[0], 2 * case.max_size[1]))
            pixels = image.convert("RGB")
        if case.max_size:
            pixels = pixels.resize((620, 620), Image.Resampling.LANCZOS)
        pixels.save(io.BytesIO(), "JPEG", quality=quality, optimize=True)
    return len(case.files) / (time.perf_counter() - wall)


@dataclass(frozen=True)
class Result:
    ratio: float  # of the medians of images/s
    per_cpu: float  # the ratio of images per CPU-second
    fit_per_cpu: float  # fit's images per CPU-second


def run_case(case: Case, repeats: int, work: Path) -> Result:
    """Run the case and print its figures."""
    n = len(case.files)
    loop, ours = Timing([], []), Timing([], [])
    loop_out: list[Path] = []
    fit_out: list[Path] = []
    for repeat in range(repeats):
        for name, timing in (("loop", loop), ("fit", ours)):
            out = work / f"{case.name}-{name}-{repeat}".replace(">", "")
            result: list[Path] = []

            def go(name: str = name, out: Path = out, result: list[Path] = result) -> None:
                made = pillow_loop(case, out) if name == "loop" else imgkit_fit(case, out)
                result.extend(made)

            wall, cores = timed(go)
            timing.walls.append(wall)
            timing.cores.append(cores)
            if name == "loop":
                loop_out = result
            else:
                fit_out = result
    last = work / f"{case.name}-fit-{repeats - 1}".replace(">", "")
    again, again_cores = timed(lambda: imgkit_fit(case, last))
    q_loop = [jpeg_quality(p) for p in loop_out]
    q_fit = [jpeg_quality(p) for p in fit_out]
    same = sum(a == b for a, b in zip(q_loop, q_fit, strict=True))
    higher = sum(b > a for a, b in zip(q_loop, q_fit, strict=True))
    p_loop = statistics.mean(psnr(p, s) for p, s in zip(loop_out, case.files, strict=True))
    p_fit = statistics.mean(psnr(p, s) for p, s in zip(fit_out, case.files, strict=True))
    sizes = statistics.mean(p.stat().st_size for p in case.files) / 1e6
    floor = floor_rate(case, q_fit)
    ratio = ours.rate(n) / loop.rate(n)
    with Image.open(case.files[0]) as first:
        shape = f"{first.width}x{first.height} {first.format}"
    print(
        f"\n== {case.name}: {n} images, {shape}, {sizes:.1f} MB on average, "
        f"limit {case.limit / 2**20:.0f} MiB"
        + (f", at most {case.max_size[0]}x{case.max_size[1]} px" if case.max_size else "")
    )
    for label, timing in (("Pillow loop", loop), ("imgkit.fit", ours)):
        print(
            f"  {label:<12} {timing.rate(n):6.2f} images/s median ({timing.rate(n, min):6.2f} "
            f"best), {statistics.median(timing.cores):.2f} cores used"
        )
    best = ours.rate(n, min) / loop.rate(n, min)
    per_cpu = (ours.rate(n) / statistics.median(ours.cores)) / (
        loop.rate(n) / statistics.median(loop.cores)
    )
    print(
        f"  ratio        {ratio:6.2f}x (medians; {best:.2f}x best); {per_cpu:.2f}x per CPU-second"
    )
    print(
        f"  quality      JPEG quality the same on {same}/{n}, higher on {higher}/{n} "
        f"(mean {statistics.mean(q_fit):.1f} vs {statistics.mean(q_loop):.1f}); "
        f"PSNR vs source {p_fit:.2f} dB vs {p_loop:.2f} dB"
    )
    print(
        f"  floor        {floor:6.2f} images/s per core (one decode + one encode), "
        f"{floor * default_workers():.2f} on {default_workers()} cores; "
        f"fit reaches {ours.rate(n) / (floor * default_workers()):.0%} of it"
    )
    print(
        f"  cached       {n / again:6.2f} images/s: fit again over the same rows "
        f"({again_cores:.2f} cores)"
    )
    return Result(ratio, per_cpu, ours.rate(n) / statistics.median(ours.cores))


def kept_heap_loops(cases: list[Case], per_cpu: list[float], work: Path) -> None:
    """The loop once more per case, this process keeping the heap as fit's workers do."""
    kept = keep_heap()
    print(
        "\nthe Pillow loop again, its process keeping the heap as fit's workers do"
        + ("" if kept else " (not on this platform: the same loop)")
    )
    for case, fit_rate in zip(cases, per_cpu, strict=True):
        out = work / f"{case.name}-loop-heap".replace(">", "")
        wall, cores = timed(lambda case=case, out=out: pillow_loop(case, out))
        rate = len(case.files) / wall
        print(
            f"  {case.name:<11} {rate:6.2f} images/s, {cores:.2f} cores used; "
            f"fit {fit_rate / (rate / cores):.2f}x per CPU-second against it"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=16, help="headline images (others: half)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="4 images, 1 repeat")
    parser.add_argument(
        "--only", action="append", metavar="CASE", help="run this case (repeatable; default all)"
    )
    args = parser.parse_args(argv)
    n, repeats = (4, 1) if args.quick else (args.n, args.repeats)
    with tempfile.TemporaryDirectory(prefix="imgkit-bench-fit-") as tmp:
        work = Path(tmp)
        (work / "src").mkdir()
        cases = make_cases(work / "src", n, args.quick)
        print(
            f"imgkit.fit vs the Pillow loop; {default_workers()} cores, "
            f"Pillow {Image.__version__}, {repeats} repeat(s), alternated"
        )
        cold, cold_cores = timed(lambda: imgkit_fit(cases[0], work / "cold"))
        print(
            f"first fit of the run (starts the worker processes): "
            f"{len(cases[0].files) / cold:.2f} images/s, {cold_cores:.2f} cores"
        )
        if args.only:
            unknown = set(args.only) - {case.name for case in cases}
            if unknown:
                parser.error(f"no case {sorted(unknown)}; the cases: {[c.name for c in cases]}")
            cases = [case for case in cases if case.name in args.only]
        results = [run_case(case, repeats, work) for case in cases]
        kept_heap_loops(cases, [result.fit_per_cpu for result in results], work)
    if cases[0].name != HEADLINE:
        return 0
    head = results[0]
    passed = head.ratio >= TARGET and head.per_cpu >= TARGET
    print(
        f"\n{'PASS' if passed else 'FAIL'}: headline ratio {head.ratio:.2f}x, "
        f"{head.per_cpu:.2f}x per CPU-second (target {TARGET:.0f}x for both)"
    )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
