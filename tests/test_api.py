"""The Python jobs (jn.train / evaluate / score / tune / extract / report) called directly, on user-style files
made from the simulated world (conftest ``userdata``): result types, the saved recipe, scoring rules, and the
regressions of issue 12 (recipe rebuilt from meta.json, tune --out) and issue 17 (names, prompts, failures, FID)."""
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import judgenet as jn
from judgenet.errors import ArtifactError, ConfigError


@pytest.fixture(scope="module")
def cache(trained_cache):  # the cache the shared predictor (conftest.py: trained) was trained with
    return trained_cache


def test_train_returns_its_result(trained):
    assert isinstance(trained, jn.api.TrainResult)
    d = trained.predictor
    assert (d / "meta.json").is_file() and (d / "model.joblib").is_file() and (d / "reference").is_dir()
    assert trained.recipe.family == "ridge"
    assert set(trained.to_json()) >= {"predictor", "recipe", "results"}


def test_evaluate_rebuilds_the_saved_recipe_without_unpickling(trained, userdata, cache, tmp_path, monkeypatch):
    """Bug 3 / issue 17 item 18: the tuned parameters, PCA, scaler and feature groups come from meta.json, and
    model.joblib is never opened."""
    from judgenet.predictors import save_predictor
    from judgenet.predictors.recipes import Recipe

    recipe = Recipe("ridge", {"alpha": 37.0}, pca=3, scaler="robust", feature_groups=("realism",))
    art = tmp_path / "tuned"
    shutil.copytree(trained.predictor, art)
    save_predictor(object(), art, recipe=recipe, feature_names=["x"], label_set="l", question="realism",
                   extra={"backbones": ["tiny"]})

    class Boom:
        def __reduce__(self):
            return (Path.touch, (tmp_path / "UNPICKLED",))

    import pickle

    (art / "model.joblib").write_bytes(pickle.dumps(Boom()))
    seen = {}
    from judgenet.evaluation import cache as evcache

    orig = evcache.cached_evaluate

    def spy(X, y, generators, names, models, **kw):
        seen["names"], seen["models"] = list(names), models
        return orig(X, y, generators, names, models, **kw)

    monkeypatch.setattr(evcache, "cached_evaluate", spy)
    res = jn.evaluate(userdata / "labels.csv", images=userdata / "gen", reference=userdata / "real",
                      predictor=art, out=tmp_path / "ev", n_resamples=30, cache_dir=cache)
    assert not (tmp_path / "UNPICKLED").exists()
    assert list(seen["models"]) == ["ridge"]
    est = seen["models"]["ridge"]
    assert repr(est.steps[-1][1]) == repr(recipe.build(random_state=0))  # the whole tuned pipeline
    cols = est.steps[0][1].kw_args["cols"] if hasattr(est.steps[0][1], "kw_args") else None
    assert cols is not None and [seen["names"][i] for i in cols] == \
        [n for n in seen["names"] if n.startswith("realism.")]
    assert "mid_pmi" in seen["names"]  # baselines still see raw MID
    assert isinstance(res, jn.api.EvaluateResult) and (res.out / "report.md").is_file()


def test_evaluate_budget_writes_an_efficiency_curve(userdata, cache, tmp_path):
    res = jn.evaluate(userdata / "labels.csv", images=userdata / "gen", reference=userdata / "real", out=tmp_path / "e",
                      models=["ridge"], question="realism", n_resamples=20, cache_dir=cache, backbones=["tiny"],
                      budget=[16, 40])
    assert (res.out / "efficiency.md").is_file() and (res.out / "efficiency.png").is_file()


def test_evaluate_refuses_model_and_predictor_together(trained, userdata, tmp_path):
    with pytest.raises(ConfigError, match="either --predictor"):
        jn.evaluate(userdata / "labels.csv", images=userdata / "gen", reference=userdata / "real",
                    predictor=trained.predictor, models=["ridge"], out=tmp_path / "x")


def test_score_with_predictor(trained, userdata, cache, tmp_path):
    gens = sorted(p for p in (userdata / "gen").iterdir() if p.is_dir())
    res = jn.score(gens, predictor=trained.predictor, prompts=userdata / "prompts.csv", out=tmp_path / "s",
                   n_resamples=30, cache_dir=cache)
    assert isinstance(res, jn.api.ScoreResult)
    assert list(res.per_generator["generator"]) and "predicted_realism" in res.per_generator
    pi, pg = res.per_image, res.per_generator
    assert np.isfinite(pi["predicted_realism"]).all()
    # issue 15: the saved predictor carries its conformal calibration; intervals bracket the prediction
    assert (pi["pred_low"] <= pi["predicted_realism"]).all() and (pi["predicted_realism"] <= pi["pred_high"]).all()
    # 5 generators calibrate a per-generator interval to 5/6 coverage at most: at 90% it would be (-inf, inf), so
    # it is left empty with the reason instead of printed beside interval_coverage 0.9
    assert pg["predicted_realism_interval_low"].isna().all() and pg["predicted_realism_interval_high"].isna().all()
    import json

    notes = json.loads((tmp_path / "s" / "score.json").read_text())["notes"]
    assert any("needs at least" in n for n in notes), notes
    wider = jn.score(gens[:1], predictor=trained.predictor, prompts=userdata / "prompts.csv", out=tmp_path / "s99",
                     n_resamples=10, cache_dir=cache, coverage=0.99).per_image
    # a 99% interval is at least as wide; one that would span the whole rating scale is left empty (NaN) instead
    w99, w90 = (wider["pred_high"] - wider["pred_low"]).to_numpy(), (pi["pred_high"] - pi["pred_low"]).to_numpy()
    shown = np.isfinite(w99)
    assert (w99[shown] >= w90[: len(wider)][shown] - 1e-12).all()
    # issue 17 item 1: a --reference that is not the predictor's own is refused, a missing one too
    with pytest.raises(ConfigError):
        jn.score(gens[:1], predictor=trained.predictor, reference=tmp_path / "nope", out=tmp_path / "s2")
    other = tmp_path / "other-real"
    shutil.copytree(userdata / "real", other)
    for f in sorted(other.glob("*.png"))[:20]:
        f.unlink()
    with pytest.raises(ArtifactError, match="different real-image reference"):
        jn.score(gens[:1], predictor=trained.predictor, reference=other, out=tmp_path / "s3", cache_dir=cache)
    assert not (tmp_path / "s3").exists()  # a failed job leaves no empty output folder


def test_score_names_prompts_and_failures(userdata, cache, tmp_path):
    """Issue 17 items 2, 4, 7: unique generator names, prompt-less folders keep others' alignment, unreadable
    images are skipped and listed."""
    root = tmp_path / "g"
    src = sorted(p for p in (userdata / "gen").iterdir() if p.is_dir())
    shutil.copytree(src[0], root / "a" / "blur")
    shutil.copytree(src[1], root / "b" / "blur")
    shutil.copytree(src[2], root / "c" / "noprompts")
    table = pd.read_csv(userdata / "prompts.csv")
    for d in ("a/blur", "b/blur"):
        table[table["image"].isin([p.name for p in (root / d).glob("*.png")])].to_csv(root / d / "prompts.csv",
                                                                                     index=False)
    (root / "a" / "blur" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\ntruncated")
    with open(root / "a" / "blur" / "prompts.csv", "a") as fh:
        fh.write("broken.png,a truncated file\n")
    res = jn.score([root / "a" / "blur", root / "b" / "blur", root / "c" / "noprompts"], reference=userdata / "real",
                   out=tmp_path / "s", n_resamples=30, cache_dir=cache, backbones=["tiny"])
    pg = res.per_generator.set_index("generator")
    assert set(pg.index) == {"a/blur", "b/blur", "noprompts"}
    assert np.isfinite(pg.loc["a/blur", "clip_score"]) and np.isfinite(pg.loc["b/blur", "clip_score"])
    assert not np.isfinite(pg.loc["noprompts", "clip_score"])
    assert pg.loc["a/blur", "n_images"] == len(list((root / "a" / "blur").glob("*.png"))) - 1
    fails = pd.read_csv(tmp_path / "s" / "failures.csv")
    assert list(fails["path"].map(lambda p: Path(p).name)) == ["broken.png"]
    with pytest.raises(ConfigError, match="given twice"):
        jn.score([root / "a" / "blur", root / "a" / "blur"], reference=userdata / "real", out=tmp_path / "s4")


def test_score_fid_is_the_fid_of_the_raw_features(userdata, cache, tmp_path):
    """Issue 17 item 0, end to end: every set-level number score prints equals its definition on the raw
    embeddings (read back from the cache), not on L2-normalized ones."""
    from judgenet.backbones import load_backbone
    from judgenet.embeddings import read_features
    from judgenet.metrics import functional as F

    gdir = sorted(p for p in (userdata / "gen").iterdir() if p.is_dir())[0]
    res = jn.score([gdir], reference=userdata / "real", out=tmp_path / "s", n_resamples=20, cache_dir=cache,
                   backbones=["tiny"], kid_subset_size=4)
    bb = load_backbone("tiny")
    found_r, real = read_features(sorted((userdata / "real").glob("*.png")), bb, cache_dir=cache)
    found_g, gen = read_features(sorted(gdir.glob("*.png")), bb, cache_dir=cache)
    assert found_r.all() and found_g.all()
    real, gen = np.asarray(real, dtype=np.float64), np.asarray(gen, dtype=np.float64)
    row = res.per_generator.iloc[0]
    fd_col = next(c for c in res.per_generator.columns if c.startswith(("fd.", "fid.")))
    assert row[fd_col] == pytest.approx(F.fid(real, gen), rel=1e-9)
    normalized = F.fid(real / np.linalg.norm(real, axis=1, keepdims=True), gen / np.linalg.norm(gen, axis=1,
                                                                                               keepdims=True))
    assert abs(row[fd_col] - normalized) > 1e-3 * abs(row[fd_col])


def test_tune_out_behaves_like_other_jobs_and_resumes(userdata, cache, tmp_path):
    """Bug 5: a non-empty --out needs overwrite, except the folder of the same study (a rerun continues it)."""
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "something.txt").write_text("x")
    kw = dict(images=userdata / "gen", reference=userdata / "real", question="realism", cache_dir=cache,
              models=["ridge"], backbones=["tiny"])
    with pytest.raises(ConfigError, match="--overwrite"):
        jn.tune(userdata / "labels.csv", out=busy, n_trials=2, **kw)
    out = tmp_path / "tune"
    r1 = jn.tune(userdata / "labels.csv", out=out, n_trials=2, **kw)
    r2 = jn.tune(userdata / "labels.csv", out=out, n_trials=3, **kw)
    assert isinstance(r2, jn.api.TuneResult) and r2.to_json()["n_trials"] == 3
    assert (r1.predictor / "meta.json").is_file()


def test_tune_without_out_continues_its_study_when_rerun(userdata, cache, tmp_path, monkeypatch):
    """Without --out the folder is the study's (judgenet-runs/tune-<study_name>), so the same command run again
    continues the study instead of starting a new one in a new timestamped folder."""
    monkeypatch.chdir(tmp_path)
    kw = dict(images=userdata / "gen", reference=userdata / "real", question="realism", cache_dir=cache,
              models=["ridge"], backbones=["tiny"], study_name="my study")
    r1 = jn.tune(userdata / "labels.csv", n_trials=2, **kw)
    r2 = jn.tune(userdata / "labels.csv", n_trials=3, **kw)
    assert r1.out.resolve() == r2.out.resolve() == (tmp_path / "judgenet-runs" / "tune-my_study").resolve()
    assert len(r2.study.trials) == 3 and [t.number for t in r2.study.trials] == [0, 1, 2]


def test_report_rebuilds(trained):
    res = jn.report(trained.predictor)
    assert res.reports and all(Path(p).exists() for p in res.reports)


def test_image_only_backbone_with_prompts_leaves_alignment_out(userdata, cache, tmp_path, monkeypatch):
    """Prompts with no text tower among the backbones: realism features only, with a notice (not an error)."""
    import judgenet.backbones as jb
    from judgenet.jobs.prepare import prepare

    real = jb.load_backbones

    class ImageOnly:  # the tiny image tower without its text tower (an Inception-like backbone, but fast)
        def __init__(self, bb):
            self._bb = bb

        def __getattr__(self, name):
            return getattr(self._bb, name)

        has_text = False

    monkeypatch.setattr(jb, "load_backbones", lambda names, **kw: [ImageOnly(b) for b in real(names, **kw)])
    prep = prepare(userdata / "labels.csv", images=userdata / "gen", reference=userdata / "real",
                   question="realism", cache_dir=cache, backbones=["tiny"])
    assert "alignment" not in prep.features.groups and "realism" in prep.features.groups
    assert prep.prompts is not None  # still the unit of prompt folds and the bootstrap


def test_public_names_are_visible():
    assert {"demo", "train", "evaluate", "score", "tune", "extract", "report", "prepare"} <= set(dir(jn))


@pytest.fixture(scope="module")
def pairs_csv(userdata, tmp_path_factory):
    """Side-by-side judgments of the userdata items: for every prompt, each rater compares pairs of items of
    different generators by their own Likert scores (ties when equal)."""
    lab = pd.read_csv(userdata / "labels.csv")
    lab = lab[lab["question"] == "realism"]
    items = lab.drop_duplicates("item_id").set_index("item_id")
    rows = []
    for prompt, grp in items.groupby("prompt"):
        ids = list(grp.index)
        for i in range(len(ids)):
            for j in range(i + 1, len(ids)):
                a, b = ids[i], ids[j]
                for rater, r in lab[lab["item_id"] == a].set_index("rater_id")["score"].items():
                    sb = lab[(lab["item_id"] == b) & (lab["rater_id"] == rater)]["score"]
                    if sb.empty:
                        continue
                    choice = "a" if r > sb.iloc[0] else "b" if r < sb.iloc[0] else "tie"
                    rows.append({"item_a": a, "item_b": b, "image_a": items.loc[a, "image"],
                                 "image_b": items.loc[b, "image"], "generator_a": items.loc[a, "generator"],
                                 "generator_b": items.loc[b, "generator"], "prompt": prompt, "rater_id": rater,
                                 "question": "realism", "choice": choice})
    path = tmp_path_factory.mktemp("pairs") / "prefs.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_pairwise_labels_train_a_utility_model_that_score_uses(pairs_csv, userdata, cache, tmp_path):
    """Issue 14: comparative labels through train → a single-image utility model → score; and evaluate."""
    res = jn.train(pairs_csv, images=userdata / "gen", reference=userdata / "real", out=tmp_path / "p",
                   model="bradley_terry", n_resamples=30, cache_dir=cache, backbones=["tiny"])
    assert res.recipe.kind == "pairwise" and (res.predictor / "report" / "report.md").is_file()
    meta = json.loads((res.predictor / "meta.json").read_text())
    assert meta["extra"]["labels"] == "pairwise"
    gens = sorted(p for p in (userdata / "gen").iterdir() if p.is_dir())
    sc = jn.score(gens, predictor=res.predictor, prompts=userdata / "prompts.csv", out=tmp_path / "s",
                  n_resamples=20, cache_dir=cache)
    assert np.isfinite(sc.per_image["predicted_realism"]).all()
    ev = jn.evaluate(pairs_csv, images=userdata / "gen", reference=userdata / "real", out=tmp_path / "e",
                     n_resamples=30, cache_dir=cache, backbones=["tiny"], models=["bradley_terry"])
    assert "bradley_terry" in ev.results.models and (tmp_path / "e" / "pairwise_results.json").is_file()
    with pytest.raises(ConfigError, match="pairwise"):
        jn.evaluate(pairs_csv, images=userdata / "gen", reference=userdata / "real", out=tmp_path / "e2",
                    cache_dir=cache, backbones=["tiny"], models=["ridge"])


def test_pairwise_labels_tune(pairs_csv, userdata, cache, tmp_path):
    res = jn.tune(pairs_csv, images=userdata / "gen", reference=userdata / "real", out=tmp_path / "t", n_trials=3,
                  cache_dir=cache, backbones=["tiny"], models=["bradley_terry"])
    assert res.recipe.family == "bradley_terry" and res.to_json()["n_trials"] == 3
    meta = json.loads((res.predictor / "meta.json").read_text())
    assert meta["extra"]["measure"] == "pairwise_2afc"  # what the study maximized, not the per-item default


def test_crossed_split_through_evaluate_and_train(userdata, cache, tmp_path):
    """Issue 19: --split crossed (a new generator on new prompts) in the jobs; the report says what it models."""
    ev = jn.evaluate(userdata / "labels.csv", images=userdata / "gen", reference=userdata / "real", out=tmp_path / "e",
                     models=["ridge"], question="realism", n_resamples=20, cache_dir=cache, backbones=["tiny"],
                     split="crossed", n_prompt_folds=2)
    assert ev.results.settings["split"] == "crossed"
    assert "new generator on new prompts" in (ev.out / "report.md").read_text()
    tr = jn.train(userdata / "labels.csv", images=userdata / "gen", reference=userdata / "real", out=tmp_path / "t",
                  model="auto", question="realism", n_resamples=20, cache_dir=cache, backbones=["tiny"],
                  split="crossed", n_prompt_folds=2)
    meta = json.loads((tr.predictor / "meta.json").read_text())
    assert meta["extra"]["split"] == "crossed" and tr.results.settings["split"] == "crossed"


def test_tiny_encoder_warning_reaches_the_output_files(userdata, cache, tmp_path):
    """Issue 18.5: with the tiny encoder on user images, train's report and saved predictor say so (not only the log)."""
    from judgenet.jobs.prepare import TINY_WARNING

    tr = jn.train(userdata / "labels.csv", images=userdata / "gen", reference=userdata / "real", out=tmp_path / "t",
                  model="ridge", question="realism", n_resamples=20, cache_dir=cache, backbones=["tiny"])
    report = next((tmp_path / "t").rglob("report.md")).read_text()
    assert TINY_WARNING in report
    meta = json.loads((tr.predictor / "meta.json").read_text())
    assert meta["extra"]["notes"] == [TINY_WARNING]


def test_job_functions_stay_functions_after_their_modules_are_imported():
    """Importing the module behind a job must not rebind the job's name on the package (``judgenet.demo`` was
    replaced by the ``judgenet/demo.py`` module after the first ``jn.demo(...)``)."""
    import importlib
    import pkgutil

    import judgenet as jn

    for m in pkgutil.walk_packages(jn.__path__, "judgenet."):
        importlib.import_module(m.name)
    for name in ("demo", "extract", "train", "evaluate", "score", "tune", "report", "prepare"):
        assert callable(getattr(jn, name)), name
