"""Flawed "generators" of the world: each is a named failure profile with a severity knob in [0, 1].

A generator receives a prompt scene (what the caption describes) and returns the image it
"generates" together with the scene it actually drew and its latent quality::

    out = GENERATORS["blur"].generate(prompt_scene, severity=0.5, rng=rng, context=ctx)
    out.image            # uint8 (S, S, 3)
    out.scene            # the scene drawn (differs from the prompt scene for alignment failures)
    out.true_realism     # in [0, 1]: 1 - the realism damage of the image degradations applied
    out.true_alignment   # in [0, 1]: scenes.alignment(prompt_scene, out.scene)

Some profiles hurt realism (blur, noise, jpeg, checkerboard, color_cast, texture_incoherence),
some hurt text alignment (attribute_swap, wrong_count, flipped_relation, memorized), some both
(sloppy, mode_collapse), and ``near_perfect`` barely hurts anything. Realism damage is a fixed,
documented function of each item's effective severity (the knob jittered per item), so that the
expected latent quality decreases monotonically with the knob. Alignment failures are random
events whose probability grows with the knob; the alignment score is then measured from the
drawn scene, fact by fact. ``mode_collapse`` and ``memorized`` are set-level failures (low
diversity, copies of the reference images) that per-image realism cannot see by design.

All of this is **simulated**.
"""
from __future__ import annotations

import copy
import io
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from PIL import Image, ImageFilter

from ..errors import ConfigError

from .render import render
from .scenes import COLORS, SHAPES, alignment, place_objects, sample_scene

__all__ = ["Generator", "GeneratorOutput", "GENERATORS", "get_generator", "WorldContext"]


@dataclass
class GeneratorOutput:
    """What one generator call produced."""

    image: np.ndarray
    scene: dict
    true_realism: float
    true_alignment: float
    details: dict = field(default_factory=dict)


@dataclass
class WorldContext:
    """Shared state some generators need: the reference ("real") scenes and the world seed."""

    real_scenes: list[dict]
    seed: int = 0
    size: int = 64


@dataclass(frozen=True)
class Generator:
    """A named failure profile.

    ``hurts`` is a subset of {"realism", "alignment", "diversity"}; ``fn(scene, severity, rng,
    context) -> GeneratorOutput`` does the work; ``description`` says what fails and how the
    latent qualities are computed.
    """

    name: str
    hurts: tuple[str, ...]
    description: str
    fn: Callable[..., GeneratorOutput]

    def generate(self, prompt_scene: dict, severity: float, rng: np.random.Generator,
                 context: WorldContext | None = None) -> GeneratorOutput:
        if not 0.0 <= float(severity) <= 1.0:
            raise ValueError(f"severity must be in [0, 1], got {severity}")
        ctx = context or WorldContext(real_scenes=[], size=prompt_scene["size"])
        return self.fn(prompt_scene, float(severity), rng, ctx)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def _item_severity(severity: float, rng: np.random.Generator) -> float:
    """Per-item effective severity: the knob with ±15% multiplicative jitter, in [0, 1]."""
    return float(np.clip(severity * (1.0 + 0.15 * rng.standard_normal()), 0.0, 1.0))


def _f(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float32) / 255.0


def _u8(img: np.ndarray) -> np.ndarray:
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def _clean(scene: dict, realism: float = 1.0, prompt: dict | None = None, **details) -> GeneratorOutput:
    return GeneratorOutput(
        image=render(scene),
        scene=scene,
        true_realism=float(realism),
        true_alignment=alignment(prompt if prompt is not None else scene, scene),
        details=details,
    )


def _blur(img: np.ndarray, sigma: float) -> np.ndarray:
    return np.asarray(Image.fromarray(img).filter(ImageFilter.GaussianBlur(radius=sigma)))


def _corrupt_attributes(scene: dict, p: float, rng: np.random.Generator) -> tuple[dict, int]:
    """Each group, with probability ``p``, gets a wrong colour or shape. Returns (scene, n)."""
    sc = copy.deepcopy(scene)
    n = 0
    for gi, g in enumerate(sc["groups"]):
        if rng.random() >= p:
            continue
        n += 1
        if rng.random() < 0.5:
            new = str(rng.choice([c for c in COLORS if c != g["color"]]))
            key = "color"
        else:
            new = str(rng.choice([s for s in SHAPES if s != g["shape"]]))
            key = "shape"
        for o in sc["objects"]:
            if o["group"] == gi:
                o[key] = new
    return sc, n


def _corrupt_counts(scene: dict, p: float, rng: np.random.Generator) -> tuple[dict, int]:
    """Each group, with probability ``p``, loses or gains one object. Returns (scene, n)."""
    sc = copy.deepcopy(scene)
    n = 0
    for gi, g in enumerate(sc["groups"]):
        if rng.random() >= p:
            continue
        members = [o for o in sc["objects"] if o["group"] == gi]
        n += 1
        if len(members) > 1 and rng.random() < 0.5:
            victim = members[int(rng.integers(len(members)))]
            sc["objects"] = [o for o in sc["objects"] if o is not victim]
        else:
            new = copy.deepcopy(members[0])
            new["r"] *= 0.9
            sc["objects"].append(new)
            place_objects(sc, rng, [new])
    return sc, n


def _mirror(scene: dict) -> dict:
    """The scene mirrored across the axis of its relation (flips left/right or above/below)."""
    sc = copy.deepcopy(scene)
    s = sc["size"]
    horizontal = sc["relation"] in ("left of", "right of")
    for o in sc["objects"]:
        if horizontal:
            o["x"] = s - o["x"]
        else:
            o["y"] = s - o["y"]
    return sc


# --------------------------------------------------------------------------------------------
# profiles
# --------------------------------------------------------------------------------------------
def _near_perfect(scene, sev, rng, ctx):
    s = _item_severity(sev, rng)
    drawn, n_attr = _corrupt_attributes(scene, 0.05 * s, rng)
    img = render(drawn)
    if s > 0:
        img = _blur(img, 0.25 * s)
    return GeneratorOutput(img, drawn, 1.0 - 0.08 * s, alignment(scene, drawn), {"s": s, "attr_errors": n_attr})


def _attribute_swap(scene, sev, rng, ctx):
    drawn, n = _corrupt_attributes(scene, sev, rng)
    return _clean(drawn, 1.0, prompt=scene, attr_errors=n)


def _wrong_count(scene, sev, rng, ctx):
    drawn, n = _corrupt_counts(scene, sev, rng)
    return _clean(drawn, 1.0, prompt=scene, count_errors=n)


def _flipped_relation(scene, sev, rng, ctx):
    flip = scene["relation"] is not None and rng.random() < sev
    drawn = _mirror(scene) if flip else copy.deepcopy(scene)
    return _clean(drawn, 1.0, prompt=scene, flipped=bool(flip))


def _image_degradation(kind: str):
    def fn(scene, sev, rng, ctx):
        s = _item_severity(sev, rng)
        img = render(scene)
        x = _f(img)
        size = scene["size"]
        if kind == "blur":
            sigma = 0.4 + 2.2 * s
            out = _blur(img, sigma) if s > 0 else img
            realism, det = 1.0 - 0.75 * s ** 0.8, {"sigma": sigma}
        elif kind == "noise":
            std = 0.03 + 0.22 * s
            out = _u8(x + std * rng.standard_normal(x.shape).astype(np.float32)) if s > 0 else img
            realism, det = 1.0 - 0.8 * s, {"std": std}
        elif kind == "jpeg":
            q = int(round(60 - 55 * s))
            if s > 0:
                buf = io.BytesIO()
                Image.fromarray(img).save(buf, format="JPEG", quality=q)
                out = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
            else:
                out = img
            realism, det = 1.0 - 0.7 * s, {"quality": q}
        elif kind == "checkerboard":
            # transposed-convolution style: half-resolution content, zero-insertion upsampling
            # leaves a period-2 pattern whose amplitude grows with the knob.
            a = 0.05 + 0.30 * s
            small = Image.fromarray(img).resize((size // 2, size // 2), Image.BILINEAR)
            up = _f(np.asarray(small.resize((size, size), Image.NEAREST)))
            yy, xx = np.mgrid[0:size, 0:size]
            pattern = np.where((yy % 2 == 0) & (xx % 2 == 0), 1.0, np.where((yy + xx) % 2 == 0, -0.5, 0.0))
            out = _u8(up * (1.0 + a * pattern[..., None])) if s > 0 else img
            realism, det = 1.0 - 0.75 * s, {"amplitude": a}
        elif kind == "color_cast":
            k = 0.08 + 0.45 * s
            cast = np.asarray([(1.0, 0.85, 0.35), (0.35, 1.0, 0.45), (0.95, 0.35, 1.0)][int(rng.integers(3))], np.float32)
            lum = x.mean(axis=2, keepdims=True)
            out = _u8((1 - k) * x + k * lum * cast * 1.3) if s > 0 else img
            realism, det = 1.0 - 0.6 * s, {"strength": k}
        elif kind == "texture_incoherence":
            # smooth random displacement field (wobbly edges) + patch-shuffled texture
            amp = 0.4 + 2.6 * s
            from .render import _smooth_noise

            dx = amp * _smooth_noise(rng, size, 8)
            dy = amp * _smooth_noise(rng, size, 8)
            yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
            from scipy.ndimage import map_coordinates

            warped = np.stack([map_coordinates(x[..., c], [yy + dy, xx + dx], order=1, mode="reflect") for c in range(3)], -1)
            p = 4
            g = size // p
            blocks = warped[: g * p, : g * p].reshape(g, p, g, p, 3).transpose(0, 2, 1, 3, 4).reshape(g * g, p, p, 3)
            swap = rng.random(g * g) < 0.35 * s
            idx = np.arange(g * g)
            nb = np.clip(idx + rng.choice([-1, 1, -g, g], size=g * g), 0, g * g - 1)
            blocks = np.where(swap[:, None, None, None], blocks[nb], blocks)
            warped[: g * p, : g * p] = blocks.reshape(g, g, p, p, 3).transpose(0, 2, 1, 3, 4).reshape(g * p, g * p, 3)
            out = _u8(warped) if s > 0 else img
            realism, det = 1.0 - 0.8 * s, {"displacement": amp}
        else:  # pragma: no cover - guarded by the registry
            raise ValueError(kind)
        det["s"] = s
        return GeneratorOutput(out, copy.deepcopy(scene), float(np.clip(realism, 0.02, 1.0)), alignment(scene, scene), det)

    return fn


def _mode_scenes(ctx: WorldContext, k: int = 3) -> list[dict]:
    return [sample_scene(np.random.default_rng([ctx.seed, 99, i]), ctx.size) for i in range(k)]


def _mode_collapse(scene, sev, rng, ctx):
    """Low diversity: nuisance attributes collapse to one mode; with probability 0.6·s the whole
    content collapses onto one of three mode scenes regardless of the prompt."""
    s = _item_severity(sev, rng)
    modes = _mode_scenes(ctx)
    if rng.random() < 0.6 * sev:
        drawn = copy.deepcopy(modes[int(rng.integers(len(modes)))])
        collapsed = True
    else:
        drawn = copy.deepcopy(scene)
        m = modes[0]
        collapsed = False
        if rng.random() < s:
            drawn["background"] = copy.deepcopy(m["background"])
            drawn["seed"] = m["seed"]
            drawn["light"] = m["light"]
        for o in drawn["objects"]:
            if rng.random() < s:
                o["texture"], o["tex_angle"], o["rot"] = "solid", 0.0, 0.0
            o["r"] = (1 - s) * o["r"] + s * 0.1 * drawn["size"] * (0.85 if len(drawn["objects"]) > 2 else 1.0)
    return GeneratorOutput(render(drawn), drawn, 1.0 - 0.1 * s, alignment(scene, drawn), {"s": s, "collapsed": collapsed})


def _memorized(scene, sev, rng, ctx):
    """With probability s, return an exact copy of a reference ("real") image — the one most
    similar to the prompt among 64 random candidates. Perfect realism, partial alignment."""
    if ctx.real_scenes and rng.random() < sev:
        cand = rng.choice(len(ctx.real_scenes), size=min(64, len(ctx.real_scenes)), replace=False)
        best = max(cand, key=lambda i: alignment(scene, ctx.real_scenes[int(i)]))
        drawn = copy.deepcopy(ctx.real_scenes[int(best)])
        return _clean(drawn, 1.0, prompt=scene, copied_real_index=int(best))
    return _clean(copy.deepcopy(scene), 1.0, prompt=scene, copied_real_index=None)


def _sloppy(scene, sev, rng, ctx):
    """Both at once: attribute and count errors with probability s/2 each, plus blur and noise."""
    s = _item_severity(sev, rng)
    drawn, na = _corrupt_attributes(scene, 0.5 * sev, rng)
    drawn, nc = _corrupt_counts(drawn, 0.5 * sev, rng)
    img = render(drawn)
    if s > 0:
        img = _blur(img, 0.3 + 1.2 * s)
        img = _u8(_f(img) + (0.02 + 0.08 * s) * rng.standard_normal(img.shape).astype(np.float32))
    return GeneratorOutput(img, drawn, float(np.clip(1.0 - 0.7 * s, 0.02, 1)), alignment(scene, drawn),
                           {"s": s, "attr_errors": na, "count_errors": nc})


def _register(*gens: Generator) -> dict[str, Generator]:
    return {g.name: g for g in gens}


#: The registry of named generators (failure profiles), in a fixed order.
GENERATORS: dict[str, Generator] = _register(
    Generator("near_perfect", (), "Clean rendering; at most a faint blur (sigma 0.25·s) and a 5%·s chance "
              "of a wrong attribute. Realism 1 - 0.08·s.", _near_perfect),
    Generator("attribute_swap", ("alignment",), "Each stated group gets a wrong colour or shape with "
              "probability s. Clean image (realism 1).", _attribute_swap),
    Generator("wrong_count", ("alignment",), "Each stated group loses or gains one object with probability s. "
              "Clean image.", _wrong_count),
    Generator("flipped_relation", ("alignment",), "With probability s the scene is mirrored so the stated "
              "relation is reversed (single-group prompts are unaffected). Clean image.", _flipped_relation),
    Generator("blur", ("realism",), "Gaussian blur, sigma 0.4 + 2.2·s px. Realism 1 - 0.75·s^0.8.",
              _image_degradation("blur")),
    Generator("noise", ("realism",), "Additive Gaussian noise, std 0.03 + 0.22·s. Realism 1 - 0.8·s.",
              _image_degradation("noise")),
    Generator("jpeg", ("realism",), "JPEG compression at quality 60 - 55·s (block artifacts). Realism 1 - 0.7·s.",
              _image_degradation("jpeg")),
    Generator("checkerboard", ("realism",), "Half-resolution content upsampled with a period-2 checkerboard "
              "pattern of amplitude 0.05 + 0.3·s (transposed-convolution artifacts). Realism 1 - 0.75·s.",
              _image_degradation("checkerboard")),
    Generator("color_cast", ("realism",), "Global colour cast of strength 0.08 + 0.45·s toward yellow, green or "
              "magenta. Realism 1 - 0.6·s.", _image_degradation("color_cast")),
    Generator("texture_incoherence", ("realism",), "Smooth displacement field of 0.4 + 2.6·s px (wobbly edges) and "
              "4-px texture patches swapped with probability 0.35·s. Realism 1 - 0.8·s.",
              _image_degradation("texture_incoherence")),
    Generator("mode_collapse", ("diversity", "alignment"), "Low diversity: backgrounds, sizes and textures "
              "collapse toward one mode; with probability 0.6·s the content collapses onto one of three "
              "mode scenes. Per-image realism 1 - 0.1·s (the failure is set-level).", _mode_collapse),
    Generator("memorized", ("diversity", "alignment"), "With probability s an exact copy of the most similar "
              "reference (real) image; realism 1, alignment measured against the prompt.", _memorized),
    Generator("sloppy", ("realism", "alignment"), "Attribute and count errors with probability s/2 each, blur "
              "0.3 + 1.2·s and noise 0.02 + 0.08·s. Realism 1 - 0.7·s.", _sloppy),
)


def get_generator(name: str) -> Generator:
    """Look a generator up by name, with a helpful error."""
    try:
        return GENERATORS[name]
    except KeyError:
        raise ConfigError(f"unknown generator {name!r}; known: {', '.join(GENERATORS)}") from None
