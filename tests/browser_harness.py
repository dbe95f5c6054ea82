"""End-to-end browser tests of notebook widgets: JupyterLab, Voilà and headless Chromium.

Every server listens on 127.0.0.1 only, on a free port, behind a random token, with its
root, settings, workspaces, runtime and data directories in a temporary directory; its
kernel is this interpreter (a ``python3`` kernelspec first on ``JUPYTER_PATH``, as in the
``python3_kernel`` fixture of ``conftest.py``).  The browser is Debian's Chromium
(``/usr/bin/chromium``, installed by ``.ci/system-packages``) driven by Playwright, which
never downloads a browser of its own here.

Without Chromium or Playwright the tests that use :func:`require_browser` are skipped,
unless ``IMGKIT_REQUIRE_BROWSER=1``, when they fail instead (CI must run them).

Nothing here sleeps to synchronise: each wait is for a condition (an HTTP answer, a CSS
selector, a text) with a generous deadline, and fails with the server's log when the
deadline passes.

Typical use::

    require_browser()
    notebook = write_notebook(tmp_path / "root" / "probe.ipynb", [CODE])
    with jupyter_lab(notebook.parent, tmp_path / "lab") as lab, chromium() as browser:
        with new_page(browser) as page:
            open_notebook(page, lab, notebook.name)
            run_all_cells(page)
            wait_for_output(page, ".probe-button")
            click(page, ".probe-button")
            wait_for_text(page, ".probe-status", "pressed")
            screenshot(page, tmp_path / "lab.png")
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import httpx
import nbformat
import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
"""The system Chromium the tests drive (Debian's ``chromium`` package)."""

CHROMIUM_ARGS = (
    # Playwright passes --no-sandbox by default already (its chromiumSandbox=False); it is
    # spelled out because Chromium refuses to start as root with its sandbox on.
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # Loopback is never proxied, but no proxy setting of the machine is to be consulted.
    "--no-proxy-server",
)
"""The command-line flags of every Chromium the tests launch."""

REQUIRE_ENV = "IMGKIT_REQUIRE_BROWSER"
"""With this set to ``1``, a missing browser fails the test instead of skipping it."""

KERNEL = "python3"
"""The kernelspec name the notebooks run under, pinned to this interpreter."""

HOST = "127.0.0.1"
START_TIMEOUT = 60.0
"""Seconds a server has to answer HTTP after it was started."""
STOP_TIMEOUT = 20.0
"""Seconds a server has to exit after SIGTERM before it (and its kernels) are killed."""
UI_TIMEOUT = 45.0
"""Seconds a page has for each awaited selector or text (a kernel start is the slow part)."""


def require_browser() -> Path:
    """Skip the calling test unless Playwright and ``/usr/bin/chromium`` are both present.

    Returns
    -------
    Path
        The Chromium executable.

    Raises
    ------
    pytest.skip.Exception
        When either is missing and ``IMGKIT_REQUIRE_BROWSER`` is not ``1``.
    pytest.fail.Exception
        When either is missing and ``IMGKIT_REQUIRE_BROWSER`` is ``1``.
    """
    missing = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package (pip install -e '.[test]')")
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        missing.append(f"{CHROMIUM} (Debian's chromium package: bash .ci/system-packages)")
    if missing:
        reason = "browser tests need " + " and ".join(missing)
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{reason}, and {REQUIRE_ENV}=1", pytrace=False)
        pytest.skip(reason)
    return CHROMIUM


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago.

    Returns
    -------
    int
        The port.  The server started on it refuses to move elsewhere
        (``port_retries=0``), so a port taken in between fails its start, which retries.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def write_kernelspec(jupyter_path: Path) -> str:
    """Write the ``python3`` kernelspec, running this interpreter, under ``jupyter_path``.

    Parameters
    ----------
    jupyter_path
        A directory to put first on ``JUPYTER_PATH``.

    Returns
    -------
    str
        The kernelspec name.
    """
    spec = jupyter_path / "kernels" / KERNEL
    spec.mkdir(parents=True, exist_ok=True)
    kernel = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"Python 3 ({sys.executable})",
        "language": "python",
        "metadata": {"debugger": False},
    }
    (spec / "kernel.json").write_text(json.dumps(kernel), encoding="utf-8")
    return KERNEL


def write_notebook(path: Path, cells: Sequence[str]) -> Path:
    """Write a notebook of code cells, without outputs, for the ``python3`` kernel.

    Parameters
    ----------
    path
        Where to write it (its directory is created).
    cells
        The source of each code cell, in order.

    Returns
    -------
    Path
        ``path``.
    """
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    notebook.metadata["kernelspec"] = {
        "name": KERNEL,
        "display_name": "Python 3",
        "language": "python",
    }
    notebook.metadata["language_info"] = {"name": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, str(path))
    return path


@dataclass(frozen=True)
class Server:
    """A running Jupyter server or Voilà on 127.0.0.1.

    Attributes
    ----------
    base_url
        ``http://127.0.0.1:PORT`` (no trailing slash).
    token
        The token every request must carry.
    process
        The server process (its own session: its kernels die with its process group).
    log
        The file its stdout and stderr go to.
    """

    base_url: str
    token: str
    process: subprocess.Popen[bytes]
    log: Path

    def url(self, path: str = "/") -> str:
        """The address of ``path`` on this server, with the token in its query.

        Parameters
        ----------
        path
            An absolute path such as ``/lab/tree/probe.ipynb`` (already quoted).

        Returns
        -------
        str
            The full URL.
        """
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}{path}{sep}token={self.token}"

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the server's log, for failure messages.

        Parameters
        ----------
        chars
            How many characters at most.

        Returns
        -------
        str
            The last ``chars`` characters of the log.
        """
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return "(no log)"


def jupyter_env(home: Path) -> dict[str, str]:
    """The environment of a server (and so of its kernels) whose state all lies in ``home``.

    Parameters
    ----------
    home
        A temporary directory for the config, data, runtime, settings and IPython dirs, and
        for the ``python3`` kernelspec put first on ``JUPYTER_PATH``.

    Returns
    -------
    dict[str, str]
        A copy of this process's environment with those variables set.
    """
    jupyter_path = home / "jupyter-path"
    write_kernelspec(jupyter_path)
    dirs = {
        "JUPYTER_CONFIG_DIR": home / "config",
        "JUPYTER_DATA_DIR": home / "data",
        "JUPYTER_RUNTIME_DIR": home / "runtime",
        "JUPYTERLAB_SETTINGS_DIR": home / "lab-settings",
        "JUPYTERLAB_WORKSPACES_DIR": home / "lab-workspaces",
        "IPYTHONDIR": home / "ipython",
    }
    for directory in dirs.values():
        directory.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update({name: str(directory) for name, directory in dirs.items()})
    previous = env.get("JUPYTER_PATH")
    env["JUPYTER_PATH"] = os.pathsep.join([str(jupyter_path), *([previous] if previous else [])])
    # No "Would you like to receive official Jupyter news?" toast over the page.
    settings = dirs["JUPYTERLAB_SETTINGS_DIR"] / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}), encoding="utf-8"
    )
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End a server started by :func:`_serve`: SIGTERM (it shuts its kernels down), then,
    past :data:`STOP_TIMEOUT`, SIGKILL to its whole process group."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_TIMEOUT)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        # Its kernels, were any left: the group is the server's own (start_new_session).
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=STOP_TIMEOUT)


def _wait_ready(server: Server, probe: str, timeout: float) -> bool:
    """Poll ``probe`` on ``server`` until it answers 200; False if the process exited."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=5.0, trust_env=False) as http:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                return False
            try:
                if http.get(server.url(probe)).status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            # A poll interval, not a synchronisation: the condition is the answer above.
            time.sleep(0.1)
    _stop(server.process)
    raise AssertionError(
        f"{server.base_url} did not answer {probe} within {timeout:.0f} s:\n{server.log_tail()}"
    )


@contextlib.contextmanager
def _serve(
    command: Sequence[str],
    probe: str,
    home: Path,
    cwd: Path,
    env: Mapping[str, str],
    attempts: int = 3,
) -> Iterator[Server]:
    """Start ``command`` (with ``{port}`` and ``{token}`` placeholders) until it answers."""
    log = home / "server.log"
    for attempt in range(attempts):
        port, token = free_port(), secrets.token_hex(16)
        argv = [part.format(port=port, token=token) for part in command]
        with log.open("ab") as out:
            out.write(f"--- attempt {attempt + 1}: {' '.join(argv)}\n".encode())
            out.flush()
            process = subprocess.Popen(
                argv,
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = Server(f"http://{HOST}:{port}", token, process, log)
        if _wait_ready(server, probe, START_TIMEOUT):
            break
        _stop(process)  # it exited: most likely its port was taken meanwhile; try another
    else:
        raise AssertionError(f"{command[0]} did not start:\n{server.log_tail()}")
    try:
        yield server
    finally:
        _stop(server.process)


@contextlib.contextmanager
def jupyter_lab(root: Path, home: Path) -> Iterator[Server]:
    """Run JupyterLab on ``root`` for the duration of the block.

    Parameters
    ----------
    root
        The directory it serves (its notebooks are opened by name relative to it).
    home
        A temporary directory for the server's state and log (created).

    Yields
    ------
    Server
        The running server; it is stopped, with its kernels, when the block ends.

    Notes
    -----
    JupyterLab 4 needs no ``jupyter lab build``: the widget manager
    (``jupyterlab_widgets``) is a prebuilt extension installed with ipywidgets.
    """
    with _jupyter_server("jupyterlab", "LabApp", root, home, LAB_ONLY_FLAGS) as server:
        yield server


@contextlib.contextmanager
def jupyter_notebook(root: Path, home: Path) -> Iterator[Server]:
    """Run the classic Notebook interface (Notebook 7) on ``root`` for the block.

    Parameters
    ----------
    root
        The directory it serves (notebooks open at ``/notebooks/<name>``).
    home
        A temporary directory for the server's state and log (created).

    Yields
    ------
    Server
        The running server; it is stopped, with its kernels, when the block ends.

    Notes
    -----
    Notebook 7 is built from JupyterLab's components (the same widget manager
    extension), but its pages, shell and menus are its own: that is what is tested.
    """
    with _jupyter_server("notebook", "JupyterNotebookApp", root, home, ()) as server:
        yield server


LAB_ONLY_FLAGS = (
    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    "--LabApp.collaborative=False",
)
"""Flags only JupyterLab's application takes (no update check, no collaboration)."""


@contextlib.contextmanager
def _jupyter_server(
    module: str, app: str, root: Path, home: Path, extra: Sequence[str]
) -> Iterator[Server]:
    """``python -m <module>`` (a Jupyter Server application named ``app``) on ``root``."""
    home.mkdir(parents=True, exist_ok=True)
    env = jupyter_env(home)
    command = [
        sys.executable,
        "-m",
        module,
        f"--ServerApp.ip={HOST}",
        "--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        "--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.open_browser=False",
        "--ServerApp.allow_remote_access=False",
        f"--{app}.extension_manager=readonly",
        *extra,
        f"--{app}.user_settings_dir={env['JUPYTERLAB_SETTINGS_DIR']}",
        f"--{app}.workspaces_dir={env['JUPYTERLAB_WORKSPACES_DIR']}",
    ]
    if os.geteuid() == 0:
        # CI and these machines run as root, which Jupyter Server refuses without this.
        command.append("--ServerApp.allow_root=True")
    with _serve(command, "/api/status", home, root, env) as server:
        yield server


@contextlib.contextmanager
def voila(notebook: Path, home: Path) -> Iterator[Server]:
    """Serve ``notebook`` with Voilà for the duration of the block.

    Parameters
    ----------
    notebook
        The notebook; the page at ``server.url("/")`` runs it in a fresh kernel.
    home
        A temporary directory for the server's state and log (created).

    Yields
    ------
    Server
        The running server; it is stopped, with its kernels, when the block ends.
    """
    home.mkdir(parents=True, exist_ok=True)
    env = jupyter_env(home)
    command = [
        sys.executable,
        "-m",
        "voila",
        str(notebook),
        f"--Voila.ip={HOST}",
        "--Voila.port={port}",
        "--Voila.port_retries=0",
        "--Voila.token={token}",
        "--Voila.open_browser=False",
        f"--Voila.root_dir={notebook.parent}",
    ]
    # A static file: polling it starts no kernel (the page itself would).
    with _serve(command, "/voila/static/favicon.ico", home, notebook.parent, env) as server:
        yield server


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """Launch headless system Chromium through Playwright for the duration of the block.

    Yields
    ------
    playwright.sync_api.Browser
        The browser; closed, and Playwright's driver stopped, when the block ends.
    """
    executable = require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=str(executable), headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def new_page(browser: Browser, timeout: float = UI_TIMEOUT) -> Iterator[Page]:
    """A fresh page (its own context: no cookies shared) of 1280x900.

    Parameters
    ----------
    browser
        From :func:`chromium`.
    timeout
        Seconds for every Playwright action and wait on the page that sets none.

    Yields
    ------
    playwright.sync_api.Page
        The page; its context is closed when the block ends.
    """
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(timeout * 1000)
    try:
        yield context.new_page()
    finally:
        context.close()


NOTEBOOK_PATHS = {"lab": "/lab/tree/", "notebook": "/notebooks/"}
"""Where each interface opens a notebook: JupyterLab, and the classic Notebook (7)."""


def open_notebook(
    page: Page, server: Server, name: str, timeout: float = UI_TIMEOUT, interface: str = "lab"
) -> None:
    """Open ``name`` (relative to the server's root) and wait for its kernel.

    Parameters
    ----------
    page
        From :func:`new_page`.
    server
        From :func:`jupyter_lab` or :func:`jupyter_notebook`.
    name
        The notebook's path relative to the root, ``/``-separated.
    timeout
        Seconds for the notebook to show and its kernel to be idle.
    interface
        ``"lab"`` (a :func:`jupyter_lab` server) or ``"notebook"`` (:func:`jupyter_notebook`):
        both shells show the notebook in the same JupyterLab widgets.
    """
    page.goto(server.url(NOTEBOOK_PATHS[interface] + quote(name)))
    page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").first.wait_for(
        state="visible", timeout=timeout * 1000
    )
    # The toolbar's kernel indicator says idle once the kernel has started and connected.
    page.wait_for_selector(
        '.jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status="idle"]',
        state="attached",
        timeout=timeout * 1000,
    )


def run_all_cells(page: Page, timeout: float = UI_TIMEOUT) -> None:
    """Run every cell of the open notebook from JupyterLab's Run menu, as a person would.

    Parameters
    ----------
    page
        A page where :func:`open_notebook` has opened a notebook.
    timeout
        Seconds for the menu to show and for the first code cell to be queued or run
        (its prompt ``[*]:`` or ``[1]:``).  The cells' outputs are awaited by the caller
        (:func:`wait_for_output`).
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect

    ms = timeout * 1000
    first = page.locator(".jp-NotebookPanel .jp-CodeCell .jp-InputPrompt").first
    deadline = time.monotonic() + timeout
    while True:
        _click_run_all(page, ms)
        # An accepted command marks the first cell [*] at once, before the kernel answers;
        # a click lost on a loaded machine leaves it [ ]. So trying again, only while it
        # is still [ ], can never run the cells twice.
        attempt_s = min(RUN_ALL_ATTEMPT_S, max(1.0, deadline - time.monotonic()))
        try:
            expect(first).to_have_text(re.compile(r"\[(\*|\d+)\]"), timeout=attempt_s * 1000)
            return
        except (AssertionError, PlaywrightTimeout):
            if time.monotonic() >= deadline:
                raise
            page.keyboard.press("Escape")  # close any menu left open


RUN_ALL_ATTEMPT_S = 15.0
"""Seconds one Run All Cells click has to mark the first cell as running."""


def _click_run_all(page: Page, ms: float) -> None:
    from playwright.sync_api import expect

    # Make the notebook the current widget (the Run menu acts on it), in command mode.
    page.locator(".jp-NotebookPanel .jp-Cell .jp-InputPrompt").first.click(timeout=ms)
    page.locator("#jp-MainMenu .lm-MenuBar-itemLabel", has_text="Run").first.click(timeout=ms)
    # By its label: the command behind it is runmenu:run-all in JupyterLab 4.
    item = (
        page.locator("#jp-mainmenu-run .lm-Menu-item:not(.lm-mod-disabled)")
        .filter(has=page.locator(".lm-Menu-itemLabel", has_text="Run All Cells"))
        .filter(has_not_text="Restart")
        .first
    )
    # A Lumino menu triggers the item that is active under the pointer on mouseup: hover
    # first and wait for it to be active, so that the click is never lost.
    item.hover(timeout=ms)
    expect(item).to_have_class(re.compile(r"\blm-mod-active\b"), timeout=ms)
    item.click(timeout=ms)


def wait_for_output(page: Page, selector: str, timeout: float = UI_TIMEOUT) -> None:
    """Wait until ``selector`` is visible inside a cell's output (or Voilà's page).

    Parameters
    ----------
    page
        The page.
    selector
        A CSS selector, for example a class given by ipywidgets' ``add_class``:
        ``.imgkit-upload``.
    timeout
        Seconds to wait.
    """
    scoped = f".jp-OutputArea-output {selector}"
    page.locator(scoped).first.wait_for(state="visible", timeout=timeout * 1000)


def click(page: Page, selector: str, timeout: float = UI_TIMEOUT) -> None:
    """Click the first element matching ``selector`` (after it is visible and enabled).

    Parameters
    ----------
    page
        The page.
    selector
        A CSS selector.
    timeout
        Seconds for the element to become clickable.
    """
    page.locator(selector).first.click(timeout=timeout * 1000)


def wait_for_text(page: Page, selector: str, text: str, timeout: float = UI_TIMEOUT) -> None:
    """Wait until the first element matching ``selector`` contains ``text``.

    Parameters
    ----------
    page
        The page.
    selector
        A CSS selector.
    text
        A substring of the element's text.
    timeout
        Seconds to wait.
    """
    from playwright.sync_api import expect

    expect(page.locator(selector).first).to_contain_text(text, timeout=timeout * 1000)


@contextlib.contextmanager
def evidence_on_failure(page: Page, directory: Path, *servers: Server) -> Iterator[None]:
    """On an exception in the block, keep what the page and the servers showed.

    Parameters
    ----------
    page
        The page.
    directory
        Where ``failure.png``, ``failure.html``, ``console.log`` and each server's log go.
    *servers
        The servers whose logs to copy.

    Yields
    ------
    None
        The exception, if any, propagates unchanged.
    """
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    try:
        yield
    except BaseException:
        directory.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(Exception):
            screenshot(page, directory / "failure.png")
        with contextlib.suppress(Exception):
            (directory / "failure.html").write_text(page.content(), encoding="utf-8")
        (directory / "console.log").write_text("\n".join(console), encoding="utf-8")
        for number, server in enumerate(servers):
            (directory / f"server-{number}.log").write_text(server.log_tail(10**6))
        raise


def screenshot(page: Page, path: Path) -> Path:
    """Save a PNG of the whole page.

    Parameters
    ----------
    page
        The page.
    path
        Where to write it (its directory is created).

    Returns
    -------
    Path
        ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path
