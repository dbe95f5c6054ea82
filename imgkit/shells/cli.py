"""The ``imgkit`` command line: a thin shell over the library (``docs/cli.md``).

``imgkit validate|fit|upload BATCH`` and ``imgkit retry|refresh RESULTS`` call the library
functions of those names (:mod:`imgkit.shells.cli_batch`); ``imgkit template PATH``,
``imgkit shops check`` and ``imgkit demo`` are in :mod:`imgkit.shells.cli_misc`, ``imgkit
panel`` (the notebook panel as a web page) in :mod:`imgkit.shells.cli_panel`; tables,
outputs and the exit codes in :mod:`imgkit.shells.cli_terminal`.
``imgkit sandbox [--port N] [--host H]`` serves the sandbox of all five platforms and
prints the shops configuration that points at it; ``imgkit demo`` uploads the sample batch
to the embedded sandbox, prints a summary and writes the results workbook; ``imgkit journal
[--since 7d] [--platform P] [--shop S] [--status done] [--out FILE]`` lists (or exports to
``.xlsx`` / ``.csv``) what the user's journal remembers; ``imgkit verify RESULTS [--out
FILE]`` downloads every stored row's URL and says whether it serves what was sent (exit 1
when one does not).

Example
-------
>>> main(["--version"])  # doctest: +ELLIPSIS
imgkit ...
0
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from imgkit import __version__
from imgkit.intake.shops_files import shops_toml
from imgkit.sandbox import DEFAULT_PORT, Sandbox, SandboxError
from imgkit.shells.cli_batch import add_batch_commands
from imgkit.shells.cli_misc import add_misc_commands
from imgkit.shells.cli_panel import add_panel_command
from imgkit.shells.cli_terminal import CONFIG, INTERRUPTED, NOT_ALL_DONE, error
from imgkit.words import check_lang


def _write_table(table: Any, out: Path, sheet: str) -> Path:
    """``table`` (a DataFrame) written to ``out``: CSV by its suffix, else a workbook."""
    if out.suffix.lower() == ".csv":
        table.to_csv(out, index=False, encoding="utf-8-sig")  # BOM: Excel reads UTF-8
    else:
        table.to_excel(out, index=False, sheet_name=sheet)
    return out


def _sandbox(args: argparse.Namespace) -> int:
    def ready(sandbox: Sandbox) -> None:
        print(f"imgkit sandbox serving all five platforms at {sandbox.base_url}")
        print(f"  control: {sandbox.base_url}/_sandbox/stats, /_sandbox/faults, /_sandbox/reset")
        if args.print_shops:
            print("\n# shops.toml for this sandbox (sandbox credentials, safe to share)\n")
            print(shops_toml(sandbox.shops))
        print("Press Ctrl-C to stop.", flush=True)

    try:
        Sandbox(host=args.host, port=args.port, log_level=args.log_level).serve_forever(ready)
    except SandboxError as exc:
        print(f"imgkit sandbox: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


def _journal(args: argparse.Namespace) -> int:
    import pandas as pd

    from imgkit.engine.journal import default_journal_path
    from imgkit.errors import ImgkitError
    from imgkit.report.history import history

    path = Path(args.journal) if args.journal else default_journal_path()
    if not path.exists():
        print(f"imgkit journal: no journal at {path} yet / 尚无上传记录: {path}")
        return 0
    try:
        table = history(
            since=args.since,
            until=args.until,
            platform=args.platform,
            shop=args.shop,
            status=args.status,
            journal=path,
        )
    except ImgkitError as exc:
        print(f"imgkit journal: {exc}", file=sys.stderr)
        return 2
    if args.out:
        out = _write_table(table, Path(args.out), "journal")
        print(f"{len(table)} entries written to {out} / 已导出 {len(table)} 条记录")
        return 0
    print(f"journal: {path} ({len(table)} entries / 条记录)")
    if not table.empty:
        columns = ["when", "status", "platform", "shop", "target", "url", "image_id"]
        shown = table[columns].head(args.limit)
        with pd.option_context("display.width", 200, "display.max_colwidth", 80):
            print(shown.to_string(index=False))
        if len(table) > args.limit:
            print(f"... {len(table) - args.limit} more (use --limit or --out)")
    return 0


def _verify(args: argparse.Namespace) -> int:
    import pandas as pd

    from imgkit.errors import ImgkitError
    from imgkit.report.verify import verify, verify_counts

    source = Path(args.results)
    if not source.exists():
        print(
            f"imgkit verify: no results file at {source} / 找不到结果文件 {source}", file=sys.stderr
        )
        return 2
    try:
        checked = verify(
            source,
            concurrency=args.concurrency,
            rate_per_host=args.rate,
            timeout=args.timeout,
            reencoded=True if args.reencoded else None,
        )
    except ImgkitError as exc:
        print(f"imgkit verify: {exc}", file=sys.stderr)
        return 2
    counts = verify_counts(checked)
    print(f"{source}: {len(checked)} rows / 行")
    print(f"  verified / 已核实: {counts['verified']}")
    print(f"  not verified / 未通过: {counts['not_verified']}")
    print(f"  not checked / 未检查: {counts['not_checked']} (nothing stored / 无已存储的图片)")
    bad = checked[checked["verified"].eq(False).fillna(False).to_numpy()]
    if not bad.empty:
        columns = [c for c in ("row", "platform", "shop", "url", "verify_reason") if c in bad]
        with pd.option_context("display.width", 200, "display.max_colwidth", 90):
            print()
            print(bad[columns].to_string(index=False))
    if args.out:
        out = _write_table(checked, Path(args.out), "results")
        print(f"\nwritten to {out} / 已写入 {out}")
    return 0 if counts["not_verified"] == 0 else 1


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (its ``--help`` is the CLI reference)."""
    parser = argparse.ArgumentParser(
        prog="imgkit",
        description="Bulk product-image uploads to Chinese e-commerce platforms.",
    )
    parser.add_argument("--version", action="version", version=f"imgkit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    add_batch_commands(commands)
    add_misc_commands(commands)
    add_panel_command(commands)
    sandbox = commands.add_parser(
        "sandbox",
        help="serve the local emulator of all five platforms",
        description="Serve the sandbox: Taobao picture space (vv-tool), Taobao mini-app and "
        "Tmall (TOP), Douyin (fw199) and Qianmi, at their real paths, on loopback.",
    )
    sandbox.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (0: any free)")
    sandbox.add_argument("--host", default="127.0.0.1", help="address to listen on")
    sandbox.add_argument(
        "--print-shops", action="store_true", help="print a shops.toml pointing at the server"
    )
    sandbox.add_argument(
        "--log-level", default="warning", choices=["debug", "info", "warning", "error"]
    )
    sandbox.set_defaults(run=_sandbox)
    journal = commands.add_parser(
        "journal",
        help="list or export what the journal remembers (every image sent, where, its URL)",
        description="List the user's journal of uploads, newest first, or export it. Times "
        "are a date (2026-12-01), a date and time, or a duration ago (7d, 12h, 30m).",
    )
    journal.add_argument("--since", help="only entries changed since then (e.g. 7d)")
    journal.add_argument("--until", help="only entries changed before then")
    journal.add_argument("--platform", action="append", help="only this platform (repeatable)")
    journal.add_argument("--shop", action="append", help="only this shop (repeatable)")
    journal.add_argument(
        "--status",
        action="append",
        choices=["done", "pending", "failed", "sending"],
        help="only entries in this state (repeatable)",
    )
    journal.add_argument("--out", help="write the table to this .xlsx or .csv file")
    journal.add_argument("--limit", type=int, default=50, help="rows to print (default 50)")
    journal.add_argument("--journal", help="another journal file (default: the user's)")
    journal.set_defaults(run=_journal)
    check = commands.add_parser(
        "verify",
        help="download every stored image's URL and check it serves what was sent",
        description="Read a results workbook or CSV, download the URL of every uploaded or "
        "skipped row and compare it with what was sent (SHA-256; pixels for platforms "
        "that re-encode). Exit 0 when every checked row verified, 1 otherwise.",
    )
    check.add_argument("results", help="the results workbook (.xlsx) or .csv")
    check.add_argument("--out", help="write the results with verified / verify_reason here")
    check.add_argument("--concurrency", type=int, default=8, help="downloads at once")
    check.add_argument("--rate", type=float, default=10.0, help="downloads per second per host")
    check.add_argument("--timeout", type=float, default=30.0, help="seconds per download")
    check.add_argument(
        "--reencoded",
        action="store_true",
        help="compare every row as re-encoded (same pixel size, near-identical picture)",
    )
    check.set_defaults(run=_verify)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (:data:`imgkit.shells.cli_terminal.EXIT_CODES`).

    Errors end as one bilingual line on stderr, never a traceback.
    """
    from imgkit.errors import ImgkitError

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    lang = check_lang(getattr(args, "lang", "both"))
    try:
        status: int = args.run(args)
    except KeyboardInterrupt:
        error(args.command, "已中断", "interrupted", lang)
        return INTERRUPTED
    except ImgkitError as exc:
        # The library's messages are bilingual already, and never carry a secret.
        print(f"imgkit {args.command}: {exc.message}", file=sys.stderr)
        return CONFIG
    except (OSError, ValueError, tomllib.TOMLDecodeError) as exc:
        error(args.command, f"无法读取: {exc}", f"cannot read: {exc}", lang)
        return CONFIG
    except Exception as exc:
        if os.environ.get("IMGKIT_TRACEBACK"):  # for a bug report: the whole story
            raise
        kind = type(exc).__name__
        error(args.command, f"意外错误 {kind}: {exc}", f"unexpected error {kind}: {exc}", lang)
        return NOT_ALL_DONE
    return status


if __name__ == "__main__":
    sys.exit(main())
