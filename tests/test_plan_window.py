"""Lazy planning: a run plans each shop's rows a chunk at a time, asking the journal per
chunk, and its scheduler holds a bounded window of planned rows, in the same order as a
plan made all at once."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from pathlib import Path

import pandas as pd
import pytest

import imgkit
from imgkit.engine.journal import Entry, Journal
from imgkit.engine.pacing import PacerPool
from imgkit.engine.plan import Row, plan
from imgkit.engine.plan_window import Planner
from imgkit.engine.run import shop_rates
from imgkit.engine.runner import _record
from imgkit.engine.scheduler import Scheduler
from imgkit.intake.batch import read_batch
from imgkit.intake.shops import Shop, load_shops
from imgkit.report.results import RowResult

SAMPLE = Path(imgkit.sample_data())
COPIES = 40  # the 15 sample rows, 600 rows over the sample's shops


class CountingJournal(Journal):
    """A real journal that counts its look-ups and the keys in each."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.asked: list[int] = []

    def lookup_many(self, keys: Iterable[str]) -> dict[str, Entry]:
        wanted = list(keys)
        self.asked.append(len(wanted))
        return super().lookup_many(wanted)


@pytest.fixture(scope="module")
def checked() -> tuple[pd.DataFrame, dict[str, Shop]]:
    """A validated batch of 600 rows (the sample's, each copy with its own content)."""
    shops = load_shops(SAMPLE / "shops.toml")
    one = imgkit.validate(read_batch(SAMPLE / "batch.csv"), shops=shops)
    assert one["ok"].all()
    frames = []
    for copy in range(COPIES):
        part = one.copy()
        part["sha256"] = [f"{copy:032x}{n:032x}" for n in range(len(part))]
        frames.append(part)
    frame = pd.concat(frames, ignore_index=True)
    frame.loc[[3, 77], "ok"] = False  # two invalid rows: decided at once
    frame.loc[[3, 77], "issues"] = "bad_file"
    return frame, dict(shops)


def _drain(scheduler: Scheduler, held: list[int] | None = None) -> list[Hashable]:
    """Take every row (none released: each worker keeps its row), noting the rows held."""
    order = []
    while (row := scheduler.take()) is not None:
        order.append(row.index)
        if held is not None:
            held.append(scheduler.held)
    return order


def _pacers(shops: dict[str, Shop]) -> PacerPool:
    return PacerPool(shop_rates(shops), clock=lambda: 0.0)  # a still clock: a fixed order


def test_the_scheduler_takes_the_rows_in_the_order_of_a_whole_plan(
    checked: tuple[pd.DataFrame, dict[str, Shop]],
) -> None:
    frame, shops = checked
    whole, decided = plan(frame, shops, None)
    planner = Planner(frame, shops, None, window=16)
    assert planner.invalid == decided  # the invalid rows, decided at once
    assert planner.size == len(whole) == len(frame) - 2
    eager = _drain(Scheduler(whole, _pacers(shops)))
    lazy = _drain(Scheduler(planner, _pacers(shops)))
    assert lazy == eager
    assert sorted(map(int, map(str, lazy))) == [int(str(row.index)) for row in whole]


def test_the_scheduler_holds_a_bounded_window_of_planned_rows(
    checked: tuple[pd.DataFrame, dict[str, Shop]],
) -> None:
    frame, shops = checked
    planner = Planner(frame, shops, None, window=24)
    queues = len(planner.queues())
    assert queues > 1
    held: list[int] = []
    taken = _drain(Scheduler(planner, _pacers(shops)), held)
    assert len(taken) == planner.size
    # Each queue holds at most its chunk: the window, shared by the queues.
    assert planner.chunk == 24 // queues
    assert max(held) <= planner.chunk * queues <= 24
    assert max(held) < planner.size // 10


def test_the_journal_is_asked_per_chunk_and_decided_rows_are_reported(
    checked: tuple[pd.DataFrame, dict[str, Shop]], tmp_path: Path
) -> None:
    frame, shops = checked
    journal = CountingJournal(tmp_path / "journal.sqlite")
    with journal:
        # A first plan's rows of even position are confirmed stored before this run.
        rows, _ = plan(frame, shops, journal)
        stored = {row.index: row for row in rows if int(str(row.index)) % 2 == 0}
        for done in stored.values():
            journal.begin(done.key, _record(done), commit=False)
            journal.confirm(
                done.key, f"http://img/{done.index}.jpg", f"id{done.index}", commit=False
            )
        journal.flush()
        journal.asked.clear()
        planner = Planner(frame, shops, journal, window=30)
        reported: dict[Hashable, tuple[str, RowResult]] = {}

        def decided(index: Hashable, platform: str, result: RowResult) -> None:
            reported[index] = (platform, result)

        scheduler = Scheduler(planner, _pacers(shops), decided)
        taken: list[Row] = []
        while (row := scheduler.take()) is not None:
            taken.append(row)
    assert max(journal.asked) <= planner.chunk  # never the whole batch at once
    assert len(journal.asked) == planner.lookups >= planner.size // planner.chunk
    assert sum(journal.asked) == planner.size  # every valid row asked about once
    assert set(reported) == set(stored)
    for index, (platform, result) in reported.items():
        assert (result.status, result.image_id) == ("skipped", f"id{index}")
        assert platform == stored[index].adapter.key
    assert {row.index for row in taken} == {row.index for row in rows} - set(stored)


def test_a_shop_whose_rows_were_all_stored_gets_no_pacer(
    checked: tuple[pd.DataFrame, dict[str, Shop]], tmp_path: Path
) -> None:
    frame, shops = checked
    with Journal(tmp_path / "journal.sqlite") as journal:
        rows, _ = plan(frame, shops, journal)
        first = rows[0]
        done = [
            r for r in rows if (r.adapter.key, r.shop.name) == (first.adapter.key, first.shop.name)
        ]
        for row in done:
            journal.begin(row.key, _record(row), commit=False)
            journal.confirm(row.key, "http://img/x.jpg", f"id{row.index}", commit=False)
        journal.flush()
        pacers = _pacers(shops)
        taken = _drain(Scheduler(Planner(frame, shops, journal, window=8), pacers))
    assert (first.adapter.key, first.shop.name) not in pacers
    assert len(taken) == len(rows) - len(done)


def test_a_dry_run_plans_every_row_and_holds_none(sandbox: imgkit.Sandbox) -> None:
    batch = read_batch(SAMPLE / "batch.csv")
    out = imgkit.upload(batch, shops=sandbox.shops, journal=False, progress=False, dry_run=True)
    assert out["status"].tolist() == ["planned"] * len(batch)
    assert out.index.equals(batch.index)
