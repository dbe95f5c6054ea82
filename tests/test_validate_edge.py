"""Validation at the edges: empty batches, and shop values that could never build a request."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pandas as pd
import pytest
from PIL import Image

from imgkit.intake.fitting import fit
from imgkit.intake.probe import PROBE_COLUMNS
from imgkit.intake.rules import RULES, Context
from imgkit.intake.validation import issues_table, validate
from imgkit.sandbox import sandbox_shops

SHOPS = sandbox_shops("http://127.0.0.1:9")
REQUIRED = ("platform", "shop", "file", "target")
RESULT = ("row", "platform_key", "ok", "issues", "message", "fixable", *PROBE_COLUMNS)


def jpeg(tmp: Path, name: str = "a.jpg") -> Path:
    path = tmp / name
    Image.new("RGB", (300, 300), (200, 30, 30)).save(path, "JPEG")
    return path


def one_row(tmp: Path, dtype: Any) -> pd.DataFrame:
    values = ("tmall_item", "tmall_store", str(jpeg(tmp)), "1489161940")
    return pd.DataFrame(
        {c: pd.Series([v], dtype=dtype) for c, v in zip(REQUIRED, values, strict=True)}
    )


def no_rows(dtype: Any) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=dtype) for c in REQUIRED})


def assert_same_shape(empty: pd.DataFrame, full: pd.DataFrame) -> None:
    assert len(empty) == 0
    assert list(empty.columns) == list(full.columns)
    pd.testing.assert_series_equal(empty.dtypes, full.dtypes)
    assert set(RESULT) <= set(empty.columns)
    assert empty["ok"].dtype == bool
    assert empty["fixable"].dtype == bool


# --- empty input ------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [object, "str"], ids=["object", "str"])
def test_an_empty_frame_validates_to_an_empty_frame_of_the_same_shape(
    tmp_path: Path, dtype: Any
) -> None:
    full = validate(one_row(tmp_path, dtype), shops=SHOPS)
    empty = validate(no_rows(dtype), shops=SHOPS)
    assert_same_shape(empty, full)


@pytest.mark.parametrize("dtype", [object, "str"], ids=["object", "str"])
def test_an_empty_frame_with_row_numbers_validates(tmp_path: Path, dtype: Any) -> None:
    full_input = one_row(tmp_path, dtype)
    full_input["row"] = [2]
    empty_input = no_rows(dtype)
    empty_input["row"] = pd.Series([], dtype="int64")
    full = validate(full_input, shops=SHOPS)
    empty = validate(empty_input, shops=SHOPS)
    assert_same_shape(empty, full)
    pd.testing.assert_frame_equal(validate(empty, shops=SHOPS), empty)  # again: the same


def test_a_header_only_csv_validates_to_an_empty_frame(tmp_path: Path) -> None:
    image = jpeg(tmp_path)
    header = "platform,shop,file,target\n"
    full_csv = tmp_path / "full.csv"
    full_csv.write_text(header + f"tmall_item,tmall_store,{image},1489161940\n", encoding="utf-8")
    empty_csv = tmp_path / "empty.csv"
    empty_csv.write_text(header, encoding="utf-8")
    empty = validate(empty_csv, shops=SHOPS)
    assert_same_shape(empty, validate(full_csv, shops=SHOPS))


def test_every_rule_gives_an_empty_mask_for_no_rows() -> None:
    frame = no_rows("str")
    for column in PROBE_COLUMNS:
        frame[column] = pd.Series([], dtype="int64" if column in ("bytes", "width") else "str")
    ctx = Context(frame, {}, {})
    for rule in RULES:
        mask = rule.check(ctx)
        assert len(mask) == 0, rule.code
        if rule.detail is not None:
            assert len(rule.detail(ctx)) == 0, rule.code


def test_issues_table_and_fit_of_an_empty_batch(tmp_path: Path) -> None:
    empty = validate(no_rows("str"), shops=SHOPS)
    table = issues_table(empty)
    assert len(table) == 0
    assert list(table.columns) == ["index", "row", "code", "severity", "fixable"]
    fitted = fit(empty, tmp_path / "fit", shops=SHOPS)
    assert len(fitted) == 0
    assert {"source_file", "fit_actions", *RESULT} <= set(fitted.columns)
    assert fitted["ok"].dtype == bool


# --- shop values that cannot build a request --------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "shop"), [("tmall_item", "tmall_store"), ("taobao_miniapp", "miniapp_main")]
)
def test_a_top_shop_with_an_unknown_sign_method_is_a_bad_shop(
    tmp_path: Path, platform: str, shop: str
) -> None:
    shops = dict(SHOPS)
    shops[shop] = dict(SHOPS[shop], sign_method="sha1")
    target = "1489161940" if platform == "tmall_item" else "3000000012345"
    frame = pd.DataFrame(
        {"platform": [platform], "shop": [shop], "file": [str(jpeg(tmp_path))], "target": [target]}
    )
    result = validate(frame, shops=shops)
    assert result.loc[0, "issues"] == "bad_shop"
    assert not result.loc[0, "ok"]
    message = cast(str, result.loc[0, "message"])
    assert shop in message
    assert "sign_method" in message
    assert all(method in message for method in ("md5", "hmac", "hmac-sha256")), message


# --- ids Excel turned into numbers, through read_batch ----------------------------------------


def test_a_float_id_past_excels_precision_is_id_mangled(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "platform": ["tmall_item", "tmall_item"],
            "shop": ["tmall_store", "tmall_store"],
            "file": [str(jpeg(tmp_path)), str(jpeg(tmp_path, "b.jpg"))],
            "target": [1657717355974335419.0, 1489161940.0],  # floats, as Excel gives them
        }
    )
    result = validate(frame, shops=SHOPS)
    assert result.loc[0, "issues"] == "id_mangled"
    assert "E+18" in cast(str, result.loc[0, "message"])
    assert "bad_target" not in cast(str, result.loc[0, "issues"])
    assert result.loc[1, "ok"]


def test_labels_follow_rows_by_position_past_blank_rows_and_an_own_row_column(
    tmp_path: Path,
) -> None:
    image = str(jpeg(tmp_path))
    frame = pd.DataFrame(
        {
            "平台": ["tmall_item", "", "doudian"],
            "店铺": ["tmall_store", "", "douyin_shop"],
            "图片": [image, "", image],
            "目标": ["1489161940", "", "0"],
            "row": [70, 80, 90],  # the user's own numbers: not positions
        },
        index=pd.Index(["a", "blank", "c"]),
    )
    out = validate(frame, shops=SHOPS)
    assert out.index.tolist() == ["a", "c"]
    assert out["row"].tolist() == [70, 90]
    assert out["platform_key"].tolist() == ["tmall_item", "doudian"]
    assert out["ok"].all()


def test_a_hand_made_normalized_frame_may_hold_none_and_numbers(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "platform": ["doudian", "doudian"],
            "shop": ["douyin_shop", None],
            "file": [str(jpeg(tmp_path)), float("nan")],
            "target": [0, 0.0],
            "row": [2, 3],
        },
        index=[5, 5],
    )
    out = validate(frame, shops=SHOPS)
    assert out.index.tolist() == [5, 5]
    assert out["target"].tolist() == ["0", "0"]
    assert bool(out["ok"].iloc[0])
    assert set(str(out["issues"].iloc[1]).split(";")) >= {"unknown_shop", "missing_file"}
    table = issues_table(out)
    assert table["index"].tolist() == [5] * len(table)
