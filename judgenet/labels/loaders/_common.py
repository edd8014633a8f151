"""Shared helpers of the public-set loaders: where the files are, column aliases."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ...config import label_sets_dir
from ...errors import LabelError

REPO_DEFAULT = Path(__file__).resolve().parents[4] / "shared" / "label-sets"
"""``../shared/label-sets`` next to a source checkout (used when neither ``root`` nor
``$JUDGENET_LABEL_SETS`` is set)."""


def default_root() -> Path | None:
    """``$JUDGENET_LABEL_SETS`` > ``../shared/label-sets`` beside the checkout > None."""
    r = label_sets_dir()
    if r is not None:
        return r
    return REPO_DEFAULT if REPO_DEFAULT.is_dir() else None


def resolve_root(root, files: list[str], name: str) -> Path:
    """The folder holding ``files`` (relative paths) for set ``name``; ``root`` may be the label-sets
    folder or the set's own sub-folder (e.g. ``.../flickr8k``). Raises a :class:`LabelError` that
    says where to put the files otherwise — judgenet never downloads label sets."""
    r = Path(root).expanduser() if root is not None else default_root()
    if r is None:
        raise LabelError(f"{name}: no label-set folder; pass root=... (CLI: --label-root) or set $JUDGENET_LABEL_SETS "
                         f"to a folder containing {', '.join(files)}; see data_cards/{name}.md for where to obtain "
                         "them (judgenet never downloads label sets)")
    sub = files[0].split("/")[0]
    if not (r / files[0]).is_file() and (r / Path(files[0]).name).is_file() and r.name == sub:
        r = r.parent  # root given as the set's own folder
    missing = [f for f in files if not (r / f).is_file()]
    if missing:
        raise LabelError(f"{name}: expected file(s) {', '.join(str(r / f) for f in missing)} not found; judgenet "
                         f"never downloads label sets — see data_cards/{name}.md for where to obtain them")
    return r


def rename_aliases(df: pd.DataFrame, aliases: dict[str, tuple[str, ...]], source: str) -> pd.DataFrame:
    """Rename the first present alias of each canonical column (case-insensitive); a canonical
    column already present wins. Raises if two aliases of one column are present (ambiguous)."""
    lower = {str(c).lower(): c for c in df.columns}
    ren = {}
    for canon, alts in aliases.items():
        if canon in df.columns:
            continue
        found = [lower[a] for a in alts if a in lower]
        if len(found) > 1:
            raise LabelError(f"{source}: columns {found} could all be {canon!r}; rename the one you mean to {canon!r}")
        if found:
            ren[found[0]] = canon
    return df.rename(columns=ren)


def as_path(path) -> Path:
    p = Path(os.fspath(path)).expanduser()
    if not p.is_file():
        raise LabelError(f"label file {p} not found")
    return p
