"""What the notebook panel's buttons do, without a widget in sight: each is one library call.

:class:`PanelWork` holds the panel's state (the batch, the shops, the last validation, fit
and results) and makes the calls: :func:`imgkit.validate`, :func:`imgkit.fit`,
:func:`imgkit.upload_async`, :func:`imgkit.retry_failed`, :func:`imgkit.refresh`,
:func:`imgkit.to_excel` and :func:`imgkit.history`.  :class:`Background` runs them on a
private event loop in a worker thread, so the notebook's kernel is never blocked, and
cancels an upload the way Ctrl-C does (rows on the wire are answered or reported in doubt).
A test can make every call directly, with or without the panel.

Example
-------
>>> import imgkit
>>> with imgkit.Sandbox() as sb:
...     work = PanelWork(imgkit.sample_data() / "batch.csv", sb.shops, lang="en", journal=False)
...     checked = work.validate()
>>> int(checked["ok"].sum()), len(checked)
(15, 15)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pandas as pd

from imgkit.aliases import ShopsSource
from imgkit.engine.journal import Journal
from imgkit.errors import ImgkitError
from imgkit.scrub_logs import registry
from imgkit.words import DEFAULT_LANG, Lang, check_lang, say

JournalChoice = Journal | str | os.PathLike[str] | bool | None
Counts = dict[str, dict[str, int]]
# Where files chosen in the browser are kept (a batch needs a path: its sheet names, and the
# folder its relative image paths are read against).
UPLOADS_PREFIX = "imgkit-panel-"


class PanelWork:
    """The panel's state and the library calls behind its buttons.

    Parameters
    ----------
    batch
        A DataFrame or the path of a CSV / XLSX batch (or None: chosen later with
        :meth:`load`).
    shops
        A shops file or mapping; None with ``sandbox=True`` (the default when no shops are
        given and ``$IMGKIT_SHOPS`` is unset): an embedded sandbox, started when first used.
    lang
        The messages' language: ``"zh"``, ``"en"`` or ``"both"``.
    journal
        As :func:`imgkit.upload` takes it (None: the user's journal).

    >>> PanelWork(lang="en").describe_source()
    'no batch yet'
    """

    def __init__(
        self,
        batch: pd.DataFrame | str | os.PathLike[str] | None = None,
        shops: ShopsSource = None,
        *,
        lang: Lang = DEFAULT_LANG,
        journal: JournalChoice = None,
        sandbox: bool | None = None,
    ) -> None:
        self.lang: Lang = check_lang(lang)
        self.journal = journal
        self.shops_source = shops
        if sandbox is None:  # nothing given: rehearse on the sandbox
            sandbox = shops is None and not os.environ.get("IMGKIT_SHOPS")
        self.use_sandbox = sandbox
        self.batch: pd.DataFrame | None = None
        self.source = ""
        self.validated: pd.DataFrame | None = None
        self.fitted: pd.DataFrame | None = None
        self.before_fit: pd.DataFrame | None = None
        self.results: pd.DataFrame | None = None
        self.counts: Counts = {}
        self.shop_done: dict[str, int] = {}
        self.exported: Path | None = None
        self._sandbox: Any = None
        if batch is not None:
            self.load(batch)

    # --- the source ---------------------------------------------------------------------

    def load(
        self, batch: pd.DataFrame | str | os.PathLike[str], sheet: str | int = 0
    ) -> pd.DataFrame:
        """Read ``batch`` (:func:`imgkit.read_batch`); what was done with an earlier one is
        forgotten."""
        from imgkit.intake.batch import read_batch

        frame = read_batch(batch, sheet=sheet)
        self.batch = frame
        self.source = "DataFrame" if isinstance(batch, pd.DataFrame) else str(batch)
        self.validated = self.fitted = self.before_fit = self.results = None
        self.counts = {}
        return frame

    def load_upload(self, name: str, content: bytes, sheet: str | int = 0) -> pd.DataFrame:
        """Keep a file chosen in the browser (``name``, ``content``) and read it."""
        folder = Path(tempfile.mkdtemp(prefix=UPLOADS_PREFIX))
        path = folder / Path(name).name  # a name, never a path from the browser
        path.write_bytes(content)
        return self.load(path, sheet=sheet)

    def describe_source(self) -> str:
        """One line: which batch, how many rows."""
        if self.batch is None:
            return say("尚未选择批次", "no batch yet", self.lang)
        rows = len(self.batch)
        return say(f"{self.source}: {rows} 行", f"{self.source}: {rows} rows", self.lang)

    def shops(self) -> ShopsSource:
        """The shops the calls use: the embedded sandbox's, or those given."""
        if not self.use_sandbox:
            return self.shops_source
        if self._sandbox is None:
            from imgkit.sandbox import Sandbox

            self._sandbox = Sandbox().start()
        shops: ShopsSource = self._sandbox.shops
        return shops

    def close(self) -> None:
        """Stop the embedded sandbox, if one was started."""
        if self._sandbox is not None:
            self._sandbox.stop()
            self._sandbox = None

    def _need_batch(self) -> pd.DataFrame:
        if self.batch is None:
            raise ImgkitError(say("请先选择批次", "choose a batch first", self.lang))
        return self.batch

    def _to_send(self) -> pd.DataFrame:
        """The fitted batch when there is one, else the batch."""
        return self.fitted if self.fitted is not None else self._need_batch()

    # --- the buttons --------------------------------------------------------------------

    def validate(self) -> pd.DataFrame:
        """:func:`imgkit.validate` of the batch (the fitted one after Fit)."""
        from imgkit.intake.validation import validate

        self.validated = validate(self._to_send(), self.shops(), lang=self.lang)
        return self.validated

    def fit(self, out_dir: str | os.PathLike[str] | None = None) -> pd.DataFrame:
        """:func:`imgkit.fit` of the batch; the upload then sends the fitted copies."""
        from imgkit.intake.fitting import fit
        from imgkit.intake.validation import validate

        batch = self._need_batch()
        # What the batch was before, for the before -> after table (not a fitted copy's).
        self.before_fit = validate(batch, self.shops(), lang=self.lang)
        # The panel shows its own status; a tqdm bar would land in the cell's output.
        self.fitted = fit(batch, out_dir, shops=self.shops(), progress=False)
        return self.fitted

    async def upload(
        self, *, dry_run: bool = False, on_counts: Callable[[PanelWork], None] | None = None
    ) -> pd.DataFrame:
        """:func:`imgkit.upload_async` of the batch to send; ``on_counts`` is called when
        the live counts (:attr:`counts`, :attr:`shop_done`) change.  Cancelled
        (:meth:`Background.cancel`), it returns every row as it is."""
        from imgkit.engine.progress import Progress
        from imgkit.engine.uploads import upload_async

        self.shop_done = {}

        def counted(progress: Progress) -> None:
            self.counts, self.shop_done = progress.counts(), progress.shop_done()
            if on_counts is not None:
                on_counts(self)

        self.results = await upload_async(
            self._to_send(), self.shops(), journal=self.journal, progress=counted,
            dry_run=dry_run, lang=self.lang,
        )  # fmt: skip
        return self.results

    def _need_results(self) -> pd.DataFrame:
        if self.results is None:
            raise ImgkitError(say("还没有上传结果", "nothing uploaded yet", self.lang))
        return self.results

    def retry_failed(self) -> pd.DataFrame:
        """:func:`imgkit.retry_failed` of the results."""
        from imgkit.engine.uploads import retry_failed

        self.results = retry_failed(
            self._need_results(), self.shops(), journal=self.journal, progress=False,
            lang=self.lang,
        )  # fmt: skip
        return self.results

    def refresh(self) -> pd.DataFrame:
        """:func:`imgkit.refresh` of the results (the audits still pending)."""
        from imgkit.engine.refresh import refresh

        self.results = refresh(
            self._need_results(), self.shops(), journal=self.journal, lang=self.lang
        )
        return self.results

    def export(self, path: str | os.PathLike[str]) -> Path:
        """:func:`imgkit.to_excel` of the results, in the panel's language."""
        from imgkit.excel import to_excel

        self.exported = to_excel(self._need_results(), path, lang=self.lang)
        return self.exported

    def recent(self, limit: int = 50) -> pd.DataFrame:
        """:func:`imgkit.history`: the journal's newest entries for the batch's shops."""
        from imgkit.report.history import history

        shops = None
        if self.batch is not None and "shop" in self.batch.columns:
            shops = sorted({str(s) for s in self.batch["shop"] if str(s)}) or None
        if self.journal is False:  # a run that keeps no journal has no history
            return history(journal=":memory:")
        journal = None if self.journal is True else self.journal
        return history(shop=shops, journal=journal).head(limit)


def plain_error(error: BaseException, lang: Lang = DEFAULT_LANG) -> str:
    """An exception as one line a person can read, secrets scrubbed: never a traceback.

    >>> plain_error(ValueError("no such sheet: 'x'"), "en")
    "error: no such sheet: 'x'"
    """
    text = str(error) or type(error).__name__
    return f"{say('出错', 'error', lang)}: {registry().text(text)}"


class Background:
    """One job at a time on a private event loop in a daemon thread.

    >>> async def two() -> int:
    ...     return 2
    >>> runner = Background()
    >>> runner.submit(two).result(timeout=5)
    2
    >>> runner.stop()
    """

    def __init__(self) -> None:
        # Started by the first job: a panel never used holds no loop and no thread.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._task: asyncio.Task[Any] | None = None
        self._future: Future[Any] | None = None

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(
                target=self._loop.run_forever, name="imgkit-panel", daemon=True
            )
            self._thread.start()
        return self._loop

    @property
    def busy(self) -> bool:
        """Whether a job is running."""
        return self._future is not None and not self._future.done()

    def submit(self, job: Callable[[], Coroutine[Any, Any, Any]]) -> Future[Any]:
        """Run ``job()`` on the loop; refused while another job runs."""
        if self.busy:
            raise RuntimeError("a job is running")

        async def run() -> Any:
            self._task = asyncio.current_task()
            try:
                return await job()
            finally:
                self._task = None

        self._future = asyncio.run_coroutine_threadsafe(run(), self._running_loop())
        return self._future

    def submit_sync(self, call: Callable[[], Any]) -> Future[Any]:
        """Run the blocking ``call()`` in a worker thread of the loop."""

        async def job() -> Any:
            return await asyncio.to_thread(call)

        return self.submit(job)

    def cancel(self) -> bool:
        """Cancel the running job as Ctrl-C would; False when nothing runs."""
        task, loop = self._task, self._loop
        if task is None or loop is None or not self.busy:
            return False
        loop.call_soon_threadsafe(task.cancel)
        return True

    def wait(self, timeout: float | None = None) -> None:
        """Block until the running job (if any) has ended; its errors are not raised."""
        future = self._future
        if future is not None:
            # The job's error is the panel's to show, not the waiter's.
            with contextlib.suppress(Exception):
                future.result(timeout=timeout)

    def stop(self) -> None:
        """End the loop and its thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        if not thread.is_alive():
            loop.close()


__all__ = ["Background", "PanelWork", "plain_error"]
