"""Every value the command line offers is one that runs: each option with ``choices=`` is found in the parser (so a
new one is walked too — or fails here until it has a runner) and each of its values is run once, end to end, on
small inputs (exit 0). ``--mid-shrinkage oas`` was offered for sessions while the code accepted only ledoit_wolf."""
import argparse
import importlib.util
import shutil
from pathlib import Path

import pytest

from judgenet import cli

FIX = Path(__file__).parent / "fixtures" / "labels"


def _choices() -> dict[str, dict[str, tuple]]:
    """{dest: {command: values}} of every option (or positional) with choices."""
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    out: dict[str, dict[str, tuple]] = {}
    for cmd, sp in sub.items():
        for a in sp._actions:
            if a.choices is not None and a.dest != "help":
                out.setdefault(a.dest, {})[cmd] = tuple(a.choices)
    return out


@pytest.fixture(scope="module")
def inputs(userdata, tmp_path_factory):
    root = tmp_path_factory.mktemp("choices")
    few = root / "few"
    few.mkdir()
    for p in sorted((userdata / "real").glob("*.png"))[:3]:
        shutil.copy(p, few / p.name)
    labels = ["--labels", str(userdata / "labels.csv"), "--images", str(userdata / "gen"), "--reference",
              str(userdata / "real"), "--question", "realism", "--backbone", "tiny"]
    gens = [str(userdata / "gen" / "blur"), str(userdata / "gen" / "noise")]
    return {"root": root, "cache": str(root / "cache"), "few": str(few), "labels": labels, "gens": gens,
            "prompts": str(userdata / "prompts.csv"), "real": str(userdata / "real")}


def _needs(module: str, why: str):
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{why} needs {module} (pip install -e '.[test]')")


def _argv(dest: str, value: str, d: dict, out: str) -> list[str]:
    """The cheapest command that offers ``dest``, run with ``value``."""
    common = ["--cache", d["cache"], "--quiet"]
    if dest == "resize":
        from judgenet.backbones import genuine_inception_path

        if genuine_inception_path() is None:
            pytest.skip("--resize applies to inception:fid, whose weights need judgenet[real]")
        return ["extract", d["few"], "--backbone", "inception:fid", "--resize", value, *common]
    if dest == "mid_shrinkage":
        return ["score", *d["gens"], "--reference", d["real"], "--prompts", d["prompts"], "--backbone", "tiny",
                "--mid-shrinkage", value, "--n-resamples", "10", "--out", out, *common]
    if dest in ("split", "group_by"):
        return ["evaluate", *d["labels"], "--models", "ridge", f"--{dest.replace('_', '-')}", value,
                "--n-prompt-folds", "2", "--n-resamples", "10", "--out", out, *common]
    if dest == "world":
        return ["demo", "--fast", "--world", value, "--out", out, *common]
    if dest == "measure":
        return ["tune", *d["labels"], "--n-trials", "1", "--measure", value, "--out", out, *common]
    _needs("pycocoevalcap", "the caption benchmark")
    bench = ["--label-root", str(FIX), "--metrics", "BLEU-1", "--text-backbone", "none", "--n-resamples", "5",
             "--n-draws", "1", *common]
    if dest == "set_name":
        return ["benchmark", value, *bench]
    if dest == "cf_protocols":
        return ["benchmark", "flickr8k-cf", "--cf-protocols", value, *bench]
    if dest == "ties":
        return ["benchmark", "pascal50s", "--ties", value, *bench]
    raise AssertionError(f"option {dest!r} offers choices but this test has no command to run them with: add one")


#: a whole demo per value (about a minute each on 2 cores): run with `pytest -m slow`
SLOW = {"world"}
CASES = [pytest.param(dest, value, id=f"{dest}={value}", marks=[pytest.mark.slow] if dest in SLOW else [])
         for dest, by_cmd in sorted(_choices().items()) for value in sorted({v for vals in by_cmd.values() for v in vals})]


def test_every_option_with_choices_is_walked():
    known = {"resize", "mid_shrinkage", "split", "group_by", "measure", "set_name", "cf_protocols", "ties", "world"}
    assert set(_choices()) <= known, f"new options with choices: {set(_choices()) - known} (add them to _argv)"


@pytest.mark.parametrize("dest,value", CASES)
def test_each_offered_value_runs(dest, value, inputs, tmp_path, capsys):
    argv = _argv(dest, value, inputs, str(tmp_path / "out"))
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == 0, f"judgenet {' '.join(argv)} failed:\n{err}"
