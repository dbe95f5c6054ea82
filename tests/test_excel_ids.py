"""Ids Excel cut to 15 digits: read_batch never invents the missing digits."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any, cast

import numpy as np
import openpyxl
import pandas as pd
import pytest

from imgkit.intake.batch import SCIENTIFIC_ID, looks_mangled, read_batch

HEADER = ["platform", "shop", "file", "target", "replace_id"]
INVENTED = "1657717355974340096"  # int(1.65771735597434e18): digits nobody typed
EXACT = "1657717355974335419"


def write_xlsx(path: Path, rows: list[list[Any]]) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def patch_sheet(path: Path, old: bytes, new: bytes) -> Path:
    """A copy of the workbook with one cell value rewritten in the sheet's XML."""
    patched = path.with_name("patched-" + path.name)
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(patched, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                assert data.count(old) == 1
                data = data.replace(old, new)
            dst.writestr(item, data)
    return patched


def test_a_general_cell_holding_a_cut_id_reads_as_excel_shows_it(tmp_path: Path) -> None:
    made = write_xlsx(
        tmp_path / "b.xlsx",
        [
            HEADER,
            ["tmall", "s", "a.jpg", 1.65771735597434e18, 1.65771735597434e18],  # General
            ["tmall", "s", "a.jpg", 12345, None],  # an int cell, rewritten below
            ["tmall", "s", "a.jpg", EXACT, "00123"],  # a text cell: exact
            ["tmall", "s", "a.jpg", 1489161932.0, 2.5],
        ],
    )
    with zipfile.ZipFile(made) as book:
        sheet = book.read("xl/worksheets/sheet1.xml")
    assert sheet.count(b"<v>1.65771735597434e+18</v>") == 2  # a float cell, as Excel has it
    # openpyxl writes every number as "%.16g", so an exact 19-digit int cell (as another
    # program may write it) is made by hand.
    path = patch_sheet(made, b"<v>12345</v>", f"<v>{EXACT}</v>".encode())
    workbook = openpyxl.load_workbook(path)
    assert workbook.active is not None
    assert workbook.active["D3"].value == int(EXACT)
    assert isinstance(workbook.active["D2"].value, float)
    batch = read_batch(path)
    assert batch["target"].tolist() == ["1.65771735597434E+18", EXACT, EXACT, "1489161932"]
    assert batch["replace_id"].tolist() == ["1.65771735597434E+18", "", "00123", "2.5"]
    assert INVENTED not in batch.to_numpy().ravel().tolist()  # any cell
    assert looks_mangled(cast(str, batch.loc[0, "target"]))
    assert not looks_mangled(cast(str, batch.loc[1, "target"]))


def test_the_number_as_excel_itself_writes_it(tmp_path: Path) -> None:
    # Excel writes the cell value as "1.65771735597434E+18" (capital E); rewrite the sheet
    # so the test reads exactly that.
    made = write_xlsx(tmp_path / "made.xlsx", [HEADER, ["tmall", "s", "a.jpg", 1.5e18, None]])
    path = patch_sheet(made, b"<v>1.5e+18</v>", b"<v>1.65771735597434E+18</v>")
    assert read_batch(path).loc[0, "target"] == "1.65771735597434E+18"


def test_a_csv_keeps_the_scientific_text_excel_saved(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_text(
        "platform,shop,file,target,replace_id\n"
        "tmall,s,a.jpg,1.65772E+18,1.6577e18\n"
        f"tmall,s,a.jpg,{EXACT},1489161932\n",
        encoding="utf-8",
    )
    batch = read_batch(path)
    assert batch["target"].tolist() == ["1.65772E+18", EXACT]
    assert batch["replace_id"].tolist() == ["1.6577e18", "1489161932"]


def test_dataframe_floats_too_large_to_trust_become_scientific_text() -> None:
    frame = pd.DataFrame(
        {
            "platform": ["tmall"] * 5,
            "shop": ["s"] * 5,
            "file": ["https://x/a.jpg"] * 5,
            "target": [1.6577173559743401e18, 1489161932.0, np.nan, 999999999999999.0, -2e16],
            # object: a mixed column as pd.read_excel leaves it, each cell its own type
            "replace_id": pd.Series(
                [np.float64(1.6577173559743401e18), np.int64(EXACT), int(EXACT), 8, 9.0],
                dtype=object,
            ),
        }
    )
    assert frame["target"].dtype == np.float64
    batch = read_batch(frame)
    assert batch["target"].tolist() == [
        "1.65771735597434E+18",
        "1489161932",
        "",
        "999999999999999",
        "-2E+16",
    ]
    assert batch["replace_id"].tolist() == ["1.65771735597434E+18", EXACT, EXACT, "8", "9"]


def test_int64_columns_and_python_ints_stay_exact() -> None:
    frame = pd.DataFrame(
        {
            "platform": ["tmall", "tmall"],
            "shop": ["s", "s"],
            "file": ["https://x/a.jpg"] * 2,
            "target": np.array([int(EXACT), 1489161932], dtype=np.int64),
            "replace_id": pd.array([int(EXACT), None], dtype="Int64"),
        }
    )
    batch = read_batch(frame)
    assert batch["target"].tolist() == [EXACT, "1489161932"]
    assert batch["replace_id"].tolist() == [EXACT, ""]


@pytest.mark.parametrize(
    "text",
    [
        "1.65772E+18",
        "1.65771735597434E+18",
        "1.6577e18",
        "1E+15",
        "-2E+16",
        "1.5e-3",
        ".5E3",
        "7.E2",
        " 1.65772E+18 ",
    ],
)
def test_scientific_texts_look_mangled(text: str) -> None:
    assert looks_mangled(text)
    assert SCIENTIFIC_ID.match(text)


@pytest.mark.parametrize(
    "text",
    [
        EXACT,
        "00123",
        "1489161932",
        "18353/g1234",
        "1.5",
        "e18",
        "1e",
        "1E+",
        "E+18",
        "1.6577e18x",
        "id 1e18",
        "\uff11\uff25\uff0b\uff11\uff18",  # full-width "1E+18": Excel never writes it
        "",
    ],
)
def test_other_texts_do_not(text: str) -> None:
    assert not looks_mangled(text)
    assert not SCIENTIFIC_ID.match(text)


def test_the_pattern_works_with_pandas_string_methods() -> None:
    texts = pd.Series(["1.65772E+18", EXACT, ""])
    assert texts.str.match(SCIENTIFIC_ID).tolist() == [True, False, False]
    assert texts.str.fullmatch(SCIENTIFIC_ID.pattern).tolist() == [True, False, False]
