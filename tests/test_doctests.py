"""Every example in a docstring (``>>>``) runs and prints what it claims."""
import doctest
import importlib
from pathlib import Path

import pytest

import judgenet

ROOT = Path(judgenet.__file__).parent
MODULES = sorted(
    ".".join(("judgenet",) + f.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    for f in ROOT.rglob("*.py") if ">>>" in f.read_text())


def test_there_are_examples():
    assert MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    try:
        mod = importlib.import_module(name)
    except ImportError as exc:  # an optional extra that is not installed
        pytest.skip(f"{name} needs an optional dependency: {exc}")
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0, f"{res.failed} of {res.attempted} docstring examples in {name} fail"
