"""Running the CLI in-process and reading its one-line errors (shared by the hostile-input tests)."""
from judgenet import cli


def run(capsys, *argv):
    """``judgenet *argv`` in this process: (exit code, stdout, stderr); never a traceback on stderr."""
    code = cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    assert "Traceback" not in out.err, out.err
    return code, out.out, out.err


def one_error_line(err: str, command: str) -> str:
    """The error: exactly one line, the last one, starting with ``judgenet <command>: error:``."""
    lines = err.rstrip("\n").split("\n")
    errors = [ln for ln in lines if ln.startswith(f"judgenet {command}: error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], err
    return errors[0]
