"""Hostile input: every damaged file or odd path is one row with a message, or one clear
error naming the batch file; reading costs what the cells with values cost, no more.

The corpus (tests/hostile_corpus.py) is generated into tmp_path; validation runs against
the sandbox's shops.  Costs are checked by counting or by tracemalloc (deterministic), and
time only as an absolute cap ten times above what the work takes.
"""

from __future__ import annotations

import csv
import gc
import re
import time
import tracemalloc
import warnings
from collections.abc import Hashable
from pathlib import Path

import pandas as pd
import pytest
from hostile_corpus import BatchFile, batch_files, formatted_rows_workbook, image_sources

import imgkit
import imgkit.intake.batch as batch_module
from imgkit import ImgkitError, read_batch, read_results, validate
from imgkit.sandbox import Sandbox

CJK = re.compile(r"[\u4e00-\u9fff]")

# What validation says of each hostile image source (a set: any of these codes).
EXPECTED: dict[str, set[str]] = {
    "good": set(),
    "truncated_jpeg": {"corrupt_image"},
    "truncated_png": {"corrupt_image"},
    "png_named_jpg": {"extension_mismatch"},  # a warning: the row is still sent
    "text_named_png": {"not_image"},
    "zero_bytes": {"empty_file"},
    "directory_named_jpg": {"unreadable_file", "not_regular_file"},
    "fifo": {"not_regular_file"},
    "symlink_loop": {"unreadable_file"},
    "missing": {"missing_file"},
    "nul_in_path": {"bad_path"},
    "newline_in_path": {"bad_path"},
    "tab_in_path": {"bad_path"},
    "escape_in_path": {"bad_path"},
    "path_too_long": {"path_too_long"},
    "name_too_long": {"path_too_long"},
    "huge_path": {"path_too_long"},
}


def bilingual(message: str) -> bool:
    """Chinese and English, in imgkit's "中文 / english" form."""
    return bool(CJK.search(message)) and " / " in message and bool(re.search("[a-z]", message))


def assert_one_row_each(out: pd.DataFrame, index: pd.Index) -> None:
    assert len(out) == len(index)
    assert out.index.equals(index)
    refused = out[~out["ok"]]
    for label, message in zip(refused.index, refused["message"], strict=True):
        assert bilingual(message), (label, message)


def sources_batch(folder: Path) -> pd.DataFrame:
    sources = image_sources(folder)
    return pd.DataFrame(
        {"platform": "doudian", "shop": "douyin_shop", "file": list(sources.values())},
        index=pd.Index(list(sources), dtype=object),
    ).assign(target="0")


# --- image sources -------------------------------------------------------------------------


def test_every_hostile_image_source_is_one_row_with_its_reason(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    batch = sources_batch(tmp_path / "images")
    out = validate(batch, shops=sandbox.shops)
    assert_one_row_each(out, batch.index)
    for name in batch.index:
        issues = {c for c in out.loc[name, "issues"].split(";") if c}
        wanted = EXPECTED.get(name, set())
        assert (issues & wanted) if wanted else not issues, (name, issues)
    assert out.loc["good", "ok"]
    assert out.loc["png_named_jpg", "ok"]
    assert not out.drop(index=["good", "png_named_jpg"])["ok"].any()
    # Never handed to the probe (os.stat raises on a NUL): no probe facts at all.
    assert (out.loc[["nul_in_path", "huge_path"], "probe_error"] == "").all()
    assert "路径包含空字符或控制字符" in str(out.loc["nul_in_path", "message"])
    # A 200,000-character path does not make a 200,000-character message.
    assert len(str(out.loc["huge_path", "message"])) < 300


def test_repeated_index_labels_keep_one_answer_per_row_in_order(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    batch = sources_batch(tmp_path / "images")
    halves = [batch.iloc[::2].reset_index(drop=True), batch.iloc[1::2].reset_index(drop=True)]
    doubled = pd.concat(halves)  # labels 0, 1, 2... twice
    assert doubled.index.has_duplicates
    out = validate(doubled, shops=sandbox.shops)
    assert out.index.equals(doubled.index)
    alone = validate(pd.concat([batch.iloc[::2], batch.iloc[1::2]]), shops=sandbox.shops)
    assert out["issues"].tolist() == alone["issues"].tolist()
    assert out["file"].tolist() == doubled["file"].tolist()
    table = imgkit.issues_table(out)
    assert len(table) == sum(len([c for c in i.split(";") if c]) for i in out["issues"])
    assert set(table["index"]) <= set(doubled.index)


def test_a_read_batch_with_repeated_labels_validates_the_same(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    batch = read_batch(sources_batch(tmp_path / "images").reset_index(drop=True))
    doubled = pd.concat([batch, batch.iloc[:3]])
    out = validate(doubled, shops=sandbox.shops)
    assert out.index.tolist() == [*range(len(batch)), 0, 1, 2]
    assert out["row"].tolist() == doubled["row"].tolist()
    assert out["issues"].iloc[-3:].str.contains("duplicate_row").sum() >= 1


# --- batch files ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[BatchFile]:
    return batch_files(tmp_path_factory.mktemp("corpus"))


def test_every_hostile_batch_file_reads_to_rows_or_one_clear_error(
    corpus: list[BatchFile], sandbox: Sandbox
) -> None:
    limit = csv.field_size_limit()
    for item in corpus:
        if item.rows is None:
            with pytest.raises(ImgkitError) as caught:
                read_batch(item.path)
            assert caught.value.code == item.code, (item.path.name, caught.value)
            message = str(caught.value)
            assert item.path.name in message, message
            assert bilingual(message), message
            continue
        batch = read_batch(item.path)
        assert len(batch) == item.rows, item.path.name
        if item.path.name == "repeated-headers.xlsx":
            assert batch.columns[-2] == "备注.15999"
        out = validate(batch, shops=sandbox.shops)
        assert_one_row_each(out, batch.index)
        assert not out["ok"].any(), item.path.name  # every row's file is missing
    assert csv.field_size_limit() == limit  # raised for our reads only


def test_damaged_workbooks_are_one_clear_error_from_read_results_too(
    corpus: list[BatchFile],
) -> None:
    damaged = [i for i in corpus if i.code == "bad_batch_file"]
    assert len(damaged) >= 8
    for item in damaged:
        with pytest.raises(ImgkitError, match=r"not an Excel workbook|no worksheet") as caught:
            read_results(item.path)
        assert caught.value.code == "bad_batch_file"
        assert item.path.name in str(caught.value)


def test_a_damaged_workbook_leaves_no_file_open(corpus: list[BatchFile]) -> None:
    """openpyxl, failing half-way, leaves its own handle open: a ResourceWarning at some
    later garbage collection, in whichever test runs then.  imgkit opens the file itself."""
    damaged = [i for i in corpus if i.code == "bad_batch_file"]
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", ResourceWarning)
        for item in damaged:
            for read in (read_batch, read_results):
                with pytest.raises(ImgkitError):
                    read(item.path)
        gc.collect()
    assert not [w for w in seen if issubclass(w.category, ResourceWarning)], seen


def by_name(corpus: list[BatchFile], name: str) -> Path:
    return next(i.path for i in corpus if i.path.name == name)


def test_what_the_odd_sheets_hold(corpus: list[BatchFile], sandbox: Sandbox) -> None:
    merged = read_batch(by_name(corpus, "merged-headers.xlsx"))
    assert merged["shop"].tolist() == ["douyin_shop"] * 3  # filled down the merge
    assert merged["row"].tolist() == [3, 4, 5]
    spaced = read_batch(by_name(corpus, "chinese-headers.xlsx"))
    assert list(spaced.columns[:4]) == ["platform", "shop", "file", "target"]
    dates = validate(read_batch(by_name(corpus, "dates-in-ids.xlsx")), shops=sandbox.shops)
    assert dates["target"].tolist() == ["2024-01-05", "03:04:00"]
    assert dates["issues"].str.contains("bad_target").all()
    mangled = validate(read_batch(by_name(corpus, "mangled-ids.xlsx")), shops=sandbox.shops)
    assert "id_mangled" in str(mangled.loc[0, "issues"])
    formulas = read_batch(by_name(corpus, "formulas.xlsx"))  # no cached values: empty
    assert formulas["target"].tolist() == ["", ""]
    huge = validate(read_batch(by_name(corpus, "huge-cells.csv")), shops=sandbox.shops)
    assert len(str(huge.loc[0, "title"])) == 200_000
    assert {"title_too_long", "title_will_be_cut"} & set(str(huge.loc[0, "issues"]).split(";"))
    assert "path_too_long" in str(huge.loc[1, "issues"])
    assert max(huge["message"].str.len()) < 400
    far = read_batch(by_name(corpus, "far-cell.xlsx"))
    assert far["row"].tolist() == [2, 200]
    assert far["Unnamed: 16383"].tolist() == ["", "x"]  # named after its sheet column


# --- costs ---------------------------------------------------------------------------------


def test_a_far_cell_costs_what_its_cells_cost(corpus: list[BatchFile]) -> None:
    path = by_name(corpus, "far-cell.xlsx")
    tracemalloc.start()
    try:
        read_batch(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # A few cells: well under 1 MB of Python objects (the grid up to XFD200 was ~800 MB).
    assert peak < 10 * 2**20, peak


class CountingDict(dict[Hashable, object]):
    lookups = 0

    def __contains__(self, key: object) -> bool:
        CountingDict.lookups += 1
        return super().__contains__(key)


@pytest.mark.parametrize("n", [1_000, 4_000])
def test_repeated_headers_are_renamed_in_linear_time(n: int) -> None:
    taken = CountingDict()
    suffixes: dict[Hashable, int] = {}
    CountingDict.lookups = 0
    for _ in range(n):
        taken[batch_module._unique("备注", taken, suffixes)] = None
    assert list(taken)[:3] == ["备注", "备注.1", "备注.2"]
    assert len(taken) == n
    assert CountingDict.lookups <= 3 * n  # n²/2 before


def test_sixteen_thousand_repeated_headers_are_read(corpus: list[BatchFile]) -> None:
    # The workbook of them is read in the corpus test above; here, the same as a frame.
    # That the renaming is linear (it was quadratic: 16.6 s here) is counted above, not
    # timed: a loaded machine makes any time bound flaky.
    wide = pd.DataFrame([["doudian", "douyin_shop", "a.jpg", "0", *["v"] * 16_000]])
    wide.columns = pd.Index(["platform", "shop", "file", "target", *["备注"] * 16_000])
    frame = read_batch(wide)
    assert frame.shape == (1, 4 + 16_000 + 1)
    assert frame.columns[-2] == "备注.15999"


def test_a_million_formatted_empty_rows_do_not_blow_up(tmp_path: Path) -> None:
    small = formatted_rows_workbook(tmp_path / "small.xlsx", rows=50_000)
    tracemalloc.start()
    try:
        assert len(read_batch(small)) == 1
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # The parser's per-row attributes are dropped as it goes: a few MB, whatever the rows.
    assert peak < 20 * 2**20, peak
    whole = formatted_rows_workbook(tmp_path / "whole.xlsx")
    started = time.perf_counter()
    frame = read_batch(whole)
    elapsed = time.perf_counter() - started
    assert frame[["platform", "shop", "target", "row"]].to_dict("records") == [
        {"platform": "doudian", "shop": "douyin_shop", "target": "0", "row": 2}
    ]
    assert elapsed < 60, elapsed  # ~5 s here
