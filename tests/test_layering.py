"""Data moves one way: a lower box never imports a higher one (ARCHITECTURE.md). Checked on the source (AST),
including imports inside functions."""
import ast
from pathlib import Path

import judgenet

#: Box → layer; a module may import boxes of its own layer or below.
LAYERS = {
    "_version": 0, "errors": 0, "config": 0, "io": 0,
    "": 11,                                             # the package root is the API face: nothing below imports it
    "stats": 1, "images": 1, "folds": 1,
    "backbones": 2,
    "embeddings": 3,                                    # extraction, cache, multi-backbone embedding
    "metrics": 4,
    "features": 5,                                      # embeddings → named features (fitted on real images)
    "labels": 6,
    "predictors": 7,
    "evaluation": 8,
    "tuning": 9, "world": 7,                           # the simulated world: scenes, generators, raters (labels)
    "jobs": 10, "captions": 10,                         # the steps of the user jobs; the caption benchmark
    "api": 11, "cli": 11, "__init__": 11,
}
#: Modules that add subcommands through judgenet.cli.register_command (none of judgenet's own: every built-in
#: command is defined in cli.py).
PLUGINS: set[str] = set()


def _imports(path: Path, root: Path):
    rel = path.relative_to(root)
    pkg = ["judgenet", *rel.parts[:-1]]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[: len(pkg) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
                names = [f"{mod}.{a.name}" for a in node.names] if node.module is None else [mod]
            else:
                names = [node.module or ""]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for n in names:
            if n == "judgenet" or n.startswith("judgenet."):
                yield n.split(".")[1] if "." in n else ""


def test_no_module_imports_a_higher_box():
    root = Path(judgenet.__file__).parent
    bad = []
    for f in sorted(root.rglob("*.py")):
        rel = f.relative_to(root)
        box = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        assert box in LAYERS, f"{rel}: box {box!r} has no layer in this test (add it, and to ARCHITECTURE.md)"
        for target in _imports(f, root):
            if target not in LAYERS:  # e.g. `from .. import __version__`: the package root (layer 11)
                target = ""
            if rel.as_posix() in PLUGINS and target == "cli":
                continue
            if LAYERS[target] > LAYERS[box]:
                bad.append(f"{rel} imports {target or 'judgenet'} (layer {LAYERS[target]} > {LAYERS[box]})")
    assert not bad, "\n".join(bad)


def test_importing_the_library_layers_imports_no_torch():
    """A warm run whose features are all cached needs no network: importing the layers up to the feature builder,
    the labels and the evaluation must not import torch (it costs seconds); the metric classes load it on use."""
    import subprocess
    import sys

    code = ("import sys, judgenet.features, judgenet.labels, judgenet.evaluation, judgenet.backbones; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
