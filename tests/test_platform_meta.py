"""Every platform is complete: adapter, declarations, sandbox module, conformance case, docs.

Parametrized over :func:`imgkit.platform_keys`, so a platform added to the registry fails
here until all of its parts exist.  Also: aliases resolve, and shops never print secrets.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_conformance import CASES, SECRET_HINTS, secret_values

from imgkit import Sandbox, platform_keys
from imgkit.errors import Category
from imgkit.intake.shops import load_shops
from imgkit.platforms import ALIASES, REGISTRY, get_adapter, resolve_platform
from imgkit.platforms.base import Adapter, CodeTable, CredentialSpec, Limits
from imgkit.sandbox import sandbox_shops
from imgkit.sandbox.app import SANDBOX_PLATFORMS

ROOT = Path(__file__).resolve().parent.parent
PLATFORMS_DOC = ROOT / "docs" / "platforms.md"
KEYS = platform_keys()


@pytest.mark.parametrize("key", KEYS)
def test_adapter_key_matches_the_registry(key: str) -> None:
    adapter = get_adapter(key)
    assert isinstance(adapter, Adapter)
    assert adapter.key == key
    assert adapter.title.strip(), f"{key} has no title"
    assert adapter.default_base_url.startswith("https://") or adapter.default_base_url.startswith(
        "http://"
    )
    assert adapter.path.startswith("/")


@pytest.mark.parametrize("key", KEYS)
def test_adapter_declares_limits(key: str) -> None:
    limits = get_adapter(key).limits
    assert isinstance(limits, Limits)
    assert limits.max_bytes > 0
    assert limits.formats, f"{key} accepts no format"
    assert limits.formats <= {"jpeg", "png", "gif"}, limits.formats
    option_names = {option.name for option in get_adapter(key).options}
    for rule in limits.pixel_rules:
        assert rule.zh.strip(), f"{key}: a pixel rule without Chinese words"
        assert rule.en.strip(), f"{key}: a pixel rule without English words"
        if rule.when is not None:
            assert rule.when[0] in option_names, f"{key}: pixel rule on undeclared {rule.when}"


@pytest.mark.parametrize("key", KEYS)
def test_adapter_declares_credentials(key: str) -> None:
    spec = get_adapter(key).credentials
    assert isinstance(spec, CredentialSpec)
    assert spec.required or spec.alternatives, f"{key} needs no credentials at all"
    assert spec.secret, f"{key} declares no secret field"
    named = {*spec.required, *spec.optional}
    named |= {name for group in spec.alternatives for option in group for name in option}
    assert spec.secret <= named, f"{key}: secret fields {spec.secret - named} are not fields"


@pytest.mark.parametrize("key", KEYS)
def test_adapter_declares_codes_with_words_and_honest_retries(key: str) -> None:
    codes = get_adapter(key).codes
    assert isinstance(codes, CodeTable)
    assert codes.rules, f"{key} declares no codes"
    for raw, rule in codes.rules.items():
        assert isinstance(rule.category, Category), (key, raw)
        assert rule.zh.strip(), f"{key} code {raw!r} has no Chinese words"
        assert rule.en.strip(), f"{key} code {raw!r} has no English words"
        if rule.retryable:
            assert rule.category.retryable, f"{key} code {raw!r} retries a {rule.category}"


@pytest.mark.parametrize("key", KEYS)
def test_adapter_says_what_target_and_options_mean(key: str) -> None:
    adapter = get_adapter(key)
    assert adapter.target_meaning.strip(), f"{key} does not say what its target is"
    names = [option.name for option in adapter.options]
    assert len(names) == len(set(names)), f"{key} declares an option twice: {names}"
    for option in adapter.options:
        assert option.meaning.strip(), f"{key} option {option.name!r} has no meaning"
        assert option.kind in ("text", "int", "bool", "choice"), (key, option)
        if option.kind == "choice":
            assert option.choices, f"{key} choice option {option.name!r} has no choices"


@pytest.mark.parametrize("key", KEYS)
def test_platform_has_a_sandbox_module(key: str) -> None:
    assert key in SANDBOX_PLATFORMS, f"the sandbox does not emulate {key}"
    assert SANDBOX_PLATFORMS[key].key == key


@pytest.mark.parametrize("key", KEYS)
def test_platform_has_a_conformance_case(key: str) -> None:
    assert key in CASES, f"{key} has no CASES entry in tests/test_conformance.py"
    assert CASES[key].shop in sandbox_shops("http://127.0.0.1:9")
    assert sandbox_shops("http://127.0.0.1:9")[CASES[key].shop]["platform"] == key


def _doc_headings() -> list[str]:
    # Not a skip: the lead generates docs/platforms.md, and its absence is a failure.
    assert PLATFORMS_DOC.is_file(), f"{PLATFORMS_DOC.relative_to(ROOT)} does not exist yet"
    text = PLATFORMS_DOC.read_text(encoding="utf-8")
    return [line for line in text.splitlines() if re.match(r"## (?!#)", line)]


@pytest.mark.parametrize("key", KEYS)
def test_platform_has_a_docs_section(key: str) -> None:
    headings = _doc_headings()
    assert any(f"`{key}`" in heading for heading in headings), (
        f"docs/platforms.md has no '## ' heading naming `{key}`; headings: {headings}"
    )


def test_no_case_or_docs_section_for_a_platform_that_is_not_registered() -> None:
    assert set(CASES) <= set(KEYS), f"CASES for unknown platforms: {set(CASES) - set(KEYS)}"
    assert set(SANDBOX_PLATFORMS) == set(KEYS)
    assert set(ALIASES) == set(REGISTRY)


@pytest.mark.parametrize(
    ("key", "alias"), [(key, alias) for key, aliases in ALIASES.items() for alias in aliases]
)
def test_alias_resolves_to_its_key(key: str, alias: str) -> None:
    assert resolve_platform(alias) == key
    assert resolve_platform(f" {alias.upper()} ") == key
    assert get_adapter(alias).key == key


def test_keys_resolve_to_themselves() -> None:
    for key in KEYS:
        assert resolve_platform(key) == key


def test_sandbox_shops_hide_every_secret(sandbox: Sandbox) -> None:
    tables = sandbox.shops
    secrets = secret_values(tables)
    assert len(secrets) >= 8, secrets
    shops = load_shops(tables)
    shown = [repr(shops), str(shops)]
    for shop in shops.values():
        shown += [repr(shop), str(shop), f"{shop}", repr(dict(shop.fields))]
    for text in shown:
        for secret in secrets:
            assert secret not in text, f"secret {secret[:4]}… is shown: {text}"


def test_every_secret_looking_shop_field_is_declared_secret(sandbox: Sandbox) -> None:
    for name, table in sandbox.shops.items():
        spec = get_adapter(table["platform"]).credentials
        for field_name in table:
            if any(hint in field_name for hint in SECRET_HINTS):
                assert field_name in spec.secret, f"{name}.{field_name} is not declared secret"
