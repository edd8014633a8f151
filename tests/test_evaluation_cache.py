"""The evaluation cache: same inputs + settings + code → the stored results; any change → recomputed."""
import numpy as np
import pytest
from sklearn.linear_model import Ridge

from judgenet.evaluation import cache as evcache


@pytest.fixture()
def data():
    rng = np.random.default_rng(0)
    n = 60
    X = rng.normal(size=(n, 3))
    y = X[:, 0] + rng.normal(scale=0.5, size=n)
    gens = np.repeat(["g0", "g1", "g2", "g3"], n // 4)
    prompts = np.tile([f"p{i}" for i in range(15)], 4)
    return X, y, gens, prompts, ["a", "b", "c"]


def _run(data, tmp_path, monkeypatch, **kw):
    calls = []
    from judgenet import evaluation

    orig = evaluation.evaluate

    def counting(*a, **k):
        calls.append(1)
        return orig(*a, **k)

    monkeypatch.setattr(evaluation, "evaluate", counting)
    X, y, gens, prompts, names = data
    opts = dict(cache_dir=tmp_path, prompts=prompts, resamples=50, seed=0, baselines=["a"])
    opts.update(kw)
    res = evcache.cached_evaluate(X, y, gens, names, {"ridge": Ridge(alpha=1.0)}, **opts)
    return res, len(calls)


def test_hit_returns_the_same_numbers(data, tmp_path, monkeypatch):
    a, n1 = _run(data, tmp_path, monkeypatch)
    b, n2 = _run(data, tmp_path, monkeypatch)
    assert (n1, n2) == (1, 0)
    assert a.table().equals(b.table())


@pytest.mark.parametrize("change", [{"resamples": 60}, {"split": "crossed"}, {"seed": 1}, {"prompt_folds": 3}])
def test_a_changed_setting_misses(data, tmp_path, monkeypatch, change):
    _run(data, tmp_path, monkeypatch)
    _, n = _run(data, tmp_path, monkeypatch, **change)
    assert n == 1


def test_a_changed_model_parameter_or_label_misses(data, tmp_path, monkeypatch):
    X, y, gens, prompts, names = data
    _run(data, tmp_path, monkeypatch)
    y2 = y.copy()
    y2[0] += 1e-9
    _, n = _run((X, y2, gens, prompts, names), tmp_path, monkeypatch)
    assert n == 1
    assert evcache.estimator_key(Ridge(alpha=1.0)) != evcache.estimator_key(Ridge(alpha=2.0))


def test_a_parameter_the_repr_hides_misses(data, tmp_path, monkeypatch):
    """Two column pipelines that differ in one column index in the middle of a long index array: numpy and
    scikit-learn shorten that repr to the same text (asserted, so the test shows what a repr key would miss),
    but they are different models — the second must be computed, not served from the first's entry."""
    from judgenet.predictors.recipes import column_pipeline

    X, y, gens, prompts, names = data
    cols_a = np.zeros(1200, dtype=int)
    cols_b = cols_a.copy()
    cols_b[600] = 1
    a, b = column_pipeline(cols_a, Ridge(alpha=1.0)), column_pipeline(cols_b, Ridge(alpha=1.0))
    assert repr(a) == repr(b)
    assert evcache.estimator_key(a) != evcache.estimator_key(b)
    assert evcache.estimator_key(a) == evcache.estimator_key(column_pipeline(cols_a.copy(), Ridge(alpha=1.0)))
    opts = dict(cache_dir=tmp_path, prompts=prompts, resamples=20, seed=0, baselines=["a"])
    ra = evcache.cached_evaluate(X, y, gens, names, {"m": a}, **opts)
    rb = evcache.cached_evaluate(X, y, gens, names, {"m": b}, **opts)
    fresh = evcache.cached_evaluate(X, y, gens, names, {"m": b}, **{**opts, "cache_dir": tmp_path / "other"})
    assert not np.allclose(ra.predictions["m"], rb.predictions["m"])
    np.testing.assert_allclose(rb.predictions["m"], fresh.predictions["m"], rtol=1e-12)


def test_a_code_change_misses(data, tmp_path, monkeypatch):
    _run(data, tmp_path, monkeypatch)
    monkeypatch.setattr(evcache, "code_hash", lambda modules=evcache.CODE_MODULES: "changed-code")
    _, n = _run(data, tmp_path, monkeypatch)
    assert n == 1


def test_code_hash_follows_the_source_of_the_protocol(monkeypatch):
    """An edit of a file that computes the numbers (simulated by appending to what is read) changes the hash;
    an edit of the cache module itself does not."""
    from pathlib import Path

    h = evcache.code_hash.__wrapped__()  # uncached
    assert len(h) == 64 and h == evcache.code_hash()
    assert "evaluation" in evcache.CODE_MODULES and "stats.py" in evcache.CODE_MODULES
    read = Path.read_bytes

    def edited(name):
        def read_bytes(self):
            return read(self) + (b"\n# edited\n" if self.as_posix().endswith(name) else b"")
        return read_bytes

    for name, changes in (("evaluation/protocol.py", True), ("judgenet/stats.py", True),
                          ("predictors/recipes.py", True), ("evaluation/cache.py", False)):
        monkeypatch.setattr(Path, "read_bytes", edited(name))
        assert (evcache.code_hash.__wrapped__() != h) == changes, name


def test_unreadable_entries_are_misses(tmp_path):
    (tmp_path / "evaluations").mkdir()
    (tmp_path / "evaluations" / "k.json").write_text("{not json")
    assert evcache.load(tmp_path, "k") is None
    evcache.save(tmp_path, "k", {"x": 1})
    assert evcache.load(tmp_path, "k") == {"x": 1}
    assert evcache.load(tmp_path, "other") is None


def test_cached_payload_computes_once_and_returns_the_json_round_trip(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"a": np.float64(1.5), "b": [np.nan, 2], "c": {"d": np.int64(3)}}

    x = np.arange(6.0).reshape(3, 2)
    first = evcache.cached_payload(compute, [x], [["u", "v"]], {"step": "t"}, cache_dir=tmp_path)
    second = evcache.cached_payload(compute, [x], [["u", "v"]], {"step": "t"}, cache_dir=tmp_path)
    assert calls == [1] and first == second == {"a": 1.5, "b": [None, 2], "c": {"d": 3}}
    # another array, label, setting or code set is another entry
    evcache.cached_payload(compute, [x + 1], [["u", "v"]], {"step": "t"}, cache_dir=tmp_path)
    evcache.cached_payload(compute, [x], [["u", "w"]], {"step": "t"}, cache_dir=tmp_path)
    evcache.cached_payload(compute, [x], [["u", "v"]], {"step": "t2"}, cache_dir=tmp_path)
    evcache.cached_payload(compute, [x], [["u", "v"]], {"step": "t"}, cache_dir=tmp_path,
                           code=evcache.CODE_MODULES + ("world",))
    assert len(calls) == 5


def test_cached_folder_makes_once_then_copies_files(tmp_path):
    made = []

    def make(out):
        made.append(out)
        (out / "sub").mkdir(parents=True)
        (out / "a.txt").write_text("A")
        (out / "sub" / "b.bin").write_bytes(b"\x00\x01")

    x = np.ones((2, 2))
    assert evcache.cached_folder(make, tmp_path / "one", [x], [["c"]], {"s": 1}, cache_dir=tmp_path / "c") is False
    assert evcache.cached_folder(make, tmp_path / "two", [x], [["c"]], {"s": 1}, cache_dir=tmp_path / "c") is True
    assert made == [tmp_path / "one"]
    assert (tmp_path / "two" / "a.txt").read_text() == "A"
    assert (tmp_path / "two" / "sub" / "b.bin").read_bytes() == b"\x00\x01"
    # another setting is another folder; an incomplete slot (no marker) is made again
    assert evcache.cached_folder(make, tmp_path / "three", [x], [["c"]], {"s": 2}, cache_dir=tmp_path / "c") is False
    for marker in (tmp_path / "c" / "folders").glob("*/.complete"):
        marker.unlink()
    assert evcache.cached_folder(make, tmp_path / "four", [x], [["c"]], {"s": 1}, cache_dir=tmp_path / "c") is False
    assert len(made) == 3
