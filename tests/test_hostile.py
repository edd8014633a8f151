"""Hostile input, swept by class (issue 17): image faults x every command, label faults x train/evaluate/tune,
argument faults x every command. The contract (README "Errors"): an unreadable image is skipped and listed (exit 0,
failures.csv) or, with --strict, a one-line error naming it (exit 2); a bad label file or argument is a one-line
error naming the file/row/option and the fix (exit 2); never a traceback, never a wrong number with exit 0.

Everything runs in-process through ``judgenet.cli.main`` on the small user-style world of ``conftest.userdata``.
"""
import os
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from _cli_run import one_error_line, run


def _bomb_png(path: Path) -> None:
    """A PNG whose header claims 100,000 x 100,000 pixels (a decompression bomb)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))


UNREADABLE = {
    "zero-byte": lambda p: p.write_bytes(b""),
    "truncated": lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00"),
    "not-an-image": lambda p: p.write_text("hello"),
    "bomb": _bomb_png,
}
DECODABLE = {  # odd but valid images: decoded to RGB, never listed as failures
    "cmyk": lambda p: Image.new("CMYK", (40, 30), (10, 200, 30, 5)).save(p.with_suffix(".jpg")),
    "16-bit": lambda p: Image.fromarray(np.full((30, 40), 40000, dtype=np.uint16)).save(p),
    "palette": lambda p: Image.new("RGB", (40, 30), (200, 10, 10)).convert("P").save(p),
}


@pytest.fixture(scope="module")
def env(userdata, tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")  # (each test gets its own cache: conftest's _isolated_cache)
    gens = sorted(p for p in (userdata / "gen").iterdir() if p.is_dir())
    return {"root": root, "user": userdata, "gens": gens}


def _gen_with(env, fault: str, make) -> Path:
    d = env["root"] / f"gen-{fault}" / "g"
    if not d.exists():
        shutil.copytree(env["gens"][0], d)
        make(d / f"zz-{fault}.png")
    return d


# ------------------------------------------------------------------------------------------------
# image faults x commands
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fault", sorted(UNREADABLE))
def test_extract_and_score_skip_and_list_unreadable_images(env, capsys, tmp_path, fault):
    d = _gen_with(env, fault, UNREADABLE[fault])
    code, out, err = run(capsys, "extract", d, "--quiet", "--backbone", "tiny")
    assert code == 0 and f"zz-{fault}" in err
    code, out, err = run(capsys, "score", d, "--reference", env["user"] / "real", "--out", tmp_path / "s", "--quiet",
                         "--backbone", "tiny", "--resamples", "20")
    assert code == 0
    fails = pd.read_csv(tmp_path / "s" / "failures.csv")
    assert [Path(p).name for p in fails["path"]] == [f"zz-{fault}.png"]
    per_gen = pd.read_csv(tmp_path / "s" / "per_generator.csv")
    assert per_gen["n_images"].iloc[0] == len(list(env["gens"][0].glob("*.png")))
    code, out, err = run(capsys, "score", d, "--reference", env["user"] / "real", "--out", tmp_path / "s2", "--strict",
                         "--backbone", "tiny")
    assert code == 2 and f"zz-{fault}" in one_error_line(err, "score")


@pytest.mark.parametrize("fault", sorted(DECODABLE))
def test_odd_but_valid_images_are_decoded(env, capsys, tmp_path, fault):
    d = _gen_with(env, fault, DECODABLE[fault])
    code, out, err = run(capsys, "score", d, "--reference", env["user"] / "real", "--out", tmp_path / "s", "--quiet",
                         "--backbone", "tiny", "--resamples", "20")
    assert code == 0 and not (tmp_path / "s" / "failures.csv").exists()
    assert pd.read_csv(tmp_path / "s" / "per_generator.csv")["n_images"].iloc[0] == \
        len(list(env["gens"][0].glob("*.png"))) + 1


def test_unreadable_reference_image_is_skipped(env, capsys, tmp_path):
    ref = tmp_path / "real"
    shutil.copytree(env["user"] / "real", ref)
    (ref / "zz-broken.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    code, out, err = run(capsys, "score", env["gens"][0], "--reference", ref, "--out", tmp_path / "s", "--quiet",
                         "--backbone", "tiny", "--resamples", "20")
    assert code == 0 and "zz-broken.png" in err


def test_links_that_cannot_be_followed_are_listed(env, capsys, tmp_path):
    d = tmp_path / "g"
    shutil.copytree(env["gens"][0], d)
    os.symlink(tmp_path / "nowhere.png", d / "dangling.png")
    os.symlink(d / "loop-b.png", d / "loop-a.png")
    os.symlink(d / "loop-a.png", d / "loop-b.png")
    code, out, err = run(capsys, "score", d, "--reference", env["user"] / "real", "--out", tmp_path / "s",
                         "--backbone", "tiny", "--resamples", "20")
    assert code == 0 and "dangling.png" in err and "loop-a.png" in err
    listed = pd.read_csv(tmp_path / "s" / "failures.csv")["path"].map(lambda p: Path(p).name).tolist()
    assert {"dangling.png", "loop-a.png", "loop-b.png"} <= set(listed)


def test_a_label_row_with_an_unreadable_image_is_skipped_in_train(env, capsys, tmp_path):
    user = env["user"]
    gen = tmp_path / "gen"
    shutil.copytree(user / "gen", gen)
    labels = pd.read_csv(user / "labels.csv")
    victim = labels["image"].iloc[0]
    (gen / victim).write_bytes(b"")
    code, out, err = run(capsys, "train", "--labels", user / "labels.csv", "--images", gen, "--reference",
                         user / "real", "--question", "realism", "--model", "ridge", "--resamples", "20", "--out",
                         tmp_path / "p", "--backbone", "tiny")
    assert code == 0 and Path(victim).name in err
    assert Path(victim).name in (tmp_path / "p" / "failures.csv").read_text()
    code, out, err = run(capsys, "train", "--labels", user / "labels.csv", "--images", gen, "--reference",
                         user / "real", "--question", "realism", "--model", "ridge", "--out", tmp_path / "p2",
                         "--backbone", "tiny", "--strict")
    assert code == 2 and Path(victim).name in one_error_line(err, "train")


# ------------------------------------------------------------------------------------------------
# label faults x train / evaluate / tune
# ------------------------------------------------------------------------------------------------
def _labels(env) -> pd.DataFrame:
    return pd.read_csv(env["user"] / "labels.csv")


def _first_item(df: pd.DataFrame, **values) -> pd.DataFrame:
    """Every row (rater) of the first item gets ``values``."""
    df = df.copy()
    rows = df["item_id"] == df["item_id"].iloc[0]
    for k, v in values.items():
        df.loc[rows, k] = v
    return df


LABEL_FAULTS = {
    "missing score column": (lambda df, p: df.drop(columns="score").to_csv(p, index=False), "score"),
    "non-numeric score": (lambda df, p: df.assign(score=df["score"].astype(str).where(df.index > 0, "great"))
                          .to_csv(p, index=False), "row 2"),
    "blank item id": (lambda df, p: df.assign(item_id=df["item_id"].where(df.index > 0, "")).to_csv(p, index=False),
                      "empty value"),
    "image outside --images": (lambda df, p: _first_item(df, image="../../etc/passwd").to_csv(p, index=False),
                               "outside"),
    "missing image file": (lambda df, p: _first_item(df, image="nope/missing.png").to_csv(p, index=False),
                           "not found"),
    "constant scores": (lambda df, p: df.assign(score=3).to_csv(p, index=False), "same"),
    "unknown question": (None, "question"),
    "empty file": (lambda df, p: p.write_text(""), "labels.csv"),
}


@pytest.mark.parametrize("command", ["train", "evaluate", "tune"])
@pytest.mark.parametrize("fault", sorted(LABEL_FAULTS))
def test_label_faults_are_one_line_errors(env, capsys, tmp_path, command, fault):
    make, fragment = LABEL_FAULTS[fault]
    path = tmp_path / "labels.csv"
    question = "realism"
    if make is None:
        _labels(env).to_csv(path, index=False)
        question = "beauty"
    else:
        make(_labels(env), path)
    extra = {"train": ["--model", "ridge"], "evaluate": ["--model", "ridge"], "tune": ["--trials", "1"]}[command]
    code, out, err = run(capsys, command, "--labels", path, "--images", env["user"] / "gen", "--reference",
                         env["user"] / "real", "--question", question, "--out", tmp_path / "o", "--backbone", "tiny",
                         "--resamples", "10", *extra) if command != "tune" else \
        run(capsys, command, "--labels", path, "--images", env["user"] / "gen", "--reference", env["user"] / "real",
            "--question", question, "--out", tmp_path / "o", "--backbone", "tiny", *extra)
    assert code == 2, (fault, err)
    assert fragment.lower() in one_error_line(err, command).lower(), err
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_duplicate_rows_without_rater_are_refused(env, capsys, tmp_path):
    df = _labels(env).drop(columns="rater_id")
    pd.concat([df, df.iloc[:1]]).to_csv(tmp_path / "l.csv", index=False)
    code, out, err = run(capsys, "train", "--labels", tmp_path / "l.csv", "--images", env["user"] / "gen",
                         "--reference", env["user"] / "real", "--question", "realism", "--out", tmp_path / "o",
                         "--backbone", "tiny")
    assert code == 2 and "duplicate" in one_error_line(err, "train").lower()


# ------------------------------------------------------------------------------------------------
# argument faults x commands
# ------------------------------------------------------------------------------------------------
def _label_args(env):
    return ["--labels", env["user"] / "labels.csv", "--images", env["user"] / "gen", "--reference",
            env["user"] / "real", "--backbone", "tiny"]


@pytest.mark.parametrize("command", ["demo", "train", "evaluate", "score", "tune"])
def test_out_pointing_at_a_file(env, capsys, tmp_path, command):
    f = tmp_path / "a-file"
    f.write_text("x")
    args = {"demo": ["--fast"], "score": [env["gens"][0], "--reference", env["user"] / "real", "--backbone", "tiny"]}
    code, out, err = run(capsys, command, *args.get(command, _label_args(env)), "--out", f)
    assert code == 2 and "existing file" in one_error_line(err, command)


@pytest.mark.parametrize("argv,fragment", [
    (["score", "{gen}", "--reference", "{missing}"], "does not exist"),
    (["score", "{gen}", "--predictor", "{missing}"], "not a judgenet predictor"),
    (["score", "{missing}", "--reference", "{real}"], "does not exist"),
    (["train", "--labels", "{missing}/l.csv", "--reference", "{real}"], "l.csv"),
    (["evaluate", "--labels", "{labels}", "--images", "{gens}", "--reference", "{real}", "--predictor", "{missing}"],
     "not a judgenet predictor"),
    (["extract", "{gen}", "--backbone", "nonsense:x"], "unknown backbone"),
    (["extract", "{gen}", "--backbone", "inception:fid", "--inception-weights", "{textfile}"], "not a"),
    (["report", "{missing}"], "results.json"),
])
def test_bad_paths_and_names_are_one_line_errors(env, capsys, tmp_path, argv, fragment):
    textfile = tmp_path / "w.pth"
    textfile.write_text("not a checkpoint")
    subs = {"gen": env["gens"][0], "gens": env["user"] / "gen", "real": env["user"] / "real",
            "missing": tmp_path / "missing", "labels": env["user"] / "labels.csv", "textfile": textfile}
    code, out, err = run(capsys, *[a.format(**{k: str(v) for k, v in subs.items()}) for a in argv])
    assert code == 2 and fragment in one_error_line(err, argv[0]), err


# ------------------------------------------------------------------------------------------------
# faults while writing, interruptions, mismatched artifacts
# ------------------------------------------------------------------------------------------------
def test_disk_full_while_writing_outputs_is_one_line(env, capsys, tmp_path, monkeypatch):
    import errno

    import judgenet.io as jio

    real_replace = os.replace

    def full(src, dst):
        if str(dst).endswith("per_generator.csv"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(jio.os, "replace", full)
    code, out, err = run(capsys, "score", env["gens"][0], "--reference", env["user"] / "real", "--out", tmp_path / "s",
                         "--backbone", "tiny", "--resamples", "10")
    line = one_error_line(err, "score")
    assert code == 2 and "No space left on device" in line and "per_generator.csv" in line
    assert not list((tmp_path / "s").glob(".*tmp*"))  # no temporary file left behind


def test_ctrl_c_before_any_output_leaves_no_empty_folder(env, capsys, tmp_path, monkeypatch):
    import judgenet.jobs.prepare

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(judgenet.jobs.prepare, "prepare", interrupted)
    code, out, err = run(capsys, "train", *_label_args(env), "--out", tmp_path / "p")
    assert code == 130 and not (tmp_path / "p").exists()


def test_predictor_with_another_backbone_says_which_side_differs(env, capsys, tmp_path):
    code, out, err = run(capsys, "train", *_label_args(env), "--question", "realism", "--model", "ridge",
                         "--resamples", "10", "--out", tmp_path / "p", "--quiet")
    assert code == 0
    code, out, err = run(capsys, "score", env["gens"][0], "--predictor", tmp_path / "p", "--backbone", "tiny-random",
                         "--out", tmp_path / "s")
    line = one_error_line(err, "score")
    assert code == 2 and "prompt" not in line.lower() and "backbone" in line.lower(), line


def test_too_few_generators_message_has_no_numpy_reprs(env, capsys, tmp_path):
    df = _labels(env)
    keep = sorted(df["generator"].unique())[:2]
    df[df["generator"].isin(keep)].to_csv(tmp_path / "l.csv", index=False)
    code, out, err = run(capsys, "evaluate", "--labels", tmp_path / "l.csv", "--images", env["user"] / "gen",
                         "--reference", env["user"] / "real", "--question", "realism", "--model", "ridge", "--out",
                         tmp_path / "o", "--backbone", "tiny")
    line = one_error_line(err, "evaluate")
    assert code == 2 and "np.str_" not in line and "--split prompt" in line and keep[0] in line
