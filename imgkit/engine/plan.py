"""Planning a run: which validated rows to send, and what the journal already knows.

:func:`plan` turns each valid row into a :class:`Row` (its shop, adapter, destination and
journal key) and asks the journal about all of them at once: a row confirmed stored at its
destination is ``skipped``; one under audit is polled instead of sent; one another live
run is sending is waited for; one an earlier run left unanswered is in doubt (settled by a
look-up before anything is sent).  Rows of a retry whose platform refused them for good
and that did not change since are not sent again unless forced.

Example
-------
>>> row_options({"title": " 杯子 ", "position": "", "note": "ignored"})
{'title': '杯子'}
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from imgkit.engine.destination import Destination, account_of, destination_options, endpoint_of
from imgkit.engine.journal import Journal, State
from imgkit.engine.migrate import adopt_legacy
from imgkit.errors import Category
from imgkit.intake.cells import cell_text
from imgkit.intake.headers import OPTIONAL_COLUMNS
from imgkit.intake.shops import Shop
from imgkit.platforms import get_adapter
from imgkit.platforms.base import Adapter
from imgkit.report.results import RowResult
from imgkit.words import Words

# The optional batch columns, all of which the adapters may read (derived from the adapters'
# declarations: imgkit.intake.options).
OPTION_COLUMNS = OPTIONAL_COLUMNS
# Refusals that only a change to the row itself can cure: a retry sends such a row again
# only once it changed (a new target or file is new work) or when forced.
ROW_REFUSALS = frozenset(
    {
        Category.INVALID_INPUT,
        Category.TOO_LARGE,
        Category.BAD_FORMAT,
        Category.BAD_DIMENSIONS,
        Category.NOT_FOUND,
        Category.AUDIT_REJECTED,
    }
)
SKIPPED = Words("已上传过(见上传记录)", "uploaded before (see the journal: imgkit.history())")
REFUSED_BEFORE = Words(
    "平台此前已拒绝该行且该行未修改,未重发;修改后重试或使用 force=True",
    "the platform refused this row before and it has not changed: not sent again (fix it, "
    "or pass force=True)",
)


@dataclass(slots=True)  # one per row: no per-instance dict
class Row:
    """One row to send."""

    index: Hashable
    shop: Shop
    adapter: Adapter
    file: str
    target: str
    options: dict[str, str]
    sha256: str
    key: str
    dest: Destination
    pending_id: str = ""
    # When an earlier run sent this row without learning the outcome (epoch seconds).
    in_doubt_since: float = 0.0
    # A look-up proved its unanswered upload stored nothing: the next send is safe.
    cleared: bool = False
    # Its file's size when validated (0: unknown).
    size: int = 0
    # Another live run is sending it: wait for that run's outcome instead.
    busy: bool = False
    # The user asked for it to be sent even though the journal would not.
    force: bool = False
    # Its request has left (or is leaving): an interrupt now leaves it in doubt.
    on_wire: bool = False
    # Forced over a confirmed upload: its (url, image_id), kept if the re-send fails.
    stored_before: tuple[str, str] | None = None
    # When its request last left (epoch seconds): a look-up's "not there" is believed only
    # once the platform has had time to store it (engine.absent_after_s).
    sent_at: float = 0.0

    @property
    def shop_name(self) -> str:
        """The shop's name in the shops file (imgkit 0.1's journals keyed on it)."""
        return self.shop.name


_OPTION_SETS = 4096
# The columns of a validated batch that planning reads.
PLAN_COLUMNS = ("ok", "issues", "shop", "target", "file", "sha256", "bytes", *OPTION_COLUMNS)


def row_options(record: Mapping[Hashable, Any]) -> dict[str, str]:
    """The optional columns of one batch row that are set, as stripped text.

    The row is a validated one: its options already hold their canonical text
    (:func:`imgkit.validate` normalized them), which is read as it is.

    >>> row_options({"position": "2", "title": "", "note": "x"})
    {'position': '2'}
    """
    values = {name: cell_text(record.get(name)) for name in OPTION_COLUMNS}
    return {name: value for name, value in values.items() if value and value != "nan"}


def _size(value: Any) -> int:
    """A validated byte count as an int (0 when missing: a URL, say)."""
    try:
        return int(value) if value == value else 0  # NaN != NaN
    except (TypeError, ValueError):
        return 0


@dataclass(slots=True)
class _Memo:
    """What planning computes once per shop and option set, kept across chunks."""

    fingerprint_key: bytes
    places: dict[str, tuple[str, str]] = field(default_factory=dict)  # shop -> place
    options: dict[tuple[tuple[str, Any], ...], tuple[tuple[str, str], ...]] = field(
        default_factory=dict
    )


def make_rows(
    checked: pd.DataFrame,
    shops: Mapping[str, Shop],
    fingerprint_key: bytes,
    *,
    memo: _Memo | None = None,
) -> tuple[list[Row], dict[Hashable, RowResult]]:
    """The valid rows of ``checked`` as :class:`Row` s, and the invalid ones' results."""
    rows: list[Row] = []
    decided: dict[Hashable, RowResult] = {}
    memo = memo if memo is not None else _Memo(fingerprint_key)
    # Only the columns used here: a dict per row of all ~30 is the peak of a long batch.
    columns = [name for name in PLAN_COLUMNS if name in checked.columns]
    records = checked[columns].to_dict("records")
    places, option_places = memo.places, memo.options
    for index, record in zip(checked.index, records, strict=True):
        if not record["ok"]:
            decided[index] = RowResult(
                "invalid", category=str(Category.INVALID_INPUT), code=str(record["issues"])
            )
            continue
        shop = shops[str(record["shop"]).strip()]
        if shop.name not in places:
            places[shop.name] = (endpoint_of(shop), account_of(shop, fingerprint_key))
        endpoint, account = places[shop.name]
        options = row_options(record)
        target = str(record["target"]).strip()
        # Rows of a batch share a handful of option sets: normalize each set once (up to
        # a bound: titles may make every row's set its own).
        seen = tuple(options.items())
        place = option_places.get(seen)
        if place is None:
            place = tuple(sorted(destination_options(options).items()))
            if len(option_places) < _OPTION_SETS:
                option_places[seen] = place
        dest = Destination(shop.platform, endpoint, account, target, place)
        sha256 = str(record["sha256"])
        rows.append(
            Row(
                index,
                shop,
                get_adapter(shop.platform),
                str(record["file"]),
                target,
                options,
                sha256,
                dest.key(sha256),
                dest,
                size=_size(record.get("bytes")),
            )
        )
    return rows, decided


def decide(
    rows: list[Row],
    journal: Journal | None,
    *,
    force: frozenset[Hashable] = frozenset(),
    retry: bool = False,
    legacy: tuple[Any, ...] = (),
) -> tuple[list[Row], dict[Hashable, RowResult]]:
    """Which of ``rows`` to send, and the results of the others (skipped, refused before),
    from one journal look-up for them all.

    ``force``, ``retry`` and ``legacy``: as for :func:`plan`.

    >>> decide([], None)
    ([], {})
    """
    decided: dict[Hashable, RowResult] = {}
    for row in rows:
        row.force = row.index in force
    if journal is None:
        return rows, decided
    entries = journal.lookup_many([row.key for row in rows])
    missing = [row for row in rows if row.key not in entries]
    if missing and legacy and adopt_legacy(journal, missing, list(legacy)):
        entries.update(journal.lookup_many([row.key for row in missing]))
    to_send = []
    for row in rows:
        entry = entries.get(row.key)
        if entry is None:
            to_send.append(row)
            continue
        if entry.state is State.SENDING and journal.run_alive(entry.owner):
            row.busy = True  # even when forced: two runs must not send it at once
        elif row.force:
            row.in_doubt_since = entry.updated if entry.state is State.SENDING else 0.0
            if entry.state is State.DONE:
                row.stored_before = (entry.url, entry.image_id)
        elif entry.state is State.DONE:
            decided[row.index] = RowResult("skipped", entry.url, entry.image_id, message=SKIPPED)
            continue
        elif entry.state is State.PENDING:
            row.pending_id = entry.pending_id
        elif entry.state is State.SENDING:
            row.in_doubt_since = entry.updated
        elif retry and not entry.retryable and entry.category in ROW_REFUSALS:
            words = REFUSED_BEFORE._replace(detail=entry.message)  # what it said then
            decided[row.index] = RowResult(
                "failed", category=entry.category, code=entry.code, message=words
            )
            continue
        to_send.append(row)
    return to_send, decided


def plan(
    checked: pd.DataFrame,
    shops: Mapping[str, Shop],
    journal: Journal | None,
    *,
    force: frozenset[Hashable] = frozenset(),
    retry: bool = False,
    legacy: tuple[Any, ...] = (),
) -> tuple[list[Row], dict[Hashable, RowResult]]:
    """Rows to send, and the rows already decided (invalid, done, refused before), all at
    once (a run plans lazily instead: :class:`imgkit.engine.plan_window.Planner`).

    ``force``: index labels of rows to send whatever the journal says (but never while
    another run is sending them).  ``retry``: a retry of failed rows, so a row the platform
    refused for good that has not changed is not sent again.  ``legacy``: imgkit 0.1
    journals to adopt entries from (:func:`imgkit.engine.migrate.legacy_sources`).

    >>> import pandas as pd
    >>> plan(pd.DataFrame({"ok": [False], "issues": ["no file"]}), {}, None)[1][0].status
    'invalid'
    """
    key = journal.fingerprint_key if journal is not None else b""
    rows, decided = make_rows(checked, shops, key)
    to_send, known = decide(rows, journal, force=force, retry=retry, legacy=legacy)
    decided.update(known)
    return to_send, decided
