"""``make_world``: write the built-in **simulated** world to disk (PNGs + manifest), cached.

Layout of ``root``::

    root/world.json          # config, its hash, versions, counts; "simulated": true
    root/manifest.jsonl      # one JSON object per item (written atomically, last)
    root/images/<item_id>.png

Items:

* ``real`` — clean renderings of reference scenes (stream 0 of the seed), with a caption each.
  They are the reference set for MID and realism statistics.
* for every generator and severity, ``n_per_generator`` items; item ``j`` of every generator and
  severity uses the same prompt (prompt scene ``j``, stream 1), so generators can be compared
  side by side on the same prompt.

Two versions (``world=``): ``v2`` (default) gives every prompt a content difficulty that every generator
suffers from, drawn as visible defects and lowering the latent qualities
(:mod:`judgenet.world.difficulty`; calibrated to THumB's between-image share of score variance,
``data_cards/world-simulated.md``); ``v1`` is the world before that (≈1% of the variance between prompts),
byte-identical to what judgenet wrote before ``v2`` existed, kept so older tables can be reproduced.

Manifest columns: ``item_id, path, image, prompt, prompt_id, generator, severity,
true_realism, true_alignment, scene, prompt_scene, simulated, sha256`` (of the PNG's bytes); ``v2`` adds
``difficulty`` (the prompt scene's, in [0, 1]; for real items their own scene's, without any penalty). ``path``/``image`` are absolute
in the returned frame and relative to ``root`` in the file. A second call with the same
arguments reuses what is on disk after checking every image against its recorded SHA-256 (a
missing, truncated or altered image is logged and the world is rebuilt); different arguments
rebuild the world in place.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from PIL import Image

from ..errors import ConfigError
from ..io import sha256_file
from .difficulty import ALIGNMENT_PENALTY, REALISM_PENALTY, scene_difficulty, with_defects
from .generators import GENERATORS, WorldContext, get_generator
from .render import render
from .scenes import sample_caption, sample_scene

__all__ = ["World", "make_world", "load_world", "WORLD_VERSION", "WORLDS", "DEFAULT_WORLD", "real_scene",
           "prompt_scene"]

#: The world versions ``make_world(world=...)`` builds, and the config ``version`` each writes. Add a new
#: version (never change an old one) when rendering, scenes or generators change the bytes of a config.
WORLDS = {"v1": 1, "v2": 2}
DEFAULT_WORLD = "v2"
WORLD_VERSION = WORLDS[DEFAULT_WORLD]
#: PNG compression per version: v1 keeps its bytes; v2 writes faster (level 1, ~0.3 ms less per image).
_PNG_LEVEL = {1: 6, 2: 1}
MANIFEST = "manifest.jsonl"
META = "world.json"
MARKER = ".judgenet-world"
log = logging.getLogger(__name__)


@dataclass
class World:
    """A world on disk: ``root``, its ``config`` and the ``manifest`` DataFrame (absolute paths)."""

    root: Path
    config: dict
    manifest: pd.DataFrame

    @property
    def real(self) -> pd.DataFrame:
        """The reference (real) items."""
        return self.manifest[self.manifest["generator"] == "real"]

    @property
    def generated(self) -> pd.DataFrame:
        """All generator items."""
        return self.manifest[self.manifest["generator"] != "real"]

    def __len__(self) -> int:
        return len(self.manifest)


def real_scene(seed: int, index: int, size: int = 64) -> dict:
    """Reference scene ``index`` of a world seeded ``seed``."""
    return sample_scene(np.random.default_rng([int(seed), 0, int(index)]), size)


def prompt_scene(seed: int, index: int, size: int = 64) -> dict:
    """Prompt scene ``index`` (shared by all generators) of a world seeded ``seed``."""
    return sample_scene(np.random.default_rng([int(seed), 1, int(index)]), size)


def _caption(scene: dict, seed: int, stream: int, index: int) -> str:
    return sample_caption(scene, np.random.default_rng([int(seed), stream, int(index), 17]))[0]


def _config(n_real, n_per_generator, generators, severities, seed, size, world=DEFAULT_WORLD) -> dict:
    if world not in WORLDS:
        raise ConfigError(f"unknown world {world!r}; expected one of {', '.join(WORLDS)} (v2: calibrated prompt "
                          "difficulty, the default; v1: the world before it)")
    if generators is None:
        generators = list(GENERATORS)
    generators = [str(g) for g in generators]
    for g in generators:
        get_generator(g)
    severities = [float(s) for s in severities]
    if any(not 0.0 <= s <= 1.0 for s in severities):
        raise ConfigError(f"severities must lie in [0, 1], got {severities}")
    if not 64 <= int(size) <= 128:
        raise ConfigError(f"size must be between 64 and 128 pixels, got {size}")
    if int(n_real) < 0 or int(n_per_generator) < 0:
        raise ConfigError(f"n_real and n_per_generator must be >= 0, got {n_real}, {n_per_generator}")
    return {
        "version": WORLDS[world],
        "n_real": int(n_real),
        "n_per_generator": int(n_per_generator),
        "generators": generators,
        "severities": severities,
        "seed": int(seed),
        "size": int(size),
    }


def _hash(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def _write_png(path: Path, img: np.ndarray, level: int = 6) -> str:
    """Write ``img`` as PNG; returns the SHA-256 of the bytes written."""
    # compress_level fixed so bytes are identical across runs; no timestamps in PNG by PIL.
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG", compress_level=level)
    data = buf.getvalue()
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def _iter_items(cfg: dict) -> Iterable[tuple[dict, np.ndarray]]:
    seed, size = cfg["seed"], cfg["size"]
    v2 = cfg["version"] >= 2
    reals = [real_scene(seed, i, size) for i in range(cfg["n_real"])]
    if not reals:  # memorized still needs something to memorize
        reals = [real_scene(seed, i, size) for i in range(64)]
    for i in range(cfg["n_real"]):
        sc = reals[i]
        row = {
            "item_id": f"real-{i:05d}",
            "prompt": _caption(sc, seed, 0, i),
            "prompt_id": f"real-{i:05d}",
            "generator": "real",
            "severity": 0.0,
            "true_realism": 1.0,
            "true_alignment": 1.0,
            "scene": sc,
            "prompt_scene": sc,
        }
        if v2:
            row["difficulty"] = round(scene_difficulty(sc), 6)
        yield row, render(sc)
    ctx = WorldContext(real_scenes=reals, seed=seed, size=size)
    prompts = [prompt_scene(seed, j, size) for j in range(cfg["n_per_generator"])]
    captions = [_caption(sc, seed, 1, j) for j, sc in enumerate(prompts)]
    difficulty = [scene_difficulty(sc) for sc in prompts] if v2 else [0.0] * len(prompts)
    handed = [with_defects(sc, d) for sc, d in zip(prompts, difficulty)] if v2 else prompts
    for name in cfg["generators"]:
        gen = GENERATORS[name]
        gid = zlib.crc32(name.encode())
        for sev in cfg["severities"]:
            for j, psc in enumerate(prompts):
                rng = np.random.default_rng([seed, 2, gid, int(round(sev * 1000)), j])
                out = gen.generate(handed[j], sev, rng, ctx)
                realism, align = float(out.true_realism), float(out.true_alignment)
                if v2:  # the defects drawn (none where the generator drew another scene) lower both qualities
                    defect = float(out.scene.get("defect", 0.0))
                    realism *= 1.0 - REALISM_PENALTY * defect
                    align *= 1.0 - ALIGNMENT_PENALTY * defect
                row = {
                    "item_id": f"{name}-s{int(round(sev * 100)):03d}-{j:05d}",
                    "prompt": captions[j],
                    "prompt_id": f"p{j:05d}",
                    "generator": name,
                    "severity": float(sev),
                    "true_realism": round(realism, 6),
                    "true_alignment": round(align, 6),
                    "scene": out.scene,
                    "prompt_scene": psc,
                }
                if v2:
                    row["difficulty"] = round(difficulty[j], 6)
                yield row, out.image


def _load(root: Path) -> World:
    meta = json.loads((root / META).read_text())
    df = pd.read_json(root / MANIFEST, lines=True, dtype={"item_id": str, "prompt_id": str})
    df["path"] = [str(root / p) for p in df["path"]]
    df["image"] = df["path"]
    return World(root=root, config=meta["config"], manifest=df)


def load_world(root: str | os.PathLike) -> World:
    """Open a world written by :func:`make_world`."""
    root = Path(root)
    if not (root / MANIFEST).is_file() or not (root / META).is_file():
        raise ConfigError(f"no world at {root}: expected {MANIFEST} and {META}; create one with make_world({str(root)!r})")
    return _load(root)


def _is_complete(root: Path, cfg_hash: str) -> bool:
    try:
        meta = json.loads((root / META).read_text())
    except (OSError, ValueError):
        return False
    if meta.get("config_hash") != cfg_hash or not (root / MANIFEST).is_file():
        return False
    n = meta.get("n_items", -1)
    images = root / "images"
    if not images.is_dir() or sum(1 for _ in images.glob("*.png")) != n:
        return False
    return not _damaged(root)


def _damaged(root: Path) -> list[str]:
    """Manifest images that are missing or whose bytes differ from the recorded SHA-256 (a manifest
    without hashes, from an older judgenet, counts as all damaged: the world is rebuilt once)."""
    bad = []
    try:
        with open(root / MANIFEST, encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                f = root / row["path"]
                try:
                    ok = row.get("sha256") is not None and sha256_file(f) == row["sha256"]
                except OSError:
                    ok = False
                if not ok:
                    bad.append(row["path"])
    except (OSError, ValueError, KeyError):
        return ["manifest"]
    if bad:
        log.warning("world at %s: %d image(s) missing or damaged (e.g. %s); regenerating the world", root,
                    len(bad), ", ".join(bad[:3]))
    return bad


def make_world(
    root: str | os.PathLike,
    n_real: int = 500,
    n_per_generator: int = 50,
    generators: Sequence[str] | None = None,
    severities: Sequence[float] = (0.2, 0.5, 0.8),
    seed: int = 0,
    size: int = 64,
    progress: bool = False,
    world: str = DEFAULT_WORLD,
) -> World:
    """Write (or reuse) the **simulated** world under ``root`` and return it.

    Args:
        root: directory of the world (created if needed).
        n_real: number of reference (real) images.
        n_per_generator: items per generator *and per severity*.
        generators: names from :data:`GENERATORS` (default: all).
        severities: severity knobs in [0, 1] applied to every generator.
        seed: world seed; the same arguments give byte-identical PNGs and manifest.
        size: image side in pixels (64–128).
        progress: print a line per 1000 images.
        world: ``"v2"`` (default: prompt difficulty calibrated to real judgments) or ``"v1"`` (the world
            before it, byte-identical to its earlier output); see the module docstring.

    The manifest is written last and atomically, so an interrupted call leaves no manifest
    that claims missing images; a file lock serializes concurrent calls on the same root.
    """
    from filelock import FileLock

    cfg = _config(n_real, n_per_generator, generators, severities, seed, size, world)
    h = _hash(cfg)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / ".world.lock")):
        if _is_complete(root, h):
            return _load(root)
        images = root / "images"
        marker = root / MARKER
        if images.exists() and not marker.exists() and any(images.iterdir()):
            raise ConfigError(
                f"{root} already has an images/ folder that make_world did not write (no {MARKER} marker); "
                "refusing to delete it — pass an empty or new directory as root")
        marker.write_text("written by judgenet.world.make_world; images/ here is regenerated on demand\n")
        for stale in (root / MANIFEST, root / META):
            stale.unlink(missing_ok=True)
        if images.exists():
            shutil.rmtree(images)
        images.mkdir()
        t0 = time.perf_counter()
        rows = []
        for k, (row, img) in enumerate(_iter_items(cfg)):
            rel = f"images/{row['item_id']}.png"
            row["sha256"] = _write_png(root / rel, img, _PNG_LEVEL[cfg["version"]])
            row["path"] = rel
            row["simulated"] = True
            rows.append(row)
            if progress and (k + 1) % 1000 == 0:
                print(f"world: {k + 1} images, {time.perf_counter() - t0:.1f}s", flush=True)
        elapsed = time.perf_counter() - t0
        cols = ["item_id", "path", "prompt", "prompt_id", "generator", "severity", "true_realism",
                "true_alignment", "scene", "prompt_scene", "simulated", "sha256"]
        if cfg["version"] >= 2:
            cols.append("difficulty")
        manifest = "".join(json.dumps({c: row[c] for c in cols}, sort_keys=False, separators=(",", ":")) + "\n"
                           for row in rows)
        meta = {
            "simulated": True,
            "description": "judgenet built-in procedural world: SIMULATED images, generators and qualities",
            "config": cfg,
            "config_hash": h,
            "n_items": len(rows),
            "seconds": round(elapsed, 3),
        }
        from ..io import atomic_write_text

        atomic_write_text(root / META, json.dumps(meta, indent=2))
        atomic_write_text(root / MANIFEST, manifest)  # last: a manifest never claims missing images
        return _load(root)
