"""Hostile inputs that ended in a traceback or in wrong numbers with exit 0 (issue 28): seeds and non-finite
options refused at parse time by every command, symlink loops and over-long names as one-line errors, reference
images without a prompt row or behind a dangling link skipped and listed (refused with --strict), duplicate prompt
rows refused, an --out inside an input folder refused, generator folders with no readable image kept in the output,
concurrent runs into one --out refused by a lock, and a full disk during ``train`` leaving no partial predictor."""
import argparse
import errno
import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from _cli_run import one_error_line, run
from judgenet import cli


@pytest.fixture(scope="module")
def env(userdata):
    gens = sorted(p for p in (userdata / "gen").iterdir() if p.is_dir())
    return {"user": userdata, "gens": gens, "real": userdata / "real"}


def _score(env, *extra, gen=None, out):
    return ["score", gen or env["gens"][0], "--reference", env["real"], "--out", out, "--backbone", "tiny",
            "--resamples", "10", *extra]


def _train(env, *extra, labels=None, images=None, reference=None, out):
    return ["train", "--labels", labels or env["user"] / "labels.csv", "--images", images or env["user"] / "gen",
            "--reference", reference or env["real"], "--question", "realism", "--model", "ridge", "--resamples", "10",
            "--backbone", "tiny", "--out", out, *extra]


# ------------------------------------------------------------------------------------------------
# parse-time refusals
# ------------------------------------------------------------------------------------------------
def _subparsers():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices


def test_every_seed_option_uses_the_one_seed_type():
    with_seed = {name: p for name, p in _subparsers().items()
                 if any("--seed" in a.option_strings for a in p._actions)}
    assert {"demo", "train", "evaluate", "score", "tune"} <= set(with_seed)
    for name, p in with_seed.items():
        action = next(a for a in p._actions if "--seed" in a.option_strings)
        assert action.type is cli.seed_int, name


@pytest.mark.parametrize("value", ["-1", str(2 ** 40), str(2 ** 32), "1.5", "nan"])
def test_out_of_range_seeds_are_refused_at_parse_time_by_every_command(capsys, value):
    with_seed = [n for n, p in _subparsers().items() if any("--seed" in a.option_strings for a in p._actions)]
    for command in with_seed:
        with pytest.raises(SystemExit) as exc:
            cli.main([command, "--seed", value])
        err = capsys.readouterr().err
        assert exc.value.code == 2 and "Traceback" not in err and "--seed" in err.splitlines()[-1], (command, err)
    assert cli.seed_int("0") == 0 and cli.seed_int(str(2 ** 32 - 1)) == 2 ** 32 - 1


@pytest.mark.parametrize("command", ["score", "train", "evaluate", "tune"])
@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "-1", "1e400"])
def test_non_finite_or_negative_mid_eps_is_refused_at_parse_time(capsys, command, value):
    with pytest.raises(SystemExit) as exc:
        cli.main([command, "--mid-eps", value])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "--mid-eps" in err.splitlines()[-1] and "Traceback" not in err


# ------------------------------------------------------------------------------------------------
# one-line errors instead of tracebacks
# ------------------------------------------------------------------------------------------------
def test_symlink_loop_named_in_a_label_file(env, capsys, tmp_path):
    gen = tmp_path / "gen"
    shutil.copytree(env["user"] / "gen", gen)
    labels = pd.read_csv(env["user"] / "labels.csv")
    os.symlink(gen / "loop-b.png", gen / "loop-a.png")
    os.symlink(gen / "loop-a.png", gen / "loop-b.png")
    first = labels["item_id"] == labels["item_id"].iloc[0]
    labels.loc[first, "image"] = "loop-a.png"
    labels.to_csv(tmp_path / "labels.csv", index=False)
    code, out, err = run(capsys, *_train(env, labels=tmp_path / "labels.csv", images=gen, out=tmp_path / "p"))
    line = one_error_line(err, "train")
    assert code == 2 and "loop-a.png" in line and str(labels["item_id"].iloc[0]) in line


LONG = "n" * 300


@pytest.mark.parametrize("where", ["generator folder", "label file", "--out", "prompts file"])
def test_a_name_over_255_bytes_is_a_one_line_error(env, capsys, tmp_path, where):
    long = tmp_path / LONG
    if where == "generator folder":
        code, out, err = run(capsys, *_score(env, gen=long, out=tmp_path / "s"))
        command = "score"
    elif where == "prompts file":
        code, out, err = run(capsys, *_score(env, "--prompts", long / "p.csv", out=tmp_path / "s"))
        command = "score"
    elif where == "--out":
        code, out, err = run(capsys, *_score(env, out=long / "s"))
        command = "score"
    else:
        code, out, err = run(capsys, *_train(env, labels=long / "labels.csv", out=tmp_path / "p"))
        command = "train"
    line = one_error_line(err, command)
    assert code == 2 and "255" in line and where in line, line


# ------------------------------------------------------------------------------------------------
# reference images: skipped and listed (refused with --strict)
# ------------------------------------------------------------------------------------------------
@pytest.fixture()
def real_copy(env, tmp_path):
    ref = tmp_path / "real"
    shutil.copytree(env["real"], ref)
    return ref


def _listed(folder: Path) -> dict:
    df = pd.read_csv(folder / "failures.csv")
    return {Path(p).name: r for p, r in zip(df["path"], df["reason"])}


def test_reference_image_without_a_prompt_row_is_skipped_and_listed(env, capsys, tmp_path, real_copy):
    prompts = pd.read_csv(real_copy / "prompts.csv")
    victim = prompts["image"].iloc[0]
    prompts.iloc[1:].to_csv(real_copy / "prompts.csv", index=False)
    gens = env["gens"][0]
    shutil.copy(env["user"] / "prompts.csv", tmp_path / "gp.csv")
    code, out, err = run(capsys, "score", gens, "--reference", real_copy, "--prompts", tmp_path / "gp.csv", "--out",
                         tmp_path / "s", "--backbone", "tiny", "--resamples", "10")
    assert code == 0 and victim in err
    assert "no prompt row" in _listed(tmp_path / "s")[victim]
    assert json.loads((tmp_path / "s" / "score.json").read_text())["n_skipped"] == 1
    code, out, err = run(capsys, *_train(env, reference=real_copy, out=tmp_path / "p"))
    assert code == 0 and "no prompt row" in _listed(tmp_path / "p")[victim]
    code, out, err = run(capsys, *_train(env, "--strict", reference=real_copy, out=tmp_path / "p2"))
    assert code == 2 and victim in one_error_line(err, "train")


def test_unreadable_reference_image_is_listed_and_counted(env, capsys, tmp_path, real_copy):
    (real_copy / "zz-broken.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    code, out, err = run(capsys, "score", env["gens"][0], "--reference", real_copy, "--out", tmp_path / "s",
                         "--backbone", "tiny", "--resamples", "10", "--quiet")
    assert code == 0 and "zz-broken.png" in _listed(tmp_path / "s")
    assert json.loads((tmp_path / "s" / "score.json").read_text())["n_skipped"] == 1


def test_dangling_reference_link_is_listed_and_strict_refuses_it(env, capsys, tmp_path, real_copy):
    os.symlink(tmp_path / "nowhere.png", real_copy / "dangling.png")
    code, out, err = run(capsys, "score", env["gens"][0], "--reference", real_copy, "--out", tmp_path / "s",
                         "--backbone", "tiny", "--resamples", "10")
    assert code == 0 and "dangling" in _listed(tmp_path / "s")["dangling.png"]
    code, out, err = run(capsys, "score", env["gens"][0], "--reference", real_copy, "--out", tmp_path / "s2",
                         "--backbone", "tiny", "--resamples", "10", "--strict")
    assert code == 2 and "dangling.png" in one_error_line(err, "score")
    assert not (tmp_path / "s2").exists()


def test_extract_json_lists_links_it_skips(env, capsys, tmp_path):
    d = tmp_path / "g"
    shutil.copytree(env["gens"][0], d)
    os.symlink(tmp_path / "nowhere.png", d / "dangling.png")
    code, out, err = run(capsys, "extract", d, "--json", "--quiet", "--backbone", "tiny")
    assert code == 0
    failures = json.loads(out)["backbones"]["tiny"]["failures"]
    assert [Path(f["path"]).name for f in failures] == ["dangling.png"] and "dangling" in failures[0]["reason"]


# ------------------------------------------------------------------------------------------------
# wrong numbers with exit 0
# ------------------------------------------------------------------------------------------------
def test_two_prompt_rows_for_one_image_are_refused(env, capsys, tmp_path):
    df = pd.read_csv(env["user"] / "prompts.csv")
    dup = pd.concat([df, df.iloc[[3]].assign(prompt="something else")], ignore_index=True)
    dup.to_csv(tmp_path / "p.csv", index=False)
    code, out, err = run(capsys, *_score(env, "--prompts", tmp_path / "p.csv", out=tmp_path / "s"))
    line = one_error_line(err, "score")
    assert code == 2 and "p.csv" in line and f"rows 5, {len(dup) + 1}" in line and df["image"].iloc[3] in line


@pytest.mark.parametrize("inside", ["reference", "generator", "images"])
def test_out_inside_an_input_folder_is_refused(env, capsys, tmp_path, inside):
    gen = tmp_path / "gen"
    shutil.copytree(env["user"] / "gen", gen)
    real = tmp_path / "real"
    shutil.copytree(env["real"], real)
    if inside == "images":
        code, out, err = run(capsys, *_train(env, images=gen, reference=real, out=gen / "runs" / "p"))
        command = "train"
    else:
        out_dir = (real if inside == "reference" else gen / env["gens"][0].name) / "scores"
        code, out, err = run(capsys, "score", gen / env["gens"][0].name, "--reference", real, "--out", out_dir,
                             "--backbone", "tiny")
        command = "score"
    assert code == 2 and "inside the" in one_error_line(err, command)
    assert not (gen / "runs").exists() and not (real / "scores").exists()


def test_generator_folder_with_no_readable_image_keeps_a_row_and_a_note(env, capsys, tmp_path):
    bad = tmp_path / "broken"
    bad.mkdir()
    for i in range(3):
        (bad / f"{i}.png").write_bytes(b"")
    code, out, err = run(capsys, "score", env["gens"][0], bad, "--reference", env["real"], "--out", tmp_path / "s",
                         "--backbone", "tiny", "--resamples", "10")
    assert code == 0 and "no readable image in generator folder(s) broken" in err
    per_gen = pd.read_csv(tmp_path / "s" / "per_generator.csv")
    assert per_gen.set_index("generator").loc["broken", "n_images"] == 0
    meta = json.loads((tmp_path / "s" / "score.json").read_text())
    assert meta["unreadable_generators"] == ["broken"] and any("broken" in n for n in meta["notes"])
    assert meta["n_skipped"] == 3


def test_a_second_run_into_a_locked_out_is_refused(env, capsys, tmp_path):
    from filelock import FileLock

    from judgenet.jobs.inputs import LOCK

    out = tmp_path / "s"
    out.mkdir()
    with FileLock(str(out / LOCK)):  # a run in progress (flock is per open file, so this process conflicts too)
        code, _, err = run(capsys, *_score(env, out=out))
        assert code == 2 and "another judgenet run is writing into" in one_error_line(err, "score")
    assert not [p for p in out.iterdir() if p.name != LOCK]
    code, _, err = run(capsys, *_score(env, "--quiet", out=out))
    assert code == 0 and (out / "per_generator.csv").is_file() and not (out / LOCK).exists()


def test_disk_full_during_train_leaves_no_partial_predictor(env, capsys, tmp_path, monkeypatch):
    import judgenet.io as jio

    real_replace = os.replace
    written = []

    def full(src, dst):
        if str(dst).endswith("model.joblib"):  # after reference/*.npz were written
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append(str(dst))
        return real_replace(src, dst)

    monkeypatch.setattr(jio.os, "replace", full)
    code, out, err = run(capsys, *_train(env, out=tmp_path / "p"))
    assert code == 2 and "No space left on device" in one_error_line(err, "train")
    assert any(w.endswith(".npz") for w in written)  # the partial files existed ...
    assert not (tmp_path / "p").exists()  # ... and are gone with the folder the run made
    (tmp_path / "q").mkdir()  # into an existing empty folder: emptied again, left in place
    code, out, err = run(capsys, *_train(env, out=tmp_path / "q"))
    assert code == 2 and list((tmp_path / "q").rglob("*")) == []
