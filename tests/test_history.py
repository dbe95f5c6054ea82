"""``imgkit.history()`` and ``imgkit journal``: the journal as a table, over real uploads.

Each test has its own ``$IMGKIT_HOME`` (tests/conftest.py), so the user's journal holds only
what the test uploaded to the sandbox.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

import imgkit
from imgkit import Sandbox
from imgkit.engine.journal import Journal, Record, default_journal_path
from imgkit.platforms import get_adapter
from imgkit.report.history import HISTORY_COLUMNS, history
from imgkit.shells.cli import main

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
DELETED_ITEM = "1489161934"  # the sandbox's deleted Tmall item: a failure for good


def small_batch() -> pd.DataFrame:
    """The sample batch's Tmall and Qianmi rows, and one Tmall row that fails."""
    frame = pd.read_csv(SAMPLE / "batch.csv", dtype=str, keep_default_na=False)
    frame["file"] = [str(SAMPLE / name) for name in frame["file"]]
    tmall = frame[frame["platform"] == "tmall_item"].head(3)
    picked = pd.concat([tmall, frame[frame["platform"] == "qianmi_sku"].head(2)])
    failing = picked.iloc[[0]].assign(target=DELETED_ITEM)
    return pd.concat([picked, failing], ignore_index=True)


@pytest.fixture
def results(sandbox: Sandbox) -> pd.DataFrame:
    out = imgkit.upload(small_batch(), shops=sandbox.shops, progress=False)
    assert list(out["status"]) == ["uploaded"] * 5 + ["failed"], out[["status", "message"]]
    return out


def secrets_of(sandbox: Sandbox) -> list[str]:
    found = []
    for table in sandbox.shops.values():
        for name in get_adapter(table["platform"]).credentials.secret:
            if table.get(name):
                found.append(table[name])
    assert len(found) >= 7
    return found


def check_dtypes(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == list(HISTORY_COLUMNS)
    assert pd.api.types.is_datetime64_dtype(frame["when"])
    assert getattr(frame["when"].dtype, "tz", None) is None  # local time, naive
    assert frame["attempts"].dtype == "int64"
    assert frame["live"].dtype == bool


# --- history() -----------------------------------------------------------------------------


def test_one_row_per_upload_newest_first(sandbox: Sandbox, results: pd.DataFrame) -> None:
    table = history()
    check_dtypes(table)
    assert len(table) == 6
    assert table["when"].is_monotonic_decreasing
    now = pd.Timestamp.now()
    assert ((now - table["when"]).abs() < pd.Timedelta(minutes=10)).all()
    assert not table["live"].any()  # the run is over
    assert set(table["endpoint"]) == {sandbox.base_url}
    assert table["account"].str.startswith("app_key=").all()
    by_place = table.set_index(["sha256", "target"])
    for _, row in results.iterrows():
        entry = by_place.loc[(row["sha256"], row["target"])]
        assert entry["platform"] == row["platform_key"]
        assert entry["shop"] == row["shop"]
        assert entry["file"] == row["file"]
        assert entry["attempts"] == row["attempts"] == 1
        if row["status"] == "uploaded":
            assert (entry["status"], entry["url"], entry["image_id"]) == (
                "done",
                row["url"],
                row["image_id"],
            )
        else:
            assert (entry["status"], entry["category"], entry["url"]) == ("failed", "not_found", "")
            assert entry["code"]
    titled = table[table["options"] != ""]
    assert titled["options"].str.contains('"title"').all()


def test_filters_by_platform_alias_shop_and_status(results: pd.DataFrame) -> None:
    tmall = history(platform="tmall_item")
    assert len(tmall) == 4
    assert set(tmall["platform"]) == {"tmall_item"}
    assert history(platform="天猫").equals(tmall)
    assert history(platform="Tmall").equals(tmall)
    assert len(history(platform=["qianmi", "tmall"])) == 6
    assert len(history(platform="doudian")) == 0
    assert list(history(shop="qianmi_shop")["platform"]) == ["qianmi_sku"] * 2
    assert len(history(shop=["qianmi_shop", "tmall_store"])) == 6
    assert len(history(shop="no_such_shop")) == 0
    done = history(status="done")
    assert len(done) == 5
    assert done["url"].str.len().gt(0).all()
    failed = history(status="failed")
    assert list(failed["target"]) == [DELETED_ITEM]
    assert len(history(status=["done", "failed"])) == 6
    assert len(history(platform="tmall_item", status="done", shop="tmall_store")) == 3


def test_filters_by_time(results: pd.DataFrame) -> None:
    today = dt.date.today()
    yesterday, tomorrow = today - dt.timedelta(days=1), today + dt.timedelta(days=1)
    assert len(history(since="7d")) == 6
    assert len(history(since="12h", until="0s")) == 6  # until now
    assert len(history(until="7d")) == 0
    assert len(history(since=yesterday.isoformat())) == 6
    assert len(history(since=yesterday, until=tomorrow)) == 6
    assert len(history(until=yesterday.isoformat())) == 0
    assert len(history(since=pd.Timestamp.now() - pd.Timedelta(hours=1))) == 6
    future = history(since=tomorrow.isoformat())
    assert future.empty
    check_dtypes(future)
    assert len(history(since="2999-01-01")) == 0
    with pytest.raises(imgkit.ImgkitError) as err:
        history(since="last tuesday-ish")
    assert err.value.code == "bad_time"


def test_no_secret_in_any_cell(sandbox: Sandbox, results: pd.DataFrame) -> None:
    cells = [str(value) for value in history().to_numpy().ravel()]
    for secret in secrets_of(sandbox):
        assert not any(secret in cell for cell in cells), secret


def test_an_empty_journal_is_an_empty_frame() -> None:
    table = history()
    assert table.empty
    check_dtypes(table)


def test_an_entry_being_sent_is_live_until_its_run_ends(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    with Journal(path) as journal:
        run = journal.start_run()
        journal.begin("k", Record("qianmi_sku", "qianmi_shop", "18353/g1234", "ab" * 32), run=run)
        (row,) = history(journal=path).to_dict("records")
        assert (row["status"], row["live"], row["attempts"]) == ("sending", True, 1)
        journal.end_run(run)
        (row,) = history(journal=path).to_dict("records")
        assert (row["status"], row["live"]) == ("sending", False)  # in doubt now
        assert len(history(journal=journal)) == 1  # an open Journal is used, and left open
        assert journal.lookup("k") is not None


# --- imgkit journal ------------------------------------------------------------------------


def test_the_cli_prints_the_entries(
    results: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["journal"]) == 0
    out = capsys.readouterr().out
    assert f"journal: {default_journal_path()} (6 entries" in out
    for url in results.loc[results["status"] == "uploaded", "url"]:
        assert url in out
    assert DELETED_ITEM in out
    assert main(["journal", "--status", "done"]) == 0
    out = capsys.readouterr().out
    assert "(5 entries" in out
    assert DELETED_ITEM not in out
    assert main(["journal", "--platform", "千米", "--since", "7d"]) == 0
    out = capsys.readouterr().out
    assert "(2 entries" in out
    assert "tmall_item" not in out
    assert main(["journal", "--limit", "2"]) == 0
    assert "... 4 more" in capsys.readouterr().out


def read_back(path: Path) -> pd.DataFrame:
    if path.suffix == ".csv":
        return pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    return pd.read_excel(path, sheet_name="journal", dtype=str, keep_default_na=False)


@pytest.mark.parametrize("name", ["journal.xlsx", "journal.csv"])
def test_the_cli_exports_the_table(
    results: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    out = tmp_path / name
    assert main(["journal", "--out", str(out)]) == 0
    assert "6 entries written" in capsys.readouterr().out
    back = read_back(out)
    expected = history()
    assert list(back.columns) == list(HISTORY_COLUMNS)
    assert len(back) == len(expected) == 6
    for column in ("status", "platform", "shop", "account", "target", "sha256", "url", "file"):
        assert list(back[column]) == list(expected[column].astype(str)), column
    assert list(back["image_id"]) == list(expected["image_id"])  # ids stay text
    assert [int(n) for n in back["attempts"]] == list(expected["attempts"])
    assert main(["journal", "--status", "failed", "--out", str(out)]) == 0
    assert list(read_back(out)["target"]) == [DELETED_ITEM]


def test_the_cli_without_a_journal_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["journal"]) == 0
    out = capsys.readouterr().out
    assert "no journal" in out
    assert str(default_journal_path()) in out
    assert not default_journal_path().exists()  # looking created nothing
    missing = tmp_path / "elsewhere.sqlite"
    assert main(["journal", "--journal", str(missing)]) == 0
    assert "no journal" in capsys.readouterr().out
    assert not missing.exists()


def test_the_cli_refuses_a_bad_time(
    results: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["journal", "--since", "soonish"]) == 2
    assert "not a time" in capsys.readouterr().err
