"""Benchmark: the peak memory of an upload does not grow with the batch.

Uploads 1,000 and then 10,000 rows of ~500 KB JPEGs and reports the peak RSS of each.
Each size runs in a fresh child process (``python bench/memory.py --child ...``) that
uploads with ``imgkit.upload`` and, at the end, reads its own peak RSS and prints it, so
the two peaks do not mix.  Both ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` and Linux's
``VmHWM`` are printed; the figure used is ``VmHWM`` where there is one, because on Linux a
child started by ``subprocess`` (vfork + exec) begins with the parent's peak in its
``ru_maxrss``, which would hide a child peak below the parent's (``ru_maxrss`` is used
elsewhere).
The sandbox runs in yet another process (``python -m imgkit sandbox`` on a free loopback
port); it keeps every stored image in memory, so it grows, but it is not measured, and it
is reset between the two sizes.

Destination: Douyin (``doudian``, seller 38173182, folder ``0``): 10 MB per image and no
limit on images per folder, unlike Tmall items and Qianmi SKUs (5 each).  The rows go to
``--shops`` copies of the sandbox shop ``douyin_shop`` under distinct names (same
credentials), each at ``rate_per_s`` ``--rate``, so pacing does not make the run long.

Files: one distinct file per row, the larger batch's rows being a superset of the smaller
one's (10,000 x ~500 KB = ~5 GB in a temp dir, deleted at the end; the free space is
checked first and ``--dir`` puts the files elsewhere).  Reusing fewer files is not an
option: identical bytes to the same shop and folder are ``duplicate_row`` in validation,
and spreading them over differently named copies of one shop would pass validation (it
compares shop names) but store duplicates in the one real Douyin folder behind them.

Target: peak RSS of the 10,000-row upload <= 1.2x that of the 1,000-row upload.
Exit status 1 when it is missed.

``--scale`` (issue 15) uploads 10,000, 100,000 and 1,000,000 rows of ~2 KB images (about
4 GB of small files; the sandbox holds them all in memory) to a fast target (8 shops,
concurrency 32, no rate limit) with a journal, and prints for each size the client CPU per
row, the peak RSS, how much the upload raised it and the results frame's own size.
Target: CPU per row flat (the largest size <= 1.2x the smallest), memory growing with the
frames only (at most twice the results' and the batch's own growth per row); ``--drops
0.02`` drops 2 % of the connections after the image is stored, so that look-ups settle
them (each a journal probe).  The growth is also split at the end of validation (its
peak read inside ``imgkit.upload``): what validating the batch adds, and what the run
after it adds.  The whole run takes most of an hour on 2 cores; ``--sizes`` picks others.

    python bench/memory.py                       # 1,000 and 10,000 rows (~5 GB of files)
    python bench/memory.py --sizes 200,2000      # a quick run
    python bench/memory.py --scale --sizes 10000,100000   # the scale mode, without 1M
"""

from __future__ import annotations

import argparse
import io
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from PIL import Image
from sandbox_process import start_sandbox, stop_sandbox

import imgkit
import imgkit.engine.uploads as uploads
from imgkit.sandbox import sandbox_shops

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_SHOP = "douyin_shop"
FOLDER = "0"


# --- the sandbox, in its own process --------------------------------------------------------


def control(base_url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    response = httpx.post(
        f"{base_url}/_sandbox/{path}", json=body or {}, timeout=60, trust_env=False
    )
    response.raise_for_status()
    return response.json()


# --- files ----------------------------------------------------------------------------------


def _bases(kb: int, rng: random.Random) -> list[bytes]:
    """~40 JPEGs of about ``kb`` KB each (noise, so the size tracks the pixel count)."""
    out = []
    side = 800
    for n in range(40):
        quality = 88
        while True:
            noise = Image.effect_noise((side // 2, side // 2), 50 + n % 20).convert("RGB")
            tint = Image.new("RGB", (side, side), (rng.randrange(256), 90, rng.randrange(256)))
            img = Image.blend(noise.resize((side, side)), tint, 0.3)
            buf = io.BytesIO()
            img.save(buf, "JPEG", quality=quality)
            size = len(buf.getvalue()) / 1024
            if abs(size - kb) <= kb * 0.1 or not 32 <= side <= 4000:
                break
            side = int(side * (kb / size) ** 0.5)
        out.append(buf.getvalue())
    return out


def make_files(root: Path, count: int, kb: int, seed: int = 5) -> list[str]:
    """``count`` distinct JPEG files of about ``kb`` KB (a numbered comment in each)."""
    bases = _bases(kb, random.Random(seed))
    files = []
    for n in range(count):
        folder = root / f"d{n // 1000:03d}"
        if n % 1000 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        data = bases[n % len(bases)]
        comment = f"imgkit memory bench {n}".encode()
        segment = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
        path = folder / f"img_{n:06d}.jpg"
        path.write_bytes(data[:2] + segment + data[2:])
        files.append(str(path))
    return files


# --- one size, in a child process -----------------------------------------------------------


def ru_maxrss_mb() -> float:
    """``getrusage(RUSAGE_SELF).ru_maxrss`` in MB (KB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def vm_hwm_mb() -> float | None:
    """Linux's ``VmHWM`` (peak RSS of this process's own memory since its exec), in MB."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def peaks() -> dict[str, float | None]:
    return {"ru_maxrss_mb": ru_maxrss_mb(), "vm_hwm_mb": vm_hwm_mb()}


def child(args: argparse.Namespace) -> None:
    after_imports = peaks()
    files = Path(args.files_from).read_text().split("\n")[: args.rows]
    template = sandbox_shops(args.base_url)[TEMPLATE_SHOP]
    names = [f"bench_mem_{i}" for i in range(args.shops)]
    shops = {name: {**template, "rate_per_s": args.rate} for name in names}
    batch = pd.DataFrame(
        {
            "platform": "doudian",
            "shop": [names[i % len(names)] for i in range(len(files))],
            "file": files,
            "target": FOLDER,
        }
    )
    before_upload = peaks()
    # The peak as validation leaves it, read inside imgkit.upload (which validates first):
    # what validation adds and what the run adds after it are different people's work.
    validated: dict[str, float | None] = {}
    validate = uploads._validate_through

    def validate_and_note(*given: Any, **options: Any) -> pd.DataFrame:
        frame = validate(*given, **options)
        validated.update(peaks())
        return frame

    uploads._validate_through = validate_and_note
    journal: str | bool = args.journal or False
    start, cpu = time.perf_counter(), time.process_time()
    results = imgkit.upload(
        batch, shops=shops, journal=journal, progress=False, concurrency=args.concurrency
    )
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    report = {
        "rows": len(batch),
        "statuses": results["status"].value_counts().to_dict(),
        "wall_s": wall,
        "cpu_s": cpu,
        "batch_mb": float(batch.memory_usage(deep=True).sum()) / 1024**2,
        "results_mb": float(results.memory_usage(deep=True).sum()) / 1024**2,
        "after_imports": after_imports,
        "before_upload": before_upload,
        "validated": validated,
        "end": peaks(),
    }
    print(json.dumps(report))


def run_child(base_url: str, files_list: Path, rows: int, args: argparse.Namespace) -> Any:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        "--base-url",
        base_url,
        "--files-from",
        str(files_list),
        "--rows",
        str(rows),
        "--shops",
        str(args.shops),
        "--rate",
        str(args.rate),
        "--concurrency",
        str(args.concurrency),
    ]
    if args.journal_dir:
        command += ["--journal", str(Path(args.journal_dir) / f"journal-{rows}.sqlite")]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the {rows:,}-row child failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", help="rows, smallest first (1000,10000; --scale: 10k,100k,1M)")
    parser.add_argument("--kb", type=int, default=500, help="image size in KB (500)")
    parser.add_argument("--shops", type=int, default=4, help="shop copies (4)")
    parser.add_argument("--rate", type=float, default=250.0, help="rate_per_s per shop (250)")
    parser.add_argument("--concurrency", type=int, default=16, help="imgkit's cap (16)")
    parser.add_argument(
        "--scale",
        action="store_true",
        help="10k, 100k and 1M rows of ~2 KB images, journal on, a fast target",
    )
    parser.add_argument("--with-journal", action="store_true", help="upload with a journal")
    parser.add_argument(
        "--drops", type=float, default=0.0, help="share of uploads dropped after the store (0)"
    )
    parser.add_argument("--journal", help=argparse.SUPPRESS)
    parser.add_argument("--dir", help="where to write the files (default: a temp dir)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--files-from", help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    if args.scale:
        args.sizes = args.sizes or "10000,100000,1000000"
        args.kb, args.shops, args.rate, args.concurrency = 2, 8, 100000.0, 32
        args.with_journal = True
    args.sizes = args.sizes or "1000,10000"
    sizes = [int(x) for x in args.sizes.split(",")]
    small, large = sizes[0], sizes[-1]
    root = Path(tempfile.mkdtemp(prefix="imgkit-bench-memory-", dir=args.dir))
    args.journal_dir = str(root) if args.with_journal else ""
    need = large * max(args.kb, 4) * 1024 * 1.15  # a small file takes a 4 KB block
    free = shutil.disk_usage(root).free
    if free < need + 1024**3:
        shutil.rmtree(root, ignore_errors=True)
        raise SystemExit(
            f"{large:,} files of ~{args.kb} KB need ~{need / 1024**3:.1f} GB; {root.parent} "
            f"has {free / 1024**3:.1f} GB free: pass --dir on a bigger disk"
        )
    proc = None
    try:
        start = time.perf_counter()
        files = make_files(root / "images", large, args.kb)
        files_list = root / "files.txt"
        files_list.write_text("\n".join(files))
        total = sum(Path(f).stat().st_size for f in files)
        print(
            f"files: {large:,} distinct JPEGs, mean {total / large / 1024:.0f} KB, "
            f"{total / 1024**3:.2f} GB in {root} ({time.perf_counter() - start:.1f} s to write)"
        )
        proc, base_url = start_sandbox(root / "sandbox.log")
        print(
            f"sandbox: pid {proc.pid} at {base_url}; doudian folder {FOLDER}, {args.shops} "
            f"shops at rate_per_s {args.rate:g}, imgkit concurrency {args.concurrency}"
        )
        reports = {}
        for rows in sizes:
            control(base_url, "reset")
            if args.drops:  # connections dropped after the image is stored: look-ups settle
                control(base_url, "faults", {"seed": 3, "drop_after_store": args.drops})
            report = run_child(base_url, files_list, rows, args)
            reports[rows] = report
            statuses = ", ".join(f"{k} {v:,}" for k, v in report["statuses"].items())
            end, imports = report["end"], report["after_imports"]
            hwm = "n/a" if end["vm_hwm_mb"] is None else f"{end['vm_hwm_mb']:.1f} MB"
            hwm_imports = "n/a" if imports["vm_hwm_mb"] is None else f"{imports['vm_hwm_mb']:.1f}"
            print(
                f"{rows:>7,} rows: peak RSS {peak(report):7.1f} MB  [VmHWM {hwm}, ru_maxrss "
                f"{end['ru_maxrss_mb']:.1f} MB; after imports {hwm_imports} / "
                f"{imports['ru_maxrss_mb']:.1f} MB]  upload {report['wall_s']:.1f} s, "
                f"{rows / report['wall_s']:.0f} rows/s; {statuses}"
            )
            grew = peak(report) - (report["before_upload"]["vm_hwm_mb"] or 0.0)
            print(
                f"{'':>13} client CPU {report['cpu_s'] / rows * 1000:.3f} ms/row; the upload "
                f"raised the peak by {grew:.1f} MB ({grew * 1024 / rows:.2f} KB/row); the "
                f"results frame is {report['results_mb']:.1f} MB "
                f"({report['results_mb'] * 1024 / rows:.2f} KB/row), the batch "
                f"{report['batch_mb']:.1f} MB"
            )
            after = report["validated"].get("vm_hwm_mb")
            if after is not None:
                checking = after - (report["before_upload"]["vm_hwm_mb"] or 0.0)
                print(
                    f"{'':>13} of which validation {checking:.1f} MB "
                    f"({checking * 1024 / rows:.2f} KB/row), the run after it "
                    f"{grew - checking:.1f} MB ({(grew - checking) * 1024 / rows:.2f} KB/row)"
                )
    finally:
        if proc is not None:
            stop_sandbox(proc)
        shutil.rmtree(root, ignore_errors=True)
    imports = reports[small]["after_imports"]
    if imports["vm_hwm_mb"] is not None and imports["ru_maxrss_mb"] > imports["vm_hwm_mb"] + 5:
        print(
            "note: ru_maxrss started above the child's own memory: on Linux a child spawned by\n"
            "      vfork (as subprocess does) inherits the parent's peak RSS into ru_maxrss at\n"
            "      exec, so the peak used is VmHWM, which counts only the child's own memory."
        )
    big, little = peak(reports[large]), peak(reports[small])
    ratio = big / little
    base = reports[small]["after_imports"]["vm_hwm_mb"] or 0.0
    cpu = {rows: r["cpu_s"] / rows * 1000 for rows, r in reports.items()}
    cpu_ratio = cpu[large] / cpu[small]
    print(
        f"\nsummary: peak RSS {big:.1f} MB at {large:,} rows vs {little:.1f} MB at {small:,} "
        f"= {ratio:.2f}x; +{big - little:.1f} MB, "
        f"{(big - little) * 1024 / (large - small):.2f} KB per extra row"
    )
    frame_growth = (reports[large]["results_mb"] - reports[small]["results_mb"]) * 1024
    print(
        f"         the results frame grew {frame_growth / (large - small):.2f} KB per extra "
        f"row; client CPU per row {cpu[small]:.3f} ms at {small:,} rows, {cpu[large]:.3f} ms "
        f"at {large:,} = {cpu_ratio:.2f}x (flat: <= 1.2x)"
    )
    if base:
        print(
            f"         above the {base:.1f} MB after imports: {little - base:.1f} MB at "
            f"{small:,} rows, {big - base:.1f} MB at {large:,} rows"
        )
    all_uploaded = all(r["statuses"] == {"uploaded": r["rows"]} for r in reports.values())
    if not all_uploaded:
        print("note: not every row was uploaded (see the statuses above)")
    # --scale: CPU per row stays flat and memory grows with the frames only (the results'
    # and the batch's own, twice over for the allocator's slack); otherwise (big images)
    # the peak does not grow with the batch.
    if args.scale:
        batch_growth = (reports[large]["batch_mb"] - reports[small]["batch_mb"]) * 1024
        per_row = (big - little) * 1024 / (large - small)
        frames = (frame_growth + batch_growth) / (large - small)
        flat_cpu, with_frames = cpu_ratio <= 1.2, per_row <= 2 * frames
        print(
            f"         CPU per row flat: {'met' if flat_cpu else 'MISSED'}; memory "
            f"{per_row:.2f} KB per extra row against the frames' {frames:.2f} KB (at most "
            f"twice that): {'met' if with_frames else 'MISSED'}"
        )
        met = flat_cpu and with_frames
        checked = [r["validated"].get("vm_hwm_mb") for r in (reports[small], reports[large])]
        if None not in checked:
            validation = (checked[1] - checked[0]) * 1024 / (large - small)
            print(
                f"         of the {per_row:.2f} KB per extra row, validation's peak "
                f"{validation:.2f} KB, the run after it {per_row - validation:.2f} KB (the "
                f"results frame alone {frame_growth / (large - small):.2f} KB)"
            )
    else:
        met = ratio <= 1.2
    print(f"         target: {'met' if met else 'MISSED'}")
    sys.exit(0 if met and all_uploaded else 1)


def peak(report: dict[str, Any]) -> float:
    """The child's peak RSS in MB: VmHWM where the system has it, else ru_maxrss."""
    end = report["end"]
    return float(end["vm_hwm_mb"] if end["vm_hwm_mb"] is not None else end["ru_maxrss_mb"])


if __name__ == "__main__":
    main()
