"""``imgkit.engine.progress.Progress``: bars, live counts, silence, and no stray warnings."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import pytest

from imgkit.engine.progress import Progress

ROOT = Path(__file__).resolve().parent.parent


def final_lines(output: str) -> list[str]:
    """The lines a terminal would show last: each bar's last drawing, per label."""
    return [chunk.rsplit("\r", 1)[-1] for chunk in output.split("\n") if chunk.strip()]


def test_bars_show_platform_labels_and_final_counts() -> None:
    out = io.StringIO()
    with Progress({"doudian": 3, "qianmi_sku": 2}, file=out) as progress:
        progress.finished("doudian", "uploaded")
        progress.finished("doudian", "uploaded")
        progress.finished("doudian", "pending_audit")
        progress.retrying("qianmi_sku")
        progress.finished("qianmi_sku", "failed")
    text = out.getvalue()
    last = final_lines(text)[-3:]
    assert last[0].startswith("imgkit"), last
    assert "4/5" in last[0]
    assert "uploaded=2, failed=1, retrying=1, pending_audit=1" in last[0]
    assert last[1].startswith("doudian"), last
    assert "3/3" in last[1]
    assert "uploaded=2, failed=0, retrying=0, pending_audit=1" in last[1]
    assert last[2].startswith("qianmi_sku"), last
    assert "1/2" in last[2]
    assert "uploaded=0, failed=1, retrying=1" in last[2]
    assert "img" in last[0]  # unit="img"


def test_cancelled_shows_only_when_there_are_some() -> None:
    out = io.StringIO()
    with Progress({"doudian": 2}, file=out) as progress:
        progress.finished("doudian", "uploaded")
    assert "cancelled" not in out.getvalue()
    assert "pending_audit" not in out.getvalue()
    out = io.StringIO()
    with Progress({"doudian": 2}, file=out) as progress:
        progress.finished("doudian", "cancelled")
    assert "cancelled=1" in final_lines(out.getvalue())[-1]


def test_single_platform_shows_one_bar_labelled_with_the_platform() -> None:
    out = io.StringIO()
    with Progress({"taobao_picture": 2}, file=out, desc="imgkit") as progress:
        progress.finished("taobao_picture", "uploaded")
    lines = final_lines(out.getvalue())
    assert all(line.startswith("taobao_picture") for line in lines), lines
    assert "imgkit" not in out.getvalue()
    assert "1/2" in lines[-1]
    assert "uploaded=1" in lines[-1]


def test_disabled_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    progress = Progress({"doudian": 2, "qianmi_sku": 1}, enabled=False, file=out)
    progress.retrying("doudian")
    progress.resumed("doudian")
    progress.finished("doudian", "uploaded")
    progress.finished("nowhere", "failed")
    progress.close()
    assert out.getvalue() == ""
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ""
    assert progress.counts()["total"]["uploaded"] == 1


def test_counts_follow_retries_up_and_down() -> None:
    progress = Progress({"doudian": 3, "qianmi_sku": 2}, file=io.StringIO())
    progress.retrying("doudian")
    progress.retrying("doudian")
    progress.retrying("qianmi_sku")
    counts = progress.counts()
    assert counts["doudian"]["retrying"] == 2
    assert counts["qianmi_sku"]["retrying"] == 1
    assert counts["total"]["retrying"] == 3
    progress.resumed("doudian")
    progress.finished("doudian", "uploaded")
    progress.resumed("qianmi_sku")
    progress.finished("qianmi_sku", "failed")
    progress.finished("doudian", "skipped")
    progress.finished("doudian", "invalid")
    counts = progress.counts()
    assert counts["doudian"] == {
        "uploaded": 1,
        "skipped": 1,
        "invalid": 1,
        "failed": 0,
        "in_doubt": 0,
        "pending_audit": 0,
        "cancelled": 0,
        "planned": 0,
        "retrying": 1,
    }
    assert counts["qianmi_sku"]["failed"] == 1
    assert counts["qianmi_sku"]["retrying"] == 0
    assert counts["total"]["retrying"] == 1
    assert counts["total"]["uploaded"] + counts["total"]["failed"] == 2
    # A resumed() without a retrying() does not drive the count below zero.
    progress.resumed("qianmi_sku")
    assert progress.counts()["qianmi_sku"]["retrying"] == 0
    progress.close()


def test_counts_is_a_copy() -> None:
    progress = Progress({"doudian": 1}, enabled=False)
    progress.counts()["doudian"]["uploaded"] = 99
    assert progress.counts()["doudian"]["uploaded"] == 0


def test_unknown_platform_is_counted_under_the_total_only() -> None:
    out = io.StringIO()
    with Progress({"doudian": 1, "qianmi_sku": 1}, file=out) as progress:
        progress.retrying("tmall_item")
        progress.resumed("tmall_item")
        progress.finished("tmall_item", "uploaded")
    counts = progress.counts()
    assert "tmall_item" not in counts
    assert counts["total"]["uploaded"] == 1
    assert counts["doudian"]["uploaded"] == 0
    assert "1/2" in final_lines(out.getvalue())[-3]


def test_total_is_not_a_platform_key() -> None:
    with pytest.raises(ValueError, match="total"):
        Progress({"total": 1}, enabled=False)


def test_close_is_idempotent_and_keeps_the_final_counts() -> None:
    out = io.StringIO()
    progress = Progress({"doudian": 1, "qianmi_sku": 1}, file=out)
    progress.finished("doudian", "uploaded")
    progress.close()
    after_first = out.getvalue()
    assert "uploaded=1" in final_lines(after_first)[-3]
    progress.close()
    with progress:
        pass
    assert out.getvalue() == after_first
    # Rows reported after close are counted but draw nothing.
    progress.finished("qianmi_sku", "failed")
    assert out.getvalue() == after_first
    assert progress.counts()["total"]["failed"] == 1


def test_empty_batch() -> None:
    out = io.StringIO()
    with Progress({}, file=out) as progress:
        progress.finished("doudian", "uploaded")
    assert final_lines(out.getvalue())[-1].startswith("imgkit")
    assert progress.counts() == {"total": progress.counts()["total"]}


def test_no_warning_escapes() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with Progress({"doudian": 2, "qianmi_sku": 1}, file=io.StringIO()) as progress:
            progress.retrying("doudian")
            progress.resumed("doudian")
            progress.finished("doudian", "uploaded")
            progress.finished("qianmi_sku", "failed")
        with Progress({"doudian": 1}, enabled=False) as progress:
            progress.finished("doudian", "uploaded")
    assert [str(w.message) for w in caught] == []


def test_import_in_a_jupyter_kernel_raises_no_warning() -> None:
    # tqdm.autonotebook warns (TqdmExperimentalWarning) when it picks widget bars in a
    # kernel; imgkit.engine.progress must import cleanly there even with every warning an error.
    # A fresh interpreter that looks like a Jupyter kernel to tqdm, as nothing has imported
    # tqdm yet in it.
    script = textwrap.dedent(
        """
        import sys, types
        import IPython

        class ZMQInteractiveShell:
            pass

        IPython.get_ipython = lambda: ZMQInteractiveShell()
        sys.modules["ipykernel.zmqshell"] = types.ModuleType("ipykernel.zmqshell")
        assert "tqdm" not in sys.modules

        import imgkit.engine.progress
        from tqdm.notebook import tqdm_notebook

        bar = imgkit.engine.progress.tqdm
        assert issubclass(bar, tqdm_notebook), bar.__mro__
        with imgkit.engine.progress.Progress({"doudian": 1}, enabled=False) as progress:
            progress.finished("doudian", "uploaded")
        print("ok")
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "QT_API" and not k.startswith("SPYDER")}
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", script],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
    assert done.stderr == ""


def test_finished_is_cheap() -> None:
    # The engine's budget is <= 1 ms of client CPU per upload in all; the bars may take a
    # small part of it.  Measured at about 2-3 us per row with two bars to update.
    rows = 10_000
    progress = Progress({"doudian": rows // 2, "qianmi_sku": rows // 2}, file=io.StringIO())
    started = time.process_time()
    for i in range(rows):
        progress.finished("doudian" if i % 2 else "qianmi_sku", "uploaded")
    per_row = (time.process_time() - started) / rows
    progress.close()
    assert progress.counts()["total"]["uploaded"] == rows
    assert per_row < 50e-6, f"{per_row * 1e6:.1f} us per finished() call"


def test_an_upload_counts_invalid_and_skipped_rows_in_its_bars(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import imgkit

    batch = imgkit.read_batch(imgkit.sample_data() / "batch.csv")
    batch.loc[batch.index[0], "platform"] = "jd"  # a platform imgkit does not know
    journal = tmp_path / "journal.sqlite"
    with imgkit.Sandbox() as sb:
        first = imgkit.upload(batch, shops=sb.shops, journal=journal, progress=True)
        capsys.readouterr()
        second = imgkit.upload(batch, shops=sb.shops, journal=journal, progress=True)
    rows = len(batch)
    assert (first["status"] == "uploaded").sum() == rows - 1
    assert (second["status"] == "skipped").sum() == rows - 1
    drawn = [line for line in final_lines(capsys.readouterr().err) if line.startswith("imgkit")]
    total = drawn[-1]  # the overall bar as it was left
    assert f"{rows}/{rows}" in total  # every row counted, not only those sent
    assert f"skipped={rows - 1}" in total
    assert "invalid=1" in total
