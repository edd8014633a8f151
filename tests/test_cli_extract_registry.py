"""judgenet.cli.register_command: other modules add subcommands; errors and --json behave like built-ins."""
import json

import pytest

from judgenet import cli
from judgenet.errors import ConfigError


@pytest.fixture()
def registry(monkeypatch):
    monkeypatch.setattr(cli, "COMMANDS", {})
    return cli.COMMANDS


def test_registered_command_runs_with_json_and_errors(registry, capsys):
    def add(p):
        p.add_argument("word")

    def run(a):
        if a.word == "bad":
            raise ConfigError("bad word; say something else")
        return {"echo": a.word, "random_state": a.random_state}

    cli.register_command("echo", help="repeat a word", add_arguments=add, run=run)
    assert cli.main(["echo", "hi", "--json", "--seed", "3"]) == 0
    assert json.loads(capsys.readouterr().out) == {"echo": "hi", "random_state": 3}  # --seed is an alias
    assert cli.main(["echo", "bad"]) == 2
    err = capsys.readouterr().err
    assert err == "judgenet echo: error: bad word; say something else\n"
    with pytest.raises(ConfigError):
        cli.main(["echo", "bad", "--debug"])
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "repeat a word" in capsys.readouterr().out


def test_names_are_not_silently_replaced(registry, capsys):
    with pytest.raises(ValueError, match="already defined"):
        cli.register_command("extract", help="x", run=lambda a: None)
    cli.register_command("bare", help="no common options", run=lambda a: None, common=False)
    with pytest.raises(ValueError, match="already defined"):
        cli.register_command("bare", help="again", run=lambda a: None)
    cli.register_command("bare", help="again", run=lambda a: {"ok": 1}, common=False, replace=True)
    assert cli.main(["bare"]) == 0
