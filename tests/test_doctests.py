"""The examples in the docstrings: each module's, run as written."""

import doctest
import importlib
import pkgutil

import pytest

#: The engine's packages: ``features`` and ``models`` are installed inside
#: ``detector`` but live beside it in the source tree.
PACKAGES = ("detector", "detector.features", "detector.models")

MODULES = sorted(
    {
        m.name
        for package in PACKAGES
        for m in pkgutil.walk_packages(importlib.import_module(package).__path__, package + ".")
        if not m.name.endswith("__main__")
    }
    | set(PACKAGES)
)


def test_the_examples_cover_the_features_and_the_models():
    assert {"detector.features._routes", "detector.models._model"} <= set(MODULES)
    # The examples are found and run, not skipped: recency_weight's two, at least.
    model = importlib.import_module("detector.models._model")
    assert doctest.testmod(model).attempted >= 2


@pytest.mark.parametrize("name", MODULES)
def test_a_docstrings_examples_hold(name):
    module = importlib.import_module(name)
    failed, _ = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert failed == 0, f"{name}: {failed} docstring example(s) fail (python -m doctest -v)"
