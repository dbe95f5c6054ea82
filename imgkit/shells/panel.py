"""``imgkit.panel()``: validate, fit, upload and fix a batch by clicking, in a notebook.

A thin shell of ipywidgets over :class:`imgkit.shells.panel_work.PanelWork`: each button
makes one of its calls in the background (:class:`~imgkit.shells.panel_work.Background`),
so the kernel stays free, and shows the answer in the panel; an error is shown in plain
words, never as a traceback.  The sections, top to bottom: the source (a batch given, or
a CSV / XLSX chosen in the browser, with its sheet; the shops file or the embedded
sandbox; the language), the actions (Validate, Fit, Dry run, Upload, Cancel), a status
line, and what each action found: the validation summary and problem rows, fit's
before → after, the live counts per platform, the results (filtered, sorted, a row's
picture), Retry failed / Refresh audits / Export to Excel, and the journal's history.

Each widget a test or a browser looks for carries a CSS class ``imgkit-…``
(:data:`CLASSES`).

Example
-------
>>> import imgkit
>>> with imgkit.Sandbox() as sb:
...     shown = panel(imgkit.sample_data() / "batch.csv", shops=sb.shops, lang="en",
...                   journal=False)
...     print(shown.click("validate").wait(60))
...     shown.close()
imgkit panel: 15 rows: 15 ok, 0 with warnings, 0 with errors
"""

from __future__ import annotations

import base64
import html
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import pandas as pd

from imgkit.aliases import ShopsSource
from imgkit.report.results import summary_line
from imgkit.report.thumbnail import thumbnail_png
from imgkit.report.view import view
from imgkit.shells import panel_tables as tables
from imgkit.shells.panel_widgets import ACTIONS, CLASSES, PanelWidgets
from imgkit.shells.panel_work import Background, JournalChoice, PanelWork, plain_error
from imgkit.words import DEFAULT_LANG, Lang, say

log = logging.getLogger(__name__)
PREVIEW_PX = 160
COUNTS_EVERY_S = 0.25  # the live counts are redrawn at most this often


class Panel(PanelWidgets):
    """The widgets (:class:`PanelWidgets`), bound to a :class:`PanelWork`'s calls;
    ``panel.widget`` is the whole panel."""

    def __init__(self, work: PanelWork) -> None:
        super().__init__(work)
        self.runner = Background()
        # Set while no action runs: an action ends when its answer is shown, a moment
        # after its call returns (wait() waits for this, not only for the call).
        self._idle = threading.Event()
        self._idle.set()
        self._rates = tables.Rates()
        self._drawn_at = 0.0
        self._wire()

    # --- wiring -------------------------------------------------------------------------

    def _wire(self) -> None:
        on: dict[str, Callable[[], Any]] = {
            "validate": lambda: self._sync("validate", self._validate),
            "fit": lambda: self._sync("fit", self._fit),
            "dry_run": lambda: self._upload(dry_run=True),
            "upload": lambda: self._upload(dry_run=False),
            "cancel": self.cancel,
            "retry": lambda: self._sync("retry", self._after_results(self.work.retry_failed)),
            "refresh": lambda: self._sync("refresh", self._after_results(self.work.refresh)),
            "export": lambda: self._sync("export", self._export),
        }
        for name, action in on.items():
            self.buttons[name].on_click(lambda _button, act=action: act())
        self.history_button.on_click(lambda _button: self._sync("history", self._history))
        self.source.observe(lambda _change: self._chosen(), names="value")
        self.sheet.observe(lambda _change: self._chosen(), names="value")
        self.lang.observe(self._language, names="value")
        for control in (self.status_filter, self.search, self.sort_by):
            control.observe(lambda _change: self._draw_results(), names="value")
        self.row_pick.observe(lambda _change: self._draw_preview(), names="value")

    # --- running ------------------------------------------------------------------------

    def click(self, name: str) -> Panel:
        """Press the button ``name`` (one of :data:`ACTIONS`), as a person would."""
        self.buttons[name].click()
        return self

    def wait(self, timeout: float | None = None) -> Panel:
        """Block until the running action has ended and its answer is shown (for scripts
        and tests)."""
        self._idle.wait(timeout)
        return self

    def cancel(self) -> None:
        """Stop the upload as Ctrl-C would: no new sends; rows on the wire are answered or
        reported in doubt."""
        if self.runner.cancel():
            self._say("正在取消…", "cancelling…")

    def close(self) -> None:
        """Stop the background thread and the embedded sandbox; close the widgets."""
        self.runner.cancel()
        self.runner.wait(30)
        self.runner.stop()
        self.work.close()
        self.widget.close()

    def _busy(self, busy: bool) -> None:
        for name, button in self.buttons.items():
            button.disabled = busy if name != "cancel" else not busy

    def _start(self, name: str, future: Future[Any], done: Callable[[Any], None]) -> None:
        self._idle.clear()
        self._busy(True)

        def finished(ended: Future[Any]) -> None:
            try:
                if ended.cancelled():
                    self._say("已取消", "cancelled")
                    return
                error = ended.exception()
                if error is not None:
                    log.debug("panel %s failed", name, exc_info=error)
                    self.status.value = html.escape(plain_error(error, self.work.lang))
                    return
                done(ended.result())
            except Exception as error:  # showing an answer must not end the panel
                log.debug("panel %s: showing the answer failed", name, exc_info=error)
                self.status.value = html.escape(plain_error(error, self.work.lang))
            finally:
                self._busy(False)
                self._idle.set()

        future.add_done_callback(finished)

    def _sync(self, name: str, call: Callable[[], Callable[[], None]]) -> None:
        """Run ``call`` in the background; what it returns is run to show its answer."""
        if self.runner.busy:
            return
        self._apply_source()
        self._say("正在处理…", "working…")
        self._start(name, self.runner.submit_sync(call), lambda show: show())

    def _upload(self, *, dry_run: bool) -> None:
        if self.runner.busy:
            return
        self._apply_source()
        self._rates = tables.Rates()
        if dry_run:
            self._say("试运行…", "dry run…")
        else:
            self._say("正在上传…", "uploading…")
        future = self.runner.submit(
            lambda: self.work.upload(dry_run=dry_run, on_counts=self._live_counts)
        )
        self._start("upload", future, lambda results: self._show_results())

    # --- the actions' answers -----------------------------------------------------------

    def _apply_source(self) -> None:
        self.work.use_sandbox = bool(self.sandbox.value)
        path = self.shops_path.value.strip()
        if not self.work.use_sandbox and path:
            self.work.shops_source = path

    def _validate(self) -> Callable[[], None]:
        checked = self.work.validate()

        def show() -> None:
            self.validation.value = tables.validation_html(checked, self.work.lang)
            self.status.value = html.escape(_first_line(self.validation.value))

        return show

    def _fit(self) -> Callable[[], None]:
        fitted = self.work.fit()
        before = self.work.before_fit
        checked = self.work.validate()  # what the fitted batch is now

        def show() -> None:
            assert before is not None
            self.fitting.value = tables.fit_html(before, fitted, self.work.lang)
            self.validation.value = tables.validation_html(checked, self.work.lang)
            self.status.value = html.escape(_first_line(self.validation.value))

        return show

    def _after_results(self, call: Callable[[], pd.DataFrame]) -> Callable[[], Callable[[], None]]:
        def run() -> Callable[[], None]:
            call()
            return self._show_results

        return run

    def _export(self) -> Callable[[], None]:
        path = self.work.export(self.export_path.value.strip() or "imgkit-results.xlsx")
        data = base64.b64encode(path.read_bytes()).decode("ascii")

        def show() -> None:
            words = html.escape(say("下载", "download", self.work.lang))
            kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            self.download.value = (
                f'<a download="{html.escape(path.name)}" href="data:{kind};base64,{data}">'
                f"{words} {html.escape(path.name)}</a> · <code>{html.escape(str(path))}</code>"
            )
            self._say(f"已写入 {path}", f"written: {path}")

        return show

    def _history(self) -> Callable[[], None]:
        recent = self.work.recent()
        columns = [
            c for c in ("updated", "status", "platform", "shop", "target", "url") if c in recent
        ]

        def show() -> None:
            if recent.empty:
                self.history.value = html.escape(
                    say("日志中没有记录", "the journal is empty", self.work.lang)
                )
            else:
                self.history.value = tables.table(recent[columns])

        return show

    def _live_counts(self, work: PanelWork) -> None:
        self._rates.add(work.shop_done)
        counts = work.counts
        now = time.monotonic()
        if now - self._drawn_at < COUNTS_EVERY_S:
            return
        self._drawn_at = now
        self.counts.value = tables.counts_html(counts, self._rates, self.work.lang)

    def _show_results(self) -> None:
        results = self.work.results
        if results is None:
            return
        self.counts.value = tables.counts_html(self.work.counts, self._rates, self.work.lang)
        self.status.value = html.escape(summary_line(results, self.work.lang))
        self._draw_results()

    def _draw_results(self) -> None:
        results = self.work.results
        if results is None:
            return
        shown = tables.filtered(
            results, self.status_filter.value, self.search.value.strip(), self.sort_by.value
        )
        self.results.value = view(shown, lang=self.work.lang, limit=500)._repr_html_()
        self.row_pick.options = [
            (str(r), i) for r, i in zip(shown["row"], shown.index, strict=True)
        ]

    def _draw_preview(self) -> None:
        results, picked = self.work.results, self.row_pick.value
        if results is None or picked is None or picked not in results.index:
            self.preview.value = ""
            return
        row = results.loc[picked]
        png = thumbnail_png(str(row.get("file", "")), PREVIEW_PX)
        url = str(row.get("url", "") or "")
        link = (
            f'<a href="{html.escape(url)}" target="_blank">{html.escape(url)}</a>'
            if url.startswith("http")
            else ""
        )
        picture = (
            f'<img src="data:image/png;base64,{base64.b64encode(png).decode()}">' if png else ""
        )
        self.preview.value = picture + "<br>" + link

    # --- the source ---------------------------------------------------------------------

    def _chosen(self) -> None:
        """A file was chosen in the browser (or its sheet changed): read it."""
        files = _uploaded(self.source.value)
        if not files:
            return
        name, content = files[0]
        try:
            if name.lower().endswith((".xlsx", ".xlsm")):
                self._offer_sheets(content)
            sheet = self.sheet.value if self.sheet.value is not None else 0
            self.work.load_upload(name, content, sheet=sheet)
            self.status.value = html.escape(self.work.describe_source())
        except Exception as error:  # a malformed sheet is a message, not a traceback
            self.status.value = html.escape(plain_error(error, self.work.lang))

    def _offer_sheets(self, content: bytes) -> None:
        import io

        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(content), read_only=True)
        try:
            names = book.sheetnames
        finally:
            book.close()
        if list(self.sheet.options) != names:
            self.sheet.options = names  # the observer reads the file again with the first

    def _language(self, change: dict[str, Any]) -> None:
        # Messages are written when validation runs: validate again in the new language.
        # A results frame keeps the words of its run; its status words and summary change.
        self.work.lang = change["new"]
        self._show_results()
        if self.work.validated is not None:
            self._sync("validate", self._validate)

    def _say(self, zh: str, en: str) -> None:
        self.status.value = html.escape(say(zh, en, self.work.lang))

    def __repr__(self) -> str:  # outside a notebook: the status line
        return f"imgkit panel: {html.unescape(self.status.value)}"

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def _first_line(markup: str) -> str:
    """The text of the first ``<b>`` of ``markup`` (the summary line)."""
    start = markup.find("<b>")
    end = markup.find("</b>", start)
    return html.unescape(markup[start + 3 : end]) if start >= 0 and end > start else ""


def _uploaded(value: Any) -> list[tuple[str, bytes]]:
    """(name, content) of each file of a FileUpload's value (ipywidgets 7 and 8 shapes)."""
    if isinstance(value, dict):  # ipywidgets 7: {name: {"content": bytes, ...}}
        return [(str(n), bytes(f["content"])) for n, f in value.items()]
    return [(str(f["name"]), bytes(f["content"])) for f in value or ()]


def panel(
    batch: pd.DataFrame | str | os.PathLike[str] | None = None,
    shops: ShopsSource = None,
    *,
    lang: Lang = DEFAULT_LANG,
    journal: JournalChoice = None,
    sandbox: bool | None = None,
) -> Panel:
    """A panel to validate, fit, upload and fix ``batch`` by clicking (see the module).

    Parameters
    ----------
    batch
        A DataFrame or a CSV / XLSX path; None: chosen in the panel.
    shops
        A shops file or mapping; None (and no ``$IMGKIT_SHOPS``): the embedded sandbox.
    lang
        ``"zh"``, ``"en"`` or ``"both"`` (a toggle in the panel changes it).
    journal, sandbox
        As :class:`imgkit.shells.panel_work.PanelWork` takes them.

    Returns
    -------
    Panel
        Shown by a notebook when it is a cell's last value.

    Examples
    --------
    >>> shown = panel(lang="en")
    >>> shown.status.value
    'no batch yet'
    >>> shown.close()
    """
    return Panel(PanelWork(batch, shops, lang=lang, journal=journal, sandbox=sandbox))


__all__ = ["ACTIONS", "CLASSES", "Panel", "panel"]
