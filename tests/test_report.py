"""Evaluation reports: the conclusion sentence, any measure set, escaping of data text, the rater
ceiling table, the split in the title — and the HTML checked in a real (headless) browser."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from judgenet.evaluation import conclusion_sentence, evaluate, write_report
from judgenet.evaluation.report import md_escape, predictor_label


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: tiny fits only lose from threads


NAMES = ["good", "mid_pmi", "anti", "realism.tiny.mahalanobis2"]
CEILING = {"question": "realism", "n_items": 1775.0, "n_raters": 5.0, "mean_raters_per_item": 5.0,
           "n_judgments": 8875.0, "pairwise_agreement": 0.66, "pairwise_agreement_low": 0.65,
           "pairwise_agreement_high": 0.67, "loo_kendall_tau_b": 0.5, "loo_kendall_tau_b_low": 0.48,
           "loo_kendall_tau_b_high": 0.52, "n_resamples": 200.0, "confidence": 0.95}


def data(seed=0, G=5, per=20, gens=None):
    rng = np.random.default_rng(seed)
    gens = np.repeat([f"g{i}" for i in range(G)], per) if gens is None else np.asarray(gens)
    n = gens.size
    prompts = np.tile([f"p{j}" for j in range(per)], n // per + 1)[:n]
    y = rng.normal(size=n)
    X = np.c_[y + 0.3 * rng.normal(size=n), y + 1.5 * rng.normal(size=n), -y + 0.5 * rng.normal(size=n),
              rng.normal(size=n)]
    return X, y, gens, prompts


def _run(models, **kw):
    X, y, gens, prompts = data(**{k: kw.pop(k) for k in ("gens",) if k in kw})
    base = dict(baselines=["mid_pmi", "-realism.tiny.mahalanobis2"], prompts=prompts, n_resamples=200,
                per_generator_resamples=30)
    base.update(kw)
    return evaluate(X, y, gens, NAMES, models, **base)


def _col(i):
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import Pipeline

    return Pipeline([("c", ColumnTransformer([("k", "passthrough", [i])])), ("m", LinearRegression())])


def _verdict_by_hand(res, model, base="mid_pmi"):
    d = res.comparisons[(model, base, "kendall_tau_b")]
    return "better" if d.low > 0 else ("worse" if d.high < 0 else "not distinguishable")


def test_conclusion_sentence_states_values_and_verdict():
    res = _run({"lin_good": _col(0), "lin_noise": _col(3)}, split="crossed", n_prompt_folds=4)
    s = conclusion_sentence(res, "realism")
    best = res.best_model()
    e, m = res.metrics[best]["kendall_tau_b"], res.metrics["mid_pmi"]["kendall_tau_b"]
    assert s.startswith("On a new generator with new prompts (crossed split), realism:")
    assert f"({best})" in s and f"{e.value:.3f} [{e.low:.3f}, {e.high:.3f}]" in s
    assert f"raw MID (per-image pointwise mutual information) {m.value:.3f} [{m.low:.3f}, {m.high:.3f}]" in s
    assert best == "lin_good" and s.endswith(f"— better (difference "
                                             f"{res.comparisons[(best, 'mid_pmi', 'kendall_tau_b')].value:+.3f} ["
                                             f"{res.comparisons[(best, 'mid_pmi', 'kendall_tau_b')].low:.3f}, "
                                             f"{res.comparisons[(best, 'mid_pmi', 'kendall_tau_b')].high:.3f}], "
                                             "paired prompt bootstrap).")
    worse = conclusion_sentence(res, model="lin_noise")
    assert _verdict_by_hand(res, "lin_noise") == "worse" and "— worse (" in worse
    assert worse.startswith("On a new generator with new prompts (crossed split):")
    gen = _run({"lin_mid": _col(1)})  # a refit of the baseline column: not distinguishable from it
    s2 = conclusion_sentence(gen, "alignment")
    assert s2.startswith("On a new generator with prompts labelled for other generators")
    assert f"— {_verdict_by_hand(gen, 'lin_mid')} (" in s2


def test_report_opens_with_conclusions_and_names_the_split(tmp_path):
    cr = _run({"lin_good": _col(0)}, split="crossed", n_prompt_folds=4, ceiling=CEILING)
    ge = _run({"lin_good": _col(0)}, ceiling=CEILING)
    write_report(cr, tmp_path, title="demo — realism", question="realism", others=[ge])
    md = (tmp_path / "report.md").read_text()
    lines = md.splitlines()
    assert lines[0] == "# demo — realism — a new generator on new prompts (crossed split)"
    assert lines[2] == "**Conclusion.**"
    assert lines[4].startswith("* On a new generator with new prompts (crossed split), realism: ")
    assert lines[5].startswith("* On a new generator with prompts labelled for other generators")
    assert "-realism.tiny.mahalanobis2" not in md and "Mahalanobis distance to the real images (tiny features" in md
    # rater ceiling: statistics with CIs, integer counts, what the item count covers
    i = lines.index("## Rater ceiling")
    block = "\n".join(lines[i:i + 12])
    assert "| pairwise agreement (rater vs rater, ties excluded) | 0.660 [0.650, 0.670] |" in block
    assert "1,775 items (8,875 judgments by 5 raters" in block and "1775.000" not in md
    assert "not the same set as the 100 items evaluated" in block
    ge2 = json.loads((tmp_path / "results.json").read_text())
    assert ge2["settings"]["split"] == "crossed"


def test_report_handles_any_measure_set_and_unit_per_item(tmp_path):
    """--group-by image makes each item its own held-out unit: per-unit tau-b does not exist
    (issue 17 item 12: KeyError 'kendall_tau_b'); a measure set without tau-b works too."""
    X, y, gens, prompts = data(G=3, per=20)
    units = np.array([f"img{i}" for i in range(y.size)])
    res = evaluate(X, y, units, NAMES, {"lin": _col(0)}, baselines=["mid_pmi"], n_resamples=50,
                   measures=["spearman", "pearson"], compare_measures=["spearman"], per_generator_ci=False)
    assert "kendall_tau_b" not in res.per_generator
    md = write_report(res, tmp_path / "a").read_text()
    assert "60 held-out units" in md and "spearman" in md
    res2 = _run({"lin": _col(0)}, measures=["pearson"], compare_measures=["pearson"], per_generator_ci=False)
    md2 = write_report(res2, tmp_path / "b").read_text()
    assert "kendall_tau_b was not measured" in md2 and "| pearson |" in md2


def test_markdown_and_html_escape_data_text(tmp_path):
    evil = "<script>alert(1)</script>|*x*_[y](javascript:z)"
    X, y, gens, prompts = data()
    gens = np.where(gens == "g0", evil, gens)
    res = evaluate(X, y, gens, NAMES, {"m<b>": _col(0)}, baselines=["mid_pmi"], prompts=prompts, n_resamples=30,
                   per_generator_resamples=10)
    write_report(res, tmp_path, title="t <img src=x onerror=alert(2)>")
    md = (tmp_path / "report.md").read_text()
    page = (tmp_path / "report.html").read_text()
    for text in (md, page):
        assert "<script" not in text and "<img src=x" not in text and "<b>" not in text
    assert md_escape(evil) in md and "&lt;script&gt;" in md
    # the generator row keeps its cell count: the pipe inside the name is escaped
    row = next(l for l in md.splitlines() if "alert(1)" in l and l.startswith("|"))
    assert len(re.split(r"(?<!\\)\|", row.strip())) - 2 == 9
    assert "[y](javascript" not in md and "\\[y\\](javascript" in md


def test_predictor_labels_in_words():
    assert predictor_label("mid_pmi").startswith("raw MID")
    assert predictor_label("-realism.inception.mahalanobis2") == ("Mahalanobis distance to the real images "
                                                                  "(inception features, lower = more real)")
    assert predictor_label("hist_gb") == "hist_gb"


# ---------------------------------------------------------------------------------------------
# a real browser
# ---------------------------------------------------------------------------------------------
CHROMIUM = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)

_PROBE = """<script>
window.addEventListener('load', function () {
  var imgs = Array.from(document.images);
  var r = {conclusion: (document.getElementById('conclusion') || {}).innerText || '',
           tables: Array.from(document.querySelectorAll('table')).map(function (t) { return t.rows.length; }),
           images: imgs.map(function (i) { return i.complete && i.naturalWidth > 0 ? i.naturalWidth : 0; }),
           h2: Array.from(document.querySelectorAll('h2')).map(function (h) { return h.innerText; })};
  document.body.setAttribute('data-probe', JSON.stringify(r));
});
</script>"""


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (Debian: apt-get install -y chromium)")
def test_html_report_in_headless_chromium(tmp_path):
    cr = _run({"lin_good": _col(0)}, split="crossed", n_prompt_folds=4, ceiling=CEILING)
    write_report(cr, tmp_path / "r", title="browser check", question="realism")
    page = (tmp_path / "r" / "report.html").read_text()
    n_tables, n_imgs = page.count("<table>"), page.count("<img ")
    probe = tmp_path / "probe.html"  # the report plus a script that records what the browser rendered
    probe.write_text(page.replace("</body>", _PROBE + "</body>"))
    out = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files",
                          "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()],
                         capture_output=True, text=True, timeout=120)
    m = re.search(r"data-probe=\"([^\"]*)\"", out.stdout)
    assert m, f"no probe in the DOM dump (rc {out.returncode}): {out.stderr[-500:]}"
    import html as _h

    r = json.loads(_h.unescape(m.group(1)))
    assert "On a new generator with new prompts (crossed split), realism" in r["conclusion"]
    assert conclusion_sentence(cr, "realism")[:60] in r["conclusion"]
    assert len(r["tables"]) == n_tables >= 4 and all(k >= 2 for k in r["tables"])  # header + >= 1 row each
    assert len(r["images"]) == n_imgs == 4 and all(w > 0 for w in r["images"]), r["images"]
    assert "Rater ceiling" in r["h2"]


def test_plot_cache_reuses_pngs_for_the_same_results_only(tmp_path, monkeypatch):
    from judgenet.evaluation import report

    res = _run({"lin_good": _col(0)})
    cache = tmp_path / "plots"
    write_report(res, tmp_path / "a", plot_cache=cache)
    drawn = {p.name: p.read_bytes() for p in (tmp_path / "a").glob("*.png")}
    assert drawn and len(list(cache.iterdir())) == 1

    def no_drawing(*a, **k):
        raise AssertionError("drew although the same results were cached")

    monkeypatch.setattr(report, "_plots", no_drawing)
    write_report(res, tmp_path / "b", plot_cache=cache)  # a hit: copies, never draws
    assert {p.name: p.read_bytes() for p in (tmp_path / "b").glob("*.png")} == drawn
    assert (tmp_path / "a" / "report.md").read_text() == (tmp_path / "b" / "report.md").read_text()
    other = _run({"lin_good": _col(1)})  # other results: a miss, so it must draw
    with pytest.raises(AssertionError, match="drew although"):
        write_report(other, tmp_path / "c", plot_cache=cache)


def test_cached_drawing_draws_when_the_plot_cache_cannot_be_written(tmp_path, caplog):
    """A plot cache that cannot be written only costs time: the drawing is kept and a warning says why (this
    path once raised NameError: the module had no logger)."""
    from judgenet.evaluation.report import cached_drawing

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")  # the cache root is a file: mkdir fails

    def draw():
        (tmp_path / "out" / "a.png").write_bytes(b"png")
        return [("a", "a.png")]

    (tmp_path / "out").mkdir()
    with caplog.at_level("WARNING"):
        assert cached_drawing(blocker, ("key",), tmp_path / "out", draw) == [("a", "a.png")]
    assert "not written" in caplog.text
