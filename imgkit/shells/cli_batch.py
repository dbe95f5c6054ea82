"""The batch commands: ``validate``, ``fit``, ``upload``, ``retry`` and ``refresh``.

Each reads its input, calls the library function of the same name, prints an 80-column
table and a one-line summary (or, with ``--json``, the records and nothing else on
stdout), writes ``-o`` when asked and returns the exit code.

Example
-------
>>> import argparse
>>> parser = argparse.ArgumentParser(prog="imgkit")
>>> add_batch_commands(parser.add_subparsers())
>>> parser.parse_args(["upload", "b.csv", "--dry-run", "-o", "r.json"]).out
'r.json'
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import sys
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from imgkit.shells.cli_terminal import (
    CONFIG,
    INVALID_BATCH,
    OK,
    error,
    exit_status,
    print_json,
    table,
    write_output,
)
from imgkit.words import Lang, say

RESULT_COLUMNS = ["row", "status", "shop", "target", "detail"]
ISSUE_COLUMNS = ["row", "shop", "file", "message"]
FIT_COLUMNS = ["row", "shop", "fit_actions", "file"]


def add_common(
    parser: argparse.ArgumentParser,
    *,
    sheet: bool = True,
    run: bool = False,
    out_help: str = "also write the results to this .xlsx (styled), .csv or .json file",
) -> None:
    """The flags shared by the commands that read a batch or results (``run``: uploads)."""
    parser.add_argument("--shops", help="the shops file (default: $IMGKIT_SHOPS or the user's)")
    parser.add_argument(
        "--sandbox",
        action="store_true",
        help="start the embedded sandbox for this run and use its shops (with --shops: the "
        "file's shops, pointed at the sandbox, plus the sandbox's)",
    )
    if sheet:
        parser.add_argument("--sheet", default=None, help="the workbook sheet to read")
    parser.add_argument("-o", "--out", help=out_help)
    parser.add_argument(
        "--json", action="store_true", help="print JSON records on stdout and nothing else"
    )
    parser.add_argument(
        "--lang", default="both", choices=["zh", "en", "both"], help="language of messages"
    )
    if run:
        parser.add_argument(
            "--dry-run", action="store_true", help="plan the run, send nothing (rows: planned)"
        )
        parser.add_argument("--concurrency", type=int, default=8, help="requests at once")
        parser.add_argument(
            "--no-journal", action="store_true", help="do not record the run in the journal"
        )


def _pointed(tables: dict[str, Any], base_url: str) -> dict[str, Any]:
    return {name: {**table, "base_url": base_url} for name, table in tables.items()}


@contextlib.contextmanager
def shops_for(args: argparse.Namespace) -> Iterator[Any]:
    """The shops of the run: ``--shops`` (None: the default file), or, with ``--sandbox``,
    an embedded sandbox's (the file's shops pointed at it, the sandbox's added)."""
    if not getattr(args, "sandbox", False):
        from imgkit.intake.shops import load_shops

        # Loaded here, not row by row: a missing or wrong file is a configuration error
        # (exit 4) before anything is read or sent, not a batch of invalid rows.
        yield load_shops(args.shops)
        return
    from imgkit.sandbox import Sandbox

    with Sandbox() as sandbox:
        tables: dict[str, Any] = dict(sandbox.shops)
        if args.shops:
            with Path(args.shops).open("rb") as fh:
                tables.update(_pointed(tomllib.load(fh), sandbox.base_url))
        if not args.json:
            print(say(f"沙箱: {sandbox.base_url}", f"sandbox: {sandbox.base_url}", args.lang))
        yield tables


def settings(args: argparse.Namespace) -> dict[str, Any]:
    """The run's flags for the workbook's settings (paths and numbers: never a secret)."""
    names = ("command", "batch", "results", "shops", "sheet", "sandbox", "dry_run",
             "concurrency", "lang")  # fmt: skip
    return {n: getattr(args, n) for n in names if getattr(args, n, None) not in (None, False)}


def _batch(args: argparse.Namespace) -> Any:
    from imgkit.intake.batch import read_batch

    if args.sheet is None:
        return read_batch(args.batch)
    return read_batch(args.batch, sheet=int(args.sheet) if args.sheet.isdigit() else args.sheet)


def _detail(results: pd.DataFrame) -> pd.DataFrame:
    shown = results.copy()
    url = shown["url"].fillna("").astype(str) if "url" in shown else ""
    message = shown["message"].fillna("").astype(str) if "message" in shown else ""
    shown["detail"] = url.where(url.ne(""), message) if isinstance(url, pd.Series) else message
    return shown


def finish(
    args: argparse.Namespace,
    frame: pd.DataFrame,
    columns: list[str],
    line: str,
    *,
    results: bool = True,
) -> None:
    """Print ``frame`` (a table, or JSON records with ``--json``) and the summary ``line``;
    write ``-o``.  With ``--json`` the summary goes to stderr."""
    if args.out:
        written = write_output(frame, args.out, lang=args.lang, settings=settings(args),
                               results=results)  # fmt: skip
        line += " · " + say(f"已写入 {written}", f"written to {written}", args.lang)
    if args.json:
        print_json(frame)
        print(line, file=sys.stderr)
        return
    shown = table(frame, columns) if len(frame) else ""
    if shown:
        print(shown)
    print(line)


def _progress(args: argparse.Namespace) -> bool:
    # Bars only for a person at a terminal: no cursor codes in a log or a pipe.
    return sys.stderr.isatty()


def _options(function: Callable[..., Any], args: argparse.Namespace, **given: Any) -> Any:
    """``given`` plus ``lang`` when ``function`` takes it (added to the engine in steps)."""
    if "lang" in inspect.signature(function).parameters:
        given["lang"] = args.lang
    return given


def _run_summary(results: pd.DataFrame, lang: Lang) -> str:
    from imgkit.report.results import summary_line

    return summary_line(results, lang)


def cmd_validate(args: argparse.Namespace) -> int:
    from imgkit.intake.validation import validate

    with shops_for(args) as shops:
        checked = validate(_batch(args), shops, lang=args.lang)
    bad = checked[~checked["ok"].astype(bool)]
    line = say(
        f"共 {len(checked)} 行: {len(checked) - len(bad)} 行可上传, {len(bad)} 行有错误",
        f"{len(checked)} rows: {len(checked) - len(bad)} ready, {len(bad)} with errors",
        args.lang,
    )
    finish(args, checked if args.json or args.out else bad, ISSUE_COLUMNS, line, results=False)
    return OK if bad.empty else INVALID_BATCH


def cmd_fit(args: argparse.Namespace) -> int:
    from imgkit.intake.fitting import fit

    with shops_for(args) as shops:
        fitted = fit(
            _batch(args), args.out_dir, shops=shops, workers=args.workers, progress=_progress(args)
        )
    changed = fitted[fitted["fit_actions"].fillna("").astype(str).ne("")]
    bad = fitted[~fitted["ok"].astype(bool)]
    line = say(
        f"共 {len(fitted)} 行: {len(changed)} 行已生成适配副本, {len(bad)} 行仍有错误",
        f"{len(fitted)} rows: {len(changed)} fitted copies made, {len(bad)} still with errors",
        args.lang,
    )
    finish(args, fitted if args.json else changed, FIT_COLUMNS, line, results=False)
    return OK if bad.empty else INVALID_BATCH


def cmd_upload(args: argparse.Namespace) -> int:
    from imgkit.engine.uploads import upload

    with shops_for(args) as shops:
        journal = False if args.no_journal else None
        options = _options(upload, args, concurrency=args.concurrency, dry_run=args.dry_run,
                           progress=_progress(args), journal=journal)  # fmt: skip
        results = upload(_batch(args), shops, **options)
    finish(args, _detail(results), RESULT_COLUMNS, _run_summary(results, args.lang))
    return exit_status(results)


def _results_file(args: argparse.Namespace) -> Path | None:
    source = Path(args.results)
    if source.exists():
        return source
    error(args.command, f"找不到结果文件 {source}", f"no results file at {source}", args.lang)
    return None


def cmd_retry(args: argparse.Namespace) -> int:
    from imgkit.engine.uploads import retry_failed

    source = _results_file(args)
    if source is None:
        return CONFIG
    with shops_for(args) as shops:
        options = _options(retry_failed, args, concurrency=args.concurrency,
                           dry_run=args.dry_run, progress=_progress(args),
                           journal=False if args.no_journal else None)  # fmt: skip
        results = retry_failed(source, shops, **options)
    finish(args, _detail(results), RESULT_COLUMNS, _run_summary(results, args.lang))
    return exit_status(results)


def cmd_refresh(args: argparse.Namespace) -> int:
    from imgkit.engine.refresh import refresh

    source = _results_file(args)
    if source is None:
        return CONFIG
    with shops_for(args) as shops:
        results = refresh(source, shops, **_options(refresh, args))
    finish(args, _detail(results), RESULT_COLUMNS, _run_summary(results, args.lang))
    return exit_status(results)


def add_batch_commands(commands: Any) -> None:
    """Add ``validate``, ``fit``, ``upload``, ``retry`` and ``refresh`` to ``commands``."""
    validate = commands.add_parser(
        "validate",
        help="check a batch against the platforms' rules, without sending anything",
        description="Read the batch, probe every image and check it against its platform's "
        "rules and the shops file. Prints the rows with errors; exit 3 when there are any.",
    )
    validate.add_argument("batch", help="the batch (.xlsx, .xls, .csv)")
    add_common(validate, out_help="write every row with its issues to .xlsx, .csv or .json")
    validate.set_defaults(run=cmd_validate)
    fit = commands.add_parser(
        "fit",
        help="make fitted copies of the images that break a fixable rule",
        description="Resize, re-encode or convert the images that break a fixable rule "
        "(too large, wrong format...) into fitted copies; the originals are untouched. "
        "Prints the rows changed; exit 3 when some rows still have errors.",
    )
    fit.add_argument("batch", help="the batch (.xlsx, .xls, .csv)")
    fit.add_argument("--out-dir", default=None, help="folder for the fitted copies")
    fit.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes fitting at once (default: every core; 1: in this process)",
    )
    add_common(fit, out_help="write the fitted batch (its file column pointing at the copies)")
    fit.set_defaults(run=cmd_fit)
    upload = commands.add_parser(
        "upload",
        help="upload a batch: every row to its shop, with retries and the journal",
        description="Upload every valid row of the batch to its platform and shop. Rows "
        "already uploaded (the journal remembers) are skipped. Exit 0 when every row is "
        "uploaded or skipped, 3 when only invalid rows are left, 1 otherwise.",
    )
    upload.add_argument("batch", help="the batch (.xlsx, .xls, .csv)")
    add_common(upload, run=True)
    upload.set_defaults(run=cmd_upload)
    retry = commands.add_parser(
        "retry",
        help="upload again the rows of a results file that did not succeed",
        description="Read a results workbook (or .csv) and upload again the rows "
        "that failed or are in doubt; the others are kept as they are.",
    )
    retry.add_argument("results", help="the results file of an earlier run (.xlsx, .csv)")
    add_common(retry, sheet=False, run=True)
    retry.set_defaults(run=cmd_retry)
    refresh = commands.add_parser(
        "refresh",
        help="ask the platforms what became of rows pending audit or in doubt",
        description="Read a results file and ask each platform about the rows pending "
        "audit or in doubt (a look-up: nothing is sent again).",
    )
    refresh.add_argument("results", help="the results file of an earlier run (.xlsx, .csv)")
    add_common(refresh, sheet=False)
    refresh.set_defaults(run=cmd_refresh)
