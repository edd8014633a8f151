import subprocess
import sys
import textwrap

import numpy as np
import optuna
import pytest

from judgenet.errors import ConfigError
from judgenet.tuning import Objective, best_config, config_to_estimator, tune

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _problem(seed=0, n_gen=5, per=40):
    rng = np.random.default_rng(seed)
    n = n_gen * per
    X = rng.normal(size=(n, 6))
    y = 2 * X[:, 0] - X[:, 3] + 0.3 * rng.normal(size=n)
    gens = np.repeat([f"g{i}" for i in range(n_gen)], per)
    names = ["mid_pmi", "clip_score", "r0", "r1", "pca.0", "pca.1"]
    groups = {"alignment": names[:2], "realism": names[2:4], "activations": names[4:]}
    return X, y, gens, names, groups


def _linear_space(trial, objective):
    return {"model": "ridge", "params": {"alpha": trial.suggest_float("alpha", 1e-3, 1e2, log=True)},
            "groups": ["alignment", "realism"], "pca": 0, "scaler": "standard"}


def test_objective_reports_folds_and_finds_signal():
    X, y, gens, names, groups = _problem()
    obj = Objective(X, y, gens, names, groups, search_space_fn=_linear_space)
    study = tune(obj, n_trials=4, progress=False)
    assert len(study.trials) == 4
    t = study.best_trial
    assert t.value > 0.6  # y is a linear function of the alignment+realism columns
    assert len(t.user_attrs["per_fold"]) == 5
    assert len(t.intermediate_values) == 4  # reported from the 2nd fold on
    assert best_config(study)["model"] == "ridge"


def test_default_space_covers_families_and_builds_estimators():
    X, y, gens, names, groups = _problem(per=15)
    obj = Objective(X, y, gens, names, groups, families=("ridge", "knn", "hist_gb"))
    study = tune(obj, n_trials=6, progress=False, seed=1)
    fams = {t.params["model"] for t in study.trials}
    assert fams <= {"ridge", "knn", "hist_gb"} and len(fams) >= 2
    est = config_to_estimator(best_config(study))
    assert hasattr(est, "fit") and hasattr(est, "predict")


def test_objective_validation():
    X, y, gens, names, groups = _problem()
    with pytest.raises(ConfigError, match="measure"):
        Objective(X, y, gens, names, groups, measure="nope")
    with pytest.raises(ConfigError, match="at least 3 generators"):
        Objective(X[:80], y[:80], gens[:80], names, groups)


def test_sqlite_study_resumes_to_total(tmp_path):
    X, y, gens, names, groups = _problem(per=15)
    url = f"sqlite:///{tmp_path / 'study.db'}"
    obj = Objective(X, y, gens, names, groups, search_space_fn=_linear_space)
    tune(obj, n_trials=3, storage=url, study_name="s", progress=False)
    study = tune(obj, n_trials=5, storage=url, study_name="s", progress=False)
    assert len(study.trials) == 5  # continued, not restarted
    study = tune(obj, n_trials=5, storage=url, study_name="s", progress=False)
    assert len(study.trials) == 5  # already done: nothing added


WORKER = textwrap.dedent("""
    import sys, numpy as np, optuna
    sys.path.insert(0, {tests!r})
    from test_tuning import _problem, _linear_space
    from judgenet.tuning import Objective, tune
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    X, y, gens, names, groups = _problem(per=15)
    obj = Objective(X, y, gens, names, groups, search_space_fn=_linear_space, seed=int(sys.argv[1]))
    tune(obj, n_trials=8, storage=sys.argv[2], study_name="shared", progress=False, seed=int(sys.argv[1]))
""")


def test_two_worker_processes_share_one_sqlite_study(tmp_path):
    import os

    url = f"sqlite:///{tmp_path / 'shared.db'}"
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(tests=os.path.dirname(__file__)))
    # create the study first so the two workers don't race on schema creation
    optuna.create_study(study_name="shared", storage=url, direction="maximize")
    procs = [subprocess.Popen([sys.executable, str(script), str(i), url]) for i in range(2)]
    assert all(p.wait(timeout=300) == 0 for p in procs)
    study = optuna.load_study(study_name="shared", storage=url)
    done = [t for t in study.trials if t.state.is_finished()]
    numbers = [t.number for t in study.trials]
    assert len(numbers) == len(set(numbers))  # every trial recorded once
    assert 8 <= len(done) <= 9  # the total is honoured (a worker may start one last trial concurrently)
