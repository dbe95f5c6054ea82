"""The secret scan in a notebook: an analyst's session against an echoing server.

A real Jupyter kernel uploads a batch for every platform (and one image with
``upload_one``) through :class:`echo_server.EchoServer`, which answers with the request it
received, with logging at DEBUG to the cell output and the progress bars on; then it shows
the results, the shops and an error, as a user would.  The executed notebook (every output
of every cell, widgets included, and the file it would be saved as) must not hold any
shop secret in any form (:func:`test_secret_scan.leaks`).
"""

from __future__ import annotations

from pathlib import Path

import nbclient
import nbformat
import pandas as pd
import pytest
from conftest import KERNEL
from echo_server import EchoServer
from test_jupyter import execute, output_texts
from test_secret_scan import (
    IMAGE,
    SECRETS,
    TARGETS,
    TOKEN,
    _batch,
    leaks,
    shop_tables,
)

from imgkit.intake.shops_files import write_shops

CELLS = [
    """\
import logging, sys
import imgkit, imgkit.engine.runner, imgkit.engine.settle
from imgkit.engine.retry import RetryPolicy
logging.basicConfig(level=logging.DEBUG, stream=sys.stdout, force=True)
# The echo answers every look-up with itself: one quick try is enough to leave rows in doubt.
imgkit.engine.runner.LOOKUP_SETTLE_S = 0.0
imgkit.engine.settle.LOOKUP_TRIES = 1
""",
    """\
results = imgkit.upload(BATCH, SHOPS, policy=RetryPolicy(max_attempts=1), audit_wait_s=0.0,
                        timeout=10.0, progress=True)
results
""",
    """\
print(results.to_string())
print(imgkit.load_shops(SHOPS))
imgkit.history()
""",
    """\
outcome = imgkit.upload_one("tmall", IMAGE, TMALL_ITEM, shops=SHOPS)
print(outcome)
outcome
""",
    """\
try:
    imgkit.upload_one("no such shop", IMAGE, "0", shops=SHOPS)
except Exception as exc:
    print(repr(exc))
    raise
""",
]


def test_an_executed_notebook_shows_no_secret(python3_kernel: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    batch = tmp_path / "batch.csv"
    _batch().to_csv(batch, index=False)
    with EchoServer("envelope", token=TOKEN) as echo:
        shops = write_shops(tmp_path / "shops.toml", shop_tables(echo.base_url))  # mode 600
        setup = (
            f"import os; os.environ['IMGKIT_HOME'] = {str(home)!r}\n"
            f"BATCH, SHOPS, IMAGE = {str(batch)!r}, {str(shops)!r}, {str(IMAGE)!r}\n"
            f"TMALL_ITEM = {TARGETS['tmall']!r}\n"
        )
        v4 = nbformat.v4
        nb = v4.new_notebook(cells=[v4.new_code_cell(setup + CELLS[0])])
        nb.cells += [v4.new_code_cell(source) for source in CELLS[1:]]
        nb.metadata["kernelspec"] = {
            "name": KERNEL,
            "display_name": "Python 3",
            "language": "python",
        }
        # The last cell raises on purpose: a traceback in the notebook is output too.
        with pytest.raises(nbclient.exceptions.CellExecutionError, match="ShopConfigError"):
            execute(nb, tmp_path, python3_kernel)
        shown = output_texts(nb)
        assert echo.count > len(pd.read_csv(batch)), f"nothing reached the echo: {shown}"
    texts = output_texts(nb)
    assert any("uploaded" in t or "in_doubt" in t or "failed" in t for _, t in texts)
    assert any("ShopConfigError" in t or "no shop" in t for _, t in texts), texts[-1:]
    saved = tmp_path / "session.ipynb"
    nbformat.write(nb, saved)
    problems = [f"cell {n}: {found}" for n, t in texts if (found := leaks(t, SECRETS))]
    assert not problems, problems
    assert not leaks(saved.read_bytes(), SECRETS)
