"""Variance components (judgenet.world.variance) against independent computations on synthetic sets
with known components: sums of squares from dummy-variable least squares, the REML estimate found by
maximizing the restricted likelihood numerically, and recovery of the true components."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from judgenet.errors import ConfigError
from judgenet.world.variance import variance_components


def _crossed(rng, a, b, n, sp, ss, sps, se):
    p = np.repeat(np.arange(a), b * n)
    s = np.tile(np.repeat(np.arange(b), n), a)
    y = (3.0 + rng.normal(0, np.sqrt(sp), a)[p] + rng.normal(0, np.sqrt(ss), b)[s]
         + rng.normal(0, np.sqrt(sps), (a, b))[p, s] + rng.normal(0, np.sqrt(se), len(p)))
    order = rng.permutation(len(p))  # the estimator must not rely on the row order
    return y[order], p[order], s[order]


def _rss(y, *factors):
    """Residual sum of squares of y on an intercept plus dummy columns (numpy least squares)."""
    cols = [np.ones(len(y))] + [np.eye(f.max() + 1)[f] for f in factors]
    X = np.column_stack(cols)
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    return float(np.sum((y - X @ beta) ** 2))


def test_two_way_one_per_cell_matches_least_squares_sums_of_squares():
    rng = np.random.default_rng(0)
    a, b = 14, 6
    y, p, s = _crossed(rng, a, b, 1, 2.0, 1.0, 0.0, 1.5)
    r0, rp, rps = _rss(y), _rss(y, p), _rss(y, p, s)
    ms_p, ms_s, ms_e = (r0 - rp) / (a - 1), (rp - rps) / (b - 1), rps / ((a - 1) * (b - 1))
    vc = variance_components(y, p, s)
    assert vc.raw["prompt"] == pytest.approx((ms_p - ms_e) / b, rel=1e-9)
    assert vc.raw["system"] == pytest.approx((ms_s - ms_e) / a, rel=1e-9)
    assert vc.raw["residual"] == pytest.approx(ms_e, rel=1e-9)
    assert sum(vc.shares.values()) == pytest.approx(1.0, abs=1e-12)
    assert vc.design["per_cell"] == 1 and vc.design["n_prompts"] == a and vc.design["n_systems"] == b


def test_two_way_with_replicates_matches_least_squares_sums_of_squares():
    rng = np.random.default_rng(1)
    a, b, n = 9, 5, 3
    y, p, s = _crossed(rng, a, b, n, 2.0, 1.0, 0.7, 1.0)
    cell = p * b + s
    r0, rp, rps, rc = _rss(y), _rss(y, p), _rss(y, p, s), _rss(y, cell)
    ms_p, ms_s = (r0 - rp) / (a - 1), (rp - rps) / (b - 1)
    ms_ps, ms_e = (rps - rc) / ((a - 1) * (b - 1)), rc / (a * b * (n - 1))
    vc = variance_components(y, p, s)
    assert vc.raw["prompt"] == pytest.approx((ms_p - ms_ps) / (b * n), rel=1e-9)
    assert vc.raw["system"] == pytest.approx((ms_s - ms_ps) / (a * n), rel=1e-9)
    assert vc.raw["interaction"] == pytest.approx((ms_ps - ms_e) / n, rel=1e-9)
    assert vc.raw["within"] == pytest.approx(ms_e, rel=1e-9)
    assert vc.shares["residual"] == pytest.approx(vc.shares["interaction"] + vc.shares["within"], abs=1e-12)


def test_one_way_unbalanced_matches_least_squares_sums_of_squares():
    rng = np.random.default_rng(2)
    sizes = rng.integers(1, 9, size=40)
    p = np.repeat(np.arange(40), sizes)
    y = rng.normal(0, 1.3, 40)[p] + rng.normal(0, 1.0, len(p))
    N, a = len(y), 40
    r0, rp = _rss(y), _rss(y, p)
    n0 = (N - np.sum(sizes.astype(float) ** 2) / N) / (a - 1)
    vc = variance_components(y, p.astype(str))
    assert vc.raw["prompt"] == pytest.approx(((r0 - rp) / (a - 1) - rp / (N - a)) / n0, rel=1e-9)
    assert vc.raw["residual"] == pytest.approx(rp / (N - a), rel=1e-9)


def _reml(y, p, s):
    """REML variance components of y = mu + prompt + system + e (balanced or not), by maximizing the
    restricted log-likelihood over log-variances with dense matrices — an independent computation."""
    N = len(y)
    Zp, Zs = np.eye(p.max() + 1)[p], np.eye(s.max() + 1)[s]
    Kp, Ks = Zp @ Zp.T, Zs @ Zs.T
    X = np.ones((N, 1))

    def nll(theta):
        vp, vs, ve = np.exp(theta)
        V = vp * Kp + vs * Ks + ve * np.eye(N)
        L = np.linalg.cholesky(V)
        Vi = np.linalg.inv(V)
        XtViX = X.T @ Vi @ X
        P = Vi - Vi @ X @ np.linalg.solve(XtViX, X.T @ Vi)
        return 0.5 * (2 * np.sum(np.log(np.diag(L))) + np.linalg.slogdet(XtViX)[1] + y @ P @ y)

    best = min((minimize(nll, np.log(start), method="Nelder-Mead",
                         options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000, "maxfev": 20000})
                for start in ([1.0, 1.0, 1.0], [2.0, 0.5, 1.5])), key=lambda r: r.fun)
    return np.exp(best.x)


def test_balanced_anova_equals_reml():
    """For balanced data with positive estimates the ANOVA estimator is the REML estimate."""
    rng = np.random.default_rng(4)
    y, p, s = _crossed(rng, 12, 7, 1, 2.0, 1.0, 0.0, 1.0)
    vc = variance_components(y, p, s)
    assert min(vc.raw.values()) > 0
    vp, vs, ve = _reml(y, p, s)
    assert vc.components["prompt"] == pytest.approx(vp, rel=1e-4)
    assert vc.components["system"] == pytest.approx(vs, rel=1e-4)
    assert vc.components["residual"] == pytest.approx(ve, rel=1e-4)


def test_recovers_known_components():
    rng = np.random.default_rng(5)
    truth = {"prompt": 2.0, "system": 1.0, "residual": 1.5}
    y, p, s = _crossed(rng, 400, 60, 1, truth["prompt"], truth["system"], 0.0, truth["residual"])
    vc = variance_components(y, p, s)
    # standard errors: prompt ~ sqrt(2/399)*(2 + 1.5/60) ~ 0.14, system ~ sqrt(2/59)*1 ~ 0.18, residual ~ 0.01
    assert vc.components["prompt"] == pytest.approx(truth["prompt"], abs=0.45)
    assert vc.components["system"] == pytest.approx(truth["system"], abs=0.55)
    assert vc.components["residual"] == pytest.approx(truth["residual"], abs=0.05)


def test_one_way_unbalanced_is_unbiased():
    """The ANOVA estimator is unbiased for unbalanced one-way data: its mean over 400 synthetic sets lies
    within 4 standard errors of the true components."""
    rng = np.random.default_rng(6)
    sizes = rng.integers(1, 12, size=30)
    p = np.repeat(np.arange(30), sizes)
    est = []
    for _ in range(400):
        y = rng.normal(0, np.sqrt(0.8), 30)[p] + rng.normal(0, np.sqrt(2.0), len(p))
        est.append([variance_components(y, p).raw[k] for k in ("prompt", "residual")])
    est = np.asarray(est)
    mean, se = est.mean(0), est.std(0, ddof=1) / np.sqrt(len(est))
    assert abs(mean[0] - 0.8) < 4 * se[0] and abs(mean[1] - 2.0) < 4 * se[1], (mean, se)


def test_negative_estimate_is_truncated_and_reported():
    rng = np.random.default_rng(7)
    y, p, s = _crossed(rng, 10, 6, 1, 0.0, 0.0, 0.0, 1.0)
    vc = variance_components(y, p, s)
    neg = [k for k, v in vc.raw.items() if v < 0]
    assert neg, vc.raw  # with no prompt or system effect one moment estimate is negative in this draw
    for k in neg:
        assert vc.components[k] == 0.0 and vc.shares[k] == 0.0


def test_bad_designs_are_one_line_errors():
    with pytest.raises(ConfigError, match="not balanced"):
        variance_components([1.0, 2.0, 3.0], ["a", "a", "b"], ["x", "y", "x"])
    with pytest.raises(ConfigError, match="not finite"):
        variance_components([1.0, np.nan, 3.0, 4.0], ["a", "a", "b", "b"])
    with pytest.raises(ConfigError, match="at least 2 prompts"):
        variance_components([1.0, 2.0], ["a", "a"])
    with pytest.raises(ConfigError, match="do not vary"):
        variance_components([1.0, 1.0, 1.0, 1.0], ["a", "a", "b", "b"])
