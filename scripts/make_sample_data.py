"""Regenerate everything in ``sample_data/`` except its README.

Usage::

    python scripts/make_sample_data.py            # writes into sample_data/ next to scripts/
    python scripts/make_sample_data.py OUT_DIR    # writes the same files into OUT_DIR

What it writes (no network, no randomness, no timestamps):

- ``images/``: eight small product pictures drawn with Pillow (a mug, shoes, a T-shirt,
  bags, a cap, a bottle, a watch), JPEG and PNG, each well inside every platform's limits;
  one has a Chinese file name and one a space in its name, to exercise uploads of such
  names.
- ``batch.csv`` and ``batch.xlsx`` (sheet ``batch``): the same rows, one upload per row,
  covering all five platforms, with targets that exist in the sandbox's seed world
  (:func:`imgkit.sandbox.world.default_world`).  Every XLSX cell is text, so ids never
  turn into floats.
- ``shops.toml``: the sandbox credentials the batch rows refer to.

The output is byte-identical from run to run with the same Pillow, libjpeg and zlib
(``tests/test_sample_data.py`` checks the committed files against a fresh run): JPEG
quality and subsampling are fixed, no EXIF or PNG text chunks are written, and the XLSX
gets fixed document dates and zip-entry times.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sys
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from openpyxl import Workbook
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "sample_data"
BASE_URL = "http://127.0.0.1:8765"

RGB = tuple[int, int, int]
Box = tuple[float, float, float, float]
Painter = Callable[[ImageDraw.ImageDraw, int, int, RGB], None]

JPEG_OPTIONS: dict[str, object] = {
    "quality": 85,
    "subsampling": "4:2:0",
    "optimize": True,
    "progressive": False,
}

# --- product silhouettes ------------------------------------------------------------------
# Each painter draws into the product area: the full width and the top ~80 % of the height.


def _box(w: int, h: int, x0: float, y0: float, x1: float, y1: float) -> Box:
    """A box given in fractions of the canvas."""
    return (x0 * w, y0 * h, x1 * w, y1 * h)


def _pts(w: int, h: int, points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    return [(x * w, y * h) for x, y in points]


def paint_mug(d: ImageDraw.ImageDraw, w: int, h: int, c: RGB) -> None:
    line = max(6, w // 40)
    d.ellipse(_box(w, h, 0.56, 0.30, 0.80, 0.58), outline=c, width=line * 2)
    d.rounded_rectangle(_box(w, h, 0.22, 0.22, 0.64, 0.70), radius=w // 25, fill=c)
    d.ellipse(_box(w, h, 0.22, 0.19, 0.64, 0.26), fill=_shade(c, 0.7))
    for i in range(3):
        x = (0.33 + i * 0.1) * w
        d.arc((x - w * 0.03, 0.05 * h, x + w * 0.03, 0.16 * h), 90, 270, fill=c, width=line)


def paint_shoe(d: ImageDraw.ImageDraw, w: int, h: int, c: RGB) -> None:
    d.rounded_rectangle(_box(w, h, 0.10, 0.60, 0.90, 0.68), radius=w // 60, fill=(60, 60, 60))
    upper = [
        (0.12, 0.60),
        (0.14, 0.36),
        (0.30, 0.34),
        (0.42, 0.46),
        (0.62, 0.48),
        (0.86, 0.52),
        (0.89, 0.60),
    ]
    d.polygon(_pts(w, h, upper), fill=c)
    for i in range(4):
        x = (0.32 + i * 0.06) * w
        d.line(
            (x, 0.40 * h + i * 0.02 * h, x + 0.04 * w, 0.45 * h + i * 0.02 * h),
            fill=(255, 255, 255),
            width=max(3, w // 120),
        )


def paint_tshirt(d: ImageDraw.ImageDraw, w: int, h: int, c: RGB) -> None:
    shirt = [
        (0.36, 0.12),
        (0.44, 0.16),
        (0.56, 0.16),
        (0.64, 0.12),
        (0.88, 0.24),
        (0.80, 0.38),
        (0.72, 0.34),
        (0.72, 0.74),
        (0.28, 0.74),
        (0.28, 0.34),
        (0.20, 0.38),
        (0.12, 0.24),
    ]
    d.polygon(_pts(w, h, shirt), fill=c, outline=_shade(c, 0.6), width=max(2, w // 150))
    d.arc(_box(w, h, 0.42, 0.10, 0.58, 0.20), 0, 180, fill=_shade(c, 0.6), width=max(2, w // 150))


def paint_tote(d: ImageDraw.ImageDraw, w: int, h: int, c: RGB) -> None:
    strap = max(8, w // 40)
    d.arc(_box(w, h, 0.32, 0.10, 0.68, 0.46), 180, 360, fill=_shade(c, 0.6), width=strap)
    d.polygon(_pts(w, h, [(0.22, 0.28), (0.78, 0.28), (0.84, 0.76), (0.16, 0.76)]), fill=c)
    d.rectangle(_box(w, h, 0.36, 0.44, 0.64, 0.58), outline=_shade(c, 0.6), width=strap // 2)


def paint_cap(d: ImageDraw.ImageDraw, w: int, h: int, c: RGB) -> None:
    d.pieslice(_box(w, h, 0.18, 0.22, 0.72, 0.82), 180, 360, fill=c)
    d.ellipse(_box(w, h, 0.52, 0.46, 0.90, 0.58), fill=_shade(c, 0.7))
    d.ellipse(_box(w, h, 0.42, 0.19, 0.48, 0.25), fill=_shade(c, 0.5))


def paint_bottle(d: ImageDraw.ImageDraw, w: int, h: int, c: RGB) -> None:
    d.rounded_rectangle(_box(w, h, 0.40, 0.06, 0.60, 0.16), radius=w // 60, fill=(70, 70, 70))
    d.rounded_rectangle(_box(w, h, 0.30, 0.14, 0.70, 0.76), radius=w // 10, fill=c)
    d.rectangle(_box(w, h, 0.30, 0.36, 0.70, 0.50), fill=_shade(c, 0.75))


def paint_backpack(d: ImageDraw.ImageDraw, w: int, h: int, c: RGB) -> None:
    d.arc(_box(w, h, 0.38, 0.06, 0.62, 0.20), 180, 360, fill=_shade(c, 0.6), width=w // 40)
    d.rounded_rectangle(_box(w, h, 0.20, 0.12, 0.80, 0.76), radius=w // 8, fill=c)
    d.rounded_rectangle(_box(w, h, 0.30, 0.46, 0.70, 0.70), radius=w // 20, fill=_shade(c, 0.8))
    d.line(_pts(w, h, [(0.34, 0.52), (0.66, 0.52)]), fill=(230, 230, 230), width=w // 100)


def paint_watch(d: ImageDraw.ImageDraw, w: int, h: int, c: RGB) -> None:
    d.rounded_rectangle(_box(w, h, 0.42, 0.04, 0.58, 0.76), radius=w // 40, fill=(40, 40, 40))
    d.ellipse(_box(w, h, 0.30, 0.22, 0.70, 0.58), fill=c)
    d.ellipse(_box(w, h, 0.34, 0.25, 0.66, 0.55), fill=(250, 250, 245))
    cx, cy = 0.5 * w, 0.40 * h
    d.line((cx, cy, cx, cy - 0.11 * h), fill=(30, 30, 30), width=max(3, w // 150))
    d.line((cx, cy, cx + 0.08 * w, cy + 0.03 * h), fill=(30, 30, 30), width=max(3, w // 150))


def _shade(c: RGB, factor: float) -> RGB:
    return (int(c[0] * factor), int(c[1] * factor), int(c[2] * factor))


# --- the images ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One sample image: file name, pixel size, colours, what is drawn and its label."""

    name: str
    size: tuple[int, int]
    background: RGB
    product: RGB
    painter: Painter
    label: str

    @property
    def format(self) -> str:
        return "PNG" if self.name.endswith(".png") else "JPEG"


SAMPLES: tuple[Sample, ...] = (
    Sample("mug.jpg", (800, 800), (236, 228, 214), (200, 70, 60), paint_mug, "CERAMIC MUG"),
    Sample(
        "running shoe.jpg", (800, 800), (214, 228, 240), (40, 110, 200), paint_shoe, "RUNNING SHOE"
    ),
    Sample(
        "白色T恤.jpg", (600, 800), (120, 150, 170), (248, 248, 248), paint_tshirt, "WHITE T-SHIRT"
    ),
    Sample(
        "tote_bag.jpg", (750, 1000), (232, 222, 236), (210, 190, 150), paint_tote, "CANVAS TOTE"
    ),
    Sample("backpack.jpg", (600, 900), (222, 236, 222), (60, 120, 80), paint_backpack, "BACKPACK"),
    Sample("watch.jpg", (1000, 1000), (240, 236, 226), (170, 140, 60), paint_watch, "WATCH"),
    Sample("cap.png", (640, 640), (250, 240, 200), (30, 60, 120), paint_cap, "BASEBALL CAP"),
    Sample(
        "bottle.png", (540, 720), (210, 236, 236), (120, 130, 140), paint_bottle, "STEEL BOTTLE"
    ),
)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's built-in font (no font files needed)."""
    return ImageFont.load_default(size=size)


def render(sample: Sample) -> bytes:
    """The encoded bytes of ``sample``."""
    w, h = sample.size
    img = Image.new("RGB", (w, h), sample.background)
    d = ImageDraw.Draw(img)
    # A soft floor: a few bands slightly darker than the background.
    for i in range(6):
        band_top = int(h * (0.70 + i * 0.02))
        d.rectangle((0, band_top, w, h), fill=_shade(sample.background, 1 - 0.015 * (i + 1)))
    d.ellipse(_box(w, h, 0.20, 0.72, 0.80, 0.80), fill=_shade(sample.background, 0.8))
    sample.painter(d, w, h, sample.product)
    # The label on a banner at the bottom.
    banner_top = int(h * 0.84)
    d.rectangle((0, banner_top, w, h), fill=(255, 255, 255))
    font = _font(max(16, w // 16))
    left, top, right, bottom = d.textbbox((0, 0), sample.label, font=font)
    x = (w - (right - left)) / 2 - left
    y = banner_top + (h - banner_top - (bottom - top)) / 2 - top
    d.text((x, y), sample.label, font=font, fill=(40, 40, 40))
    out = io.BytesIO()
    if sample.format == "PNG":
        img.save(out, format="PNG", optimize=True)
    else:
        img.save(out, format="JPEG", **JPEG_OPTIONS)
    return out.getvalue()


# --- the batch ----------------------------------------------------------------------------

COLUMNS = (
    "platform",
    "shop",
    "file",
    "target",
    "title",
    "position",
    "replace_id",
    "is_major",
    "is_rectangle",
    "client_type",
)

# One tuple per row, in COLUMNS order: platform, shop, file, target, title, position,
# replace_id, is_major, is_rectangle, client_type.
# fmt: off
ROWS: tuple[tuple[str, ...], ...] = (
    ("taobao_picture", "tb_picture_main", "images/mug.jpg", "0",
     "陶瓷马克杯 ceramic mug", "", "", "", "", "client:computer"),
    ("taobao_picture", "tb_picture_main", "images/白色T恤.jpg", "1657717355974335419",
     "白色T恤 正面", "", "", "", "", "client:phone"),
    ("taobao_picture", "tb_picture_oauth", "images/bottle.png", "0",
     "", "", "", "", "", "client:phone"),
    ("taobao_miniapp", "miniapp_main", "images/cap.png", "3000000012345",
     "夏季棒球帽 summer cap", "", "", "", "", ""),
    ("taobao_miniapp", "miniapp_main", "images/watch.jpg", "3000000012345",
     "石英手表", "", "", "", "", ""),
    ("tmall_item", "tmall_store", "images/tote_bag.jpg", "1489161940",
     "帆布托特包 主图 3:4", "", "", "true", "true", ""),
    ("tmall_item", "tmall_store", "images/mug.jpg", "1489161940",
     "马克杯 细节", "1", "", "false", "", ""),
    ("tmall_item", "tmall_store", "images/running shoe.jpg", "1489161941",
     "跑步鞋 side view", "2", "", "false", "", ""),
    ("tmall_item", "tmall_store", "images/白色T恤.jpg", "1489161942",
     "白色T恤 主图", "", "", "true", "true", ""),
    ("doudian", "douyin_shop", "images/running shoe.jpg", "0",
     "跑步鞋 running shoe", "", "", "", "", ""),
    ("doudian", "douyin_shop", "images/bottle.png", "73691281073984637961425",
     "不锈钢保温杯", "", "", "", "", ""),
    ("doudian", "douyin_shop", "images/backpack.jpg", "73691281073984637961425",
     "双肩背包", "", "", "", "", ""),
    ("qianmi_sku", "qianmi_shop", "images/mug.jpg", "18353/g1234",
     "马克杯 红色", "0", "", "", "", ""),
    ("qianmi_sku", "qianmi_shop", "images/cap.png", "18353/g1235",
     "棒球帽 深蓝", "0", "", "", "", ""),
    ("qianmi_sku", "qianmi_shop", "images/backpack.jpg", "18355/g3001",
     "双肩背包 绿色", "1", "", "", "", ""),
)
# fmt: on


def write_csv(path: Path) -> None:
    """UTF-8 (no BOM), ``\\n`` line ends, fields quoted only when needed."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(ROWS)


FIXED_DATE = "2024-01-01T00:00:00Z"
FIXED_ZIP_TIME = (2024, 1, 1, 0, 0, 0)


def write_xlsx(path: Path) -> None:
    """Sheet ``batch``; every value a text cell (empty values are blank cells)."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "batch"
    ws.append(list(COLUMNS))
    for row in ROWS:
        ws.append([value if value else None for value in row])
    for row_cells in ws.iter_rows(min_row=2):
        for cell in row_cells:
            if cell.value is not None:
                cell.data_type = "s"  # text, even for digit-only ids
                cell.number_format = "@"
    ws.freeze_panes = "A2"
    raw = io.BytesIO()
    wb.save(raw)
    path.write_bytes(_normalize_zip(raw.getvalue()))


def _normalize_zip(data: bytes) -> bytes:
    """Fixed document dates and entry times, so the workbook is byte-identical each run."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                text = content.decode("utf-8")
                text = re.sub(
                    r"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)",
                    rf"\g<1>{FIXED_DATE}\g<3>",
                    text,
                )
                content = text.encode("utf-8")
            entry = zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            dst.writestr(entry, content)
    return out.getvalue()


# --- the shops ----------------------------------------------------------------------------

SHOPS: tuple[tuple[str, str, dict[str, str]], ...] = (
    (
        "tb_picture_main",
        "taobao_picture",
        {
            "shop_id": "sbx_tb_shop_1",
            "access_token": "sbx-vv-token-1",
        },
    ),
    (
        "tb_picture_oauth",
        "taobao_picture",
        {
            "shop_id": "sbx_tb_shop_2",
            "client_id": "sbx-vv-client",
            "client_secret": "sbx-vv-client-secret",
        },
    ),
    (
        "miniapp_main",
        "taobao_miniapp",
        {
            "app_key": "21000001",
            "app_secret": "sbx-top-secret-a",
            "session": "sbx-session-miniapp-1",
            "sign_method": "hmac",
        },
    ),
    (
        "tmall_store",
        "tmall_item",
        {
            "app_key": "21000001",
            "app_secret": "sbx-top-secret-a",
            "session": "sbx-session-tmall-1",
            "sign_method": "hmac-sha256",
        },
    ),
    (
        "tmall_outlet",
        "tmall_item",
        {
            "app_key": "21000002",
            "app_secret": "sbx-top-secret-b",
            "session": "sbx-session-tmall-2",
            "sign_method": "md5",
        },
    ),
    (
        "douyin_shop",
        "doudian",
        {
            "appid": "sbx-fw199-app",
            "app_secret": "sbx-fw199-secret",
            "seller_nick": "38173182",
        },
    ),
    (
        "qianmi_shop",
        "qianmi_sku",
        {
            "app_key": "10009001",
            "app_secret": "sbx-qianmi-secret",
            "access_token": "sbx-qm-token-1",
        },
    ),
)

SHOPS_HEADER = """\
# Shops for the sample batch (sample_data/batch.csv, batch.xlsx).
#
# These are SANDBOX credentials from imgkit.sandbox.world.default_world(): they only work
# against the local emulator and are safe to publish.  Start it with `imgkit sandbox`,
# which serves on http://127.0.0.1:8765 by default.  For a real shop, copy a table, point
# base_url at the platform and put the secrets in the environment (see the docs).
#
# Generated by scripts/make_sample_data.py: edit that script, not this file.
"""


def shops_toml() -> str:
    """The text of ``shops.toml`` (one table per shop)."""
    parts = [SHOPS_HEADER]
    for name, platform, fields in SHOPS:
        lines = [
            f"[{name}]",
            f"platform = {_toml_str(platform)}",
            f"base_url = {_toml_str(BASE_URL)}",
        ]
        lines += [f"{key} = {_toml_str(value)}" for key, value in fields.items()]
        if name == "tmall_outlet":
            lines.insert(0, "# A second seller (item 1489162001); not used by the sample batch.")
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def _toml_str(value: str) -> str:
    # A JSON string of plain text is a valid TOML basic string.
    return json.dumps(value, ensure_ascii=False)


# --- entry point --------------------------------------------------------------------------


def generate(out_dir: Path) -> list[Path]:
    """Write every sample file under ``out_dir``; return the paths written."""
    images = out_dir / "images"
    images.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for sample in SAMPLES:
        path = images / sample.name
        path.write_bytes(render(sample))
        written.append(path)
    write_csv(out_dir / "batch.csv")
    write_xlsx(out_dir / "batch.xlsx")
    (out_dir / "shops.toml").write_text(shops_toml(), encoding="utf-8", newline="\n")
    written += [out_dir / "batch.csv", out_dir / "batch.xlsx", out_dir / "shops.toml"]
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "out_dir",
        nargs="?",
        type=Path,
        default=DEFAULT_OUT,
        help=f"where to write (default: {DEFAULT_OUT})",
    )
    args = parser.parse_args(argv)
    for path in generate(args.out_dir):
        print(f"{path.stat().st_size:>8}  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
