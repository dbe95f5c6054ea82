"""Options as data, end to end: every option an adapter declares is a batch column (with
its aliases), is normalized once by validate, reaches the adapter's request over real
loopback HTTP to the sandbox, and is in the destination key when it changes where the
image lands.

The cases are generated from the adapters' declarations (``Adapter.options``), so an
``OptionSpec`` added to an adapter is tested here at once; the only table kept by hand is
:data:`WIRE` (the request field each option travels in), and a test fails until the new
option has its line there.
"""

from __future__ import annotations

import email.parser
import email.policy
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl

import httpx
import pandas as pd
import pytest

import imgkit
from imgkit.engine.destination import DESTINATION_OPTIONS, Destination, destination_options
from imgkit.engine.plan import make_rows
from imgkit.intake.batch import OPTIONAL_COLUMNS, read_batch
from imgkit.intake.headers import HEADER_ALIASES, column_for
from imgkit.intake.options import (
    BOOL_WORDS,
    FALSE_WORDS,
    KINDS,
    NOT_IN_KEY,
    TRUE_WORDS,
    normalize,
    option_registry,
)
from imgkit.intake.shops import load_shops, make_shop
from imgkit.platforms import get_adapter, platform_keys
from imgkit.platforms.base import OptionSpec, bool_text
from imgkit.sandbox import Sandbox

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
SHA = "ab" * 32

# The request field each (platform, option) travels in (docs/protocols.md): the one table
# written by hand, checked against the declarations by test_every_declared_option_has_a_wire_field.
WIRE: dict[tuple[str, str], str] = {
    ("taobao_picture", "title"): "title",
    ("taobao_picture", "client_type"): "client_type",
    ("taobao_picture", "is_https"): "is_https",
    ("taobao_miniapp", "title"): "file_name",
    ("taobao_miniapp", "replace_id"): "pic_id",
    ("tmall_item", "replace_id"): "id",
    ("tmall_item", "position"): "position",
    ("tmall_item", "is_major"): "is_major",
    ("tmall_item", "is_rectangle"): "is_rectangle",
    ("doudian", "title"): "material_name",
    ("doudian", "need_distinct"): "need_distinct",
    ("qianmi_sku", "position"): "position",
    ("qianmi_sku", "replace_id"): "img_id",
}

DECLARED: list[tuple[str, OptionSpec]] = [
    (key, spec) for key in platform_keys() for spec in get_adapter(key).options
]
DECLARED_IDS = [f"{key}-{spec.name}" for key, spec in DECLARED]


def spellings(spec: OptionSpec) -> list[tuple[str, str]]:
    """(as a person writes it, canonical text) pairs for an option of this kind."""
    if spec.kind == "bool":
        return [("是", "true"), (" YES ", "true"), ("1", "true"), ("否", "false"), ("F", "false")]
    if spec.kind == "int":
        return [("07", "7"), ("+7", "7"), ("7.0", "7"), (" 7 ", "7")]
    if spec.kind == "choice":
        pairs = [(f" {c} ", c) for c in spec.choices]
        pairs += [(c.partition(":")[2].title(), c) for c in spec.choices if ":" in c]
        pairs += [(c.partition(":")[2].upper(), c) for c in spec.choices if ":" in c]
        return pairs
    return [("  杯子 mug ", "杯子 mug"), ("007", "007")]


# --- the registry and its lists -------------------------------------------------------------


def test_the_registry_is_every_declared_option() -> None:
    registry = option_registry()
    assert set(registry) == {spec.name for _, spec in DECLARED}
    for key, spec in DECLARED:
        assert registry[spec.name].specs[key] is spec
        assert spec.kind in KINDS, f"{key}.{spec.name}: kind {spec.kind!r} not in {KINDS}"
        assert bool(spec.choices) == (spec.kind == "choice"), f"{key}.{spec.name}: choices"
        # One name, one reading: adapters may differ only between text and one other kind.
        kinds = {s.kind for s in registry[spec.name].specs.values()} - {"text"}
        assert len(kinds) <= 1, f"{spec.name} is declared as {sorted(kinds)}"


def test_every_declared_option_has_a_wire_field() -> None:
    assert set(WIRE) == {(key, spec.name) for key, spec in DECLARED}


def test_every_option_is_a_batch_column_with_aliases() -> None:
    assert set(OPTIONAL_COLUMNS) == set(option_registry())
    for name in OPTIONAL_COLUMNS:
        assert HEADER_ALIASES.get(name), f"option {name!r} has no header aliases"


def test_not_in_key_names_only_declared_options() -> None:
    assert set(option_registry()) >= NOT_IN_KEY
    assert set(DESTINATION_OPTIONS) == {n for n, o in option_registry().items() if o.in_key}


def test_the_yes_no_words_are_the_wires() -> None:
    # The yes words live in imgkit.platforms.wire, one layer down; options reads them there.
    for word in TRUE_WORDS | {w.upper() for w in TRUE_WORDS}:
        assert bool_text(word) == "true"
    for word in FALSE_WORDS | {w.upper() for w in FALSE_WORDS} | {""}:
        assert bool_text(word) == "false"
    assert TRUE_WORDS | FALSE_WORDS | {""} == BOOL_WORDS


# --- (a) a batch column, read with its aliases ---------------------------------------------


@pytest.mark.parametrize("name", OPTIONAL_COLUMNS)
def test_each_alias_reads_the_column(name: str, tmp_path: Path) -> None:
    for alias in (name, *HEADER_ALIASES[name]):
        assert column_for(alias) == name
        frame = pd.DataFrame(
            {"平台": ["tmall"], "店铺": ["s"], "图片": ["a.jpg"], "商品ID": ["1"], alias: ["x"]}
        )
        batch = read_batch(frame)
        assert batch.loc[0, name] == "x", alias
        assert batch.attrs["imgkit_headers"][name] == alias
    path = tmp_path / "b.csv"
    path.write_text(f"platform,shop,file,target,{HEADER_ALIASES[name][0]}\ntmall,s,a.jpg,1,y\n")
    assert read_batch(path).loc[0, name] == "y"


# --- (b) normalized once, by validate -------------------------------------------------------


def _sample_rows(platform: str) -> pd.DataFrame:
    batch = read_batch(SAMPLE / "batch.csv")
    rows = batch[batch["platform"] == platform].reset_index(drop=True)
    assert len(rows), platform
    return rows


@pytest.mark.parametrize(("platform", "spec"), DECLARED, ids=DECLARED_IDS)
def test_validate_gives_canonical_values(platform: str, spec: OptionSpec) -> None:
    cases = spellings(spec)
    base = _sample_rows(platform).iloc[[0] * len(cases)].reset_index(drop=True)
    base[spec.name] = pd.array([raw for raw, _ in cases], dtype="str")
    checked = imgkit.validate(base, shops=SAMPLE / "shops.toml")
    assert checked[spec.name].tolist() == [canonical for _, canonical in cases]
    assert [normalize(spec.name, raw, platform) for raw, _ in cases] == checked[spec.name].tolist()
    # Normalizing again changes nothing.
    assert [normalize(spec.name, c, platform) for _, c in cases] == [c for _, c in cases]


# Yes/no and choice options have a closed set of values: validation refuses any other.
CLOSED = [(key, spec) for key, spec in DECLARED if spec.kind in ("bool", "choice")]


@pytest.mark.parametrize(("platform", "spec"), CLOSED, ids=[f"{k}-{s.name}" for k, s in CLOSED])
def test_validation_accepts_what_normalize_reads(platform: str, spec: OptionSpec) -> None:
    good = [raw for raw, _ in spellings(spec)]
    rows = _sample_rows(platform).iloc[[0] * (len(good) + 1)].reset_index(drop=True)
    rows[spec.name] = pd.array([*good, "maybe-not"], dtype="str")
    checked = imgkit.validate(rows, shops=SAMPLE / "shops.toml")
    flagged = checked["issues"].str.contains("bad_option").tolist()
    assert flagged == [False] * len(good) + [True]
    assert checked["message"].iloc[-1].count("maybe-not") == 1  # quoted as written


# --- (c) the value reaches the adapter's request, over loopback HTTP -------------------------


class Recorder(httpx.AsyncBaseTransport):
    """A real HTTP transport that keeps every request it sends (body included)."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.requests: list[tuple[httpx.Request, bytes]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        self.requests.append((request, body))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def fields_of(request: httpx.Request, body: bytes) -> dict[str, str]:
    """The request's parameters: query, form and multipart text fields."""
    found = dict(request.url.params)
    kind = request.headers.get("content-type", "")
    if kind.startswith("application/x-www-form-urlencoded"):
        found.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    elif kind.startswith("multipart/form-data"):
        head = f"Content-Type: {kind}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if isinstance(name, str) and part.get_filename() is None:
                payload = part.get_payload(decode=True)
                assert isinstance(payload, bytes)
                found[name] = payload.decode("utf-8")
    return found


def _upload(sandbox: Sandbox, batch: pd.DataFrame) -> tuple[pd.DataFrame, list[dict[str, str]]]:
    """Upload ``batch`` to the sandbox; the results and each upload request's fields."""
    recorder = Recorder()
    results = imgkit.upload(batch, sandbox.shops, journal=False, progress=False, transport=recorder)
    smallest = min(Path(f).stat().st_size for f in batch["file"])
    # An upload request carries the file (raw, or base64): look-ups and tokens are small.
    uploads = [fields_of(r, b) for r, b in recorder.requests if len(b) >= smallest]
    return results, uploads


def _valid_row(platform: str, name: str, raw: str, *, bare: bool = False) -> pd.DataFrame:
    """The first sample row of ``platform`` that validates with option ``name`` = ``raw``
    (``bare``: its other options blank, e.g. a plain image to replace, not a main one)."""
    rows = _sample_rows(platform)
    if bare:
        for other in OPTIONAL_COLUMNS:
            if other in rows.columns and other != name:
                rows[other] = pd.array([""] * len(rows), dtype="str")
    rows[name] = pd.array([raw] * len(rows), dtype="str")
    checked = imgkit.validate(rows, shops=SAMPLE / "shops.toml")
    ok = checked.index[checked["ok"]].tolist()
    assert ok, f"no sample row of {platform} is valid with {name} = {raw!r}"
    return rows.iloc[[ok[0]]].reset_index(drop=True)


def _stored_id(sandbox: Sandbox, row: pd.DataFrame, name: str) -> str:
    """An image id stored at the row's target: what a replace_id names."""
    first = row.copy()
    first[name] = ""
    results, _ = _upload(sandbox, first)
    assert results["status"].tolist() == ["uploaded"], results.to_dict("records")
    return str(results["image_id"].iloc[0])


def _wire_cases() -> Iterator[tuple[str, OptionSpec, str, str]]:
    for platform, spec in DECLARED:
        if spec.name == "replace_id":
            yield platform, spec, "<stored id>", "<stored id>"
        elif spec.kind == "int":
            yield platform, spec, "01", "1"
        else:
            for raw, canonical in spellings(spec):
                if canonical not in ("false",) and raw.strip() != canonical:
                    yield platform, spec, raw, canonical
                    if spec.kind != "choice":
                        break


WIRE_CASES = list(_wire_cases())


@pytest.mark.parametrize(
    ("platform", "spec", "raw", "canonical"),
    WIRE_CASES,
    ids=[f"{p}-{s.name}-{raw.strip()}" for p, s, raw, _ in WIRE_CASES],
)
def test_the_option_reaches_the_request(
    sandbox: Sandbox, platform: str, spec: OptionSpec, raw: str, canonical: str
) -> None:
    name = spec.name
    if name == "replace_id":
        row = _valid_row(platform, name, "1", bare=True)
        stored = _stored_id(sandbox, row, name)
        # Written with a leading zero where the adapter reads a number, with spaces else.
        raw, canonical = (f"0{stored}", stored) if spec.kind == "int" else (f" {stored} ", stored)
    # A position on a plain image: on Tmall the main or 3:4 image (is_major, is_rectangle
    # in the sample rows) takes none of 1-4, so the other options stay blank for it too.
    row = _valid_row(platform, name, raw, bare=name in ("replace_id", "position"))
    results, uploads = _upload(sandbox, row)
    assert results["status"].tolist() == ["uploaded"], results.to_dict("records")
    assert len(uploads) == 1, uploads
    assert uploads[0][WIRE[platform, name]] == canonical
    assert imgkit.validate(row, shops=SAMPLE / "shops.toml").loc[0, name] == canonical


# --- (d) in the destination key when it changes where the image lands ----------------------


def _key(options: dict[str, object]) -> str:
    shop = make_shop(
        "s",
        {"platform": "tmall_item", "app_key": "1", "app_secret": "x", "session": "y"},
    )
    return Destination.of(shop, "1001", options, fingerprint_key=b"k").key(SHA)


@pytest.mark.parametrize("name", OPTIONAL_COLUMNS)
def test_the_key_holds_the_options_that_change_the_place(name: str) -> None:
    option = option_registry()[name]
    spec = next(iter(option.specs.values()))
    if option.kind == "bool":
        values = ["true"]
    elif option.kind == "choice":
        values = [c for c in option.choices if c != option.default]
    else:
        values = ["1", "2"]
    keys = {_key({name: v}) for v in values}
    if option.in_key:
        assert len(keys) == len(values), name
        assert _key({}) not in keys, name
    else:
        assert keys == {_key({})}, name
        assert destination_options({name: values[0]}) == {}
    # A value as a person wrote it and its canonical text are one key.
    for raw, canonical in spellings(spec):
        assert _key({name: raw}) == _key({name: canonical}), (name, raw)
    if option.default is not None:
        assert _key({name: option.default}) == _key({})


def test_a_validated_row_keeps_the_key_of_its_raw_cells(tmp_path: Path) -> None:
    # Journals written before the values were normalized in validate keep matching: the
    # key of a validated (canonical) row is the key of the row as written.
    batch = read_batch(SAMPLE / "batch.csv")
    batch.loc[5, "is_major"] = "是"
    batch.loc[6, "position"] = "01"
    batch.loc[1, "client_type"] = "PHONE"
    batch.loc[0, "title"] = "  陶瓷马克杯 ceramic mug  "
    shops = load_shops(SAMPLE / "shops.toml")
    checked = imgkit.validate(batch, shops=shops)
    assert checked["ok"].all()
    assert checked.loc[5, "is_major"] == "true"
    assert checked.loc[6, "position"] == "1"
    assert checked.loc[1, "client_type"] == "client:phone"
    rows, decided = make_rows(checked, shops, b"k")
    assert not decided
    for row in rows:
        cells = batch.iloc[int(str(row.index))]
        raw = {n: cells[n] for n in OPTIONAL_COLUMNS if n in batch.columns}
        place = Destination.of(row.shop, row.target, raw, fingerprint_key=b"k")
        assert row.key == place.key(row.sha256), row.index
