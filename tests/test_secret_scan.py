"""Secrets never leak: an echoing proxy in front of every platform, then a search of
everything imgkit emits for every shop secret, in every form it can travel in.

The echo server (``tests/echo_server.py``) answers each request with the request itself
(request line, headers, query, body text and the body's base64), wrapped as an
unrecognised JSON body, an HTML 502 page, a plain-text 400, the platform's own error
envelope, or a success answer carrying the echo.  Each shop has distinctive secrets
(non-ASCII and ``+/=`` where the wire allows), and vv-tool's token endpoint hands out a
distinctive bearer token.  After ``imgkit.upload`` / ``upload_one`` / ``validate`` the
search covers the results frame (every cell), the results workbook (the file and the XML
inside it), every file under ``$IMGKIT_HOME`` (the journal's sqlite file and its WAL), the
journal read back (``imgkit.history``), every log record (root at DEBUG), the outcomes,
the reprs of shops and results, the exceptions raised, and the CLI's output.

The engine scrubs every outcome before it reaches the results or the journal, and
``upload_one`` before it returns; secrets are registered with the log filter
(:mod:`imgkit.scrub`) before anything is sent.
"""

from __future__ import annotations

import base64
import doctest
import io
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import echo_server
import pandas as pd
import pytest
from echo_server import SHAPES, EchoServer
from PIL import Image

import imgkit
from imgkit.engine.retry import RetryPolicy
from imgkit.errors import ImgkitError
from imgkit.intake.shops import load_shops
from imgkit.intake.shops_files import write_shops

ROOT = Path(__file__).resolve().parent.parent
TAG = "7f3a9c"
TOKEN = f"SeCrEt-bearer-token-{TAG}+/=="  # handed out by the echo server's token path


def _secret(shop: str, field: str, *, ascii_only: bool = False) -> str:
    # Shop first: every secret's first 20 characters are its own (see secret_forms).
    # HTTP headers are ASCII: a token sent as a bearer gets no non-ASCII characters.
    value = f"SeCrEt-{shop}-{field}-{TAG}+/="
    return value if ascii_only else value + "密钥"


def shop_tables(base_url: str) -> dict[str, dict[str, str]]:
    """One shop per platform (two for vv-tool: client credentials and a fixed token)."""
    return {
        "tb_oauth": {
            "platform": "taobao_picture",
            "base_url": base_url,
            "shop_id": "111111",
            "client_id": "echo-client-id",
            "client_secret": _secret("tb_oauth", "client_secret"),
        },
        "tb_token": {
            "platform": "taobao_picture",
            "base_url": base_url,
            "shop_id": "222222",
            "access_token": _secret("tb_token", "access_token", ascii_only=True),
        },
        "miniapp": {
            "platform": "taobao_miniapp",
            "base_url": base_url,
            "app_key": "21000002",
            "app_secret": _secret("miniapp", "app_secret"),
            "session": _secret("miniapp", "session"),
        },
        "tmall": {
            "platform": "tmall_item",
            "base_url": base_url,
            "app_key": "21000001",
            "app_secret": _secret("tmall", "app_secret"),
            "session": _secret("tmall", "session"),
        },
        "douyin": {
            "platform": "doudian",
            "base_url": base_url,
            "appid": "echo-appid",
            "app_secret": _secret("douyin", "app_secret"),
            "seller_nick": "38173182",
        },
        "qianmi": {
            "platform": "qianmi_sku",
            "base_url": base_url,
            "app_key": "10001234",
            "app_secret": _secret("qianmi", "app_secret"),
            "access_token": _secret("qianmi", "access_token"),
        },
    }


TARGETS = {
    "tb_oauth": "0",
    "tb_token": "0",
    "miniapp": "3000000012345",
    "tmall": "1489161940",
    "douyin": "0",
    "qianmi": "18353/g1234",
}
# Every secret of every shop, and the fetched bearer token, by a name for the report.
SECRETS: dict[str, str] = {
    f"{shop}.{name}": value
    for shop, table in shop_tables("http://127.0.0.1:9").items()
    for name, value in table.items()
    if "secret" in name or "token" in name or name == "session"
}
SECRETS["tb_oauth.bearer (fetched)"] = TOKEN
# The ones that travel on the wire (the others only sign): the echo must carry them.
TRAVELLING: tuple[str, ...] = (
    "tb_oauth.client_secret",
    "tb_oauth.bearer (fetched)",
    "tb_token.access_token",
    "miniapp.session",
    "tmall.session",
    "qianmi.access_token",
)


# --- the search -------------------------------------------------------------------------


def _lower_hex(encoded: str) -> str:
    return "".join(
        part if i == 0 else part[:2].lower() + part[2:] for i, part in enumerate(encoded.split("%"))
    )


def _base64_runs(value: str) -> dict[str, str]:
    """The base64 characters that depend on ``value`` alone, at each byte alignment (the
    secret inside a longer base64 string: a body, an HTTP Basic header)."""
    data = value.encode()
    runs = {}
    for k in range(3):
        encoded = base64.b64encode(b"\0" * k + data + b"\0\0").decode()
        run = encoded[-(-8 * k // 6) : 8 * (k + len(data)) // 6]
        runs[f"base64 (alignment {k})"] = run
        runs[f"base64 url-safe (alignment {k})"] = run.replace("+", "-").replace("/", "_")
    return runs


def secret_forms(value: str) -> dict[str, str]:
    """Every form of ``value`` the search looks for, by name."""
    return {
        "raw": value,
        "url-encoded (quote)": quote(value),
        "url-encoded (quote, safe='')": quote(value, safe=""),
        "url-encoded (quote_plus)": quote_plus(value),
        "url-encoded (lower-case hex)": _lower_hex(quote(value, safe="")),
        "url-encoded (quote_plus, lower-case hex)": _lower_hex(quote_plus(value)),
        "json-escaped": json.dumps(value)[1:-1],
        # A secret cut in two (an answer shortened for the results) still leaks its start.
        "first 20 characters": value[:20],
        "first 20 characters url-encoded": quote_plus(value[:20]),
        **_base64_runs(value),
    }


def leaks(blob: bytes | str, secrets: Mapping[str, str]) -> list[str]:
    """``"<secret> as <form>"`` for each secret form found in ``blob``."""
    found = []
    for name, value in secrets.items():
        for form, encoded in secret_forms(value).items():
            needle: bytes | str = encoded.encode() if isinstance(blob, bytes) else encoded
            if needle in blob:  # type: ignore[operator]
                found.append(f"{name} as {form}")
    return found


def assert_no_secret(
    blob: bytes | str, secrets: Mapping[str, str] = SECRETS, where: str = "output"
) -> None:
    """Fail naming which secret, in which form, leaked into ``where``."""
    found = leaks(blob, secrets)
    assert not found, f"{where} leaks {len(found)} secret form(s): " + "; ".join(found)


def frame_text(frame: pd.DataFrame) -> str:
    """Every cell, column name and index label of ``frame``, as text."""
    cells = [str(v) for v in frame.to_numpy().ravel()]
    return "\n".join([*map(str, frame.columns), *map(str, frame.index), *cells])


def xlsx_blob(path: Path) -> bytes:
    """The workbook's bytes and the XML of every part inside it."""
    data = path.read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        return data + b"".join(book.read(name) for name in book.namelist())


def files_blob(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (the journal's sqlite file, its -wal, caches)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


class Collect(logging.Handler):
    """Every record that reaches the root logger, formatted (with tracebacks)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record) + " " + repr(record.args))


@dataclass
class Run:
    """What one scenario against the echo server left behind."""

    sinks: dict[str, bytes | str] = field(default_factory=dict)
    echoes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def small_image(folder: Path) -> Path:
    """A tiny JPEG: the echo of its upload stays well under Excel's 32767-character cell."""
    path = folder / "echo.jpg"
    if not path.exists():
        Image.new("RGB", (64, 48), (200, 40, 90)).save(path, "JPEG")
    return path


IMAGE = small_image(Path(tempfile.mkdtemp(prefix="imgkit-echo-")))


def _batch() -> pd.DataFrame:
    rows = [
        {"platform": shop_tables("")[shop]["platform"], "shop": shop, "file": str(IMAGE)}
        | {"target": target}
        for shop, target in TARGETS.items()
    ]
    return pd.DataFrame(rows)


def _capture(sinks: dict[str, bytes | str], name: str, action: Callable[[], Any]) -> Any:
    """Run ``action`` with the root logger at DEBUG; its log lines go to ``sinks[name]``."""
    root = logging.getLogger()
    handler, level = Collect(), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        return action()
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        sinks[name] = "\n".join(handler.lines)


def scenario(shape: str, home: Path) -> Run:
    """Upload the batch (and each row with ``upload_one``) through an echo server."""
    token_shape = "envelope" if shape == "token-echo" else ""
    server_shape = "json" if shape == "token-echo" else shape
    run = Run()
    old_home = os.environ.get("IMGKIT_HOME")
    os.environ["IMGKIT_HOME"] = str(home / "home")
    patch = pytest.MonkeyPatch()
    # Unrecognised answers leave rows in doubt, and the engine looks them up (the echo
    # server answers the look-ups too): no settling pause and one try keep this fast.
    patch.setattr("imgkit.engine.runner.LOOKUP_SETTLE_S", 0.0, raising=False)
    patch.setattr("imgkit.engine.settle.LOOKUP_TRIES", 1, raising=False)
    try:
        with EchoServer(server_shape, token=TOKEN, token_shape=token_shape) as echo:
            tables = shop_tables(echo.base_url)
            options = {"policy": RetryPolicy(max_attempts=1), "progress": False}
            options |= {"audit_wait_s": 0.0, "timeout": 10.0, "concurrency": 8}
            results = _capture(
                run.sinks, "logs of upload", lambda: imgkit.upload(_batch(), tables, **options)
            )
            outcomes = []
            for shop, target in TARGETS.items():

                def one(shop: str = shop, target: str = target) -> imgkit.Outcome:
                    return imgkit.upload_one(shop, IMAGE, target, shops=tables)

                try:
                    out = _capture(run.sinks, f"logs of upload_one({shop})", one)
                    outcomes.append(f"{out!r}\n{out}\n{json.dumps(dict(out.raw), default=str)}")
                except ImgkitError as exc:
                    run.errors.append(f"{exc!r} {exc}")
            run.echoes = [echo for _, echo in echo.requests]
        run.sinks["results frame"] = frame_text(results)
        run.sinks["repr of results"] = f"{results!r}\n{results.to_string()}\n{results.attrs}"
        book = home / "results.xlsx"
        to_excel = getattr(imgkit, "to_excel", None)
        if to_excel is not None:
            to_excel(results, book)
        else:  # what the CLI's demo does today
            results.to_excel(book, index=False, sheet_name="results")
        run.sinks["results workbook"] = xlsx_blob(book)
        run.sinks["outcomes of upload_one"] = "\n".join(outcomes)
        run.sinks["history()"] = frame_text(imgkit.history())
        for name, data in files_blob(home / "home").items():
            run.sinks[f"$IMGKIT_HOME/{name}"] = data
        run.sinks["exceptions"] = "\n".join(run.errors)
    finally:
        patch.undo()
        if old_home is None:
            os.environ.pop("IMGKIT_HOME", None)
        else:
            os.environ["IMGKIT_HOME"] = old_home
    return run


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Run]:
    """``get(shape)``: the scenario of ``shape``, run once per module (per worker)."""
    cache: dict[str, Run] = {}

    def get(shape: str) -> Run:
        if shape not in cache:
            cache[shape] = scenario(shape, tmp_path_factory.mktemp(f"echo-{shape}"))
        return cache[shape]

    return get


# --- the checks -------------------------------------------------------------------------

SCENARIOS = (*SHAPES, "token-echo")
SINKS = (
    "results frame",
    "repr of results",
    "results workbook",
    "journal files",
    "history()",
    "logs of upload",
    "outcomes of upload_one",
    "logs of upload_one",
    "exceptions",
)


def _cases() -> list[Any]:
    return [pytest.param(shape, sink) for shape in SCENARIOS for sink in SINKS]


def _sink(run: Run, sink: str) -> dict[str, bytes | str]:
    if sink == "journal files":
        return {k: v for k, v in run.sinks.items() if k.startswith("$IMGKIT_HOME/")}
    if sink.startswith("logs of upload_one"):
        return {k: v for k, v in run.sinks.items() if k.startswith("logs of upload_one")}
    return {sink: run.sinks[sink]}


@pytest.mark.parametrize("shape", SCENARIOS)
def test_the_echo_carries_the_secrets_that_travel(runs: Callable[[str], Run], shape: str) -> None:
    """The search is meaningful only if the secrets reached the echoing proxy."""
    echoes = "\n".join(runs(shape).echoes)
    expected = [name for name in TRAVELLING if name != "tb_oauth.bearer (fetched)"]
    if shape != "token-echo":  # there the token endpoint refused: no bearer was sent
        expected.append("tb_oauth.bearer (fetched)")
    missing = [name for name in expected if not leaks(echoes, {name: SECRETS[name]})]
    assert not missing, f"the echo server never saw {missing}"


@pytest.mark.parametrize(("shape", "sink"), _cases())
def test_no_secret_in(runs: Callable[[str], Run], shape: str, sink: str) -> None:
    blobs = _sink(runs(shape), sink)
    if sink == "journal files":
        assert any(name.endswith("journal.sqlite") for name in blobs), sorted(blobs)
    problems = []
    for name, blob in blobs.items():
        found = leaks(blob, SECRETS)
        if found:
            problems.append(f"{name}: " + "; ".join(found))
    assert not problems, f"[{shape}] leaks in " + " | ".join(problems)


def test_shops_and_shop_reprs_hide_secrets() -> None:
    tables = shop_tables("http://127.0.0.1:9")
    shops = load_shops(tables)
    text = [repr(shops), str(shops)]
    for shop in shops.values():
        text += [repr(shop), str(shop), repr(shop.fields), f"{shop}"]
    assert_no_secret("\n".join(text), where="repr of shops")


def test_validate_and_its_issues_hide_secrets(caplog: pytest.LogCaptureFixture) -> None:
    tables: dict[str, Any] = shop_tables("http://127.0.0.1:9")
    # Broken shops whose problems validation reports: a typo'd secret field, a missing one.
    tables["typo"] = {**tables["tmall"], "sesion": tables["tmall"]["session"]}
    tables["missing"] = {k: v for k, v in tables["qianmi"].items() if k != "app_key"}
    batch = _batch()
    batch = pd.concat([batch, batch.iloc[[3, 5]].assign(shop=["typo", "missing"])])
    batch = batch.reset_index(drop=True)
    caplog.set_level(logging.DEBUG)
    checked = imgkit.validate(batch, tables)
    assert not checked.loc[6:, "ok"].any()  # the broken shops were judged
    assert_no_secret(frame_text(checked), where="validate()")
    assert_no_secret(frame_text(imgkit.issues_table(checked)), where="issues_table()")
    assert_no_secret(caplog.text, where="logs of validate")


def test_shop_errors_hide_secrets() -> None:
    tables: dict[str, Any] = shop_tables("http://127.0.0.1:9")
    bad = [
        {**tables["tmall"], "sesion": tables["tmall"]["session"]},
        {**tables["tmall"], "sign_method": tables["tmall"]["app_secret"][:8]},
        {**tables["qianmi"], "base_url": "ftp://" + tables["qianmi"]["access_token"]},
    ]
    messages = []
    for table in bad:
        with pytest.raises(ImgkitError) as caught:
            load_shops({"bad": table})
        messages.append(f"{caught.value!r} {caught.value}")
    with pytest.raises(ImgkitError) as caught:
        load_shops(tables)["nope"]
    messages.append(str(caught.value))
    secrets = {k: v for k, v in SECRETS.items() if "qianmi" not in k}  # base_url is not secret
    assert_no_secret("\n".join(messages), secrets, where="shop errors")


def _cli(args: list[str], home: Path, shops: Path, cwd: Path) -> str:
    env = {**os.environ, "IMGKIT_HOME": str(home), "IMGKIT_SHOPS": str(shops)}
    done = subprocess.run(
        [sys.executable, "-m", "imgkit", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )
    return done.stdout + done.stderr


def test_cli_output_and_exports_hide_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``imgkit upload`` / ``imgkit validate`` when the CLI has them, and ``imgkit journal``
    (printed and exported) after a run against the echo server."""
    home = tmp_path / "home"
    monkeypatch.setattr("imgkit.engine.runner.LOOKUP_SETTLE_S", 0.0, raising=False)
    monkeypatch.setattr("imgkit.engine.settle.LOOKUP_TRIES", 1, raising=False)
    usage = _cli(["--help"], home, tmp_path / "none.toml", tmp_path)
    # The subcommands, from argparse's "{a,b,c}" (help texts mention "upload" too).
    found = re.search(r"\{([a-z_,-]+)\}", usage)
    commands = set(found.group(1).split(",")) if found else set()
    with EchoServer("envelope", token=TOKEN) as echo:
        shops = write_shops(tmp_path / "shops.toml", shop_tables(echo.base_url))
        batch = tmp_path / "batch.csv"
        _batch().to_csv(batch, index=False)
        outputs = {}
        if "validate" in commands:
            outputs["imgkit validate"] = _cli(["validate", str(batch)], home, shops, tmp_path)
        if "upload" in commands:
            outputs["imgkit upload"] = _cli(["upload", str(batch)], home, shops, tmp_path)
        else:  # the journal needs entries: the library fills it
            monkeypatch.setenv("IMGKIT_HOME", str(home))
            imgkit.upload(batch, str(shops), policy=RetryPolicy(max_attempts=1), progress=False)
        assert echo.count > 0
    outputs["imgkit journal"] = _cli(["journal", "--limit", "100"], home, shops, tmp_path)
    export = tmp_path / "journal.csv"
    outputs["imgkit journal"] += _cli(["journal", "--out", str(export)], home, shops, tmp_path)
    outputs["imgkit journal --out"] = export.read_text(encoding="utf-8-sig")
    for path in tmp_path.glob("*.xlsx"):
        outputs[path.name] = xlsx_blob(path).decode("utf-8", "replace")
    problems = [
        f"{where}: {'; '.join(hits)}"
        for where, out in outputs.items()
        if (hits := leaks(out, SECRETS))
    ]
    assert not problems, " | ".join(problems)


def test_assert_no_secret_names_the_secret_and_the_form() -> None:
    secrets = {"tmall.session": SECRETS["tmall.session"]}
    basic = base64.b64encode(b"id:" + SECRETS["tmall.session"].encode()).decode()
    examples: list[tuple[bytes | str, str]] = [
        (quote_plus(SECRETS["tmall.session"]), "url-encoded (quote_plus)"),
        (f"Authorization: Basic {basic}", "base64 (alignment 0)"),
        (json.dumps({"m": SECRETS["tmall.session"]}).encode(), "json-escaped"),
    ]
    for blob, form in examples:
        with pytest.raises(AssertionError, match=rf"tmall\.session as {re.escape(form)}"):
            assert_no_secret(blob, secrets, where="a blob")
    assert_no_secret("SeCrEt-tmall-sess (not quite)", secrets)


def test_echo_server_examples() -> None:
    result = doctest.testmod(echo_server, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


def test_a_secret_deep_in_an_echoed_page_never_reaches_the_journal(tmp_path: Path) -> None:
    """A gateway's 403 page echoing HTTP Basic (client id and secret) around character
    1000: the message is scrubbed before it is cut, so no piece of the secret survives in
    the results or the journal file."""
    import httpx

    secret = "cs-Zq8vW3nR5tY7uI9oP1aS"
    basic = base64.b64encode(f"cid:{secret}".encode()).decode()
    lead = "<pre>Authorization: Basic "
    # Placed so that a cut at 1,000 characters would keep all of it but its last 3.
    page = "x" * (1000 - len(lead) - len(basic) + 3) + lead + basic + " (echo)</pre>"

    def proxy(request: httpx.Request) -> httpx.Response:
        if b"grant_type" in request.read():
            body = {"code": 0, "data": {"access_token": "tok-0123456789", "expires_in": 7200}}
            return httpx.Response(200, json=body)
        return httpx.Response(403, text=page)

    shops = {
        "tb": {
            "platform": "taobao_picture",
            "base_url": "http://vv.test",
            "shop_id": "1",
            "client_id": "cid",
            "client_secret": secret,
        }
    }
    frame = pd.DataFrame({"platform": ["taobao_picture"], "shop": ["tb"], "file": [str(IMAGE)]})
    journal = tmp_path / "journal.sqlite"
    out = imgkit.upload(
        frame.assign(target="0"),
        shops=shops,
        journal=journal,
        progress=False,
        transport=httpx.MockTransport(proxy),
    )
    assert (out.loc[0, "status"], out.loc[0, "code"]) == ("failed", "HTTP 403")
    wal = Path(f"{journal}-wal")
    stored = journal.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    for blob in (stored, frame_text(out).encode()):
        assert not leaks(blob, {"tb.client_secret": secret})
        assert basic[4:24].encode() not in blob  # nor the base64 of most of it
