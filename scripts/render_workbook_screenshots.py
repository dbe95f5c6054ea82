"""Render the results workbook's Results and Summary sheets to PNG for docs/excel.md.

Uploads the sample batch to the embedded sandbox (with one malformed target and one item
that does not exist, so the sheets show failures too), writes the workbook with
``imgkit.to_excel``, turns it into a PDF with LibreOffice headless (the same way
tests/test_libreoffice.py opens every workbook), and the PDF's pages into PNG with
pdftoppm.  Needs ``soffice`` and ``pdftoppm`` (``.ci/system-packages`` installs them).

    python scripts/render_workbook_screenshots.py      # writes docs/img/*.png
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
from PIL import Image, ImageChops

import imgkit

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "img"
WIDTH = 1400  # pixels: readable on a docs page


def sample_results() -> pd.DataFrame:
    batch = imgkit.read_batch(imgkit.sample_data() / "batch.xlsx")
    batch = batch.rename(columns={"platform": "平台", "shop": "店铺", "target": "目标"})
    batch.loc[batch.index[12], "目标"] = "18353"  # Qianmi wants num_iid/sku_id
    batch.loc[batch.index[6], "目标"] = "999999999999"  # no such Tmall item
    with imgkit.Sandbox() as sb:
        return imgkit.upload(batch, shops=sb.shops, journal=False, progress=False)


def render(workbook: Path, folder: Path) -> list[Path]:
    """The workbook's pages as PNG files, in order."""
    profile = (folder / "profile").as_uri()
    convert = ["soffice", f"-env:UserInstallation={profile}", "--headless", "--convert-to"]
    subprocess.run(
        [*convert, "pdf", "--outdir", str(folder), str(workbook)],
        check=True,
        capture_output=True,
        timeout=180,
    )
    pdf = folder / (workbook.stem + ".pdf")
    subprocess.run(["pdftoppm", "-png", "-r", "300", str(pdf), str(folder / "page")], check=True)
    return sorted(folder.glob("page-*.png"))


def trimmed(page: Path, share: float = 1.0) -> Image.Image:
    """The page without its white margins (its left ``share`` only), at most :data:`WIDTH`
    pixels wide."""
    image = Image.open(page).convert("RGB")
    background = Image.new("RGB", image.size, (255, 255, 255))
    box = ImageChops.difference(image, background).getbbox()
    if box:
        image = image.crop((max(box[0] - 12, 0), max(box[1] - 12, 0), box[2] + 12, box[3] + 12))
    if share < 1.0:
        image = image.crop((0, 0, round(image.width * share), image.height))
    if image.width > WIDTH:
        image = image.resize(
            (WIDTH, round(image.height * WIDTH / image.width)), Image.Resampling.LANCZOS
        )
    return image


def main() -> int:
    results = sample_results()
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        workbook = imgkit.to_excel(results, folder / "results.xlsx", lang="both")
        pages = render(workbook, folder)
        if len(pages) < 2:
            print(f"expected a page per sheet, got {len(pages)}", file=sys.stderr)
            return 1
        # The Results sheet prints one page wide; its leading columns (row to code) are
        # what a person reads first, and what the picture shows.
        shots = (("results-sheet.png", 0.42), ("summary-sheet.png", 1.0))
        for page, (file_name, share) in zip(pages, shots, strict=False):
            trimmed(page, share).save(OUT / file_name, optimize=True)
            print(OUT / file_name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
