"""The soak in small (``bench/soak.py`` with 500 rows): every fault kind the sandbox serves,
two SIGKILLs mid-batch, re-runs until nothing is left to send and a fault-free settling run
— then no image is stored twice and no row is lost.

The harness is the script's own (``bench/soak_lib.py``, figures in ``bench/soak.py``): the
sandbox in a process of its own, each upload run a child process sharing one journal.
"""

from __future__ import annotations

import dataclasses
import signal
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT / "bench"))  # after site-packages: a bench script never shadows a package

import soak  # noqa: E402  (bench/ is not a package: found through sys.path above)
import soak_lib  # noqa: E402

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

ROWS = 500
# Faults five times as likely as in the script, so that each kind is met often enough
# in a small batch (about 1,500 requests): the rarest kinds are met five to ten times.
SCALE = 5.0


@pytest.fixture(scope="module")
def soaked(tmp_path_factory: pytest.TempPathFactory) -> soak.Soak:
    config = soak_lib.Config(
        rows=ROWS, seed=5, kills=2, fault_scale=SCALE, workdir=tmp_path_factory.mktemp("soak")
    )
    return soak.run(config)


def test_every_fault_kind_is_served_and_met(soaked: soak.Soak) -> None:
    fig = soak.figures(soaked)
    assert fig["fault_kinds_unavailable"] == [], "the sandbox refused fault kinds"
    assert set(fig["faults_injected"]) == set(soak_lib.FAULT_KINDS), fig["faults_injected"]
    assert fig["kills"] == 2
    assert [run["killed"] for run in fig["runs"][:2]] == [True, True]
    assert fig["runs"][-1]["faults"] is False


def test_no_duplicate_and_no_row_lost(soaked: soak.Soak) -> None:
    fig = soak.figures(soaked)
    print(soak.report(fig))
    assert fig["duplicates"] == 0, fig
    assert fig["duplicates_sandbox_stats"] == 0, fig
    assert fig["lost"] == 0, fig["lost_reasons"]
    # Every row of this batch is valid and fits: each ends stored, with its bytes served.
    assert set(fig["statuses"]) <= {"uploaded", "skipped"}, fig["statuses"]
    assert fig["verified"] == ROWS
    assert fig["stored_images"] == ROWS
    # The kills left rows in doubt or half-done that later runs had to settle.
    assert sum(run["statuses"].get("skipped", 0) for run in fig["runs"][2:3]) > 0


def test_the_checks_catch_a_lost_row_and_a_wrong_url(soaked: soak.Soak) -> None:
    """The figures are not vacuous: a row left in doubt, a URL serving another row's bytes
    and an extra copy in the store are all counted."""
    final = soaked.final.copy()
    stored = final.index[final["status"].isin(["uploaded", "skipped"])]
    first, second, third = stored[:3]
    final.loc[first, "status"] = "in_doubt"
    final.loc[second, "url"] = final.loc[third, "url"]
    runs = [*soaked.runs[:-1], dataclasses.replace(soaked.runs[-1], results=final)]
    before = soak.duplicates(soaked.store)
    copy = soaked.store[0]
    tampered = dataclasses.replace(soaked, runs=runs, store=[*soaked.store, copy])
    fig = soak.figures(tampered)
    assert fig["lost"] == 2, fig["lost_reasons"]
    assert fig["lost_reasons"] == {
        "not settled (in_doubt)": 1,
        "URL does not serve the row's bytes": 1,
    }
    assert fig["duplicates"] == before + 1
