"""Vectorized validation on real files: every rule, every awkward image, no exceptions."""

from __future__ import annotations

import inspect
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pandas as pd
import pytest
from PIL import Image
from test_probe_heic import heic_bytes

import imgkit
import imgkit.intake.rules as rules
from imgkit.intake.probe import clear_cache, probe_bytes
from imgkit.intake.rules import RULES
from imgkit.intake.validation import issues_table, validate
from imgkit.platforms import platform_keys
from imgkit.sandbox import sandbox_shops

SHOPS = sandbox_shops("http://127.0.0.1:9")
TARGETS = {
    "taobao_picture": ("tb_picture_main", "0"),
    "taobao_miniapp": ("miniapp_main", "3000000012345"),
    "tmall_item": ("tmall_store", "1489161940"),
    "doudian": ("douyin_shop", "0"),
    "qianmi_sku": ("qianmi_shop", "18353/g1234"),
}


def save(path: Path, img: Image.Image, fmt: str, **kw: Any) -> Path:
    img.save(path, fmt, **kw)
    return path


def jpeg(tmp: Path, name: str = "a.jpg", size: tuple[int, int] = (300, 300), **kw: Any) -> Path:
    return save(tmp / name, Image.new("RGB", size, (200, 30, 30)), "JPEG", **kw)


def row(platform: str, file: Path | str, **options: str) -> dict[str, Any]:
    shop, target = TARGETS[platform]
    return {"platform": platform, "shop": shop, "file": str(file), "target": target, **options}


def check(*rows: dict[str, Any], shops: Any = SHOPS) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows)).fillna("")
    frame["row"] = range(2, len(frame) + 2)
    return validate(frame, shops=shops)


def codes(result: pd.DataFrame, index: int = 0) -> set[str]:
    return {c for c in str(result.loc[index, "issues"]).split(";") if c}


# --- clean rows, and the shape of the answer ----------------------------------------------


@pytest.mark.parametrize("platform", sorted(TARGETS))
def test_a_clean_row_passes_on_every_platform(tmp_path: Path, platform: str) -> None:
    result = check(row(platform, jpeg(tmp_path, "白色 T恤.jpg")))
    assert result.loc[0, "ok"], result.loc[0, "message"]
    assert result.loc[0, "issues"] == ""
    assert result.loc[0, "platform_key"] == platform
    assert (result.loc[0, "format"], result.loc[0, "width"]) == ("jpeg", 300)
    assert len(cast(str, result.loc[0, "sha256"])) == 64


def test_same_index_and_extra_columns_kept(tmp_path: Path) -> None:
    frame = pd.DataFrame([row("tmall_item", jpeg(tmp_path)) | {"note": "keep me"}])
    frame.index = pd.Index([17])
    frame["row"] = [19]
    result = validate(frame, shops=SHOPS)
    assert list(result.index) == [17]
    assert result.loc[17, "note"] == "keep me"
    assert result.loc[17, "row"] == 19


def test_revalidating_a_validated_frame_gives_the_same_answer(tmp_path: Path) -> None:
    first = check(row("tmall_item", jpeg(tmp_path)), row("doudian", tmp_path / "nope.jpg"))
    again = validate(first, shops=SHOPS)
    pd.testing.assert_frame_equal(first, again)


# --- each rule ------------------------------------------------------------------------------


def test_unknown_platform_and_shop(tmp_path: Path) -> None:
    result = check(row("tmall_item", jpeg(tmp_path)) | {"platform": "京东", "shop": "nobody"})
    assert codes(result) == {"unknown_platform", "unknown_shop"}
    assert "未知平台" in cast(str, result.loc[0, "message"])
    assert "unknown platform" in cast(str, result.loc[0, "message"])
    assert not result.loc[0, "fixable"]


def test_unknown_platform_message_names_the_value_and_the_accepted_keys(tmp_path: Path) -> None:
    image = jpeg(tmp_path)
    result = check(
        row("tmall_item", image) | {"platform": "京东"},
        row("tmall_item", image) | {"platform": "jd", "target": "2"},
        row("tmall_item", image) | {"platform": "京东", "target": "3"},
    )
    assert [codes(result, i) for i in range(3)] == [{"unknown_platform"}] * 3
    for index, value in ((0, "京东"), (1, "jd"), (2, "京东")):
        line = cast(str, result.loc[index, "message"]).splitlines()[0]
        assert f"'{value}'" in line
        assert all(key in line for key in platform_keys()), line
    assert "'jd'" not in cast(str, result.loc[0, "message"])


def test_chinese_platform_aliases_resolve(tmp_path: Path) -> None:
    result = check(row("tmall_item", jpeg(tmp_path)) | {"platform": "天猫商品图"})
    assert result.loc[0, "ok"]
    assert result.loc[0, "platform_key"] == "tmall_item"


def test_shop_of_another_platform(tmp_path: Path) -> None:
    result = check(row("tmall_item", jpeg(tmp_path)) | {"shop": "douyin_shop"})
    assert codes(result) == {"shop_platform_mismatch"}


def test_a_misconfigured_shop_costs_only_its_rows(tmp_path: Path) -> None:
    shops = dict(SHOPS)
    shops["broken"] = {"platform": "tmall_item", "app_key": "1", "session": "x"}
    good = row("tmall_item", jpeg(tmp_path))
    result = check(
        good, good | {"shop": "broken", "file": str(jpeg(tmp_path, "b.jpg"))}, shops=shops
    )
    assert result.loc[0, "ok"]
    assert codes(result, 1) == {"bad_shop"}
    assert "app_secret" in cast(str, result.loc[1, "message"])


def test_no_shops_file_is_a_row_error_not_an_exception(tmp_path: Path) -> None:
    result = check(row("tmall_item", jpeg(tmp_path)), shops=tmp_path / "absent.toml")
    assert codes(result) == {"unknown_shop"}
    assert "absent.toml" in cast(str, result.loc[0, "message"])


def test_missing_empty_and_unreadable_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    result = check(
        row("tmall_item", tmp_path / "nope.jpg"),
        row("tmall_item", empty),
        row("tmall_item", tmp_path),  # a folder
    )
    assert [codes(result, i) for i in range(3)] == [
        {"missing_file"},
        {"empty_file"},
        {"unreadable_file"},
    ]


def test_a_text_file_named_jpg_is_not_an_image(tmp_path: Path) -> None:
    fake = tmp_path / "fake.jpg"
    fake.write_text("hello, not a picture")
    assert codes(check(row("tmall_item", fake))) == {"not_image"}


def test_truncated_and_corrupt_images(tmp_path: Path) -> None:
    data = jpeg(tmp_path, size=(400, 400), quality=90).read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) // 2])
    png = io.BytesIO()
    Image.new("RGB", (50, 50)).save(png, "PNG")
    broken = tmp_path / "broken.png"
    broken.write_bytes(png.getvalue()[:40])
    result = check(row("tmall_item", cut), row("tmall_item", broken))
    assert codes(result, 0) == {"corrupt_image"}
    assert codes(result, 1) == {"corrupt_image"}


def test_padding_after_the_end_marker_is_not_truncation(tmp_path: Path) -> None:
    padded = tmp_path / "padded.jpg"
    padded.write_bytes(jpeg(tmp_path).read_bytes() + b"\x00" * 100)
    assert check(row("tmall_item", padded)).loc[0, "ok"]


def test_a_huge_dimension_image_is_reported_not_raised(tmp_path: Path) -> None:
    bomb = save(tmp_path / "bomb.png", Image.new("1", (10_000, 10_000)), "PNG")
    result = check(row("tmall_item", bomb))
    assert codes(result) == {"decompression_bomb"}
    assert (result.loc[0, "width"], result.loc[0, "height"]) == (10_000, 10_000)


def test_format_by_content_not_extension(tmp_path: Path) -> None:
    png_named_jpg = save(tmp_path / "really_png.jpg", Image.new("RGB", (60, 60)), "PNG")
    webp = save(tmp_path / "a.webp", Image.new("RGB", (60, 60)), "WEBP")
    gif = save(tmp_path / "a.gif", Image.new("P", (60, 60)), "GIF")
    result = check(
        row("tmall_item", png_named_jpg),
        row("tmall_item", webp),
        row("doudian", gif),
        row("taobao_picture", gif),
    )
    assert codes(result, 0) == {"extension_mismatch"}
    assert result.loc[0, "ok"]  # a warning only
    assert result.loc[0, "format"] == "png"
    assert codes(result, 1) == {"format_refused"}
    assert codes(result, 2) == {"format_refused"}  # Douyin takes png/jpg only
    assert result.loc[2, "fixable"]
    assert result.loc[3, "ok"]


def test_awkward_but_valid_images_pass(tmp_path: Path) -> None:
    cmyk = save(tmp_path / "cmyk.jpg", Image.new("CMYK", (80, 80), (0, 50, 50, 0)), "JPEG")
    deep = save(tmp_path / "deep.png", Image.new("I;16", (80, 80), 30000), "PNG")
    palette = Image.new("P", (80, 80))
    palette.info["transparency"] = 0
    clear = save(tmp_path / "clear.png", palette, "PNG", transparency=0)
    frames = [Image.new("RGB", (40, 40), (80 * n, 0, 0)) for n in range(3)]
    animated = tmp_path / "anim.gif"
    frames[0].save(animated, "GIF", save_all=True, append_images=frames[1:], duration=80)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90°: the stored pixels are 200x100
    rotated = jpeg(tmp_path, "rotated.jpg", size=(200, 100), exif=exif.tobytes())
    result = check(*(row("tmall_item", f) for f in (cmyk, deep, clear, animated, rotated)))
    assert result["ok"].all(), result["message"].tolist()
    assert result.loc[3, "frames"] == 3
    assert (result.loc[4, "width"], result.loc[4, "height"]) == (200, 100)


def test_over_the_byte_limit_is_fixable_with_the_sizes_in_the_message(tmp_path: Path) -> None:
    noise = Image.effect_noise((900, 900), 100).convert("RGB")
    big = save(tmp_path / "noise.jpg", noise, "JPEG", quality=100)
    assert big.stat().st_size > 1024 * 1024
    result = check(row("qianmi_sku", big))  # Qianmi: 1 MB
    assert codes(result) == {"too_large"}
    assert result.loc[0, "fixable"]
    assert "MB > 上限 / limit 1.0 MB" in cast(str, result.loc[0, "message"])


@pytest.mark.parametrize(
    ("size", "ok"),
    [
        ((480, 960), True),
        ((620, 700), True),
        ((479, 600), False),
        ((621, 600), False),
        ((500, 961), False),
    ],
)
def test_phone_pixel_rule(tmp_path: Path, size: tuple[int, int], ok: bool) -> None:
    image = jpeg(tmp_path, size=size)
    result = check(row("taobao_picture", image, client_type="phone"))
    assert result.loc[0, "ok"] is ok or bool(result.loc[0, "ok"]) == ok
    if not ok:
        assert codes(result) == {"bad_dimensions"}
        assert f"({size[0]}x{size[1]})" in cast(str, result.loc[0, "message"])
    assert check(row("taobao_picture", image)).loc[0, "ok"]  # computer: no rule


@pytest.mark.parametrize("flag", ["true", "是", "1", "TRUE"])
def test_rectangle_rule_reads_yes_however_written(tmp_path: Path, flag: str) -> None:
    square = check(row("tmall_item", jpeg(tmp_path), is_rectangle=flag))
    assert codes(square) == {"bad_ratio"}
    ratio = check(row("tmall_item", jpeg(tmp_path, "r.jpg", size=(600, 800)), is_rectangle=flag))
    assert ratio.loc[0, "ok"]


def test_titles(tmp_path: Path) -> None:
    long = "长" * 51
    result = check(
        row("taobao_picture", jpeg(tmp_path, "a.jpg"), title=long),
        row("doudian", jpeg(tmp_path, "b.jpg"), title=long),
        row("taobao_picture", jpeg(tmp_path, "c.jpg", size=(301, 300)), title="杯子"),
        row("taobao_picture", jpeg(tmp_path, "d.jpg", size=(302, 300)), title="杯子"),
        row("taobao_picture", jpeg(tmp_path, "杯子.jpg", size=(303, 300))),
    )
    assert codes(result, 0) == {"title_will_be_cut"}
    assert result.loc[0, "ok"]
    assert codes(result, 1) == {"title_too_long"}
    assert not result.loc[1, "ok"]
    assert codes(result, 2) == set()
    assert codes(result, 3) == {"title_collision"}
    assert codes(result, 4) == {"title_collision"}  # the file name stem is the title


@pytest.mark.parametrize(
    ("platform", "target", "bad"),
    [
        ("tmall_item", "1489161940", False),
        ("tmall_item", "1.489161932e9", False),  # scientific notation: id_mangled instead
        ("qianmi_sku", "18353/g1234", False),
        ("qianmi_sku", "18353", True),
        ("qianmi_sku", "18353/", True),
        ("doudian", "abc", True),
        ("taobao_picture", "", True),
    ],
)
def test_targets(tmp_path: Path, platform: str, target: str, bad: bool) -> None:
    result = check(row(platform, jpeg(tmp_path)) | {"target": target})
    assert ("bad_target" in codes(result)) is bad


@pytest.mark.parametrize(
    ("position", "bad"),
    [("0", False), ("4", False), ("5", True), ("-1", True), ("x", True), ("", False)],
)
def test_positions(tmp_path: Path, position: str, bad: bool) -> None:
    result = check(row("tmall_item", jpeg(tmp_path), position=position))
    assert ("bad_position" in codes(result)) is bad


def test_more_than_five_images_for_one_item(tmp_path: Path) -> None:
    rows = [row("tmall_item", jpeg(tmp_path, f"{n}.jpg", size=(300 + n, 300))) for n in range(7)]
    rows.append(row("tmall_item", jpeg(tmp_path, "r.jpg", size=(310, 300)), replace_id="123"))
    result = check(*rows)
    flagged = ["too_many_images" in codes(result, i) for i in range(8)]
    assert flagged == [False] * 5 + [True, True, False]


def test_exact_duplicates_and_distinct_destinations(tmp_path: Path) -> None:
    image = jpeg(tmp_path)
    copy = tmp_path / "copy.jpg"
    copy.write_bytes(image.read_bytes())
    result = check(
        row("tmall_item", image),
        row("tmall_item", copy),  # same bytes, same item: a duplicate
        row("tmall_item", image) | {"target": "1489161941"},  # another item: fine
    )
    assert [codes(result, i) for i in range(3)] == [set(), {"duplicate_row"}, set()]


def test_options(tmp_path: Path) -> None:
    result = check(
        row("doudian", jpeg(tmp_path), replace_id="9"),
        row("tmall_item", jpeg(tmp_path, "b.jpg"), is_major="maybe"),
        row("taobao_picture", jpeg(tmp_path, "c.jpg"), client_type="tablet"),
        row("doudian", jpeg(tmp_path, "d.jpg"), position="1"),
    )
    assert codes(result, 0) == {"replace_unsupported"}
    assert codes(result, 1) == {"bad_option"}
    assert codes(result, 2) == {"bad_option"}
    assert codes(result, 3) == {"option_ignored"}
    assert result.loc[3, "ok"]


def test_chinese_file_names_and_spaces(tmp_path: Path) -> None:
    folder = tmp_path / "商品 图片"
    folder.mkdir()
    assert check(row("doudian", jpeg(folder, "白色 T恤 正面.jpg"))).loc[0, "ok"]


MANGLED = ("1.65772E+18", "1.65771735597434E+18", "6E+15", "1.6577e18", "-2.5e-3", "+1E18")


@pytest.mark.parametrize("platform", sorted(TARGETS))
@pytest.mark.parametrize("target", MANGLED)
def test_an_id_excel_turned_into_a_number_is_id_mangled_not_bad_target(
    tmp_path: Path, platform: str, target: str
) -> None:
    result = check(row(platform, jpeg(tmp_path)) | {"target": target})
    assert codes(result) == {"id_mangled"}
    assert not result.loc[0, "ok"]
    assert not result.loc[0, "fixable"]
    message = cast(str, result.loc[0, "message"])
    assert "Excel" in message
    assert "「文本」" in message
    assert "format the column as Text" in message
    assert f"(target = {target})" in message
    assert "malformed target" not in message


@pytest.mark.parametrize("platform", sorted(TARGETS))
def test_a_mangled_replace_id_is_id_mangled(tmp_path: Path, platform: str) -> None:
    result = check(
        row(platform, jpeg(tmp_path), replace_id="1.65771735597434E+18"),
        row(platform, jpeg(tmp_path, "b.jpg", size=(301, 300))) | {"replace_id": "6E+15"},
    )
    for index, value in ((0, "1.65771735597434E+18"), (1, "6E+15")):
        assert "id_mangled" in codes(result, index)
        assert "bad_target" not in codes(result, index)
        assert f"(replace_id = {value})" in cast(str, result.loc[index, "message"])


def test_both_ids_mangled_are_named_in_one_message(tmp_path: Path) -> None:
    result = check(row("tmall_item", jpeg(tmp_path), replace_id="6E+15") | {"target": "1.6E+18"})
    assert codes(result) == {"id_mangled"}
    assert "(target = 1.6E+18, replace_id = 6E+15)" in cast(str, result.loc[0, "message"])


@pytest.mark.parametrize(
    "value",
    ["1489161940", "1657717355974335419", "1e", "E18", "1.5", "1,65E+18", "1.65E+18x", "12e3/4"],
)
def test_ids_that_are_not_scientific_notation_are_not_id_mangled(
    tmp_path: Path, value: str
) -> None:
    result = check(
        row("tmall_item", jpeg(tmp_path)) | {"target": value},
        row("tmall_item", jpeg(tmp_path, "b.jpg", size=(301, 300)), replace_id=value),
    )
    assert "id_mangled" not in codes(result, 0) | codes(result, 1)


def test_an_excel_saved_csv_with_mangled_ids(tmp_path: Path) -> None:
    image = jpeg(tmp_path)
    csv = tmp_path / "batch.csv"
    csv.write_text(
        "platform,shop,file,target,replace_id\n"
        f"tmall_item,tmall_store,{image},1.65772E+18,\n"
        f"qianmi_sku,qianmi_shop,{image},18353/g1234,1.65771735597434E+18\n"
        f"tmall_item,tmall_store,{image},1489161940,\n",
        encoding="utf-8",
    )
    result = validate(csv, shops=SHOPS)
    assert [codes(result, i) for i in range(3)] == [{"id_mangled"}, {"id_mangled"}, set()]
    assert list(result["row"]) == [2, 3, 4]


# --- the machinery ----------------------------------------------------------------------------


def test_issues_table_is_long_form(tmp_path: Path) -> None:
    result = check(row("doudian", tmp_path / "nope.jpg", replace_id="1"))
    table = issues_table(result)
    assert table[["row", "code", "severity"]].to_dict("records") == [
        {"row": 2, "code": "missing_file", "severity": "error"},
        {"row": 2, "code": "replace_unsupported", "severity": "error"},
    ]


def test_a_second_validate_reads_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clear_cache()
    rows = [row("tmall_item", jpeg(tmp_path, f"{n}.jpg", size=(300 + n, 300))) for n in range(5)]
    check(*rows)
    calls: list[int] = []

    def counting(data: bytes) -> Any:
        calls.append(len(data))
        return probe_bytes(data)

    monkeypatch.setattr("imgkit.intake.probe.probe_bytes", counting)
    check(*rows)
    assert calls == []
    Path(rows[0]["file"]).write_bytes(Path(rows[1]["file"]).read_bytes() + b"\x00")
    check(*rows)
    assert len(calls) == 1  # only the changed file


def test_rules_are_vectorized() -> None:
    import imgkit.intake.validation as validation

    for module in (rules, rules.core, *rules.FAMILIES, validation):
        source = inspect.getsource(module)
        for forbidden in (".apply(", "iterrows", "itertuples", "for index, row"):
            assert forbidden not in source, f"{module.__name__} uses {forbidden}"


def test_every_rule_is_documented_and_has_words() -> None:
    for rule in RULES:
        assert rule.severity in ("error", "warning")
        assert rule.zh
        assert rule.en
        check_fn: Callable[..., Any] = rule.check
        assert check_fn.__doc__, rule.code


def test_accessor_and_public_api(tmp_path: Path) -> None:
    frame = pd.DataFrame([row("tmall_item", jpeg(tmp_path))])
    frame["row"] = [2]
    assert frame.imgkit.validate(shops=SHOPS)["ok"].all()
    assert imgkit.validate is validate


def test_a_frame_without_row_numbers_keeps_its_index_and_blank_rows_go(tmp_path: Path) -> None:
    image = jpeg(tmp_path)
    frame = pd.DataFrame(
        [
            row("tmall_item", image),
            dict.fromkeys(row("tmall_item", image), ""),
            row("doudian", image),
        ],
        index=["a", "b", "c"],
    )
    result = validate(frame, shops=SHOPS)
    assert list(result.index) == ["a", "c"]
    assert list(result["row"]) == [2, 4]
    assert result["ok"].all()


@pytest.mark.parametrize("convertible", [False, True])
def test_heic_is_fixable_only_where_it_can_be_converted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, convertible: bool
) -> None:
    # A real HEIC header (ftyp, meta with the primary item's ispe) that Pillow alone cannot
    # decode: probed whole, refused by Tmall, and convertible only with pillow-heif.
    heic = tmp_path / "a.heic"
    heic.write_bytes(heic_bytes(1200, 1600))
    monkeypatch.setattr(rules.image, "_heic_readable", lambda: convertible)
    result = check(row("tmall_item", heic))
    assert (result.loc[0, "format"], result.loc[0, "width"]) == ("heic", 1200)
    if convertible:
        assert codes(result) == {"format_refused"}
        assert result.loc[0, "fixable"]
    else:
        assert codes(result) == {"format_unreadable"}
        assert not result.loc[0, "fixable"]
        assert "pillow-heif" in str(result.loc[0, "message"])


def test_url_sources_are_downloaded_and_probed(tmp_path: Path, sandbox: imgkit.Sandbox) -> None:
    uploaded = imgkit.upload_one("tb_picture_main", jpeg(tmp_path), "0", shops=sandbox.shops)
    assert uploaded.ok
    result = check(
        row("doudian", uploaded.url),
        row("tmall_item", sandbox.base_url + "/img/nothing-here.jpg"),
    )
    assert result.loc[0, "ok"], result.loc[0, "message"]
    assert (result.loc[0, "format"], result.loc[0, "width"]) == ("jpeg", 300)
    assert codes(result, 1) == {"download_failed"}


# --- full-width digits, rows that cannot be sent, probe refusals ----------------------------


@pytest.mark.parametrize(
    ("platform", "target"),
    [
        ("tmall_item", "\uff11\uff14\uff18\uff19"),  # full-width 1489
        ("tmall_item", "\u0661\u0662\u0663"),  # Arabic-Indic 123
        ("doudian", "\uff10"),
        ("qianmi_sku", "\uff11\uff18\uff13/g1234"),  # Qianmi's pattern takes any character
        ("qianmi_sku", "18353\u3000/g1234"),  # an ideographic space
    ],
)
def test_targets_must_have_half_width_digits(tmp_path: Path, platform: str, target: str) -> None:
    result = check(row(platform, jpeg(tmp_path)) | {"target": target})
    assert "bad_target" in codes(result)
    message = str(result.loc[0, "message"])
    if not target.isascii() and "\u3000" not in target:
        assert "请使用半角数字" in message
        assert "use half-width digits" in message


@pytest.mark.parametrize("position", ["\uff13", "\u0663", "\uff10"])
def test_positions_must_have_half_width_digits(tmp_path: Path, position: str) -> None:
    result = check(row("tmall_item", jpeg(tmp_path), position=position))
    assert "bad_position" in codes(result)
    assert "请使用半角数字" in str(result.loc[0, "message"])


def test_a_bad_target_says_what_it_was(tmp_path: Path) -> None:
    result = check(row("doudian", jpeg(tmp_path)) | {"target": "abc" + "x" * 500})
    message = str(result.loc[0, "message"])
    assert "(target = 'abcxxx" in message
    assert "x" * 61 not in message  # the value is cut short
    assert len(message) < 300


def test_rows_that_cannot_be_sent_take_no_place_among_an_items_five(tmp_path: Path) -> None:
    rows = [row("tmall_item", tmp_path / f"missing-{n}.jpg") for n in range(3)]
    rows += [row("tmall_item", jpeg(tmp_path, f"{n}.jpg", size=(300 + n, 300))) for n in range(5)]
    rows.append(row("tmall_item", jpeg(tmp_path, "x.jpg", size=(320, 300)), is_major="maybe"))
    rows.append(row("tmall_item", jpeg(tmp_path, "6.jpg", size=(306, 300))))
    result = check(*rows)
    assert ["too_many_images" in codes(result, i) for i in range(len(rows))] == (
        [False] * 3 + [False] * 5 + [False] + [True]
    )
    assert [codes(result, i) for i in range(3)] == [{"missing_file"}] * 3
    assert codes(result, 8) == {"bad_option"}


def test_rows_that_fit_can_repair_still_count(tmp_path: Path) -> None:
    # A BMP is converted by fit and then sent: it takes its place.
    bmp = save(tmp_path / "a.bmp", Image.new("RGB", (300, 300)), "BMP")
    rows = [row("qianmi_sku", bmp)]
    rows += [row("qianmi_sku", jpeg(tmp_path, f"{n}.jpg", size=(300 + n, 300))) for n in range(5)]
    result = check(*rows)
    limit = imgkit.platforms.get_adapter("qianmi_sku").limits.images_per_target
    assert limit is not None
    flagged = ["too_many_images" in codes(result, i) for i in range(len(rows))]
    assert codes(result, 0) == {"format_refused"}
    assert flagged == [i >= limit for i in range(len(rows))]


def test_a_file_too_large_to_read_is_refused_unread(tmp_path: Path) -> None:
    huge = tmp_path / "huge.jpg"
    with huge.open("wb") as fh:  # sparse: 65 MiB of nothing on disk
        fh.write(b"\xff\xd8\xff")
        fh.truncate(65 * 1024 * 1024)
    result = check(row("doudian", huge))
    assert codes(result) == {"file_too_large"}
    assert "文件超过 64 MiB,未读取" in str(result.loc[0, "message"])
