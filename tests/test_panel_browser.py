"""The panel in a real browser: JupyterLab, the classic Notebook and the ``imgkit panel``
page (Voilà), driven by Playwright in headless system Chromium, uploading to a sandbox over
HTTP.

The sandbox runs in this test process and the panel's kernel reads its shops from a
file, so the test can watch what the sandbox stores (and slow it down) while the browser
clicks.  Screenshots are kept in the test's folder; with ``IMGKIT_SCREENSHOTS=DIR`` they
are also copied there (``docs/img/`` holds the ones the docs show).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import browser_harness as bh
import pandas as pd
import pytest
from PIL import Image

import imgkit
from imgkit.intake.shops_files import write_shops
from imgkit.sandbox import Sandbox
from imgkit.shells.cli_panel import write_panel_notebook

if TYPE_CHECKING:
    from playwright.sync_api import Page

RUN_S = 120.0  # an upload of the sample batch, a kernel start: generous, never a sleep


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    bh.require_browser()
    with Sandbox() as sb:
        yield sb


def keep(shot: Path) -> Path:
    """Copy ``shot`` to ``$IMGKIT_SCREENSHOTS`` when it is set."""
    folder = os.environ.get("IMGKIT_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(folder) / shot.name)
    assert shot.stat().st_size > 1000
    return shot


def panel_cell(batch: Path, shops: Path, journal: Path) -> str:
    return (
        "import imgkit\n\n"
        f"shown = imgkit.panel({str(batch)!r}, {str(shops)!r}, lang='en', "
        f"journal={str(journal)!r})\nshown"
    )


def result_statuses(page: Page) -> list[str]:
    """The status cell of every row of the results table (its second column)."""
    cells = page.locator(".imgkit-results tbody tr td:nth-child(2)")
    return [text.strip() for text in cells.all_inner_texts()]


def shown_statuses(page: Page, rows: int) -> list[str]:
    """The statuses once the results table shows ``rows`` rows: the panel writes its
    status line before the browser has drawn the new table, so a read at once may find
    no table yet (it did, once, in CI)."""
    from playwright.sync_api import expect

    table = page.locator(".imgkit-results tbody tr")
    expect(table).to_have_count(rows, timeout=RUN_S * 1000)
    return result_statuses(page)


SHELLS = {"lab": bh.jupyter_lab, "notebook": bh.jupyter_notebook}


@contextlib.contextmanager
def panel_in(notebook: Path, tmp_path: Path, interface: str = "lab") -> Iterator[Page]:
    """``notebook`` opened and run in JupyterLab or the classic Notebook, until its panel
    shows."""
    with (
        SHELLS[interface](notebook.parent, tmp_path / interface) as server,
        bh.chromium() as browser,
        bh.new_page(browser) as page,
        bh.evidence_on_failure(page, tmp_path / "evidence", server),
    ):
        bh.open_notebook(page, server, notebook.name, interface=interface)
        bh.run_all_cells(page)
        bh.wait_for_output(page, ".imgkit-upload", RUN_S)
        yield page


def validate_fit_upload(page: Page, tmp_path: Path, prefix: str) -> None:
    """Press Validate, Fit and Upload on the sample batch and check each answer."""
    bh.click(page, ".imgkit-validate")
    bh.wait_for_text(page, ".imgkit-status", "15 rows: 15 ok", RUN_S)
    for key in imgkit.platform_keys():
        bh.wait_for_text(page, ".imgkit-validation", key)
    keep(bh.screenshot(page, tmp_path / f"{prefix}-validated.png"))
    bh.click(page, ".imgkit-fit")
    bh.wait_for_text(page, ".imgkit-fitting", "rows fitted", RUN_S)
    bh.click(page, ".imgkit-upload")
    bh.wait_for_text(page, ".imgkit-status", "15 rows: 15 uploaded", RUN_S)
    assert shown_statuses(page, 15) == ["uploaded"] * 15
    results = page.locator(".imgkit-results").first
    for key in imgkit.platform_keys():
        assert key in results.inner_text()
    results.scroll_into_view_if_needed()  # the picture shows the results table
    keep(bh.screenshot(page, tmp_path / f"{prefix}-uploaded.png"))


@pytest.mark.timeout(300)
@pytest.mark.parametrize("interface", ["lab", "notebook"])
def test_validate_fit_upload_in_jupyterlab_and_the_classic_notebook(
    sandbox: Sandbox, tmp_path: Path, interface: str
) -> None:
    root = tmp_path / "root"
    shops = write_shops(tmp_path / "shops.toml", sandbox.shops)
    sample = bh.write_notebook(
        root / "sample.ipynb",
        [panel_cell(imgkit.sample_data() / "batch.csv", shops, tmp_path / "journal.sqlite")],
    )
    with panel_in(sample, tmp_path, interface) as page:
        # The screenshots in the docs are JupyterLab's; the classic Notebook's are kept too.
        validate_fit_upload(page, tmp_path, "panel-lab" if interface == "lab" else "panel-nb")
    stats = sandbox.stats()["total"]
    assert stats["stored"] == 15
    assert stats["duplicates"] == 0


@pytest.mark.timeout(300)
def test_cancel_in_the_browser_loses_no_row(sandbox: Sandbox, tmp_path: Path) -> None:
    root = tmp_path / "root"
    rows = []
    for n in range(24):
        path = tmp_path / "images" / f"img_{n:02d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (64, 48), (n * 9 % 256, 40, 200 - n)).save(path)
        rows.append(
            {
                "platform": "taobao_picture",
                "shop": "tb_picture_main",
                "file": str(path),
                "target": "0",
            }
        )
    batch = tmp_path / "batch.csv"
    pd.DataFrame(rows).to_csv(batch, index=False)
    shops = write_shops(tmp_path / "shops.toml", sandbox.shops)
    notebook = bh.write_notebook(
        root / "cancel.ipynb", [panel_cell(batch, shops, tmp_path / "journal.sqlite")]
    )
    sandbox.state.set_faults({"seed": 1, "latency_ms": [700, 900]})
    with panel_in(notebook, tmp_path) as page:
        bh.click(page, ".imgkit-upload")
        deadline = time.monotonic() + RUN_S
        while sandbox.stats()["total"]["stored"] < 2:  # some stored, most not yet sent
            assert time.monotonic() < deadline, "nothing was stored"
            time.sleep(0.02)
        bh.click(page, ".imgkit-cancel")
        bh.wait_for_text(page, ".imgkit-status", "24 rows:", RUN_S)
        statuses = Counter(shown_statuses(page, 24))
        assert set(statuses) <= {"uploaded", "in doubt", "cancelled"}, statuses
        assert statuses["cancelled"] > 0, statuses
        assert sum(statuses.values()) == 24
        assert sandbox.stats()["total"]["stored"] >= statuses["uploaded"]
        keep(bh.screenshot(page, tmp_path / "panel-cancelled.png"))
        # Sent again from the same page: every image ends stored exactly once.
        sandbox.state.set_faults({})
        bh.click(page, ".imgkit-upload")
        bh.wait_for_text(page, ".imgkit-status", "24 rows:", RUN_S)
        deadline = time.monotonic() + RUN_S
        while set(result_statuses(page)) - {"uploaded", "skipped"}:
            assert time.monotonic() < deadline, result_statuses(page)
            time.sleep(0.05)
    stats = sandbox.stats()["total"]
    assert stats["stored"] == 24
    assert stats["duplicates"] == 0


@pytest.mark.timeout(300)
def test_the_panel_page_validates_fits_and_uploads(sandbox: Sandbox, tmp_path: Path) -> None:
    shops = write_shops(tmp_path / "shops.toml", sandbox.shops)
    batch = str(imgkit.sample_data() / "batch.csv")
    (tmp_path / "page").mkdir()
    notebook = write_panel_notebook(tmp_path / "page", batch, str(shops), "en")
    with (
        bh.voila(notebook, tmp_path / "voila") as server,
        bh.chromium() as browser,
        bh.new_page(browser) as page,
        bh.evidence_on_failure(page, tmp_path / "evidence", server),
    ):
        page.goto(server.url("/"))
        bh.wait_for_output(page, ".imgkit-validate", RUN_S)
        validate_fit_upload(page, tmp_path, "panel-page")
    assert sandbox.stats()["total"]["duplicates"] == 0
