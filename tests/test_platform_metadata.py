"""Every registration point agrees with the adapters' declarations, and a sixth platform works.

Each adapter module declares its platform once (:class:`PlatformDeclaration`: key, aliases,
abilities).  The checks here compare every place that names platforms with those
declarations — the registry, the sandbox's table, routes and counters, the generated docs,
the conformance cases and the sample data — so a platform half-added fails by name.

Then :func:`test_a_sixth_platform_uploads_through_imgkit_upload` does what
``docs/adding-a-platform.md`` says, in-process: it declares a small throwaway adapter and
sandbox emulator, registers both, and uploads through :func:`imgkit.upload` to a real
:class:`imgkit.Sandbox` over loopback HTTP.  Registration is undone when it ends.
"""

from __future__ import annotations

import csv
import io
import re
import tomllib
from pathlib import Path

import httpx
import pandas as pd
import pytest
from PIL import Image
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from test_conformance import CASES, KNOWN_DIFFERENCES, Skip

import imgkit
from imgkit.intake.shops import Shop
from imgkit.platforms import (
    ALIASES,
    BUILTIN_ADAPTERS,
    REGISTRY,
    Adapter,
    Category,
    CodeRule,
    CodeTable,
    CredentialSpec,
    Job,
    Limits,
    OptionSpec,
    Outcome,
    PlatformDeclaration,
    declaration,
    declaration_problems,
    get_adapter,
    platform_keys,
    register_platform,
    registered,
    resolve_platform,
    text,
    unregister_platform,
)
from imgkit.sandbox import (
    Emulator,
    Sandbox,
    SandboxState,
    create_app,
    emulating,
    registry,
    sandbox_shops,
)
from imgkit.sandbox.docs import error_tables
from imgkit.sandbox.failures import Failure, PlatformFailure, catalogue
from imgkit.sandbox.imageinfo import inspect_image
from imgkit.sandbox.pipeline import Call, SandboxPlatform, handle

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
KEYS = platform_keys()
DECLARATIONS = {key: declaration(key) for key in KEYS}

# --- the registry -------------------------------------------------------------------------


def test_the_registry_is_the_builtin_declarations() -> None:
    builtin = [spec.rpartition(":")[2] for spec in BUILTIN_ADAPTERS]
    assert [REGISTRY[key].__name__ for key in KEYS] == builtin
    assert set(ALIASES) == set(REGISTRY) == set(DECLARATIONS)


@pytest.mark.parametrize("key", KEYS)
def test_adapter_key_and_aliases_come_from_its_declaration(key: str) -> None:
    adapter = get_adapter(key)
    spec = DECLARATIONS[key]
    assert spec.key == adapter.key == key
    assert type(adapter).__dict__["declaration"] is spec, "declared in the adapter class"
    assert ALIASES[key] == spec.aliases
    for alias in spec.aliases:
        assert resolve_platform(alias) == key


@pytest.mark.parametrize("key", KEYS)
def test_declared_abilities_are_the_implemented_ones(key: str) -> None:
    adapter = get_adapter(key)
    assert declaration_problems(adapter) == []
    assert adapter.declaration.abilities == adapter.implemented_abilities()


def test_a_declaration_that_promises_too_much_is_refused() -> None:
    class Boastful(type(get_adapter("tmall_item"))):  # type: ignore[misc]
        declaration = PlatformDeclaration("boastful", lookup=True, replace=True, poll=True)

    with pytest.raises(ValueError, match="declares abilities"):
        register_platform(Boastful)
    assert "boastful" not in platform_keys()


def test_a_taken_alias_is_refused() -> None:
    class Squatter(type(get_adapter("tmall_item"))):  # type: ignore[misc]
        declaration = PlatformDeclaration("squatter", aliases=("天猫",), lookup=True, replace=True)

    with pytest.raises(ValueError, match="already means 'tmall_item'"):
        register_platform(Squatter)
    with pytest.raises(KeyError):
        unregister_platform("squatter")


def test_a_platform_with_an_option_no_batch_column_holds_is_refused() -> None:
    """Batch columns, option normalization and the journal key are fixed at import: an
    adapter registered later with a new option would be validated and never sent."""
    base = type(get_adapter("tmall_item"))

    class Foldered(base):  # type: ignore[misc, valid-type]
        declaration = PlatformDeclaration("foldered", lookup=True, replace=True)
        options = (*base.options, OptionSpec("folder_id", "the album folder", kind="int"))

    with pytest.raises(ValueError, match=r"\['folder_id'\] are not batch columns"):
        register_platform(Foldered)
    assert "foldered" not in platform_keys()


# --- the sandbox --------------------------------------------------------------------------


def test_the_sandbox_table_matches_the_registry() -> None:
    assert registry.problems() == []
    assert list(registry.SANDBOX_MODULES) == list(KEYS)
    assert list(registry.emulators()) == list(KEYS)


def test_the_sandbox_counts_every_platform_and_gateway() -> None:
    stats = SandboxState().stats()
    assert set(stats) == {*KEYS, *registry.gateways(), "total", "images"}


@pytest.mark.parametrize("key", KEYS)
def test_the_sandbox_serves_each_adapters_path(key: str) -> None:
    app = create_app(SandboxState())
    paths = {route.path for route in app.routes if isinstance(route, Route)}
    assert get_adapter(key).path in paths
    emulator = registry.emulators()[key]
    assert emulator.platform.key == key
    assert emulator.failures, f"{key}: an emulator without a failure catalogue"


@pytest.mark.parametrize("key", KEYS)
def test_forced_errors_of_every_platform_are_accepted(key: str) -> None:
    error = next(iter(registry.emulators()[key].failures))
    plan = SandboxState().set_faults({"force": [{"platform": key, "error": error}]})
    assert plan.forced[0].platform == key


# --- docs ---------------------------------------------------------------------------------


def _headings(name: str) -> list[str]:
    text = (DOCS / name).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if re.match(r"## (?!#)", line)]


@pytest.mark.parametrize("key", KEYS)
def test_platforms_doc_has_a_section_with_the_declared_aliases(key: str) -> None:
    text = (DOCS / "platforms.md").read_text(encoding="utf-8")
    section = text.split(f"## `{key}`", 1)[1].split("\n## ", 1)[0]
    assert f"- aliases: {', '.join(DECLARATIONS[key].aliases)}" in section
    assert "- abilities: " in section


def test_sandbox_errors_doc_has_a_section_per_emulator_and_gateway() -> None:
    headings = _headings("sandbox-errors.md")
    titles = [e.title for e in (*registry.emulators().values(), *registry.gateways().values())]
    assert sorted(f"## {title}" for title in titles) == sorted(headings)
    assert (DOCS / "sandbox-errors.md").read_text(encoding="utf-8") == error_tables()


def test_the_adding_a_platform_doc_names_the_registration_calls() -> None:
    text = (DOCS / "adding-a-platform.md").read_text(encoding="utf-8")
    for needed in (
        "PlatformDeclaration",
        "register_platform",
        "register_emulator",
        "BUILTIN_ADAPTERS",
        "SANDBOX_MODULES",
        "tests/test_conformance.py",
        "sample_data",
        "python -m imgkit.docgen",
    ):
        assert needed in text, f"docs/adding-a-platform.md does not mention {needed}"


# --- conformance cases and sample data ----------------------------------------------------


@pytest.mark.parametrize("key", KEYS)
def test_conformance_case_agrees_with_the_declared_abilities(key: str) -> None:
    spec, case = DECLARATIONS[key], CASES[key]
    assert (case.token_shop is not None) == spec.token
    for check, able in (("replace", spec.replace), ("audit_pending", spec.poll)):
        skipped = isinstance(KNOWN_DIFFERENCES.get((key, check)), Skip)
        assert skipped == (not able), f"({key!r}, {check!r}) Skip entry vs declaration"
    token_skipped = isinstance(KNOWN_DIFFERENCES.get((key, "fetched_token")), Skip)
    assert token_skipped == (not spec.token)


def test_conformance_cases_are_the_registered_platforms() -> None:
    assert set(CASES) == set(KEYS)


@pytest.mark.parametrize("key", KEYS)
def test_each_emulator_declares_sandbox_shops_of_its_platform(key: str) -> None:
    shops = sandbox_shops("http://127.0.0.1:9")
    names = registry.emulators()[key].shops
    assert names, f"{key}: its emulator declares no sandbox shop"
    assert all(shops[name]["platform"] == key for name in names)


def test_sample_data_has_a_shop_and_rows_for_every_platform() -> None:
    with (ROOT / "sample_data" / "shops.toml").open("rb") as fh:
        shops = tomllib.load(fh)
    assert {resolve_platform(table["platform"]) for table in shops.values()} == set(KEYS)
    with (ROOT / "sample_data" / "batch.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {resolve_platform(row["platform"]) for row in rows} == set(KEYS)


# --- a sixth platform, end to end ---------------------------------------------------------

SIX = "sixth_demo"
SIX_PATH = "/sixth/upload"
SIX_TOKEN = "six-token-1"


class SixthAdapter(Adapter):
    """A throwaway platform: a bearer token, one multipart upload, a JSON answer."""

    declaration = PlatformDeclaration(SIX, aliases=("第六平台", "sixth"))
    title = "A throwaway sixth platform (tests only)"
    default_base_url = "https://sixth.invalid"
    path = SIX_PATH
    limits = Limits(max_bytes=1024 * 1024, formats=frozenset({"jpeg", "png"}))
    target_meaning = "album id"
    credentials = CredentialSpec(
        required=("token",), secret=frozenset({"token"}), identity=("token",)
    )
    codes = CodeTable({"denied": CodeRule(Category.AUTH, False, "令牌无效", "bad token")})

    def build_request(self, job: Job, shop: Shop, *, now: float, token: str = "") -> httpx.Request:
        """A multipart ``file`` with the album id, authorized by the shop's token."""
        return httpx.Request(
            "POST",
            self.url(shop),
            headers={"Authorization": f"Bearer {shop.get('token')}"},
            data={"album": job.target},
            files={"file": (job.filename, job.data or b"", "image/jpeg")},
        )

    def parse_response(self, response: httpx.Response) -> Outcome:
        """``{"ok": true, "id", "url"}``, or ``{"ok": false, "error"}`` classified."""
        body = self.read_coded(response, "ok")
        if isinstance(body, Outcome):
            return body
        if body["ok"] is True and text(body.get("url")):
            return Outcome(ok=True, url=text(body["url"]), image_id=text(body.get("id")))
        code = text(body.get("error"))
        return self.classify(code, code=code, message=text(body.get("message")), raw=body)


class SixthPlatform(SandboxPlatform):
    """How the sixth platform's emulator answers a failure."""

    key = SIX
    failures = catalogue(
        Failure("denied", "denied", "令牌无效", trigger="a wrong bearer token"),
        Failure("busy", "busy", "系统繁忙", trigger="fault `transient` or `rate_limited`"),
        Failure("bad_body", "bad_body", "请求体无法解析", trigger="an unparseable body"),
    )
    transient_failure = "busy"
    rate_limited_failure = "busy"
    malformed_failure = "bad_body"

    def render(self, call: Call, failure: PlatformFailure) -> Response:
        """``{"ok": false, "error", "message"}``, HTTP 200."""
        answer = {"ok": False, "error": failure.failure.code, "message": failure.message}
        return JSONResponse(answer)


SIX_PLATFORM = SixthPlatform()


async def _six_upload(call: Call) -> Response:
    if call.request.headers.get("authorization") != f"Bearer {SIX_TOKEN}":
        raise SIX_PLATFORM.fail("denied")
    upload = call.files["file"]
    image = call.keep("six_shop", call.param("album"), upload, inspect_image(upload.data))
    return JSONResponse({"ok": True, "id": image.key, "url": image.url(call.base_url)})


def _six_routes(state: SandboxState) -> list[Route]:
    async def endpoint(request: Request) -> Response:
        return await handle(request, state, SIX_PLATFORM, _six_upload)

    return [Route(SIX_PATH, endpoint, methods=["POST"])]


SIX_EMULATOR = Emulator(
    SIX,
    SIX_PLATFORM,
    title=f"`{SIX}`: tests only",
    routes=_six_routes,
    shops={"six_shop": {"token": SIX_TOKEN}, "six_wrong": {"token": "not-the-token"}},
)


def _jpeg(tmp_path: Path, name: str) -> Path:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 120, 200)).save(out, "JPEG")
    path = tmp_path / name
    path.write_bytes(out.getvalue())
    return path


def test_a_sixth_platform_uploads_through_imgkit_upload(tmp_path: Path) -> None:
    image = _jpeg(tmp_path, "six.jpg")
    batch = pd.DataFrame(
        [
            {"platform": "第六平台", "shop": "six_shop", "file": str(image), "target": "7"},
            {"platform": SIX, "shop": "six_wrong", "file": str(image), "target": "7"},
        ]
    )
    with registered(SixthAdapter), emulating(SIX_EMULATOR), Sandbox() as sandbox:
        assert SIX in platform_keys()
        assert registry.problems() == []
        # The sandbox's shops now include the emulator's, pointing at this server.
        assert sandbox.shops["six_shop"] == {
            "platform": SIX,
            "token": SIX_TOKEN,
            "base_url": sandbox.base_url,
        }
        results = imgkit.upload(batch, shops=sandbox.shops, journal=False, progress=False)
        ok, refused = results.iloc[0], results.iloc[1]
        assert ok["status"] == "uploaded", ok.to_dict()
        assert httpx.get(ok["url"], trust_env=False).content == image.read_bytes()
        assert refused["status"] == "failed", refused.to_dict()
        assert refused["category"] == "auth", refused.to_dict()
        stats = sandbox.stats()[SIX]
        assert (stats["requests"], stats["stored"]) == (2, 1)
        assert "denied" in " ".join(stats["rejections"])
    # Registration is undone: the registry and the sandbox table are the built-ins again.
    assert platform_keys() == KEYS
    assert list(registry.emulators()) == list(KEYS)
    assert "six_shop" not in sandbox_shops("http://127.0.0.1:9")
    with pytest.raises(imgkit.UnknownPlatformError):
        resolve_platform("第六平台")
