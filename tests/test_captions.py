"""judgenet.captions on fixtures and hand-computed cases (no label-set files, no Java needed unless said)."""
import json
import math
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from judgenet.captions import PUBLISHED, published_for
from judgenet.captions.benchmark import pascal_accuracy
from judgenet.captions.learned import BestRawMetric
from judgenet.captions.protocols import flickr8k_cf_instances, flickr8k_expert_instances, thumb_instances
from judgenet.captions.refmetrics import java_available, pycocoevalcap_available, simple_tokenize
from judgenet.labels import PASCAL_CATEGORIES, category_accuracy, load_label_set, sample_references
from judgenet.stats import kendall_tau_b

FIX = Path(__file__).parent / "fixtures" / "labels"
needs_coco = pytest.mark.skipif(not pycocoevalcap_available(),
                                reason="pycocoevalcap not installed (pip install 'judgenet[captions]')")
needs_java = pytest.mark.skipif(not java_available(), reason="Java not on PATH (PTB tokenizer / METEOR)")


# ------------------------------------------------------------------ reference metrics
@needs_coco
def test_bleu_rouge_against_hand_computation():
    from judgenet.captions import reference_metrics
    cand, refs = "a dog runs", ["a dog runs fast"]
    r = reference_metrics([cand], [refs], ["BLEU-1", "BLEU-2", "ROUGE-L"], tokenizer="simple")
    bp = math.exp(1 - 4 / 3)  # brevity penalty, closest reference length 4
    assert r.scores["BLEU-1"][0] == pytest.approx(bp * 1.0, abs=1e-8)
    assert r.scores["BLEU-2"][0] == pytest.approx(bp * math.sqrt(1.0 * 1.0), abs=1e-8)
    # ROUGE-L (beta 1.2): LCS 3, P = 3/3, R = 3/4
    p, rr, b = 1.0, 0.75, 1.2
    assert r.scores["ROUGE-L"][0] == pytest.approx((1 + b * b) * p * rr / (rr + b * b * p), abs=1e-8)
    assert any("PTB tokenizer not used" in n for n in r.notices) and r.tokenizer == "simple"


@needs_coco
def test_dedup_equals_direct_pycocoevalcap_and_cider_keeps_repeats():
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider

    from judgenet.captions import reference_metrics
    cands = ["a dog runs on grass", "a cat sleeps", "a dog runs on grass", "two men ride bikes"]
    refs = [["a dog is running on the grass", "dog on grass"], ["a cat is sleeping", "cat asleep on a bed"],
            ["a dog is running on the grass", "dog on grass"], ["men riding bicycles", "two people on bikes"]]
    r = reference_metrics(cands, refs, ["BLEU-4", "CIDEr-D"], tokenizer="simple")
    gts = {i: [simple_tokenize(x) for x in rs] for i, rs in enumerate(refs)}
    res = {i: [simple_tokenize(c)] for i, c in enumerate(cands)}
    _, b = Bleu(4).compute_score(gts, res, verbose=0)
    np.testing.assert_allclose(r.scores["BLEU-4"], b[3], atol=1e-12)
    _, c = Cider().compute_score(gts, res)
    np.testing.assert_allclose(r.scores["CIDEr-D"], c, atol=1e-12)  # all 4 entries in the IDF corpus
    _, c3 = Cider().compute_score({k: gts[k] for k in (0, 1, 3)}, {k: res[k] for k in (0, 1, 3)})
    assert not np.isclose(c3[0], c[0])  # the repeat changes document frequencies: protocol-relevant


@needs_coco
def test_reference_metrics_bad_input():
    from judgenet.captions import reference_metrics
    from judgenet.errors import ConfigError
    with pytest.raises(ConfigError, match="no references"):
        reference_metrics(["a"], [[]], ["BLEU-1"], tokenizer="simple")
    with pytest.raises(ConfigError, match="unknown caption metric"):
        reference_metrics(["a"], [["a"]], ["SPICE"], tokenizer="simple")


@needs_coco
@needs_java
def test_simple_tokenizer_matches_ptb_on_typical_captions():
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer
    caps = ["A man, riding a horse.", "Two dogs' toys are on the floor!", "The child doesn't smile ;",
            "A  woman (in red) walks -- quickly ."]
    ptb = PTBTokenizer().tokenize({i: [{"caption": c}] for i, c in enumerate(caps)})
    assert [simple_tokenize(c) for c in caps] == [ptb[i][0] for i in range(len(caps))]


@pytest.mark.slow
@needs_coco
@needs_java
def test_meteor_and_ptb_run():
    from judgenet.captions import reference_metrics
    r = reference_metrics(["A dog runs on the grass."], [["A dog is running on grass.", "Dog on a lawn."]],
                          ["METEOR", "BLEU-1"])
    assert r.tokenizer == "ptb" and 0 < r.scores["METEOR"][0] < 1 and not r.notices


# ------------------------------------------------------------------ protocols
def test_cf_reference_protocols_on_fixture():
    shared = flickr8k_cf_instances(FIX, "clipscore-shared")
    item = flickr8k_cf_instances(FIX, "per-item")
    ls = load_label_set("flickr8k-cf", root=FIX)
    refs = ls.references
    f = shared.frame
    for i, (im, c) in enumerate(zip(f["image"], f["candidate"])):
        own = [x for x in f.loc[f["image"] == im, "candidate"] if x in refs[im]]
        expected = [r for r in refs[im] if r not in own]  # every judged own caption of the image removed
        assert shared.references[i] == expected
        assert item.references[i] == [r for r in refs[im] if r != c]
    n_own = sum(c in refs[im] for im, c in zip(f["image"], f["candidate"]))
    assert n_own == 3
    assert sum(len(r) < 5 for r in shared.references) >= n_own  # the shared list hits other candidates too
    assert sum(len(r) < 5 for r in item.references) == n_own


def test_expert_instances_on_fixture():
    inst = flickr8k_expert_instances(FIX)
    ls = load_label_set("flickr8k-expert", root=FIX)
    assert len(inst) == len(ls) and "16,992" in inst.notes[0]
    assert all(c not in r for c, r in zip(inst.frame["candidate"], inst.references))


def test_thumb_instances_remove_candidate_from_own_references(tmp_path):
    d = tmp_path / "thumb"
    shutil.copytree(FIX / "thumb", d)
    lines = (d / "mscoco_THumB-1.0.jsonl").read_text().splitlines()
    recs = [json.loads(x) for x in lines]
    refs = [json.loads(x) for x in (d / "mscoco_references.json").read_text().splitlines()]
    human = next(r for r in recs if r["SYS"] == "Human")
    ref = next(r for r in refs if r["seg_id"] == human["seg_id"])
    human["hyp"] = ref["refs"][2]  # the upstream quirk: Human caption verbatim among its references
    (d / "mscoco_THumB-1.0.jsonl").write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    inst = thumb_instances(tmp_path, rows="all")
    i = int(np.flatnonzero((inst.frame["system"] == "Human") & (inst.frame["candidate"] == human["hyp"]))[0])
    assert inst.references[i] == ref["refs"][:2] + ref["refs"][3:]
    assert all(c not in r for c, r in zip(inst.frame["candidate"], inst.references))
    assert "Human 1" in inst.notes[0]
    m = thumb_instances(tmp_path, rows="machine")
    assert len(m) == len(inst) - (inst.frame["system"] == "Human").sum() and "Human" not in set(m.frame["system"])
    # every row carries the file's own numbers: human_score, P and R of its (seg_id, SYS) record, and the file's
    # identity human_score = (P + R) / 2 + Fl + Con + Inc holds for them (SOURCES.md: exactly, in every row)
    raw = {f"{r['seg_id']}|{r['SYS']}": r for r in recs}
    for item, h, p_, r_ in zip(inst.frame["item_id"], inst.frame["human"], inst.frame["P"], inst.frame["R"]):
        rec = raw[item]
        assert (h, p_, r_) == (rec["human_score"], rec["P"], rec["R"]), item
        assert h == pytest.approx((rec["P"] + rec["R"]) / 2 + rec["Fl"] + rec["Con"] + rec["Inc"], abs=1e-12)


# ------------------------------------------------------------------ Pascal-50S fixes
def test_pascal_categories_importable():
    assert PASCAL_CATEGORIES == {1: "HC", 2: "HI", 3: "HM", 4: "MM"}


def test_sample_references_never_picks_a_candidate():
    pool = [f"ref {i}" for i in range(7)]
    import pandas as pd
    f = pd.DataFrame({"image": ["im"] * 200, "caption_a": ["ref 0"] * 200, "caption_b": ["ref 1"] * 200})
    pairs = SimpleNamespace(references={"im": pool}, frame=f, name="t")
    draws = sample_references(pairs, k=5, seed=3)
    assert all(set(d) == set(pool[2:]) for d in draws)  # only 5 non-candidate references remain
    # a candidate equal to a reference up to whitespace (Pascal-50S pair 1913: "riding a  white horse")
    spaced = SimpleNamespace(references={"im": ["ref  0 ", *pool[1:]]}, frame=f, name="t")
    assert all(set(d) == set(pool[2:]) for d in sample_references(spaced, k=5, seed=3))
    from judgenet.errors import LabelError
    with pytest.raises(LabelError, match="besides the candidates"):
        sample_references(pairs, k=6)


def test_category_accuracy_ties_half_and_random():
    ps = load_label_set("pascal50s", root=FIX)
    n = len(ps)
    z = np.zeros(n)
    half = category_accuracy(ps, z, z)
    assert half["mean"] == 0.5
    rnd = [category_accuracy(ps, z, z, ties="random", seed=s)["mean"] for s in range(200)]
    assert abs(np.mean(rnd) - 0.5) < 0.03 and np.std(rnd) > 0  # same expectation, with noise


def test_pascal_accuracy_point_and_bootstrap():
    rng = np.random.default_rng(0)
    n = 400
    cats = np.array(["HC", "HI", "HM", "MM"])[rng.integers(0, 4, n)]
    pref = rng.choice([0.2, 0.5, 0.8], n)
    hits = rng.random(n)
    imgs = rng.integers(0, 100, n).astype(str)
    est = pascal_accuracy(cats, pref, hits, imgs, n_resamples=200, seed=1)
    for c in ("HC", "HI", "HM", "MM"):
        sel = (cats == c) & (pref != 0.5)
        assert est[c].value == pytest.approx(hits[sel].mean(), abs=1e-12)
        assert est[c].low <= est[c].value <= est[c].high
    assert est["mean"].value == pytest.approx(np.mean([est[c].value for c in ("HC", "HI", "HM", "MM")]))


# ------------------------------------------------------------------ published values
def test_published_values_have_sources_and_the_lookup_keeps_protocols_apart():
    """The values themselves are transcriptions (checked against the computed tables by the slow tests on the real
    files); here: every entry is sourced and in range, one entry per key, and the lookup never mixes label
    protocols or invents a value."""
    assert all(p.source and p.table and p.row and 0 <= p.value <= 100 for p in PUBLISHED)
    keys = [(p.set, p.metric, p.measure, p.subset, p.labels) for p in PUBLISHED]
    assert len(keys) == len(set(keys))
    for p in PUBLISHED:
        assert published_for(p.set, p.metric, p.subset, labels=p.labels) is p
    same, consensus = (published_for("pascal50s", "length", "HC", labels=lab) for lab in ("same", "48-vote"))
    assert same.labels == "same" and consensus.labels == "48-vote" and same.table != consensus.table
    assert published_for("thumb", "BLEU-4") is None and published_for("flickr8k-expert", "no-such-metric") is None
    assert all("issue" not in p.source.lower() for p in PUBLISHED)  # users read these lines in the reports


# ------------------------------------------------------------------ learned vs raw
def test_best_raw_metric_picks_on_training_data_only():
    from sklearn.base import clone
    rng = np.random.default_rng(0)
    y = rng.normal(size=300)
    X = np.column_stack([rng.normal(size=300), y + rng.normal(scale=0.5, size=300), -y])
    m = clone(BestRawMetric([0, 1], ["a", "b"], calibrate="none")).fit(X, y)
    assert m.name_ == "b" and m.column_ == 1
    np.testing.assert_array_equal(m.predict(X), X[:, 1])
    assert m.train_tau_ == pytest.approx(kendall_tau_b(y, X[:, 1]))
    lin = BestRawMetric([0, 1], ["a", "b"]).fit(X, y)  # linear map onto the human scale (least squares)
    b, a = np.polyfit(X[:, 1], y, 1)
    np.testing.assert_allclose(lin.predict(X), a + b * X[:, 1], atol=1e-10)
    assert kendall_tau_b(y, lin.predict(X)) == pytest.approx(kendall_tau_b(y, X[:, 1]))


# ------------------------------------------------------------------ image metrics on stand-ins
def test_image_metrics_against_direct_formulas():
    from judgenet.captions.imagemetrics import image_metrics
    rng = np.random.default_rng(0)
    d = 8
    images = [f"im{i}.jpg" for i in range(30)]
    iv = {im: rng.normal(size=d) for im in images}
    refs = [[f"ref {i} {j}" for j in range(3)] for i in range(30)]
    cands = [f"cand {i}" for i in range(30)]
    tv = {t: rng.normal(size=d) for t in cands + [r for rs in refs for r in rs]}
    out = image_metrics(images, cands, refs, iv, tv)

    def cos(a, b):
        return a @ b / np.linalg.norm(a) / np.linalg.norm(b)
    cs = np.array([2.5 * max(cos(iv[i], tv[c]), 0) for i, c in zip(images, cands)])
    np.testing.assert_allclose(out["CLIP-S"], cs, atol=1e-12)
    rr = np.array([max(max(cos(tv[c], tv[r]) for r in rs), 0) for c, rs in zip(cands, refs)])
    hm = np.where(cs + rr > 0, 2 * cs * rr / np.where(cs + rr > 0, cs + rr, 1), 0)
    np.testing.assert_allclose(out["RefCLIP-S"], hm, atol=1e-12)
    assert out["MID"].shape == (30,) and np.isfinite(out["MID"]).all()


def test_clip_embeddings_with_tiny_backbone(tmp_path):
    from PIL import Image

    from judgenet.backbones import load_backbone
    from judgenet.captions.imagemetrics import clip_embeddings, image_metrics
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    bb = load_backbone("tiny")
    images = [f"{i % 4}.png" for i in range(6)]
    cands = [f"a photo number {i}" for i in range(6)]
    refs = [["a picture", "an image"]] * 6
    iv, tv = clip_embeddings(images, cands + ["a picture", "an image"], tmp_path, bb, cache_dir=tmp_path / "c")
    direct = bb.encode_texts(cands[:1]).double().numpy()[0]
    np.testing.assert_allclose(tv[cands[0]], direct, rtol=1e-5, atol=1e-6)
    out = image_metrics(images, cands, refs, iv, tv, mid_eps=1e-3)
    assert set(out) == {"CLIP-S", "RefCLIP-S", "MID"}
    from judgenet.errors import ImageError
    with pytest.raises(ImageError, match="not found"):
        clip_embeddings(["missing.png"], cands, tmp_path, bb)


# ------------------------------------------------------------------ CLI
def _cli(capsys, *args):
    from judgenet.cli import main
    rc = main(list(args))
    out = capsys.readouterr()
    return SimpleNamespace(returncode=rc, stdout=out.out, stderr=out.err)


def test_cli_help_and_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        _cli(capsys, "benchmark", "--help")
    assert e.value.code == 0 and "flickr8k-expert" in capsys.readouterr().out
    r = _cli(capsys, "benchmark", "flickr8k-expert", "--label-root", str(tmp_path), "--text-backbone", "none")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "never downloads" in r.stderr
    with pytest.raises(SystemExit) as e:  # refused at parse time, one line
        _cli(capsys, "benchmark", "thumb", "--label-root", str(FIX), "--n-resamples", "0")
    assert e.value.code == 2 and "--n-resamples" in capsys.readouterr().err


@needs_coco
def test_cli_benchmark_on_fixture_writes_reports(tmp_path, capsys):
    r = _cli(capsys, "benchmark", "thumb", "--label-root", str(FIX), "--text-backbone", "none", "--n-resamples", "20",
             "--metric", "BLEU-1", "--metric", "CIDEr-D", "--out", str(tmp_path), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert {Path(p).name for p in out["files"].values()} == {"benchmark-thumb.md", "benchmark-thumb.html",
                                                               "benchmark-thumb.json"}
    md = (tmp_path / "benchmark-thumb.md").read_text()
    assert "own-removed" in md and "SPICE not computed" in md and "n = 5 systems" in md
    rows = out["rows"]
    assert {r["subset"] for r in rows} == {"all", "machine", "system"}
    # our value equals an independent computation of the statistic on the same scores
    from judgenet.captions import reference_metrics
    inst = thumb_instances(FIX)
    s = reference_metrics(inst.frame["candidate"].tolist(), inst.references, ["CIDEr-D"]).scores["CIDEr-D"]
    from scipy.stats import pearsonr
    row = next(r for r in rows if r["metric"] == "CIDEr-D" and r["subset"] == "all" and r["target"] == "human_score"
               and r["measure"] == "pearson")
    assert row["ours"]["value"] == pytest.approx(pearsonr(inst.frame["human"], s)[0], abs=1e-10)


@pytest.mark.slow
@needs_coco
def test_thumb_learned_vs_raw_on_fixture():
    from judgenet.backbones import load_backbone
    from judgenet.captions.learned import learned_markdown, learned_table, thumb_learned_vs_raw
    out = thumb_learned_vs_raw(FIX, text_backbone=load_backbone("tiny"), splits=("generator", "crossed"),
                               n_prompt_folds=2, n_resamples=30, n_pca=2)
    for split in ("generator", "crossed"):
        res = out[split]["results"]
        pr = res.predictions
        assert len(pr) == 25 and set(pr["generator"]) == {"Up-Down", "Unified-VLP", "VinVL-base", "VinVL-large",
                                                          "Human"}
        assert set(out[split]["chosen_raw"].values()) <= set(out["features"])
        # the best-raw competitor's held-out predictions are a raw metric column chosen on the training part
        vs = out[split]["vs_best_raw"]["ridge"]["kendall_tau_b"]
        assert vs["difference"].value == pytest.approx(vs["a"].value - vs["b"].value)
        # the raw sentence-encoder similarity competitor: its held-out "prediction" is the raw feature column
        X_col = out["features"].index("textsim-mean")
        assert X_col >= 0 and "textsim-mean" in res.metrics
        wt, w = out[split]["within_vs_textsim"], out[split]["within"]
        assert "diff" not in wt["textsim-mean"] and wt["ridge"]["value"] == w["ridge"]["value"]
        assert wt["ridge"]["diff"] == pytest.approx(w["ridge"]["value"] - w["textsim-mean"]["value"], abs=1e-12)
    tab = learned_table(out)
    assert {"generator", "crossed"} == set(tab["split"]) and "best_raw" in set(tab["predictor"])
    md = learned_markdown(out)
    assert md.count("(a) new system, scored images") >= 4 and md.count("(b) new system, new images") >= 4
    r = out["crossed"]["within_vs_textsim"]["gbr"]
    assert f"{r['diff']:+.3f} [{r['diff_low']:+.3f}, {r['diff_high']:+.3f}]" in md


def test_within_system_comparison_by_hand():
    from judgenet.captions.learned import within_system_comparison
    rng = np.random.default_rng(1)
    n = 120
    systems = np.repeat(["a", "b", "c"], 40)
    h = rng.normal(size=n)
    good, bad = h + rng.normal(scale=0.5, size=n), rng.normal(size=n)
    good_shifted = good + np.where(systems == "a", -100.0, 0.0)  # an offset between systems changes nothing
    imgs = np.tile(np.arange(40), 3)
    out = within_system_comparison(h, {"good": good_shifted, "bad": bad}, systems, imgs, baseline="bad",
                                   n_resamples=50, seed=0)
    direct = np.mean([kendall_tau_b(h[systems == s], good[systems == s]) for s in "abc"])
    assert out["good"]["value"] == pytest.approx(direct, abs=1e-12)
    assert out["good"]["diff"] == pytest.approx(direct - out["bad"]["value"], abs=1e-12)
    assert out["good"]["p_not_better"] == 0.0 and "diff" not in out["bad"]


def test_pascal_text_similarity_rows_against_direct_computation(tmp_path):
    """Pascal-50S sentence-encoder rows (tiny stand-in for MiniLM): every sentence embedded once, the
    per-draw accuracy recomputed here from the encoder's own output and the same reference draws."""
    from judgenet.backbones import load_backbone
    from judgenet.captions import run_benchmark
    bb = load_backbone("tiny")
    calls = []
    enc = bb.encode_texts
    bb.encode_texts = lambda texts: calls.append(len(texts)) or enc(texts)
    res = run_benchmark("pascal50s", FIX, metrics=(), text_backbone=bb, cache_dir=tmp_path, n_resamples=20,
                        n_draws=3, seed=4)
    ps = load_label_set("pascal50s", root=FIX)
    f = ps.frame
    draws = [sample_references(ps, k=5, seed=4 + d) for d in range(3)]
    texts = list(dict.fromkeys(f["caption_a"].tolist() + f["caption_b"].tolist()
                               + [r for d in draws for rs in d for r in rs]))
    assert sum(calls) == len(texts)  # each distinct sentence embedded once for all draws
    v = enc(texts).double().numpy()
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    row = {t: v[i] for i, t in enumerate(texts)}
    human = np.sign(f["preference"].to_numpy() - 0.5)
    for kind, fn in (("max", np.max), ("mean", np.mean)):
        hits = np.zeros(len(f))
        for d in draws:
            sa = np.array([fn([row[r] @ row[c] for r in rs]) for c, rs in zip(f["caption_a"], d)])
            sb = np.array([fn([row[r] @ row[c] for r in rs]) for c, rs in zip(f["caption_b"], d)])
            m = np.sign(sa - sb)
            hits += np.where(m == 0, 0.5, (m == human).astype(float)) / len(draws)
        rows = {r.subset: r for r in res.rows if r.metric == f"tiny-{kind}"}
        assert set(rows) == {"HC", "HI", "HM", "MM", "mean"}
        for c in ("HC", "HI", "HM", "MM"):
            assert rows[c].ours.value == pytest.approx(hits[f["category"].to_numpy() == c].mean(), abs=1e-9), c
            assert rows[c].published is None and rows[c].protocol == "5-refs-x5"
        assert rows["mean"].ours.value == pytest.approx(np.mean([rows[c].ours.value for c in ("HC", "HI", "HM", "MM")]))
    calls.clear()
    run_benchmark("pascal50s", FIX, metrics=(), text_backbone=bb, cache_dir=tmp_path, n_resamples=5, n_draws=3, seed=4)
    assert calls == []  # a second run reads every sentence from the feature cache


@needs_coco
def test_benchmark_all_on_fixture_covers_every_set_and_published_row():
    from judgenet.captions import run_benchmark
    res = run_benchmark("all", FIX, metrics=("BLEU-4",), text_backbone=None, n_resamples=10, n_draws=1)
    assert {r.set for r in res.rows} == {"flickr8k-expert", "flickr8k-cf", "pascal50s", "thumb"}
    shown = {(r.set, r.metric, r.subset) for r in res.rows if r.published is not None}
    for p in PUBLISHED:  # every published value of the labels we have is beside one of our rows
        if p.labels == "same":
            assert (p.set, p.metric, p.subset) in shown, p
    for r in res.rows:
        if not np.isfinite(r.ours.value):
            assert r.note.startswith("not computed: "), r  # the reason is stated
    computed = {r.metric for r in res.rows if np.isfinite(r.ours.value)}
    assert computed == {"BLEU-4", "length"}


def test_benchmark_rendering_keeps_measures_sources_and_caveats():
    """The console table names each row's measure (THumB gives Pearson and tau-b per metric), every report opens with
    the reproduction count (recounted here from the rows), differences never print as -0.0, a source's caveat stays
    beside its value, and a caption-trained encoder's rows carry their caveat."""
    from judgenet.captions.benchmark import BenchmarkResult, BenchmarkRow, signed
    from judgenet.captions.published import MID_PAPER
    from judgenet.stats import Estimate

    def est(v):
        return Estimate(v, v - 0.01, v + 0.01, 10, 0.95)

    pub = {p.metric: p for p in PUBLISHED if p.set == "flickr8k-expert" and p.labels == "same"}
    mid = next(p for p in PUBLISHED if p.source == MID_PAPER and p.labels == "same")
    cider = pub["CIDEr-D"]
    rows = [BenchmarkRow("flickr8k-expert", "p", "all", "describes", "CIDEr-D", cider.measure,
                         est(cider.value / 100 - 0.0004), cider),                  # differs by -0.04: prints 0.0
            BenchmarkRow(mid.set, "p", mid.subset, "t", mid.metric, mid.measure, est(float("nan")), mid),
            BenchmarkRow("thumb", "p", "all", "human", "text-all-MiniLM-L6-v2-mean", "pearson", est(0.5)),
            BenchmarkRow("thumb", "p", "all", "human", "text-all-MiniLM-L6-v2-mean", "kendall_tau_b", est(0.4))]
    res = BenchmarkResult(rows=rows, settings={"n_resamples": 10, "seed": 0})
    text, md = res.to_text(), res.to_markdown()
    done = [r for r in rows if r.published is not None and np.isfinite(r.ours.value)]
    close = sum(abs(100 * r.ours.value - r.published.value) <= 0.1 for r in done)
    assert text.splitlines()[0].startswith(f"{close}/{len(done)} computed published values reproduced within 0.1")
    assert f"**{res.conclusion()}**" in md and "1 published value(s) not computed here" in res.conclusion()
    assert "measure" in text.splitlines()[1] and "pearson" in text and "kendall_tau_b" in text
    assert "-0.0" not in text + md and signed(-0.04) == "0.0" and signed(-0.06) == "-0.1" and signed(0.3) == "+0.3"
    assert "not re-read" in md and "not re-read" in res.to_html()
    assert "may be inflated" in md and sum("may be inflated" in line for line in md.splitlines() if "MiniLM" in line) >= 2
    d = res.to_dict()
    assert d["versions"]["numpy"] == np.__version__ and d["rows"][2]["caveat"]
