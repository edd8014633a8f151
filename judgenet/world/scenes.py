"""Scenes of the procedural world: sampling, captions, attribute swaps and caption facts.

A *scene* is a plain JSON-able dict, so it can be stored in a manifest and re-rendered
bit-identically later::

    {"size": 64, "seed": 123,                       # seed of the rendering noise (background)
     "background": {"kind": "gradient", "color": "beige"},
     "light": 0.7,                                   # light direction (radians), shared by all objects
     "groups": [{"shape": "circle", "color": "red", "count": 2}, ...],   # what a caption states
     "relation": "left of" | "right of" | "above" | "below" | None,      # group 0 REL group 1
     "objects": [{"shape", "color", "x", "y", "r", "rot", "texture", "tex_angle", "group"}, ...]}

Scenes have one or two *groups* (objects of one shape and colour), one to four objects in total,
and, with two groups, a spatial relation between them. Captions come from a small grammar with
several templates and synonyms per scene. :func:`alignment` scores how well a rendered scene
matches the scene a prompt describes, fact by fact; it is the latent "true alignment" of the
world's generators.

Everything here is **simulated** data.
"""
from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np

__all__ = [
    "SHAPES",
    "COLORS",
    "BACKGROUND_COLORS",
    "BACKGROUND_KINDS",
    "TEXTURES",
    "RELATIONS",
    "sample_scene",
    "describe",
    "caption_variants",
    "sample_caption",
    "swap_attribute",
    "scene_groups_observed",
    "alignment",
    "N_TEMPLATES",
]

SHAPES = ("circle", "square", "triangle", "star", "ring", "cross", "hexagon", "diamond")
_PLURAL = {s: s + "s" for s in SHAPES}
_PLURAL["cross"] = "crosses"

#: Object colours (linear RGB in [0, 1]); saturated so that backgrounds never look like them.
COLORS: dict[str, tuple[float, float, float]] = {
    "red": (0.86, 0.14, 0.14),
    "orange": (0.96, 0.55, 0.10),
    "yellow": (0.95, 0.86, 0.16),
    "green": (0.18, 0.66, 0.24),
    "blue": (0.14, 0.32, 0.86),
    "purple": (0.56, 0.24, 0.76),
    "white": (0.97, 0.97, 0.97),
    "black": (0.07, 0.07, 0.07),
}
#: Background colours: muted, named only in some caption phrasings.
BACKGROUND_COLORS: dict[str, tuple[float, float, float]] = {
    "grey": (0.58, 0.58, 0.58),
    "beige": (0.80, 0.74, 0.60),
    "slate": (0.33, 0.38, 0.45),
    "pale blue": (0.62, 0.73, 0.83),
    "sage": (0.58, 0.67, 0.56),
    "brown": (0.45, 0.36, 0.28),
}
BACKGROUND_KINDS = ("plain", "gradient", "noise", "checker", "stripes")
TEXTURES = ("solid", "striped", "dotted")
RELATIONS = ("left of", "right of", "above", "below")
_INVERSE = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}
_COUNT_WORDS = {1: ("a", "one"), 2: ("two",), 3: ("three",), 4: ("four",)}
_REL_WORDS = {
    "left of": ("left of", "to the left of", "on the left of"),
    "right of": ("right of", "to the right of", "on the right of"),
    "above": ("above", "over", "on top of"),
    "below": ("below", "under", "beneath"),
}
_POS_WORDS = {  # where group 0 / group 1 sit for "X on the left and Y on the right"
    "left of": ("on the left", "on the right"),
    "right of": ("on the right", "on the left"),
    "above": ("at the top", "at the bottom"),
    "below": ("at the bottom", "at the top"),
}
N_TEMPLATES = 6


# --------------------------------------------------------------------------------------------
# sampling
# --------------------------------------------------------------------------------------------
def _region(relation: str | None, which: int, size: int) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) box in which group ``which`` (0 or 1) is placed."""
    s = float(size)
    if relation is None:
        return (0.0, 0.0, s, s)
    first = which == 0
    if relation == "left of":
        return (0.0, 0.0, s / 2, s) if first else (s / 2, 0.0, s, s)
    if relation == "right of":
        return (s / 2, 0.0, s, s) if first else (0.0, 0.0, s / 2, s)
    if relation == "above":
        return (0.0, 0.0, s, s / 2) if first else (0.0, s / 2, s, s)
    if relation == "below":
        return (0.0, s / 2, s, s) if first else (0.0, 0.0, s, s / 2)
    raise ValueError(f"unknown relation {relation!r}; expected one of {RELATIONS}")


def _new_object(rng: np.random.Generator, shape: str, color: str, r: float, group: int) -> dict:
    return {
        "shape": shape,
        "color": color,
        "x": 0.0,
        "y": 0.0,
        "r": float(r),
        "rot": float(rng.uniform(-0.25, 0.25)),
        "texture": str(rng.choice(TEXTURES, p=(0.5, 0.25, 0.25))),
        "tex_angle": float(rng.uniform(0, math.pi)),
        "jitter": [float(v) for v in rng.uniform(-0.05, 0.05, size=3)],
        "group": int(group),
    }


def place_objects(scene: dict, rng: np.random.Generator, objects: list[dict] | None = None) -> None:
    """Place ``objects`` (default: all objects of ``scene``) inside their group's region.

    Positions are rejection-sampled so that objects do not overlap each other or the objects
    already placed; radii shrink if a layout does not fit. Modifies the dicts in place.
    """
    size = scene["size"]
    todo = scene["objects"] if objects is None else objects
    fixed = [o for o in scene["objects"] if all(o is not t for t in todo)]
    placed: list[dict] = list(fixed)
    for obj in todo:
        x0, y0, x1, y1 = _region(scene["relation"], obj["group"], size)
        for attempt in range(60):
            r = obj["r"] * (0.97 ** (attempt // 10))
            m = r + 1.0
            if x1 - x0 <= 2 * m or y1 - y0 <= 2 * m:
                obj["r"] = r = min((x1 - x0), (y1 - y0)) / 2 - 1.5
                m = r + 1.0
            x = rng.uniform(x0 + m, x1 - m)
            y = rng.uniform(y0 + m, y1 - m)
            if all(math.hypot(x - p["x"], y - p["y"]) > r + p["r"] + 1.0 for p in placed):
                break
        obj["x"], obj["y"], obj["r"] = float(x), float(y), float(r)
        placed.append(obj)


def sample_scene(rng: np.random.Generator, size: int = 64) -> dict:
    """Draw a random scene (see the module docstring for its fields)."""
    if not 32 <= size <= 256:
        raise ValueError(f"size must be in [32, 256] pixels, got {size}")
    colors = list(COLORS)
    two = rng.random() < 0.7
    if two:
        c0 = int(rng.choice([1, 2, 3], p=(0.5, 0.3, 0.2)))
        c1 = int(rng.integers(1, 5 - c0))
        s0, k0 = str(rng.choice(SHAPES)), str(rng.choice(colors))
        mode = rng.random()
        if mode < 0.35:  # same colour, different shape: binding must use the shape
            s1, k1 = str(rng.choice([s for s in SHAPES if s != s0])), k0
        elif mode < 0.7:  # same shape, different colour
            s1, k1 = s0, str(rng.choice([k for k in colors if k != k0]))
        else:
            s1 = str(rng.choice([s for s in SHAPES if s != s0]))
            k1 = str(rng.choice([k for k in colors if k != k0]))
        groups = [{"shape": s0, "color": k0, "count": c0}, {"shape": s1, "color": k1, "count": c1}]
        relation = str(rng.choice(RELATIONS))
    else:
        c0 = int(rng.choice([1, 2, 3, 4], p=(0.35, 0.3, 0.2, 0.15)))
        groups = [{"shape": str(rng.choice(SHAPES)), "color": str(rng.choice(colors)), "count": c0}]
        relation = None
    total = sum(g["count"] for g in groups)
    lo, hi = (0.10, 0.17) if total == 1 else (0.08, 0.13) if total == 2 else (0.065, 0.10)
    scene = {
        "size": int(size),
        "seed": int(rng.integers(0, 2**31 - 1)),
        "background": {
            "kind": str(rng.choice(BACKGROUND_KINDS)),
            "color": str(rng.choice(list(BACKGROUND_COLORS))),
            "angle": float(rng.uniform(0, math.pi)),
        },
        "light": float(rng.uniform(0, 2 * math.pi)),
        "groups": groups,
        "relation": relation,
        "objects": [],
    }
    for gi, g in enumerate(groups):
        base = rng.uniform(lo, hi) * size
        for _ in range(g["count"]):
            r = base * rng.uniform(0.9, 1.1)
            scene["objects"].append(_new_object(rng, g["shape"], g["color"], r, gi))
    place_objects(scene, rng)
    return scene


# --------------------------------------------------------------------------------------------
# captions
# --------------------------------------------------------------------------------------------
def _np(group: dict, rng: np.random.Generator) -> str:
    """Noun phrase: 'a red circle', 'an orange star', 'two blue rings'."""
    n = group["count"]
    word = str(rng.choice(_COUNT_WORDS[n]))
    if word == "a" and group["color"][0] in "aeiou":
        word = "an"
    noun = group["shape"] if n == 1 else _PLURAL[group["shape"]]
    return f"{word} {group['color']} {noun}"


def describe(groups: list[dict], relation: str | None, background: str, variant: int) -> str:
    """The caption of ``variant`` (template × synonyms) for groups + relation + background.

    The same ``variant`` applied to modified groups yields the same sentence with only the
    modified words changed, which is how swapped-attribute captions are made.
    """
    rng = np.random.default_rng([int(variant), 7919])
    template = int(variant) % N_TEMPLATES
    a = _np(groups[0], rng)
    if relation is None:
        verb = "is" if groups[0]["count"] == 1 else "are"
        return [
            a,
            f"an image of {a}",
            f"there {verb} {a}",
            f"{a} on a {background} background",
            f"a picture showing {a}",
            f"{a} in the scene",
        ][template]
    b = _np(groups[1], rng)
    rel = str(rng.choice(_REL_WORDS[relation]))
    inv = str(rng.choice(_REL_WORDS[_INVERSE[relation]]))
    pa, pb = _POS_WORDS[relation]
    verb = "is" if groups[0]["count"] == 1 else "are"
    return [
        f"{a} {rel} {b}",
        f"{b} {inv} {a}",
        f"an image of {a} {rel} {b}",
        f"{a} {pa} and {b} {pb}",
        f"there {verb} {a} {rel} {b}",
        f"a picture with {b} {inv} {a}",
    ][template]


def caption_variants(scene: dict, n: int = 12) -> list[str]:
    """Distinct captions of a scene (up to ``n``), in a fixed order."""
    out: list[str] = []
    for v in range(4 * n):
        c = describe(scene["groups"], scene["relation"], scene["background"]["color"], v)
        if c not in out:
            out.append(c)
        if len(out) >= n:
            break
    return out


def sample_caption(scene: dict, rng: np.random.Generator) -> tuple[str, int]:
    """One random phrasing of a scene: ``(caption, variant)``."""
    v = int(rng.integers(0, 10_000))
    return describe(scene["groups"], scene["relation"], scene["background"]["color"], v), v


def swap_attribute(scene: dict, rng: np.random.Generator, kind: str | None = None) -> tuple[list[dict], str]:
    """Groups of ``scene`` with one attribute (colour or shape of one group) changed.

    The new value differs from every value of that attribute in the scene, so the swapped
    description is false for the image. Returns ``(groups, kind)`` with kind 'color' or 'shape'.
    """
    groups = copy.deepcopy(scene["groups"])
    gi = int(rng.integers(0, len(groups)))
    kind = kind or str(rng.choice(["color", "shape"]))
    if kind == "color":
        used = {g["color"] for g in groups}
        groups[gi]["color"] = str(rng.choice([c for c in COLORS if c not in used]))
    elif kind == "shape":
        used = {g["shape"] for g in groups}
        groups[gi]["shape"] = str(rng.choice([s for s in SHAPES if s not in used]))
    else:
        raise ValueError(f"kind must be 'color' or 'shape', got {kind!r}")
    return groups, kind


# --------------------------------------------------------------------------------------------
# alignment facts
# --------------------------------------------------------------------------------------------
def scene_groups_observed(scene: dict) -> dict[tuple[str, str], list[dict]]:
    """Objects actually drawn, grouped by (shape, colour)."""
    out: dict[tuple[str, str], list[dict]] = {}
    for o in scene["objects"]:
        out.setdefault((o["shape"], o["color"]), []).append(o)
    return out


def _relation_holds(a: list[dict], b: list[dict], relation: str, size: int) -> bool:
    ax, ay = np.mean([o["x"] for o in a]), np.mean([o["y"] for o in a])
    bx, by = np.mean([o["x"] for o in b]), np.mean([o["y"] for o in b])
    m = 0.1 * size
    return {
        "left of": ax < bx - m,
        "right of": ax > bx + m,
        "above": ay < by - m,
        "below": ay > by + m,
    }[relation]


def alignment(target: dict, rendered: dict) -> float:
    """Fraction of the facts a caption of ``target`` states that hold in ``rendered``, in [0, 1].

    Facts (weights): for each stated group, an object of that shape and colour exists (1) and
    their number is right (1); the stated relation holds between the group centroids (1.5);
    nothing unstated is drawn (0.5).
    """
    obs = scene_groups_observed(rendered)
    size = rendered["size"]
    got = total = 0.0
    for g in target["groups"]:
        objs = obs.get((g["shape"], g["color"]), [])
        total += 2.0
        got += float(len(objs) > 0) + float(len(objs) == g["count"])
    if target["relation"] is not None:
        total += 1.5
        a = obs.get((target["groups"][0]["shape"], target["groups"][0]["color"]), [])
        b = obs.get((target["groups"][1]["shape"], target["groups"][1]["color"]), [])
        if a and b and _relation_holds(a, b, target["relation"], size):
            got += 1.5
    stated = {(g["shape"], g["color"]) for g in target["groups"]}
    total += 0.5
    got += 0.5 * float(all(k in stated for k in obs))
    return float(got / total)


def scene_from_json(obj: Any) -> dict:
    """Accept a scene dict or its JSON string."""
    if isinstance(obj, str):
        import json

        return json.loads(obj)
    return obj
