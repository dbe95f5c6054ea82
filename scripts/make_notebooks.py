"""Write the example notebooks in ``notebooks/`` (outputs stripped) from the cells below.

Run from anywhere: ``python scripts/make_notebooks.py``.  The notebooks run against the
sandbox (:class:`imgkit.Sandbox`), keep no journal of their own (``journal=False``, or one in
a temporary folder) and write only to a ``tempfile.mkdtemp()`` folder.

Example
-------
>>> [name for name, _ in NOTEBOOKS]
['quickstart.ipynb', 'excel_roundtrip.ipynb', 'bulk_fix.ipynb']
"""

from __future__ import annotations

from pathlib import Path

import nbformat

FOLDER = Path(__file__).resolve().parent.parent / "notebooks"
Cells = list[tuple[str, str]]  # ("md" | "code", source)

SETUP = """\
import shutil
import tempfile
from pathlib import Path

import imgkit

sb = imgkit.Sandbox().start()  # the five upload APIs, emulated on 127.0.0.1
folder = Path(tempfile.mkdtemp(prefix="imgkit-{name}-"))  # everything this notebook writes
sb"""

STOP = """\
sb.stop()
shutil.rmtree(folder, ignore_errors=True)"""

QUICKSTART: Cells = [
    (
        "md",
        """\
# imgkit quickstart

From a batch file to a results workbook in five steps: read the batch, validate it, fit
the images that need it, upload, and write the results workbook.

This notebook runs against the **sandbox**, which emulates the five upload APIs on your own
machine: nothing leaves it.  `sb.shops` are credentials pointing at the sandbox; for real
shops pass your `shops.toml` instead.""",
    ),
    ("code", SETUP.format(name="quickstart")),
    (
        "md",
        """\
## 1. Read the batch

A batch is a CSV or Excel sheet, one row per image: `platform`, `shop`, `file` (a local
path or a URL) and `target` (where the image goes), plus options such as `title`.
`imgkit.sample_data()` is the folder of examples shipped with imgkit.""",
    ),
    (
        "code",
        """\
batch = imgkit.read_batch(imgkit.sample_data() / "batch.csv")
batch.head()""",
    ),
    (
        "md",
        """\
## 2. Validate

`validate` checks every row against the platform's rules (size, format, pixels, target,
title...) and sends nothing.  `ok` says whether the row can be sent; `message` says what is
wrong and what is allowed.  `.imgkit.view()` shows the columns that matter.""",
    ),
    (
        "code",
        """\
checked = imgkit.validate(batch, sb.shops)
checked.imgkit.view()""",
    ),
    (
        "md",
        """\
## 3. Fit

`fit` writes a conforming copy of every image whose problem can be fixed (too large, wrong
format, wrong shape) and points `file` at the copy; your originals are never changed.
`fit_actions` says what was done (nothing, for these sample images).""",
    ),
    (
        "code",
        """\
fitted = imgkit.fit(batch, folder / "fitted", shops=sb.shops)
fitted[["row", "platform", "file", "ok", "fit_actions"]].head()""",
    ),
    (
        "md",
        """\
## 4. Upload

`upload` sends every valid row and returns the **results frame**: one row per input row,
with `status`, `url`, `image_id` and `message`.  `journal=False` keeps this demo out of
your journal (the journal is what lets a real re-run skip rows already stored).""",
    ),
    (
        "code",
        """\
results = imgkit.upload(fitted, shops=sb.shops, journal=False)
results.imgkit.view(thumbnails=True)""",
    ),
    (
        "code",
        """\
# Every sample row is stored: say so, so that a change that breaks it stops here.
assert (results["status"] == "uploaded").all(), results[["row", "status", "message"]]""",
    ),
    (
        "md",
        """\
## 5. The results workbook

`to_excel` writes the results as a workbook to share: a coloured **Results** sheet in your
own headers, a **Summary** and, if rows were invalid, the **Issues**.  `lang` picks the
language (`"zh"`, `"en"` or `"both"`).""",
    ),
    (
        "code",
        """\
workbook = imgkit.to_excel(results, folder / "results.xlsx", lang="both")
print(workbook.name, workbook.stat().st_size, "bytes")
imgkit.read_results(workbook).imgkit.view(lang="en", limit=5)""",
    ),
    ("md", "Stop the sandbox and delete the temporary folder when done."),
    ("code", STOP),
]

EXCEL_ROUNDTRIP: Cells = [
    (
        "md",
        """\
# Excel round trip: template → upload → fix in Excel → retry

1. `template` writes an empty batch workbook with the right headers for your shops;
2. you fill it in (here with `openpyxl`, as a person would in Excel);
3. `upload` sends it; one row has a target that does not exist and fails;
4. `to_excel` writes the results workbook; you correct that row's target in it;
5. `retry_failed` reads the corrected workbook and sends only what is not stored yet.

The journal lives in the temporary folder, so `retry_failed` knows which rows are stored.""",
    ),
    (
        "code",
        SETUP.format(name="roundtrip").replace("import imgkit", "import openpyxl\n\nimport imgkit")
        + """
journal = folder / "journal.sqlite"  # this notebook's own journal, not yours""",
    ),
    (
        "md",
        """\
## 1. The template

One sheet with the batch headers (and the shops you have, to choose from).""",
    ),
    (
        "code",
        """\
blank = imgkit.template(folder / "batch.xlsx", shops=sb.shops, lang="en")
headers = imgkit.read_batch(blank).attrs["imgkit_headers"]  # column -> header as written
headers""",
    ),
    (
        "md",
        """\
## 2. Fill it in

Three Douyin rows and one Tmall row.  The last Tmall row names item `9999999999`, which the
shop does not have: the platform will refuse it.""",
    ),
    (
        "code",
        """\
images = imgkit.sample_data() / "images"
rows = [
    {"platform": "doudian", "shop": "douyin_shop", "file": images / "mug.jpg", "target": "0"},
    {"platform": "doudian", "shop": "douyin_shop", "file": images / "cap.png", "target": "0"},
    {"platform": "doudian", "shop": "douyin_shop", "file": images / "watch.jpg", "target": "0"},
    {"platform": "tmall_item", "shop": "tmall_store", "file": images / "tote_bag.jpg",
     "target": "9999999999"},
]


def header_cells(sheet):
    \"\"\"The row of the header, and the column number of each batch column.\"\"\"
    for line in sheet.iter_rows():
        found = {name: cell.column for cell in line for name, text in headers.items()
                 if cell.value == text}
        if "file" in found:
            return line[0].row, found
    raise ValueError("no header row")


book = openpyxl.load_workbook(blank)
sheet = book.worksheets[0]
top, columns = header_cells(sheet)
for offset, row in enumerate(rows, start=1):
    for name, value in row.items():
        sheet.cell(row=top + offset, column=columns[name], value=str(value))
book.save(blank)
imgkit.read_batch(blank)[["platform", "shop", "file", "target"]]""",
    ),
    (
        "md",
        """\
## 3. Upload

Three rows are stored; the Tmall row fails, and its `message` says why.""",
    ),
    (
        "code",
        """\
results = imgkit.upload(blank, shops=sb.shops, journal=journal)
assert list(results["status"]) == ["uploaded"] * 3 + ["failed"], results[["status", "message"]]
results.imgkit.view()""",
    ),
    (
        "md",
        """\
## 4. The results workbook, corrected by hand

`to_excel` writes the results; we open it as a person would, find the failed row and give
it the right target (`1489161940`, an item the shop has).  Nothing else changes.""",
    ),
    (
        "code",
        """\
workbook = imgkit.to_excel(results, folder / "results.xlsx", lang="en")
book = openpyxl.load_workbook(workbook)
sheet = book["Results"]
names = [cell.value for cell in sheet[1]]
status, target = names.index("status") + 1, names.index("target") + 1
for number in range(2, sheet.max_row + 1):
    if sheet.cell(row=number, column=status).value == "failed":
        sheet.cell(row=number, column=target, value="1489161940")
book.save(workbook)
imgkit.read_results(workbook)[["row", "status", "target"]]""",
    ),
    (
        "md",
        """\
## 5. Retry what failed

`retry_failed` reads the workbook back, sees that the failed row changed, and sends it;
the rows already stored are kept as they are (the journal knows them).""",
    ),
    (
        "code",
        """\
retried = imgkit.retry_failed(workbook, shops=sb.shops, journal=journal)
assert (retried["status"] == "uploaded").all(), retried[["status", "message"]]
retried.imgkit.view()""",
    ),
    ("code", STOP),
]

BULK_FIX: Cells = [
    (
        "md",
        """\
# Bulk fixes with pandas

The batch and the results are DataFrames, so a fix to many rows is a few lines of pandas.
Two examples:

* camera photos too large for Tmall: select the rows over the platform's limit, `fit` them,
  upload;
* the same pictures on Douyin: upload to Taobao picture space, then send the URLs it
  returned to Douyin (the `file` column may hold URLs).""",
    ),
    (
        "code",
        SETUP.format(name="bulkfix").replace(
            "import imgkit\n", "import pandas as pd\nfrom PIL import Image\n\nimport imgkit\n"
        ),
    ),
    (
        "md",
        """\
## 1. Photos too large for Tmall

Make three photos with grain in them, as a camera would: two large PNGs of several MB,
over Tmall's 3 MB, and one small.  Validation says which are too large, and the limit.""",
    ),
    (
        "code",
        """\
import numpy as np

rng = np.random.default_rng(1)


def photo(path, width, height):
    \"\"\"A gradient with grain: hard to compress, like a photo.\"\"\"
    y, x = np.mgrid[0:height, 0:width]
    smooth = np.stack([x * 255 // width, y * 255 // height, (x + y) * 127 // (width + height)], -1)
    grain = rng.integers(0, 24, smooth.shape)
    Image.fromarray((smooth + grain).clip(0, 255).astype(np.uint8)).save(path, compress_level=1)
    return str(path)


batch = pd.DataFrame({
    "platform": "tmall_item",
    "shop": "tmall_store",
    "file": [photo(folder / "big_1.png", 1500, 2000), photo(folder / "big_2.png", 1500, 2000),
             photo(folder / "small.png", 600, 800)],
    "target": ["1489161940", "1489161941", "1489161942"],
    "title": ["photo 1", "photo 2", "photo 3"],
})
checked = imgkit.validate(batch, sb.shops)
checked.imgkit.view()""",
    ),
    (
        "md",
        """\
Select the rows whose file is over the limit (3 MiB for Tmall) and fit only those:
`fit` writes conforming copies into the folder; the batch then points at the copies.""",
    ),
    (
        "code",
        """\
too_big = (checked["bytes"].astype(int) > 3 * 1024 * 1024).to_numpy()
fitted = imgkit.fit(batch[too_big], folder / "fitted", shops=sb.shops)
fixed = batch.copy()
fixed.loc[too_big, "file"] = fitted["file"].to_numpy()
fitted[["row", "ok", "fit_actions", "bytes", "file"]]""",
    ),
    (
        "code",
        """\
results = imgkit.upload(fixed, shops=sb.shops, journal=False)
assert (results["status"] == "uploaded").all(), results[["status", "message"]]
results.imgkit.view(thumbnails=True)""",
    ),
    (
        "md",
        """\
## 2. From Taobao picture space to Douyin, by URL

Upload the sample batch's picture-space rows, then build a Douyin batch whose `file` is
each returned `url`: imgkit downloads each picture and sends it on.""",
    ),
    (
        "code",
        """\
sample = imgkit.read_batch(imgkit.sample_data() / "batch.csv")
picture = imgkit.upload(sample[sample["platform"] == "taobao_picture"], shops=sb.shops,
                        journal=False)
stored = picture[picture["status"] == "uploaded"]
douyin = pd.DataFrame({"platform": "doudian", "shop": "douyin_shop",
                       "file": stored["url"], "target": "0", "title": stored["title"]})
copied = imgkit.upload(douyin, shops=sb.shops, journal=False)
assert (copied["status"] == "uploaded").all(), copied[["status", "message"]]
copied.imgkit.view()""",
    ),
    ("code", STOP),
]

NOTEBOOKS: list[tuple[str, Cells]] = [
    ("quickstart.ipynb", QUICKSTART),
    ("excel_roundtrip.ipynb", EXCEL_ROUNDTRIP),
    ("bulk_fix.ipynb", BULK_FIX),
]


def build(cells: Cells) -> nbformat.NotebookNode:
    """A notebook of ``cells``, no outputs, the ``python3`` kernel.

    >>> nb = build([("md", "# t"), ("code", "1 + 1")])
    >>> [c.cell_type for c in nb.cells], nb.cells[1].outputs
    (['markdown', 'code'], [])
    """
    v4 = nbformat.v4
    nb: nbformat.NotebookNode = v4.new_notebook()
    for kind, source in cells:
        nb.cells.append(v4.new_markdown_cell(source) if kind == "md" else v4.new_code_cell(source))
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    for number, cell in enumerate(nb.cells):  # stable ids: regenerating changes nothing
        cell["id"] = f"cell-{number}"
    nbformat.validate(nb)
    return nb


def main() -> None:
    """Write every notebook of :data:`NOTEBOOKS` into :data:`FOLDER`."""
    for name, cells in NOTEBOOKS:
        nbformat.write(build(cells), FOLDER / name)


if __name__ == "__main__":
    main()
