"""Validation messages say what is wrong and what is allowed, in the language asked for.

Each case is a real batch row validated against the sandbox's shops; the message must name
the value found (or say the cell is empty) and what the platform accepts: the platforms,
the target's form, the formats, the size limit, the range, the option's values, the shops
configured.  A Chinese message holds no English words of ours, and an English message no
Chinese; "both" holds the two.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from conftest import shop_secrets
from PIL import Image

import imgkit
from imgkit.platforms import get_adapter
from imgkit.words import Lang

HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[imgkit.Sandbox]:
    with imgkit.Sandbox() as sb:
        yield sb


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("images")
    made = {
        "jpeg": folder / "fine.jpg",
        "bmp": folder / "picture.bmp",
        "mislabelled": folder / "really_png.jpg",
        "large": folder / "large.png",
    }
    Image.new("RGB", (800, 800), (200, 30, 30)).save(made["jpeg"])
    Image.new("RGB", (800, 800), (30, 200, 30)).save(made["bmp"])
    Image.new("RGB", (800, 800), (30, 30, 200)).save(made["mislabelled"], format="PNG")
    # Noise does not compress: a PNG over qianmi_sku's 1 MB limit.
    noise = Image.effect_noise((900, 900), 120).convert("RGB")
    noise.save(made["large"], compress_level=0)
    return made


def message(sandbox: imgkit.Sandbox, lang: Lang, **cells: str) -> str:
    row = {"platform": "tmall_item", "shop": "tmall_store", "file": "", "target": "1489161940"}
    row.update(cells)
    checked = imgkit.validate(pd.DataFrame([row]), sandbox.shops, lang=lang)
    return str(checked.loc[0, "message"])


def in_language(text: str, lang: Lang) -> None:
    """zh: no English of ours (platform keys, values and field names may appear); en: no
    Chinese; both: the two."""
    labels = re.findall(r"\[([^\]]+)\]", text)
    if lang == "zh":
        assert labels, text
        assert all(label in ("错误", "提示") for label in labels), text
        assert HAN.search(text), text
        for english in ("error", "accepted", "expected", "limit", "range", "is empty"):
            assert english not in text, (english, text)
    elif lang == "en":
        assert labels, text
        assert all(label in ("error", "warning") for label in labels), text
        assert not HAN.search(text), text
    else:
        assert all(" / " in label for label in labels), text
        assert HAN.search(text)
        assert re.search(r"[a-z]{4,}", text)


LANGS: tuple[Lang, ...] = ("zh", "en", "both")


@pytest.mark.parametrize("lang", LANGS)
def test_unknown_platform_names_the_value_and_the_accepted_keys(
    sandbox: imgkit.Sandbox, images: dict[str, Path], lang: Lang
) -> None:
    text = message(sandbox, lang, platform="jd", file=str(images["jpeg"]))
    assert "platform = 'jd'" in text
    assert ", ".join(imgkit.platform_keys()) in text
    in_language(text, lang)


@pytest.mark.parametrize("lang", LANGS)
def test_an_empty_cell_is_called_empty(
    sandbox: imgkit.Sandbox, images: dict[str, Path], lang: Lang
) -> None:
    text = message(sandbox, lang, platform="", file=str(images["jpeg"]))
    words = {"zh": "platform 列为空", "en": "the platform cell is empty"}
    for key in ("zh", "en"):
        assert (words[key] in text) == (lang in (key, "both")), text
    assert "platform = ''" not in text
    target = message(sandbox, lang, target="", file=str(images["jpeg"]))
    assert "target = ''" not in target
    assert ("the target cell is empty" in target) == (lang != "zh")
    missing = message(sandbox, lang)  # no file at all: not "the file is empty"
    assert ("the file cell is empty" in missing) == (lang != "zh")
    assert ("file 列为空" in missing) == (lang != "en")
    for text_ in (text, target, missing):
        in_language(text_, lang)


@pytest.mark.parametrize(
    ("platform", "shop", "form"),
    [
        ("qianmi_sku", "qianmi_shop", "<num_iid>/<sku_id>"),
        ("tmall_item", "tmall_store", "num_iid"),
        ("doudian", "douyin_shop", "folder_id"),
    ],
)
@pytest.mark.parametrize("lang", LANGS)
def test_a_malformed_target_says_the_form_the_platform_expects(
    sandbox: imgkit.Sandbox,
    images: dict[str, Path],
    lang: Lang,
    platform: str,
    shop: str,
    form: str,
) -> None:
    text = message(
        sandbox, lang, platform=platform, shop=shop, target="abc!", file=str(images["jpeg"])
    )
    assert "target = 'abc!'" in text
    assert form in text
    if lang != "zh":  # the adapter's own English words
        meaning = get_adapter(platform).target_meaning.replace("`", "")
        assert meaning in text
    in_language(text, lang)


@pytest.mark.parametrize("lang", LANGS)
def test_a_format_says_what_was_found_and_what_is_accepted(
    sandbox: imgkit.Sandbox, images: dict[str, Path], lang: Lang
) -> None:
    text = message(sandbox, lang, file=str(images["bmp"]))
    assert "bmp" in text
    assert "gif, jpeg, png" in text
    in_language(text, lang)
    mislabelled = message(sandbox, lang, file=str(images["mislabelled"]))
    assert ".jpg" in mislabelled
    assert "png" in mislabelled
    in_language(mislabelled, lang)


@pytest.mark.parametrize("lang", LANGS)
def test_a_size_says_the_bytes_and_the_limit(
    sandbox: imgkit.Sandbox, images: dict[str, Path], lang: Lang
) -> None:
    text = message(
        sandbox,
        lang,
        platform="qianmi_sku",
        shop="qianmi_shop",
        target="18353/g1234",
        file=str(images["large"]),
    )
    size = images["large"].stat().st_size / 2**20
    assert f"{size:.2f} MB" in text
    assert "1.0 MB" in text
    assert ("limit" in text) == (lang != "zh")
    assert ("上限" in text) == (lang != "en")
    in_language(text, lang)


@pytest.mark.parametrize("lang", LANGS)
def test_a_position_and_an_option_say_what_they_take(
    sandbox: imgkit.Sandbox, images: dict[str, Path], lang: Lang
) -> None:
    text = message(sandbox, lang, file=str(images["jpeg"]), position="9", is_major="maybe")
    assert "position = '9'" in text
    assert "0–4" in text
    assert "is_major = 'maybe'" in text
    assert "true" in text
    assert "false" in text
    assert ("是" in text) == (lang != "en")  # Chinese yes/no words offered to Chinese readers
    in_language(text, lang)


@pytest.mark.parametrize("lang", LANGS)
def test_an_unknown_shop_lists_the_shops_configured(
    sandbox: imgkit.Sandbox, images: dict[str, Path], lang: Lang
) -> None:
    text = message(sandbox, lang, shop="tmall_stor", file=str(images["jpeg"]))
    assert "shop = 'tmall_stor'" in text
    assert "tmall_store" in text
    assert "qianmi_shop" in text
    secrets = shop_secrets(sandbox.shops)
    assert len(secrets) >= 5
    assert not [s for s in secrets if s in text]
    in_language(text, lang)
