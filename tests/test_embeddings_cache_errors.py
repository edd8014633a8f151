"""Feature cache I/O errors surface as CacheError (one clear line), leaving no partial shard behind."""
import numpy as np
import pytest

from judgenet.errors import CacheError
from judgenet.embeddings import FeatureCache

FP = {"arch": "test", "dtype": "float32"}


def test_unwritable_cache_directory(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(CacheError, match="cannot create the feature cache directory.*--cache"):
        FeatureCache(blocker / "features", FP, "0123456789abcdef")


def test_failed_shard_write_leaves_nothing(tmp_path, monkeypatch):
    cache = FeatureCache(tmp_path / "features", FP, "0123456789abcdef")
    keys = ["a" * 64, "b" * 64]
    real_save = np.save

    def disk_full(path, arr, *a, **k):
        real_save(path, arr[:1], *a, **k)  # a partial file, then the error
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "save", disk_full)
    with pytest.raises(CacheError, match="No space left on device"):
        cache.put("images", keys, {"embedding": np.ones((2, 3), np.float32)})
    monkeypatch.setattr(np, "save", real_save)
    images = tmp_path / "features" / "0123456789abcdef" / "images"
    assert list(images.iterdir()) == []  # no .tmp-* and no shard
    assert not cache.contains("images", keys).any()
    cache.put("images", keys, {"embedding": np.ones((2, 3), np.float32)})  # works again afterwards
    found, arr = cache.lookup(keys)
    assert found.all() and arr.shape == (2, 3)
