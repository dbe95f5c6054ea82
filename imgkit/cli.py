"""The ``imgkit`` command line.

``imgkit sandbox [--port N] [--host H]`` serves the sandbox of all five platforms and
prints the shops configuration that points at it; ``imgkit demo`` uploads the sample batch
to the embedded sandbox, prints a summary and writes the results workbook.

Example
-------
>>> main(["--version"])  # doctest: +ELLIPSIS
imgkit ...
0
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from imgkit import __version__
from imgkit.sandbox import DEFAULT_PORT, Sandbox, SandboxError


def _shops_toml(shops: dict[str, dict[str, str]]) -> str:
    lines = []
    for name, fields in shops.items():
        lines.append(f"[{name}]")
        lines.extend(f'{key} = "{value}"' for key, value in fields.items())
        lines.append("")
    return "\n".join(lines)


def _sandbox(args: argparse.Namespace) -> int:
    def ready(sandbox: Sandbox) -> None:
        print(f"imgkit sandbox serving all five platforms at {sandbox.base_url}")
        print(f"  control: {sandbox.base_url}/_sandbox/stats, /_sandbox/faults, /_sandbox/reset")
        if args.print_shops:
            print("\n# shops.toml for this sandbox (sandbox credentials, safe to share)\n")
            print(_shops_toml(sandbox.shops))
        print("Press Ctrl-C to stop.", flush=True)

    try:
        Sandbox(host=args.host, port=args.port, log_level=args.log_level).serve_forever(ready)
    except SandboxError as exc:
        print(f"imgkit sandbox: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


def _demo(args: argparse.Namespace) -> int:
    import pandas as pd

    from imgkit.results import summary
    from imgkit.uploads import upload

    batch = Path(args.batch)
    if not batch.exists():
        print(
            f"imgkit demo: no batch at {batch} (run it from the repository root, or pass "
            f"--batch) / 找不到批次文件 {batch}",
            file=sys.stderr,
        )
        return 2
    with Sandbox() as sandbox:
        print(f"imgkit demo: sandbox of all five platforms at {sandbox.base_url}")
        results = upload(batch, shops=sandbox.shops, journal=False, progress=True)
        stats = sandbox.stats()
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print()
        print(summary(results).to_string())
        print()
        print(results[["row", "platform", "shop", "status", "url", "image_id"]].to_string())
    results.to_excel(args.out, index=False, sheet_name="results")
    print(f"\nresults workbook: {args.out}")
    print(f"sandbox: {stats['total']['stored']} stored, {stats['total']['duplicates']} duplicates")
    return 0 if results["status"].isin(["uploaded", "skipped"]).all() else 1


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (its ``--help`` is the CLI reference)."""
    parser = argparse.ArgumentParser(
        prog="imgkit",
        description="Bulk product-image uploads to Chinese e-commerce platforms.",
    )
    parser.add_argument("--version", action="version", version=f"imgkit {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
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
    demo = commands.add_parser(
        "demo",
        help="upload the sample batch to the embedded sandbox and write a results workbook",
        description="Start the sandbox, upload sample_data/batch.csv to all five platforms "
        "with progress bars, print a summary and write the results to Excel.",
    )
    demo.add_argument("--batch", default="sample_data/batch.csv", help="the batch to upload")
    demo.add_argument("--out", default="imgkit-demo-results.xlsx", help="results workbook")
    demo.set_defaults(run=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    status: int = args.run(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
