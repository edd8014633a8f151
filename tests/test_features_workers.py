"""extract with DataLoader worker processes: same features, failures listed, --strict errors stay one line."""
import numpy as np
import pytest
from PIL import Image

from judgenet.backbones import load_backbone
from judgenet.errors import ImageError
from judgenet.features import extract


@pytest.fixture(scope="module")
def tiny():
    return load_backbone("tiny")


def _files(d):
    d.mkdir()
    rng = np.random.default_rng(0)
    paths = []
    for i in range(5):
        p = d / f"{i}.png"
        Image.fromarray(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8), "RGB").save(p)
        paths.append(p)
    bad = d / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    return paths, bad


def test_workers_match_in_process_and_strict_error_is_one_line(tiny, tmp_path):
    paths, bad = _files(tmp_path / "img")
    inputs = paths[:2] + [bad] + paths[2:]
    r0 = extract(inputs, tiny, cache_dir=tmp_path / "c0", batch_size=2, num_workers=0, progress=False)
    r1 = extract(inputs, tiny, cache_dir=tmp_path / "c1", batch_size=2, num_workers=1, progress=False)
    np.testing.assert_array_equal(r0.images["embedding"], r1.images["embedding"])
    assert [f.path for f in r1.failures] == [str(bad)] and r1.n_computed == 5
    assert np.isnan(r1.images["embedding"][2]).all()
    for workers in (0, 1):
        with pytest.raises(ImageError) as ei:
            extract(inputs, tiny, cache_dir=tmp_path / f"s{workers}", batch_size=2, num_workers=workers,
                    strict=True, progress=False)
        msg = str(ei.value)
        assert "\n" not in msg and str(bad) in msg and "Traceback" not in msg


def test_nccl_rank_must_hold_its_backbone_on_its_own_gpu(monkeypatch):
    """Checked before any process group is created, so this runs without GPUs."""
    from judgenet.errors import ConfigError
    from judgenet.features.extract import _dist_context

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    for device in ("cuda", "cuda:0"):
        with pytest.raises(ConfigError, match="cuda:{LOCAL_RANK}"):
            _dist_context(None, device)
