"""Fitting fast: worker processes (and the heap they keep), draft decoding, the sampled
quality search, the PNG estimates, the cache's index and the progress bar, on real files
made with Pillow (no timed assertions)."""

from __future__ import annotations

import hashlib
import io
import os
import platform
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
from PIL import ExifTags, Image

import imgkit
from imgkit.intake import fit_pool, fit_quality, fitting
from imgkit.intake.fit_cache import Outcome
from imgkit.intake.fit_geometry import Box, plan_sizes
from imgkit.intake.fit_pool import DIED, Job, run_jobs, work
from imgkit.intake.fit_quality import QUALITY_MAX, QUALITY_MIN, best_jpeg, jpeg
from imgkit.intake.fitting import fit, fit_image
from imgkit.platforms import get_adapter
from imgkit.sandbox import Sandbox, sandbox_shops

SHOPS = sandbox_shops("http://127.0.0.1:9")
QIANMI = get_adapter("qianmi_sku").limits
TAOBAO = get_adapter("taobao_picture").limits
PHONE = {"client_type": "client:phone"}
KNOWN = ("18353/g1234", "18353/g1235", "18355/g3001")  # Qianmi SKUs of the sandbox's world


def photo(width: int, height: int, seed: int = 0) -> Image.Image:
    """A photo-like image: a colour field, a texture and noise (JPEG cannot squeeze it)."""
    rng = np.random.default_rng(seed)
    field = Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
    base = np.asarray(field.resize((width, height), Image.Resampling.BICUBIC), np.float32)
    pixels = base + rng.normal(0, 12, (height, width, 1)).astype(np.float32)
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8), "RGB")


def jpeg_bytes(image: Image.Image, quality: int = 95, **params: Any) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality, **params)
    return buf.getvalue()


def digest(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def corrupt(data: bytes) -> bytes:
    """A JPEG whose structure is whole (validation takes it) but whose Huffman table is
    nonsense: only decoding finds out."""
    table = data.index(b"\xff\xc4")
    return data[: table + 5] + b"\xff" * 16 + data[table + 21 :]


def batch_of(folder: Path, count: int = 3) -> pd.DataFrame:
    """Rows that need real work: big photos for Qianmi's 1 MiB, one for a phone picture."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(count):
        path = folder / f"big{i}.jpg"
        path.write_bytes(jpeg_bytes(photo(2000, 1500, i), 98))
        rows.append(
            {
                "platform": "qianmi_sku",
                "shop": "qianmi_shop",
                "file": str(path),
                "target": KNOWN[i] if i < len(KNOWN) else f"18353/g{2000 + i}",
            }
        )
    phone = folder / "phone.jpg"
    phone.write_bytes(jpeg_bytes(photo(2400, 1800, 9)))
    rows.append(
        {
            "platform": "taobao_picture",
            "shop": "tb_picture_main",
            "file": str(phone),
            "target": "0",
            "client_type": "client:phone",
        }
    )
    return pd.DataFrame(rows).fillna("")


def psnr(a: Image.Image, b: Image.Image) -> float:
    x, y = np.asarray(a.convert("RGB"), np.float64), np.asarray(b.convert("RGB"), np.float64)
    return float(10 * np.log10(255**2 / np.mean((x - y) ** 2)))


# --- processes --------------------------------------------------------------------------------


def test_processes_write_the_bytes_fitting_here_writes(tmp_path: Path) -> None:
    batch = batch_of(tmp_path / "src")
    here = fit(batch, tmp_path / "here", shops=SHOPS, workers=1, progress=False)
    there = fit(batch, tmp_path / "there", shops=SHOPS, workers=2, progress=False)
    assert here["ok"].all(), here[["file", "issues", "fit_reason"]]
    assert list(here["fit_actions"]) == list(there["fit_actions"])
    assert [digest(p) for p in here["file"]] == [digest(p) for p in there["file"]]
    assert [Path(p).parent for p in there["file"]] == [tmp_path / "there"] * len(batch)


def test_a_corrupt_image_is_its_rows_reason_and_the_others_are_fitted(tmp_path: Path) -> None:
    batch = batch_of(tmp_path / "src")
    broken = Path(str(batch.loc[1, "file"]))
    broken.write_bytes(corrupt(broken.read_bytes()))
    out = fit(batch, tmp_path / "fit", shops=SHOPS, workers=2, progress=False)
    assert "cannot decode the image" in str(out.loc[1, "fit_reason"])
    assert not out.loc[1, "ok"]
    assert out.loc[1, "file"] == str(broken)
    others = out.drop(index=1)
    assert others["ok"].all(), others[["file", "issues", "fit_reason"]]


def dying(job: Job) -> Any:
    """A worker that dies (as the OOM killer would kill it) on the file named die*."""
    if Path(job.path).name.startswith("die"):
        os._exit(1)
    return work(job)


def raising(job: Job) -> Any:
    if Path(job.path).name.startswith("die"):
        raise RuntimeError("no luck")
    return work(job)


@pytest.mark.parametrize("worker", [dying, raising], ids=["dies", "raises"])
def test_a_failing_worker_costs_only_its_image(tmp_path: Path, worker: Any) -> None:
    names = ["a.webp", "b.webp", "die.webp", "c.webp", "d.webp"]
    jobs = []
    for seed, name in enumerate(names):
        photo(300, 200, seed).save(tmp_path / name)
        jobs.append(Job(str(tmp_path / name), "doudian", (), str(tmp_path / "fit"), None))
    outcomes: dict[int, Any] = {}
    run_jobs(jobs, 2, outcomes.__setitem__, worker)
    assert sorted(outcomes) == list(range(len(jobs)))
    failed = outcomes[2]
    assert failed.reason == DIED if worker is dying else "RuntimeError: no luck" in failed.reason
    for index in (0, 1, 3, 4):
        assert outcomes[index].reason == ""
        assert outcomes[index].actions == ("converted",)
    again: dict[int, Any] = {}
    run_jobs(jobs[:2], 2, again.__setitem__)  # the pool works after a death
    assert [again[i].cached for i in (0, 1)] == [True, True]


def test_ctrl_c_in_the_caller_stops_and_is_raised(tmp_path: Path) -> None:
    jobs = [
        Job(str(tmp_path / f"{i}.webp"), "doudian", (), str(tmp_path / "fit"), None)
        for i in range(6)
    ]
    for seed, job in enumerate(jobs):
        photo(300, 200, seed).save(job.path)
    seen: list[int] = []

    def done(index: int, outcome: Any) -> None:
        seen.append(index)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_jobs(jobs, 2, done)
    assert len(seen) == 1
    outcomes: dict[int, Any] = {}
    run_jobs(jobs, 2, outcomes.__setitem__)  # the pool is still there, and the cache
    assert len(outcomes) == len(jobs)
    assert all(outcome.reason == "" for outcome in outcomes.values())


FAULTS = """
import io, resource, sys
from PIL import Image
from imgkit.intake.fit_pool import keep_heap
if sys.argv[1] == "kept":
    keep_heap()
image = Image.effect_noise((1500, 1500), 40).convert("RGB")
for _ in range(2):  # the second encode's page faults: the first one's memory, reused or not
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    image.save(io.BytesIO(), "JPEG", quality=80, optimize=True)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def second_encode_faults(job: Job) -> Any:
    """In a worker: the page faults of a second large optimized encode, as a reason."""
    out = subprocess.run(
        [sys.executable, "-c", FAULTS, "pool"], capture_output=True, text=True, check=True
    )
    plain = int(out.stdout)
    image = Image.effect_noise((1500, 1500), 40).convert("RGB")
    image.save(io.BytesIO(), "JPEG", quality=80, optimize=True)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    image.save(io.BytesIO(), "JPEG", quality=80, optimize=True)
    return Outcome(reason=f"{resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before} {plain}")


@pytest.mark.skipif(
    sys.platform != "linux" or platform.libc_ver()[0] != "glibc", reason="glibc's mallopt"
)
def test_workers_keep_the_heap_for_the_next_image(tmp_path: Path) -> None:
    def faults(how: str) -> int:
        run = [sys.executable, "-c", FAULTS, how]
        return int(subprocess.run(run, capture_output=True, text=True, check=True).stdout)

    plain, kept = faults("plain"), faults("kept")
    assert plain > 300, plain  # a 1500x1500 encode's buffers come as fresh pages...
    assert kept < plain / 10, (kept, plain)  # ...unless the heap keeps them
    jobs = [Job(str(tmp_path / f"{i}.jpg"), "doudian", (), str(tmp_path), None) for i in (0, 1)]
    seen: dict[int, Any] = {}
    run_jobs(jobs, 2, seen.__setitem__, second_encode_faults)
    for outcome in seen.values():  # a pool worker: kept, where a plain child of it is not
        in_worker, in_child = (int(n) for n in outcome.reason.split())
        assert in_worker < in_child / 10, outcome.reason


def test_workers_one_fits_here_and_zero_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_pool(workers: int) -> Any:
        raise AssertionError("workers=1 started a process pool")

    monkeypatch.setattr(fit_pool, "_executor", no_pool)
    out = fit(batch_of(tmp_path / "src", 2), tmp_path / "fit", shops=SHOPS, workers=1)
    assert out["ok"].all()
    with pytest.raises(ValueError, match="at least 1"):
        fit(batch_of(tmp_path / "src", 1), tmp_path / "fit", shops=SHOPS, workers=0)


# --- the cache ---------------------------------------------------------------------------------


def test_fitting_again_fits_nothing_and_gives_the_same_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch = batch_of(tmp_path / "src")
    first = fit(batch, tmp_path / "fit", shops=SHOPS, progress=False)
    sent: list[int] = []
    real = fit_pool.run_jobs

    def counting(jobs: list[Job], *args: Any) -> None:
        sent.append(len(jobs))
        real(jobs, *args)

    monkeypatch.setattr(fitting, "run_jobs", counting)
    again = fit(batch, tmp_path / "fit", shops=SHOPS, progress=False)
    assert sent == [0]
    pd.testing.assert_frame_equal(first, again)
    Path(str(first.loc[0, "file"])).unlink()  # a copy gone is fitted again
    other = fit(batch, tmp_path / "fit", shops=SHOPS, progress=False)
    assert sent[1] == 1
    pd.testing.assert_frame_equal(first, other)


def test_the_index_knows_the_destination(tmp_path: Path) -> None:
    path = tmp_path / "wide.jpg"
    path.write_bytes(jpeg_bytes(photo(1500, 1000)))
    phone = Job(
        str(path), "taobao_picture", (("client_type", "client:phone"),), str(tmp_path), None
    )
    computer = Job(
        str(path), "taobao_picture", (("client_type", "client:computer"),), str(tmp_path), None
    )
    assert work(phone).actions == ("downscaled",)
    assert work(computer).actions == ()  # conforms there: nothing to do, and not phone's
    assert work(phone).cached


# --- progress ------------------------------------------------------------------------------------


class FakeBar:
    made: ClassVar[list[FakeBar]] = []

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs, self.updates, self.closed = kwargs, 0, False
        self.postfix: dict[str, int] = {}
        FakeBar.made.append(self)

    def update(self, n: int) -> None:
        self.updates += n

    def set_postfix(self, postfix: dict[str, int], refresh: bool) -> None:
        self.postfix = postfix

    def close(self) -> None:
        self.closed = True


def test_progress_counts_the_images(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fitting, "tqdm", FakeBar)
    FakeBar.made.clear()
    batch = batch_of(tmp_path / "src", 2)
    fit(batch, tmp_path / "fit", shops=SHOPS)
    fit(batch, tmp_path / "fit", shops=SHOPS)
    fit(batch, tmp_path / "fit", shops=SHOPS, progress=False)
    first, second, off = FakeBar.made
    assert (first.kwargs["total"], first.kwargs["initial"], first.updates) == (3, 0, 3)
    assert first.kwargs["disable"] is False
    assert first.kwargs["unit"] == "image"
    assert (second.kwargs["initial"], second.updates, second.postfix) == (3, 0, {"cached": 3})
    assert off.kwargs["disable"] is True
    assert all(bar.closed for bar in FakeBar.made)


# --- draft decoding and the quality search ---------------------------------------------------


def test_draft_decoding_meets_the_pixel_rules_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    drafted: list[tuple[int, int]] = []
    from PIL.JpegImagePlugin import JpegImageFile

    original = JpegImageFile.draft

    def spy(image: JpegImageFile, mode: str | None, size: tuple[int, int] | None) -> Any:
        result = original(image, mode, size)
        drafted.append(image.size)
        return result

    monkeypatch.setattr(JpegImageFile, "draft", spy)
    source = photo(3000, 2001, 4)
    result = fit_image(jpeg_bytes(source), TAOBAO, PHONE)
    out = Image.open(io.BytesIO(result.data))
    assert drafted == [(1500, 1001)]  # decoded at half scale, twice the planned size or more
    expected = plan_sizes(3000, 2001, Box(min_w=480, max_w=620, max_h=960), 1.0).content
    assert out.size == expected == (620, 414)
    assert len(result.data) <= TAOBAO.max_bytes
    assert result.actions[0] == "downscaled"
    reference = source.resize(out.size, Image.Resampling.LANCZOS)
    assert psnr(out, reference) > 30  # as close to the source as a full decode's resize


def test_draft_decoding_of_a_rotated_photo() -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # stored lying on its side
    stored = photo(2400, 1800, 5)
    result = fit_image(jpeg_bytes(stored, exif=exif.tobytes()), TAOBAO, PHONE)
    out = Image.open(io.BytesIO(result.data))
    assert out.size == (620, 827)
    assert result.actions == ("rotated", "downscaled")


def test_the_sampled_search_finds_the_highest_quality_that_fits() -> None:
    image = photo(2000, 1500, 6)
    full_encodes: list[int] = []

    def encode(img: Image.Image, quality: int) -> bytes:
        if img.size == image.size:
            full_encodes.append(quality)
        return jpeg(img, quality)

    for quality in (45, 70, 88):
        limit = len(jpeg(image, quality)) + 50
        full_encodes.clear()
        data = best_jpeg(image, limit, encode)
        assert data == jpeg(image, quality)  # the highest within the limit...
        assert len(jpeg(image, quality + 1)) > limit  # ...as the next one up is too big
        assert len(full_encodes) <= 3, full_encodes  # instead of about eight
    assert best_jpeg(image, len(jpeg(image, QUALITY_MAX))) == jpeg(image, QUALITY_MAX)
    assert best_jpeg(image, len(jpeg(image, QUALITY_MIN)) - 1) is None


@pytest.mark.parametrize(("over", "joined"), [(0.008, True), (0.003, False)])
def test_a_close_call_is_looked_at_again_on_twice_the_rows(
    monkeypatch: pytest.MonkeyPatch, over: float, joined: bool
) -> None:
    image = photo(2000, 1500, 6)
    sample = fit_quality._Sample.of(image, jpeg)
    sample.calibrate(60, jpeg(image, 60))
    # The limit puts quality 61's calibrated prediction ``over`` past it: between the
    # two margins (the joined sample decides) or under the closer one (a full encode does).
    limit = int(sample.predict(61) / (1 + over))
    assert len(jpeg(image, 60)) <= limit < len(jpeg(image, 61))
    firsts: list[int | None] = []
    bands = fit_quality.bands

    def spy(img: Image.Image, every: int = 8, first: int | None = None) -> Any:
        firsts.append(first)
        return bands(img, every, first)

    monkeypatch.setattr(fit_quality, "bands", spy)
    full_encodes: list[int] = []

    def encode(img: Image.Image, quality: int) -> bytes:
        if img.size == image.size:
            full_encodes.append(quality)
        return jpeg(img, quality)

    assert best_jpeg(image, limit, encode) == jpeg(image, 60)
    assert (0 in firsts) is joined  # the bands between the sample's own were encoded
    # Settled without encoding 61 in full, or by encoding it (too big) when that close.
    assert sorted(full_encodes) == ([60] if joined else [60, 61])


def png_heights(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The heights of the images fitting encodes as PNG, from now on."""
    import imgkit.intake.fit_encoding as fit_encoding

    heights: list[int] = []
    save = fit_encoding.save

    def spy(image: Image.Image, fmt: str, **params: Any) -> bytes:
        if fmt == "png":
            heights.append(image.height)
        return save(image, fmt, **params)

    monkeypatch.setattr(fit_encoding, "save", spy)
    return heights


def test_a_large_png_photo_is_not_encoded_as_png_in_full(monkeypatch: pytest.MonkeyPatch) -> None:
    heights = png_heights(monkeypatch)
    buf = io.BytesIO()
    photo(1600, 1200, 7).save(buf, "PNG")
    result = fit_image(buf.getvalue(), QIANMI)
    assert (result.format, result.actions) == ("jpeg", ("converted", "recompressed"))
    assert heights
    assert max(heights) < 1200  # only a sample of its rows was tried as PNG


def test_a_png_photo_far_too_big_is_judged_on_few_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    buf = io.BytesIO()
    photo(2000, 1600, 8).save(buf, "PNG")
    assert len(buf.getvalue()) > 3 * QIANMI.max_bytes  # the source itself says hopeless
    heights = png_heights(monkeypatch)
    result = fit_image(buf.getvalue(), QIANMI)
    assert (result.format, result.actions) == ("jpeg", ("converted", "recompressed"))
    assert heights == [48]  # three bands of 16 rows, no fuller sample, no full encode


def test_a_png_stored_uncompressed_that_fits_stays_png(monkeypatch: pytest.MonkeyPatch) -> None:
    # A smooth graphic stored without compression: its file is far past the limit (the
    # prior says hopeless), its pixels compress to almost nothing (the samples say not).
    across = np.tile(np.linspace(0, 255, 2000, dtype=np.uint8), (1600, 1))
    down = np.tile(np.linspace(0, 255, 1600, dtype=np.uint8)[:, None], (1, 2000))
    buf = io.BytesIO()
    Image.fromarray(np.dstack([across, down, 255 - across])).save(buf, "PNG", compress_level=0)
    assert len(buf.getvalue()) > 5 * QIANMI.max_bytes
    heights = png_heights(monkeypatch)
    result = fit_image(buf.getvalue(), QIANMI)
    assert (result.format, result.actions) == ("png", ("recompressed",))
    # The sparse sample disagreed with the prior, so the fuller sample was asked, and
    # then the PNG encoded in full: lossless, within the limit.
    assert heights == [48, 96, 1600]
    assert len(result.data) <= QIANMI.max_bytes


# --- callers ---------------------------------------------------------------------------------


SCRIPT = """\
import sys
import pandas as pd
import imgkit
from imgkit.sandbox import sandbox_shops

# No `if __name__ == "__main__":` guard: the workers must not run this again.
print("script ran", flush=True)
batch = pd.read_csv(sys.argv[1], dtype=str).fillna("")
out = imgkit.fit(batch, sys.argv[2], shops=sandbox_shops("http://127.0.0.1:9"), workers=2)
print("fitted", int(out["ok"].sum()), "of", len(out), flush=True)
"""


def test_a_script_without_a_main_guard(tmp_path: Path) -> None:
    batch_of(tmp_path / "src").to_csv(tmp_path / "batch.csv", index=False)
    (tmp_path / "script.py").write_text(SCRIPT, encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            str(tmp_path / "script.py"),
            str(tmp_path / "batch.csv"),
            str(tmp_path / "fit"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["script ran", "fitted 4 of 4"]


INTERRUPTED = """\
import sys
import pandas as pd
import imgkit
from imgkit.sandbox import sandbox_shops

batch = pd.read_csv(sys.argv[1], dtype=str).fillna("")
imgkit.fit(batch, sys.argv[2], shops=sandbox_shops("http://127.0.0.1:9"), workers=2,
           progress=False)
print("not interrupted", flush=True)
"""


def test_ctrl_c_keeps_the_copies_made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    batch = batch_of(tmp_path / "src", 10)
    batch.to_csv(tmp_path / "batch.csv", index=False)
    (tmp_path / "script.py").write_text(INTERRUPTED, encoding="utf-8")
    out = tmp_path / "fit"
    child = subprocess.Popen(
        [sys.executable, str(tmp_path / "script.py"), str(tmp_path / "batch.csv"), str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 240
    while child.poll() is None and time.monotonic() < deadline:
        if out.is_dir() and any(p.suffix == ".jpg" for p in out.iterdir()):
            break
        time.sleep(0.05)
    child.send_signal(signal.SIGINT)
    stdout, stderr = child.communicate(timeout=120)
    if "not interrupted" in stdout:
        pytest.skip("the fit finished before the interrupt arrived")
    assert "KeyboardInterrupt" in stderr
    assert child.returncode != 0
    sent: list[int] = []
    real = fit_pool.run_jobs

    def counting(jobs: list[Job], *args: Any) -> None:
        sent.append(len(jobs))
        real(jobs, *args)

    monkeypatch.setattr(fitting, "run_jobs", counting)
    again = fit(batch, out, shops=SHOPS, progress=False)
    assert again["ok"].all()
    assert sent[0] < len(batch)  # what was done before Ctrl-C came from the cache


NOTEBOOK_CELL = """\
import pandas as pd
import imgkit
from imgkit.sandbox import sandbox_shops
batch = pd.read_csv({batch!r}, dtype=str).fillna("")
out = imgkit.fit(batch, {out!r}, shops=sandbox_shops("http://127.0.0.1:9"), workers=2)
print("fitted", int(out["ok"].sum()), "of", len(out))
"""


def test_fit_in_a_jupyter_kernel(python3_kernel: str, tmp_path: Path) -> None:
    import nbclient
    import nbformat

    batch_of(tmp_path / "src").to_csv(tmp_path / "batch.csv", index=False)
    cell = NOTEBOOK_CELL.format(batch=str(tmp_path / "batch.csv"), out=str(tmp_path / "fit"))
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(cell)]
    client = nbclient.NotebookClient(
        nb,
        timeout=300,
        kernel_name=python3_kernel,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    texts = [out.get("text", "") for out in nb.cells[0].outputs if out.get("name") == "stdout"]
    assert "fitted 4 of 4" in "".join(texts), nb.cells[0].outputs


def test_fitted_rows_validate_and_upload(sandbox: Sandbox, tmp_path: Path) -> None:
    batch = batch_of(tmp_path / "src")
    webp = tmp_path / "src" / "shoe.webp"
    photo(800, 800, 11).save(webp)
    batch = pd.concat(
        [
            batch,
            pd.DataFrame(
                [{"platform": "doudian", "shop": "douyin_shop", "file": str(webp), "target": "0"}]
            ),
        ],
        ignore_index=True,
    ).fillna("")
    fitted = imgkit.fit(batch, tmp_path / "fit", shops=sandbox.shops, workers=2, progress=False)
    assert fitted["ok"].all(), fitted[["file", "issues", "fit_reason"]]
    assert imgkit.validate(fitted, shops=sandbox.shops)["ok"].all()
    results = imgkit.upload(fitted, shops=sandbox.shops, journal=False, progress=False)
    assert (results["status"] == "uploaded").all(), results[["file", "status", "message"]]
