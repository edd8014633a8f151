"""Ctrl-C (SIGINT sent from outside) during `judgenet extract` and `judgenet tune`: exit code 130,
a one-line message, and the rerun resumes — finished features are reused, the study reaches its
total with every trial recorded once."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
from PIL import Image

# Runs the real CLI with every forward pass (extract) or every trial (tune) slowed down, so the
# test can interrupt it mid-run at a known point without depending on machine speed.
DRIVER = textwrap.dedent('''
    import signal, sys, time
    # a shell that starts jobs in the background passes SIGINT on as ignored; Ctrl-C is what is tested here
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from judgenet import backbones, tuning
    slow_forward, slow_trial = float(sys.argv[1]), float(sys.argv[2])
    forward = backbones.Backbone.forward_images
    def forward_slowly(self, xs):
        time.sleep(slow_forward)
        return forward(self, xs)
    backbones.Backbone.forward_images = forward_slowly
    call = tuning.Objective.__call__
    def trial_slowly(self, trial):
        time.sleep(slow_trial)
        return call(self, trial)
    tuning.Objective.__call__ = trial_slowly
    from judgenet.cli import main
    sys.exit(main(sys.argv[3:]))
''')


def _start(tmp_path, slow_forward, slow_trial, *argv, env=None):
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    return subprocess.Popen([sys.executable, str(driver), str(slow_forward), str(slow_trial), *map(str, argv)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})


def _wait_for(cond, proc, timeout=120.0):
    t0 = time.monotonic()
    while not cond():
        if proc.poll() is not None:
            raise AssertionError(f"finished (rc {proc.returncode}) before it could be interrupted:\n"
                                 f"{proc.communicate()[1]}")
        if time.monotonic() - t0 > timeout:
            proc.kill()
            raise AssertionError("timed out waiting for the run to make progress")
        time.sleep(0.05)


def _interrupt(proc):
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "rerun the same command to resume" in err and "Traceback" not in err
    return out, err


def test_ctrl_c_during_extract_keeps_finished_features(tmp_path):
    rng = np.random.default_rng(0)
    img = tmp_path / "img"
    img.mkdir()
    for i in range(48):
        Image.fromarray(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8), "RGB").save(img / f"{i:02d}.png")
    cache = tmp_path / "cache"
    shards = lambda: list((cache / "features").glob("*/images/shard-*"))  # noqa: E731
    p = _start(tmp_path, 1.0, 0, "extract", img, "--backbone", "tiny", "--cache", cache, "--batch-size", "4",
               "--quiet")
    _wait_for(lambda: len(shards()) >= 2, p)  # 12 forwards of 1 s: interrupted around the 3rd (slack for a busy CI)
    _interrupt(p)
    kept = len(shards())
    assert 2 <= kept < 12 and not list((cache / "features").glob("*/images/.tmp-*"))
    rerun = subprocess.run([sys.executable, "-m", "judgenet.cli", "extract", str(img), "--backbone", "tiny", "--cache",
                            str(cache),
                            "--json", "--quiet"], capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    counts = json.loads(rerun.stdout)["backbones"]["tiny"]
    assert counts["cached"] == 4 * kept and counts["computed"] == 48 - 4 * kept


def test_ctrl_c_during_tune_then_resume_reaches_the_total(userdata, tmp_path):
    import optuna

    db = tmp_path / "study.db"
    url = f"sqlite:///{db}"
    args = ["tune", "--labels", userdata / "labels.csv", "--images", userdata / "gen", "--reference",
            userdata / "real", "--question", "realism", "--study-name", "s", "--storage", url, "--trials", "3",
            "--out", tmp_path / "tune", "--quiet"]
    env = {"JUDGENET_CACHE_DIR": str(tmp_path / "cache")}

    def trials():
        if not db.exists():
            return []
        try:
            return optuna.load_study(study_name="s", storage=url).get_trials(deepcopy=False)
        except Exception:  # study not created yet / database busy
            return []

    p = _start(tmp_path, 0, 1.5, *args, env=env)
    # interrupt once the first trial is finished and the second is running (it sleeps 1.5 s first)
    _wait_for(lambda: any(t.state.name == "COMPLETE" for t in trials()) and
              any(t.state.name == "RUNNING" for t in trials()), p, timeout=300)
    _interrupt(p)
    states = [t.state.name for t in trials()]
    assert states.count("COMPLETE") == 1 and "RUNNING" not in states, states  # the interrupted trial: FAIL
    rerun = subprocess.run([sys.executable, "-m", "judgenet.cli", *map(str, args), "--json"], capture_output=True,
                           text=True, timeout=600, env={**os.environ, **env})
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert summary["n_trials"] == 3 and summary["n_failed"] == 1
    done = [t for t in trials() if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(done) == 3 and len({t.number for t in done}) == 3
    assert (tmp_path / "tune" / "predictor" / "meta.json").is_file()
