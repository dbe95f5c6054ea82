"""Validation at scale: compact text storage and per-value look-ups give the answers the
plain per-row path gives, whatever the storage (Arrow or Python objects), on both pandas.

No timing here: ``bench/validate.py --rows`` measures.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import imgkit
from imgkit.intake import texts
from imgkit.intake.batch import read_batch
from imgkit.intake.options import normalize, normalize_column
from imgkit.intake.probe import clear_cache, probe_paths
from imgkit.intake.probe_rows import RULE_FACTS, probe_rows
from imgkit.intake.rules import context
from imgkit.intake.rules.context import Context, group_codes
from imgkit.intake.texts import ARROW_TEXT, PY_WHITESPACE, matches, per_value, strip, text_array
from imgkit.platforms import get_adapter
from imgkit.sandbox import sandbox_shops

SHOPS = sandbox_shops("http://127.0.0.1:9")
# Text as read_batch stores it (Arrow on pandas 3; pandas 2 keeps objects), and an Arrow
# column as a user may hold one on either.
TEXT = ARROW_TEXT if ARROW_TEXT is not None else np.dtype(object)
ARROW = ARROW_TEXT if ARROW_TEXT is not None else pd.StringDtype("pyarrow")
HARD = st.text(
    alphabet=st.sampled_from(
        [*"0123456789/abcXyz_.:+-E e", *PY_WHITESPACE, "\uff11", "\u0661", "\u200b", "\x00"]
    ),
    max_size=10,
)
PATTERNS = [
    r"\d+",
    r"[^/\s]+/[^/\s]+",
    r"[+-]?\d+(?:\.\d+)?[eE][+-]?\d+",
    r"(?![0-9])\d",
    r"[0-9]{1,9}",
    r"\w+\s?\w*",
]


def arrow(values: list[str]) -> pd.Series:
    return pd.Series(values, dtype=ARROW)


def both_storages(values: list[str]) -> list[pd.Series]:
    return [arrow(values), pd.Series(values, dtype=object)]


def image(path: Path, size: tuple[int, int] = (800, 800), fmt: str = "JPEG") -> str:
    Image.new("RGB", size, (30, 90, 200)).save(path, fmt)
    return str(path)


# --- the helpers against Python's own answers -------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.lists(HARD, max_size=12))
def test_strip_is_pythons_strip_in_either_storage(values: list[str]) -> None:
    for series in both_storages(values):
        assert strip(series).tolist() == [v.strip() for v in values]


def test_strip_knows_every_character_python_strips() -> None:
    for char in PY_WHITESPACE:
        assert strip(arrow([f"{char}a{char}"])).tolist() == ["a"], hex(ord(char))
    assert strip(arrow(["\u200ba"])).tolist() == ["\u200ba"]  # not whitespace to Python


@settings(max_examples=60, deadline=None)
@given(st.lists(HARD, max_size=12), st.sampled_from(PATTERNS), st.booleans())
def test_matches_is_pythons_re_in_either_storage(
    values: list[str], pattern: str, full: bool
) -> None:
    for flags in (0, re.ASCII, re.UNICODE, (re.ASCII, re.UNICODE)):
        every = flags if isinstance(flags, tuple) else (flags,)
        compiled = [re.compile(pattern, f) for f in every]
        expected = [
            all((c.fullmatch(v) if full else c.search(v)) is not None for c in compiled)
            for v in values
        ]
        for series in both_storages(values):
            assert matches(series, pattern, flags=flags, full=full).tolist() == expected


def test_text_array_keeps_what_utf8_cannot_hold() -> None:
    lone = "/tmp/\udcff.jpg"  # os.listdir's name for bytes that are not UTF-8
    array = text_array(["a", lone])
    assert array.dtype != ARROW_TEXT
    assert list(array) == ["a", lone]


def test_per_value_computes_once_per_distinct_value() -> None:
    seen: list[str] = []

    def lower(value: str) -> str:
        seen.append(value)
        return value.lower()

    values = arrow(["A", "B", "A", "A"])
    assert per_value(values, lower, dtype="text").tolist() == ["a", "b", "a", "a"]
    assert sorted(seen) == ["A", "B"]


def test_normalize_column_is_normalize_row_by_row() -> None:
    values = ["是", "", "0", "TRUE", "2.0", " 3 ", "x", "否"]
    platforms = ["tmall_item", "qianmi_sku", "", "doudian", "tmall_item", "qianmi_sku", "x", ""]
    for name in ("is_major", "position", "replace_id", "client_type", "title"):
        for series in both_storages(values):
            found = normalize_column(name, series, pd.Series(platforms))
            expected = [
                normalize(name, v, p or None) for v, p in zip(values, platforms, strict=True)
            ]
            assert found.tolist() == expected, name


def test_groups_tell_the_rows_duplicated_does() -> None:
    frame = pd.DataFrame(
        {
            "platform": ["doudian", "doudian", "tmall_item", "doudian"] * 3,
            "shop": ["a", "a", "a", "b"] * 3,
            "target": ["1", "1", "1", "1", "2", "2"] * 2,
            "file": ["x"] * 12,
            "probe_error": [""] * 12,
            "format": ["jpeg"] * 12,
        }
    )
    ctx = Context(frame, {}, {})
    numbers = pd.Series([1.0, np.nan, np.nan, 2.0] * 3)
    codes = ctx.groups("platform", "shop", "target", numbers)
    expected = frame[["platform", "shop", "target"]].assign(n=numbers).duplicated()
    assert pd.Series(codes).duplicated().tolist() == expected.tolist()


@settings(max_examples=80, deadline=None)
@given(st.lists(HARD, max_size=30), st.integers(min_value=1, max_value=4), st.booleans())
def test_group_codes_partition_rows_as_factorize_does(
    values: list[str], pieces: int, sort: bool
) -> None:
    # Sorted (an Arrow column, in one chunk or several: every column of two rows or more
    # here when ``sort``) or hashed (objects, missing values, repeated values): two rows
    # share a code exactly when factorize gives them one, and the codes are counted right.
    with pytest.MonkeyPatch.context() as patch:
        if sort:
            patch.setattr(context, "SORT_FROM", 2)
            patch.setattr(context, "NEAR_UNIQUE", 0.0)
        _group_codes_as_factorize(values, pieces)


def test_group_codes_sort_only_long_nearly_unique_text() -> None:
    import pyarrow.compute as pc  # type: ignore[import-untyped,unused-ignore]

    if ARROW_TEXT is None:
        pytest.skip("pandas 2 keeps text as objects: always hashed")
    sorts = []
    real = pc.sort_indices

    def counting(*args: Any, **kwargs: Any) -> Any:
        sorts.append(1)
        return real(*args, **kwargs)

    n = context.SORT_FROM
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pc, "sort_indices", counting)
        repeated = group_codes(arrow([f"shop{i % 7}" for i in range(n)]))
        assert (sorts, repeated[1]) == ([], 7)
        distinct = group_codes(arrow([f"item{i}" for i in range(n)]))
        assert (sorts, distinct[1]) == ([1], n)
        short = group_codes(arrow([f"item{i}" for i in range(n - 1)]))
        assert (sorts, short[1]) == ([1], n - 1)


def _group_codes_as_factorize(values: list[str], pieces: int) -> None:
    columns = list(both_storages(values))
    if values and ARROW_TEXT is not None:
        import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]

        size = -(-len(values) // pieces)
        chunks = [values[i : i + size] for i in range(0, len(values), size)]
        chunked = pa.chunked_array([pa.array(c, pa.large_string()) for c in chunks])
        columns.append(pd.Series(pd.arrays.ArrowStringArray(chunked)))
    columns.append(pd.Series([*values, None, None], dtype=object))
    for series in columns:
        codes, count = group_codes(series)
        expected = pd.factorize(series, use_na_sentinel=False)[0]
        pairs = set(zip(codes.tolist(), expected.tolist(), strict=True))
        assert len(pairs) == len(set(codes.tolist())) == len(set(expected.tolist()))
        assert count == len(set(expected.tolist()))
        assert codes.dtype == np.int32
        if len(series):
            assert codes.min() == 0
            assert codes.max() == count - 1


# --- the probe look-up: per distinct file, the facts of each row ------------------------------


def test_the_distinct_file_look_up_gives_each_rows_probe(tmp_path: Path) -> None:
    files = [image(tmp_path / "a.jpg"), image(tmp_path / "b.png", (300, 400), "PNG")]
    names = [files[0], files[1], files[0], str(tmp_path / "missing.jpg"), "/a\x00b", files[1]]
    clear_cache()
    probed = probe_rows(pd.Series(text_array(names)))
    looked_up, known = pd.DataFrame(probed.columns()), probed.known
    row_by_row = pd.concat([probe_paths([n]) for n in names[:4]], ignore_index=True)
    pd.testing.assert_frame_equal(looked_up.iloc[:4], row_by_row, check_dtype=False)
    assert looked_up.loc[4, "probe_error"] == ""  # a NUL: never probed (bad_path says why)
    pd.testing.assert_series_equal(
        looked_up.iloc[5], looked_up.iloc[1], check_names=False, check_dtype=False
    )
    warm = probe_rows(pd.Series(names, dtype=object)).columns()  # the cache answers
    pd.testing.assert_frame_equal(pd.DataFrame(warm), looked_up)
    # The rules' own columns (the text facts as categoricals) hold the same values.
    for_rules = probed.for_rules()
    assert list(for_rules) == list(RULE_FACTS)
    for name, facts in for_rules.items():
        assert facts.tolist() == looked_up[name].tolist(), name
    # The codes handed to the rules group the rows exactly as the columns' own values do.
    for column in ("file", "format", "sha256", "probe_error"):
        codes, uniques = known[column]
        values = names if column == "file" else looked_up[column].tolist()
        assert [list(uniques)[c] for c in codes] == values, column


# --- whatever the storage, the same results ---------------------------------------------------


def _batch(tmp_path: Path) -> pd.DataFrame:
    good = image(tmp_path / "good.jpg")
    rect = image(tmp_path / "rect.png", (480, 640), "PNG")
    webp = image(tmp_path / "w.jpg", (500, 500), "WEBP")  # mislabelled and refused
    rows: list[dict[str, Any]] = []
    for n in range(40):
        platform, shop = [
            ("taobao_picture", "tb_picture_main"),
            ("tmall_item", "tmall_store"),
            ("qianmi_sku", "qianmi_shop"),
            ("doudian", "douyin_shop"),
        ][n % 4]
        rows.append(
            {
                "platform": platform if n % 9 else " 天猫 ",
                "shop": shop if n % 11 else "nobody",
                "file": [good, rect, webp, good + ".gone"][n % 4 if n % 3 else 0],
                "target": ["1489161940", "18353/g1", "\uff11\uff12\uff13", "1.65772E+18", " 7 "][
                    n % 5
                ],
                "title": ["杯子", "", "长" * 60, " a\u3000"][n % 4],
                "position": ["", "0", "9", "\uff12", "1"][n % 5],
                "is_major": ["", "是", "TRUE", "maybe"][n % 4],
            }
        )
    return pd.DataFrame(rows)


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    for column in a.columns:
        left = a[column].astype(object).where(a[column].notna(), None).tolist()
        right = b[column].astype(object).where(b[column].notna(), None).tolist()
        assert left == right, column


def test_validation_answers_alike_for_object_and_arrow_frames(tmp_path: Path) -> None:
    frame = _batch(tmp_path)
    as_objects = validate_frame(frame.astype(object))
    as_arrow = validate_frame(frame.astype(ARROW))
    _same(as_objects, as_arrow)
    assert set(as_objects["issues"]) > {""}  # the batch has rows that fail, and pass
    read = read_batch(frame)
    assert all(read[c].dtype == TEXT for c in read.columns if c != "row")
    _same(validate_frame(read), as_objects)


def validate_frame(frame: pd.DataFrame) -> pd.DataFrame:
    return imgkit.validate(frame, shops=SHOPS)


def test_a_lone_surrogate_path_reads_and_validates(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "platform": ["doudian", "doudian"],
            "shop": ["douyin_shop"] * 2,
            "file": [image(tmp_path / "ok.jpg"), str(tmp_path / "\udcff.jpg")],
            "target": ["0", "0"],
        },
        dtype=object,  # (pandas 3 with pyarrow cannot infer its str for it either)
    )
    checked = validate_frame(frame)
    assert checked["issues"].tolist() == ["", "missing_file"]
    assert checked.loc[1, "file"] == str(tmp_path / "\udcff.jpg")


def test_text_storage_survives_csv_and_excel_round_trips(tmp_path: Path) -> None:
    frame = _batch(tmp_path)
    read = read_batch(frame)
    path = tmp_path / "batch.csv"
    read.drop(columns="row").to_csv(path, index=False)
    again = read_batch(path)
    _same(again.drop(columns="row"), read.drop(columns="row"))
    checked = validate_frame(read)
    workbook = tmp_path / "checked.xlsx"
    checked.to_excel(workbook, index=False)  # what validation's docs say to do
    back = read_batch(workbook, keep_row=True)
    for column in ("platform", "shop", "file", "target", "title", "issues", "message"):
        assert back[column].tolist() == checked[column].tolist(), column
        assert back[column].dtype == TEXT
    # Validated again, it answers as the first time (options already canonical: "是" is
    # "true" in the results).
    _same(validate_frame(back), validate_frame(checked))


def test_a_long_csv_is_read_in_blocks_as_one(tmp_path: Path) -> None:
    # More records than a block, blank records and a record wider than the rest in a
    # later block, a quoted newline: numbered and read as the csv module reads them.
    path = tmp_path / "long.csv"
    records: list[list[str]] = [["platform", "shop", "file", "target"]]
    for n in range(70_000):
        records.append(["doudian", "douyin_shop", f"f{n}.jpg", str(n)] if n % 7 else [])
    records[66_000] = ["doudian", "douyin_shop", "wide.jpg", "1", "note"]
    records[66_001] = ["doudian", "douyin_shop", "a\nb.jpg", " 2 "]
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(records)
    batch = read_batch(path)
    kept = [(i + 1, r) for i, r in enumerate(records[1:], start=1) if any(r)]
    assert batch["row"].tolist() == [number for number, _ in kept]
    assert batch["target"].tolist() == [r[3].strip() for _, r in kept]
    assert batch["Unnamed: 4"].tolist() == [r[4] if len(r) > 4 else "" for _, r in kept]
    assert batch.loc[batch["row"] == 66_002, "file"].str.endswith("a\nb.jpg").all()


@pytest.mark.parametrize("key", ["tmall_item", "qianmi_sku"])
def test_target_patterns_read_alike_in_either_storage(key: str) -> None:
    pattern = get_adapter(key).target_pattern
    values = [
        "1489161940",
        "18353/g1",
        "\uff11\uff12\uff13",
        "18353/ g1",
        "a/b/c",
        "",
        "\u0663",
        "7\n",
    ]
    found = [matches(s, pattern, flags=(re.ASCII, re.UNICODE)) for s in both_storages(values)]
    assert found[0].tolist() == found[1].tolist()
    assert texts.non_ascii(arrow(values)).tolist() == [not v.isascii() for v in values]


# --- messages worded once per distinct value ----------------------------------------------------


def test_details_worded_once_per_value_are_those_worded_row_by_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    from imgkit.intake import validation
    from imgkit.intake.rules import RULES

    frame = _batch(tmp_path)
    frame.loc[::3, "file"] = str(tmp_path / "w.jpg")  # refused formats on many platforms
    frame.loc[::7, "shop"] = "nobody_else"
    by_value = validate_frame(frame)
    assert {"format_refused", "unknown_shop"} <= set(";".join(by_value["issues"]).split(";"))
    assert any(entry.detail_by for entry in RULES)
    monkeypatch.setattr(validation, "RULES", tuple(replace(e, detail_by=()) for e in RULES))
    _same(validate_frame(frame), by_value)


def test_issues_and_messages_are_compact_text(tmp_path: Path) -> None:
    checked = validate_frame(_batch(tmp_path))
    for column in ("issues", "message", "platform_key", "position"):
        assert checked[column].dtype == TEXT, column
    assert (checked["message"] == "").tolist() == (checked["issues"] == "").tolist()


def test_title_collisions_are_those_of_the_whole_batch_grouped() -> None:
    from imgkit.intake.rules.fields import title_collision

    n = 300
    frame = pd.DataFrame(
        {
            "platform": [
                ["taobao_picture", "图片空间", "doudian", "tmall_item"][k % 4] for k in range(n)
            ],
            "shop": [["a", "b"][k % 3 % 2] for k in range(n)],
            "file": [f"/x/{k % 7}.jpg" for k in range(n)],
            "title": [["", "杯子", "杯" * 60 + str(k % 2), "x"][k % 5 % 4] for k in range(n)],
            "probe_error": [""] * n,
            "format": ["jpeg"] * n,
        }
    )
    ctx = Context(frame, {}, {})
    keys = ctx.platforms_where(lambda a: a.limits.title_dedup)
    names = ctx.groups("platform", "shop", ctx.title.str.slice(0, 50))
    whole = ctx.on(keys) & pd.Series(names).duplicated(keep="first").to_numpy()
    found = title_collision(ctx)
    assert found.any()
    assert not found.all()
    assert found.tolist() == whole.tolist()
