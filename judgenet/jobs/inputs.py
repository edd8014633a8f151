"""The user's input-file conventions, in one place: image folders, prompt files, label image paths,
generator names and output folders.

* :func:`image_folder` — the images under a folder (unreadable links listed, not dropped; refused with ``strict``).
* :func:`read_prompts` / :func:`find_prompts_file` / :func:`prompts_for` — ``image,prompt`` tables.
* :func:`resolve_label_images` — a label file's ``image`` column resolved under ``--images`` and confined to it.
* :func:`generator_names` — one unique name per generator folder.
* :func:`check_path` — a path the file system can hold (no name over 255 bytes).
* :func:`run_dir` / :func:`open_run` — a fresh output folder (never silently overwritten), locked while a run writes
  into it and marked unfinished until the run ends, so that the identical command resumes into it.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from datetime import datetime
from pathlib import Path
from typing import Iterator, Mapping, Sequence

from ..errors import ConfigError, ImageError, OutputError

__all__ = ["image_folder", "read_prompts", "find_prompts_file", "prompts_for", "resolve_label_images",
           "generator_names", "check_path", "run_dir", "open_run", "PROMPT_FILE_NAMES", "UNFINISHED", "LOCK"]

log = logging.getLogger(__name__)

#: File names looked up inside an image folder for its ``image,prompt`` table, in this order.
PROMPT_FILE_NAMES = ("prompts.csv", "prompts.jsonl", "captions.csv", "captions.jsonl")
#: Written into an output folder when a run starts, removed when it finishes: which command (and options) wrote it.
UNFINISHED = ".judgenet-unfinished.json"
#: Held (``filelock``) while a run writes into an output folder; a second run into the same folder is refused.
LOCK = ".judgenet.lock"
_OWN = frozenset({UNFINISHED, LOCK})
#: The longest file or folder name (bytes) that common file systems (ext4, XFS, APFS, NTFS) hold.
NAME_MAX = 255


def check_path(path: str | os.PathLike, what: str) -> Path:
    """``path`` as a :class:`~pathlib.Path`; a name in it longer than the file system holds (255 bytes) is a
    one-line :class:`ConfigError` naming ``what`` instead of ``OSError: File name too long`` later."""
    p = Path(path)
    for part in p.parts:
        if len(os.fsencode(part)) > NAME_MAX:
            raise ConfigError(f"{what} {str(p)[:80]}...: the name {part[:40]}... is {len(os.fsencode(part))} bytes "
                              f"long, over the file-system limit of {NAME_MAX}; use a shorter name")
    return p


def _refuse_inside(path: Path, inputs: Sequence[tuple[str, str | os.PathLike | None]]) -> None:
    """An output folder inside an input folder would be read back as input (its plots as images) by the next run."""
    out = path.resolve()
    for what, folder in inputs:
        if folder is None or not check_path(folder, what).is_dir():
            continue
        base = Path(folder).resolve()
        if out == base or out.is_relative_to(base):
            raise ConfigError(f"output folder {path} is inside the {what} {folder}: the next run would read its "
                              "outputs as inputs; choose an --out outside the input folders")


def _read_marker(path: Path) -> dict | None:
    try:
        m = json.loads((path / UNFINISHED).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return m if isinstance(m, dict) else None


def _contents(path: Path) -> list[str]:
    return [n for n in os.listdir(path) if n not in _OWN]


def run_dir(out: str | os.PathLike | None, prefix: str, overwrite: bool = False, *, job: Mapping | None = None,
            inputs: Sequence[tuple[str, str | os.PathLike | None]] = ()) -> Path:
    """A fresh run directory: ``out`` itself when given, else ``./judgenet-runs/<prefix>-<timestamp>``.

    ``out`` is refused when it is a file, when it lies inside one of ``inputs`` (``(what, folder)`` pairs), and
    when it is not empty — unless ``overwrite``, or unless it is the unfinished folder of the identical run ``job``
    (``{"command": ..., "options": {...}}``, see :func:`open_run`), which is then resumed. Earlier runs are never
    overwritten silently."""
    if out is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        path = Path("judgenet-runs") / f"{prefix}-{stamp}"
        k = 1
        while path.exists():
            k += 1
            path = Path("judgenet-runs") / f"{prefix}-{stamp}-{k}"
    else:
        path = check_path(out, "--out")
        if path.exists() and not path.is_dir():
            raise ConfigError(f"--out {path} is an existing file, not a folder; choose a folder path")
        if path.is_dir() and _contents(path):
            marker = _read_marker(path)
            same = marker is not None and job is not None and \
                {k: marker.get(k) for k in ("command", "options")} == dict(job)
            if same:
                log.info("resuming the unfinished run in %s (finished work is reused from the cache)", path)
            elif not overwrite:
                if marker is not None:
                    raise ConfigError(f"output directory {path} holds an unfinished `judgenet "
                                      f"{marker.get('command')}` run with other options; rerun that exact command to "
                                      "finish it, or choose another --out or pass --overwrite to replace its contents")
                raise ConfigError(f"output directory {path} exists and is not empty; choose another --out "
                                  "or pass --overwrite to replace its contents")
    _refuse_inside(path, inputs)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder {path} ({exc.strerror or exc}); choose another --out") \
            from None
    return path


def _snapshot(path: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for d, _, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                st = os.stat(os.path.join(d, f))
                out[os.path.join(d, f)] = (st.st_mtime_ns, st.st_size)
    return out


def _remove_written(path: Path, before: Mapping[str, tuple[int, int]], keep: Sequence[str]) -> None:
    """Remove the files under ``path`` that are new or changed since ``before`` (except those named in ``keep`` and
    the folder's own marker and lock), then the folders left empty."""
    for name, stamp in _snapshot(path).items():
        rel = os.path.relpath(name, path)
        if rel in _OWN or rel in keep or before.get(name) == stamp:
            continue
        with contextlib.suppress(OSError):
            os.unlink(name)
    for d, _, _ in sorted(os.walk(path), key=lambda t: -len(t[0])):
        if d != str(path):
            with contextlib.suppress(OSError):
                os.rmdir(d)  # only empty ones


@contextlib.contextmanager
def open_run(out: str | os.PathLike | None, prefix: str, overwrite: bool = False, *, job: Mapping | None = None,
             inputs: Sequence[tuple[str, str | os.PathLike | None]] = (), keep: Sequence[str] = ()) -> Iterator[Path]:
    """The output folder of one run (:func:`run_dir`), for the duration of the run.

    * A lock (:data:`LOCK`, ``filelock``) is held while the run writes: a second run into the same folder is refused
      with one line instead of both exiting 0 with one result set lost.
    * :data:`UNFINISHED` records ``job`` (command and options) until the run ends: a rerun of the identical command
      (after Ctrl-C, ``kill -9``, a full disk) resumes into the folder — finished work comes from the caches —
      while another command, or any command into a finished folder, is refused without ``overwrite``.
    * If the run fails or is interrupted, the files it wrote are removed (a partial result never looks finished),
      except ``keep`` (resumable state such as an Optuna study); a folder it created and left empty is removed.
    """
    from filelock import FileLock, Timeout

    existed = out is not None and check_path(out, "--out").is_dir()
    # an existing folder is locked before it is judged (a running run is named as such); a new one after it is made
    path = Path(out) if existed else run_dir(out, prefix, overwrite, job=job, inputs=inputs)
    lock = FileLock(str(path / LOCK))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise ConfigError(f"another judgenet run is writing into {path} (it holds {path / LOCK}); wait for it to "
                          "finish or choose another --out") from None
    except OSError as exc:  # a read-only folder, a full disk
        raise OutputError(f"cannot write into output folder {path} ({exc.strerror or exc}); choose another --out") \
            from None
    try:
        run_dir(path, prefix, overwrite, job=job, inputs=inputs)  # judged under the lock
        before = _snapshot(path)
        from ..io import atomic_write_json

        atomic_write_json(path / UNFINISHED, {**(job or {"command": prefix, "options": {}}), "pid": os.getpid(),
                                              "started": datetime.now().isoformat(timespec="seconds")})
        try:
            yield path
        except BaseException:
            _remove_written(path, before, keep)
            if not _contents(path):  # nothing of this run is left: the folder as it was before
                if existed:
                    with contextlib.suppress(OSError):
                        (path / UNFINISHED).unlink()
                else:
                    shutil.rmtree(path, ignore_errors=True)
            raise
        with contextlib.suppress(OSError):
            (path / UNFINISHED).unlink()
    finally:
        if path.is_dir():
            with contextlib.suppress(OSError):
                (path / LOCK).unlink()
        lock.release()


def image_folder(folder: str | os.PathLike, what: str = "image folder", *, strict: bool = False) -> list[Path]:
    """Image files under ``folder`` (see :func:`judgenet.images.list_images`). Links that cannot be followed
    (dangling, loops) are logged as skipped and listed in the result's ``.skipped``; with ``strict`` the first one
    is an :class:`~judgenet.errors.ImageError` naming it. A folder with neither images nor such links is refused;
    one whose every image is such a link gives an empty list (with ``.skipped``)."""
    from ..images import IMAGE_EXTENSIONS, list_images

    d = check_path(folder, what)
    if not d.is_dir():
        raise ConfigError(f"{what} {d} does not exist or is not a folder; give a directory of images")
    files = list_images(d)  # unfollowable links are logged by list_images and kept in files.skipped
    if strict and files.skipped:
        f = files.skipped[0]
        raise ImageError(f"{f.path}: {f.reason}; fix or remove the link, or drop --strict to skip and list it")
    if not files and not files.skipped:
        raise ConfigError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) found under {what} {d}")
    return files


def read_prompts(path: str | os.PathLike) -> dict[str, str]:
    """Read a prompts file: CSV/TSV/JSONL with columns ``image`` and ``prompt`` (``image`` relative to the image
    folder, or a bare file name). Returns ``{image: prompt}``; blank prompts are refused."""
    import pandas as pd

    p = check_path(path, "prompts file")
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
    dup = df["image"].duplicated(keep=False)
    if dup.any():
        rows = df.index[dup & (df["image"] == df["image"][dup].iloc[0])]
        raise ConfigError(f"{p}, rows {', '.join(str(int(r) + 2) for r in rows)}: image {df['image'][rows[0]]} has "
                          f"{len(rows)} prompt rows; keep one prompt row per image")
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
    base = check_path(root if root is not None else ".", "--images").resolve()
    out = []
    for im, item in zip(images, item_ids):
        p = check_path(str(im), f"label item {item}: image")
        try:
            full = (p if p.is_absolute() else base / p).resolve()
        except (RuntimeError, OSError) as exc:  # a symlink loop (RuntimeError before Python 3.13, OSError after)
            raise ConfigError(f"label item {item}: image {im} cannot be resolved ({exc}); fix the link or point the "
                              "label file at the image itself") from None
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
    paths = [check_path(f, "generator folder").resolve() for f in folders]
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
