"""extract on in-memory images (PIL / uint8 arrays / a torch Dataset), mixed with files."""
import numpy as np
import pytest
import torch
from PIL import Image

from judgenet.backbones import load_backbone
from judgenet.errors import ConfigError
from judgenet.embeddings import extract, read_features, sha256_image
from judgenet.images import load_rgb, to_rgb


@pytest.fixture(scope="module")
def tiny():
    return load_backbone("tiny")


def _arr(seed, shape=(20, 30, 3)):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def test_in_memory_mixed_with_files(tiny, tmp_path):
    a, b = _arr(0), _arr(1)
    f = tmp_path / "b.png"
    Image.fromarray(b).save(f)
    inputs = [Image.fromarray(a), str(f), a, Image.fromarray(b)]  # PIL a, file b, array a, PIL b
    r = extract(inputs, tiny, tmp_path / "c", batch_size=2, num_workers=1, progress=False)
    e = r.images["embedding"]
    assert e.shape == (4, tiny.embed_dim) and np.isfinite(e).all() and r.failures == []
    assert r.keys[0] == r.keys[2] == sha256_image(a) and r.keys[3] == sha256_image(Image.fromarray(b))
    assert r.keys[1] != r.keys[3]  # file bytes vs pixels: different keys, same numbers
    assert r.n_computed == 3 and r.paths[0].startswith("<image 0:") and r.paths[1] == str(f)
    np.testing.assert_array_equal(e[0], e[2])
    np.testing.assert_allclose(e[1], e[3], atol=1e-6)
    ref = tiny.encode_images(tiny.transform(load_rgb(f))[None]).numpy()[0]
    np.testing.assert_allclose(e[1], ref, atol=1e-5)
    again = extract([a, Image.fromarray(b)], tiny, tmp_path / "c", progress=False)
    assert again.n_computed == 0 and again.n_cached == 2
    found, feats = read_features([Image.fromarray(a), str(f)], tiny, tmp_path / "c")
    assert found.all()
    np.testing.assert_array_equal(feats, e[:2])


def test_dataset_and_conversion_rules(tiny, tmp_path):
    class DS(torch.utils.data.Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return _arr(10 + i, (16, 16, 4))  # RGBA arrays: alpha composited on white

    r = extract(DS(), tiny, tmp_path / "c", progress=False)
    assert r.images["embedding"].shape == (3, tiny.embed_dim) and r.n_computed == 3
    rgba = np.zeros((2, 2, 4), np.uint8)  # fully transparent → white
    assert np.asarray(to_rgb(rgba)).tolist() == [[[255, 255, 255]] * 2] * 2
    assert to_rgb(np.full((3, 4), 7, np.uint8)).getpixel((0, 0)) == (7, 7, 7)
    with pytest.raises(ConfigError, match="uint8"):
        extract([np.zeros((4, 4, 3), np.float32)], tiny, tmp_path / "c", progress=False)
    with pytest.raises(ConfigError, match="PIL image"):
        extract([42], tiny, tmp_path / "c", progress=False)
