"""Train judgenet's tiny CLIP-style encoder on the procedural world (simulated data).

    python -m training.tiny_clip --config training/tiny_clip.json --out judgenet/assets

* Model: an open_clip custom config (small ViT image tower, narrow transformer text tower,
  open_clip's bundled BPE tokenizer), so the shipped encoder loads through the same open_clip
  code path as real CLIP checkpoints.
* Data: clean world images (``judgenet.world``) with captions drawn from the caption grammar
  (several phrasings per scene). Training scenes use seed stream 10, held-out scenes stream 11,
  and ``make_world`` uses streams 0–2, so the evaluation scenes were never trained on.
* Objective: symmetric InfoNCE (CLIP). With ``hard_negatives`` the image→text side also
  contrasts each image against a *hard negative* caption of its own scene (one colour or shape
  swapped, the relation reversed, or one count changed), NegCLIP-style; text→image is the usual
  in-batch loss.
* Schedule: AdamW, linear warmup then cosine decay over
  ``max(step/max_steps, elapsed/time_budget, wall/wall_cap)``; training stops at whichever comes
  first. ``budget_clock: "cpu"`` measures ``elapsed`` as process CPU seconds divided by the thread
  count (what the loop would take on that many dedicated cores, assuming perfect scaling), so a
  machine shared with other jobs does not shorten training; ``"wall"`` uses the wall clock.
  With a binding time budget the number of steps depends on the machine; everything else is seeded.
* Export (:func:`export`): ``<out>/tiny-clip.json`` (open_clip model config + ``preprocess_cfg``)
  and ``<out>/tiny-clip.pt`` (plain state_dict, float16). Results go to ``training/tiny_clip_results.json``.
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

# Idle OpenMP threads sleep instead of spinning, so process CPU time measures work done, not
# time spent waiting for a core on a shared machine (matters for the "cpu" budget clock).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from judgenet.world.render import render
from judgenet.world.scenes import (
    describe,
    sample_scene,
    swap_attribute,
)

__all__ = ["load_config", "build_model", "make_dataset", "train", "evaluate", "export", "main"]

TRAIN_STREAM, EVAL_STREAM = 10, 11
_INVERSE = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}


# --------------------------------------------------------------------------------------------
# config / model
# --------------------------------------------------------------------------------------------
def load_config(path: str | os.PathLike) -> dict:
    """Read a recipe config (see ``training/tiny_clip.json``)."""
    return json.loads(Path(path).read_text())


def _register(cfg: dict, tmpdir: Path) -> str:
    import open_clip

    name = cfg.get("model_name", "tiny-clip")
    tmpdir.mkdir(parents=True, exist_ok=True)
    (tmpdir / f"{name}.json").write_text(json.dumps(cfg["model"]))
    open_clip.add_model_config(tmpdir / f"{name}.json")
    return name


def build_model(cfg: dict, workdir: Path):
    """Create the open_clip model (random init, seeded) and its tokenizer."""
    import open_clip

    name = _register(cfg, workdir / "open_clip_cfg")
    torch.manual_seed(cfg["seed"])
    pp = _pp(cfg)
    model = open_clip.create_model(name, pretrained=None, force_preprocess_cfg=pp)
    tok = open_clip.get_tokenizer(name)
    return model, tok


def _pp(cfg: dict) -> dict:
    p = cfg["preprocess"]
    return {"size": p["size"], "mean": tuple(p["mean"]), "std": tuple(p["std"]),
            "interpolation": p["interpolation"], "resize_mode": p["resize_mode"]}


def to_tensor(images: np.ndarray, cfg: dict) -> torch.Tensor:
    """uint8 (N, H, W, 3) → normalized float32 (N, 3, H, W), exactly as open_clip's eval transform
    (ToTensor + Normalize) does for images already at the model size."""
    p = cfg["preprocess"]
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255.0)
    mean = torch.tensor(p["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(p["std"]).view(1, 3, 1, 1)
    return (x - mean) / std


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------
def make_dataset(n: int, seed: int, stream: int, size: int = 64) -> tuple[list[dict], np.ndarray]:
    """``n`` clean world scenes and their renderings (uint8 N×S×S×3)."""
    scenes = [sample_scene(np.random.default_rng([seed, stream, i]), size) for i in range(n)]
    images = np.stack([render(s) for s in scenes]) if n else np.zeros((0, size, size, 3), np.uint8)
    return scenes, images


def hard_negative(scene: dict, variant: int, rng: np.random.Generator,
                  p_relation: float = 0.25, p_count: float = 0.15) -> str:
    """A caption of the same phrasing that is false for the scene: the relation reversed (with
    probability ``p_relation``, two-group scenes), one count changed (``p_count``), else one colour
    or shape swapped."""
    bg = scene["background"]["color"]
    r = rng.random()
    if scene["relation"] is not None and r < p_relation:
        return describe(scene["groups"], _INVERSE[scene["relation"]], bg, variant)
    if r < p_relation + p_count:
        groups = copy.deepcopy(scene["groups"])
        g = groups[int(rng.integers(len(groups)))]
        total = sum(x["count"] for x in groups)
        if g["count"] > 1 and (total >= 4 or rng.random() < 0.5):
            g["count"] -= 1
        elif total < 4:
            g["count"] += 1
        else:
            g["count"] = max(1, g["count"] - 1)
        if groups != scene["groups"]:
            return describe(groups, scene["relation"], bg, variant)
    groups, _ = swap_attribute(scene, rng)
    return describe(groups, scene["relation"], bg, variant)


def _captions(scenes, idx, rng, hard: bool, mix: dict | None = None):
    mix = mix or {}
    pos, neg = [], []
    for i in idx:
        sc = scenes[i]
        v = int(rng.integers(0, 10_000))
        pos.append(describe(sc["groups"], sc["relation"], sc["background"]["color"], v))
        if hard:
            neg.append(hard_negative(sc, v, rng, mix.get("relation", 0.25), mix.get("count", 0.15)))
    return pos, neg


# --------------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------------
def _lr(step: int, progress: float, tc: dict) -> float:
    if step < tc["warmup_steps"]:
        return tc["lr"] * (step + 1) / tc["warmup_steps"]
    return tc["lr"] * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def train(cfg: dict, workdir: str | os.PathLike, log=print) -> tuple[torch.nn.Module, object, dict]:
    """Train per ``cfg``; returns ``(model, tokenizer, info)`` with timings and the loss curve."""
    workdir = Path(workdir)
    tc, dc = cfg["train"], cfg["data"]
    torch.set_num_threads(int(tc.get("threads", 2)))
    np.random.seed(cfg["seed"])
    t_start = time.perf_counter()
    model, tok = build_model(cfg, workdir)
    scenes, images = make_dataset(dc["n_train"], cfg["seed"], TRAIN_STREAM, dc["image_size"])
    t_data = time.perf_counter() - t_start
    log(f"data: {len(scenes)} scenes rendered in {t_data:.1f}s; params "
        f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f}M", flush=True)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embedding" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embedding" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": tc["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}], lr=tc["lr"], betas=(0.9, 0.98), eps=1e-6)
    rng = np.random.default_rng([cfg["seed"], 3])
    bs = min(tc["batch_size"], len(scenes))
    hard = bool(dc.get("hard_negatives", True))
    budget = float(tc["time_budget_s"])
    clock = tc.get("budget_clock", "wall")
    nthreads = max(torch.get_num_threads(), 1)
    losses = []
    model.train()
    t0 = time.perf_counter()
    c0 = time.process_time()

    def _elapsed() -> float:
        # "cpu": process CPU seconds per thread, i.e. the time the loop would take on
        # `threads` dedicated cores; robust to other jobs sharing the machine. "wall": wall clock.
        if clock == "cpu":
            return (time.process_time() - c0) / nthreads
        return time.perf_counter() - t0

    wall_cap = float(tc.get("wall_cap_s", float("inf")))
    step = 0
    stop_reason = "max_steps"
    while step < tc["max_steps"]:
        elapsed = _elapsed()
        wall = time.perf_counter() - t0
        progress = max(step / tc["max_steps"], elapsed / budget, wall / wall_cap)
        if elapsed >= budget or wall >= wall_cap:
            stop_reason = "time_budget" if elapsed >= budget else "wall_cap"
            break
        for g in opt.param_groups:
            g["lr"] = _lr(step, progress, tc)
        idx = rng.choice(len(scenes), size=bs, replace=False)
        pos, neg = _captions(scenes, idx, rng, hard, dc.get("hard_negative_mix"))
        x = to_tensor(images[idx], cfg)
        text = tok(pos + neg)
        img_f = F.normalize(model.encode_image(x), dim=-1)
        txt_f = F.normalize(model.encode_text(text), dim=-1)
        scale = model.logit_scale.exp().clamp(max=100)
        logits_i = scale * img_f @ txt_f.T  # (B, B or 2B)
        logits_t = scale * txt_f[:bs] @ img_f.T  # (B, B)
        target = torch.arange(bs)
        loss = 0.5 * (F.cross_entropy(logits_i, target) + F.cross_entropy(logits_t, target))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        losses.append(float(loss.detach()))
        step += 1
        if step % tc.get("log_every", 25) == 0:
            log(f"step {step} loss {np.mean(losses[-tc.get('log_every', 25):]):.4f} "
                f"lr {opt.param_groups[0]['lr']:.2e} scale {float(scale.detach()):.1f} wall {time.perf_counter() - t0:.0f}s "
                f"budget-clock {_elapsed():.0f}s", flush=True)
    t_train = time.perf_counter() - t0
    cpu_train = time.process_time() - c0
    model.eval()
    info = {
        "steps": step,
        "stop_reason": stop_reason,
        "budget_clock": clock,
        "time_budget_s": budget,
        "train_cpu_seconds": round(cpu_train, 1),
        "train_cpu_seconds_per_thread": round(cpu_train / nthreads, 1),
        "batch_size": bs,
        "train_seconds": round(t_train, 1),
        "data_seconds": round(t_data, 1),
        "final_loss": float(np.mean(losses[-50:])) if losses else None,
        "loss_curve": [round(float(np.mean(losses[i:i + 50])), 4) for i in range(0, len(losses), 50)],
        "threads": torch.get_num_threads(),
    }
    return model, tok, info


# --------------------------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------------------------
@torch.no_grad()
def encode(model, tok, images: np.ndarray, texts: list[str], cfg: dict, batch: int = 256):
    """L2-normalized image and text embeddings (float32 tensors)."""
    ims = [F.normalize(model.encode_image(to_tensor(images[i:i + batch], cfg)), dim=-1)
           for i in range(0, len(images), batch)]
    txs = [F.normalize(model.encode_text(tok(texts[i:i + batch])), dim=-1) for i in range(0, len(texts), batch)]
    return (torch.cat(ims) if ims else torch.zeros(0)), (torch.cat(txs) if txs else torch.zeros(0))


def _recall(sim: torch.Tensor, k: int) -> float:
    ranks = (sim > sim.diag()[:, None]).sum(1)  # number of candidates strictly better than the truth
    return float((ranks < k).float().mean())


@torch.no_grad()
def evaluate(model, tok, cfg: dict, n: int | None = None, pool: int | None = None) -> dict:
    """Held-out retrieval (i→t, t→i Recall@1/@5 among ``pool``) and attribute-swap accuracy."""
    ec = cfg["eval"]
    n = int(n or ec["n_heldout"])
    pool = int(pool or ec["pool"])
    scenes, images = make_dataset(n, ec["seed"], EVAL_STREAM, cfg["data"]["image_size"])
    rng = np.random.default_rng([ec["seed"], 5])
    variants = [int(rng.integers(0, 10_000)) for _ in scenes]
    caps = [describe(s["groups"], s["relation"], s["background"]["color"], v) for s, v in zip(scenes, variants)]
    kinds = []
    swapped = []
    for s, v in zip(scenes, variants):
        g, kind = swap_attribute(s, rng)
        kinds.append(kind)
        swapped.append(describe(g, s["relation"], s["background"]["color"], v))
    flips = [(i, describe(s["groups"], _INVERSE[s["relation"]], s["background"]["color"], v))
             for i, (s, v) in enumerate(zip(scenes, variants)) if s["relation"] is not None]
    img, txt = encode(model, tok, images, caps, cfg)
    _, txt_swap = encode(model, tok, images[:0], swapped, cfg)
    _, txt_flip = encode(model, tok, images[:0], [f for _, f in flips], cfg)
    r = {"i2t_r1": [], "i2t_r5": [], "t2i_r1": [], "t2i_r5": []}
    for s in range(0, n - pool + 1, pool):
        sim = img[s:s + pool] @ txt[s:s + pool].T
        r["i2t_r1"].append(_recall(sim, 1))
        r["i2t_r5"].append(_recall(sim, 5))
        r["t2i_r1"].append(_recall(sim.T, 1))
        r["t2i_r5"].append(_recall(sim.T, 5))
    out = {k: round(float(np.mean(v)), 4) for k, v in r.items()}
    pos = (img * txt).sum(1)
    neg = (img * txt_swap).sum(1)
    correct = (pos > neg).numpy()
    kinds = np.array(kinds)
    out["swap_acc"] = round(float(correct.mean()), 4)
    out["swap_acc_color"] = round(float(correct[kinds == "color"].mean()), 4)
    out["swap_acc_shape"] = round(float(correct[kinds == "shape"].mean()), 4)
    if flips:
        fi = torch.tensor([i for i, _ in flips])
        out["relation_flip_acc"] = round(float(((img[fi] * txt[fi]).sum(1) > (img[fi] * txt_flip).sum(1)).float().mean()), 4)
    out["n_heldout"] = n
    out["pool"] = pool
    out["chance_r1"] = round(1.0 / pool, 4)
    out["chance_r5"] = round(5.0 / pool, 4)
    return out


# --------------------------------------------------------------------------------------------
# export
# --------------------------------------------------------------------------------------------
def export(model, cfg: dict, out: str | os.PathLike) -> dict:
    """Write ``tiny-clip.json`` (model cfg + preprocess_cfg) and ``tiny-clip.pt`` (fp16 state_dict)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    name = cfg.get("model_name", "tiny-clip")
    model_json = dict(cfg["model"])
    pp = _pp(cfg)
    model_json["preprocess_cfg"] = {**pp, "mean": list(pp["mean"]), "std": list(pp["std"])}
    (out / f"{name}.json").write_text(json.dumps(model_json, indent=2) + "\n")
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    tmp = out / f"{name}.pt.tmp"
    torch.save(state, tmp)
    os.replace(tmp, out / f"{name}.pt")
    data = (out / f"{name}.pt").read_bytes()
    return {"checkpoint_bytes": len(data), "checkpoint_sha256": hashlib.sha256(data).hexdigest(),
            "n_params": int(sum(v.numel() for v in state.values()))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="training/tiny_clip.json")
    ap.add_argument("--out", default="judgenet/assets")
    ap.add_argument("--workdir", default=None, help="scratch dir (default: <out>/../.tiny-clip-work or a temp dir)")
    ap.add_argument("--time-budget", type=float, default=None, help="override train.time_budget_s (seconds)")
    ap.add_argument("--max-steps", type=int, default=None)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--results", default="training/tiny_clip_results.json")
    args = ap.parse_args(argv)
    cfg = load_config(args.config)
    if args.time_budget is not None:
        cfg["train"]["time_budget_s"] = args.time_budget
    if args.max_steps is not None:
        cfg["train"]["max_steps"] = args.max_steps
    if args.threads is not None:
        cfg["train"]["threads"] = args.threads
    import tempfile

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="tiny-clip-"))
    t0 = time.perf_counter()
    model, tok, info = train(cfg, workdir)
    t_eval = time.perf_counter()
    metrics = evaluate(model, tok, cfg)
    info["eval_seconds"] = round(time.perf_counter() - t_eval, 1)
    files = export(model, cfg, args.out)
    info["total_seconds"] = round(time.perf_counter() - t0, 1)
    import open_clip

    results = {"config": cfg, "train": info, "heldout": metrics, "export": files,
               "versions": {"torch": torch.__version__, "open_clip": open_clip.__version__, "python": sys.version.split()[0]},
               "simulated": True}
    print(json.dumps({"train": {k: v for k, v in info.items() if k != "loss_curve"}, "heldout": metrics, "export": files}, indent=2))
    if args.results:
        Path(args.results).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
