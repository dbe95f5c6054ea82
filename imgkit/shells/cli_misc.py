"""The commands around a run: ``template``, ``shops check`` and ``demo``.

Example
-------
>>> import argparse
>>> parser = argparse.ArgumentParser(prog="imgkit")
>>> add_misc_commands(parser.add_subparsers())
>>> parser.parse_args(["shops", "check", "--json"]).json
True
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from imgkit.shells.cli_batch import RESULT_COLUMNS, _detail, add_common, finish, shops_for
from imgkit.shells.cli_terminal import CONFIG, NOT_ALL_DONE, OK, error, exit_status
from imgkit.words import say

CHECK_COLUMNS = ["shop", "platform", "category", "message"]


def cmd_template(args: argparse.Namespace) -> int:
    from imgkit.excel import template

    written = template(args.path, shops=args.shops, platforms=args.platform, lang=args.lang)
    print(say(f"已写入批次模板 {written}", f"batch template written to {written}", args.lang))
    return OK


def cmd_shops_check(args: argparse.Namespace) -> int:
    from imgkit.engine.shop_check import check_shops

    with shops_for(args) as shops:
        checked = check_shops(shops, timeout=args.timeout, lang=args.lang)
    good = int(checked["ok"].eq(True).sum())
    refused = int(checked["ok"].eq(False).sum())
    unchecked = len(checked) - good - refused
    line = say(
        f"共 {len(checked)} 个店铺: {good} 个有效, {refused} 个未通过, {unchecked} 个无法检查",
        f"{len(checked)} shops: {good} OK, {refused} not OK, {unchecked} cannot be checked",
        args.lang,
    )
    finish(args, checked, CHECK_COLUMNS, line, results=False)
    return OK if refused == 0 else NOT_ALL_DONE


def cmd_demo(args: argparse.Namespace) -> int:
    from imgkit.engine.uploads import upload
    from imgkit.excel import to_excel
    from imgkit.samples import sample_batch
    from imgkit.sandbox import Sandbox
    from imgkit.shells.cli_terminal import table

    batch = Path(args.batch) if args.batch else sample_batch()
    if not batch.exists():
        error("demo", f"找不到批次文件 {batch}", f"no batch at {batch}", args.lang)
        return CONFIG
    with Sandbox() as sandbox:
        where = say("五个平台的沙箱", "sandbox of the five platforms", args.lang)
        print(f"{where}: {sandbox.base_url}")
        results = upload(batch, shops=sandbox.shops, journal=False,
                         progress=sys.stderr.isatty(), lang=args.lang)  # fmt: skip
        stats = sandbox.stats()
    from imgkit.report.results import summary_line

    print(table(_detail(results), RESULT_COLUMNS))
    run = {"command": "demo", "batch": str(batch), "lang": args.lang}
    written = to_excel(results, args.out, lang=args.lang, settings=run)
    print(summary_line(results, args.lang))
    print(say(f"结果工作簿: {written}", f"results workbook: {written}", args.lang))
    total = stats["total"]
    print(f"sandbox: {total['stored']} stored, {total['duplicates']} duplicates")
    return exit_status(results)


def add_misc_commands(commands: Any) -> None:
    """Add ``template``, ``shops`` (``shops check``) and ``demo`` to ``commands``."""
    template = commands.add_parser(
        "template",
        help="write an empty batch workbook to fill in (columns, choices, help)",
        description="Write a batch template: the columns imgkit reads, with drop-down "
        "lists of your shops and platforms, and a sheet explaining each column.",
    )
    template.add_argument("path", help="the workbook to write (.xlsx)")
    template.add_argument("--shops", help="the shops file whose shops the template offers")
    template.add_argument(
        "--platform", action="append", help="only this platform's columns (repeatable)"
    )
    template.add_argument(
        "--lang", default="both", choices=["zh", "en", "both"], help="language of the headers"
    )
    template.set_defaults(run=cmd_template)
    shops = commands.add_parser(
        "shops",
        help="work with the shops file (shops check: are the credentials accepted?)",
        description="Commands about the shops file.",
    )
    actions = shops.add_subparsers(dest="action", required=True)
    check = actions.add_parser(
        "check",
        help="ask each platform whether it accepts the shop's credentials",
        description="For every shop, make a look-up that stores nothing: the platform "
        "answering means the credentials are OK; its authentication code means they are "
        "refused. A shop whose platform has no such call cannot be checked. Exit 1 when "
        "a shop did not pass.",
    )
    add_common(check, sheet=False, out_help="write the table to .xlsx, .csv or .json")
    check.add_argument("--timeout", type=float, default=20.0, help="seconds per request")
    check.set_defaults(run=cmd_shops_check)
    demo = commands.add_parser(
        "demo",
        help="upload the sample batch to the embedded sandbox and write a results workbook",
        description="Start the sandbox, upload the sample batch to all five platforms "
        "with progress bars, print a summary and write the styled results workbook.",
    )
    demo.add_argument(
        "--batch", default=None, help="the batch to upload (default: the sample batch)"
    )
    demo.add_argument("--out", default="imgkit-demo-results.xlsx", help="results workbook")
    demo.add_argument(
        "--lang", default="both", choices=["zh", "en", "both"], help="language of messages"
    )
    demo.set_defaults(run=cmd_demo)
