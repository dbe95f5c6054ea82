"""Benchmark: vectorized validation against the I/O floor and a naive per-row loop.

Creates N real image files (mixed JPEG/PNG/GIF/WEBP, mixed pixel and byte sizes, mostly
5-50 KB) under a work directory, a batch over five platforms, and reports in one run:

* cold validate (empty probe cache) and warm validate (second run), rows/s;
* the I/O floor: a plain loop that reads and SHA-256-hashes every file;
* a naive baseline: a per-row loop that opens and fully decodes each image with Pillow
  and checks the rules with ``if`` statements (timed on a sample of rows and scaled, as
  it is slow; the sample size is printed).

Targets on a 2-core machine: warm validate of 100k rows <= 2 s; cold <= 2x the I/O floor;
>= 10x faster than the naive baseline.  The OS page cache is warm for every figure (the
files were just written), so the comparison with the I/O floor is like for like.

    python bench/validate.py            # N = 100,000 (about 2.5 GB in a temp dir)
    python bench/validate.py -n 10000   # a quick run
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd
from PIL import Image

import imgkit
from imgkit.intake.probe import clear_cache
from imgkit.sandbox import sandbox_shops

PLATFORMS = [
    ("taobao_picture", "tb_picture_main", "0"),
    ("taobao_miniapp", "miniapp_main", "3000000012345"),
    ("tmall_item", "tmall_store", "1489161940"),
    ("doudian", "douyin_shop", "0"),
    ("qianmi_sku", "qianmi_shop", "18353/g1234"),
]


def _bases(rng: random.Random) -> list[tuple[str, bytes]]:
    """~120 distinct encoded images of mixed formats and sizes."""
    out = []
    for n in range(120):
        width, height = rng.choice([(320, 320), (480, 640), (600, 800), (800, 800), (1200, 900)])
        img = Image.new("RGB", (width, height), (rng.randrange(256), 90, rng.randrange(256)))
        noise = Image.effect_noise((width // 4, height // 4), 40 + n % 40).convert("RGB")
        img.paste(noise.resize((width // 2, height // 2)), (width // 4, height // 4))
        fmt = ["JPEG", "JPEG", "JPEG", "PNG", "GIF", "WEBP"][n % 6]
        buf = io.BytesIO()
        if fmt == "JPEG":
            img.save(buf, "JPEG", quality=rng.choice([50, 70, 85]))
        elif fmt == "GIF":
            img.convert("P").resize((width // 3, height // 3)).save(buf, "GIF")
        elif fmt == "PNG":
            img.resize((width // 3, height // 3)).save(buf, "PNG")
        else:
            img.save(buf, "WEBP", quality=60)
        out.append((fmt.lower(), buf.getvalue()))
    return out


def make_files(root: Path, count: int, seed: int = 7) -> pd.DataFrame:
    """Write ``count`` distinct image files and return the batch over them."""
    rng = random.Random(seed)
    bases = _bases(rng)
    ext = {"jpeg": "jpg", "png": "png", "gif": "gif", "webp": "webp"}
    rows = []
    for n in range(count):
        fmt, data = bases[n % len(bases)]
        folder = root / f"d{n // 1000:03d}"
        if n % 1000 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"img_{n:06d}.{ext[fmt]}"
        # Trailing bytes after the end marker make every file's hash distinct.
        path.write_bytes(data + b"\x00" * 4 + n.to_bytes(4, "big").replace(b"\x00", b"\x01"))
        platform, shop, target = PLATFORMS[n % len(PLATFORMS)]
        rows.append(
            {
                "platform": platform,
                "shop": shop,
                "file": str(path),
                "target": target
                if platform not in ("tmall_item", "qianmi_sku")
                else (f"{1489161940 + n}" if platform == "tmall_item" else f"18353/s{n}"),
                "title": f"商品图片 {n}",
            }
        )
    return pd.DataFrame(rows)


def io_floor(files: list[str]) -> float:
    start = time.perf_counter()
    for name in files:
        with open(name, "rb") as fh:
            hashlib.sha256(fh.read()).hexdigest()
    return time.perf_counter() - start


def naive(batch: pd.DataFrame) -> float:
    """The loop an analyst would write: decode every image, check with ifs."""
    limits = {key: imgkit.get_adapter(key).limits for key, _, _ in PLATFORMS}
    start = time.perf_counter()
    problems = []
    for row in batch.itertuples():
        limit = limits[row.platform]
        issues = []
        try:
            with Image.open(row.file) as img:
                img.load()
                fmt = (img.format or "").lower()
                width, height = img.size
        except OSError:
            issues.append("not_image")
            fmt, width, height = "", 0, 0
        size = os.path.getsize(row.file)
        if fmt and fmt not in limit.formats:
            issues.append("format_refused")
        if size > limit.max_bytes:
            issues.append("too_large")
        if limit.title_max and len(row.title) > limit.title_max:
            issues.append("title")
        if width and height and width * height > 89_478_485:
            issues.append("bomb")
        problems.append(issues)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=100_000, help="number of files (100000)")
    parser.add_argument("--naive-sample", type=int, default=5_000, help="rows timed naively")
    parser.add_argument("--keep", help="reuse / keep files in this directory")
    args = parser.parse_args()
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="imgkit-bench-"))
    try:
        start = time.perf_counter()
        batch = make_files(root, args.n)
        print(f"files: {args.n:,} in {root} ({time.perf_counter() - start:.1f} s to write)")
        shops = sandbox_shops("http://127.0.0.1:9")
        files = batch["file"].tolist()
        floor = io_floor(files)
        clear_cache()
        start = time.perf_counter()
        result = imgkit.validate(batch, shops=shops)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        imgkit.validate(batch, shops=shops)
        warm = time.perf_counter() - start
        sample = batch.head(min(args.naive_sample, args.n))
        naive_total = naive(sample) * args.n / len(sample)
        total_mb = sum(os.path.getsize(f) for f in files[:2000]) / min(2000, args.n) / 1024
        print(f"mean file size: {total_mb:.1f} KB; rows not ok: {(~result['ok']).sum():,}")
        print(f"I/O floor (read + sha256 loop): {floor:8.2f} s")
        print(
            f"cold validate:                  {cold:8.2f} s  = {cold / floor:.2f}x the floor "
            f"(target <= 2x)  {args.n / cold:,.0f} rows/s"
        )
        print(
            f"warm validate:                  {warm:8.2f} s  (target <= 2 s at 100k)  "
            f"{args.n / warm:,.0f} rows/s"
        )
        print(
            f"naive per-row loop (timed on {len(sample):,} rows, scaled): {naive_total:8.2f} s"
            f"  -> validate is {naive_total / cold:.1f}x faster cold, "
            f"{naive_total / warm:.1f}x warm (target >= 10x)"
        )
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
