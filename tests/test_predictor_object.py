"""jn.load_predictor(...) as an object (predict / predict_embeddings / score / meta / recipe), jn.select and
jn.report, each checked against what the CLI writes for the same inputs (an independent path: the CSV files)."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import judgenet as jn
from judgenet.cli import main
from judgenet.errors import ConfigError


@pytest.fixture(scope="module")
def cache(trained_cache):  # the cache the shared predictor (conftest.py: trained) was trained with
    return trained_cache


@pytest.fixture(scope="module")
def folder(userdata):
    return sorted(p for p in (userdata / "gen").iterdir() if p.is_dir())[0]


def _prompts(userdata, files):
    table = pd.read_csv(userdata / "prompts.csv").set_index("image")["prompt"]
    return [table[Path(f).name] for f in files]


@pytest.fixture(scope="module")
def cli_scores(trained, userdata, folder, cache, tmp_path_factory):
    """What `judgenet score --predictor` writes per image for ``folder``, read back from its CSV."""
    out = tmp_path_factory.mktemp("cli") / "s"
    code = main(["score", str(folder), "--predictor", str(trained.predictor), "--prompts",
                 str(userdata / "prompts.csv"), "--out", str(out), "--cache", str(cache), "--resamples", "20",
                 "--quiet"])
    assert code == 0
    return pd.read_csv(out / "per_image.csv")


@pytest.fixture(scope="module")
def p(trained, cache):
    return jn.load_predictor(trained.predictor, cache_dir=cache)


def _same(a: pd.Series, b: pd.Series) -> None:
    a, b = a.to_numpy(dtype=np.float64), b.to_numpy(dtype=np.float64)
    assert np.array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_allclose(a[~np.isnan(a)], b[~np.isnan(b)], rtol=1e-12, atol=0)  # a CSV round trip of float64


def test_predict_on_files_equals_what_score_writes_per_image(p, cli_scores, userdata):
    files = cli_scores["image"].tolist()
    got = p.predict(files, prompts=_prompts(userdata, files))
    assert list(got["image"]) == files and p.pred_column == "predicted_realism"
    cols = [c for c in ("predicted_realism", "pred_low", "pred_high", "pred_label_scale") if c in cli_scores]
    assert {"predicted_realism", "pred_low", "pred_high"} <= set(cols)  # saved with its conformal calibration
    assert [c for c in cols if c in got] == cols
    for c in cols:
        _same(got[c], cli_scores[c])
    assert got["predicted_realism"].notna().all()


def test_pil_images_and_a_folder_give_the_same_predictions_as_paths(p, cli_scores, userdata, folder, tmp_path):
    files = cli_scores["image"].tolist()
    prompts = _prompts(userdata, files)
    by_path = p.predict(files, prompts=prompts)
    pil = [Image.open(f).convert("RGB") for f in files]
    by_pil = p.predict(pil, prompts=prompts)
    assert list(by_pil["image"]) == [f"<image {i}>" for i in range(len(files))]
    # decoded pixels are identical, so are the features up to float32 batching
    np.testing.assert_allclose(by_pil["predicted_realism"], by_path["predicted_realism"], rtol=1e-6, atol=1e-9)
    # a folder with its prompts.csv inside: the same rows, in the folder's order
    import shutil

    d = tmp_path / "f"
    shutil.copytree(folder, d)
    pd.DataFrame({"image": [Path(f).name for f in files], "prompt": prompts}).to_csv(d / "prompts.csv", index=False)
    by_dir = p.predict(d)
    by_dir.index = [Path(f).name for f in by_dir["image"]]
    ref = by_path.set_index(by_path["image"].map(lambda f: Path(f).name))
    _same(by_dir.loc[ref.index, "predicted_realism"], ref["predicted_realism"])


def test_predict_embeddings_equals_predict(p, cli_scores, userdata, cache):
    from judgenet.embeddings import embed

    files = cli_scores["image"].tolist()
    prompts = _prompts(userdata, files)
    emb = embed(files, p._backbones, prompts=prompts, cache_dir=cache, progress=False)
    as_mapping = p.predict_embeddings(dict(emb.images), texts=emb.texts, text_source=emb.text_source, prompts=prompts)
    as_embedded = p.predict_embeddings(emb)
    _same(as_mapping["predicted_realism"], cli_scores["predicted_realism"])
    _same(as_embedded["predicted_realism"], cli_scores["predicted_realism"])


def test_meta_recipe_and_repr_come_from_the_artifact(p, trained):
    assert p.meta == json.loads((trained.predictor / "meta.json").read_text())
    assert p.recipe.to_dict() == trained.recipe.to_dict() and p.recipe.family == "ridge"
    assert p.question == "realism" and p.backbones == ["tiny"] and p.needs_prompts
    assert "ridge" in repr(p) and "realism" in repr(p)


def test_score_method_is_the_cli_score(p, cli_scores, userdata, folder, tmp_path):
    res = p.score([folder], prompts=userdata / "prompts.csv", out=tmp_path / "s", n_resamples=20)
    assert isinstance(res, jn.api.ScoreResult) and res.out == tmp_path / "s"
    written = pd.read_csv(tmp_path / "s" / "per_image.csv")
    assert list(written["image"]) == list(cli_scores["image"])
    _same(written["predicted_realism"], cli_scores["predicted_realism"])


def test_score_method_uses_the_loaded_predictor_without_loading_it_again(p, userdata, folder, tmp_path, monkeypatch):
    from judgenet.jobs import predictor as pred_mod

    loads = []
    real = pred_mod.Predictor.__init__
    monkeypatch.setattr(pred_mod.Predictor, "__init__", lambda self, *a, **k: loads.append(a) or real(self, *a, **k))
    p.score([folder], prompts=userdata / "prompts.csv", out=tmp_path / "a", n_resamples=5, device="cpu")
    assert loads == []
    p.score([folder], prompts=userdata / "prompts.csv", out=tmp_path / "b", n_resamples=5, backbones=["tiny"])
    assert len(loads) == 1  # a changed backbone option loads it again, with that option


def test_bad_inputs_are_one_line_errors(p, cli_scores, tmp_path):
    files = cli_scores["image"].tolist()[:2]
    with pytest.raises(ConfigError, match="give one prompt per image"):
        p.predict(files, prompts=["only one"])
    with pytest.raises(ConfigError, match="alignment features.*prompt"):
        p.predict(files)
    with pytest.raises(ConfigError, match="not an image file"):
        p.predict([tmp_path / "missing.png"], prompts=["x"])
    with pytest.raises(ConfigError, match="PIL images"):
        p.predict([3.5], prompts=["x"])


def test_unreadable_image_gives_an_empty_row_in_place(p, cli_scores, userdata, tmp_path):
    files = cli_scores["image"].tolist()[:2]
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    got = p.predict([files[0], bad, files[1]], prompts=_prompts(userdata, files[:1]) + ["x"] +
                    _prompts(userdata, files[1:2]))
    assert np.isnan(got["predicted_realism"].iloc[1]) and got["predicted_realism"].drop(index=1).notna().all()
    _same(got["predicted_realism"].iloc[[0, 2]].reset_index(drop=True),
          cli_scores["predicted_realism"].iloc[:2].reset_index(drop=True))


def test_select_in_python_equals_the_cli(trained, folder, userdata, cache, tmp_path):
    code = main(["select", "--predictor", str(trained.predictor), "--images", str(folder), "--budget", "3",
                 "--prompts", str(userdata / "prompts.csv"), "--out", str(tmp_path / "cli.csv"), "--cache",
                 str(cache), "--quiet"])
    assert code == 0
    res = jn.select(trained.predictor, [folder], 3, prompts=userdata / "prompts.csv", out=tmp_path / "py.csv",
                    cache_dir=cache)
    assert isinstance(res, jn.api.SelectResult) and res.to_json()["n_selected"] == 3
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "py.csv"), pd.read_csv(tmp_path / "cli.csv"))


def test_report_rebuild_keeps_the_title(trained):
    md = trained.predictor / "report" / "report.md"
    before = md.read_text().split("\n", 1)[0]
    assert before.startswith("# judgenet train — ")
    jn.report(trained.predictor)
    assert md.read_text().split("\n", 1)[0] == before


def test_benchmark_in_python_equals_the_cli(tmp_path, capsys):
    """jn.benchmark writes the same JSON as `judgenet benchmark` (pycocoevalcap needed for BLEU: judgenet[captions])."""
    pytest.importorskip("pycocoevalcap")
    fix = Path(__file__).parent / "fixtures" / "labels"
    code = main(["benchmark", "thumb", "--label-root", str(fix), "--text-backbone", "none", "--n-resamples", "20",
                 "--metric", "BLEU-1", "--out", str(tmp_path / "cli"), "--quiet"])
    assert code == 0
    res = jn.benchmark("thumb", label_root=fix, text_backbone=None, n_resamples=20, metrics=("BLEU-1",),
                       out=tmp_path / "py")
    cli = json.loads((tmp_path / "cli" / "benchmark-thumb.json").read_text())
    py = json.loads((tmp_path / "py" / "benchmark-thumb.json").read_text())
    assert py["rows"] == cli["rows"] and len(res.result.rows) == len(cli["rows"]) > 0
