"""``upload()`` inside a real Jupyter kernel (nbclient), where an event loop is running.

The kernel is the ``python3`` kernelspec, pinned to this interpreter: a spec written to a
temporary directory put first on ``JUPYTER_PATH``, so the run needs no ``ipykernel install``
and never picks up a ``python3`` kernel of another Python installed on the machine.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbclient
import nbformat
from conftest import shop_secrets

from imgkit.sandbox import sandbox_shops

ROOT = Path(__file__).resolve().parent.parent

SETUP = """\
import asyncio
import shutil
import tempfile
import threading
from pathlib import Path

import pandas as pd
from PIL import Image

import imgkit

sb = imgkit.Sandbox().start()
folder = Path(tempfile.mkdtemp(prefix="imgkit-nb-"))
made = 0


def batch(count):
    \"\"\"A doudian batch of ``count`` small JPEGs, each one unlike any other.\"\"\"
    global made
    rows = []
    for _ in range(count):
        made += 1
        path = folder / f"img_{made}.jpg"
        Image.new("RGB", (96, 72), (made * 37 % 256, made * 71 % 256, 90)).save(path, "JPEG")
        rows.append({"platform": "doudian", "shop": "douyin_shop", "file": str(path),
                     "target": "0"})
    return pd.DataFrame(rows)


def all_uploaded(results, count):
    assert len(results) == count, results
    assert list(results["status"]) == ["uploaded"] * count, results[["status", "message"]]
    assert results["url"].str.startswith(sb.base_url).all(), results["url"]


sb
"""

SYNC = """\
# No await: a loop is running in this thread, so upload() must use its own loop elsewhere.
loop = asyncio.get_running_loop()
assert loop.is_running()
results = imgkit.upload(batch(3), shops=sb.shops, journal=False, progress=False)
all_uploaded(results, 3)
assert asyncio.get_running_loop() is loop and threading.current_thread() is threading.main_thread()
results[["file", "status", "url", "image_id", "attempts"]]
"""

ASYNC = """\
results_async = await imgkit.upload_async(batch(3), sb.shops, journal=False, progress=False)
all_uploaded(results_async, 3)
results_async
"""

BAR_SYNC = """\
# progress=True: tqdm.auto picks the notebook bar (an ipywidget); no frontend renders it here.
with_bar = imgkit.upload(batch(3), shops=sb.shops, journal=False, progress=True)
all_uploaded(with_bar, 3)
"""

BAR_ASYNC = """\
with_bar_async = await imgkit.upload_async(batch(3), sb.shops, journal=False, progress=True)
all_uploaded(with_bar_async, 3)
"""

SHOW = """\
# Everything a user would look at: none of it may show a secret.
print(imgkit.load_shops(sb.shops))
print(imgkit.load_shops(sb.shops)["douyin_shop"])
print(with_bar.to_string())
stats = sb.stats()
assert stats["total"]["stored"] == 12, stats["total"]
assert stats["total"]["duplicates"] == 0, stats["total"]
with_bar_async
"""

STOP = """\
sb.stop()
shutil.rmtree(folder, ignore_errors=True)
"""


def execute(nb: Any, cwd: Path, kernel_name: str) -> Any:
    client = nbclient.NotebookClient(
        nb,
        timeout=120,
        kernel_name=kernel_name,
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute()
    return nb


def output_texts(nb: Any) -> list[tuple[int, str]]:
    """Every output of every code cell as text: (cell number, text)."""
    found = []
    for number, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            kind = output["output_type"]
            if kind == "stream":
                found.append((number, output["text"]))
            elif kind == "error":
                found.append((number, "\n".join([output["ename"], *output["traceback"]])))
            else:  # execute_result, display_data: every representation, widgets included
                found.append((number, json.dumps(output.get("data", {}), ensure_ascii=False)))
    return found


def secrets() -> set[str]:
    return set(shop_secrets(sandbox_shops("http://127.0.0.1:1")))


def assert_clean(nb: Any) -> None:
    errors = [
        (number, output)
        for number, cell in enumerate(nb.cells)
        for output in cell.get("outputs", [])
        if output["output_type"] == "error"
    ]
    assert not errors, errors
    texts = output_texts(nb)
    # A worker thread's exception is printed, not raised: look for it in the streams too.
    tracebacks = [(n, t) for n, t in texts if "Traceback" in t or "Exception in thread" in t]
    assert not tracebacks, tracebacks
    assert len(secrets()) >= 5
    for secret in secrets():
        leaks = [n for n, t in texts if secret in t]
        assert not leaks, f"secret {secret[:4]}… shown by cells {leaks}"


def test_upload_in_a_real_kernel(python3_kernel: str, tmp_path: Path) -> None:
    v4 = nbformat.v4
    sources = [SETUP, SYNC, ASYNC, BAR_SYNC, BAR_ASYNC, SHOW, STOP]
    nb = v4.new_notebook(cells=[v4.new_markdown_cell("# imgkit in a kernel")])
    nb.cells += [v4.new_code_cell(source) for source in sources]
    nb.metadata["kernelspec"] = {
        "name": python3_kernel,
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.validate(nb)

    execute(nb, tmp_path, python3_kernel)

    assert_clean(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code)
    # The results frames were displayed (the cells ran to their last line).
    assert "text/html" in code[1].outputs[-1]["data"]
    assert "uploaded" in code[2].outputs[-1]["data"]["text/plain"]
    widget = "application/vnd.jupyter.widget-view+json"  # tqdm.auto chose the notebook bar
    assert any(widget in output.get("data", {}) for output in code[3].outputs), code[3].outputs
    assert any(widget in output.get("data", {}) for output in code[4].outputs), code[4].outputs
    # Under the bars, the one-line summary of the run (in both languages by default).
    for number in (3, 4):
        # The kernel may send one print in several stream messages: their text, joined.
        printed = "".join(o["text"] for o in code[number].outputs if o["output_type"] == "stream")
        assert "3 rows / 行: 3 uploaded (已上传)\n" in printed, code[number].outputs
    assert not [o for o in code[1].outputs if o["output_type"] == "stream"]  # progress=False
    shown = "\n".join(t for n, t in output_texts(nb) if n == 6)
    assert "Secret('***')" in shown
    assert "douyin_shop" in shown
