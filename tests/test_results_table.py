"""The compact results of a run (ResultTable): what is read back and the results frame
built from it are those of a dict of RowResults."""

from __future__ import annotations

from collections.abc import Hashable

import pandas as pd
import pytest

from imgkit.report.results import CANCELLED, ResultTable, RowResult, results_frame
from imgkit.words import Words

RESULTS: dict[Hashable, RowResult] = {
    0: RowResult(
        "uploaded", "http://img/0.jpg", "0", message="已上传", attempts=1, elapsed_s=0.1234
    ),
    2: RowResult("failed", category="rate_limited", code="429 x", retryable=True, attempts=3),
    3: RowResult("skipped", "http://img/3.jpg", "3", message=Words("跳过", "skipped", "why")),
    4: RowResult("invalid", category="invalid_input", code="bad_file"),
    5: RowResult("in_doubt", message=Words("存疑", "in doubt"), elapsed_s=2.0005),
    6: RowResult("cancelled", message=CANCELLED),
    7: RowResult("planned"),
    8: RowResult("pending_audit", image_id="p8", category="audit_pending"),
}


def test_a_row_reads_back_as_written() -> None:
    table = ResultTable(10, RESULTS)
    assert len(table) == len(RESULTS)
    assert dict(table.items()) == RESULTS
    assert 1 not in table
    assert 9 not in table
    assert -1 not in table
    assert 10 not in table
    assert "0" not in table
    table[1] = RowResult("uploaded", "u", "1")
    table[1] = RowResult("failed", code="again")  # a second result replaces the first
    assert len(table) == len(RESULTS) + 1
    assert table[1].code == "again"
    del table[1]
    assert 1 not in table
    assert len(table) == len(RESULTS)
    with pytest.raises(KeyError):
        table[10] = RowResult("uploaded")
    with pytest.raises(KeyError):
        table[9]


@pytest.mark.parametrize("lang", ["zh", "en", "both"])
def test_the_results_frame_is_that_of_a_dict(lang: str) -> None:
    validated = pd.DataFrame(
        {
            "file": [f"{n}.jpg" for n in range(10)],
            "ok": [n != 4 for n in range(10)],
            "message": ["", "", "", "", "文件无法读取", "", "", "", "", ""],
            "sha256": ["ab"] * 10,
        }
    )
    from_dict = results_frame(validated, RESULTS, lang)  # type: ignore[arg-type]
    from_table = results_frame(validated, ResultTable(10, RESULTS), lang)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(from_table, from_dict)
    assert from_table.loc[1, "status"] == "cancelled"  # no result: never sent


def test_a_table_under_other_labels_is_read_by_label() -> None:
    validated = pd.DataFrame({"file": ["a.jpg", "b.jpg"]}, index=[1, 0])
    frame = results_frame(validated, ResultTable(2, {0: RowResult("uploaded", "u", "0")}))
    assert frame["status"].tolist() == ["cancelled", "uploaded"]
