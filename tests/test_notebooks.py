"""Every notebook in ``notebooks/`` runs top to bottom in a real Jupyter kernel, and is
committed without outputs.

The kernel is the ``python3`` kernelspec pinned to this interpreter (the ``python3_kernel``
fixture of ``tests/conftest.py``); the notebooks' journal, should one slip, lands in the
test's own ``IMGKIT_HOME``.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from test_jupyter import assert_clean, execute

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_the_examples_are_there() -> None:
    names = {path.name for path in NOTEBOOKS}
    assert {
        "quickstart.ipynb",
        "excel_roundtrip.ipynb",
        "bulk_fix.ipynb",
        "sandbox_tour.ipynb",
    } <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_committed_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code
    for number, cell in enumerate(code):
        assert not cell.get("outputs"), f"{path.name} code cell {number}: outputs committed"
        assert cell.get("execution_count") is None, f"{path.name} code cell {number}: count"
    assert any(cell.cell_type == "markdown" for cell in nb.cells)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_runs_in_a_real_kernel(path: Path, python3_kernel: str) -> None:
    nb = execute(nbformat.read(path, as_version=4), path.parent, python3_kernel)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code)
    assert_clean(nb)  # no error, no traceback, no shop secret in any output
