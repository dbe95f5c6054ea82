"""The shipped ``sample_data/`` is valid, in step with the sandbox world, and reproducible.

No network: images are checked with Pillow, credentials and targets against
:func:`imgkit.sandbox.world.default_world`, and ``scripts/make_sample_data.py`` is run into a
temporary directory to compare with the committed files.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from openpyxl import load_workbook
from PIL import Image

from imgkit.platforms import platform_keys
from imgkit.sandbox.world import MINIAPP_METHOD, TMALL_METHOD, World, default_world

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
IMAGES = SAMPLE / "images"
SCRIPT = ROOT / "scripts" / "make_sample_data.py"

# The sample batch covers every built-in platform (declared once, in the adapters).
PLATFORMS = set(platform_keys())
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
BASE_URL = "http://127.0.0.1:8765"
MAX_SAMPLE_BYTES = 120 * 1024
# Per platform: the byte limit and the formats it takes (platforms.md).
LIMITS: dict[str, tuple[int, set[str]]] = {
    "taobao_picture": (3 * 1024 * 1024, {"png", "jpeg", "gif"}),
    "taobao_miniapp": (3 * 1024 * 1024, {"png", "jpeg", "gif"}),
    "tmall_item": (3_145_728, {"png", "jpeg", "gif"}),
    "doudian": (10 * 1024 * 1024, {"png", "jpeg"}),
    "qianmi_sku": (1024 * 1024, {"png", "jpeg", "gif"}),
}
EXTENSIONS = {".jpg": "jpeg", ".jpeg": "jpeg", ".png": "png"}

IMAGE_FILES = sorted(p for p in IMAGES.iterdir() if p.is_file())
WORLD = default_world()


def _decode(path: Path) -> tuple[str, int, int]:
    """Open and fully decode ``path``; return (format, width, height)."""
    with Image.open(path) as img:
        img.load()
        assert img.format is not None
        return img.format.lower(), img.width, img.height


def _is_phone(width: int, height: int) -> bool:
    return 480 <= width <= 620 and height <= 960


def _read_csv() -> pd.DataFrame:
    return pd.read_csv(SAMPLE / "batch.csv", dtype=str, encoding="utf-8")


def _read_xlsx() -> pd.DataFrame:
    return pd.read_excel(SAMPLE / "batch.xlsx", sheet_name="batch", dtype=str)


def _shops() -> dict[str, dict[str, Any]]:
    with (SAMPLE / "shops.toml").open("rb") as fh:
        return tomllib.load(fh)


def _rows() -> list[dict[str, str]]:
    """Batch rows with empty cells as ``""``."""
    return [
        {str(key): ("" if pd.isna(value) else str(value)) for key, value in row.items()}
        for row in _read_csv().to_dict("records")
    ]


# --- images -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", IMAGE_FILES, ids=[p.name for p in IMAGE_FILES])
def test_image_decodes_and_fits_every_platform(path: Path) -> None:
    fmt, width, height = _decode(path)
    assert EXTENSIONS.get(path.suffix.lower()) == fmt, "extension must match the real format"
    size = path.stat().st_size
    assert 0 < size <= MAX_SAMPLE_BYTES
    for platform, (max_bytes, formats) in LIMITS.items():
        assert size <= max_bytes, platform
        assert fmt in formats, platform
    assert min(width, height) >= 300
    assert max(width, height) <= 2000


def test_image_set_covers_the_interesting_cases() -> None:
    facts = {p.name: _decode(p) for p in IMAGE_FILES}
    assert 6 <= len(facts) <= 12
    formats = Counter(fmt for fmt, _, _ in facts.values())
    assert formats["png"] >= 2
    assert formats["jpeg"] > formats["png"]
    assert any((w, h) == (600, 800) for _, w, h in facts.values())
    assert sum(_is_phone(w, h) for _, w, h in facts.values()) >= 2
    assert any(any(ord(ch) > 0x2E80 for ch in name) for name in facts), "a Chinese name"
    assert any(" " in name for name in facts), "a name with a space"


# --- batch files --------------------------------------------------------------------------


def test_csv_and_xlsx_hold_the_same_rows() -> None:
    csv_frame = _read_csv()
    xlsx_frame = _read_xlsx()
    assert tuple(csv_frame.columns) == COLUMNS
    pd.testing.assert_frame_equal(csv_frame, xlsx_frame)


def test_xlsx_stores_every_value_as_text() -> None:
    wb = load_workbook(SAMPLE / "batch.xlsx")
    assert wb.sheetnames == ["batch"]
    ws = wb["batch"]
    values = [cell for row in ws.iter_rows(min_row=2) for cell in row if cell.value is not None]
    assert values
    assert all(cell.data_type == "s" and isinstance(cell.value, str) for cell in values)


def test_batch_covers_all_platforms() -> None:
    rows = _rows()
    assert 12 <= len(rows) <= 15
    assert {row["platform"] for row in rows} == PLATFORMS
    assert any(any(ord(ch) > 0x2E80 for ch in row["title"]) for row in rows)


def test_batch_rows_point_at_files_and_defined_shops() -> None:
    shops = _shops()
    for row in _rows():
        path = SAMPLE / row["file"]
        assert path.is_file(), row["file"]
        assert path.resolve().is_relative_to(IMAGES.resolve())
        assert row["shop"] in shops, row["shop"]
        assert shops[row["shop"]]["platform"] == row["platform"]


def test_batch_rows_fit_their_platform() -> None:
    for row in _rows():
        path = SAMPLE / row["file"]
        fmt, width, height = _decode(path)
        max_bytes, formats = LIMITS[row["platform"]]
        assert path.stat().st_size <= max_bytes, row
        assert fmt in formats, row
        assert len(row["title"]) <= 50, row
        if row["client_type"] == "client:phone":
            assert _is_phone(width, height), row
        if row["is_rectangle"] == "true":
            assert width * 4 == height * 3, row
        for flag in ("is_major", "is_rectangle"):
            assert row[flag] in ("", "true", "false"), row
        if row["platform"] != "taobao_picture":
            assert row["client_type"] == "", row
        else:
            assert row["client_type"] in ("", "client:computer", "client:phone"), row


def test_batch_targets_exist_in_the_sandbox_world() -> None:
    shops = _shops()
    rows = _rows()
    for row in rows:
        shop = shops[row["shop"]]
        target = row["target"]
        assert row["replace_id"] == "", "no replace ids: the seed world has no uploads yet"
        platform = row["platform"]
        if platform == "taobao_picture":
            assert target in WORLD.vv_shops[shop["shop_id"]].categories, row
        elif platform == "taobao_miniapp":
            assert WORLD.miniapps.get(target) == shop["app_key"], row
        elif platform == "tmall_item":
            item = WORLD.tmall_items[target]
            assert item.problem == "", row
            assert item.seller == WORLD.top_sessions[shop["session"]].seller, row
        elif platform == "doudian":
            seller = WORLD.doudian_sellers[shop["seller_nick"]]
            assert target in seller.folders, row
            assert seller.problem == "", row
        else:
            num_iid, _, sku_id = target.partition("/")
            sku = WORLD.qianmi_skus[(num_iid, sku_id)]
            assert sku.specs_enabled, row
            assert sku.user == WORLD.qianmi_tokens[shop["access_token"]].user, row
            assert row["position"] in {"0", "1", "2", "3", "4"}, row
    # Room for the new images: Tmall items take 5 images, Qianmi SKUs 5.
    tmall = Counter(row["target"] for row in rows if row["platform"] == "tmall_item")
    for num_iid, count in tmall.items():
        assert count <= 4, num_iid
        assert WORLD.tmall_items[num_iid].images + count <= 5, num_iid
    qianmi = Counter(row["target"] for row in rows if row["platform"] == "qianmi_sku")
    for target, count in qianmi.items():
        num_iid, _, sku_id = target.partition("/")
        assert WORLD.qianmi_skus[(num_iid, sku_id)].images + count <= 5, target


# --- shops --------------------------------------------------------------------------------


def _check_vv(shop: dict[str, Any], world: World) -> None:
    shop_id = shop["shop_id"]
    assert shop_id in world.vv_shops
    if "access_token" in shop:
        assert "client_id" not in shop
        assert "client_secret" not in shop
        clients = [c for c in world.vv_clients.values() if shop["access_token"] in c.tokens]
        assert len(clients) == 1
        client = clients[0]
    else:
        client = world.vv_clients[shop["client_id"]]
        assert client.client_secret == shop["client_secret"]
    assert client.problem == ""
    assert shop_id in client.shops


def _check_top(shop: dict[str, Any], world: World) -> None:
    app = world.top_apps[shop["app_key"]]
    assert app.secret == shop["app_secret"]
    method = TMALL_METHOD if shop["platform"] == "tmall_item" else MINIAPP_METHOD
    assert app.apis is None or method in app.apis
    assert app.daily_quota is None
    assert app.ip_whitelist is None
    session = world.top_sessions[shop["session"]]
    assert session.app_key == shop["app_key"]
    assert session.problem == ""
    assert shop.get("sign_method", "md5") in ("md5", "hmac", "hmac-sha256")


def _check_fw199(shop: dict[str, Any], world: World) -> None:
    app = world.fw199_apps[shop["appid"]]
    assert app.secret == shop["app_secret"]
    assert app.problem == ""
    assert shop["seller_nick"] in app.sellers
    assert world.doudian_sellers[shop["seller_nick"]].problem == ""


def _check_qianmi(shop: dict[str, Any], world: World) -> None:
    app = world.qianmi_apps[shop["app_key"]]
    assert app.secret == shop["app_secret"]
    assert app.problem == ""
    token = world.qianmi_tokens[shop["access_token"]]
    assert token.app_key == shop["app_key"]
    assert token.problem == ""


CHECKS = {
    "taobao_picture": _check_vv,
    "taobao_miniapp": _check_top,
    "tmall_item": _check_top,
    "doudian": _check_fw199,
    "qianmi_sku": _check_qianmi,
}
FIELDS = {
    "taobao_picture": {"shop_id", "access_token", "client_id", "client_secret"},
    "taobao_miniapp": {"app_key", "app_secret", "session", "sign_method"},
    "tmall_item": {"app_key", "app_secret", "session", "sign_method"},
    "doudian": {"appid", "app_secret", "seller_nick"},
    "qianmi_sku": {"app_key", "app_secret", "access_token"},
}


@pytest.mark.parametrize("name", sorted(_shops()))
def test_shop_credentials_exist_in_the_sandbox_world(name: str) -> None:
    shop = _shops()[name]
    platform = shop["platform"]
    assert platform in PLATFORMS
    assert shop["base_url"] == BASE_URL
    assert set(shop) - {"platform", "base_url"} <= FIELDS[platform]
    assert all(isinstance(value, str) and value for value in shop.values())
    CHECKS[platform](shop, WORLD)


def test_shops_show_every_credential_style() -> None:
    shops = _shops().values()
    pictures = [s for s in shops if s["platform"] == "taobao_picture"]
    assert any("access_token" in s for s in pictures)
    assert any("client_id" in s for s in pictures)
    top = [s for s in shops if s["platform"] in ("taobao_miniapp", "tmall_item")]
    assert len({s.get("sign_method", "md5") for s in top}) >= 2
    header = (SAMPLE / "shops.toml").read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("#")


# --- reproducibility ----------------------------------------------------------------------


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "README.md"
    }


def test_script_reproduces_the_committed_files(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path / "out")],
        check=True,
        capture_output=True,
        timeout=60,
    )
    fresh = _tree(tmp_path / "out")
    committed = _tree(SAMPLE)
    assert sorted(fresh) == sorted(committed)
    differing = [name for name in fresh if fresh[name] != committed[name]]
    assert not differing, (
        f"regenerate with `python scripts/make_sample_data.py` and commit: {differing}"
    )
