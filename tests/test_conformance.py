"""The shared conformance suite: every platform adapter against the sandbox, over loopback HTTP.

In the spirit of rclone's ``fstests``: one suite, every backend.  Each check is
parametrized over :func:`imgkit.platform_keys`, so a new platform joins automatically and
fails until it has a :data:`CASES` entry.  Where a platform differs, the difference is
listed by name in :data:`KNOWN_DIFFERENCES` with a reason:

* :class:`Skip` — the platform has no such feature (Douyin has no replace-by-id); the test
  is skipped with the reason, so ``pytest -ra`` lists it;
* :class:`Answers` — the platform answers this situation with another category (its
  protocol cannot say more); the test asserts that category instead;
* :class:`Bug` — a known bug in the adapter or the sandbox; the test is a strict xfail, so
  it fails loudly once the bug is fixed and the entry must go.

A platform whose :data:`CASES` entry says it lacks a feature but has no ``Skip`` entry
fails: nothing is skipped silently.

Requests are built with ``adapter.build_request`` and sent with a plain ``httpx.Client``
(:func:`send`); :func:`imgkit.upload_one` is exercised for the plain upload too.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

import imgkit
from imgkit import Category, ImgkitError, Sandbox, platform_keys
from imgkit.engine.single import TokenCache
from imgkit.intake.probe import sniff_format
from imgkit.intake.shops import Shop, load_shops
from imgkit.platforms import get_adapter
from imgkit.platforms.base import Adapter, Job, Outcome, PlatformDeclaration
from imgkit.sandbox import AuditRule

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data" / "images" / "白色T恤.jpg"  # 600x800: fits every platform's rules
SECRET_HINTS = ("secret", "token", "session", "password")
POLL_BUDGET_S = 5.0

# --- images -------------------------------------------------------------------------------


def encode(
    fmt: str, size: tuple[int, int] = (600, 800), color: tuple[int, int, int] = (200, 40, 40)
) -> bytes:
    """A plain image of ``size`` in Pillow format ``fmt`` (JPEG, PNG, WEBP…)."""
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, fmt)
    return out.getvalue()


def jpeg_of_size(size: int) -> bytes:
    """A valid JPEG of exactly ``size`` bytes: a small one padded after its end marker."""
    base = encode("JPEG", (64, 64))
    assert len(base) < size
    return base + b"\0" * (size - len(base))


def just_over_limit(adapter: Adapter) -> bytes:
    """One byte more than the platform accepts."""
    return jpeg_of_size(adapter.limits.max_bytes + 1)


# --- the table of platforms ---------------------------------------------------------------


@dataclass(frozen=True)
class BadDimensions:
    """A job breaking a pixel rule: an image of ``size`` with ``options``."""

    size: tuple[int, int]
    options: Mapping[str, str]


@dataclass(frozen=True)
class Case:
    """How to exercise one platform against the sandbox world (``docs/sandbox.md``).

    What the platform can do (replace by id, audits, a token endpoint) is not repeated
    here: it comes from the adapter's declaration (:attr:`Platform.declaration`).
    """

    shop: str  # a shop name of ``Sandbox.shops``
    target: str  # a good target with room for a few images
    missing_target: str  # well-formed but absent from the sandbox world
    malformed_target: str  # not a target of this platform at all
    secret_field: str  # the shop field holding the secret that signs or authorizes
    bad_dimensions: BadDimensions | None = None  # None: the platform has no pixel rule
    too_large: Callable[[Adapter], bytes] = just_over_limit
    expired_codes: tuple[str, ...] = ()  # raw codes a stale timestamp is answered with
    token_shop: str | None = None  # a shop whose token comes from a token endpoint


CASES: dict[str, Case] = {
    "taobao_picture": Case(
        shop="tb_picture_main",
        target="0",
        missing_target="99",
        malformed_target="abc",
        secret_field="access_token",
        bad_dimensions=BadDimensions((800, 800), {"client_type": "client:phone"}),
        token_shop="tb_picture_oauth",
    ),
    "taobao_miniapp": Case(
        shop="miniapp_main",
        target="3000000012345",
        missing_target="3000000099999",
        malformed_target="mini-app",
        secret_field="app_secret",
        expired_codes=("31",),
    ),
    "tmall_item": Case(
        shop="tmall_store",
        target="1489161940",
        missing_target="1489169999",
        malformed_target="item-1489161940",
        secret_field="app_secret",
        bad_dimensions=BadDimensions((800, 800), {"is_rectangle": "true"}),
        expired_codes=("31",),
    ),
    "doudian": Case(
        shop="douyin_shop",
        target="0",
        missing_target="73691281073984637960000",
        malformed_target="folder-a",
        secret_field="app_secret",
        expired_codes=("40003", "isv.timestamp-invalid"),
    ),
    "qianmi_sku": Case(
        shop="qianmi_shop",
        target="18353/g1234",
        missing_target="18353/g9999",
        malformed_target="18353",
        secret_field="app_secret",
        expired_codes=("33",),
    ),
}


@dataclass(frozen=True)
class Skip:
    """The platform has no such feature: the check is skipped with this reason."""

    reason: str


@dataclass(frozen=True)
class Answers:
    """The platform answers this check with ``category`` instead, for this reason."""

    category: Category
    reason: str


@dataclass(frozen=True)
class Bug:
    """A known adapter or sandbox bug: the check is a strict xfail until it is fixed."""

    reason: str


Known = Skip | Answers | Bug

CHECKS = (
    "upload",
    "upload_one",
    "fetched_token",
    "replace",
    "too_large",
    "bad_format_webp",
    "bad_format_text",
    "bad_dimensions",
    "malformed_target",
    "wrong_secret",
    "expired_timestamp",
    "rate_limited",
    "transient",
    "http_500",
    "dropped_connection",
    "not_found",
    "audit_pending",
    "audit_rejected",
)

_NO_AUDIT = "stores the image at once: there is no audit to wait for or to fail"
_NO_TOKEN = "signs every request with the shop's own secret: there is no token endpoint"

KNOWN_DIFFERENCES: dict[tuple[str, str], Known] = {
    ("taobao_picture", "replace"): Skip("vv-tool's picture upload has no replace-by-id parameter"),
    ("doudian", "replace"): Skip(
        "Douyin's material centre has no replace-by-id (need_distinct returns an existing "
        "material instead)"
    ),
    ("taobao_miniapp", "bad_dimensions"): Skip("the mini-app picture API has no pixel rule"),
    ("doudian", "bad_dimensions"): Skip("Douyin's material centre has no pixel rule"),
    ("qianmi_sku", "bad_dimensions"): Skip("Qianmi's SKU images have no pixel rule"),
    ("taobao_picture", "expired_timestamp"): Skip(
        "vv-tool requests carry no timestamp (a bearer token only): nothing can expire"
    ),
    ("taobao_picture", "not_found"): Answers(
        Category.INVALID_INPUT,
        "vv-tool answers an unknown picture category with code 100 (图片分类不存在), the same "
        "answer as a malformed one; docs/protocols.md maps 100 to invalid_input",
    ),
    ("doudian", "not_found"): Answers(
        Category.INVALID_INPUT,
        "fw199 answers an unknown folder with 40004 isv.parameter-invalid:folder_id, the same "
        "answer as a malformed one; it has no not-found code for folders",
    ),
    **{
        (key, check): Skip(f"{name} {_NO_AUDIT}")
        for key, name in (
            ("taobao_picture", "Taobao picture space"),
            ("taobao_miniapp", "the mini-app picture API"),
            ("tmall_item", "Tmall"),
            ("qianmi_sku", "Qianmi"),
        )
        for check in ("audit_pending", "audit_rejected")
    },
    **{
        (key, "fetched_token"): Skip(f"{name} {_NO_TOKEN}")
        for key, name in (
            ("taobao_miniapp", "TOP"),
            ("tmall_item", "TOP"),
            ("doudian", "fw199"),
            ("qianmi_sku", "Qianmi (the access token is configured, not fetched)"),
        )
    },
}


def known(request: pytest.FixtureRequest, platform: str, check: str) -> Answers | None:
    """Apply the known difference of ``(platform, check)``, if any.

    Skips, or marks a strict xfail, or returns the :class:`Answers` to expect instead.
    """
    assert check in CHECKS, check
    entry = KNOWN_DIFFERENCES.get((platform, check))
    if isinstance(entry, Skip):
        pytest.skip(f"{platform}: {entry.reason}")
    if isinstance(entry, Bug):
        request.applymarker(pytest.mark.xfail(reason=f"{platform}: {entry.reason}", strict=True))
    return entry if isinstance(entry, Answers) else None


def require(platform: str, check: str, available: bool) -> None:
    """Fail when a case lacks a feature that KNOWN_DIFFERENCES does not excuse."""
    if not available:
        pytest.fail(
            f"CASES[{platform!r}] says the platform cannot do {check!r}, but KNOWN_DIFFERENCES "
            f"has no Skip entry with a reason for ({platform!r}, {check!r})"
        )


# --- the driver ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    """What came of one job: the outcome, and the build-time refusal if there was one."""

    outcome: Outcome
    raised: ImgkitError | None = None


def send(adapter: Adapter, shop: Shop, job: Job, *, now: float, client: httpx.Client) -> Sent:
    """Build ``job``'s request (fetching a token where needed), send it, classify the answer.

    An :class:`ImgkitError` raised while building (unusable input) becomes an outcome of its
    category.
    """
    try:
        token = TokenCache().get(adapter, shop, client)
        request = adapter.build_request(job, shop, now=now, token=token)
    except ImgkitError as exc:
        failed = Outcome(ok=False, category=exc.category, code=exc.code, message=exc.message)
        return Sent(failed, exc)
    return Sent(exchange(adapter, request, client))


def exchange(adapter: Adapter, request: httpx.Request, client: httpx.Client) -> Outcome:
    """Send a built request; the adapter classifies the answer or its absence."""
    try:
        response = client.send(request)
    except httpx.TransportError as exc:
        return adapter.parse_transport_error(exc)
    return adapter.parse_response(response)


def poll(adapter: Adapter, shop: Shop, outcome: Outcome, client: httpx.Client) -> list[Outcome]:
    """Poll a pending upload until it leaves ``audit_pending``; every outcome seen."""
    seen = [outcome]
    deadline = time.monotonic() + POLL_BUDGET_S
    while seen[-1].category is Category.AUDIT_PENDING and time.monotonic() < deadline:
        time.sleep(0.05)
        request = adapter.build_poll_request(seen[-1].pending_id, shop, now=time.time())
        seen.append(exchange(adapter, request, client))
    return seen


def make_job(target: str, filename: str, data: bytes, **options: str) -> Job:
    """A job as ``read_source`` makes one: the format sniffed from the content."""
    return Job(target, filename, data=data, fmt=sniff_format(data[:32]), options=options)


@dataclass
class Platform:
    """One platform's adapter, case, shop and the sandbox it talks to."""

    key: str
    adapter: Adapter
    case: Case
    sandbox: Sandbox
    client: httpx.Client
    shop_tables: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def declaration(self) -> PlatformDeclaration:
        """The adapter's declaration: key, aliases, abilities."""
        return self.adapter.declaration

    @property
    def shop(self) -> Shop:
        return load_shops(self.shop_tables)[self.case.shop]

    def with_fields(self, **changes: str) -> Shop:
        """The case's shop with some fields changed."""
        tables = {self.case.shop: {**self.shop_tables[self.case.shop], **changes}}
        return load_shops(tables)[self.case.shop]

    def send(
        self,
        job: Job,
        *,
        shop: Shop | None = None,
        now: float | None = None,
    ) -> Sent:
        return send(
            self.adapter,
            shop or self.shop,
            job,
            now=time.time() if now is None else now,
            client=self.client,
        )

    def upload(self, data: bytes, filename: str = "conformance.jpg", **options: str) -> Outcome:
        return self.send(make_job(self.case.target, filename, data, **options)).outcome

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self.sandbox.state.stats()[self.key]
        return stats

    def fetch(self, url: str) -> bytes:
        response = self.client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        return response.content

    def warm_token(self) -> None:
        """Fetch the shop's token now, so that faults set later hit the upload only."""
        TokenCache().get(self.adapter, self.shop, self.client)


@pytest.fixture
def http(sandbox: Sandbox) -> Iterator[httpx.Client]:
    """A plain client: adapters build absolute URLs; never a proxy (loopback only)."""
    with httpx.Client(timeout=10.0, trust_env=False) as client:
        yield client


@pytest.fixture(params=platform_keys())
def platform(request: pytest.FixtureRequest, sandbox: Sandbox, http: httpx.Client) -> Platform:
    key: str = request.param
    if key not in CASES:
        pytest.fail(f"platform {key!r} has no CASES entry in tests/test_conformance.py")
    return Platform(key, get_adapter(key), CASES[key], sandbox, http, sandbox.shops)


def secret_values(shops: Mapping[str, Mapping[str, str]]) -> set[str]:
    """Every secret-looking field value of a shops configuration."""
    return {
        value
        for table in shops.values()
        for name, value in table.items()
        if any(hint in name for hint in SECRET_HINTS) and value
    }


def assert_failed(
    p: Platform,
    sent: Sent | Outcome,
    category: Category,
    *,
    retryable: bool,
    check: str = "",
    extra_secrets: tuple[str, ...] = (),
) -> Outcome:
    """A failed outcome of ``category`` with its raw code, plain words and no secret."""
    if isinstance(sent, Outcome):
        sent = Sent(sent)
    out = sent.outcome
    expected = category
    if check:
        answers = KNOWN_DIFFERENCES.get((p.key, check))
        if isinstance(answers, Answers):
            expected = answers.category
    assert not out.ok, out
    assert out.category is expected, out
    assert out.retryable is retryable, out
    assert out.code, f"no raw code: {out!r}"
    if sent.raised is None:
        assert out.zh.strip(), f"no Chinese words: {out!r}"
        assert out.en.strip(), f"no English words: {out!r}"
    else:
        assert str(sent.raised).strip(), "a build-time refusal without a message"
    shown = repr(out) + (str(sent.raised) if sent.raised is not None else "")
    for secret in secret_values(p.shop_tables) | set(extra_secrets):
        assert secret not in shown, f"a secret leaks into the outcome: {shown}"
    return out


# --- uploads that succeed -----------------------------------------------------------------


def test_upload(platform: Platform, request: pytest.FixtureRequest) -> None:
    known(request, platform.key, "upload")
    platform.sandbox.state.set_faults({"audit_delay_s": 0})  # Douyin: passed at once
    data = encode("JPEG", color=(10, 120, 200))
    out = platform.upload(data)
    assert out.ok, out
    assert out.image_id, out
    assert out.url.startswith(platform.sandbox.base_url + "/"), out.url
    assert platform.fetch(out.url) == data
    stats = platform.stats()
    assert (stats["stored"], stats["duplicates"]) == (1, 0), stats


def test_upload_one(platform: Platform, request: pytest.FixtureRequest) -> None:
    known(request, platform.key, "upload_one")
    out = imgkit.upload_one(
        platform.case.shop, SAMPLE, platform.case.target, shops=platform.shop_tables
    )
    assert out.ok, out
    assert out.image_id, out
    assert platform.fetch(out.url) == SAMPLE.read_bytes()


def test_upload_with_a_fetched_token(platform: Platform, request: pytest.FixtureRequest) -> None:
    known(request, platform.key, "fetched_token")
    require(platform.key, "fetched_token", platform.case.token_shop is not None)
    assert platform.case.token_shop is not None
    shop = load_shops(platform.shop_tables)[platform.case.token_shop]
    assert platform.adapter.token_request(shop) is not None
    TokenCache().invalidate(platform.adapter, shop)  # the sandbox forgot it at reset
    data = encode("JPEG", color=(0, 90, 90))
    for n in range(2):
        out = platform.send(make_job(platform.case.target, f"t{n}.jpg", data), shop=shop).outcome
        assert out.ok, out
        assert platform.fetch(out.url) == data
    assert platform.stats()["stored"] == 2


def test_replace_by_id(platform: Platform, request: pytest.FixtureRequest) -> None:
    known(request, platform.key, "replace")
    require(platform.key, "replace", platform.declaration.replace)
    first_bytes = encode("JPEG", color=(30, 30, 30))
    second_bytes = encode("JPEG", color=(220, 220, 220))
    first = platform.upload(first_bytes, "first.jpg")
    assert first.ok, first
    second = platform.upload(second_bytes, "second.jpg", replace_id=first.image_id)
    assert second.ok, second
    assert second.image_id == first.image_id
    assert platform.fetch(second.url) == second_bytes
    assert platform.fetch(first.url) == second_bytes, "the id's old URL serves the new bytes"
    stats = platform.stats()
    assert (stats["replaced"], stats["duplicates"]) == (1, 0), stats


# --- content the platform refuses ---------------------------------------------------------


def test_too_large(platform: Platform, request: pytest.FixtureRequest) -> None:
    known(request, platform.key, "too_large")
    out = platform.upload(platform.case.too_large(platform.adapter))
    assert_failed(platform, out, Category.TOO_LARGE, retryable=False, check="too_large")


def test_bad_format_webp(platform: Platform, request: pytest.FixtureRequest) -> None:
    known(request, platform.key, "bad_format_webp")
    assert not platform.adapter.limits.allows_format("webp")
    sent = platform.send(make_job(platform.case.target, "photo.webp", encode("WEBP")))
    assert_failed(platform, sent, Category.BAD_FORMAT, retryable=False, check="bad_format_webp")


def test_bad_format_text_named_jpg(platform: Platform, request: pytest.FixtureRequest) -> None:
    known(request, platform.key, "bad_format_text")
    data = "这不是图片 / not an image\n".encode() * 20
    sent = platform.send(make_job(platform.case.target, "photo.jpg", data))
    assert_failed(platform, sent, Category.BAD_FORMAT, retryable=False, check="bad_format_text")


def test_bad_dimensions(platform: Platform, request: pytest.FixtureRequest) -> None:
    known(request, platform.key, "bad_dimensions")
    bad = platform.case.bad_dimensions
    require(platform.key, "bad_dimensions", bad is not None)
    assert bad is not None
    data = encode("JPEG", bad.size)
    sent = platform.send(make_job(platform.case.target, "square.jpg", data, **bad.options))
    assert_failed(platform, sent, Category.BAD_DIMENSIONS, retryable=False, check="bad_dimensions")


# --- targets ------------------------------------------------------------------------------


def test_malformed_target(platform: Platform, request: pytest.FixtureRequest) -> None:
    known(request, platform.key, "malformed_target")
    job = make_job(platform.case.malformed_target, "a.jpg", encode("JPEG"))
    sent = platform.send(job)
    assert_failed(platform, sent, Category.INVALID_INPUT, retryable=False, check="malformed_target")


def test_not_found(platform: Platform, request: pytest.FixtureRequest) -> None:
    known(request, platform.key, "not_found")
    job = make_job(platform.case.missing_target, "a.jpg", encode("JPEG"))
    sent = platform.send(job)
    assert_failed(platform, sent, Category.NOT_FOUND, retryable=False, check="not_found")
    assert platform.stats()["stored"] == 0


# --- credentials and clocks ---------------------------------------------------------------


def test_wrong_secret(platform: Platform, request: pytest.FixtureRequest) -> None:
    known(request, platform.key, "wrong_secret")
    name = platform.case.secret_field
    real = platform.shop_tables[platform.case.shop][name]
    wrong = "wrong-" + real[::-1]
    shop = platform.with_fields(**{name: wrong})
    sent = platform.send(make_job(platform.case.target, "a.jpg", encode("JPEG")), shop=shop)
    assert_failed(
        platform, sent, Category.AUTH, retryable=False, check="wrong_secret", extra_secrets=(wrong,)
    )


def test_expired_timestamp(platform: Platform, request: pytest.FixtureRequest) -> None:
    known(request, platform.key, "expired_timestamp")
    require(platform.key, "expired_timestamp", bool(platform.case.expired_codes))
    job = make_job(platform.case.target, "a.jpg", encode("JPEG"))
    sent = platform.send(job, now=time.time() - 3600)
    out = assert_failed(
        platform, sent, Category.INVALID_INPUT, retryable=False, check="expired_timestamp"
    )
    for code in platform.case.expired_codes:
        assert code in (out.code, out.sub_code), out


# --- faults: the platform's own and the network's -----------------------------------------


def _with_fault(p: Platform, fault: str) -> Sent:
    p.warm_token()
    p.sandbox.state.set_faults({fault: 1.0})
    return p.send(make_job(p.case.target, "a.jpg", encode("JPEG")))


def test_rate_limited(platform: Platform, request: pytest.FixtureRequest) -> None:
    known(request, platform.key, "rate_limited")
    sent = _with_fault(platform, "rate_limited")
    out = assert_failed(platform, sent, Category.RATE_LIMITED, retryable=True, check="rate_limited")
    assert out.retry_after is None or out.retry_after > 0, out


def test_transient(platform: Platform, request: pytest.FixtureRequest) -> None:
    known(request, platform.key, "transient")
    sent = _with_fault(platform, "transient")
    assert_failed(platform, sent, Category.TRANSIENT, retryable=True, check="transient")


def test_http_500(platform: Platform, request: pytest.FixtureRequest) -> None:
    known(request, platform.key, "http_500")
    sent = _with_fault(platform, "http_500")
    assert_failed(platform, sent, Category.TRANSIENT, retryable=True, check="http_500")


def test_dropped_connection_after_store(platform: Platform, request: pytest.FixtureRequest) -> None:
    known(request, platform.key, "dropped_connection")
    sent = _with_fault(platform, "drop_after_store")
    out = assert_failed(
        platform, sent, Category.TIMEOUT, retryable=True, check="dropped_connection"
    )
    assert out.maybe_stored, out
    stats = platform.stats()
    assert stats["stored"] == 1, stats
    assert stats["faults"].get("drop_after_store") == 1, stats


# --- audit (Douyin) -----------------------------------------------------------------------


def test_audit_pending_then_passed(platform: Platform, request: pytest.FixtureRequest) -> None:
    known(request, platform.key, "audit_pending")
    require(platform.key, "audit_pending", platform.declaration.poll)
    platform.sandbox.state.set_faults({"audit_delay_s": 0.4})
    data = encode("JPEG", color=(90, 200, 90))
    first = platform.upload(data, "audited.jpg")
    assert first.category is Category.AUDIT_PENDING, first
    assert first.pending_id, first
    assert not first.retryable, first
    seen = poll(platform.adapter, platform.shop, first, platform.client)
    assert seen[-1].ok, seen
    assert seen[-1].image_id == first.pending_id
    assert platform.fetch(seen[-1].url) == data


def test_audit_rejected(platform: Platform, request: pytest.FixtureRequest) -> None:
    known(request, platform.key, "audit_rejected")
    require(platform.key, "audit_rejected", platform.declaration.poll)
    filename = "违规图片.jpg"
    for name in (filename, Path(filename).stem):
        platform.sandbox.state.add_audit_rule(AuditRule(reason="违规", material_name=name))
    platform.sandbox.state.set_faults({"audit_delay_s": 0.2})
    first = platform.upload(encode("JPEG", color=(250, 0, 250)), filename)
    assert first.category is Category.AUDIT_PENDING, first
    assert first.pending_id, first
    seen = poll(platform.adapter, platform.shop, first, platform.client)
    out = assert_failed(platform, seen[-1], Category.AUDIT_REJECTED, retryable=False)
    assert "违规" in out.message, out


# --- the tables themselves ----------------------------------------------------------------


def test_known_differences_name_real_platforms_and_checks() -> None:
    for (key, check), entry in KNOWN_DIFFERENCES.items():
        assert key in platform_keys(), f"KNOWN_DIFFERENCES names unknown platform {key!r}"
        assert check in CHECKS, f"KNOWN_DIFFERENCES names unknown check {check!r}"
        assert entry.reason.strip(), (key, check)


def test_cases_agree_with_adapter_declarations(platform: Platform) -> None:
    """CASES says what the adapter declares: pixel rules, replace, audit polling, tokens."""
    adapter, case, declared = platform.adapter, platform.case, platform.declaration
    options = {option.name for option in adapter.options}
    assert (case.bad_dimensions is not None) == bool(adapter.limits.pixel_rules), (
        "CASES' bad_dimensions and the adapter's pixel_rules disagree"
    )
    if case.bad_dimensions is not None:
        assert set(case.bad_dimensions.options) <= options
    assert declared.replace == ("replace_id" in options), "declared replace vs the options"
    polls = type(adapter).build_poll_request is not Adapter.build_poll_request
    assert declared.poll == polls, "declared poll vs the adapter's build_poll_request"
    assert declared.token == (case.token_shop is not None), "declared token vs token_shop"
    for check, lacking in (
        ("replace", not declared.replace),
        ("bad_dimensions", case.bad_dimensions is None),
        ("expired_timestamp", not case.expired_codes),
        ("fetched_token", case.token_shop is None),
        ("audit_pending", not declared.poll),
        ("audit_rejected", not declared.poll),
    ):
        skipped = isinstance(KNOWN_DIFFERENCES.get((platform.key, check)), Skip)
        assert skipped == lacking, (
            f"{platform.key} {'lacks' if lacking else 'has'} {check!r}: KNOWN_DIFFERENCES "
            f"{'needs' if lacking else 'must not have'} a Skip for it"
        )
