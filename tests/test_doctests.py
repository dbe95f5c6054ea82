"""Every docstring example in imgkit runs (the examples are the documentation)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import imgkit

ROOT = Path(__file__).resolve().parent.parent
MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(imgkit.__path__, prefix="imgkit.")
    if not info.name.endswith("__main__")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # examples refer to sample_data/ from the repository root
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) of {name} failed"


def test_every_module_has_an_example() -> None:
    missing = []
    for name in MODULES:
        module = importlib.import_module(name)
        is_package = hasattr(module, "__path__")
        if not is_package and not (module.__doc__ or "").count(">>>"):
            missing.append(name)
    assert not missing, f"modules without a runnable example in their docstring: {missing}"
