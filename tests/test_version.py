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


def test_results_files_record_the_versions_that_made_them(tmp_path):
    import json as _json

    import numpy as np
    from sklearn.linear_model import Ridge

    from judgenet.evaluation import evaluate

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = X[:, 0] + rng.normal(size=60)
    res = evaluate(X, y, np.repeat(["a", "b", "c"], 20), ["f0", "f1", "f2"], {"ridge": Ridge()}, n_resamples=20)
    written = _json.loads(res.to_json(tmp_path / "results.json"))
    assert written["versions"] == versions() and _json.loads((tmp_path / "results.json").read_text()) == written
    assert type(res).from_dict(written).to_dict() == res.to_dict()  # the extra key does not disturb reading back
