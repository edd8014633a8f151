"""Fast checks of benchmarks/real_networks.py's own arithmetic (no weights, no optional packages).

The sanity part repeats its random splits with ``fid_lowrank`` (FID from the N ≪ D features through a nuclear
norm); it must equal an independent FID (scipy's matrix square root of the D×D covariance product) and judgenet's.
The direction checks must be able to fail.
"""
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import real_networks as rn  # noqa: E402


def _fid_scipy(x1, x2):
    m1, m2 = x1.mean(0), x2.mean(0)
    s1, s2 = np.cov(x1, rowvar=False), np.cov(x2, rowvar=False)
    root = scipy.linalg.sqrtm(s1 @ s2)
    return float((m1 - m2) @ (m1 - m2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(root).real)


@pytest.mark.parametrize("n1,n2,d", [(12, 9, 40), (30, 30, 25), (5, 17, 60)])
def test_fid_lowrank_equals_the_direct_formula(n1, n2, d):
    from judgenet.metrics import fid

    rng = np.random.default_rng(n1 * d)
    x1 = rng.gamma(2.0, 1.0, (n1, d))  # non-negative and skewed, like pool3 features
    x2 = rng.gamma(2.0, 1.3, (n2, d)) + 0.2
    want = _fid_scipy(x1, x2)
    # scipy's sqrtm of a singular product (N < D) is accurate to ~1e-8 only; judgenet's symmetric route to 1e-8
    assert rn.fid_lowrank(x1, x2) == pytest.approx(want, rel=1e-6)
    assert rn.fid_lowrank(x1, x2) == pytest.approx(fid(x1, x2), rel=1e-8)
    assert rn.fid_lowrank(x1, x1) == pytest.approx(0.0, abs=1e-8)


def _rows(values):
    """Rows with every measure set from ``values[(deg, sev)]`` (rises) / its negative (falls)."""
    rows = []
    for deg, sev in rn.CASES:
        v = values.get((deg, sev), 0.0)
        row = {"degradation": deg, "severity": sev}
        row.update({m: v for m in rn.UP})
        row.update({m: -v for m in rn.DOWN})
        rows.append(row)
    return rows


def test_sanity_checks_hold_for_monotone_and_fail_for_a_reversal():
    good = {(d, s): float(i + 1) for d, (sev, _) in rn.DEGRADATIONS.items() for i, s in enumerate(sev)}
    res = rn.sanity_checks(_rows(good))
    assert len(res) == len(rn.DEGRADATIONS) * (len(rn.UP) + len(rn.DOWN)) and all(res.values())
    bad = dict(good)
    bad[("noise", rn.DEGRADATIONS["noise"][0][0])] = -1.0  # severity 1 of noise moves the wrong way
    res = rn.sanity_checks(_rows(bad))
    failed = {k for k, ok in res.items() if not ok}
    assert failed == {f"noise: {m} rises" for m in rn.UP} | {f"noise: {m} falls" for m in rn.DOWN}
    flat = {k: 0.0 for k in good}  # no change at all: nothing "moves the right way"
    assert not any(rn.sanity_checks(_rows(flat)).values())
