"""The command line against the sandbox over real HTTP: every command, its exit codes,
``--json`` on stdout alone, 80-column tables, ``-o`` outputs, errors as one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import imgkit
from imgkit.engine.shop_check import check_shops
from imgkit.intake.shops_files import write_shops
from imgkit.sandbox import Sandbox
from imgkit.shells import cli_batch
from imgkit.shells.cli import main
from imgkit.shells.cli_terminal import CONFIG, INTERRUPTED, INVALID_BATCH, NOT_ALL_DONE, OK, USAGE

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
SECRET_FIELDS = ("app_secret", "client_secret", "access_token", "session")


def _batch(tmp_path: Path, rows: list[str], name: str = "batch.csv") -> Path:
    path = tmp_path / name
    header = "platform,shop,file,target,title"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def shops_file(sandbox: Sandbox, tmp_path: Path) -> Path:
    return write_shops(tmp_path / "shops.toml", sandbox.shops)


@pytest.fixture
def small_batch(tmp_path: Path) -> Path:
    """Two rows (Qianmi and Tmall), images from the sample folder."""
    return _batch(
        tmp_path,
        [
            f"qianmi_sku,qianmi_shop,{SAMPLE / 'images' / 'mug.jpg'},18353/g1234,杯子",
            f"tmall_item,tmall_store,{SAMPLE / 'images' / 'mug.jpg'},1489161940,杯子",
        ],
    )


def _lines_fit(text: str) -> None:
    from imgkit.shells.cli_terminal import cell_width

    too_wide = [line for line in text.splitlines() if cell_width(line) > 80]
    assert not too_wide, too_wide


def test_upload_prints_an_80_column_table_and_a_summary(
    small_batch: Path, shops_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["upload", str(small_batch), "--shops", str(shops_file), "--lang", "en"]) == OK
    out = capsys.readouterr().out
    _lines_fit(out)
    assert out.splitlines()[0].split() == ["row", "status", "shop", "target", "detail"]
    assert out.rstrip().splitlines()[-1] == "2 rows: 2 uploaded"
    assert "\x1b" not in out


def test_upload_json_and_outputs_then_retry_and_refresh(
    small_batch: Path, shops_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_csv = tmp_path / "results.csv"
    argv = ["upload", str(small_batch), "--shops", str(shops_file), "--json", "-o", str(out_csv)]
    assert main(argv) == OK
    captured = capsys.readouterr()
    records = json.loads(captured.out)  # stdout is the JSON and nothing else
    assert [r["status"] for r in records] == ["uploaded", "uploaded"]
    assert "2 rows / 行" in captured.err
    back = pd.read_csv(out_csv, encoding="utf-8-sig", dtype=str)
    assert list(back["status"]) == ["uploaded", "uploaded"]
    assert out_csv.read_bytes().startswith(b"\xef\xbb\xbf")
    out_json = tmp_path / "again.json"
    assert main(["upload", str(small_batch), "--shops", str(shops_file), "-o", str(out_json)]) == 0
    again = json.loads(out_json.read_text(encoding="utf-8"))
    assert [r["status"] for r in again] == ["skipped", "skipped"]  # the journal remembers
    assert again[0]["title"] == "杯子"  # not \\u-escaped
    capsys.readouterr()
    assert main(["retry", str(out_csv), "--shops", str(shops_file), "--json"]) == OK
    assert {r["status"] for r in json.loads(capsys.readouterr().out)} <= {"uploaded", "skipped"}
    assert main(["refresh", str(out_csv), "--shops", str(shops_file), "--lang", "zh"]) == OK
    assert "共 2 行" in capsys.readouterr().out


def test_a_refused_shop_fails_rows_with_exit_1(
    sandbox: Sandbox, small_batch: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tables = dict(sandbox.shops)
    tables["qianmi_shop"] = {**tables["qianmi_shop"], "app_secret": "wrong-secret"}
    shops = write_shops(tmp_path / "bad.toml", tables)
    argv = ["upload", str(small_batch), "--shops", str(shops), "--json", "--no-journal"]
    assert main(argv) == NOT_ALL_DONE
    statuses = {r["shop"]: r["status"] for r in json.loads(capsys.readouterr().out)}
    assert statuses == {"qianmi_shop": "failed", "tmall_store": "uploaded"}


def test_dry_run_plans_and_sends_nothing(
    sandbox: Sandbox, small_batch: Path, shops_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["upload", str(small_batch), "--shops", str(shops_file), "--dry-run", "--json"]
    assert main(argv) == OK
    assert {r["status"] for r in json.loads(capsys.readouterr().out)} == {"planned"}
    assert sandbox.stats()["total"]["stored"] == 0


def test_validate_and_fit_exit_3_on_errors(
    tmp_path: Path, shops_file: Path, small_batch: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(small_batch), "--shops", str(shops_file)]) == OK
    capsys.readouterr()
    broken = _batch(
        tmp_path, [f"qianmi_sku,qianmi_shop,{tmp_path / 'gone.jpg'},18353/g1,x"], "broken.csv"
    )
    argv = ["validate", str(broken), "--shops", str(shops_file), "--lang", "en"]
    assert main(argv) == INVALID_BATCH
    out = capsys.readouterr().out
    _lines_fit(out)
    assert "1 with errors" in out
    assert main(["upload", str(broken), "--shops", str(shops_file), "--json"]) == INVALID_BATCH
    assert json.loads(capsys.readouterr().out)[0]["status"] == "invalid"
    argv = ["fit", str(broken), "--shops", str(shops_file), "--out-dir", str(tmp_path / "fitted")]
    assert main(argv) == INVALID_BATCH
    capsys.readouterr()
    argv = ["fit", str(small_batch), "--shops", str(shops_file), "--json"]
    assert main(argv) == OK
    assert len(json.loads(capsys.readouterr().out)) == 2


def test_sandbox_flag_runs_against_an_embedded_sandbox(
    small_batch: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(small_batch), "--sandbox", "--json"]) == OK
    assert all(r["ok"] for r in json.loads(capsys.readouterr().out))


def test_sandbox_flag_points_the_shops_file_at_it(
    tmp_path: Path, small_batch: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Sandbox() as other:  # the file names another server: --sandbox redirects it
        shops = write_shops(tmp_path / "elsewhere.toml", other.shops)
    argv = ["upload", str(small_batch), "--sandbox", "--shops", str(shops), "--lang", "en"]
    assert main(argv) == OK
    assert "2 uploaded" in capsys.readouterr().out


def test_check_shops_tells_accepted_from_refused(sandbox: Sandbox) -> None:
    tables: dict[str, Any] = dict(sandbox.shops)
    for name, table in sandbox.shops.items():
        field = next(f for f in SECRET_FIELDS if f in table)
        tables[f"{name}_wrong"] = {**table, field: "wrong-value"}
    checked = check_shops(tables, lang="en").set_index("shop")
    for name in sandbox.shops:
        assert checked.loc[name, "ok"], checked.loc[name].to_dict()
        assert checked.loc[name, "category"] == "ok"
        wrong = checked.loc[f"{name}_wrong"]
        assert not wrong["ok"], wrong.to_dict()
        assert wrong["category"] == "auth", wrong.to_dict()
        assert wrong["code"]
    assert sandbox.stats()["total"]["stored"] == 0  # nothing was stored to check


def test_check_shops_reports_a_shop_it_cannot_check(sandbox: Sandbox) -> None:
    from imgkit.engine import shop_check

    table = sandbox.shops["tmall_store"]
    with pytest.MonkeyPatch.context() as patch:  # a platform without a look-up
        patch.setattr(
            imgkit.platforms.get_adapter("tmall_item"), "lookup_method", None, raising=True
        )
        checked = shop_check.check_shops({"t": table}, lang="en")
    [row] = checked.to_dict("records")
    assert row["category"] == "unchecked"
    assert pd.isna(checked["ok"]).all()
    assert "cannot be checked without storing" in str(row["message"])


def test_shops_check_command(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tables = {"qm": {**sandbox.shops["qianmi_shop"], "app_secret": "wrong-secret"}}
    good = write_shops(tmp_path / "good.toml", sandbox.shops)
    assert main(["shops", "check", "--shops", str(good), "--lang", "en"]) == OK
    out = capsys.readouterr().out
    _lines_fit(out)
    assert "7 shops: 7 OK" in out
    bad = write_shops(tmp_path / "bad.toml", tables)
    assert main(["shops", "check", "--shops", str(bad), "--json"]) == NOT_ALL_DONE
    captured = capsys.readouterr()
    [record] = json.loads(captured.out)
    assert record["category"] == "auth"
    assert record["ok"] is False
    assert "wrong-secret" not in captured.out + captured.err


def test_configuration_errors_exit_4_with_one_line(
    tmp_path: Path, small_batch: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "none.toml")
    assert main(["upload", str(small_batch), "--shops", missing]) == CONFIG
    err = capsys.readouterr().err
    assert err.startswith("imgkit upload: ")
    assert len(err.strip().splitlines()) == 1
    assert main(["validate", str(tmp_path / "nope.csv"), "--sandbox"]) == CONFIG
    assert "nope.csv" in capsys.readouterr().err
    assert main(["retry", str(tmp_path / "nope.csv"), "--sandbox"]) == CONFIG
    assert main(["refresh", str(tmp_path / "nope.csv"), "--sandbox"]) == CONFIG
    assert main(["upload"]) == USAGE
    assert main(["upload", str(small_batch), "--concurrency", "many"]) == USAGE


def test_an_interrupt_exits_130(
    small_batch: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*args: object, **kwargs: object) -> pd.DataFrame:
        raise KeyboardInterrupt

    monkeypatch.setattr("imgkit.engine.uploads.upload", interrupted)
    assert main(["upload", str(small_batch), "--sandbox", "--lang", "en"]) == INTERRUPTED
    assert capsys.readouterr().err == "imgkit upload: interrupted\n"


def test_lang_reaches_the_engine_only_when_it_takes_it() -> None:
    def old(batch: object, *, concurrency: int) -> None: ...

    def new(batch: object, *, concurrency: int, lang: str) -> None: ...

    class Args:
        lang = "zh"

    assert cli_batch._options(old, Args(), concurrency=2) == {"concurrency": 2}  # type: ignore[arg-type]
    assert cli_batch._options(new, Args(), concurrency=2) == {"concurrency": 2, "lang": "zh"}  # type: ignore[arg-type]


def test_subprocess_keeps_json_on_stdout_and_no_cursor_codes(
    small_batch: Path, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "imgkit", "upload", str(small_batch), "--sandbox", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == OK, done.stderr
    assert [r["status"] for r in json.loads(done.stdout)] == ["uploaded", "uploaded"]
    assert "\x1b" not in done.stdout + done.stderr
    assert "\r" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("2 rows / 行")


def test_subprocess_error_is_one_line_without_traceback(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "imgkit", "validate", "missing.csv", "--shops", "none.toml"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == CONFIG
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_template_writes_a_workbook_read_back_as_a_batch(
    shops_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("imgkit.excel")
    path = tmp_path / "template.xlsx"
    argv = ["template", str(path), "--shops", str(shops_file), "--platform", "qianmi_sku"]
    assert main(argv) == OK
    assert str(path) in capsys.readouterr().out
    assert imgkit.read_batch(path).empty


def test_upload_writes_the_styled_workbook(
    small_batch: Path, shops_file: Path, tmp_path: Path
) -> None:
    pytest.importorskip("imgkit.excel")
    out = tmp_path / "results.xlsx"
    assert main(["upload", str(small_batch), "--shops", str(shops_file), "-o", str(out)]) == OK
    assert list(imgkit.read_results(out)["status"]) == ["uploaded", "uploaded"]


def test_an_unexpected_error_is_one_line_unless_asked_for_the_traceback(
    small_batch: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*args: object, **kwargs: object) -> pd.DataFrame:
        raise RuntimeError("boom")

    monkeypatch.setattr("imgkit.engine.uploads.upload", broken)
    argv = ["upload", str(small_batch), "--sandbox", "--lang", "en"]
    assert main(argv) == NOT_ALL_DONE
    assert capsys.readouterr().err == "imgkit upload: unexpected error RuntimeError: boom\n"
    monkeypatch.setenv("IMGKIT_TRACEBACK", "1")
    with pytest.raises(RuntimeError, match="boom"):
        main(argv)


def test_fit_passes_workers_and_shows_no_bar_off_a_terminal(
    small_batch: Path, shops_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import imgkit.intake.fitting as fitting

    seen: dict[str, object] = {}
    real = fitting.fit

    def spy(*args: object, **kwargs: object) -> object:
        seen.update(kwargs)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(fitting, "fit", spy)
    assert main(["fit", str(small_batch), "--shops", str(shops_file), "--workers", "1"]) == OK
    assert (seen["workers"], seen["progress"]) == (1, False)
