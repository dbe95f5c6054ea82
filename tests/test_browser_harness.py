"""The browser harness itself, on a probe notebook: a button whose click changes a text.

The same notebook runs in JupyterLab (opened, run from the Run menu, clicked) and as a
standalone Voilà page, in headless system Chromium.  Skipped without Chromium or
Playwright unless ``IMGKIT_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

from pathlib import Path

import browser_harness as bh
import pytest

PROBE = """\
import ipywidgets

status = ipywidgets.HTML("waiting")
status.add_class("probe-status")
button = ipywidgets.Button(description="Press")
button.add_class("probe-button")


def pressed(_button):
    status.value = "pressed"


button.on_click(pressed)
ipywidgets.VBox([button, status])
"""


@pytest.fixture
def probe_notebook(tmp_path: Path) -> Path:
    """The probe notebook, alone in a fresh root directory."""
    return bh.write_notebook(tmp_path / "root" / "probe.ipynb", [PROBE])


@pytest.mark.timeout(90)
def test_jupyterlab_click(probe_notebook: Path, tmp_path: Path) -> None:
    bh.require_browser()
    with (
        bh.jupyter_lab(probe_notebook.parent, tmp_path / "lab") as lab,
        bh.chromium() as browser,
        bh.new_page(browser) as page,
        bh.evidence_on_failure(page, tmp_path / "evidence", lab),
    ):
        bh.open_notebook(page, lab, probe_notebook.name)
        bh.run_all_cells(page)
        bh.wait_for_output(page, ".probe-button")
        bh.wait_for_text(page, ".probe-status", "waiting")
        bh.click(page, ".probe-button")
        bh.wait_for_text(page, ".probe-status", "pressed")
        shot = bh.screenshot(page, tmp_path / "jupyterlab.png")
    assert shot.stat().st_size > 1000


@pytest.mark.timeout(90)
def test_voila_click(probe_notebook: Path, tmp_path: Path) -> None:
    bh.require_browser()
    with (
        bh.voila(probe_notebook, tmp_path / "voila") as server,
        bh.chromium() as browser,
        bh.new_page(browser) as page,
        bh.evidence_on_failure(page, tmp_path / "evidence", server),
    ):
        page.goto(server.url("/"))
        bh.wait_for_output(page, ".probe-button")
        bh.wait_for_text(page, ".probe-status", "waiting")
        bh.click(page, ".probe-button")
        bh.wait_for_text(page, ".probe-status", "pressed")
        shot = bh.screenshot(page, tmp_path / "voila.png")
    assert shot.stat().st_size > 1000
