"""Anti-aliased rendering of world scenes with numpy (signed distance fields, 1-pixel coverage ramp).

``render(scene) -> uint8 array (H, W, 3)`` is a pure function of the scene dict (its ``seed``
drives the background noise), so a stored scene re-renders bit-identically. Objects share one
light direction (consistent shading); textures are solid, striped or dotted; backgrounds are
plain, gradient, smooth noise, low-contrast checker or stripes. An object's optional ``wobble`` (world
``v2``'s defects, :mod:`judgenet.world.difficulty`) bends its outline by that fraction of its radius.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from .scenes import BACKGROUND_COLORS, COLORS

__all__ = ["render", "shape_sdf"]


def _poly_sdf(px: np.ndarray, py: np.ndarray, verts: np.ndarray) -> np.ndarray:
    """Signed distance to a closed polygon (negative inside); vectorized over pixels and edges.

    Edge ``i`` runs from vertex ``i`` to vertex ``i - 1``; the squared distance is the minimum over the edges
    (computed in float64, stored in float32 — rounding is monotone, so taking the minimum before or after
    rounding gives the same value) and the sign flips once per edge crossed by the pixel's row (even-odd rule).
    """
    vi = np.asarray(verts, dtype=np.float64)
    vj = np.roll(vi, 1, axis=0)
    vix, viy = vi[:, 0, None, None], vi[:, 1, None, None]
    vjy = vj[:, 1, None, None]
    ex, ey = vj[:, 0, None, None] - vix, vjy - viy
    wx, wy = px[None] - vix, py[None] - viy
    t = np.minimum(np.maximum((wx * ex + wy * ey) / (ex * ex + ey * ey), 0.0), 1.0)
    bx, by = wx - ex * t, wy - ey * t
    d = (bx * bx + by * by).min(axis=0).astype(np.float32)
    c1 = py[None] >= viy
    c2 = py[None] < vjy
    c3 = ex * wy > ey * wx
    flips = ((c1 & c2 & c3) | (~c1 & ~c2 & ~c3)).sum(axis=0)
    sign = np.where(flips % 2 == 1, np.float32(-1.0), np.float32(1.0))
    return sign * np.sqrt(d)


def _box_sdf(px, py, hx, hy):
    qx, qy = np.abs(px) - hx, np.abs(py) - hy
    outside = np.hypot(np.maximum(qx, 0), np.maximum(qy, 0))
    return outside + np.minimum(np.maximum(qx, qy), 0)


def _regular(n: int, r: float, phase: float) -> np.ndarray:
    a = phase + 2 * math.pi * np.arange(n) / n
    return np.stack([r * np.cos(a), r * np.sin(a)], axis=1)


def shape_sdf(shape: str, px: np.ndarray, py: np.ndarray, r: float) -> np.ndarray:
    """Signed distance (pixels) to ``shape`` of radius ``r`` centred at the origin."""
    if shape == "circle":
        return np.hypot(px, py) - r
    if shape == "ring":
        return np.abs(np.hypot(px, py) - 0.70 * r) - 0.30 * r
    if shape == "square":
        return _box_sdf(px, py, 0.82 * r, 0.82 * r)
    if shape == "cross":
        return np.minimum(_box_sdf(px, py, r, 0.34 * r), _box_sdf(px, py, 0.34 * r, r))
    if shape == "triangle":
        return _poly_sdf(px, py, _regular(3, 1.1 * r, -math.pi / 2) + np.array([0, 0.2 * r]))
    if shape == "hexagon":
        return _poly_sdf(px, py, _regular(6, r, 0.0))
    if shape == "diamond":
        return _poly_sdf(px, py, np.array([[0, -r], [0.62 * r, 0], [0, r], [-0.62 * r, 0]]))
    if shape == "star":
        outer = _regular(5, 1.1 * r, -math.pi / 2)
        inner = _regular(5, 0.45 * r, -math.pi / 2 + math.pi / 5)
        verts = np.empty((10, 2))
        verts[0::2], verts[1::2] = outer, inner
        return _poly_sdf(px, py, verts)
    raise ValueError(f"unknown shape {shape!r}")


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Smooth value noise in [-1, 1] (bilinear upsampling of a cells×cells grid)."""
    g = rng.uniform(-1, 1, size=(cells + 1, cells + 1)).astype(np.float32)
    t = (np.arange(size, dtype=np.float32) + 0.5) / size * cells
    i = np.minimum(t.astype(int), cells - 1)
    f = t - i
    f = f * f * (3 - 2 * f)
    rows = g[i] * (1 - f)[:, None] + g[i + 1] * f[:, None]
    return rows[:, i] * (1 - f)[None, :] + rows[:, i + 1] * f[None, :]


def _background(scene: dict, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    size = scene["size"]
    bg = scene["background"]
    base = np.asarray(BACKGROUND_COLORS[bg["color"]], dtype=np.float32)
    rng = np.random.default_rng(scene["seed"])
    kind = bg["kind"]
    ang = bg.get("angle", 0.0)
    u = (xx * math.cos(ang) + yy * math.sin(ang)) / size
    if kind == "plain":
        mod = np.zeros_like(xx)
    elif kind == "gradient":
        mod = 0.22 * (u - 0.5)
    elif kind == "noise":
        mod = 0.10 * _smooth_noise(rng, size, 4) + 0.04 * _smooth_noise(rng, size, 12)
    elif kind == "checker":
        cell = size / 4
        phase = (np.floor(xx / cell) + np.floor(yy / cell)) % 2
        mod = 0.06 * (phase - 0.5)
    elif kind == "stripes":
        mod = 0.05 * np.sin(2 * math.pi * u * 6)
    else:
        raise ValueError(f"unknown background kind {kind!r}")
    return _unit(base[None, None, :] * (1.0 + mod[..., None]))


@functools.lru_cache(maxsize=4)
def _grid(size: int) -> np.ndarray:
    """Pixel-centre coordinates ``(yy, xx)`` of a size x size image (float32, read-only, shared)."""
    g = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    g.flags.writeable = False
    return g


def _unit(x: np.ndarray) -> np.ndarray:
    """``x`` clipped to [0, 1] (np.clip's values, without its per-call overhead on small arrays)."""
    return np.minimum(np.maximum(x, 0.0), 1.0)


def render(scene: dict) -> np.ndarray:
    """Render a scene to an ``(S, S, 3)`` uint8 RGB array (anti-aliased, deterministic)."""
    size = int(scene["size"])
    yy, xx = _grid(size)
    img = _background(scene, yy, xx)
    lx, ly = math.cos(scene["light"]), math.sin(scene["light"])
    for o in scene["objects"]:
        r = o["r"]
        wobble = float(o.get("wobble", 0.0))  # world v2: outline defect (judgenet.world.difficulty)
        reach = (1.3 + wobble) * r if wobble else 1.3 * r
        x0, x1 = max(int(o["x"] - reach - 2), 0), min(int(o["x"] + reach + 3), size)
        y0, y1 = max(int(o["y"] - reach - 2), 0), min(int(o["y"] + reach + 3), size)
        if x1 <= x0 or y1 <= y0:
            continue
        px = xx[y0:y1, x0:x1] - o["x"]
        py = yy[y0:y1, x0:x1] - o["y"]
        c, s = math.cos(o["rot"]), math.sin(o["rot"])
        qx, qy = c * px + s * py, -s * px + c * py
        d = shape_sdf(o["shape"], qx, qy, r)
        if wobble:
            th = np.arctan2(qy, qx)
            ph = o["tex_angle"]
            d = d - wobble * r * (0.6 * np.sin(3 * th + ph) + 0.4 * np.sin(5 * th + 2 * ph)).astype(np.float32)
        cover = _unit(0.5 - d)
        color = _unit(np.asarray(COLORS[o["color"]], np.float32) + np.asarray(o.get("jitter", (0, 0, 0)), np.float32))
        shade = 1.0 + 0.18 * (px * lx + py * ly) / max(r, 1.0)
        tex = o["texture"]
        if tex == "striped":
            t = qx * math.cos(o["tex_angle"]) + qy * math.sin(o["tex_angle"])
            shade = shade * (0.86 + 0.14 * np.sin(2 * math.pi * t / max(r * 0.45, 2.0)))
        elif tex == "dotted":
            period = max(r * 0.55, 2.5)
            fx = (qx / period) % 1.0 - 0.5
            fy = (qy / period) % 1.0 - 0.5
            dots = _unit(0.5 - (np.hypot(fx, fy) * period - 0.22 * period))
            shade = shade * (1.0 - 0.25 * dots)
        col = _unit(color[None, None, :] * shade[..., None])
        a = cover[..., None]
        patch = img[y0:y1, x0:x1]
        img[y0:y1, x0:x1] = patch * (1 - a) + col * a
    return (_unit(img) * 255 + 0.5).astype(np.uint8)
