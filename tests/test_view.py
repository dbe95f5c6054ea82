"""``results.imgkit.view()``: the summary, the columns that matter, escaped, linked, coloured."""

from __future__ import annotations

import re
from base64 import b64decode
from collections.abc import Iterator
from html.parser import HTMLParser
from io import BytesIO
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

import imgkit
from imgkit.report.results import STATUS_NAMES, summary_line
from imgkit.report.view import GREEN, RED, View, view


@pytest.fixture(scope="module")
def results() -> Iterator[pd.DataFrame]:
    with imgkit.Sandbox() as sb:
        yield imgkit.upload(
            imgkit.sample_data() / "batch.csv", shops=sb.shops, journal=False, progress=False
        )


class Tags(HTMLParser):
    """Every start tag with its attributes, and every text piece."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(shown: View) -> Tags:
    tags = Tags()
    tags.feed(shown._repr_html_())
    tags.close()
    return tags


def test_summary_then_the_columns_that_matter(results: pd.DataFrame) -> None:
    shown = results.imgkit.view(lang="en")
    assert isinstance(shown, View)
    page = shown._repr_html_()
    line = summary_line(results, "en")
    assert line == "15 rows: 15 uploaded"
    assert page.index(line) < page.index("<table")
    headers = re.findall(r"<th[^>]*>([^<]*)</th>", page)
    assert headers == ["row", "status", "platform", "shop", "target", "url", "image_id", "message"]
    assert "sha256" not in page
    assert "elapsed_s" not in page
    assert page.count("<tr>") == 1 + len(results)
    text = repr(shown)
    assert text.splitlines()[0] == line
    assert "<" not in text
    assert str(results.loc[0, "image_id"]) in text


@pytest.mark.parametrize("lang", ["zh", "en", "both"])
def test_status_words_in_the_language_and_coloured(results: pd.DataFrame, lang: str) -> None:
    shown = view(results, lang=lang)  # type: ignore[arg-type]
    page = shown._repr_html_()
    word = STATUS_NAMES["uploaded"].render(lang)  # type: ignore[arg-type]
    cells = re.findall(r'<td style="([^"]*)">([^<]*)</td>', page)
    status_cells = [style for style, content in cells if content == word]
    assert len(status_cells) == len(results)
    assert all(f"background:{GREEN}" in style for style in status_cells)
    if lang == "en":
        assert "已上传" not in page
        assert not re.search(r"[\u4e00-\u9fff]", shown.summary)


def test_urls_are_links_that_open_elsewhere(results: pd.DataFrame) -> None:
    links = [attrs for tag, attrs in parse(view(results)).tags if tag == "a"]
    assert [a["href"] for a in links] == list(results["url"])
    assert all(a["target"] == "_blank" and a["rel"] == "noopener" for a in links)


def test_markup_in_a_message_is_text(results: pd.DataFrame) -> None:
    hostile = results.copy()
    hostile.loc[0, "message"] = '<script>alert("x")</script>'
    hostile.loc[1, "url"] = "javascript:alert(1)"
    hostile.loc[2, "shop"] = '"><img src=x onerror=alert(1)>'
    tags = parse(view(hostile))
    assert not [t for t, _ in tags.tags if t in ("script", "img")]
    hrefs = [attrs["href"] for tag, attrs in tags.tags if tag == "a"]
    assert "javascript:alert(1)" not in hrefs
    assert len(hrefs) == len(results) - 1
    assert '<script>alert("x")</script>' in "".join(tags.text)  # shown, as text


def test_a_real_invalid_row_with_script_in_its_target_is_inert(tmp_path: Path) -> None:
    batch = imgkit.read_batch(imgkit.sample_data() / "batch.csv").iloc[:2].copy()
    batch.loc[batch.index[0], "target"] = "<script>alert(1)</script>"
    with imgkit.Sandbox() as sb:
        done = imgkit.upload(batch, shops=sb.shops, journal=False, progress=False)
    assert list(done["status"]) == ["invalid", "uploaded"]
    page = view(done, lang="en")._repr_html_()
    assert "<script" not in page
    assert "&lt;script&gt;" in page
    styles = re.findall(r'<td style="([^"]*)">invalid</td>', page)
    assert styles
    assert f"background:{RED}" in styles[0]


def test_rows_beyond_the_limit_are_counted(results: pd.DataFrame) -> None:
    shown = view(results, lang="en", limit=4)
    page = shown._repr_html_()
    assert page.count("<tr>") == 1 + 4
    assert "… 11 more rows" in page
    assert repr(shown).endswith("… 11 more rows")
    assert "还有 11 行" in view(results, lang="zh", limit=4)._repr_html_()
    assert "more rows" not in view(results, lang="en")._repr_html_()
    with pytest.raises(ValueError, match="limit"):
        view(results, limit=-1)
    with pytest.raises(ValueError, match="fr"):
        view(results, lang="fr")  # type: ignore[arg-type]


def test_thumbnails_small_inline_and_never_a_crash(results: pd.DataFrame, tmp_path: Path) -> None:
    assert "<img" not in view(results)._repr_html_()
    broken = results.iloc[:4].copy()
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    clear = tmp_path / "clear.png"
    Image.new("RGBA", (300, 120), (10, 20, 30, 0)).save(clear)
    broken.loc[broken.index[1], "file"] = str(tmp_path / "gone.jpg")
    broken.loc[broken.index[2], "file"] = str(corrupt)
    broken.loc[broken.index[3], "file"] = str(clear)
    tags = parse(view(broken, thumbnails=True))
    images = [attrs["src"] or "" for tag, attrs in tags.tags if tag == "img"]
    assert len(images) == 2  # rows 0 and 3; the missing and the corrupt file: empty cells
    assert all(src.startswith("data:image/png;base64,") for src in images)  # alpha kept
    for src in images:
        with Image.open(BytesIO(b64decode(src.split(",", 1)[1]))) as small:
            assert max(small.size) <= 64
    assert small.size == (64, 26)  # 300 x 120 made 64 wide, kept in proportion
    limited = view(results, thumbnails=True, limit=3)._repr_html_()
    assert limited.count("<img") == 3


def test_a_validated_frame_shows_ok_issues_and_message() -> None:
    batch = imgkit.read_batch(imgkit.sample_data() / "batch.csv")
    batch.loc[batch.index[0], "file"] = "no_such_file.jpg"
    with imgkit.Sandbox() as sb:
        checked = imgkit.validate(batch, sb.shops, lang="en")
    shown = checked.imgkit.view(lang="en")
    page = shown._repr_html_()
    headers = re.findall(r"<th[^>]*>([^<]*)</th>", page)
    assert headers == ["row", "ok", "platform", "shop", "target", "issues", "message"]
    assert shown.summary == f"{len(batch)} rows: {len(batch) - 1} ok, 1 with issues"
    assert "missing_file" in page
    assert f"background:{RED}" in page
    assert f"background:{GREEN}" in page
