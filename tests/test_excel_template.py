"""The batch template (imgkit.template): filled as a person fills it, read, validated and
uploaded to the sandbox over HTTP, then written as results and read back."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from openpyxl.worksheet.worksheet import Worksheet

import imgkit
from imgkit.excel.batch_template import SHEETS, header_for
from imgkit.excel.styles import TEXT_FORMAT
from imgkit.intake.headers import REQUIRED_COLUMNS
from imgkit.words import LANGS, Lang

IMAGES = imgkit.sample_data() / "images"
# One row per platform, as a person types them (ids as text, Chinese titles).
ROWS = [
    ("taobao_picture", "tb_picture_main", "mug.jpg", "0", "陶瓷马克杯"),
    ("taobao_miniapp", "miniapp_main", "cap.png", "3000000012345", "夏季棒球帽"),
    ("tmall_item", "tmall_store", "mug.jpg", "1489161940", ""),
    ("doudian", "douyin_shop", "bottle.png", "0", "水杯"),
    ("qianmi_sku", "qianmi_shop", "mug.jpg", "18353/g1234", ""),
]


def _sheet(book: openpyxl.Workbook, name: str) -> Worksheet:
    sheet = book[name]
    assert isinstance(sheet, Worksheet)
    return sheet


def _fill(path: Path, lang: Lang) -> None:
    book = openpyxl.load_workbook(path)
    sheet = _sheet(book, SHEETS["batch"][lang])
    header = [c.value for c in sheet[1]]
    at = {name: header.index(header_for(name, lang)) for name in REQUIRED_COLUMNS}
    title = header.index(header_for("title", lang))
    for number, (platform, shop, file, target, words) in enumerate(ROWS, start=2):
        values = {"platform": platform, "shop": shop, "file": str(IMAGES / file), "target": target}
        for name, column in at.items():
            sheet.cell(row=number, column=column + 1, value=values[name])
        if words:
            sheet.cell(row=number, column=title + 1, value=words)
    book.save(path)


@pytest.fixture(scope="module")
def sandbox() -> imgkit.Sandbox:  # type: ignore[misc]
    with imgkit.Sandbox() as sb:
        yield sb


@pytest.mark.parametrize("lang", LANGS)
def test_template_filled_uploads_and_round_trips(
    sandbox: imgkit.Sandbox, tmp_path: Path, lang: Lang
) -> None:
    # Each language fills the same targets: the Qianmi SKU's position 0 must be free again.
    sandbox.state.reset()
    path = imgkit.template(tmp_path / "batch.xlsx", shops=sandbox.shops, lang=lang)
    empty = imgkit.read_batch(path)
    assert empty.empty
    assert list(empty.columns)[:4] == list(REQUIRED_COLUMNS)
    _fill(path, lang)
    batch = imgkit.read_batch(path)
    assert batch["target"].tolist() == [r[3] for r in ROWS]  # ids exactly as typed
    assert batch.loc[0, "title"] == "陶瓷马克杯"
    checked = imgkit.validate(batch, shops=sandbox.shops)
    assert checked["ok"].all(), checked.loc[~checked["ok"], "message"].tolist()
    results = imgkit.upload(batch, shops=sandbox.shops, journal=False, progress=False)
    assert (results["status"] == "uploaded").all(), results["message"].tolist()
    back = imgkit.read_results(imgkit.to_excel(results, tmp_path / "results.xlsx", lang=lang))
    expected = results.copy()
    for name in ("bytes", "width", "height"):
        expected[name] = expected[name].astype("Int64")
    pd.testing.assert_frame_equal(back, expected)


def test_template_offers_drop_downs_and_text_columns(
    sandbox: imgkit.Sandbox, tmp_path: Path
) -> None:
    path = imgkit.template(tmp_path / "t.xlsx", shops=sandbox.shops)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Batch", "Instructions", "Examples", "Lists"]
    assert book["Lists"].sheet_state == "hidden"
    sheet = _sheet(book, "Batch")
    header = [c.value for c in sheet[1]]
    assert header[:4] == ["平台 / platform", "店铺 / shop", "文件 / file", "目标 / target"]
    assert sheet.freeze_panes == "A2"
    for letter in ("A", "D"):
        assert sheet.column_dimensions[letter].number_format == TEXT_FORMAT
    lists = _sheet(book, "Lists")
    offered = {
        str(lists.cell(1, c).value): [lists.cell(r, c).value for r in range(2, lists.max_row + 1)]
        for c in range(1, lists.max_column + 1)
        if lists.cell(1, c).value
    }
    assert [v for v in offered["platform"] if v] == list(imgkit.platform_keys())
    assert [v for v in offered["shop"] if v] == sorted(sandbox.shops)
    assert [v for v in offered["client_type"] if v] == ["client:computer", "client:phone"]
    assert [v for v in offered["is_major"] if v] == ["true", "false"]
    validations = sheet.data_validations.dataValidation
    columns = {str(v.sqref).split(":")[0].rstrip("0123456789") for v in validations}
    letters = {str(h).split(" / ")[-1]: chr(ord("A") + index) for index, h in enumerate(header)}
    assert {letters["platform"], letters["shop"], letters["is_major"]} <= columns


def test_instructions_come_from_the_adapters(tmp_path: Path) -> None:
    path = imgkit.template(tmp_path / "t.xlsx", platforms=["天猫", "qianmi_sku"], lang="en")
    book = openpyxl.load_workbook(path)
    text = " ".join(
        str(c.value) for row in book["Instructions"].iter_rows() for c in row if c.value
    )
    for key in ("tmall_item", "qianmi_sku"):
        adapter = imgkit.get_adapter(key)
        assert adapter.target_meaning in text
        assert f"{adapter.limits.max_bytes:,} bytes" in text
    assert "doudian" not in text
    examples = imgkit.read_batch(path, sheet="Examples")
    assert sorted(examples["platform"]) == ["qianmi_sku", "tmall_item"]


def test_no_secret_of_the_shops_reaches_the_template(
    sandbox: imgkit.Sandbox, tmp_path: Path
) -> None:
    path = imgkit.template(tmp_path / "t.xlsx", shops=sandbox.shops)
    book = openpyxl.load_workbook(path)
    cells = {str(c.value) for s in book.worksheets for row in s.iter_rows() for c in row if c.value}
    secrets = {
        str(value)
        for shop in sandbox.shops.values()
        for name, value in shop.items()
        if any(word in name for word in ("secret", "token", "session"))
    }
    assert secrets
    assert not any(secret in cell for secret in secrets for cell in cells)


def test_an_unknown_platform_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(imgkit.UnknownPlatformError, match="jd"):
        imgkit.template(tmp_path / "t.xlsx", platforms=["jd"])
