"""Hostile inputs, generated into a folder at test time (nothing binary is committed).

Two kinds: *image sources* (a ``file`` cell: damaged, mislabelled or impossible files and
paths) from :func:`image_sources`, and *batch files* (damaged workbooks, odd sheets, odd
CSVs) from :func:`batch_files`, each with what reading it must give: an ``ImgkitError`` or a
number of rows.  :func:`formatted_rows_workbook` writes the one big item, a sheet with
1,048,576 formatted empty rows, for the tests that want it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
from PIL import Image

HEADER = ["platform", "shop", "file", "target"]
# A Douyin folder holds any number of images: a batch of many rows to one target is fine.
# The file is missing (relative to the batch file): every row has a reason to refuse it.
ROW = ["doudian", "douyin_shop", "a.jpg", "0"]


@dataclass(frozen=True)
class BatchFile:
    """A batch file and what reading it must give: ``rows`` rows, or an error (None)."""

    path: Path
    rows: int | None
    code: str = ""  # the ImgkitError code expected, when rows is None


def _jpeg(size: tuple[int, int] = (40, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, "JPEG")
    return buffer.getvalue()


def _png(size: tuple[int, int] = (40, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (30, 200, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def image_sources(folder: Path) -> dict[str, str]:
    """``file`` cells, by name: damaged, mislabelled and impossible image sources.

    Every one is a local path (nothing leaves the machine).  ``good`` is a sound JPEG, to
    show the rest do not spoil the batch.
    """
    folder.mkdir(parents=True, exist_ok=True)
    jpeg, png = _jpeg(), _png()
    files: dict[str, bytes] = {
        "good": jpeg,
        "truncated_jpeg": jpeg[: len(jpeg) // 2],
        "truncated_png": png[: len(png) // 2],
        "png_named_jpg": png,
        "text_named_png": b"this is not a picture\n",
        "zero_bytes": b"",
    }
    names = {
        "good": "good.jpg",
        "truncated_jpeg": "cut.jpg",
        "truncated_png": "cut.png",
        "png_named_jpg": "really-a-png.jpg",
        "text_named_png": "notes.png",
        "zero_bytes": "empty.jpg",
    }
    out: dict[str, str] = {}
    for key, data in files.items():
        path = folder / names[key]
        path.write_bytes(data)
        out[key] = str(path)
    directory = folder / "folder.jpg"
    directory.mkdir(exist_ok=True)
    out["directory_named_jpg"] = str(directory)
    if hasattr(os, "mkfifo"):
        fifo = folder / "pipe.jpg"
        os.mkfifo(fifo)
        out["fifo"] = str(fifo)
    loop_a, loop_b = folder / "loop-a.jpg", folder / "loop-b.jpg"
    loop_a.symlink_to(loop_b)
    loop_b.symlink_to(loop_a)
    out["symlink_loop"] = str(loop_a)
    out["missing"] = str(folder / "not-there.jpg")
    out["nul_in_path"] = str(folder / "a\x00b.jpg")
    out["newline_in_path"] = str(folder / "go\nod.jpg")
    out["tab_in_path"] = str(folder / "go\tod.jpg")
    out["escape_in_path"] = str(folder / "\x1b[31mred.jpg")
    out["path_too_long"] = str(folder / "/".join(["d" * 200] * 30) / "x.jpg")
    out["name_too_long"] = str(folder / ("n" * 300 + ".jpg"))
    out["huge_path"] = str(folder / ("p" * 200_000))
    return out


# --- workbooks and CSVs ---------------------------------------------------------------------


def _save(
    path: Path, rows: Iterable[Iterable[object]], edit: Callable[..., None] | None = None
) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(list(row))
    if edit is not None:
        edit(sheet)
    book.save(path)
    return path


def _rezip(
    source: Path, path: Path, drop: Iterable[str] = (), replace: dict[str, bytes] | None = None
) -> Path:
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(path, "w") as new:
        for name in old.namelist():
            if name in drop:
                continue
            new.writestr(name, (replace or {}).get(name, old.read(name)))
    return path


def batch_files(folder: Path, *, wide: int = 16_000) -> list[BatchFile]:
    """Every hostile batch file, written into ``folder``; ``wide`` repeated headers."""
    folder.mkdir(parents=True, exist_ok=True)
    good = _save(folder / "good.xlsx", [HEADER, ROW, ROW])
    data = good.read_bytes()
    items = [
        BatchFile(good, 2),
        # Damaged workbooks: one clear error naming the file.
        BatchFile(
            _write(folder / "text.xlsx", b"platform,shop,file,target\n"), None, "bad_batch_file"
        ),
        BatchFile(_write(folder / "zero.xlsx", b""), None, "bad_batch_file"),
        BatchFile(
            _write(folder / "truncated.xlsx", data[: len(data) // 2]), None, "bad_batch_file"
        ),
        BatchFile(_write(folder / "garbage.xlsx", bytes(range(256)) * 40), None, "bad_batch_file"),
        BatchFile(
            _zip_of(folder / "not-a-workbook.xlsx", {"readme.txt": b"hi"}), None, "bad_batch_file"
        ),
        BatchFile(
            _rezip(good, folder / "no-workbook-part.xlsx", drop=["xl/workbook.xml"]),
            None,
            "bad_batch_file",
        ),
        BatchFile(
            _rezip(
                good,
                folder / "bad-sheet-xml.xlsx",
                replace={"xl/worksheets/sheet1.xml": b"<worksheet><sheetData><row"},
            ),
            None,
            "bad_batch_file",
        ),
        BatchFile(
            _rezip(good, folder / "bad-styles.xlsx", replace={"xl/styles.xml": b"<styleSheet"}),
            None,
            "bad_batch_file",
        ),
        BatchFile(
            _rezip(
                good,
                folder / "bad-content-types.xlsx",
                replace={"[Content_Types].xml": b"\xff\xfe"},
            ),
            None,
            "bad_batch_file",
        ),
        BatchFile(
            _rezip(good, folder / "no-sheet-part.xlsx", drop=["xl/worksheets/sheet1.xml"]),
            None,
            "bad_batch_file",
        ),
        # Odd but sound sheets: rows.
        BatchFile(
            _save(folder / "far-cell.xlsx", [HEADER, ROW], lambda s: s.cell(200, 16384, "x")), 2
        ),
        BatchFile(
            _save(folder / "repeated-headers.xlsx", [HEADER + ["备注"] * wide, ROW + ["v"] * wide]),
            1,
        ),
        BatchFile(
            _save(
                folder / "chinese-headers.xlsx", [[" 平台 ", "店 铺", "图片\u3000", "目标 ID"], ROW]
            ),
            1,
        ),
        BatchFile(_merged_headers(folder / "merged-headers.xlsx"), 3),
        BatchFile(
            _save(
                folder / "formulas.xlsx", [HEADER, [*ROW[:3], "=1+1"], [*ROW[:2], "=A1", "=1/0"]]
            ),
            2,
        ),
        BatchFile(
            _save(
                folder / "dates-in-ids.xlsx",
                [HEADER, [*ROW[:3], dt.datetime(2024, 1, 5)], [*ROW[:3], dt.time(3, 4)]],
            ),
            2,
        ),
        BatchFile(
            _save(
                folder / "mangled-ids.xlsx",
                [HEADER, [*ROW[:3], 1.23e17], [*ROW[:3], 1657717355974335419]],
            ),
            2,
        ),
        BatchFile(_save(folder / "empty-sheet.xlsx", []), None, "missing_column"),
        BatchFile(_save(folder / "header-only.xlsx", [HEADER]), 0),
        BatchFile(_save(folder / "title-row.xlsx", [["上传清单 2024"], [], HEADER, ROW]), 1),
        # CSVs.
        BatchFile(_csv(folder / "bom.csv", [HEADER, ROW], "utf-8-sig"), 1),
        BatchFile(
            _csv(folder / "gbk.csv", [["平台", "店铺", "图片", "目标"], ["抖音", *ROW[1:]]], "gbk"),
            1,
        ),
        BatchFile(
            _csv(
                folder / "huge-cells.csv",
                [[*HEADER, "title"], [*ROW, "标" * 200000], [*ROW[:2], "f" * 200_000, "0"]],
            ),
            2,
        ),
        BatchFile(_csv(folder / "nul-cells.csv", [HEADER, [*ROW[:2], "a\x00b.jpg", "0"]]), 1),
        BatchFile(_csv(folder / "wide-row.csv", [HEADER, ROW, ROW + [""] * 50_000 + ["far"]]), 2),
        BatchFile(_write(folder / "binary.csv", bytes(range(256)) * 8), None, "bad_encoding"),
        BatchFile(_write(folder / "empty.csv", b""), None, "missing_column"),
        BatchFile(
            _write(
                folder / "unclosed-quote.csv",
                b'platform,shop,file,target\ndoudian,"douyin_shop,a.jpg,0\n',
            ),
            1,  # the open quote runs to the end of the file: one row, its shop refused
        ),
    ]
    return items


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _zip_of(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _csv(path: Path, rows: Iterable[Iterable[object]], encoding: str = "utf-8") -> Path:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def _merged_headers(path: Path) -> Path:
    # A title merged over the header, the header's "文件" cell merged over two columns, and
    # the shop merged down over the data rows.
    def edit(sheet: Any) -> None:
        sheet.merge_cells("A1:E1")
        sheet.merge_cells("C2:D2")
        sheet.merge_cells("B3:B5")

    rows: list[list[object]] = [
        ["批量上传"],
        ["平台", "店铺", "文件", None, "目标"],
        ["doudian", "douyin_shop", ROW[2], None, "0"],
        ["doudian", None, ROW[2], None, "0"],
        ["doudian", None, ROW[2], None, "0"],
    ]
    return _save(path, rows, edit)


def formatted_rows_workbook(path: Path, rows: int = 1_048_576) -> Path:
    """A sound two-row batch whose sheet then formats every row down to ``rows``.

    Written as XML straight into the zip (openpyxl would take minutes); the sheet's stated
    dimension is the whole sheet, A1:XFD1048576, and a merge runs down all of it.
    """
    good = _save(path.with_name(path.stem + "-base.xlsx"), [HEADER, ROW])
    head = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns='
        '"http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<dimension ref="A1:XFD1048576"/><sheetData>'
    )
    first = "".join(
        f'<row r="{r}">'
        + "".join(
            f'<c r="{col}{r}" t="inlineStr"><is><t>{value}</t></is></c>'
            for col, value in zip("ABCD", values, strict=True)
        )
        + "</row>"
        for r, values in ((1, HEADER), (2, ROW))
    )
    with zipfile.ZipFile(good) as old, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as new:
        for name in old.namelist():
            if name != "xl/worksheets/sheet1.xml":
                new.writestr(name, old.read(name))
        with new.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write((head + first).encode())
            for start in range(3, rows + 1, 10_000):
                stop = min(start + 10_000, rows + 1)
                sheet.write(
                    "".join(
                        f'<row r="{r}" s="1" customFormat="1" ht="15"/>' for r in range(start, stop)
                    ).encode()
                )
            merge = '<mergeCells count="1"><mergeCell ref="B2:B1048576"/></mergeCells>'
            sheet.write(f"</sheetData>{merge}</worksheet>".encode())
    return path
