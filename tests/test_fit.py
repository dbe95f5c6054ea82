"""Fitting images to platform limits, on real files made with Pillow.

The core (:func:`imgkit.intake.fitting.fit_image`) is tested on bytes against the adapters'
own limits; the batch function (:func:`imgkit.intake.fitting.fit`) end to end through
:func:`imgkit.validate`, whose verdict on the fitted copies must be clean.
"""

from __future__ import annotations

import hashlib
import io
import sys
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pytest
from PIL import ExifTags, Image, ImageSequence

from imgkit.intake.fitting import (
    FIXABLE_ISSUES,
    QUALITY_MAX,
    QUALITY_MIN,
    FitResult,
    applicable_rules,
    default_out_dir,
    fit,
    fit_image,
    option_matches,
)
from imgkit.intake.probe import sniff_format
from imgkit.platforms import get_adapter
from imgkit.platforms.base import Limits, PixelRule
from imgkit.sandbox import sandbox_shops

SHOPS = sandbox_shops("http://127.0.0.1:9")
TARGETS = {
    "taobao_picture": ("tb_picture_main", "0"),
    "taobao_miniapp": ("miniapp_main", "3000000012345"),
    "tmall_item": ("tmall_store", "1489161940"),
    "doudian": ("douyin_shop", "0"),
    "qianmi_sku": ("qianmi_shop", "18353/g1234"),
}
TAOBAO = get_adapter("taobao_picture").limits
TMALL = get_adapter("tmall_item").limits
DOUYIN = get_adapter("doudian").limits
QIANMI = get_adapter("qianmi_sku").limits
PHONE = {"client_type": "client:phone"}
RED, BLUE, WHITE = (220, 20, 20), (20, 20, 220), (255, 255, 255)


# --- making images ----------------------------------------------------------------------------


def encode(img: Image.Image, fmt: str, **params: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def noisy(width: int, height: int, seed: int = 0) -> Image.Image:
    """A photo-like image that JPEG cannot squeeze: a gradient under heavy noise."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 255, width * height * 3).reshape(height, width, 3)
    pixels = np.clip(ramp + rng.normal(0, 40, (height, width, 3)), 0, 255)
    return Image.fromarray(pixels.astype("uint8"), "RGB")


def opened(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def rgb(img: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    value = img.convert("RGB").getpixel(xy)
    assert isinstance(value, tuple)
    return value


def near(a: tuple[int, ...], b: tuple[int, ...], tolerance: int = 40) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


def transparent_palette_png(size: tuple[int, int] = (300, 300)) -> bytes:
    """A palette PNG: a red square in the middle of a transparent background (index 0)."""
    img = Image.new("P", size, 0)
    img.putpalette([0, 0, 0, *RED] + [0] * (256 * 3 - 6))
    width, height = size
    img.paste(1, (width // 4, height // 4, 3 * width // 4, 3 * height // 4))
    return encode(img, "PNG", transparency=0)


def transparent_webp() -> bytes:
    img = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
    img.paste((*RED, 255), (50, 50, 150, 150))
    return encode(img, "WEBP", lossless=True)


def animated_gif(size: tuple[int, int] = (200, 200), frames: int = 4) -> bytes:
    images = [Image.new("RGB", size, colour) for colour in (RED, BLUE, WHITE, (20, 200, 20))]
    images = (images * frames)[:frames]
    return encode(images[0], "GIF", save_all=True, append_images=images[1:], duration=120, loop=0)


def assert_conforms(
    result: FitResult, limits: Limits, options: dict[str, str] | None = None
) -> Image.Image:
    """The output is what the platform takes: format by content, bytes and pixel rules."""
    assert result.ok, result.reason
    assert sniff_format(result.data[:32]) == result.format
    assert limits.allows_format(result.format)
    assert len(result.data) <= limits.max_bytes
    img = opened(result.data)
    for rule in applicable_rules(limits, options or {}):
        width, height = img.size
        assert rule.min_width is None or width >= rule.min_width
        assert rule.max_width is None or width <= rule.max_width
        assert rule.min_height is None or height >= rule.min_height
        assert rule.max_height is None or height <= rule.max_height
        if rule.ratio is not None:
            assert width * rule.ratio[1] == height * rule.ratio[0]
    return img


# --- rules and options --------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["true", "TRUE", "1", "yes", "是", " y "])
def test_boolean_options_however_written(spelling: str) -> None:
    assert option_matches("true", spelling)
    assert [rule.ratio for rule in applicable_rules(TMALL, {"is_rectangle": spelling})] == [(3, 4)]


@pytest.mark.parametrize("spelling", ["false", "0", "no", "否", "", None, float("nan")])
def test_false_or_absent_options_apply_no_rule(spelling: object) -> None:
    assert applicable_rules(TMALL, {"is_rectangle": spelling}) == ()
    assert applicable_rules(TMALL, {}) == ()


def test_client_type_short_and_full_spellings() -> None:
    assert len(applicable_rules(TAOBAO, {"client_type": "phone"})) == 1
    assert len(applicable_rules(TAOBAO, {"client_type": "client:phone"})) == 1
    assert applicable_rules(TAOBAO, {"client_type": "client:computer"}) == ()


def test_fixable_codes_are_the_ones_validation_calls_fixable() -> None:
    from imgkit.intake.rules import FIXABLE

    assert FIXABLE == FIXABLE_ISSUES


# --- formats ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "params"),
    [("WEBP", {"quality": 90}), ("BMP", {}), ("TIFF", {}), ("TIFF", {"compression": "jpeg"})],
)
@pytest.mark.parametrize("platform", sorted(TARGETS))
def test_refused_formats_become_jpeg(fmt: str, params: dict[str, Any], platform: str) -> None:
    limits = get_adapter(platform).limits
    data = encode(noisy(300, 200), fmt, **params)
    result = fit_image(data, limits)
    img = assert_conforms(result, limits)
    assert (result.format, result.extension, img.size) == ("jpeg", "jpg", (300, 200))
    assert result.actions == ("converted",)


def test_transparent_webp_becomes_png_keeping_alpha() -> None:
    result = fit_image(transparent_webp(), DOUYIN)
    out = assert_conforms(result, DOUYIN)
    assert (result.format, result.actions, out.mode) == ("png", ("converted",), "RGBA")
    assert out.getpixel((0, 0)) == (0, 0, 0, 0)
    assert out.getpixel((100, 100)) == (*RED, 255)


def test_transparency_is_flattened_on_white_where_only_jpeg_is_taken() -> None:
    jpeg_only = Limits(max_bytes=10**6, formats=frozenset({"jpeg"}))
    result = fit_image(transparent_palette_png(), jpeg_only)
    out = assert_conforms(result, jpeg_only)
    assert result.actions == ("converted", "flattened")
    assert near(rgb(out, (2, 2)), WHITE, 4)
    assert near(rgb(out, (150, 150)), RED)


def test_grey_with_alpha_is_flattened_on_white() -> None:
    img = Image.new("LA", (100, 100), (0, 0))
    img.paste((60, 255), (25, 25, 75, 75))
    jpeg_only = Limits(max_bytes=10**6, formats=frozenset({"jpeg"}))
    result = fit_image(encode(img, "PNG"), jpeg_only)
    out = assert_conforms(result, jpeg_only)
    assert "flattened" in result.actions
    assert near(rgb(out, (1, 1)), WHITE, 4)
    assert near(rgb(out, (50, 50)), (60, 60, 60), 8)


def test_palette_png_with_transparency_keeps_alpha_where_png_is_taken() -> None:
    # Too wide for a phone picture: resized, and still a transparent PNG.
    result = fit_image(transparent_palette_png((1240, 1240)), TAOBAO, PHONE)
    out = assert_conforms(result, TAOBAO, PHONE)
    assert (result.format, out.mode, out.size) == ("png", "RGBA", (620, 620))
    assert result.actions == ("downscaled",)
    alpha = out.getchannel("A")
    assert alpha.getpixel((3, 3)) == 0
    assert alpha.getpixel((310, 310)) == 255
    assert near(rgb(out, (310, 310)), RED, 2)


def test_cmyk_jpeg_becomes_rgb_with_its_colours() -> None:
    cmyk = Image.new("CMYK", (300, 300), (0, 255, 255, 0))  # red ink
    data = encode(cmyk, "JPEG", quality=95)
    result = fit_image(data, DOUYIN)
    out = assert_conforms(result, DOUYIN)
    assert result.actions == ("to_rgb",)
    assert out.mode == "RGB"
    assert near(rgb(out, (150, 150)), (255, 0, 0))


def test_oversized_cmyk_jpeg_is_recompressed_in_rgb() -> None:
    cmyk = noisy(1400, 1000).convert("CMYK")
    data = encode(cmyk, "JPEG", quality=98)
    assert len(data) > QIANMI.max_bytes
    result = fit_image(data, QIANMI)
    out = assert_conforms(result, QIANMI)
    assert out.mode == "RGB"
    assert result.actions == ("to_rgb", "recompressed")


def test_sixteen_bit_png_is_scaled_not_clipped() -> None:
    ramp = np.tile(np.linspace(0, 65535, 1240), (1920, 1)).astype("uint16")
    img = Image.fromarray(ramp)
    assert img.mode == "I;16"
    data = encode(img, "PNG")
    result = fit_image(data, TAOBAO, PHONE)
    out = assert_conforms(result, TAOBAO, PHONE)
    assert out.size == (620, 960)
    assert out.mode == "L"
    middle = out.getpixel((310, 480))
    assert isinstance(middle, int)
    assert 110 <= middle <= 145  # 32768 / 256; a clipping conversion would give 255
    assert out.getpixel((0, 0)) == 0


def test_sixteen_bit_tiff_is_converted() -> None:
    img = Image.fromarray(np.full((100, 150), 40000, dtype="uint16"))
    result = fit_image(encode(img, "TIFF"), DOUYIN)
    out = assert_conforms(result, DOUYIN)
    assert out.size == (150, 100)
    assert near(rgb(out, (75, 50)), (156, 156, 156), 4)


# --- pixel rules ---------------------------------------------------------------------------------


def test_phone_rule_downscales_a_large_picture() -> None:
    data = encode(noisy(1200, 1600), "JPEG", quality=90)
    result = fit_image(data, TAOBAO, {"client_type": "phone"})
    out = assert_conforms(result, TAOBAO, PHONE)
    assert 480 <= out.size[0] <= 620
    assert out.size[1] <= 960
    assert out.size == (620, 827)  # aspect kept
    assert result.actions == ("downscaled",)


def test_phone_rule_pads_a_picture_too_tall_to_scale() -> None:
    data = encode(noisy(500, 3000), "JPEG")
    result = fit_image(data, TAOBAO, PHONE)
    out = assert_conforms(result, TAOBAO, PHONE)
    assert out.size == (480, 960)
    assert result.actions == ("downscaled", "padded")
    assert near(rgb(out, (2, 480)), WHITE, 6)  # white bands on both sides


def test_phone_rule_upscales_only_to_the_minimum() -> None:
    data = encode(noisy(300, 400), "JPEG")
    result = fit_image(data, TAOBAO, PHONE)
    out = assert_conforms(result, TAOBAO, PHONE)
    assert out.size == (480, 640)
    assert result.actions == ("upscaled",)


def test_no_phone_rule_for_a_computer_picture() -> None:
    data = encode(noisy(1200, 1600), "JPEG")
    result = fit_image(data, TAOBAO, {"client_type": "client:computer"})
    assert result.data == data
    assert result.actions == ()
    assert result.ok


@pytest.mark.parametrize("flag", ["true", "是", "1", "TRUE"])
def test_rectangle_pads_to_three_by_four_on_white(flag: str) -> None:
    img = Image.new("RGB", (800, 800), RED)
    result = fit_image(encode(img, "JPEG", quality=95), TMALL, {"is_rectangle": flag})
    out = assert_conforms(result, TMALL, {"is_rectangle": "true"})
    width, height = out.size
    assert width * 4 == height * 3
    assert width >= 800
    assert height >= 800
    assert result.actions == ("padded",)
    assert near(rgb(out, (width // 2, 3)), WHITE, 6)
    assert near(rgb(out, (width // 2, height - 4)), WHITE, 6)
    assert near(rgb(out, (width // 2, height // 2)), RED, 12)


def test_rectangle_of_a_tall_picture_pads_the_sides() -> None:
    data = encode(Image.new("RGB", (300, 1000), BLUE), "PNG")
    result = fit_image(data, TMALL, {"is_rectangle": "yes"})
    out = assert_conforms(result, TMALL, {"is_rectangle": "true"})
    assert out.size == (750, 1000)
    assert result.format == "png"  # a lossless source stays lossless when it fits
    assert rgb(out, (5, 500)) == WHITE
    assert rgb(out, (375, 500)) == BLUE


def test_ratio_kept_exactly_when_bytes_force_a_downscale() -> None:
    limits = Limits(
        max_bytes=60_000, formats=frozenset({"jpeg"}), pixel_rules=(PixelRule(ratio=(3, 4)),)
    )
    result = fit_image(encode(noisy(1000, 1000), "JPEG", quality=95), limits)
    out = assert_conforms(result, limits)
    assert out.size[0] * 4 == out.size[1] * 3
    assert {"padded", "downscaled", "recompressed"} <= set(result.actions)


def test_contradictory_rules_are_a_reason_not_an_exception() -> None:
    limits = Limits(
        max_bytes=10**6,
        formats=frozenset({"jpeg"}),
        pixel_rules=(PixelRule(min_width=500), PixelRule(max_width=400)),
    )
    result = fit_image(encode(noisy(600, 600), "JPEG"), limits)
    assert not result.ok
    assert "contradict" in result.reason


def test_exif_rotated_jpeg_comes_out_upright() -> None:
    # Upright, the picture is 600x900 with a red top-left corner; the camera stored it
    # lying on its side (900x600) with EXIF orientation 6.
    upright = Image.new("RGB", (600, 900), BLUE)
    upright.paste(RED, (0, 0, 200, 200))
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    data = encode(stored, "JPEG", quality=95, exif=exif.tobytes())
    assert opened(data).size == (900, 600)
    # 900 wide breaks the phone rule as stored; upright it fits without resizing.
    result = fit_image(data, TAOBAO, PHONE)
    out = assert_conforms(result, TAOBAO, PHONE)
    assert out.size == (600, 900)
    assert result.actions == ("rotated",)
    assert out.getexif().get(ExifTags.Base.Orientation) is None
    assert near(rgb(out, (50, 50)), RED)
    assert near(rgb(out, (500, 800)), BLUE)


def test_exif_rotated_webp_is_converted_upright() -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 8
    data = encode(noisy(400, 300), "WEBP", exif=exif.tobytes())
    result = fit_image(data, DOUYIN)
    out = assert_conforms(result, DOUYIN)
    assert out.size == (300, 400)
    assert result.actions == ("rotated", "converted")


# --- bytes -------------------------------------------------------------------------------------


def test_oversized_jpeg_gets_the_highest_quality_that_fits() -> None:
    data = encode(noisy(2000, 1500), "JPEG", quality=98)
    assert len(data) > QIANMI.max_bytes
    result = fit_image(data, QIANMI)
    out = assert_conforms(result, QIANMI)
    assert out.size == (2000, 1500)  # quality went down, not pixels
    assert result.actions == ("recompressed",)
    # A search lands just under the limit; a fixed guess would not.
    assert len(result.data) > 0.8 * QIANMI.max_bytes


def test_quality_search_is_a_search(monkeypatch: pytest.MonkeyPatch) -> None:
    import imgkit.intake.fit_encoding as fit_encoding

    qualities: list[int] = []
    save = fit_encoding.save

    def spy(image: Image.Image, fmt: str, **params: Any) -> bytes:
        if fmt == "jpeg":
            qualities.append(params["quality"])
        return save(image, fmt, **params)

    monkeypatch.setattr(fit_encoding, "save", spy)
    data = encode(noisy(800, 600), "JPEG", quality=98)
    img = opened(data)  # what fit re-encodes: the decoded source
    limit = len(encode(img, "JPEG", quality=70, optimize=True)) + 100
    limits = Limits(max_bytes=limit, formats=frozenset({"jpeg"}))
    result = fit_image(data, limits)
    assert result.ok
    assert len(result.data) <= limit
    assert qualities[:2] == [QUALITY_MAX, QUALITY_MIN]
    assert len(qualities) <= 2 + 6  # log2(54) more
    chosen = max(
        q for q in qualities if len(encode(img, "JPEG", quality=q, optimize=True)) <= limit
    )
    assert len(result.data) == len(encode(img, "JPEG", quality=chosen, optimize=True))
    assert len(encode(img, "JPEG", quality=chosen + 1, optimize=True)) > limit


def test_downscales_only_when_even_the_lowest_quality_is_too_big() -> None:
    limits = Limits(max_bytes=120_000, formats=frozenset({"jpeg"}))
    data = encode(noisy(1500, 1000), "JPEG", quality=90)
    result = fit_image(data, limits)
    out = assert_conforms(result, limits)
    assert result.actions == ("downscaled", "recompressed")
    assert out.size[0] < 1500
    assert abs(out.size[0] / out.size[1] - 1.5) < 0.01
    # One step (x0.9) bigger would not fit even at the lowest quality.
    bigger = noisy(1500, 1000).resize(
        (round(out.size[0] / 0.9), round(out.size[1] / 0.9)), Image.Resampling.LANCZOS
    )
    assert len(encode(bigger, "JPEG", quality=QUALITY_MIN, optimize=True)) > limits.max_bytes


def test_oversized_png_without_alpha_tries_png_then_jpeg() -> None:
    data = encode(noisy(900, 900), "PNG")
    assert len(data) > QIANMI.max_bytes
    result = fit_image(data, QIANMI)
    assert_conforms(result, QIANMI)
    assert result.format == "jpeg"
    assert result.actions == ("converted", "recompressed")


def test_oversized_png_with_alpha_stays_png_and_shrinks() -> None:
    img = noisy(900, 900).convert("RGBA")
    img.putalpha(Image.linear_gradient("L").resize((900, 900)))
    data = encode(img, "PNG")
    assert len(data) > QIANMI.max_bytes
    result = fit_image(data, QIANMI)
    out = assert_conforms(result, QIANMI)
    assert (result.format, out.mode) == ("png", "RGBA")
    assert result.actions == ("downscaled", "recompressed")


def test_impossible_byte_limit_is_a_reason() -> None:
    limits = Limits(max_bytes=50, formats=frozenset({"jpeg"}))
    data = encode(noisy(300, 300), "JPEG")
    result = fit_image(data, limits)
    assert not result.ok
    assert result.data == data
    assert result.actions == ()


# --- animation ---------------------------------------------------------------------------------


def test_animated_gif_stays_animated_where_gif_is_taken() -> None:
    data = animated_gif((1000, 1000))
    result = fit_image(data, TAOBAO, PHONE)
    out = assert_conforms(result, TAOBAO, PHONE)
    assert result.format == "gif"
    assert result.actions == ("downscaled",)
    assert out.size == (620, 620)
    assert getattr(out, "n_frames", 1) == 4
    colours = [rgb(frame, (310, 310)) for frame in ImageSequence.Iterator(out)]
    assert near(colours[0], RED)
    assert near(colours[1], BLUE)
    assert out.info.get("loop") == 0
    assert out.info.get("duration") == 120


def test_oversized_animated_gif_shrinks_its_frames() -> None:
    frames = [noisy(240, 240, seed) for seed in range(4)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=80)
    limits = Limits(max_bytes=len(data) // 2, formats=frozenset({"gif", "jpeg"}))
    result = fit_image(data, limits)
    out = assert_conforms(result, limits)
    assert result.format == "gif"
    assert getattr(out, "n_frames", 1) == 4
    assert result.actions == ("downscaled", "recompressed")


def test_douyin_gets_a_gif_converted() -> None:
    result = fit_image(animated_gif(), DOUYIN)
    out = assert_conforms(result, DOUYIN)
    assert result.format in ("png", "jpeg")
    assert result.actions == ("first_frame", "converted")
    assert getattr(out, "n_frames", 1) == 1
    assert near(rgb(out, (100, 100)), RED, 4)


# --- behaviour -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "limits", "options"),
    [
        (encode(noisy(2000, 1500), "JPEG", quality=98), QIANMI, {}),
        (transparent_palette_png((1240, 1240)), TAOBAO, PHONE),
        (animated_gif((700, 700)), TAOBAO, PHONE),
        (encode(noisy(800, 800), "WEBP"), TMALL, {"is_rectangle": "true"}),
    ],
    ids=["jpeg", "png", "gif", "webp"],
)
def test_deterministic(data: bytes, limits: Limits, options: dict[str, str]) -> None:
    first, second = fit_image(data, limits, options), fit_image(data, limits, options)
    assert first.actions
    assert first == second


def test_a_conforming_image_comes_back_untouched() -> None:
    data = encode(noisy(400, 400), "JPEG")
    for limits in (TAOBAO, TMALL, DOUYIN, QIANMI):
        result = fit_image(data, limits)
        assert (result.data, result.actions, result.ok, result.changed) == (data, (), True, False)


def test_metadata_is_stripped_but_the_colour_profile_kept() -> None:
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Camera"
    data = encode(noisy(300, 300), "WEBP", icc_profile=icc, exif=exif.tobytes())
    result = fit_image(data, DOUYIN)
    out = opened(result.data)
    assert out.info.get("icc_profile") == icc
    assert "exif" not in out.info
    assert not out.getexif()


def test_the_colour_profile_survives_padding_and_flattening() -> None:
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    img = Image.new("RGBA", (300, 300), (0, 0, 0, 0))
    img.paste((*RED, 255), (50, 50, 250, 250))
    data = encode(img, "PNG", icc_profile=icc)
    jpeg_only = Limits(max_bytes=10**6, formats=frozenset({"jpeg"}), pixel_rules=TMALL.pixel_rules)
    result = fit_image(data, jpeg_only, {"is_rectangle": "true"})
    assert result.actions == ("converted", "flattened", "padded")
    assert opened(result.data).info.get("icc_profile") == icc


def test_gif_comments_are_dropped_and_looping_kept() -> None:
    frames = [Image.new("RGB", (1000, 1000), colour) for colour in (RED, BLUE)]
    data = encode(
        frames[0], "GIF", save_all=True, append_images=frames[1:], comment=b"secret", loop=3
    )
    out = opened(fit_image(data, TAOBAO, PHONE).data)
    assert "comment" not in out.info
    assert out.info.get("loop") == 3


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"hello, not an image", "not an image"),
        (encode(noisy(100, 100), "PNG")[:200], "cannot decode"),
    ],
)
def test_unusable_input_is_returned_with_a_reason(data: bytes, reason: str) -> None:
    result = fit_image(data, DOUYIN)
    assert not result.ok
    assert reason in result.reason
    assert result.data == data
    assert result.actions == ()


# --- batches ---------------------------------------------------------------------------------


def row(platform: str, file: Path | str, **options: str) -> dict[str, str]:
    shop, target = TARGETS[platform]
    return {"platform": platform, "shop": shop, "file": str(file), "target": target, **options}


def digest(path: Path | str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.fixture
def cases(tmp_path: Path) -> list[dict[str, str]]:
    """One row per fixable case, each a different image for a different destination."""
    src = tmp_path / "src"
    src.mkdir()
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    rotated = encode(noisy(600, 900, 7).transpose(Image.Transpose.ROTATE_90), "JPEG", exif=exif)
    cmyk = encode(noisy(1400, 1000, 8).convert("CMYK"), "JPEG", quality=98)
    sixteen = Image.fromarray(np.tile(np.linspace(0, 65535, 1240), (1920, 1)).astype("uint16"))
    return [
        row("doudian", write(src / "photo.webp", encode(noisy(300, 200, 1), "WEBP"))),
        row("taobao_miniapp", write(src / "scan.bmp", encode(noisy(300, 200, 2), "BMP"))),
        row("tmall_item", write(src / "print.tiff", encode(noisy(300, 200, 3), "TIFF"))),
        row("qianmi_sku", write(src / "big.jpg", encode(noisy(2000, 1500, 4), "JPEG", quality=98))),
        row(
            "taobao_picture",
            write(src / "phone.jpg", encode(noisy(1200, 1600, 5), "JPEG")),
            client_type="client:phone",
        ),
        row(
            "tmall_item",
            write(src / "square.jpg", encode(noisy(800, 800, 6), "JPEG")),
            is_rectangle="是",
        ),
        row("taobao_picture", write(src / "rotated.jpg", rotated), client_type="phone"),
        row("qianmi_sku", write(src / "cmyk.jpg", cmyk)) | {"target": "18353/g2"},
        row("taobao_picture", write(src / "deep.png", encode(sixteen, "PNG")), client_type="phone"),
        row(
            "taobao_picture",
            write(src / "logo.png", transparent_palette_png((1240, 1240))),
            client_type="phone",
        ),
        row("doudian", write(src / "logo.webp", transparent_webp())) | {"target": "1"},
        row(
            "taobao_picture",
            write(src / "anim.gif", animated_gif((1000, 1000))),
            client_type="client:phone",
        ),
        row("doudian", write(src / "anim.gif.2", animated_gif())) | {"target": "2"},
    ]


def test_fit_makes_every_fixable_row_clean(tmp_path: Path, cases: list[dict[str, str]]) -> None:
    from imgkit.intake.validation import validate

    batch = pd.DataFrame(cases).fillna("")
    before = validate(batch, SHOPS)
    assert not before["ok"].any(), before[["file", "issues"]]
    assert before["fixable"].all(), before[["file", "issues"]]
    hashes = {r["file"]: digest(r["file"]) for r in cases}

    out = fit(batch, tmp_path / "fit", shops=SHOPS)

    assert out["ok"].all(), out.loc[~out["ok"], ["source_file", "issues", "fit_actions"]]
    assert list(out.index) == list(batch.index)
    assert set(batch.columns) <= set(out.columns)
    assert (out["source_file"] == batch["file"]).all()
    assert (out["fit_actions"] != "").all()
    for path, sha in hashes.items():  # originals untouched
        assert digest(path) == sha
    for _, fitted in out.iterrows():
        copy = Path(fitted["file"])
        assert copy.parent == tmp_path / "fit"
        assert copy.name == f"{digest(copy)}{copy.suffix}"  # content-addressed
        assert copy.suffix == {"jpeg": ".jpg", "png": ".png", "gif": ".gif"}[fitted["format"]]
        assert fitted["sha256"] == digest(copy)
    by_source = out.set_index(out["source_file"].map(lambda p: Path(p).name))
    assert by_source.loc["anim.gif", "frames"] == 4
    assert by_source.loc["anim.gif.2", "frames"] == 1
    assert by_source.loc["logo.png", "format"] == "png"
    assert by_source.loc["logo.webp", "format"] == "png"
    assert by_source.loc["rotated.jpg", "fit_actions"] == "rotated"
    assert "recompressed" in cast(str, by_source.loc["big.jpg", "fit_actions"])
    assert "padded" in cast(str, by_source.loc["square.jpg", "fit_actions"])


def test_fit_leaves_unfixable_rows_and_urls_alone(tmp_path: Path) -> None:
    text = write(tmp_path / "notes.jpg", b"not an image at all")
    webp = write(tmp_path / "a.webp", encode(noisy(200, 200), "WEBP"))
    big = write(tmp_path / "big.jpg", encode(noisy(2000, 1500), "JPEG", quality=98))
    good = write(tmp_path / "good.jpg", encode(noisy(200, 200, 3), "JPEG"))
    batch = pd.DataFrame(
        [
            row("doudian", text),  # not an image
            row("qianmi_sku", big) | {"target": "no-slash"},  # too large, but a bad target
            row("doudian", "http://127.0.0.1:9/a.webp"),  # a URL: never fitted
            row("doudian", good) | {"target": "5"},  # clean: nothing to do
            row("doudian", webp) | {"target": "6"},  # fixable
        ]
    )
    hashes = [digest(p) for p in (text, big, good, webp)]

    out = fit(batch, tmp_path / "fit", shops=SHOPS)

    assert list(out["ok"]) == [False, False, False, True, True]
    assert out.loc[0, "issues"] == "not_image"
    assert set(cast(str, out.loc[1, "issues"]).split(";")) == {"bad_target", "too_large"}
    for position in range(4):
        original = cast(str, batch.loc[position, "file"])
        assert out.loc[position, "file"] == cast(str, out.loc[position, "source_file"]) == original
        assert out.loc[position, "fit_actions"] == ""
    assert out.loc[4, "fit_actions"] == "converted"
    assert out.loc[4, "ok"]
    assert [digest(p) for p in (text, big, good, webp)] == hashes
    copies = [p for p in (tmp_path / "fit").iterdir() if not p.name.startswith(".")]
    assert sorted(p.suffix for p in copies) == [".jpg"]


def test_index_and_extra_columns_of_a_read_batch_are_kept(tmp_path: Path) -> None:
    webp = write(tmp_path / "a.webp", encode(noisy(100, 100), "WEBP"))
    batch = pd.DataFrame(
        [row("doudian", webp), row("doudian", tmp_path / "gone.jpg")],
        index=[17, 42],
    )
    batch["note"] = "mine"
    batch["row"] = [5, 9]  # a frame read before (read_batch) keeps its index
    out = fit(batch, tmp_path / "fit", shops=SHOPS)
    assert list(out.index) == [17, 42]
    assert list(out["note"]) == ["mine", "mine"]
    assert list(out["row"]) == [5, 9]
    assert list(out["fit_actions"]) == ["converted", ""]
    assert list(out["issues"]) == ["", "missing_file"]


def test_fitting_again_changes_nothing(tmp_path: Path, cases: list[dict[str, str]]) -> None:
    batch = pd.DataFrame(cases[:3]).fillna("")
    once = fit(batch, tmp_path / "fit", shops=SHOPS)
    twice = fit(once, tmp_path / "fit", shops=SHOPS)
    assert twice["ok"].all()
    assert list(twice["file"]) == list(once["file"])
    assert list(twice["source_file"]) == list(batch["file"])
    assert list(twice["fit_actions"]) == list(once["fit_actions"])


def test_one_file_for_two_platforms_gets_a_copy_each(tmp_path: Path) -> None:
    gif = write(tmp_path / "anim.gif", animated_gif((1000, 1000)))
    batch = pd.DataFrame(
        [row("taobao_picture", gif, client_type="phone"), row("doudian", gif)]
    ).fillna("")
    out = fit(batch, tmp_path / "fit", shops=SHOPS)
    assert out["ok"].all()
    assert cast(str, out.loc[0, "file"]) != out.loc[1, "file"]
    assert (out.loc[0, "format"], out.loc[1, "format"]) == ("gif", "png")


def test_default_cache_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMGKIT_HOME", str(tmp_path / "home"))
    assert default_out_dir() == tmp_path / "home" / "cache" / "fit"
    webp = write(tmp_path / "a.webp", encode(noisy(100, 100), "WEBP"))
    out = fit(pd.DataFrame([row("doudian", webp)]), shops=SHOPS)
    assert Path(cast(str, out.loc[0, "file"])).parent == tmp_path / "home" / "cache" / "fit"


def test_without_imgkit_home_the_cache_is_the_systems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IMGKIT_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    if sys.platform.startswith("linux"):
        assert default_out_dir() == tmp_path / "cache" / "imgkit" / "fit"
    assert default_out_dir().is_absolute()
