"""The user's input-file conventions, in one place: image folders, prompt files, label image paths,
generator names and output folders.

* :func:`image_folder` — the images under a folder (at least one; unreadable links listed, not dropped).
* :func:`read_prompts` / :func:`find_prompts_file` / :func:`prompts_for` — ``image,prompt`` tables.
* :func:`resolve_label_images` — a label file's ``image`` column resolved under ``--images`` and confined to it.
* :func:`generator_names` — one unique name per generator folder.
* :func:`run_dir` — a fresh output folder (never silently overwritten).
"""
from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path
from typing import Mapping, Sequence

from ..errors import ConfigError, OutputError

__all__ = ["image_folder", "read_prompts", "find_prompts_file", "prompts_for", "resolve_label_images",
           "generator_names", "run_dir", "PROMPT_FILE_NAMES"]

log = logging.getLogger(__name__)

#: File names looked up inside an image folder for its ``image,prompt`` table, in this order.
PROMPT_FILE_NAMES = ("prompts.csv", "prompts.jsonl", "captions.csv", "captions.jsonl")


def run_dir(out: str | os.PathLike | None, prefix: str, overwrite: bool = False) -> Path:
    """A fresh run directory: ``out`` itself when given (refused if non-empty unless ``overwrite``; refused if it
    is a file), else ``./judgenet-runs/<prefix>-<timestamp>``. Earlier runs are never overwritten silently."""
    if out is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        path = Path("judgenet-runs") / f"{prefix}-{stamp}"
        k = 1
        while path.exists():
            k += 1
            path = Path("judgenet-runs") / f"{prefix}-{stamp}-{k}"
    else:
        path = Path(out)
        if path.exists() and not path.is_dir():
            raise ConfigError(f"--out {path} is an existing file, not a folder; choose a folder path")
        if path.is_dir() and any(path.iterdir()) and not overwrite:
            raise ConfigError(f"output directory {path} exists and is not empty; choose another --out "
                              "or pass --overwrite to replace its contents")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder {path} ({exc.strerror or exc}); choose another --out") \
            from None
    return path


def image_folder(folder: str | os.PathLike, what: str = "image folder") -> list[Path]:
    """Image files under ``folder`` (see :func:`judgenet.images.list_images`); at least one. Links that cannot
    be followed (dangling, loops) are logged as skipped and listed in the result's ``.skipped``."""
    from ..images import IMAGE_EXTENSIONS, list_images

    d = Path(folder)
    if not d.is_dir():
        raise ConfigError(f"{what} {d} does not exist or is not a folder; give a directory of images")
    files = list_images(d)  # unfollowable links are logged by list_images and kept in files.skipped
    if not files:
        raise ConfigError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) found under {what} {d}")
    return files


def read_prompts(path: str | os.PathLike) -> dict[str, str]:
    """Read a prompts file: CSV/TSV/JSONL with columns ``image`` and ``prompt`` (``image`` relative to the image
    folder, or a bare file name). Returns ``{image: prompt}``; blank prompts are refused."""
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"prompts file {p} not found; expected a CSV or JSONL with columns image,prompt")
    try:
        if p.suffix == ".jsonl":
            from ..io import read_jsonl

            df = pd.DataFrame([r for _, r in read_jsonl(p, error=ConfigError)])
        else:
            df = pd.read_csv(p, sep="\t" if p.suffix == ".tsv" else None, engine="python", dtype=str,
                             keep_default_na=False)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise ConfigError(f"{p}: cannot read as a table of image,prompt ({str(exc).splitlines()[0]})") from None
    missing = {"image", "prompt"} - set(df.columns)
    if missing:
        raise ConfigError(f"{p}: missing column(s) {sorted(missing)}; expected columns image,prompt "
                          f"(found {[str(c) for c in df.columns]})")
    df = df.astype({"image": str, "prompt": str})
    blank = df.index[df["prompt"].str.strip() == ""]
    if len(blank):
        raise ConfigError(f"{p}, row {int(blank[0]) + 2}: blank prompt for image {df['image'].iloc[blank[0]]}; "
                          "give every image a prompt or leave it out of the file")
    return dict(zip(df["image"], df["prompt"]))


def find_prompts_file(folder: str | os.PathLike) -> Path | None:
    """The first of :data:`PROMPT_FILE_NAMES` inside ``folder``, or None."""
    for name in PROMPT_FILE_NAMES:
        if (Path(folder) / name).is_file():
            return Path(folder) / name
    return None


def prompts_for(files: Sequence[Path], root: Path, table: Mapping[str, str] | None, *,
                require_all: bool = True) -> list[str | None] | None:
    """The prompt of each file (looked up by its path relative to ``root``, then by its bare name).

    ``require_all``: a file without a prompt is an error naming it; otherwise it gets None.
    """
    if table is None:
        return None
    out, missing = [], []
    for f in files:
        rel = Path(f).relative_to(root).as_posix()
        v = table.get(rel, table.get(Path(f).name))
        if v is None:
            missing.append(rel)
        out.append(v)
    if missing and require_all:
        raise ConfigError(f"{len(missing)} image(s) under {root} have no prompt in the prompts file, e.g. "
                          f"{', '.join(missing[:3])}; add rows image,prompt for them or drop the prompts file")
    return out


def resolve_label_images(images: Sequence[str], item_ids: Sequence[str], root: str | os.PathLike | None, *,
                         allow_outside: bool = False) -> list[str]:
    """Resolve a label file's ``image`` column under ``root`` (``--images``; default the current folder).

    A path that resolves outside ``root`` (``../../etc/passwd``, an absolute path elsewhere) is refused unless
    ``allow_outside``: a label file must not make judgenet open arbitrary files. Missing files are an error naming
    the item. Returns absolute paths as strings.
    """
    base = Path(root if root is not None else ".").resolve()
    out = []
    for im, item in zip(images, item_ids):
        p = Path(str(im))
        full = (p if p.is_absolute() else base / p).resolve()
        if not allow_outside and not full.is_relative_to(base):
            raise ConfigError(f"label item {item}: image {im} resolves outside the image folder {base}; keep image "
                              "paths relative to --images (or pass --allow-outside-images if you trust the file)")
        if not full.is_file():
            raise ConfigError(f"label item {item}: image {full} not found; pass --images DIR so that the label "
                              "file's image column resolves under it")
        out.append(str(full))
    return out


def generator_names(folders: Sequence[str | os.PathLike]) -> list[str]:
    """A unique, readable name per generator folder: the folder's name, or as many trailing path parts as make
    it unique. The same folder given twice is an error.

    >>> generator_names(["runs/a/blur", "runs/b/blur", "runs/noise"])
    ['a/blur', 'b/blur', 'noise']
    """
    paths = [Path(f).resolve() for f in folders]
    seen: dict[Path, str] = {}
    for f, p in zip(folders, paths):
        if p in seen:
            raise ConfigError(f"generator folder {f} is given twice (same folder as {seen[p]}); list each folder once")
        seen[p] = str(f)
    depth = [1] * len(paths)
    while True:
        names = ["/".join(p.parts[-d:]) for p, d in zip(paths, depth)]
        clash = [i for i, n in enumerate(names) if names.count(n) > 1]
        if not clash:
            return names
        for i in clash:
            depth[i] += 1
