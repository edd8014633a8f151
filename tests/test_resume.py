""""interrupted — finished work is cached; rerun the same command to resume" holds (issue 28): a run marks its --out
unfinished (which command, which options) while it writes; after Ctrl-C or kill -9 the identical command runs again
into the same folder and reuses the cached features, while another command into that unfinished folder, or any
command into a finished one, is refused without --overwrite."""
import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from judgenet import cli
from judgenet.jobs.inputs import LOCK, UNFINISHED


@pytest.fixture(scope="module")
def small(userdata, tmp_path_factory):
    """The user-style data with a 40-image reference (the subprocess tests stay short)."""
    import shutil

    import pandas as pd

    root = tmp_path_factory.mktemp("small")
    (root / "real").mkdir()
    prompts = pd.read_csv(userdata / "real" / "prompts.csv").iloc[:40]
    for name in prompts["image"]:
        shutil.copy(userdata / "real" / name, root / "real" / name)
    prompts.to_csv(root / "real" / "prompts.csv", index=False)
    for name in ("gen", "labels.csv"):
        os.symlink(userdata / name, root / name)
    return root


def _score_args(userdata, out, *extra):
    gen = sorted(p for p in (userdata / "gen").iterdir() if p.is_dir())[0]
    return ["score", str(gen), "--reference", str(userdata / "real"), "--out", str(out), "--backbone", "tiny",
            "--resamples", "10", "--quiet", *extra]


def _train_args(userdata, out, *extra):
    return ["train", "--labels", str(userdata / "labels.csv"), "--images", str(userdata / "gen"), "--reference",
            str(userdata / "real"), "--question", "realism", "--model", "ridge", "--resamples", "10", "--backbone",
            "tiny", "--mid-eps", "5e-4", "--out", str(out), "--quiet", *extra]


def _shards(cache):
    return sorted(p.name for p in cache.glob("features/*/*/shard-*"))


def _finished(out):
    return not (out / UNFINISHED).exists() and not (out / LOCK).exists()


@pytest.mark.parametrize("command", ["score", "train"])
def test_ctrl_c_mid_run_then_the_identical_command_finishes(small, tmp_path, monkeypatch, capsys, command):
    """KeyboardInterrupt while the last result file is written: exit 130 with the promise; the identical command
    then succeeds and computes no feature again."""
    import judgenet.io
    import judgenet.predictors.artifact as artifact

    cache = tmp_path / "cache"
    monkeypatch.setenv("JUDGENET_CACHE_DIR", str(cache))
    out = tmp_path / "o"
    args = (_score_args if command == "score" else _train_args)(small, out)
    last = "score.json" if command == "score" else "meta.json"
    write = judgenet.io.atomic_write_json

    def interrupted(path, *a, **k):
        if os.path.basename(str(path)) == last:
            raise KeyboardInterrupt
        return write(path, *a, **k)

    monkeypatch.setattr(judgenet.io, "atomic_write_json", interrupted)
    monkeypatch.setattr(artifact, "atomic_write_json", interrupted)
    assert cli.main(args) == 130
    assert "rerun the same command to resume" in capsys.readouterr().err
    shards = _shards(cache)
    assert shards  # the features of the interrupted run are cached
    monkeypatch.undo()
    monkeypatch.setenv("JUDGENET_CACHE_DIR", str(cache))
    assert cli.main(args) == 0, capsys.readouterr().err
    assert _shards(cache) == shards  # nothing embedded again: the finished work was reused
    assert (out / last).is_file() and _finished(out)


# kill -9 from inside, at a known point: when the run's last result file is about to be written
KILLER = textwrap.dedent('''
    import os, signal, sys
    import judgenet.io, judgenet.predictors.artifact as artifact
    last = sys.argv[1]
    write = judgenet.io.atomic_write_json
    def killed(path, *a, **k):
        if os.path.basename(str(path)) == last:
            os.kill(os.getpid(), signal.SIGKILL)
        return write(path, *a, **k)
    judgenet.io.atomic_write_json = killed
    artifact.atomic_write_json = killed
    from judgenet.cli import main
    sys.exit(main(sys.argv[2:]))
''')


def _killed_run(tmp_path, last, args):
    driver = tmp_path / "killer.py"
    driver.write_text(KILLER)
    p = subprocess.run([sys.executable, str(driver), last, *args], capture_output=True, text=True, timeout=300)
    assert p.returncode == -signal.SIGKILL, p.stderr


def _cli(capsys, args):
    """The command in this process (only the killed run needs its own): (exit code, last stderr line)."""
    code = cli.main(args)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, (err.strip().splitlines() or [""])[-1]


def test_kill_9_during_score_then_the_identical_command_finishes(small, tmp_path, capsys):
    out = tmp_path / "o"
    args = _score_args(small, out)
    _killed_run(tmp_path, "score.json", args)
    marker = json.loads((out / UNFINISHED).read_text())
    assert marker["command"] == "score" and marker["options"]["n_resamples"] == 10
    assert (out / "per_image.csv").is_file()  # a partial folder, marked unfinished
    code, line = _cli(capsys, _score_args(small, out, "--seed", "1"))  # another command into it
    assert code == 2 and "unfinished `judgenet score` run" in line
    assert _cli(capsys, args)[0] == 0  # the identical command resumes into it
    assert (out / "score.json").is_file() and _finished(out)
    code, line = _cli(capsys, args)  # a finished folder is refused as before
    assert code == 2 and "exists and is not empty" in line


def test_kill_9_during_train_then_the_identical_command_finishes(small, tmp_path, capsys):
    out = tmp_path / "p"
    args = _train_args(small, out)
    _killed_run(tmp_path, "meta.json", args)
    assert list((out / "reference").glob("*.npz")) and (out / UNFINISHED).is_file()
    assert _cli(capsys, args)[0] == 0
    assert (out / "meta.json").is_file() and _finished(out)
