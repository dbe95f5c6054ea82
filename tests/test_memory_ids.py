"""A run with a journal keeps no set of the image ids it stored (it grew with the batch):
the journal, which confirms each of them, answers "is this id another row's?"."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import imgkit
from imgkit.engine.journal import Journal
from imgkit.engine.pacing import PacerPool
from imgkit.engine.plan import Row, plan
from imgkit.engine.retry import RetryPolicy
from imgkit.engine.run import Claimed, Run, place, record_outcome, shop_rates
from imgkit.engine.runner import _record
from imgkit.intake.batch import read_batch
from imgkit.intake.shops import load_shops
from imgkit.platforms.outcomes import Outcome

SAMPLE = Path(imgkit.sample_data())


def _rows(journal: Journal | None) -> list[Row]:
    shops = load_shops(SAMPLE / "shops.toml")
    checked = imgkit.validate(read_batch(SAMPLE / "batch.csv"), shops=shops)
    rows, _ = plan(checked, shops, journal)
    return rows


def _run(journal: Journal | None) -> Run:
    pacers = PacerPool(shop_rates({}))
    return Run(cast(Any, None), pacers, RetryPolicy(), journal, 0.0)


def test_with_a_journal_the_ids_stored_are_asked_of_it(tmp_path: Path) -> None:
    with Journal(tmp_path / "journal.sqlite") as journal:
        first, second = _rows(journal)[:2]
        run = _run(journal)
        journal.begin(first.key, _record(first))
        record_outcome(run, first, Outcome(ok=True, url="http://img/7.jpg", image_id="7"))
        # Held for a group commit, not yet committed: still read back.
        journal.begin(second.key, _record(second), commit=False)
        journal.confirm(second.key, "http://img/8.jpg", "8", commit=False)
        assert run.stored_ids == {}
        assert "7" in Claimed(run, place(first))
        assert "8" in Claimed(run, place(second))
        assert "9" not in Claimed(run, place(first))


def test_without_a_journal_the_run_keeps_them() -> None:
    row = _rows(None)[0]
    run = _run(None)
    record_outcome(run, row, Outcome(ok=True, url="http://img/7.jpg", image_id="7"))
    assert run.stored_ids == {place(row): {"7"}}
    assert "7" in Claimed(run, place(row))
    assert "8" not in Claimed(run, place(row))
