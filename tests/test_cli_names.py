"""CLI option names are the Python API's parameter names: every option of every built-in command reaches its job."""
import argparse

import pytest

from judgenet import api, cli


def _subparsers(parser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices
    raise AssertionError("no subcommands")


@pytest.mark.parametrize("command", ["demo", "extract", "train", "evaluate", "score", "tune", "report"])
def test_every_option_reaches_the_job(command):
    sub = _subparsers(cli.build_parser())[command]
    dests = {a.dest for a in sub._actions if a.dest not in ("help",)} - cli.CLI_ONLY
    ns = argparse.Namespace(command=command, **{d: object() for d in dests})
    passed = set(cli.job_kwargs(getattr(api, command), ns))
    assert dests - passed == set(), f"options of `judgenet {command}` that the Python job does not accept"


@pytest.mark.parametrize("argv,fragment", [
    (["extract", "x", "--batch-size", "0"], "expected a whole number >= 1"),
    (["extract", "x", "--workers", "-1"], "expected a whole number >= 0"),
    (["tune", "--labels", "l", "--reference", "r", "--trials", "0"], "expected a whole number >= 1"),
    (["tune", "--labels", "l", "--reference", "r", "--storage", "notaurl"], "not a storage URL"),
    (["tune", "--labels", "l", "--reference", "r", "--storage", "sqlite:////nonexistent/dir/s.db"], "does not exist"),
    (["score", "g", "--resamples", "-5"], "expected a whole number >= 1"),
    (["train", "--labels", "l", "--reference", "r", "--mid-eps", "-1"], "expected a number >= 0"),
])
def test_bad_argument_values_fail_at_parse_time(argv, fragment, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err
