"""Every workbook imgkit writes opens in a spreadsheet program other than openpyxl:
LibreOffice headless turns it into a PDF, and pdftoppm the PDF's first page into a PNG
that holds a picture (not a blank page).

On a machine without LibreOffice or pdftoppm these tests skip; ``.ci/run`` installs both
and sets ``IMGKIT_REQUIRE_LIBREOFFICE=1``, under which a missing program fails instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image, ImageStat

import imgkit


def _programs() -> tuple[str, str]:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    pdftoppm = shutil.which("pdftoppm")
    if soffice and pdftoppm:
        return soffice, pdftoppm
    why = "LibreOffice (soffice) and pdftoppm are needed: bash .ci/system-packages"
    if os.environ.get("IMGKIT_REQUIRE_LIBREOFFICE") == "1":
        pytest.fail(why)
    pytest.skip(why)


def _first_page(workbook: Path, folder: Path) -> Image.Image:
    soffice, pdftoppm = _programs()
    # A profile of its own: two runs (or xdist workers) never share LibreOffice's lock.
    profile = (folder / "profile").as_uri()
    done = subprocess.run(
        [
            *(soffice, f"-env:UserInstallation={profile}", "--headless"),
            *("--convert-to", "pdf", "--outdir", str(folder), str(workbook)),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    pdf = folder / f"{workbook.stem}.pdf"
    assert pdf.is_file(), f"LibreOffice made no PDF: {done.stdout}\n{done.stderr}"
    subprocess.run(
        [pdftoppm, "-png", "-r", "50", "-f", "1", "-l", "1", str(pdf), str(folder / "page")],
        check=True,
        timeout=60,
    )
    (page,) = folder.glob("page-*.png")
    return Image.open(page).convert("L")


def _assert_drawn(image: Image.Image) -> None:
    assert image.width > 100
    assert image.height > 100
    low, high = image.getextrema()  # one band ("L"): two ints
    assert isinstance(low, int)
    assert isinstance(high, int)
    assert high - low > 100, "a blank page"
    assert ImageStat.Stat(image).mean[0] < 254  # some ink on the page


def test_the_results_workbook_opens_in_libreoffice(tmp_path: Path) -> None:
    _programs()
    with imgkit.Sandbox() as sb:
        results = imgkit.upload(
            imgkit.sample_data() / "batch.csv", shops=sb.shops, journal=False, progress=False
        )
    workbook = imgkit.to_excel(results, tmp_path / "results.xlsx", lang="both", thumbnails=True)
    _assert_drawn(_first_page(workbook, tmp_path))


def test_the_batch_template_opens_in_libreoffice(tmp_path: Path) -> None:
    _programs()
    with imgkit.Sandbox() as sb:
        workbook = imgkit.template(tmp_path / "batch.xlsx", shops=sb.shops, lang="zh")
    _assert_drawn(_first_page(workbook, tmp_path))
