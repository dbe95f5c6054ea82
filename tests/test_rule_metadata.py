"""The rule registry is the one place a rule's metadata lives, and everything agrees with it.

Every rule declares its code, severity, fixability and words where it is defined (the
``@rule`` decorator); the codes are unique; ``docs/validation.md`` lists exactly the
registry, in order; and the codes declared fixable are exactly the ones :func:`imgkit.fit`
repairs: each has a case here that validation flags and fit then clears.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import cast

import pandas as pd
import pytest
from PIL import Image

import imgkit.intake.rules as rules
from imgkit.intake.fitting import FIXABLE_ISSUES, fit
from imgkit.intake.probe import PROBE_ERRORS
from imgkit.intake.rules import FIXABLE, RULES, RULES_BY_CODE, SEVERITY, Rule, rule
from imgkit.intake.rules.context import Context
from imgkit.intake.rules.core import SEVERITIES, registered, unregister
from imgkit.intake.validation import issues_table, validate
from imgkit.sandbox import sandbox_shops

ROOT = Path(__file__).resolve().parent.parent
SHOPS = sandbox_shops("http://127.0.0.1:9")
CJK = re.compile(r"[\u4e00-\u9fff]")


# --- complete, unique, in one registry ---------------------------------------------------------


@pytest.mark.parametrize("entry", RULES, ids=[entry.code for entry in RULES])
def test_every_rule_declares_complete_metadata(entry: Rule) -> None:
    assert re.fullmatch(r"[a-z][a-z0-9_]*", entry.code)
    assert entry.severity in SEVERITIES
    assert isinstance(entry.fixable, bool)
    assert CJK.search(entry.zh), entry.zh
    assert re.search("[a-z]", entry.en), entry.en
    assert not CJK.search(entry.en), entry.en
    # The code is the function's name: searching the source for a code finds its rule.
    assert entry.check.__name__ == entry.code
    assert (entry.check.__doc__ or "").strip(), entry.code
    if entry.detail is not None:
        assert (entry.detail.__doc__ or "").strip(), entry.code


def test_codes_are_unique_and_every_registered_rule_is_in_the_table() -> None:
    codes = [entry.code for entry in RULES]
    assert len(codes) == len(set(codes))
    assert set(codes) == {entry.code for entry in registered()}
    assert list(RULES_BY_CODE) == codes


def test_each_rule_is_declared_in_its_family_module() -> None:
    for entry in RULES:
        module = inspect.getmodule(entry.check)
        assert module in rules.FAMILIES, entry.code
    # Family by family: the table is the families' definitions, in order.
    order = [rules.FAMILIES.index(cast(ModuleType, inspect.getmodule(e.check))) for e in RULES]
    assert order == sorted(order)


def test_a_code_cannot_be_registered_twice_nor_incompletely() -> None:
    def check(ctx: Context) -> pd.Series:
        """Never holds."""
        return ctx.no_rows()

    with pytest.raises(ValueError, match="twice"):
        rule("too_large", severity="error", zh="重复", en="again")(check)
    with pytest.raises(ValueError, match="severity"):
        rule("a_new_code", severity="fatal", zh="严重", en="fatal")(check)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Chinese and the English"):
        rule("a_new_code", severity="error", zh="", en="no words")(check)
    unregister("a_new_code")
    assert "a_new_code" not in {entry.code for entry in registered()}


def test_derived_constants_follow_the_registry() -> None:
    assert {entry.code for entry in RULES if entry.fixable} == FIXABLE == FIXABLE_ISSUES
    assert {entry.code: entry.severity for entry in RULES} == SEVERITY
    # Every probe problem is a rule (an error nothing repairs), in the probe's order.
    probe_rules = [code for code in RULES_BY_CODE if code in PROBE_ERRORS]
    assert probe_rules == list(PROBE_ERRORS)
    assert all(SEVERITY[code] == "error" and code not in FIXABLE for code in PROBE_ERRORS)
    table = issues_table(pd.DataFrame({"row": [2], "issues": [";".join(RULES_BY_CODE)]}))
    assert table["severity"].tolist() == [entry.severity for entry in RULES]
    assert table["fixable"].tolist() == [entry.fixable for entry in RULES]


# --- the documentation is the registry --------------------------------------------------------


def test_the_documented_table_is_the_registry() -> None:
    text = (ROOT / "docs" / "validation.md").read_text(encoding="utf-8")
    documented = [line.split(" | ")[:4] for line in text.splitlines() if line.startswith("| `")]
    expected = [
        [f"| `{e.code}`", e.severity, "yes" if e.fixable else "no", f"{e.zh} / {e.en}"]
        for e in RULES
    ]
    assert documented == expected


# --- fixable means fit repairs it ---------------------------------------------------------------


def _jpeg(path: Path, size: tuple[int, int], quality: int = 90, noise: bool = False) -> Path:
    image = Image.effect_noise(size, 100).convert("RGB") if noise else Image.new("RGB", size)
    image.save(path, "JPEG", quality=quality)
    return path


def _bmp(path: Path) -> Path:
    Image.new("RGB", (300, 300), (10, 120, 200)).save(path, "BMP")
    return path


def _row(platform: str, shop: str, target: str, file: Path, **options: str) -> dict[str, str]:
    return {"platform": platform, "shop": shop, "file": str(file), "target": target, **options}


# One case per fixable code: a row validation flags with exactly that code.
FIX_CASES: dict[str, Callable[[Path], dict[str, str]]] = {
    "format_refused": lambda tmp: _row(
        "qianmi_sku", "qianmi_shop", "18353/g1234", _bmp(tmp / "a.bmp")
    ),
    "too_large": lambda tmp: _row(
        "qianmi_sku", "qianmi_shop", "18353/g1234", _jpeg(tmp / "big.jpg", (900, 900), 100, True)
    ),
    "bad_dimensions": lambda tmp: _row(
        "taobao_picture",
        "tb_picture_main",
        "0",
        _jpeg(tmp / "narrow.jpg", (479, 600)),
        client_type="phone",
    ),
    "bad_ratio": lambda tmp: _row(
        "tmall_item",
        "tmall_store",
        "1489161940",
        _jpeg(tmp / "square.jpg", (300, 300)),
        is_rectangle="是",
    ),
}


def test_every_fixable_code_has_a_repair_case() -> None:
    assert set(FIX_CASES) == FIXABLE


@pytest.mark.parametrize("code", sorted(FIX_CASES))
def test_fit_repairs_each_fixable_code(tmp_path: Path, code: str) -> None:
    batch = pd.DataFrame([FIX_CASES[code](tmp_path)])
    before = validate(batch, shops=SHOPS)
    assert before.loc[0, "issues"] == code
    assert before.loc[0, "fixable"]
    after = fit(batch, tmp_path / "fit", shops=SHOPS)
    assert after.loc[0, "ok"], after.loc[0, "message"]
    assert after.loc[0, "issues"] == ""
    assert after.loc[0, "fit_actions"] != ""


def test_fit_leaves_rows_with_an_unfixable_error_alone(tmp_path: Path) -> None:
    case = FIX_CASES["format_refused"](tmp_path) | {"target": "not a sku"}
    after = fit(pd.DataFrame([case]), tmp_path / "fit", shops=SHOPS)
    assert set(str(after.loc[0, "issues"]).split(";")) == {"format_refused", "bad_target"}
    assert after.loc[0, "fit_actions"] == ""
    assert after.loc[0, "file"] == case["file"]
