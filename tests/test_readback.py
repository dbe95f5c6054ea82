"""Reading a results table back exactly: from a workbook, a CSV or a frame pandas mangled."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pytest

from imgkit import ImgkitError
from imgkit.intake.batch import column_for, read_batch
from imgkit.report.readback import (
    KNOWN_STATUSES,
    RESULT_HEADER_ALIASES,
    STATUS_WORDS,
    read_results,
    status_of,
)
from imgkit.report.results import RESULT_COLUMNS, STATUSES

LONG_ID = "1657717355974335419"
TEXT_COLUMNS = ("status", "url", "image_id", "category", "code", "message", "sha256")


def results_frame(folder: Path, index: Any = None) -> pd.DataFrame:
    """A results frame as upload() returns it, one row per status."""
    n = 8
    files = [str(folder / name) for name in ("a.jpg", "白色T恤.jpg", "c.png", "d.gif")] * 2
    frame = pd.DataFrame(
        {
            "platform": ["tmall_item", "taobao_picture", "doudian", "qianmi_sku"] * 2,
            "shop": ["tmall_store", "tb_picture_main", "douyin_shop", "qianmi_store"] * 2,
            "file": files,
            "target": [
                LONG_ID,
                "0",
                "00123",
                "18353/g1234",
                "73691281073984637961425",
                "1489161940",
                "",
                "7",
            ],
            "title": ["陶瓷马克杯 ceramic mug", "", "", "主图", "", "", "t", ""],
            "replace_id": ["", "", "0073322001", "", "", "", "", ""],
            "备注": ["第一批", "", "", "", "", "x", "", ""],
            "row": [2, 3, 5, 9, 10, 11, 12, 40],
            "platform_key": ["tmall_item", "taobao_picture", "doudian", "qianmi_sku"] * 2,
            "status": list(KNOWN_STATUSES[:n]),
            "url": ["http://127.0.0.1:1/img/a.jpg", "http://127.0.0.1:1/img/b.jpg"]
            + [""] * (n - 2),
            "image_id": ["73322001", "0073322002", "", "", "v01234", "", "", ""],
            "category": [
                "",
                "",
                "invalid_input",
                "rate_limited",
                "audit_pending",
                "timeout",
                "",
                "",
            ],
            "code": ["", "", "", "isv.rate-limit 15", "", "", "", ""],
            "message": [
                "",
                "已上传过 / already uploaded",
                "[错误] 文件不存在 / missing file\n[提示] 标题将被截断 / title will be cut",
                "限流 / rate limited: retry later",
                "审核中 / auditing",
                "超时 / timeout",
                "",
                "",
            ],
            "retryable": [False, False, False, True, False, True, False, False],
            "attempts": [1, 0, 0, 3, 1, 2, 0, 0],
            "elapsed_s": [0.018, 0.0, 0.0, 1.25, 0.5, 60.003, 0.0, 0.0],
            "sha256": ["ab" * 32, "cd" * 32, "", "ef" * 32, "01" * 32, "23" * 32, "", "45" * 32],
            "bytes": pd.array([23149, 5058, None, 40960, 1, 2, None, 3], dtype="Int64"),
            "width": pd.array([800, 540, None, 750, 1, 2, None, 3], dtype="Int64"),
            "height": pd.array([800, 720, None, 1000, 1, 2, None, 3], dtype="Int64"),
            "sent_at": pd.to_datetime(
                [  # type: ignore[arg-type]  # the stubs refuse None in a list; pandas: NaT
                    "2024-05-01 09:30:00",
                    None,
                    None,
                    "2024-05-01 00:00:00",  # midnight: Excel shows a date alone
                    "2024-05-02 10:00:01.5",
                    "2024-05-02 10:00:02",
                    None,
                    None,
                ],
                format="ISO8601",
            ),
        },
        index=index,
    )
    assert list(frame["status"]) == [
        "uploaded",
        "skipped",
        "invalid",
        "failed",
        "pending_audit",
        "in_doubt",
        "cancelled",
        "planned",
    ]
    return frame


INDEX = [10, 20, 30, 40, 50, 60, 70, 80]


def check_types(frame: pd.DataFrame) -> None:
    assert frame["row"].dtype == np.int64
    assert frame["retryable"].dtype == bool
    assert frame["attempts"].dtype == np.int64
    assert frame["elapsed_s"].dtype == np.float64
    for name in ("bytes", "width", "height"):
        assert str(frame[name].dtype) == "Int64"
    assert pd.api.types.is_datetime64_dtype(frame["sent_at"])
    for name in ("platform", "shop", "file", "target", "备注", *TEXT_COLUMNS):
        assert pd.api.types.is_string_dtype(frame[name]), name


# --- round trips -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "write", "with_index"),
    [
        ("results.xlsx", lambda f, p: f.to_excel(p, sheet_name="Results"), True),
        ("results.xlsx", lambda f, p: f.to_excel(p, index=False), False),
        ("其他.xlsm", lambda f, p: f.to_excel(p, sheet_name="结果", engine="openpyxl"), True),
        ("results.csv", lambda f, p: f.to_csv(p), True),
        ("results.csv", lambda f, p: f.to_csv(p, index=False, encoding="utf-8-sig"), False),
        ("results.csv", lambda f, p: f.to_csv(p, encoding="gb18030"), True),
    ],
)
def test_a_written_results_table_reads_back_equal(
    tmp_path: Path, name: str, write: Any, with_index: bool
) -> None:
    original = results_frame(tmp_path, INDEX)
    path = tmp_path / name
    write(original, path)
    back = read_results(path)
    expected = original if with_index else original.reset_index(drop=True)
    pd.testing.assert_frame_equal(back, expected)
    check_types(back)
    assert back.loc[expected.index[0], "target"] == LONG_ID
    assert back["target"].tolist()[2] == "00123"
    assert back.attrs["imgkit_source"] == str(path)


def test_the_default_index_comes_back_as_a_range(tmp_path: Path) -> None:
    original = results_frame(tmp_path)
    original.to_excel(tmp_path / "r.xlsx")
    back = read_results(tmp_path / "r.xlsx")
    assert isinstance(back.index, pd.RangeIndex)
    pd.testing.assert_frame_equal(back, original)


def test_a_text_index_comes_back_as_text(tmp_path: Path) -> None:
    original = results_frame(tmp_path, [f"r{i}" for i in range(8)])
    original.to_csv(tmp_path / "r.csv")
    back = read_results(tmp_path / "r.csv")
    assert back.index.tolist() == [f"r{i}" for i in range(8)]
    pd.testing.assert_frame_equal(back, original, check_index_type=False)


def test_the_frame_itself_reads_back_equal_with_its_index(tmp_path: Path) -> None:
    original = results_frame(tmp_path, INDEX)
    back = read_results(original)
    pd.testing.assert_frame_equal(back, original)
    pd.testing.assert_frame_equal(read_results(back), original)


def test_frames_from_read_excel_and_read_csv_get_their_types_back(tmp_path: Path) -> None:
    original = results_frame(tmp_path, INDEX)
    original.to_excel(tmp_path / "r.xlsx", sheet_name="Results")
    original.to_csv(tmp_path / "r.csv")
    from_excel = pd.read_excel(tmp_path / "r.xlsx")
    from_csv = pd.read_csv(tmp_path / "r.csv")
    assert from_excel.columns[0] == "Unnamed: 0"
    assert from_csv["bytes"].dtype == np.float64  # the damage being undone
    for mangled in (from_excel, from_csv):
        back = read_results(mangled)
        check_types(back)
        assert back.index.tolist() == INDEX
        assert list(back.columns) == list(original.columns)
        # Columns pandas itself did not change come back equal; the ones it parsed as
        # numbers ("0073322002" -> 73322002.0) cannot be restored by anyone.
        same = [c for c in original.columns if c not in ("replace_id", "image_id", "target")]
        pd.testing.assert_frame_equal(back[same], original[same])
        assert back.loc[10, "target"] == LONG_ID  # an int64 column: still exact
    # Read as text, as a careful user does, it is all exact.
    as_text = pd.read_csv(tmp_path / "r.csv", dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(read_results(as_text), original)


def test_a_real_upload_round_trips_through_a_workbook(tmp_path: Path) -> None:
    import imgkit

    batch = Path(__file__).resolve().parent.parent / "sample_data" / "batch.csv"
    with imgkit.Sandbox() as sb:
        results = imgkit.upload(batch, shops=sb.shops, journal=False, progress=False)
    results.to_excel(tmp_path / "r.xlsx", sheet_name="results", index=False)
    back = read_results(tmp_path / "r.xlsx")
    assert list(back.columns) == list(results.columns)
    expected = results.copy()
    for name in ("bytes", "width", "height"):
        if name in expected.columns:
            expected[name] = expected[name].astype("Int64")
    pd.testing.assert_frame_equal(back, expected, check_dtype=False)
    assert back["retryable"].dtype == bool
    assert back["attempts"].dtype == np.int64
    assert back["target"].tolist() == results["target"].tolist()


# --- headers and statuses in Chinese ------------------------------------------------------------


ZH = {
    "platform": "平台",
    "shop": "店铺",
    "file": "图片路径",
    "target": "商品ID",
    "title": "标题",
    "replace_id": "替换图片ID",
    "status": "状态",
    "url": "图片链接",
    "image_id": "图片编号",
    "message": "信息",
    "retryable": "可重试",
    "attempts": "尝试次数",
    "elapsed_s": "耗时(秒)",
    "bytes": "字节数",
    "width": "宽度",
    "height": "高度",
    "sent_at": "发送时间",
}


def test_chinese_headers_and_status_words_round_trip(tmp_path: Path) -> None:
    original = results_frame(tmp_path, INDEX)
    words = {status: words[0] for status, words in STATUS_WORDS.items()}
    written = original.assign(
        status=original["status"].map(words),
        retryable=original["retryable"].map({True: "是", False: "否"}),
    ).rename(columns=ZH)
    written.to_excel(tmp_path / "结果.xlsx", sheet_name="上传结果")
    back = read_results(tmp_path / "结果.xlsx")
    pd.testing.assert_frame_equal(back, original)
    headers = back.attrs["imgkit_headers"]
    assert {c: headers[c] for c in ZH} == ZH
    assert headers["category"] == "category"
    # The headers as written come back by renaming with the mapping.
    assert list(back.rename(columns=headers).columns) == list(written.columns)
    # Passed around, the frame keeps the user's words.
    again = read_results(back)
    assert again.attrs["imgkit_headers"] == headers
    assert read_batch(back).attrs["imgkit_headers"]["target"] == "商品ID"


def test_statuses_in_any_case_and_unknown_ones_kept(tmp_path: Path) -> None:
    table = pd.DataFrame(
        {
            "platform": ["tmall"] * 7,
            "shop": ["s"] * 7,
            "file": ["https://x/a.jpg"] * 7,
            "target": ["1"] * 7,
            "status": ["UPLOADED", " Pending Audit ", "in-doubt", "已取消", "canceled", "done", ""],
        }
    )
    back = read_results(table)
    assert back["status"].tolist() == [
        "uploaded",
        "pending_audit",
        "in_doubt",
        "cancelled",
        "cancelled",
        "done",
        "",
    ]
    assert pd.api.types.is_string_dtype(back["status"])


def test_every_status_and_word_is_known() -> None:
    assert set(STATUSES) <= set(KNOWN_STATUSES)
    for status in KNOWN_STATUSES:
        assert status_of(status) == status
        assert status_of(status.upper().replace("_", " ")) == status
    for status, words in STATUS_WORDS.items():
        assert status in KNOWN_STATUSES
        for word in words:
            assert status_of(word) == status


def test_result_headers_never_mean_a_batch_column() -> None:
    for column, aliases in RESULT_HEADER_ALIASES.items():
        assert column in (*RESULT_COLUMNS, "platform_key", "sent_at")
        for alias in (column, *aliases):
            assert column_for(alias) is None, alias


def test_the_result_columns_own_name_wins_over_a_users_column(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text(
        "platform,shop,file,target,状态,status\ntmall,s,a.jpg,1,在售,uploaded\n", encoding="utf-8"
    )
    back = read_results(path)
    assert back.loc[0, "status"] == "uploaded"
    assert back.loc[0, "状态"] == "在售"
    two = tmp_path / "two.csv"
    two.write_text("platform,shop,file,target,状态,结果\ntmall,s,a.jpg,1,a,b\n", encoding="utf-8")
    with pytest.raises(ImgkitError) as exc:
        read_results(two)
    assert exc.value.code == "duplicate_column"
    assert "'状态' and '结果'" in str(exc.value)


# --- edited by hand, saved by Excel -------------------------------------------------------------


def test_a_target_edited_by_hand_reads_the_new_value(tmp_path: Path) -> None:
    original = results_frame(tmp_path, INDEX)
    path = tmp_path / "results.xlsx"
    original.to_excel(path, sheet_name="Results")
    book = openpyxl.load_workbook(path)
    sheet = book["Results"]
    header = [cell.value for cell in sheet[1]]
    target = header.index("target") + 1
    retryable = header.index("retryable") + 1
    failed = 2 + original["status"].tolist().index("failed")
    assert sheet.cell(row=failed, column=target).value == "18353/g1234"
    sheet.cell(row=failed, column=target, value="1489161999")  # typed as text
    sheet.cell(row=failed + 1, column=target, value=1489161998)  # typed as a number
    sheet.cell(row=failed, column=retryable, value="FALSE")
    book.save(path)
    back = read_results(path)
    assert back.loc[40, "target"] == "1489161999"
    assert back.loc[50, "target"] == "1489161998"
    assert not back.loc[40, "retryable"]
    untouched = back.drop(index=[40, 50])
    pd.testing.assert_frame_equal(untouched, original.drop(index=[40, 50]))


def test_a_csv_resaved_by_a_chinese_excel(tmp_path: Path) -> None:
    text = (
        ",平台,店铺,图片,商品ID,row,状态,url,image_id,category,code,message,可重试,"
        "attempts,elapsed_s,sha256,bytes,width,height,sent_at\r\n"
        "0,天猫,旗舰店,a.jpg,1.65772E+18,2,已上传,http://x/a.jpg,1,,,,FALSE,1,0.018,ab,"
        "23149,800,800,2024/5/1 9:30\r\n"
        "1,天猫,旗舰店,b.jpg,123,3,Failed,,,rate_limited,15,限流,TRUE,3,1.5,,,,,\r\n"
        "2,天猫,旗舰店,c.jpg,00123,7,weird,,,,,,1,,,,,,,\r\n"
    )
    path = tmp_path / "results.csv"
    path.write_bytes(text.encode("gb18030"))
    back = read_results(path)
    assert back["target"].tolist() == ["1.65772E+18", "123", "00123"]  # never 1657720000...
    assert back["status"].tolist() == ["uploaded", "failed", "weird"]
    assert back["retryable"].tolist() == [False, True, True]
    assert back["attempts"].tolist() == [1, 3, 0]
    assert back["elapsed_s"].tolist()[:2] == [0.018, 1.5]
    assert np.isnan(back["elapsed_s"].tolist()[2])
    assert back["bytes"].tolist() == [23149, pd.NA, pd.NA]
    assert back["row"].tolist() == [2, 3, 7]
    assert back["sent_at"].tolist()[0] == pd.Timestamp("2024-05-01 09:30")
    assert back["sent_at"].isna().tolist() == [False, True, True]
    assert back.attrs["imgkit_headers"]["target"] == "商品ID"
    assert back["file"].tolist()[0] == str(tmp_path / "a.jpg")


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("TRUE", True),
        ("true", True),
        ("True", True),
        ("1", True),
        ("是", True),
        ("FALSE", False),
        ("false", False),
        ("0", False),
        ("否", False),
        ("", False),
        (True, True),
        (False, False),
        (1, True),
        (0.0, False),
    ],
)
def test_retryable_cells(cell: object, expected: bool) -> None:
    table = pd.DataFrame(
        {"platform": ["t"], "shop": ["s"], "file": ["https://x/a"], "target": ["1"]}
    ).assign(status="failed", retryable=pd.Series([cell], dtype=object))
    back = read_results(table)
    assert back["retryable"].dtype == bool
    assert back.loc[0, "retryable"] is np.bool_(expected)


def test_times_that_are_not_times_stay_text() -> None:
    table = pd.DataFrame(
        {
            "platform": ["t", "t"],
            "shop": ["s", "s"],
            "file": ["https://x/a", "https://x/b"],
            "target": ["1", "2"],
            "status": ["uploaded", "uploaded"],
            "sent_at": ["2024-05-01 09:30", "yesterday"],
            "checked_at": ["", ""],
        }
    )
    back = read_results(table)
    assert back["sent_at"].tolist() == ["2024-05-01 09:30", "yesterday"]
    assert pd.api.types.is_datetime64_dtype(back["checked_at"])
    assert back["checked_at"].isna().all()


def test_times_with_an_offset_keep_it(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text(
        "platform,shop,file,target,status,sent_at\n"
        "t,s,a.jpg,1,uploaded,2024-05-01 09:30:00+08:00\n"
        "t,s,b.jpg,2,uploaded,\n",
        encoding="utf-8",
    )
    sent = read_results(path)["sent_at"]
    assert str(sent.dt.tz) == "UTC+08:00"
    assert sent.tolist()[0] == pd.Timestamp("2024-05-01 01:30", tz="UTC")


# --- which sheet, and what is not a results table ----------------------------------------------


def test_the_results_sheet_is_found_else_the_first(tmp_path: Path) -> None:
    original = results_frame(tmp_path, INDEX)
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"说明": ["改好后再上传"]}).to_excel(writer, sheet_name="说明")
        original.to_excel(writer, sheet_name="RESULTS")
        original.head(2).to_excel(writer, sheet_name="old")
    pd.testing.assert_frame_equal(read_results(path), original)
    assert len(read_results(path, sheet="old")) == 2
    assert len(read_results(path, sheet=2)) == 2
    first = tmp_path / "first.xlsx"
    with pd.ExcelWriter(first) as writer:
        original.head(3).to_excel(writer, sheet_name="Sheet1")
        original.to_excel(writer, sheet_name="Sheet2")
    assert len(read_results(first)) == 3


def test_a_plain_batch_is_not_a_results_table(tmp_path: Path) -> None:
    path = tmp_path / "batch.csv"
    path.write_text("platform,shop,file,target\ntmall,s,a.jpg,1\n", encoding="utf-8")
    for source, where in ((path, "batch.csv"), (read_batch(path), "DataFrame")):
        with pytest.raises(ImgkitError) as exc:
            read_results(source)
        assert exc.value.code == "not_results"
        message = str(exc.value)
        assert message.startswith(f"{where}: not a results table")
        assert "不是上传结果表" in message
        assert "read_batch" in message


def test_read_batch_errors_come_through(tmp_path: Path) -> None:
    with pytest.raises(ImgkitError) as exc:
        read_results(tmp_path / "nope.xlsx")
    assert exc.value.code == "no_batch_file"
    broken = tmp_path / "broken.xlsx"
    broken.write_text("not a zip")
    with pytest.raises(ImgkitError) as exc:
        read_results(broken)
    assert exc.value.code == "bad_batch_file"
    with pytest.raises(ImgkitError) as exc:
        read_results(tmp_path / "r.xlsx", sheet="missing")
    assert exc.value.code == "no_batch_file"


def test_an_empty_results_table_keeps_its_columns_and_types(tmp_path: Path) -> None:
    original = results_frame(tmp_path).iloc[:0]
    original.to_excel(tmp_path / "r.xlsx", index=False)
    back = read_results(tmp_path / "r.xlsx")
    assert len(back) == 0
    assert list(back.columns) == list(original.columns)
    check_types(back)


def test_a_relative_path_is_recorded_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results_frame(tmp_path).to_csv(tmp_path / "r.csv", index=False)
    monkeypatch.chdir(tmp_path)
    back = read_results("r.csv")
    assert back.attrs["imgkit_source"] == str(tmp_path / "r.csv")
    assert os.path.isabs(back.attrs["imgkit_source"])
    assert "imgkit_source" not in read_results(results_frame(tmp_path)).attrs
