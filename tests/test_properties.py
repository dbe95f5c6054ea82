"""Properties over arbitrary frames and the CSV and xlsx files written from them.

``read_batch`` raises nothing but ``ImgkitError``; ``validate`` gives exactly one row per
non-blank input row, under the input's own index labels (repeated ones too), and every
refused row has a message in both languages.  No cell holds ":" (so no URL is ever
fetched): every ``file`` is a local path, nearly always missing.
"""

from __future__ import annotations

import math
import re
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imgkit import ImgkitError, read_batch, validate
from imgkit.intake.batch import read_batch_positions
from imgkit.sandbox import sandbox_shops

SHOPS = sandbox_shops("http://127.0.0.1:9")  # nothing is sent: validation only
CJK = re.compile(r"[\u4e00-\u9fff]")
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

HEADERS = st.one_of(
    st.sampled_from(
        ["platform", "shop", "file", "target", "平台", "店铺", "图片", "商品ID", "title", "位置"]
    ),
    st.sampled_from(["row", "Row", "备注", "", " ", "Unnamed: 0", "platform ", "replace_id"]),
    st.text(max_size=8),
    st.integers(-3, 3),
    st.none(),
)
TEXT = st.text(max_size=12).map(lambda t: t.replace(":", "_"))
CELLS = st.one_of(
    TEXT,
    st.sampled_from(["tmall", "doudian", "千米", "douyin_shop", "tmall_store", "0", "18353/g1"]),
    st.sampled_from(
        [
            "\uff11\uff12\uff13",
            "\u0661\u0662\u0663",
            "1.65772E+18",
            "a\x00b",
            "\t",
            "-1",
            "TRUE",
            "是",
        ]
    ),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.just(np.nan),
)


@st.composite
def frames(draw: st.DrawFn, *, required: bool = False) -> pd.DataFrame:
    """A frame of odd headers (repeated, numeric, empty) and mixed cells.

    With ``required``, the four batch columns are there and every row names a platform,
    so that no row is blank.
    """
    headers: list[Any] = draw(st.lists(HEADERS, max_size=7))
    if required:
        headers = ["platform", "shop", "file", "target", *headers]
    n = draw(st.integers(0, 5))
    rows = [[draw(CELLS) for _ in headers] for _ in range(n)]
    frame = pd.DataFrame(rows, columns=pd.Index(headers, dtype=object), dtype=object)
    if required and n:
        frame.iloc[:, 0] = draw(
            st.lists(st.sampled_from(["tmall", "抖音", "x"]), min_size=n, max_size=n)
        )
    if draw(st.booleans()):  # repeated labels, as pd.concat of two batches gives
        frame.index = pd.Index([i % 2 for i in range(n)])
    return frame


def bilingual(message: str) -> bool:
    return bool(CJK.search(message)) and " / " in message


def read_or_refuse(source: Any) -> pd.DataFrame | None:
    try:
        return read_batch(source)
    except ImgkitError as exc:
        words = str(exc)
    assert bilingual(words), words
    return None


@SETTINGS
@given(frames())
def test_read_batch_of_any_frame_raises_only_imgkit_errors(frame: pd.DataFrame) -> None:
    read_or_refuse(frame)


@SETTINGS
@given(frames(required=True))
def test_validate_gives_one_row_per_input_row_under_its_label(frame: pd.DataFrame) -> None:
    try:
        out = validate(frame, shops=SHOPS)
    except ImgkitError:
        return  # two headers meaning one column, say: the whole batch is refused
    assert len(out) == len(frame)
    assert out.index.equals(frame.index)
    refused = out[~out["ok"]]
    assert all(bilingual(m) for m in refused["message"]), refused["message"].tolist()
    assert (refused["issues"] != "").all()
    assert set(out["ok"].tolist()) <= {True, False}


@SETTINGS
@given(frames())
def test_validate_of_any_frame_keeps_the_labels_of_its_rows(frame: pd.DataFrame) -> None:
    try:
        batch, positions = read_batch_positions(frame)
        out = validate(frame, shops=SHOPS)
    except ImgkitError:
        return
    assert len(out) == len(batch) <= len(frame)
    assert out.index.equals(frame.index[positions])
    assert out["row"].tolist() == batch["row"].tolist()
    assert all(bilingual(m) for m in out.loc[~out["ok"].to_numpy(), "message"])


def _writable(frame: pd.DataFrame) -> pd.DataFrame:
    # What a spreadsheet can hold: openpyxl refuses control characters and numbers Excel
    # cannot store (inf, ints past 2**53 stay exact only as text anyway).
    def cell(value: Any) -> Any:
        if isinstance(value, str):
            return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", "?", value)
        if isinstance(value, float) and math.isinf(value):
            return None
        return value

    out = frame.map(cell)
    out.columns = pd.Index([cell(c) for c in frame.columns], dtype=object)
    return out


@settings(SETTINGS, max_examples=25)
@given(frames(), st.sampled_from(["csv", "xlsx"]))
def test_read_batch_of_any_file_written_from_a_frame_raises_only_imgkit_errors(
    frame: pd.DataFrame, kind: str
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"batch.{kind}"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas on odd labels: not what is under test
            if kind == "csv":
                frame.to_csv(path, index=False)
            else:
                _writable(frame).to_excel(path, index=False)
        batch = read_or_refuse(path)
        if batch is not None:
            assert batch["row"].is_monotonic_increasing
            out = validate(batch, shops=SHOPS)
            assert len(out) == len(batch)
            assert all(bilingual(m) for m in out.loc[~out["ok"].to_numpy(), "message"])
