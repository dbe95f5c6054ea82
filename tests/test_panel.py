"""``imgkit.panel()`` driven as a person would, by its buttons, against the sandbox over HTTP.

Each test presses buttons (``Panel.click``), sets widget values (a file chosen in the
browser, a toggle) and waits for the action's answer (``Panel.wait``), then reads what the
panel shows and what the sandbox holds.  Timing is made deterministic by the sandbox's
latency and by waiting on its store, never by sleeping and hoping.
"""

from __future__ import annotations

import importlib.util
import io
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from conftest import shop_secrets
from PIL import Image

import imgkit
from imgkit.sandbox import Sandbox
from imgkit.shells.panel import ACTIONS, CLASSES, Panel, panel
from imgkit.shells.panel_work import PanelWork

WAIT_S = 120


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


@pytest.fixture
def opened() -> Iterator[list[Panel]]:
    """Panels a test opens, closed after it."""
    panels: list[Panel] = []
    yield panels
    for one in panels:
        one.close()


def chosen(name: str, content: bytes) -> tuple[dict[str, object], ...]:
    """A FileUpload's value after a person picked ``name`` in the browser."""
    return (
        {
            "name": name,
            "type": "application/octet-stream",
            "size": len(content),
            "content": memoryview(content),
            "last_modified": datetime(2026, 12, 1, tzinfo=UTC),
        },
    )


def open_panel(opened: list[Panel], *args: object, **kwargs: object) -> Panel:
    shown = panel(*args, **kwargs)  # type: ignore[arg-type]
    opened.append(shown)
    return shown


def copies(sandbox: Sandbox) -> Counter[str]:
    return Counter(image.facts.sha256 for image in sandbox.state.store.images())


def secrets(sandbox: Sandbox) -> list[str]:
    found = shop_secrets(sandbox.shops)
    assert len(found) >= 5
    return found


def everything_shown(shown: Panel) -> str:
    """The value of every text-bearing widget of the panel."""
    parts = [shown.status.value, shown.validation.value, shown.fitting.value]
    parts += [shown.counts.value, shown.results.value, shown.download.value, shown.history.value]
    return "\n".join(parts)


def test_every_action_has_a_button_with_its_class(opened: list[Panel]) -> None:
    shown = open_panel(opened, lang="en")
    for name in ACTIONS:
        assert CLASSES[name] in shown.buttons[name]._dom_classes
    assert CLASSES["status"] in shown.status._dom_classes
    assert CLASSES["results"] in shown.results._dom_classes
    assert shown.buttons["cancel"].disabled
    assert shown.status.value == "no batch yet"
    assert repr(shown) == "imgkit panel: no batch yet"


def test_validate_upload_export_and_history_on_the_sample_batch(
    sandbox: Sandbox, opened: list[Panel], tmp_path: Path
) -> None:
    journal = tmp_path / "journal.sqlite"
    batch = imgkit.sample_data() / "batch.csv"
    shown = open_panel(opened, batch, sandbox.shops, lang="en", journal=journal)
    assert shown.click("validate").wait(WAIT_S).status.value == (
        "15 rows: 15 ok, 0 with warnings, 0 with errors"
    )
    for key in imgkit.platform_keys():
        assert f">{key}<" in shown.validation.value
    shown.click("upload")
    assert shown.runner.busy or shown.work.results is not None  # the click returned at once
    shown.wait(WAIT_S)
    assert shown.status.value == "15 rows: 15 uploaded"
    results = shown.work.results
    assert results is not None
    assert (results["status"] == "uploaded").all()
    assert shown.results.value.count("<tr>") == 1 + 15
    assert shown.results.value.count('href="http://127.0.0.1') == 15
    for key in imgkit.platform_keys():
        assert f">{key}<" in shown.counts.value
    assert "rate (img/s)" in shown.counts.value
    assert set(shown.work.shop_done) == set(results["shop"])  # a rate for every shop
    assert sum(shown.work.shop_done.values()) == 15
    assert sandbox.stats()["total"]["stored"] == 15
    # Filter, sort and preview, as a person narrowing the table.
    shown.status_filter.value = "failed"
    assert shown.results.value.count("<tr>") == 1
    shown.status_filter.value = ""
    shown.search.value = "tmall_store"
    assert shown.results.value.count("<tr>") == 1 + int((results["shop"] == "tmall_store").sum())
    shown.search.value = ""
    shown.sort_by.value = "platform"
    shown.row_pick.value = shown.row_pick.options[0][1]
    assert "<img" in shown.preview.value
    # The styled workbook, as a path and as a download.
    shown.export_path.value = str(tmp_path / "out.xlsx")
    shown.click("export").wait(WAIT_S)
    assert (tmp_path / "out.xlsx").is_file()
    assert 'download="out.xlsx"' in shown.download.value
    assert "base64," in shown.download.value
    back = imgkit.read_results(tmp_path / "out.xlsx")
    assert back["status"].tolist() == results["status"].tolist()
    shown.history_button.click()
    shown.wait(WAIT_S)
    assert shown.history.value.count("<tr>") == 1 + 15
    # Pressing Upload again stores nothing twice: the journal knows every row.
    shown.click("upload").wait(WAIT_S)
    assert shown.status.value == "15 rows: 15 skipped"
    assert sandbox.stats()["total"]["duplicates"] == 0
    assert not [s for s in secrets(sandbox) if s in everything_shown(shown)]


def test_the_language_toggle_rewrites_what_is_shown(sandbox: Sandbox, opened: list[Panel]) -> None:
    batch = imgkit.read_batch(imgkit.sample_data() / "batch.csv")
    batch.loc[batch.index[0], "platform"] = "jd"
    shown = open_panel(opened, batch, sandbox.shops, lang="en", journal=False)
    shown.click("validate").wait(WAIT_S)
    assert "unknown platform" in shown.validation.value
    assert "未知平台" not in shown.validation.value
    shown.lang.value = "zh"
    shown.wait(WAIT_S)
    assert "未知平台" in shown.validation.value
    assert "unknown platform" not in shown.validation.value
    assert "14 ok" not in shown.validation.value
    assert "通过 14" in shown.validation.value


def test_fit_shows_before_and_after_then_uploads_the_copies(
    sandbox: Sandbox, opened: list[Panel], tmp_path: Path
) -> None:
    big = tmp_path / "big.png"
    Image.effect_noise((1400, 1400), 120).convert("RGB").save(big, compress_level=0)
    frame = pd.DataFrame(
        [
            {
                "platform": "qianmi_sku",
                "shop": "qianmi_shop",
                "file": str(big),
                "target": "18353/g1234",
            }
        ]
    )
    shown = open_panel(opened, frame, sandbox.shops, lang="en", journal=False)
    shown.click("validate").wait(WAIT_S)
    assert "1 with errors" in shown.status.value
    shown.click("fit").wait(WAIT_S)
    assert "1 rows fitted" in shown.fitting.value
    assert "→" in shown.fitting.value
    assert shown.fitting.value.count("<img") == 2  # before and after
    assert shown.status.value == "1 rows: 1 ok, 0 with warnings, 0 with errors"
    shown.click("upload").wait(WAIT_S)
    assert shown.status.value == "1 rows: 1 uploaded"
    assert big.stat().st_size > 1_048_576  # the original is untouched


def test_cancel_behaves_like_ctrl_c(sandbox: Sandbox, opened: list[Panel], tmp_path: Path) -> None:
    files = []
    for n in range(24):
        path = tmp_path / f"img_{n:02d}.jpg"
        Image.new("RGB", (64, 48), (n * 9 % 256, 40, 200 - n)).save(path)
        files.append(path)
    rows = [
        {"platform": "taobao_picture", "shop": "tb_picture_main", "file": str(f), "target": "0"}
        for f in files
    ]
    journal = tmp_path / "journal.sqlite"
    sandbox.state.set_faults({"seed": 1, "latency_ms": [700, 900]})
    shown = open_panel(opened, pd.DataFrame(rows), sandbox.shops, lang="en", journal=journal)
    shown.click("upload")
    deadline = time.monotonic() + 60
    while sandbox.stats()["total"]["stored"] < 2:  # some stored, most not yet sent
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert not shown.buttons["cancel"].disabled
    shown.click("cancel").wait(WAIT_S)
    results = shown.work.results
    assert results is not None
    status = Counter(results["status"])
    assert set(status) <= {"uploaded", "in_doubt", "cancelled"}, status
    assert status["cancelled"] > 0, status
    held = copies(sandbox)
    for state, digest in zip(results["status"], results["sha256"], strict=True):
        if state == "uploaded":
            assert held[digest] == 1
        if state == "cancelled":
            assert held[digest] == 0
    # Sent again from the same panel: every image ends stored exactly once.
    sandbox.state.set_faults({})
    shown.click("upload").wait(WAIT_S)
    again = shown.work.results
    assert again is not None
    assert set(again["status"]) <= {"uploaded", "skipped"}, again[["status", "message"]]
    held = copies(sandbox)
    assert [held[d] for d in again["sha256"]] == [1] * len(rows)


def test_retry_failed_after_a_fix_and_refresh(
    sandbox: Sandbox, opened: list[Panel], tmp_path: Path
) -> None:
    batch = imgkit.read_batch(imgkit.sample_data() / "batch.csv")
    tmall = batch.index[batch["platform"].str.contains("tmall|天猫", regex=True)][0]
    batch.loc[tmall, "target"] = "999999999999"  # no such item: the platform refuses it
    journal = tmp_path / "journal.sqlite"  # what tells retry the row has changed
    shown = open_panel(opened, batch, sandbox.shops, lang="en", journal=journal)
    shown.click("upload").wait(WAIT_S)
    results = shown.work.results
    assert results is not None
    assert results.loc[tmall, "status"] == "failed"
    assert "1 failed" in shown.status.value
    results.loc[tmall, "target"] = "1489161940"  # fixed by hand
    shown.click("retry").wait(WAIT_S)
    retried = shown.work.results
    assert retried is not None
    assert retried.loc[tmall, "status"] == "uploaded"
    assert shown.status.value == "15 rows: 15 uploaded"
    assert sandbox.stats()["total"]["duplicates"] == 0
    shown.click("refresh").wait(WAIT_S)  # nothing under audit: nothing changes
    assert shown.status.value == "15 rows: 15 uploaded"


def test_a_file_chosen_in_the_browser_with_its_sheet(
    sandbox: Sandbox, opened: list[Panel], tmp_path: Path
) -> None:
    batch = pd.read_csv(imgkit.sample_data() / "batch.csv", dtype=str)
    batch["file"] = [str(imgkit.sample_data() / f) for f in batch["file"]]
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer) as writer:
        pd.DataFrame({"note": ["not a batch"]}).to_excel(writer, sheet_name="Notes", index=False)
        batch.head(4).to_excel(writer, sheet_name="Batch", index=False)
    shown = open_panel(opened, shops=sandbox.shops, lang="en", journal=False)
    shown.source.value = chosen("batch.xlsx", buffer.getvalue())
    assert list(shown.sheet.options) == ["Notes", "Batch"]
    assert "error" in shown.status.value  # the first sheet is no batch: said in words
    assert "Traceback" not in shown.status.value
    shown.sheet.value = "Batch"
    assert shown.status.value.endswith("batch.xlsx: 4 rows")
    shown.click("validate").wait(WAIT_S)
    assert shown.status.value == "4 rows: 4 ok, 0 with warnings, 0 with errors"


def test_errors_are_plain_words_never_a_traceback(
    sandbox: Sandbox, opened: list[Panel], tmp_path: Path
) -> None:
    shown = open_panel(opened, shops=sandbox.shops, lang="en", journal=False)
    shown.click("upload").wait(WAIT_S)
    assert shown.status.value == "error: choose a batch first"
    shown.click("export").wait(WAIT_S)
    assert shown.status.value == "error: nothing uploaded yet"
    shown.source.value = chosen("batch.xlsx", b"PK\x03\x04 broken")
    assert shown.status.value.startswith("error:")
    both = open_panel(opened, imgkit.sample_data() / "batch.csv", lang="both", journal=False)
    both.sandbox.value = False
    both.shops_path.value = str(tmp_path / "missing.toml")
    both.click("upload").wait(WAIT_S)
    assert "missing.toml" in both.status.value or "invalid" in both.status.value
    assert "Traceback" not in everything_shown(both)


def test_the_panel_work_is_the_library_calls(sandbox: Sandbox) -> None:
    work = PanelWork(imgkit.sample_data() / "batch.csv", sandbox.shops, lang="en", journal=False)
    direct = imgkit.validate(imgkit.sample_data() / "batch.csv", sandbox.shops, lang="en")
    assert work.validate()["message"].tolist() == direct["message"].tolist()
    assert work.describe_source().endswith("batch.csv: 15 rows")


def test_the_accessor_opens_a_panel_on_the_frame(sandbox: Sandbox, opened: list[Panel]) -> None:
    frame = imgkit.read_batch(imgkit.sample_data() / "batch.csv").head(3)
    shown = frame.imgkit.panel(sandbox.shops, lang="en", journal=False)
    opened.append(shown)
    shown.click("dry_run").wait(WAIT_S)
    assert shown.status.value == "3 rows: 3 planned"
    assert sandbox.stats()["total"]["stored"] == 0


def test_the_page_command_serves_a_notebook_of_one_panel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import nbformat

    from imgkit.shells import cli_panel
    from imgkit.shells.cli import main

    notebook = cli_panel.write_panel_notebook(tmp_path, "/data/b.xlsx", "/data/s.toml", "en")
    (cell,) = nbformat.read(notebook, as_version=4).cells
    assert cell.source.endswith("imgkit.panel('/data/b.xlsx', '/data/s.toml', lang='en')")
    command = cli_panel.voila_command(notebook, 9999)
    assert "--Voila.ip=127.0.0.1" in command
    assert "--show_tracebacks=False" in command
    assert main(["panel", str(tmp_path / "missing.xlsx"), "--lang", "en"]) == 4
    assert "missing.xlsx" in capsys.readouterr().err
    served: list[list[str]] = []

    class Done:
        returncode = 0

    def run(args: list[str], check: bool) -> Done:
        served.append(args)
        page = Path(args[3])
        assert "imgkit.panel(" in nbformat.read(page, as_version=4).cells[0].source
        return Done()

    monkeypatch.setattr(subprocess, "run", run)
    assert main(["panel", "--port", "9999", "--lang", "en"]) == 0
    assert served[0][4] == "--port=9999"
    assert "http://127.0.0.1:9999/" in capsys.readouterr().out
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert main(["panel", "--lang", "en"]) == 4
    assert "pip install 'imgkit[page]'" in capsys.readouterr().err
