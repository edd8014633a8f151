"""What made a set of scores is recorded, and what a score cannot say is left empty (issues 27 item 7, 28):
score.json and report.md carry backbone fingerprints, weights SHA-256, preprocessing (the Inception resize
convention) and library versions; printed notes are in ``notes``; ``score --predictor`` on its own training images
says the means are in-sample; intervals that need more calibration generators than the predictor has are empty
with a reason, and per-image bounds stay on the label scale."""
import json
import shutil
from importlib.metadata import version

import numpy as np
import pandas as pd
import pytest

from judgenet import cli


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    assert "Traceback" not in out.err, out.err
    return code, out.out, out.err


def test_inception_resize_conventions_give_different_provenance():
    from judgenet.backbones import load_backbone
    from judgenet.jobs.score import provenance

    recs = {}
    for resize in ("tf1", "antialias", "clean"):
        bb = load_backbone("inception:fid-random", resize=resize)
        recs[resize] = provenance([bb])["backbone_fingerprints"]["inception:fid-random"]
        assert recs[resize]["preprocess"]["resize"] == resize
        assert recs[resize]["fingerprint_hash"] == bb.fingerprint_hash
    assert len({r["fingerprint_hash"] for r in recs.values()}) == 3
    assert len({json.dumps(r, sort_keys=True) for r in recs.values()}) == 3


def test_score_json_and_report_record_backbones_versions_and_notes(userdata, capsys, tmp_path):
    from judgenet.backbones import load_backbone

    gen = sorted(p for p in (userdata / "gen").iterdir() if p.is_dir())[0]
    code, _, err = run(capsys, "score", gen, "--reference", userdata / "real", "--out", tmp_path / "s",
                       "--backbone", "tiny", "--resamples", "10")
    assert code == 0
    meta = json.loads((tmp_path / "s" / "score.json").read_text())
    bb = load_backbone("tiny")
    rec = meta["backbone_fingerprints"]["tiny"]
    assert rec["fingerprint_hash"] == bb.fingerprint_hash
    assert rec["weights_sha256"] == bb.fingerprint["weights_sha256"] and len(rec["weights_sha256"]) == 64
    dists = {"judgenet": "judgenet", "torch": "torch", "numpy": "numpy", "scipy": "scipy", "sklearn": "scikit-learn",
             "open_clip": "open_clip_torch", "pandas": "pandas"}
    assert {k: meta["versions"][k] for k in dists} == {k: version(d) for k, d in dists.items()}
    assert any("tiny encoder" in n for n in meta["notes"])  # the printed note is recorded
    report = (tmp_path / "s" / "report.md").read_text()
    assert bb.fingerprint_hash in report and rec["weights_sha256"] in report and f"torch {version('torch')}" in report
    assert "tiny encoder" in report
    # the CSVs stay plain (any reader) and carry the same header notes in their CSV-on-the-Web sidecars
    for stem in ("per_image", "per_generator"):
        frame = pd.read_csv(tmp_path / "s" / f"{stem}.csv")
        side = json.loads((tmp_path / "s" / f"{stem}.csv-metadata.json").read_text())
        assert side["url"] == f"{stem}.csv" and side["@context"] == "http://www.w3.org/ns/csvw"
        assert [c["name"] for c in side["tableSchema"]["columns"]] == list(frame.columns)
        comment = "\n".join(side["rdfs:comment"])
        assert all(f"note: {n}" in side["rdfs:comment"] for n in meta["notes"])
        assert rec["fingerprint_hash"] in comment and rec["weights_sha256"] in comment
        assert f"torch {version('torch')}" in comment


@pytest.fixture(scope="module")
def predictor(userdata, tmp_path_factory):
    out = tmp_path_factory.mktemp("pred") / "p"
    code = cli.main(["train", "--labels", str(userdata / "labels.csv"), "--images", str(userdata / "gen"),
                     "--reference", str(userdata / "real"), "--question", "realism", "--model", "ridge",
                     "--resamples", "10", "--backbone", "tiny", "--out", str(out), "--quiet"])
    assert code == 0
    return out


def test_score_on_training_images_says_in_sample_and_empties_intervals_it_cannot_give(userdata, predictor, capsys,
                                                                                      tmp_path):
    gens = sorted(p for p in (userdata / "gen").iterdir() if p.is_dir())[:2]
    code, _, err = run(capsys, "score", *gens, "--predictor", predictor, "--prompts", userdata / "prompts.csv", "--out",
                       tmp_path / "s", "--resamples", "10")
    assert code == 0
    meta = json.loads((tmp_path / "s" / "score.json").read_text())
    n = sum(len(list(g.glob("*.png"))) for g in gens)
    assert any(f"{n} of {n} scored image(s) were training images" in x and "in-sample" in x for x in meta["notes"])
    # 5 generators calibrate the predictor; a 90 % interval for a generator's mean needs 9
    assert any("calibrated on 5 held-out generator(s)" in x and "needs at least 9" in x for x in meta["notes"])
    per_gen = pd.read_csv(tmp_path / "s" / "per_generator.csv")
    assert per_gen["predicted_realism_interval_low"].isna().all()
    assert per_gen["predicted_realism_interval_high"].isna().all() and per_gen["interval_coverage"].isna().all()
    assert np.isfinite(per_gen["predicted_realism"]).all()
    labels = pd.read_csv(userdata / "labels.csv")
    scale = labels.loc[labels["question"] == "realism", "score"]
    per_image = pd.read_csv(tmp_path / "s" / "per_image.csv")
    bounds = per_image[["pred_low", "pred_high"]].to_numpy()
    ok = ~np.isnan(bounds).any(axis=1)
    assert ((bounds[ok] >= scale.min()) & (bounds[ok] <= scale.max())).all()  # on the label scale or empty
    assert np.isnan(bounds).any(axis=1).sum() == np.isnan(bounds).all(axis=1).sum()  # both empty, never one


def test_score_on_unseen_images_is_not_called_in_sample(userdata, predictor, capsys, tmp_path):
    gen = tmp_path / "unseen"
    gen.mkdir()
    for f in sorted((userdata / "real").glob("*.png"))[:6]:  # images the predictor was not trained on
        shutil.copy(f, gen / f.name)
    prompts = pd.read_csv(userdata / "real" / "prompts.csv")
    prompts[prompts["image"].isin([f.name for f in gen.iterdir()])].to_csv(gen / "prompts.csv", index=False)
    code, _, err = run(capsys, "score", gen, "--predictor", predictor, "--out", tmp_path / "s", "--resamples", "10")
    assert code == 0
    meta = json.loads((tmp_path / "s" / "score.json").read_text())
    assert not any("in-sample" in x for x in meta["notes"]) and "in-sample" not in err


def test_generators_needed_matches_the_conformal_quantile():
    import math

    from judgenet.evaluation.calibration import conformal_quantile
    from judgenet.jobs.score import generators_needed

    for c in (0.5, 0.8, 0.9, 0.95, 0.99):
        first = next(n for n in range(1, 200) if math.isfinite(conformal_quantile(np.arange(n) + 1.0, c)))
        assert generators_needed(c) == first
