"""Where item-score variance lies — real label sets beside the built-in world (issue 26, item 1).

    python benchmarks/generalization/variance.py [--labels ../shared/label-sets] [--worlds v1,v2] [--no-world]

Estimator: :func:`judgenet.world.variance.variance_components` (random-effects ANOVA: two-way crossed
balanced prompt x system with one item per cell, or one-way unbalanced by prompt; negative estimates set to
0). Item score: THumB ``human_score`` / P / R of one (image, system) caption; Flickr8k-Expert the mean of the
three expert scores of one (image, candidate) pair (the SPICE/CLIPScore protocol's 5,664 pairs);
Flickr8k-CF the share of yes votes of one pair (all 47,830); the world: the mean of the 5 simulated raters'
scores of one generated item (the demo's sizes and seed 0; system = generator x severity). Prints one
markdown table (the one pasted in ``data_cards/world-simulated.md``).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from judgenet.world.variance import item_score_components, variance_components  # noqa: E402

HEADER = ("| set | question | design | between prompts/images | between systems | residual |\n"
          "|---|---|---|---:|---:|---:|")


def _line(name: str, q: str, vc) -> str:
    d = vc.design
    design = f"{d['n_prompts']} prompts"
    design += f" x {d['n_systems']} systems" if "n_systems" in d else f", {d['n_items']} items (one-way)"
    sh = vc.shares
    system = f"{100 * sh['system']:.1f}%" if "system" in sh else "—"
    return f"| {name} | {q} | {design} | {100 * sh['prompt']:.1f}% | {system} | {100 * sh['residual']:.1f}% |"


def real_rows(labels_root) -> list[str]:
    from judgenet.labels.loaders.flickr8k import load_flickr8k_cf, load_flickr8k_expert
    from judgenet.labels.loaders.thumb import load_thumb

    out = []
    thumb = load_thumb(labels_root).frame
    for q in ("human_score", "precision", "recall"):
        f = thumb[thumb["question"] == q]
        out.append(_line("THumB, 5 systems", q, variance_components(f["score"], f["seg_id"], f["generator"])))
        g = f[f["generator"] != "Human"]
        out.append(_line("THumB, 4 machine systems", q, variance_components(g["score"], g["seg_id"], g["generator"])))
    ex = load_flickr8k_expert(labels_root).aggregate("describes")
    out.append(_line("Flickr8k-Expert", "describes (mean of 3)",
                     variance_components(ex["score"], ex["image"])))
    cf = load_flickr8k_cf(labels_root).frame
    out.append(_line("Flickr8k-CF", "describes (yes share)", variance_components(cf["score"], cf["image"])))
    return out


def world_rows(versions, tmp: Path) -> tuple[list[str], list[str]]:
    from judgenet.jobs.demo import SIZES
    from judgenet.world import make_world, simulate_raters

    out, notes = [], []
    for v in versions:
        for fast in (True, False):
            s = SIZES[fast]
            w = make_world(tmp / f"{v}-{'fast' if fast else 'full'}", n_real=s["n_real"],
                           n_per_generator=s["n_per_generator"], severities=s["severities"], seed=0, world=v)
            r = simulate_raters(w, n_raters=5, seed=0)
            labels = r.to_labelsets()[0]
            name = f"world {v}, {'fast' if fast else 'full'} demo"
            for q in ("realism", "alignment", "overall"):
                out.append(_line(name, q, item_score_components(labels, q, manifest=w.manifest)))
            g = item_score_components(labels, "realism", manifest=w.manifest, system="generator")
            ga = item_score_components(labels, "alignment", manifest=w.manifest, system="generator")
            notes.append(f"* {name}: rater agreement realism {r.agreement['realism']:.3f} / alignment "
                         f"{r.agreement['alignment']:.3f} (noise {r.noise:.3f}); with system = generator (severities "
                         f"as replicates) between generators {100 * g.shares['system']:.1f}% realism, "
                         f"{100 * ga.shares['system']:.1f}% alignment")
    return out, notes


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labels", default=str(ROOT.parent / "shared" / "label-sets"))
    ap.add_argument("--worlds", default="v1,v2")
    ap.add_argument("--no-world", action="store_true")
    args = ap.parse_args(argv)
    rows = real_rows(args.labels)
    notes: list[str] = []
    if not args.no_world:
        with tempfile.TemporaryDirectory(prefix="jn-variance-") as tmp:
            w, notes = world_rows([v.strip() for v in args.worlds.split(",") if v.strip()], Path(tmp))
            rows += w
    print(HEADER)
    print("\n".join(rows))
    if notes:
        print()
        print("\n".join(notes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
