"""inception:fid preprocessing (TF1 bilinear resize as torchmetrics/torch-fidelity) and IS logits."""
import numpy as np
import pytest
import torch
from PIL import Image

from judgenet.backbones import load_backbone
from judgenet.backbones.inception import SIZE, resize_bilinear_tf1


def _tf1_reference(a: np.ndarray, h_out: int, w_out: int) -> np.ndarray:
    """Loop transcription of TF 1.x resize_bilinear(align_corners=False), float64, (H, W) → (h_out, w_out)."""
    h_in, w_in = a.shape
    out = np.empty((h_out, w_out))
    scale_y, scale_x = np.float32(h_in / h_out), np.float32(w_in / w_out)  # TF computes these in float32
    for i in range(h_out):
        sy = float(np.float32(i) * scale_y)
        y0 = int(np.floor(sy))
        y1, fy = min(y0 + 1, h_in - 1), sy - y0
        for j in range(w_out):
            sx = float(np.float32(j) * scale_x)
            x0 = int(np.floor(sx))
            x1, fx = min(x0 + 1, w_in - 1), sx - x0
            top = a[y0, x0] + (a[y0, x1] - a[y0, x0]) * fx
            bot = a[y1, x0] + (a[y1, x1] - a[y1, x0]) * fx
            out[i, j] = top + (bot - top) * fy
    return out


def test_tf1_resize_small_exact_pattern():
    # 1×2 → 1×4: TF1 samples at 0, .5, 1, 1.5 → [a, (a+b)/2, b, b] (torch's half-pixel bilinear would not)
    x = torch.tensor([[[0.0, 100.0]]])
    assert resize_bilinear_tf1(x, (1, 4)).flatten().tolist() == [0.0, 50.0, 100.0, 100.0]
    torch_bilinear = torch.nn.functional.interpolate(x[None], size=(1, 4), mode="bilinear", align_corners=False)
    assert torch_bilinear.flatten().tolist() != [0.0, 50.0, 100.0, 100.0]


@pytest.mark.parametrize("shape", [(17, 40), (512, 300), (299, 299)])
def test_tf1_resize_matches_loop_reference(shape):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, shape).astype(np.float32)
    got = resize_bilinear_tf1(torch.from_numpy(a)[None], (SIZE, SIZE))[0].numpy()
    assert got.shape == (SIZE, SIZE) and got.dtype == np.float32
    np.testing.assert_allclose(got, _tf1_reference(a.astype(np.float64), SIZE, SIZE), atol=1e-3)
    if shape == (SIZE, SIZE):
        assert np.array_equal(got, a)


def test_transform_and_logits_unbiased():
    inc = load_backbone("inception:fid", allow_random=True)
    rng = np.random.default_rng(1)
    img = Image.fromarray(rng.integers(0, 256, (50, 70, 3), dtype=np.uint8), "RGB")
    x = inc.transform(img)
    a = np.asarray(img, dtype=np.float64)
    ref = np.stack([_tf1_reference(a[..., c], SIZE, SIZE) for c in range(3)])
    np.testing.assert_allclose(x.numpy(), (ref - 128) / 128, atol=2e-5)
    # a 299×299 image is only rescaled
    sq = Image.fromarray(rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8), "RGB")
    assert torch.equal(inc.transform(sq), (torch.from_numpy(np.asarray(sq).copy()).permute(2, 0, 1).float() - 128) / 128)
    out = inc.forward_images(x[None])
    assert set(out) == set(inc.outputs) == {"pool", "logits", "logits_unbiased"}
    assert out["logits_unbiased"].shape == (1, 1008)
    bias = inc.model.fc.bias.detach()
    assert 1e-3 < float(out["pool"].abs().mean()) < 1e3  # random weights, but a sane scale
    assert torch.allclose(out["logits"] - out["logits_unbiased"], bias[None], atol=1e-4)
    assert torch.allclose(out["logits_unbiased"], out["pool"] @ inc.model.fc.weight.detach().T, atol=1e-4)


def test_torch_fidelity_file_name_is_found(tmp_path, monkeypatch):
    from judgenet.backbones import file_sha256
    from judgenet.backbones.inception import TORCH_FIDELITY_WEIGHTS_FILE

    monkeypatch.delenv("JUDGENET_WEIGHTS_DIR", raising=False)
    inc = load_backbone("inception:fid", allow_random=True)
    torch.save(inc.model.state_dict(), tmp_path / TORCH_FIDELITY_WEIGHTS_FILE)
    got = load_backbone("inception:fid", weights_dir=tmp_path)
    assert got.name == "inception:fid"
    assert got.fingerprint["weights_sha256"] == file_sha256(tmp_path / TORCH_FIDELITY_WEIGHTS_FILE)
