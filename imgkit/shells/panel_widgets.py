"""The notebook panel's widgets, made and laid out: what :class:`imgkit.shells.panel.Panel`
wires to its actions.

Every widget a test or a browser looks for carries a CSS class ``imgkit-…``
(:data:`CLASSES`); every label is in the panel's language.

Example
-------
>>> from imgkit.shells.panel_work import PanelWork
>>> shown = PanelWidgets(PanelWork(lang="en"))
>>> shown.buttons["upload"].description, CLASSES["upload"] in shown.buttons["upload"]._dom_classes
('Upload', True)
"""

from __future__ import annotations

import html
from pathlib import Path

import ipywidgets as widgets

from imgkit.report.results import STATUS_NAMES
from imgkit.shells.panel_work import PanelWork
from imgkit.words import LANGS, say

ACTIONS = ("validate", "fit", "dry_run", "upload", "cancel", "retry", "refresh", "export")
SECTIONS = ("status", "validation", "fitting", "counts", "results", "history")
CLASSES = {name: "imgkit-" + name.replace("_", "-") for name in (*ACTIONS, *SECTIONS)}
LABELS: dict[str, tuple[str, str]] = {
    "validate": ("校验", "Validate"),
    "fit": ("修正", "Fit"),
    "dry_run": ("试运行", "Dry run"),
    "upload": ("上传", "Upload"),
    "cancel": ("取消", "Cancel"),
    "retry": ("重试失败", "Retry failed"),
    "refresh": ("刷新审核", "Refresh audits"),
    "export": ("导出 Excel", "Export to Excel"),
}
LANG_NAMES = {"zh": "中文", "en": "English", "both": "中文 / English"}


class PanelWidgets:
    """Every widget of the panel, in the language of ``work``; :attr:`widget` is the whole."""

    def __init__(self, work: PanelWork) -> None:
        self.work = work
        lang = work.lang
        self.buttons = {name: self._button(name) for name in ACTIONS}
        self.buttons["cancel"].disabled = True
        self.status = widgets.HTML(work.describe_source())
        self.status.add_class(CLASSES["status"])
        self.source = widgets.FileUpload(
            accept=".csv,.xlsx,.xlsm",
            multiple=False,
            description=say("选择批次文件", "Choose a batch file", lang),
            layout=widgets.Layout(width="auto"),
        )
        self.sheet = widgets.Dropdown(options=[], description=say("工作表", "sheet", lang))
        self.shops_path = widgets.Text(
            value=str(work.shops_source) if isinstance(work.shops_source, (str, Path)) else "",
            placeholder="shops.toml",
            description=say("店铺文件", "shops file", lang),
        )
        self.sandbox = widgets.Checkbox(
            value=work.use_sandbox, description=say("内置沙箱", "embedded sandbox", lang)
        )
        self.lang = widgets.ToggleButtons(options=[(LANG_NAMES[k], k) for k in LANGS], value=lang)
        self.validation = widgets.HTML()
        self.fitting = widgets.HTML()
        self.counts = widgets.HTML()
        self.results = widgets.HTML()
        statuses = [(say("全部", "all", lang), "")]
        statuses += [(STATUS_NAMES[s].render(lang), s) for s in STATUS_NAMES]
        self.status_filter = widgets.Dropdown(
            options=statuses, description=say("状态", "status", lang)
        )
        self.search = widgets.Text(placeholder=say("搜索", "search", lang))
        self.sort_by = widgets.Dropdown(
            options=["", "row", "status", "platform", "shop", "target", "category"],
            description=say("排序", "sort by", lang),
        )
        self.row_pick = widgets.Dropdown(options=[], description=say("预览", "preview", lang))
        self.preview = widgets.HTML()
        self.export_path = widgets.Text(value=str(Path.cwd() / "imgkit-results.xlsx"))
        self.download = widgets.HTML()
        self.history = widgets.HTML()
        self.history_button = widgets.Button(description=say("历史", "History", lang))
        for name in SECTIONS[1:]:
            getattr(self, name).add_class(CLASSES[name])
        self.widget = self._layout()

    def _button(self, name: str) -> widgets.Button:
        zh, en = LABELS[name]
        button = widgets.Button(description=say(zh, en, self.work.lang))
        button.add_class(CLASSES[name])
        return button

    def _layout(self) -> widgets.VBox:
        lang = self.work.lang

        def heading(zh: str, en: str) -> widgets.HTML:
            return widgets.HTML(
                f"<h4 style='margin:8px 0 2px'>{html.escape(say(zh, en, lang))}</h4>"
            )

        b = self.buttons
        return widgets.VBox(
            [
                widgets.HTML("<h3 style='margin:0'>imgkit</h3>"),
                widgets.HBox([self.source, self.sheet]),
                widgets.HBox([self.shops_path, self.sandbox]),
                self.lang,
                widgets.HBox([b["validate"], b["fit"], b["dry_run"], b["upload"], b["cancel"]]),
                self.status,
                heading("校验", "Validation"),
                self.validation,
                heading("修正", "Fit"),
                self.fitting,
                heading("进度", "Progress"),
                self.counts,
                heading("结果", "Results"),
                widgets.HBox([self.status_filter, self.search, self.sort_by]),
                self.results,
                widgets.HBox([self.row_pick, self.preview]),
                widgets.HBox([b["retry"], b["refresh"], b["export"], self.export_path]),
                self.download,
                heading("历史", "History"),
                self.history_button,
                self.history,
            ]
        )


__all__ = ["ACTIONS", "CLASSES", "LABELS", "SECTIONS", "PanelWidgets"]
