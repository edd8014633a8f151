"""extract with DataLoader worker processes or decoding threads: same features, failures listed,
--strict errors stay one line, torch's thread count restored, an interrupted run keeps its rows."""
import importlib

import numpy as np
import pytest
import torch
from PIL import Image

from judgenet.backbones import load_backbone
from judgenet.errors import ImageError
from judgenet.embeddings import extract

E = importlib.import_module("judgenet.embeddings.extract")


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
    r2 = extract(inputs, tiny, cache_dir=tmp_path / "c2", batch_size=2, progress=False)  # decoding threads
    for r in (r1, r2):
        np.testing.assert_array_equal(r0.images["embedding"], r.images["embedding"])
        assert [f.path for f in r.failures] == [str(bad)] and r.n_computed == 5
        assert np.isnan(r.images["embedding"][2]).all()
    for workers in (0, 1, None):
        with pytest.raises(ImageError) as ei:
            extract(inputs, tiny, cache_dir=tmp_path / f"s{workers}", batch_size=2, num_workers=workers,
                    strict=True, progress=False)
        msg = str(ei.value)
        assert "\n" not in msg and str(bad) in msg and "Traceback" not in msg


@pytest.mark.parametrize("cpus,n,workers,on_cpu,expected", [
    (2, 300, None, True, (0, 1, 1)),     # 2 cores: one decoding thread, torch on the other core
    (16, 300, None, True, (0, 4, 12)),
    (8, 300, None, True, (0, 2, 6)),
    (2, 64, None, True, (0, 0, 2)),      # a single batch: nothing beside the main thread
    (1, 300, None, True, (0, 0, 1)),     # one usable CPU
    (16, 300, None, False, (8, 0, 16)),  # accelerator: DataLoader processes, threads untouched
    (2, 300, 1, True, (1, 0, 1)),        # explicit worker processes on CPU leave them their core
    (2, 300, 0, True, (0, 0, 2)),
])
def test_plan_splits_cores_between_decoding_and_the_forward(monkeypatch, cpus, n, workers, on_cpu, expected):
    monkeypatch.setattr(E, "_usable_cpus", lambda: cpus)
    monkeypatch.setattr(torch, "get_num_threads", lambda: cpus)  # torch's default: one per CPU
    assert E._plan(n, 64, workers, on_cpu) == expected


class _Interrupting:
    """Wraps a backbone; its ``n``-th forward raises KeyboardInterrupt (Ctrl-C during a run)."""

    def __init__(self, bb, n):
        self.bb, self.n, self.calls = bb, n, 0

    def __getattr__(self, name):
        return getattr(self.bb, name)

    def forward_images(self, xs):
        self.calls += 1
        if self.calls == self.n:
            raise KeyboardInterrupt
        return self.bb.forward_images(xs)


@pytest.mark.parametrize("workers", [None, 0])
def test_interrupted_run_keeps_finished_rows_and_restores_threads(tiny, tmp_path, monkeypatch, workers):
    monkeypatch.setattr(E, "_usable_cpus", lambda: 2)
    rng = np.random.default_rng(1)
    (tmp_path / "img").mkdir()
    paths = []
    for i in range(40):
        paths.append(tmp_path / "img" / f"{i}.png")
        Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8), "RGB").save(paths[-1])
    before = torch.get_num_threads()
    # CPU forward chunks of 16: chunks 1-2 (32 images) are done when the 3rd forward is interrupted;
    # they sit below batch_size=64, so only the interrupt handler can have written them
    with pytest.raises(KeyboardInterrupt):
        extract(paths, _Interrupting(tiny, 3), cache_dir=tmp_path / "c", batch_size=64, num_workers=workers,
                progress=False)
    assert torch.get_num_threads() == before
    again = _Interrupting(tiny, 0)
    r = extract(paths, again, cache_dir=tmp_path / "c", batch_size=64, num_workers=workers, progress=False)
    assert (r.n_cached, r.n_computed, again.calls) == (32, 8, 1)
    ref = extract(paths, tiny, cache_dir=tmp_path / "fresh", num_workers=0, progress=False)
    np.testing.assert_array_equal(r.images["embedding"], ref.images["embedding"])


def test_nccl_rank_must_hold_its_backbone_on_its_own_gpu(monkeypatch):
    """Checked before any process group is created, so this runs without GPUs."""
    from judgenet.errors import ConfigError
    from judgenet.embeddings.extract import _dist_context

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    for device in ("cuda", "cuda:0"):
        with pytest.raises(ConfigError, match="cuda:{LOCAL_RANK}"):
            _dist_context(None, device)
