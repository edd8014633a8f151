"""The documentation stays true to the code: README is a front page whose links, commands and test command exist;
every subcommand's --help ends with an example that parses and a documentation page that exists."""
import re
import shlex
from pathlib import Path

import pytest

from judgenet import cli

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"


def _parser():
    return cli.build_parser()


def _subparsers(parser):
    (action,) = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    return action.choices


def _links(path: Path):
    """Relative link targets of a markdown file (no URLs, no pure anchors), without their #anchor."""
    for target in re.findall(r"\]\(([^)\s]+)\)", path.read_text()):
        if "://" in target or target.startswith("#") or target.startswith("mailto:"):
            continue
        yield target.split("#")[0]


def _code_commands(text: str):
    """`judgenet <word>` as written in inline code spans and in shell code blocks."""
    blocks = list(re.finditer(r"```(\w*)\n(.*?)```", text, flags=re.S))
    spans = [re.sub(r"(^|\s)#.*", "", b.group(2), flags=re.M)  # shell comments are prose
             for b in blocks if b.group(1) in ("", "bash", "sh", "console")]
    spans += re.findall(r"`([^`\n]+)`", re.sub(r"```\w*\n.*?```", "", text, flags=re.S))
    for span in spans:
        yield from re.findall(r"(?<![\w.-])judgenet ([a-z][a-z-]*)", span)


def test_readme_is_a_front_page():
    lines = README.read_text().splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines; move topics to docs/"
    heads = [ln for ln in lines if ln.startswith("## ")]
    assert "## Quick start" in heads and "## Run the tests" in heads and "## Headline result" in heads


def test_readme_test_command_is_the_one_ci_runs():
    """The 'Run the tests' block holds exactly the command .ci/run runs verbatim."""
    text = README.read_text()
    block = re.search(r"## Run the tests\s+```bash\n(.*?)```", text, flags=re.S)
    assert block, "README needs a 'Run the tests' section with one bash block"
    command = block.group(1).strip()
    assert "\n" not in command and command.startswith("pip install") and "pytest" in command
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert command in [ln.strip() for ln in ci], f"{command!r} is not a line of .ci/run"


def test_quick_start_runs_the_demo():
    text = README.read_text()
    block = re.search(r"## Quick start\s+```bash\n(.*?)```", text, flags=re.S)
    assert block and "pip install" in block.group(1) and "judgenet demo" in block.group(1)


@pytest.mark.parametrize("page", [README, *sorted(DOCS.glob("*.md")), ROOT / "data_cards" / "README.md"],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_exists(page):
    missing = [t for t in _links(page) if not (page.parent / t).exists()]
    assert not missing, f"{page.relative_to(ROOT)} links to missing files: {missing}"


def test_readme_links_every_docs_page():
    linked = {(README.parent / t).resolve() for t in _links(README)}
    pages = set(DOCS.glob("*.md"))
    assert pages, "docs/ has no pages"
    assert not {p.resolve() for p in pages} - linked, "docs pages not linked from README.md"


@pytest.mark.parametrize("page", [README, *sorted(DOCS.glob("*.md"))], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_command_named_exists(page):
    commands = set(_subparsers(_parser()))
    named = set(_code_commands(page.read_text()))
    if page == README:
        assert {"demo", "score", "train", "evaluate", "tune"} <= named
    assert named <= commands, f"{page.relative_to(ROOT)} names commands the CLI lacks: {sorted(named - commands)}"


def test_code_commands_finder_can_fail():
    """The finder used above sees commands in code and not in prose (so the check above can fail)."""
    text = ("judgenet demo in prose\n`judgenet nosuch --x`\n```bash\njudgenet other a\n```\n`judgenet.api`\n"
            "```python\nimport judgenet as jn\n```\njudgenet prose again\n```\njudgenet third  # judgenet not this\n```\n")
    assert sorted(_code_commands(text)) == ["nosuch", "other", "third"]


def _help(parser, name: str) -> str:
    return _subparsers(parser)[name].format_help()


def test_every_subcommand_help_ends_with_an_example_and_a_docs_page():
    parser = _parser()
    names = sorted(_subparsers(parser))
    assert {"demo", "extract", "train", "evaluate", "score", "tune", "report", "select"} <= set(names)
    for name in names:
        lines = [ln for ln in _help(parser, name).rstrip().splitlines()]
        m = re.fullmatch(r"More: (docs/[\w.-]+\.md)", lines[-1])
        assert m, f"judgenet {name} --help must end with 'More: docs/<page>.md', ends with {lines[-1]!r}"
        assert (ROOT / m.group(1)).is_file(), f"judgenet {name} --help names a missing page {m.group(1)}"
        example = [ln for ln in lines[:-1] if ln.strip()][-1].strip()
        assert example.startswith(f"judgenet {name}"), f"judgenet {name} --help: last example {example!r}"
        # the example is a valid command line of this CLI
        args = parser.parse_args(shlex.split(example.split("#")[0])[1:])
        assert args.command == name


def _dotted_names(text: str):
    """`judgenet.x.y` names written in inline code (a call's arguments cut off)."""
    for span in re.findall(r"`([^`\n]+)`", text):
        yield from re.findall(r"(?<![\w.])(judgenet(?:\.\w+)+)", span)


def _resolve(name: str):
    """Import the longest module prefix of ``name`` and walk the rest as attributes."""
    import importlib

    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError as exc:
            if exc.name and not exc.name.startswith("judgenet"):
                raise  # an optional dependency: the caller skips
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(name)


@pytest.mark.parametrize("page", [README, *sorted(DOCS.glob("*.md")), ROOT / "data_cards" / "README.md"],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_every_python_name_in_the_docs_exists(page):
    """Module, class and function names quoted in the docs resolve (they go stale when code moves)."""
    missing = []
    for name in sorted(set(_dotted_names(page.read_text()))):
        try:
            _resolve(name)
        except ModuleNotFoundError:  # needs an optional extra that is not installed here
            continue
        except (AttributeError, ImportError):
            missing.append(name)
    assert not missing, f"{page.relative_to(ROOT)} names what judgenet lacks: {missing}"


def test_dotted_name_check_can_fail():
    with pytest.raises(AttributeError):
        _resolve("judgenet.metrics.no_such_metric")
    assert list(_dotted_names("`judgenet.tuning.Objective(x)` and judgenet.prose.name")) == ["judgenet.tuning.Objective"]


@pytest.mark.parametrize("page", [README, *sorted(DOCS.glob("*.md"))], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_jn_function_named_exists(page):
    """`jn.<job>(...)` in the docs is a job of `import judgenet as jn`."""
    import judgenet

    named = set(re.findall(r"(?<![\w.])jn\.(\w+)", page.read_text()))
    if page == README:
        assert {"score", "train", "evaluate", "tune", "load_predictor"} <= named
    assert not [n for n in named if not hasattr(judgenet, n)], f"{page.name}: jn.{sorted(named)} not all in judgenet"


WORK_HISTORY = re.compile(r"\b[Ii]ssue[- ]\d+|\b[Ss]ession \d+|\bcommit [0-9a-f]{7,}\b|\bat [0-9a-f]{7,40}\b")


@pytest.mark.parametrize("page", [README, *sorted(DOCS.glob("*.md"))], ids=lambda p: str(p.relative_to(ROOT)))
def test_user_docs_speak_of_the_software_not_its_history(page):
    """No issue numbers, session numbers or commit ids in user documentation (conditions of measurements stay)."""
    hits = WORK_HISTORY.findall(page.read_text())
    assert not hits, f"{page.relative_to(ROOT)}: {hits}"
    assert WORK_HISTORY.search("measured at 5a552be (issue 12)")  # the pattern can fail
