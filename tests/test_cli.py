"""End-to-end CLI tests through subprocess on the built-in (simulated) world."""
import json
import os
import subprocess
import sys

import pandas as pd
import pytest


def jn(*args, cwd=None, env=None, check=True):
    e = {**os.environ, **(env or {})}
    p = subprocess.run([sys.executable, "-m", "judgenet.cli", *map(str, args)], capture_output=True, text=True,
                       cwd=cwd, env=e, timeout=600)
    if check and p.returncode != 0:
        raise AssertionError(f"judgenet {args} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


def test_help_reads_like_the_readme():
    out = jn("--help").stdout
    for cmd in ("demo", "extract", "train", "evaluate", "score", "tune", "report", "benchmark", "select"):
        assert f"\n    {cmd} " in out or f"\n    {cmd}\n" in out, cmd  # argparse's list of commands with their help
    assert "--labels" in jn("train", "--help").stdout


def test_demo_fast_end_to_end_and_report_rebuild(tmp_path):
    out = tmp_path / "demo"
    p = jn("demo", "--fast", "--out", out, "--json", env={"JUDGENET_CACHE_DIR": str(tmp_path / "cache")})
    summary = json.loads(p.stdout)
    assert {r["question"] for r in summary["summary"]} == {"realism", "alignment", "overall"}
    assert len(summary["summary"]) == 6  # both splits
    for q in ("realism", "alignment", "overall"):
        for split in ("generator", "crossed"):
            assert (out / split / q / "report.html").is_file() and (out / split / q / "results.json").is_file()
        assert (out / f"predictor-{q}" / "meta.json").is_file() and (out / f"predictor-{q}" / "reference").is_dir()
    # a warm run (same cache) reads every step from the cache: no new evaluation-cache entries (the six
    # evaluations, the label-efficiency curve, the side-by-side section) and the same reports
    entries = sorted((tmp_path / "cache" / "evaluations").iterdir())
    assert len(entries) == 11  # 6 evaluations, the efficiency curve, side by side, 3 rater-ceiling bootstraps
    warm = subprocess.run([sys.executable, "-X", "importtime", "-m", "judgenet.cli", "demo", "--fast", "--out",
                           str(tmp_path / "warm"), "--json"], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "JUDGENET_CACHE_DIR": str(tmp_path / "cache")})
    assert warm.returncode == 0, warm.stderr[-2000:]
    assert sorted((tmp_path / "cache" / "evaluations").iterdir()) == entries
    # nothing needs torch when everything is cached (the reference and the features come from the folder cache)
    imported = [ln.rsplit("|", 1)[-1].strip() for ln in warm.stderr.splitlines() if ln.startswith("import time:")]
    assert "numpy" in imported and "torch" not in imported
    for f in ("efficiency/efficiency.json", "efficiency/efficiency.md", "side-by-side/report.md",
              "intervals/coverage.json", "crossed/realism/results.json", "predictor-realism/meta.json",
              "predictor-overall/model.joblib"):
        assert (tmp_path / "warm" / f).read_bytes() == (out / f).read_bytes(), f
    drop = lambda t: [ln for ln in t.splitlines() if not ln.startswith("Timings (s):")]  # noqa: E731
    assert drop((tmp_path / "warm" / "report.md").read_text()) == drop((out / "report.md").read_text())
    # refuses to overwrite silently
    p = jn("demo", "--fast", "--out", out, check=False)
    assert p.returncode == 2 and "--overwrite" in p.stderr
    (out / "crossed" / "realism" / "report.md").unlink()
    jn("report", out, "--quiet")
    assert (out / "crossed" / "realism" / "report.md").is_file()


def test_train_score_tune_on_user_files(userdata, tmp_path):
    env = {"JUDGENET_CACHE_DIR": str(tmp_path / "cache")}
    art = tmp_path / "pred"
    jn("train", "--labels", userdata / "labels.csv", "--images", userdata / "gen", "--reference", userdata / "real",
       "--question", "realism", "--model", "ridge", "--resamples", "50", "--out", art, "--quiet", "--backbone", "tiny",
       env=env)
    meta = json.loads((art / "meta.json").read_text())
    assert meta["question"] == "realism" and meta["recipe"]["family"] == "ridge"
    gens = sorted((userdata / "gen").iterdir())
    p = jn("score", *gens, "--reference", userdata / "real", "--prompts", userdata / "prompts.csv",
           "--predictor", art, "--out", tmp_path / "score", "--json", "--resamples", "50", env=env)
    res = json.loads(p.stdout)
    assert len(res["per_generator"]) == len(gens) and "predicted_realism" in res["per_generator"][0]
    per_image = pd.read_csv(tmp_path / "score" / "per_image.csv")
    assert {"mid_pmi", "clip_score", "predicted_realism"} <= set(per_image.columns)
    # no prompts and no predictor: realism-only raw metrics
    p = jn("score", *gens[:2], "--reference", userdata / "real", "--out", tmp_path / "score2", "--json",
           "--backbone", "tiny", env=env)
    row = json.loads(p.stdout)["per_generator"][0]
    assert "fd.tiny" in row and "mid" not in row
    # tune: 3 trials in a SQLite study, then continue to 4
    url = f"sqlite:///{tmp_path / 'study.db'}"
    args = ["tune", "--labels", userdata / "labels.csv", "--images", userdata / "gen", "--reference",
            userdata / "real", "--question", "realism", "--study-name", "t", "--storage", url, "--out",
            tmp_path / "tune", "--json", "--quiet", "--backbone", "tiny"]
    r1 = json.loads(jn(*args, "--trials", "3", env=env).stdout)
    r2 = json.loads(jn(*args, "--trials", "4", env=env).stdout)  # the same study's folder: continues
    assert r1["n_trials"] == 3 and r2["n_trials"] == 4
    meta = json.loads((tmp_path / "tune" / "predictor" / "meta.json").read_text())
    assert meta["extra"]["study_name"] == "t" and isinstance(meta["extra"]["trial"], int)
    assert (tmp_path / "tune" / "optimization_history.png").is_file()


def test_clear_errors_exit_2(tmp_path):
    p = jn("score", tmp_path / "missing", "--reference", tmp_path, check=False)
    assert p.returncode == 2 and "does not exist" in p.stderr and "Traceback" not in p.stderr
    from PIL import Image

    (tmp_path / "imgs").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "imgs" / "a.png")
    p = jn("extract", tmp_path / "imgs", "--backbone", "inception:fid", "--inception-weights",
           tmp_path / "pt_inception-2015-12-05-6726825d.pth", check=False)
    assert p.returncode == 2 and "pt_inception-2015-12-05-6726825d.pth" in p.stderr and "Traceback" not in p.stderr


@pytest.mark.slow
def test_full_demo_predictor_beats_raw_mid_on_realism(tmp_path):
    """The README's claim, on the built-in SIMULATED world (about 5 minutes on 2 idle cores)."""
    p = jn("demo", "--out", tmp_path / "demo", "--json", env={"JUDGENET_CACHE_DIR": str(tmp_path / "cache")})
    rows = {r["question"]: r for r in json.loads(p.stdout)["summary"] if r["split"].startswith("new generator, prompts")}
    low = float(rows["realism"]["tau-b diff vs MID"].split("[")[1].split(",")[0])
    assert low > 0, rows["realism"]
