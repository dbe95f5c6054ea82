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


def public_callables() -> list[str]:
    """Every public function and class: imgkit's own names and the adapter authors' ones."""
    import imgkit.platforms

    names = [f"imgkit.{name}" for name in imgkit.__all__]
    names += [f"imgkit.platforms.{name}" for name in imgkit.platforms.__all__]
    return [name for name in names if callable(resolve(name))]


def resolve(dotted: str) -> object:
    module, _, attribute = dotted.rpartition(".")
    return getattr(importlib.import_module(module), attribute)


def test_every_public_function_has_an_example() -> None:
    """Each public callable carries a runnable example in its own docstring (the module's
    example does not count: ``imgkit.upload?`` in Jupyter shows the function's)."""
    missing = [name for name in public_callables() if ">>>" not in (resolve(name).__doc__ or "")]
    assert not missing, f"public callables without a runnable example of their own: {missing}"


def test_every_module_has_an_example() -> None:
    missing = []
    for name in MODULES:
        module = importlib.import_module(name)
        is_package = hasattr(module, "__path__")
        if not is_package and not (module.__doc__ or "").count(">>>"):
            missing.append(name)
    assert not missing, f"modules without a runnable example in their docstring: {missing}"
