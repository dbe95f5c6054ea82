"""``imgkit panel``: the notebook panel as a web page, for colleagues who never open a
notebook.

The command writes a one-cell notebook that shows :func:`imgkit.panel` on the batch and
shops given, and serves it with Voilà (a well-kept server that runs a notebook and shows
only its widgets) on 127.0.0.1.  The page is the same panel: Validate, Fit, Upload,
Cancel, the results, Export to Excel.  Ctrl-C stops the server.

Example
-------
>>> print(panel_notebook_source("batch.xlsx", "shops.toml", "en"))
import imgkit
<BLANKLINE>
imgkit.panel('batch.xlsx', 'shops.toml', lang='en')
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from imgkit.shells.cli_terminal import CONFIG, INTERRUPTED, OK, error
from imgkit.words import Lang

DEFAULT_PANEL_PORT = 8866  # Voilà's own default


def panel_notebook_source(batch: str | None, shops: str | None, lang: Lang) -> str:
    """The code of the page's one cell (paths made absolute by the caller)."""
    return f"import imgkit\n\nimgkit.panel({batch!r}, {shops!r}, lang={lang!r})"


def write_panel_notebook(folder: Path, batch: str | None, shops: str | None, lang: Lang) -> Path:
    """Write the page's notebook into ``folder``; returns its path.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     write_panel_notebook(Path(folder), None, None, "zh").name
    'imgkit-panel.ipynb'
    """
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(panel_notebook_source(batch, shops, lang))]
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = folder / "imgkit-panel.ipynb"
    nbformat.write(notebook, path)
    return path


def voila_command(notebook: Path, port: int) -> list[str]:
    """The Voilà command serving ``notebook`` on 127.0.0.1:``port``, tracebacks hidden.

    >>> voila_command(Path("p.ipynb"), 8866)[1:3]
    ['-m', 'voila']
    """
    return [
        sys.executable,
        "-m",
        "voila",
        str(notebook),
        f"--port={port}",
        "--no-browser",
        "--Voila.ip=127.0.0.1",
        "--show_tracebacks=False",
    ]


def cmd_panel(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("voila") is None:
        error(
            "panel",
            "需要 Voilà: pip install 'imgkit[page]'",
            "Voilà is needed: pip install 'imgkit[page]'",
            args.lang,
        )
        return CONFIG
    batch = str(Path(args.batch).resolve()) if args.batch else None
    shops = str(Path(args.shops).resolve()) if args.shops else None
    for given in (batch, shops):
        if given is not None and not Path(given).is_file():
            error("panel", f"找不到文件 {given}", f"no file at {given}", args.lang)
            return CONFIG
    with tempfile.TemporaryDirectory(prefix="imgkit-panel-") as folder:
        notebook = write_panel_notebook(Path(folder), batch, shops, args.lang)
        print(f"imgkit panel: http://127.0.0.1:{args.port}/ (Ctrl-C stops it)", flush=True)
        try:
            done = subprocess.run(voila_command(notebook, args.port), check=False)
        except KeyboardInterrupt:
            return INTERRUPTED
    return OK if done.returncode == 0 else CONFIG


def add_panel_command(commands: Any) -> None:
    """Add ``panel`` to ``commands``."""
    page = commands.add_parser(
        "panel",
        help="serve the notebook panel as a web page on 127.0.0.1 (through Voila)",
        description="Serve imgkit's panel (validate, fit, upload, cancel, results, export) "
        "as a web page on 127.0.0.1, for people who do not use notebooks. Without --shops "
        "the page uploads to an embedded sandbox. Ctrl-C stops it.",
    )
    page.add_argument("batch", nargs="?", help="the batch to open (.csv or .xlsx; optional)")
    page.add_argument("--shops", help="the shops file (default: the embedded sandbox)")
    page.add_argument("--port", type=int, default=DEFAULT_PANEL_PORT, help="port to serve on")
    page.add_argument(
        "--lang", default="both", choices=["zh", "en", "both"], help="language of the panel"
    )
    page.set_defaults(run=cmd_panel)


__all__ = ["add_panel_command", "panel_notebook_source", "voila_command", "write_panel_notebook"]
