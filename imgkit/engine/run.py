"""The state of one upload run, and the two ways a row's fate is written down.

:class:`Run` is what every exchange of the run goes through (the client, the pacers, the
tokens, the secrets to scrub: :class:`imgkit.engine.exchange.Means`) plus what the run has
learnt (results, stopped shops, stored image ids).  :func:`record_outcome` commits an
outcome to the journal; :func:`finish` gives a row its result.

Example
-------
>>> shop_rates({})("taobao_picture", "any shop")  # vv-tool's documented 10/s, 2% under
9.8
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, MutableMapping
from dataclasses import dataclass, field

from imgkit.engine.group_commit import GroupCommit
from imgkit.engine.journal import Journal
from imgkit.engine.pacing import UNKNOWN_RATE, PacerPool
from imgkit.engine.plan import Row
from imgkit.engine.progress import Progress
from imgkit.engine.retry import RetryPolicy
from imgkit.engine.tokens import RunTokens
from imgkit.errors import Category
from imgkit.intake.shops import Shop
from imgkit.net.transport import Sender
from imgkit.platforms import get_adapter
from imgkit.platforms.base import Outcome
from imgkit.report.results import RowResult
from imgkit.scrub import Scrubber, clip
from imgkit.words import DEFAULT_LANG, Lang, render

# Pace this much under a limit: requests spaced exactly at the limit arrive with network
# jitter, and a platform counting a one-second window would then see one too many.
RATE_MARGIN = 0.98
# With no documented or configured limit, the concurrency cap is what holds a run back.
UNLIMITED_RATE = UNKNOWN_RATE  # nobody knows the limit: pacing learns it


@dataclass
class Run:
    """The state of one upload run."""

    client: Sender
    pacers: PacerPool
    policy: RetryPolicy
    journal: Journal | None
    audit_wait_s: float
    # By row: a dict, or a long run's compact imgkit.report.results.ResultTable.
    results: MutableMapping[Hashable, RowResult] = field(default_factory=dict)
    stopped: dict[str, RowResult] = field(default_factory=dict)
    tokens: RunTokens = field(default_factory=RunTokens)
    stopping: bool = False
    progress: Progress | None = None
    # Image ids this run stored, per destination (platform, endpoint, account, target):
    # never another row's look-up.  Kept only without a journal (:func:`remember_id`).
    stored_ids: dict[tuple[str, str, str, str], set[str]] = field(default_factory=dict)
    # This run's id in the journal (its ``sending`` entries name it).
    run_id: str = ""
    # The most one row may take, every attempt, look-up and poll included (None: no limit).
    row_deadline_s: float | None = None
    # The run's shop secrets (and tokens it fetches): scrubbed from every text that leaves
    # for the results or the journal, whatever a server echoed back.
    scrubber: Scrubber = field(default_factory=Scrubber)
    # The language rows' messages are written in.
    lang: Lang = DEFAULT_LANG
    # The journal's group commits (None: every write commits on its own).
    commits: GroupCommit | None = None


def shop_rates(shops: dict[str, Shop]) -> Callable[[str, str], float]:
    """``rate_for(platform, shop)`` for the pacers: the shop's ``rate_per_s``, else the
    platform's documented rate, both :data:`RATE_MARGIN` under; else effectively unlimited.

    >>> shop_rates({})("taobao_picture", "any shop")
    9.8
    """

    def rate_for(platform: str, credential: str) -> float:
        shop = shops.get(credential)
        if shop is not None and shop.rate_per_s:
            return shop.rate_per_s * RATE_MARGIN
        documented = get_adapter(platform).limits.rate_per_s
        return documented * RATE_MARGIN if documented else UNLIMITED_RATE

    return rate_for


def place(row: Row) -> tuple[str, str, str, str]:
    """``row``'s destination as the key of :attr:`Run.stored_ids`."""
    dest = row.dest
    return dest.platform, dest.endpoint, dest.account, dest.target


def remember_id(run: Run, row: Row, image_id: str) -> None:
    """``image_id`` is stored for ``row``: no other row's look-up may take it for its own.

    Without a journal the run keeps it in :attr:`Run.stored_ids`; with one it keeps
    nothing, because the journal already holds every id confirmed at the place (this
    run's confirmations included, read before they are committed) and :class:`Claimed`
    asks it: a set of every id would grow with the batch (about 180 bytes a row).
    """
    if run.journal is None:
        run.stored_ids.setdefault(place(row), set()).add(image_id)


@dataclass(frozen=True)
class Claimed:
    """The image ids already recorded at one place, by this run or in the journal.

    Asked one id at a time (``in``), so a look-up costs an index probe per candidate, not
    a read of every id the target holds (a picture-space category of 100,000 images).
    """

    run: Run
    where: tuple[str, str, str, str]

    def __contains__(self, image_id: object) -> bool:
        if not isinstance(image_id, str):
            return False
        if image_id in self.run.stored_ids.get(self.where, ()):
            return True
        journal = self.run.journal
        return journal is not None and journal.holds_image(*self.where, image_id)


def record_outcome(run: Run, row: Row, outcome: Outcome) -> None:
    """Commit ``outcome`` to the journal: done, pending, or failed — but an outcome that
    may have stored the image is left ``sending`` (in doubt), never marked failed."""
    outcome = run.scrubber.outcome(outcome)
    if not outcome.maybe_stored:
        row.on_wire = False  # its fate is known: an interrupt now does not leave it in doubt
    if outcome.ok and outcome.image_id:
        remember_id(run, row, outcome.image_id)  # the journal's confirm below, when it has one
    journal = run.journal
    if journal is None:
        return
    # With group commits an outcome waits for the next commit: lost to a crash, it leaves
    # the row sending (in doubt, settled by a look-up), which costs no second copy.
    now = run.commits is None
    pending = outcome.category is Category.AUDIT_PENDING and bool(outcome.pending_id)
    if outcome.ok:
        # Not the platform's whole answer (hundreds of bytes a row, read by nobody): the
        # results carry its code and message.
        journal.confirm(row.key, outcome.url, outcome.image_id, commit=now)
    elif pending:
        journal.pending(row.key, outcome.pending_id, commit=now)
    elif not outcome.maybe_stored and row.stored_before is not None:
        # A forced re-send of a confirmed upload failed: the first copy is still known.
        journal.confirm(row.key, *row.stored_before, commit=now)
    elif not outcome.maybe_stored:
        category = outcome.category or Category.UNKNOWN
        journal.fail(
            row.key,
            category,
            outcome.code,
            outcome.message,
            retryable=outcome.retryable,
            commit=now,
        )
    if run.commits is not None:
        run.commits.soon(row.key, settled=not pending)


def finish(run: Run, row: Row, result: RowResult) -> None:
    """Give ``row`` its result (scrubbed of every secret of the run)."""
    scrubber = run.scrubber
    message = render(result.message, run.lang)
    texts = (message, result.code, result.url, result.image_id)
    if scrubber.hits(texts):  # rarely: one search tells
        message, result.code, result.url, result.image_id = map(scrubber.text, texts)
    result.message = clip(message)
    run.results[row.index] = result
    if run.commits is not None:
        run.commits.finished(row.key)
    if run.progress is not None:
        run.progress.finished(row.adapter.key, result.status, row.shop.name)
