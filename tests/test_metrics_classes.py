"""One torchmetrics-style harness for every :class:`judgenet.metrics.Metric` class: batched ``update`` vs the
functional call on all rows, ``merge_state`` of two shards, ``reset``, and ``forward`` (the batch value)."""
import numpy as np
import pytest
import torch

from judgenet import metrics
from judgenet.metrics import CLIPScore, FID, KID, MID, Metric, functional as F


def _rng(seed):
    return np.random.default_rng(seed)


def _mid_case():
    rng = _rng(0)
    x = rng.standard_normal((240, 5)) + 1.0
    y = x @ rng.standard_normal((5, 4)) * 0.4 + rng.standard_normal((240, 4))
    xg = x * 0.9 + 0.3 * rng.standard_normal((240, 5))
    batches = [(torch.tensor(x[i:i + 40]), y[i:i + 40], xg[i:i + 40]) for i in range(0, 240, 40)]
    return lambda: MID(dim_x=5, dim_y=4), batches, lambda: F.mid(x, y, xg)


def _clip_case():
    rng = _rng(1)
    img, txt = rng.standard_normal((90, 8)), rng.standard_normal((90, 8)) + 0.3
    batches = [(img[i:i + 30], torch.tensor(txt[i:i + 30])) for i in range(0, 90, 30)]
    return CLIPScore, batches, lambda: F.clip_score(img, txt)


def _fid_case():
    rng = _rng(2)
    a, b = rng.standard_normal((300, 6)), rng.standard_normal((250, 6)) * 1.2 + 0.1
    batches = [(a[i:i + 100], True) for i in range(0, 300, 100)] + [(b[i:i + 125], False) for i in range(0, 250, 125)]
    batches = [batches[0], batches[3], batches[1], batches[4], batches[2]]  # real and generated interleaved
    return lambda: FID(dim=6), batches, lambda: F.fid(a, b)


def _kid_case():
    rng = _rng(3)
    a, b = rng.standard_normal((60, 4)), rng.standard_normal((50, 4)) + 0.2
    batches = [(a[:30], True), (b[:25], False), (a[30:], True), (b[25:], False)]
    kw = dict(subsets=5, subset_size=20, seed=4)
    return lambda: KID(**kw), batches, lambda: F.kid(a, b, **kw)


CASES = {"MID": _mid_case, "CLIPScore": _clip_case, "FID": _fid_case, "KID": _kid_case}


def _value(v):
    return np.array([float(t) for t in v]) if isinstance(v, tuple) else np.array([float(v)])


def _close(a, b, tol=1e-9):
    a, b = _value(a), _value(b)
    return np.all(np.abs(a - b) <= tol * np.maximum(np.abs(b), 1e-12))


def test_every_metric_class_is_in_the_harness():
    public = {c.__name__ for c in Metric.__subclasses__() if c.__module__.startswith("judgenet.metrics")}
    assert public == set(CASES), "add new Metric classes to CASES"
    assert public <= set(metrics.__all__)


@pytest.mark.parametrize("name", sorted(CASES))
def test_batches_equal_the_functional_call(name):
    make, batches, functional = CASES[name]()
    m = make()
    for b in batches:
        m.update(*b)
    got = m.compute()
    assert all(t.dtype == torch.float64 for t in (got if isinstance(got, tuple) else (got,)))
    assert _close(got, functional())


@pytest.mark.parametrize("name", sorted(CASES))
def test_merge_of_two_shards_equals_one_pass(name):
    make, batches, functional = CASES[name]()
    first, second = make(), make()
    half = len(batches) // 2
    for b in batches[:half]:
        first.update(*b)
    for b in batches[half:]:
        second.update(*b)
    first.merge_state(second)
    assert _close(first.compute(), functional())
    with pytest.raises(Exception, match="cannot merge"):
        first.merge_state(CASES[sorted(set(CASES) - {name})[0]]()[0]())


@pytest.mark.parametrize("name", sorted(CASES))
def test_reset_then_reuse(name):
    make, batches, functional = CASES[name]()
    m = make()
    for b in batches[:2]:
        m.update(*b)
    m.reset()
    fresh = make()
    for state in fresh._defaults:
        mine, theirs = getattr(m, state), getattr(fresh, state)
        if isinstance(theirs, metrics.Moments):
            assert mine.count == theirs.count == 0
        elif isinstance(theirs, list):
            assert mine == theirs == []
        else:
            assert torch.equal(mine, theirs)
    for b in batches:
        m.update(*b)
    assert _close(m.compute(), functional())


@pytest.mark.parametrize("name", ["CLIPScore", "MID"])
def test_forward_returns_the_batch_value_and_accumulates(name):
    make, batches, functional = CASES[name]()
    m = make()
    one = make()
    one.update(*batches[0])
    assert _close(m(*batches[0]), one.compute())
    for b in batches[1:]:
        m(*b)
    assert _close(m.compute(), functional())


def test_clipscore_scale_is_named_and_torchmetrics_scale_is_one_argument_away():
    m = CLIPScore()
    assert "2.5" in repr(m) and "torchmetrics" in repr(m) and "100" in repr(m)
    rng = _rng(5)
    img, txt = rng.standard_normal((20, 8)), rng.standard_normal((20, 8))
    cos = np.sum(img * txt, 1) / np.linalg.norm(img, axis=1) / np.linalg.norm(txt, axis=1)
    tm_style = CLIPScore(w=100.0)
    tm_style.update(img, txt)
    assert float(tm_style.compute()) == pytest.approx(np.mean(100 * np.maximum(cos, 0)), rel=1e-12)
