"""The results workbook (imgkit.to_excel) against real uploads to the sandbox: what a
person sees in it, and that read_results gives the very frame back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pytest
from openpyxl.worksheet.worksheet import Worksheet

import imgkit
from imgkit.excel.styles import STATUS_FILLS, TEXT_FORMAT
from imgkit.excel.workbook import SHEET_NAMES
from imgkit.words import LANGS, Lang

SAMPLES = imgkit.sample_data()


@pytest.fixture(scope="module")
def uploaded() -> pd.DataFrame:
    """The sample batch (Chinese headers, from its workbook) with two rows made to fail:
    one invalid (a malformed Qianmi target), one refused by the platform (no such item)."""
    batch = imgkit.read_batch(SAMPLES / "batch.xlsx")
    qianmi = batch.index[batch["platform"].str.contains("qianmi|千米", regex=True)][0]
    batch.loc[qianmi, "target"] = "no-slash"
    tmall = batch.index[batch["platform"].str.contains("tmall|天猫", regex=True)][0]
    batch.loc[tmall, "target"] = "999999999999"
    batch.loc[batch.index[0], "title"] = "中文标题 <b>粗体</b>"
    # As an operations colleague writes it: Chinese headers, which the workbook keeps.
    batch = batch.rename(columns={"platform": "平台", "shop": "店铺", "target": "目标"})
    with imgkit.Sandbox() as sb:
        return imgkit.upload(batch, shops=sb.shops, journal=False, progress=False)


def _book(results: pd.DataFrame, tmp_path: Path, lang: Lang, **options: Any) -> Path:
    return imgkit.to_excel(results, tmp_path / f"results-{lang}.xlsx", lang=lang, **options)


@pytest.mark.parametrize("lang", LANGS)
def test_the_workbook_reads_back_as_the_same_frame(
    uploaded: pd.DataFrame, tmp_path: Path, lang: Lang
) -> None:
    assert set(uploaded["status"]) >= {"uploaded", "invalid", "failed"}
    back = imgkit.read_results(_book(uploaded, tmp_path, lang))
    expected = uploaded.copy()
    for name in ("bytes", "width", "height"):
        expected[name] = expected[name].astype("Int64")
    assert list(back.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(back, expected)
    assert back["retryable"].dtype == bool
    assert back["attempts"].dtype == np.int64
    assert back["target"].tolist() == uploaded["target"].tolist()  # ids stay text
    assert back.loc[uploaded.index[0], "title"] == "中文标题 <b>粗体</b>"


def test_results_sheet_is_styled_for_people(uploaded: pd.DataFrame, tmp_path: Path) -> None:
    book = openpyxl.load_workbook(_book(uploaded, tmp_path, "both"))
    assert book.sheetnames == ["Results", "Summary", "Issues"]
    sheet = book["Results"]
    header = [c.value for c in sheet[1]]
    assert header[:2] == ["row", "status"]
    # The batch's own (Chinese) headers come back for the batch columns.
    assert "平台" in header
    assert "目标" in header
    assert sheet.freeze_panes == "C2"
    assert sheet.auto_filter.ref == sheet.dimensions
    assert sheet["A1"].font.bold
    status_col = header.index("status") + 1
    url_col = header.index("url") + 1
    target_col = header.index("目标") + 1
    for number in range(2, sheet.max_row + 1):
        status = str(sheet.cell(number, status_col).value)
        assert sheet.cell(number, status_col).fill.fgColor.rgb == STATUS_FILLS[status].fgColor.rgb
        url = sheet.cell(number, url_col)
        if url.value:
            assert url.hyperlink is not None
            assert url.hyperlink.target == url.value
        target = sheet.cell(number, target_col)
        assert target.number_format == TEXT_FORMAT
        assert isinstance(target.value, str)
    widths = [sheet.column_dimensions[c].width for c in ("A", "B", "C")]
    assert all(6 <= w <= 60 for w in widths)


def test_chinese_workbook_speaks_chinese(uploaded: pd.DataFrame, tmp_path: Path) -> None:
    book = openpyxl.load_workbook(_book(uploaded, tmp_path, "zh"))
    assert book.sheetnames == [SHEET_NAMES[s]["zh"] for s in ("results", "summary", "issues")]
    sheet = book["结果"]
    header = [c.value for c in sheet[1]]
    assert header[:2] == ["row", "状态"]
    statuses = {sheet.cell(n, 2).value for n in range(2, sheet.max_row + 1)}
    assert statuses <= {"已上传", "无效", "失败"}
    summary = [c.value for row in book["汇总"].iter_rows() for c in row if c.value]
    assert "上传结果汇总" in summary
    assert "合计" in summary


def test_summary_counts_and_advice(uploaded: pd.DataFrame, tmp_path: Path) -> None:
    settings = {"concurrency": 8, "dry_run": False, "app_secret": "must not appear"}
    book = openpyxl.load_workbook(_book(uploaded, tmp_path, "en", settings=settings))
    rows = [[c.value for c in row] for row in book["Summary"].iter_rows()]
    header = next(r for r in rows if r[0] == "platform")
    total = next(r for r in rows if r[0] == "total")
    assert total[header.index("rows")] == len(uploaded)
    assert total[header.index("uploaded")] == int((uploaded["status"] == "uploaded").sum())
    platforms = {r[0] for r in rows[rows.index(header) + 1 : rows.index(total)]}
    assert platforms == set(uploaded["platform_key"])
    advice = {r[0]: str(r[2]) for r in rows if r[0] in {"invalid_input", "not_found"}}
    assert set(advice) == {"invalid_input", "not_found"}
    assert all(text and "imgkit" not in text[:3] for text in advice.values())
    flat = " ".join(str(v) for r in rows for v in r if v is not None)
    assert "concurrency" in flat
    assert "must not appear" not in flat
    assert imgkit.__version__ in flat


def test_issues_sheet_lists_each_invalid_row_issue(uploaded: pd.DataFrame, tmp_path: Path) -> None:
    book = openpyxl.load_workbook(_book(uploaded, tmp_path, "en"))
    rows = [[c.value for c in row] for row in book["Issues"].iter_rows()]
    assert rows[0] == ["row", "platform", "shop", "file", "issue", "message"]
    invalid = uploaded[uploaded["status"] == "invalid"]
    assert len(rows) - 1 >= len(invalid) >= 1
    assert {"bad_target"} <= {r[4] for r in rows[1:]}


def test_no_issues_sheet_when_every_row_was_valid(tmp_path: Path) -> None:
    with imgkit.Sandbox() as sb:
        results = imgkit.upload(
            SAMPLES / "batch.csv", shops=sb.shops, journal=False, progress=False
        )
    book = openpyxl.load_workbook(imgkit.to_excel(results, tmp_path / "ok.xlsx"))
    assert book.sheetnames == ["Results", "Summary"]


def test_thumbnails_are_bounded_and_survive_bad_files(
    uploaded: pd.DataFrame, tmp_path: Path
) -> None:
    broken = uploaded.copy()
    broken.loc[broken.index[1], "file"] = str(tmp_path / "gone.jpg")
    path = _book(broken, tmp_path, "en", thumbnails=True)
    sheet = openpyxl.load_workbook(path)["Results"]
    assert isinstance(sheet, Worksheet)
    images = sheet._images  # type: ignore[attr-defined]  # openpyxl keeps them here
    assert len(images) == len(broken) - 1  # the missing file has none
    pd.testing.assert_frame_equal(
        imgkit.read_results(path).drop(columns=["preview / 预览"], errors="ignore"),
        imgkit.read_results(_book(broken, tmp_path, "both")),
    )


def test_an_empty_results_frame_writes_a_workbook(tmp_path: Path) -> None:
    with imgkit.Sandbox() as sb:
        empty = imgkit.upload(
            pd.DataFrame(columns=["platform", "shop", "file", "target"]),
            shops=sb.shops,
            journal=False,
            progress=False,
        )
    back = imgkit.read_results(imgkit.to_excel(empty, tmp_path / "empty.xlsx"))
    assert back.empty
    assert "status" in back.columns


def test_a_secret_echoed_into_a_message_never_reaches_the_sheet(tmp_path: Path) -> None:
    from imgkit.scrub_logs import register

    register("s3cr3t-value-for-the-workbook-test")
    frame = pd.DataFrame(
        {
            "row": [2],
            "status": ["failed"],
            "platform": ["tmall_item"],
            "shop": ["tmall_store"],
            "file": ["/x.jpg"],
            "target": ["1"],
            "message": ["server said: s3cr3t-value-for-the-workbook-test"],
        }
    )
    path = imgkit.to_excel(frame, tmp_path / "s.xlsx")
    book = openpyxl.load_workbook(path)
    cells = [str(c.value) for s in book for row in s.iter_rows() for c in row if c.value]
    assert not any("s3cr3t-value" in c for c in cells)


def test_a_frame_without_status_is_refused_in_plain_words(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="results frame"):
        imgkit.to_excel(pd.DataFrame({"a": [1]}), tmp_path / "x.xlsx")
