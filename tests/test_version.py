"""One version (pyproject.toml) and one versions() helper, checked against the modules' own ``__version__``."""
import platform
import tomllib
from pathlib import Path

import numpy
import scipy
import sklearn

import judgenet
from judgenet._version import versions


def test_package_version_is_the_one_in_pyproject():
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert judgenet.__version__ == pyproject["project"]["version"]


def test_versions_equal_what_the_modules_say():
    v = versions()
    assert v["numpy"] == numpy.__version__ and v["scipy"] == scipy.__version__
    assert v["sklearn"] == sklearn.__version__ and v["python"] == platform.python_version()
    assert v["judgenet"] == judgenet.__version__
    assert set(versions("numpy", "not-a-package")) == {"numpy"}


def test_local_labels_are_dropped_on_request():
    import torch

    assert versions("torch", local=False)["torch"] == torch.__version__.split("+")[0]
