"""CLI option names are the Python API's parameter names, in both directions: every option of every command reaches
its job under the same name, and every parameter of a job is an option of its command (except the few that only
make sense in Python, listed here with the reason). One vocabulary: scikit-learn's and Optuna's (random_state,
n_resamples, n_prompt_folds, n_trials, n_jobs); no parameter of the old spellings remains."""
import argparse
import inspect

import pytest

from judgenet import api, cli

COMMANDS = ["demo", "extract", "train", "evaluate", "score", "tune", "select", "benchmark", "report"]

#: Parameters without an option: Python objects or settings a command line has no use for.
PYTHON_ONLY = {
    "train": {"feature_groups"}, "evaluate": {"feature_groups"}, "tune": {"feature_groups", "models"},
}
OLD_NAMES = {"seed", "resamples", "prompt_folds", "trials", "families", "prepare_options", "draws"}


def _subparsers(parser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices
    raise AssertionError("no subcommands")


def _dests(command):
    sub = _subparsers(cli.build_parser())[command]
    return {a.dest for a in sub._actions if a.dest != "help"} - cli.CLI_ONLY


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_reaches_the_job(command):
    dests = _dests(command)
    ns = argparse.Namespace(command=command, **{d: object() for d in dests})
    passed = set(cli.job_kwargs(getattr(api, command), ns))
    assert dests - passed == set(), f"options of `judgenet {command}` that the Python job does not accept"


@pytest.mark.parametrize("command", COMMANDS)
def test_every_parameter_is_an_option(command):
    params = inspect.signature(getattr(api, command)).parameters
    assert not any(p.kind is p.VAR_KEYWORD for p in params.values()), f"jn.{command} hides parameters in **kwargs"
    missing = set(params) - _dests(command) - PYTHON_ONLY.get(command, set())
    assert not missing, f"parameters of jn.{command} that `judgenet {command}` does not offer: {sorted(missing)}"
    assert not set(params) & OLD_NAMES, f"jn.{command} uses an old parameter name: {sorted(set(params) & OLD_NAMES)}"


def test_old_option_spellings_still_parse_to_the_new_names():
    p = cli.build_parser()
    a = p.parse_args(["train", "--labels", "l", "--reference", "r", "--seed", "3", "--resamples", "7",
                      "--prompt-folds", "4"])
    assert (a.random_state, a.n_resamples, a.n_prompt_folds) == (3, 7, 4)
    a = p.parse_args(["evaluate", "--labels", "l", "--reference", "r", "--model", "ridge", "--model", "mlp"])
    assert a.models == ["ridge", "mlp"]
    a = p.parse_args(["evaluate", "--labels", "l", "--reference", "r", "--models", "ridge", "mlp"])
    assert a.models == ["ridge", "mlp"]
    assert p.parse_args(["tune", "--labels", "l", "--reference", "r", "--trials", "9"]).n_trials == 9


def test_benchmark_sets_equal_the_caption_protocols():
    from judgenet.captions.benchmark import BENCHMARK_SETS

    assert tuple(cli.BENCHMARK_SETS) == tuple(BENCHMARK_SETS)


@pytest.mark.parametrize("argv,fragment", [
    (["extract", "x", "--batch-size", "0"], "expected a whole number >= 1"),
    (["extract", "x", "--workers", "-1"], "expected a whole number >= 0"),
    (["tune", "--labels", "l", "--reference", "r", "--n-trials", "0"], "expected a whole number >= 1"),
    (["tune", "--labels", "l", "--reference", "r", "--storage", "notaurl"], "not a storage URL"),
    (["tune", "--labels", "l", "--reference", "r", "--storage", "sqlite:////nonexistent/dir/s.db"], "does not exist"),
    (["score", "g", "--n-resamples", "-5"], "expected a whole number >= 1"),
    (["train", "--labels", "l", "--reference", "r", "--mid-eps", "-1"], "number >= 0"),
    (["select", "--predictor", "p", "--images", "i", "--budget", "2", "--weights", "1,2"], "three numbers"),
    (["benchmark", "thumb", "--n-draws", "0"], "expected a whole number >= 1"),
])
def test_bad_argument_values_fail_at_parse_time(argv, fragment, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err
