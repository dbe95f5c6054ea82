"""Reading batches: headers in two languages, ids as exact text, messy sheets, row numbers."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any, cast

import openpyxl
import pandas as pd
import pytest

from imgkit import Category, ImgkitError
from imgkit.intake.batch import (
    HEADER_ALIASES,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    column_for,
    read_batch,
    read_batch_positions,
)
from imgkit.platforms import get_adapter, platform_keys

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
HEADER = ["platform", "shop", "file", "target"]
ROW = ["tmall_item", "tmall_store", "a.jpg", "1489161940"]


def write_xlsx(
    path: Path,
    rows: list[list[Any]],
    *,
    title: str = "batch",
    merges: tuple[str, ...] = (),
    more_sheets: dict[str, list[list[Any]]] | None = None,
) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row, start=1):
            if value is not None:
                sheet.cell(row=r, column=c, value=value)
    for cells in merges:
        sheet.merge_cells(cells)
    for name, other in (more_sheets or {}).items():
        extra = book.create_sheet(name)
        for row in other:
            extra.append(row)
    book.save(path)
    return path


def write_csv(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def invalid(exc: pytest.ExceptionInfo[ImgkitError], code: str) -> str:
    assert exc.value.category is Category.INVALID_INPUT
    assert exc.value.code == code
    return str(exc.value)


# --- the sample batch -------------------------------------------------------------------


def test_sample_csv_and_xlsx_give_identical_frames() -> None:
    from_csv = read_batch(SAMPLE / "batch.csv")
    from_xlsx = read_batch(SAMPLE / "batch.xlsx")
    pd.testing.assert_frame_equal(from_csv, from_xlsx)
    assert list(from_csv.columns) == [
        *REQUIRED_COLUMNS,
        "title",
        "position",
        "replace_id",
        "is_major",
        "is_rectangle",
        "client_type",
        "row",
    ]
    assert from_csv["row"].tolist() == list(range(2, 17))
    assert isinstance(from_csv.index, pd.RangeIndex)
    assert from_csv.loc[1, "target"] == "1657717355974335419"
    assert from_csv.loc[10, "target"] == "73691281073984637961425"
    assert from_csv.loc[1, "file"] == str(SAMPLE / "images" / "白色T恤.jpg")
    assert from_csv.loc[7, "file"] == str(SAMPLE / "images" / "running shoe.jpg")
    assert all(Path(f).is_file() for f in from_csv["file"])
    assert from_csv.attrs["imgkit_source"] == str(SAMPLE / "batch.csv")
    assert from_xlsx.attrs["imgkit_source"] == str(SAMPLE / "batch.xlsx")


def test_reading_a_read_batch_again_changes_nothing() -> None:
    once = read_batch(SAMPLE / "batch.csv")
    pd.testing.assert_frame_equal(read_batch(once), once)
    shuffled = once.iloc[[3, 1]].reset_index(drop=True)
    assert read_batch(shuffled)["row"].tolist() == [5, 3]


# --- headers ------------------------------------------------------------------------------


def test_chinese_headers(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "批量.csv",
        "平台,店铺名称,图片路径,商品ID,图片标题,序号,替换图片ID,是否主图,是否3:4,终端,去重\n"
        "天猫,tmall_store,a.jpg,1489161940,主图,1,0,是,是,,\n",
    )
    batch = read_batch(path)
    assert list(batch.columns) == [*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS[:-1], "row"]
    assert batch.iloc[0].tolist()[:4] == [
        "天猫",
        "tmall_store",
        str(tmp_path / "a.jpg"),
        "1489161940",
    ]
    assert batch.loc[0, "is_rectangle"] == "是"


def test_mixed_case_and_spaced_headers(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "b.csv",
        " Platform ,Shop Name,File Path,Target ID,Replace Id,IS_MAJOR,client-type,"
        "\uff13\uff1a\uff14,*Title\n"  # a full-width 3:4
        "tmall,tmall_store,a.jpg,1,2,true,,true,hello\n",
    )
    batch = read_batch(path)
    assert list(batch.columns) == [
        *REQUIRED_COLUMNS,
        "title",
        "replace_id",
        "is_major",
        "is_rectangle",
        "client_type",
        "row",
    ]
    assert batch.loc[0, "replace_id"] == "2"
    assert batch.loc[0, "title"] == "hello"


def test_aliases_are_unambiguous_and_cover_every_adapter_option() -> None:
    seen: dict[str, str] = {}
    for column in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS):
        for alias in (column, *HEADER_ALIASES[column]):
            assert column_for(alias) == column
            key = alias.casefold().replace(" ", "").replace("_", "")
            assert seen.setdefault(key, column) == column, f"{alias!r} means two columns"
    declared = {o.name for key in platform_keys() for o in get_adapter(key).options}
    assert declared <= set(OPTIONAL_COLUMNS)
    # Results columns must not be read back as batch columns.
    assert column_for("url") is None
    assert column_for("category") is None
    assert column_for("image_id") is None


def test_a_missing_required_column_lists_its_aliases_in_both_languages(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "b.csv", "平台,店铺,图片\ntmall,s,a.jpg\n")
    with pytest.raises(ImgkitError) as exc:
        read_batch(path)
    message = invalid(exc, "missing_column")
    assert "missing required column 'target'" in message
    assert "缺少必填列 'target'" in message
    for alias in ("目标", "商品ID", "文件夹ID", "target id"):
        assert alias in message
    assert "b.csv" in message
    assert "'file'" not in message


def test_two_headers_meaning_one_column_are_named(tmp_path: Path) -> None:
    frame = pd.DataFrame([["tmall", "s", "a.jpg", "b.jpg", "1"]])
    frame.columns = pd.Index(["平台", "店铺", "图片", "文件路径", "target"])
    with pytest.raises(ImgkitError) as exc:
        read_batch(frame)
    message = invalid(exc, "duplicate_column")
    assert "'图片' and '文件路径'" in message
    assert "'file'" in message
    assert "图片、文件路径" in message


def test_a_time_header_typed_as_3_colon_4_is_the_rectangle_column(tmp_path: Path) -> None:
    # Excel turns a typed "3:4" into the time 03:04.
    path = write_xlsx(tmp_path / "b.xlsx", [[*HEADER, dt.time(3, 4)], [*ROW, "true"]])
    assert read_batch(path).loc[0, "is_rectangle"] == "true"


# --- values as text -----------------------------------------------------------------------


def test_numeric_excel_cells_become_exact_text(tmp_path: Path) -> None:
    rows: list[list[Any]] = [
        [*HEADER, "position", "is_major", "备注"],
        ["tmall", "s", "a.jpg", 1489161932, 1, True, dt.datetime(2024, 5, 1)],
        ["tmall", "s", "a.jpg", 1489161932.0, 2.0, False, dt.datetime(2024, 5, 1, 9, 30)],
        ["qianmi", "s", "a.jpg", "00123", 0, None, 2.5],
        ["doudian", "s", "a.jpg", "73691281073984637961425", None, None, dt.date(2024, 5, 2)],
    ]
    batch = read_batch(write_xlsx(tmp_path / "b.xlsx", rows))
    assert batch["target"].tolist() == [
        "1489161932",
        "1489161932",
        "00123",
        "73691281073984637961425",
    ]
    assert batch["position"].tolist() == ["1", "2", "0", ""]
    assert batch["is_major"].tolist() == ["true", "false", "", ""]
    assert batch["备注"].tolist() == ["2024-05-01", "2024-05-01T09:30:00", "2.5", "2024-05-02"]
    assert all(pd.api.types.is_string_dtype(batch[c]) for c in batch.columns[:-1])


def test_csv_values_stay_as_written(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "b.csv",
        "platform,shop,file,target,position,sku\n"
        " 天猫 ,  s  ,a.jpg,1489161932,1,00123\n"
        "tmall,NaN,a.jpg,1489161932.0,,NULL\n",
    )
    batch = read_batch(path)
    assert batch["platform"].tolist() == ["天猫", "tmall"]
    assert batch["shop"].tolist() == ["s", "NaN"]
    assert batch["target"].tolist() == ["1489161932", "1489161932.0"]
    assert batch["sku"].tolist() == ["00123", "NULL"]
    assert batch["position"].tolist() == ["1", ""]


def test_dataframe_numbers_become_text_without_a_decimal_point(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "Platform": ["tmall", "tmall", "tmall"],
            "Shop": ["s", None, "s"],
            "File": ["a.jpg", "https://img.example/b.jpg", float("nan")],
            "Target": [1489161932.0, float("nan"), 3e9],  # floats, as NaN makes them
            "position": pd.array([1, None, 3], dtype="Int64"),
            "replace_id": [10, 11, 12],
            "is_major": [True, False, True],
            "when": [pd.Timestamp("2024-05-01"), pd.NaT, pd.Timestamp("2024-05-01 08:00")],
            7: [0.5, 1.25, None],
        },
        index=[10, 20, 30],
    )
    batch = read_batch(frame)
    assert batch["target"].tolist() == ["1489161932", "", "3000000000"]
    assert batch["shop"].tolist() == ["s", "", "s"]
    assert batch["position"].tolist() == ["1", "", "3"]
    assert batch["replace_id"].tolist() == ["10", "11", "12"]
    assert batch["is_major"].tolist() == ["true", "false", "true"]
    assert batch["when"].tolist() == ["2024-05-01", "", "2024-05-01T08:00:00"]
    assert batch[7].tolist() == ["0.5", "1.25", ""]
    assert batch["file"].tolist() == [
        str(Path.cwd() / "a.jpg"),
        "https://img.example/b.jpg",
        "",
    ]
    # The index is ignored: rows are numbered by position, as if the header were row 1.
    assert batch["row"].tolist() == [2, 3, 4]
    assert list(batch.index) == [0, 1, 2]
    assert "imgkit_source" not in batch.attrs


def test_a_dataframe_row_column_must_hold_row_numbers() -> None:
    frame = pd.DataFrame([[*ROW, "x"]], columns=[*HEADER, "row"])
    with pytest.raises(ImgkitError) as exc:
        read_batch(frame)
    assert "'row'" in invalid(exc, "bad_row_column")


# --- messy sheets ---------------------------------------------------------------------------


def test_blank_rows_are_dropped_and_rows_keep_their_sheet_numbers(tmp_path: Path) -> None:
    rows: list[list[Any]] = [
        HEADER,
        ROW,
        [None, None, None, None],
        ["  ", "\u3000", "", None],
        ["tmall", "", "b.jpg", "1"],  # the problem row: no shop, sheet row 5
        ROW,
    ]
    batch = read_batch(write_xlsx(tmp_path / "b.xlsx", rows))
    assert batch["row"].tolist() == [2, 5, 6]
    assert batch.loc[batch["shop"] == "", "row"].tolist() == [5]
    assert list(batch.index) == [0, 1, 2]


def test_csv_rows_are_numbered_as_a_spreadsheet_shows_them(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "b.csv",
        'platform,shop,file,target,title\n\n,,,,\ntmall,s,a.jpg,1,"two\nlines"\ntmall,s,b.jpg,2,\n',
    )
    batch = read_batch(path)
    assert batch["row"].tolist() == [4, 5]
    assert batch.loc[0, "title"] == "two\nlines"


def test_extra_columns_are_kept_untouched_after_the_known_ones(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "b.xlsx",
        [
            ["备注", *HEADER, "SKU Code", "title", "备注", None, None],
            ["first", *ROW, "00123", "t", "second", None, "orphan"],
        ],
    )
    batch = read_batch(path)
    assert list(batch.columns) == [
        *REQUIRED_COLUMNS,
        "title",
        "备注",
        "SKU Code",
        "备注.1",
        "Unnamed: 9",
        "row",
    ]
    assert batch[["备注", "SKU Code", "备注.1", "Unnamed: 9"]].iloc[0].tolist() == [
        "first",
        "00123",
        "second",
        "orphan",
    ]


def test_a_files_own_row_column_gives_way_to_the_sheet_rows(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "b.csv", "platform,shop,file,target,row\ntmall,s,a.jpg,1,17\n")
    batch = read_batch(path)
    assert list(batch.columns) == [*REQUIRED_COLUMNS, "row"]
    assert batch["row"].tolist() == [2]


def test_a_title_row_above_the_header_is_skipped(tmp_path: Path) -> None:
    csv_path = write_csv(
        tmp_path / "b.csv", "2024年5月 上新图片\n\n平台,店铺,图片,目标\ntmall,s,a.jpg,1\n"
    )
    assert read_batch(csv_path)["row"].tolist() == [4]
    xlsx_path = write_xlsx(tmp_path / "b.xlsx", [["上新图片", None, "制表:王"], HEADER, ROW])
    batch = read_batch(xlsx_path)
    assert batch["row"].tolist() == [3]
    assert batch.loc[0, "target"] == "1489161940"


def test_the_header_is_sought_in_the_first_ten_rows_only(tmp_path: Path) -> None:
    rows: list[list[Any]] = [[f"note {i}"] for i in range(10)]
    path = write_xlsx(tmp_path / "b.xlsx", [*rows, HEADER, ROW])
    with pytest.raises(ImgkitError) as exc:
        read_batch(path)
    invalid(exc, "missing_column")


def test_merged_header_and_data_cells(tmp_path: Path) -> None:
    rows: list[list[Any]] = [
        ["天猫 5月 主图批量", None, None, None, None],  # merged A1:E1
        ["基本信息", None, None, None, "选项"],  # group headers: A2:D2 merged
        ["平台", "店铺", "图片", "商品ID", "位置"],
        ["tmall", "tmall_store", "a.jpg", 1489161940, 0],
        [None, None, "b.jpg", 1489161940, 1],
        [None, None, "c.jpg", 1489161941, None],
        ["doudian", "douyin_shop", "d.jpg", 0, None],
    ]
    path = write_xlsx(
        tmp_path / "b.xlsx", rows, merges=("A1:E1", "A2:D2", "A4:A6", "B4:B6", "E5:E6")
    )
    batch = read_batch(path)
    assert batch["platform"].tolist() == ["tmall", "tmall", "tmall", "doudian"]
    assert batch["shop"].tolist() == ["tmall_store"] * 3 + ["douyin_shop"]
    assert batch["position"].tolist() == ["0", "1", "1", ""]
    assert batch["row"].tolist() == [4, 5, 6, 7]


def test_a_vertically_merged_header_does_not_leak_into_the_data(tmp_path: Path) -> None:
    rows: list[list[Any]] = [HEADER, ROW, ROW]
    batch = read_batch(write_xlsx(tmp_path / "b.xlsx", rows, merges=("A1:A2",)))
    # A1:A2 swallowed A2's value; nothing is filled from the header.
    assert batch["platform"].tolist() == ["", "tmall_item"]


def test_sheets_by_name_and_by_index(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "b.xlsx",
        [["说明: 第二个工作表是批量"]],
        title="说明",
        more_sheets={"批量": [HEADER, ROW], "other": [HEADER, ["doudian", "d", "x.png", "0"]]},
    )
    assert read_batch(path, sheet="批量")["shop"].tolist() == ["tmall_store"]
    assert read_batch(path, sheet=1)["shop"].tolist() == ["tmall_store"]
    assert read_batch(path, sheet=-1)["shop"].tolist() == ["d"]
    assert read_batch(path, sheet=" OTHER ")["shop"].tolist() == ["d"]
    with pytest.raises(ImgkitError) as exc:
        read_batch(path)
    invalid(exc, "missing_column")
    for sheet in ("nope", 5):
        with pytest.raises(ImgkitError) as exc:
            read_batch(path, sheet=sheet)
        assert "说明, 批量, other" in invalid(exc, "no_such_sheet")


# --- encodings ------------------------------------------------------------------------------


def test_gb18030_csv_from_chinese_excel(tmp_path: Path) -> None:
    text = "平台,店铺,图片,目标,标题\n天猫,旗舰店,白色T恤.jpg,1489161940,白色T恤 正面\n"
    path = write_csv(tmp_path / "b.csv", text, "gb18030")
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")
    batch = read_batch(path)
    assert batch[["platform", "shop", "title"]].iloc[0].tolist() == [
        "天猫",
        "旗舰店",
        "白色T恤 正面",
    ]
    assert batch.loc[0, "file"] == str(tmp_path / "白色T恤.jpg")


def test_utf8_csv_with_a_bom(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "b.csv", "平台,店铺,图片,目标\r\n天猫,s,a.jpg,1\r\n", "utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert read_batch(path).loc[0, "platform"] == "天猫"


# --- file paths ---------------------------------------------------------------------------


def test_relative_paths_resolve_against_the_batch_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "上新 批量"
    folder.mkdir()
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("USERPROFILE", str(home))
    monkeypatch.chdir(tmp_path)
    files = [
        "images/白色T恤.jpg",
        "running shoe.jpg",
        "../other/a.jpg",
        str(tmp_path / "abs.png"),
        "~/pics/b.jpg",
        "https://img.example.com/a b.jpg",
        "HTTP://img.example.com/c.jpg",
        "",
    ]
    lines = "".join(f'tmall,s,"{f}",1\n' for f in files)
    path = write_csv(folder / "批量 1.csv", "platform,shop,file,target\n" + lines)
    batch = read_batch(Path("上新 批量") / "批量 1.csv")
    assert batch["file"].tolist() == [
        str(folder / "images" / "白色T恤.jpg"),
        str(folder / "running shoe.jpg"),
        str(tmp_path / "other" / "a.jpg"),
        str(tmp_path / "abs.png"),
        str(home / "pics" / "b.jpg"),
        "https://img.example.com/a b.jpg",
        "HTTP://img.example.com/c.jpg",
        "",
    ]
    assert batch.attrs["imgkit_source"] == str(path)
    assert batch["row"].tolist() == list(range(2, 10))


def test_paths_are_normalized_and_a_frame_read_from_a_file_keeps_its_folder(
    tmp_path: Path,
) -> None:
    files = ["./a.jpg", "images//b.jpg", "images/./c.jpg", "images/../d.jpg", ".hidden/e.jpg"]
    frame = pd.DataFrame({"platform": "tmall", "shop": "s", "file": files, "target": "1"})
    frame.attrs["imgkit_source"] = str(tmp_path / "batch.csv")
    batch = read_batch(frame)
    assert batch["file"].tolist() == [
        str(tmp_path / "a.jpg"),
        str(tmp_path / "images" / "b.jpg"),
        str(tmp_path / "images" / "c.jpg"),
        str(tmp_path / "d.jpg"),
        str(tmp_path / ".hidden" / "e.jpg"),
    ]
    assert batch.attrs["imgkit_source"] == str(tmp_path / "batch.csv")


def test_a_frame_read_without_its_header_finds_it_in_its_rows() -> None:
    # pd.read_excel on a sheet with a title row: the header lands in the first data row.
    frame = pd.DataFrame(
        [["平台", "店铺", "图片", "目标"], [None] * 4, ["tmall", "s", "https://x/a.jpg", 1.0]],
        columns=["五月上新", "Unnamed: 1", "Unnamed: 2", "Unnamed: 3"],
    )
    batch = read_batch(frame)
    assert batch.iloc[0].tolist() == ["tmall", "s", "https://x/a.jpg", "1", 4]


def test_a_str_path_works_like_a_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    pd.testing.assert_frame_equal(
        read_batch(os.path.join("sample_data", "batch.xlsx"), sheet="batch"),
        read_batch(SAMPLE / "batch.xlsx"),
    )


# --- empty input and bad files ----------------------------------------------------------------


def test_a_sheet_with_only_headers_gives_an_empty_frame_with_the_columns(tmp_path: Path) -> None:
    header = [*HEADER, "标题", "备注"]
    for path in (
        write_xlsx(tmp_path / "b.xlsx", [header, [None] * 6]),
        write_csv(tmp_path / "b.csv", ",".join(header) + "\n,,,,,\n"),
    ):
        batch = read_batch(path)
        assert batch.empty
        assert list(batch.columns) == [*REQUIRED_COLUMNS, "title", "备注", "row"]
        assert batch["row"].dtype == "int64"
        assert pd.api.types.is_string_dtype(batch["target"])


@pytest.mark.parametrize("content", [[], [[None]]])
def test_an_empty_sheet_misses_every_column(tmp_path: Path, content: list[list[Any]]) -> None:
    with pytest.raises(ImgkitError) as exc:
        read_batch(write_xlsx(tmp_path / "b.xlsx", content))
    message = invalid(exc, "missing_column")
    assert "'platform', 'shop', 'file', 'target'" in message


@pytest.mark.parametrize("name", ["batch.txt", "batch.xls", "batch"])
def test_an_unknown_extension_is_refused_naming_the_file(tmp_path: Path, name: str) -> None:
    path = write_csv(tmp_path / name, "platform,shop,file,target\n")
    with pytest.raises(ImgkitError) as exc:
        read_batch(path)
    message = invalid(exc, "unknown_file_type")
    assert name in message
    assert ".xlsx" in message


def test_a_missing_or_broken_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ImgkitError) as exc:
        read_batch(tmp_path / "nope.csv")
    assert "nope.csv" in invalid(exc, "no_batch_file")
    broken = write_csv(tmp_path / "broken.xlsx", "not a zip")
    with pytest.raises(ImgkitError) as exc:
        read_batch(broken)
    assert "broken.xlsx" in invalid(exc, "bad_batch_file")


@pytest.mark.parametrize("kind", ["frame", "object frame", "csv", "csv no newline", "xlsx"])
def test_a_batch_with_only_a_header_is_empty_not_an_error(tmp_path: Path, kind: str) -> None:
    header = [*HEADER, "标题", "replace_id", "备注"]
    source: pd.DataFrame | Path
    if kind == "frame":
        source = pd.DataFrame(columns=header)
    elif kind == "object frame":
        source = pd.DataFrame({h: pd.Series([], dtype=object) for h in header})
    elif kind == "csv":
        source = write_csv(tmp_path / "b.csv", ",".join(header) + "\n")
    elif kind == "csv no newline":
        source = write_csv(tmp_path / "b.csv", ",".join(header))
    else:
        source = write_xlsx(tmp_path / "b.xlsx", [header])
    batch = read_batch(source)
    assert len(batch) == 0
    assert list(batch.columns) == [*REQUIRED_COLUMNS, "title", "replace_id", "备注", "row"]
    assert batch["row"].dtype == "int64"
    assert all(pd.api.types.is_string_dtype(batch[c]) for c in batch.columns[:-1])
    assert batch.attrs["imgkit_headers"] == {
        **{c: c for c in REQUIRED_COLUMNS},
        "title": "标题",
        "replace_id": "replace_id",
    }


@pytest.mark.parametrize("kind", ["no columns", "rows but no columns", "zero-byte csv"])
def test_a_sheet_without_any_header_is_malformed_not_empty(tmp_path: Path, kind: str) -> None:
    source: pd.DataFrame | Path
    if kind == "no columns":
        source = pd.DataFrame()
    elif kind == "rows but no columns":
        source = pd.DataFrame(index=range(3))
    else:
        source = write_csv(tmp_path / "b.csv", "")
    with pytest.raises(ImgkitError) as exc:
        read_batch(source)
    message = invalid(exc, "missing_column")
    assert "missing required column 'platform', 'shop', 'file', 'target'" in message
    assert "缺少必填列 'platform', 'shop', 'file', 'target'" in message
    assert "accepted headers / 可用表头" in message


# --- the user's own headers -----------------------------------------------------------------


def test_the_headers_as_the_user_wrote_them_are_remembered(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "b.csv",
        "平台, 店铺 ,图片路径,商品ID,Image Title,备注\ntmall,s,a.jpg,1,t,x\n",
    )
    batch = read_batch(path)
    assert batch.attrs["imgkit_headers"] == {
        "platform": "平台",
        "shop": "店铺",
        "file": "图片路径",
        "target": "商品ID",
        "title": "Image Title",
    }
    english = read_batch(write_xlsx(tmp_path / "b.xlsx", [[*HEADER, dt.time(3, 4)], ROW]))
    assert english.attrs["imgkit_headers"] == {
        **{c: c for c in REQUIRED_COLUMNS},
        "is_rectangle": "3:4",
    }


def test_a_batch_passed_around_keeps_the_users_original_headers(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "b.csv", "平台,店铺,图片,商品ID,标题\ntmall,s,a.jpg,1,t\n")
    once = read_batch(path)
    again = read_batch(once.copy())
    assert again.attrs["imgkit_headers"] == once.attrs["imgkit_headers"]
    assert again.attrs["imgkit_headers"]["target"] == "商品ID"
    # A header the user renamed since says what it says now; a column added since is its own.
    renamed = once.rename(columns={"shop": "店铺名称"})
    renamed["position"] = "1"
    headers = read_batch(renamed).attrs["imgkit_headers"]
    assert headers["shop"] == "店铺名称"
    assert headers["platform"] == "平台"
    assert headers["position"] == "position"
    # A stale mapping never names a column the frame does not have.
    stale = once.drop(columns=["title"])
    assert "title" not in read_batch(stale).attrs["imgkit_headers"]


def test_a_frame_without_a_mapping_maps_its_own_headers() -> None:
    frame = pd.DataFrame([["tmall", "s", "https://x/a.jpg", "1"]], columns=["平台", *HEADER[1:]])
    frame.attrs["imgkit_headers"] = "not a mapping"
    assert read_batch(frame).attrs["imgkit_headers"]["platform"] == "平台"


# --- keeping a file's own row numbers --------------------------------------------------------


def test_keep_row_keeps_a_files_own_row_column(tmp_path: Path) -> None:
    csv_path = write_csv(
        tmp_path / "b.csv", "platform,shop,file,target,row\ntmall,s,a.jpg,1,17\n\ntmall,s,b,2,3\n"
    )
    xlsx_path = write_xlsx(tmp_path / "b.xlsx", [[*HEADER, "row"], [*ROW, 17], [*ROW, 3.0]])
    for path, sheet_rows in ((csv_path, [2, 4]), (xlsx_path, [2, 3])):
        assert read_batch(path)["row"].tolist() == sheet_rows
        kept = read_batch(path, keep_row=True)
        assert kept["row"].tolist() == [17, 3]
        assert kept["row"].dtype == "int64"
        assert list(kept.columns) == [*REQUIRED_COLUMNS, "row"]
    # Without a row column of its own, a file's rows are numbered as usual.
    plain = write_csv(tmp_path / "p.csv", "platform,shop,file,target\ntmall,s,a.jpg,1\n")
    assert read_batch(plain, keep_row=True)["row"].tolist() == [2]
    bad = write_csv(tmp_path / "bad.csv", "platform,shop,file,target,row\ntmall,s,a.jpg,1,x\n")
    with pytest.raises(ImgkitError) as exc:
        read_batch(bad, keep_row=True)
    assert "'row'" in invalid(exc, "bad_row_column")


# --- reading only what holds a value ------------------------------------------------------------


def test_a_sheet_is_read_by_the_cells_that_hold_values(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["platform", "shop", "file", "target", None, "备注"])
    sheet.append(["tmall", "tmall_store", "a.jpg", "1", None, "x"])
    sheet.append(["tmall", None, "b.jpg", "2"])
    sheet["A900"] = "tmall"  # far below, after 896 empty rows
    sheet.merge_cells("B2:B1000")  # down past the last row
    path = tmp_path / "sparse.xlsx"
    book.save(path)
    batch = read_batch(path)
    assert batch["row"].tolist() == [2, 3, 900]
    assert batch["shop"].tolist() == ["tmall_store"] * 3  # the merge fills every row under it
    assert batch["备注"].tolist() == ["x", "", ""]
    assert "Unnamed: 4" not in batch.columns  # an empty, unnamed column is formatting


def test_a_huge_csv_cell_is_read_and_the_limit_given_back(tmp_path: Path) -> None:
    import csv

    before = csv.field_size_limit()
    path = tmp_path / "big.csv"
    path.write_text(f"platform,shop,file,target,title\ntmall,s,a.jpg,1,{'t' * 300_000}\n")
    assert len(cast(str, read_batch(path).loc[0, "title"])) == 300_000
    assert csv.field_size_limit() == before


def test_read_batch_positions_are_the_frames_own(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "platform": ["", "tmall", "tmall"],
            "shop": ["", "s", "s"],
            "file": ["", "a", "b"],
            "target": ["", "1", "2"],
            "row": [10, 11, 12],
        },
    )
    batch, positions = read_batch_positions(frame)
    assert positions.tolist() == [1, 2]
    assert batch["row"].tolist() == [11, 12]
