"""CSV batches through Arrow's reader: the same batch as the csv module's, or the csv
module's own reading where Arrow would read otherwise."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from imgkit.intake import csv_arrow, sheets
from imgkit.intake.batch import read_batch

HEAD = "platform,shop,file,target,title\n"

# Files Arrow's reader takes: each must give the csv module's batch.
TAKEN = {
    "plain": HEAD + "tmall,s,a.jpg,1489161932,t\n",
    "bom": "\ufeff" + HEAD + "tmall,s,a.jpg,1,t\n",
    "no final newline": HEAD + "tmall,s,a.jpg,1,t",
    "crlf and a quoted crlf": HEAD.replace("\n", "\r\n") + 'tmall,s,a.jpg,1,"x\r\ny"\r\n',
    "lone cr": HEAD.replace("\n", "\r") + "tmall,s,a.jpg,1,t\r",
    "quotes": HEAD + 'tmall,s,"a,b.jpg",1,"say ""hi"""\ntmall,s,x"y.jpg,2,"ab"c\n',
    "spaces and ideographic spaces": HEAD + " 天猫 ,\u3000s\u3000,a.jpg , 2 ,\x1c t \n",
    "words that look missing": HEAD + "tmall,NaN,NULL,00123,N/A\n",
    "blank records": HEAD + "\n,,,,\ntmall,s,a.jpg,1,t\n\n",
    "empty trailing columns": "platform,shop,file,target,,\ntmall,s,a.jpg,1,,\n",
    "header only": HEAD,
    "a quote left open to the end": HEAD + 'tmall,s,a.jpg,1,"open\ntmall,s,b.jpg,2,t\n',
    "chinese headers": "平台,店铺,图片,商品ID\n天猫,s,a.jpg,1489161932\n",
}
# Files Arrow's reader leaves to the csv module (it would refuse them or read otherwise).
LEFT: dict[str, str | bytes] = {
    "title row above the header": "May batch\n" + HEAD + "tmall,s,a.jpg,1,t\n",
    "a longer record": HEAD + "tmall,s,a.jpg,1,t,note\n",
    "gbk": (HEAD + "天猫,店铺,图片.jpg,1,标题\n").encode("gbk"),
    # Not UTF-8 by the standard (Python's decoder refuses it too).
    "utf-8 bytes of a surrogate": HEAD.encode() + b"tmall,s,a\xed\xa0\x80.jpg,1,t\n",
    "empty": "",
}


def _write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def _by_csv_module(path: Path, monkeypatch: pytest.MonkeyPatch) -> pd.DataFrame | str:
    with monkeypatch.context() as patch:
        patch.setattr(sheets, "arrow_csv_columns", lambda _path: None)
        try:
            return read_batch(path)
        except Exception as exc:  # the words must be the same too
            return f"{type(exc).__name__}: {exc}"


def _read(path: Path) -> pd.DataFrame | str:
    try:
        return read_batch(path)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


def _same(found: pd.DataFrame | str, wanted: pd.DataFrame | str) -> None:
    if isinstance(wanted, str) or isinstance(found, str):
        assert found == wanted
        return
    pd.testing.assert_frame_equal(found, wanted)
    assert found.attrs == wanted.attrs


@pytest.mark.parametrize("name", sorted(TAKEN))
def test_arrow_reads_as_the_csv_module_reads(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path / "b.csv", TAKEN[name])
    assert csv_arrow.arrow_csv_columns(path) is not None  # the fast path was taken
    _same(_read(path), _by_csv_module(path, monkeypatch))


@pytest.mark.parametrize("name", sorted(LEFT))
def test_what_arrow_would_read_otherwise_is_the_csv_modules(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path / "b.csv", LEFT[name])
    assert csv_arrow.arrow_csv_columns(path) is None
    _same(_read(path), _by_csv_module(path, monkeypatch))


def test_a_title_row_above_the_header_still_finds_the_header(tmp_path: Path) -> None:
    path = _write(tmp_path / "b.csv", LEFT["title row above the header"])
    batch = read_batch(path)
    assert batch["row"].tolist() == [3]
    assert batch["title"].tolist() == ["t"]


def test_a_column_arrow_would_type_as_numbers_stays_text(tmp_path: Path) -> None:
    path = _write(tmp_path / "b.csv", HEAD + "tmall,s,a.jpg,00123,1.50\ntmall,s,b.jpg,7,2\n")
    batch = read_batch(path)
    assert batch["target"].tolist() == ["00123", "7"]
    assert batch["title"].tolist() == ["1.50", "2"]
    assert all(pd.api.types.is_string_dtype(batch[c]) for c in batch.columns[:-1])
