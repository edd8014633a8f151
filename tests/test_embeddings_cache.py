"""judgenet.embeddings: content-addressed cache, resumable/locked/verified shards, extract, torchrun.

Cache mechanics are exercised with a small deterministic torch-only backbone (``FAKE`` below,
written to a module so subprocesses can import it without open_clip); one test runs the real
``tiny`` backbone end to end with prompts.
"""
import importlib.util
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from judgenet.errors import CacheError, ConfigError, ImageError
from judgenet.embeddings import FeatureCache, extract, read_features

FAKE = textwrap.dedent('''
    """A deterministic torch-only backbone with two outputs (test double for cache mechanics)."""
    import hashlib, json, os, signal, time
    import numpy as np
    import torch

    class FakeBackbone:
        outputs = ("embedding", "aux")
        has_text = True
        device = "cpu"
        embed_dim = 8

        def __init__(self, scale=1.0, die_on_call=None, sleep=0.0):
            self.name = "fake"
            self.scale, self.die_on_call, self.sleep, self.calls = scale, die_on_call, sleep, 0
            g = torch.Generator().manual_seed(0)
            self.w = torch.randn(3 * 8 * 8, 8, generator=g) * scale
            self.fingerprint = {"arch": "fake", "scale": scale, "dtype": "float32"}
            canon = json.dumps(self.fingerprint, sort_keys=True)
            self.fingerprint_hash = hashlib.sha256(canon.encode()).hexdigest()[:16]

        def transform(self, img):
            a = np.asarray(img.resize((8, 8)), dtype=np.float32) / 255.0
            return torch.from_numpy(a).permute(2, 0, 1).contiguous()

        def forward_images(self, batch):
            self.calls += 1
            if self.die_on_call is not None and self.calls == self.die_on_call:
                os.kill(os.getpid(), signal.SIGKILL)  # killed mid-run, like an OOM kill
            if self.sleep:
                time.sleep(self.sleep)
            e = batch.flatten(1) @ self.w
            return {"embedding": e, "aux": e[:, :3] * 2}

        def encode_images(self, batch):
            return self.forward_images(batch)["embedding"]

        def encode_texts(self, texts):
            return torch.tensor([[float(len(t)), float(sum(map(ord, t)) % 97)] for t in texts])
''')

RUNNER = textwrap.dedent('''
    import json, sys
    sys.path.insert(0, sys.argv[1])
    from fakebb import FakeBackbone
    from judgenet.embeddings import extract
    die = int(sys.argv[3]) if sys.argv[3] != "-" else None
    bb = FakeBackbone(die_on_call=die, sleep=float(sys.argv[4]))
    r = extract(sys.argv[5:], bb, sys.argv[2], batch_size=2, progress=False)
    out = r.images["embedding"]
    print(json.dumps({"computed": r.n_computed, "cached": r.n_cached, "calls": bb.calls,
                      "emb": out.tolist()}))
''')


@pytest.fixture()
def fake(tmp_path):
    d = tmp_path / "mod"
    d.mkdir()
    (d / "fakebb.py").write_text(FAKE)
    (d / "runner.py").write_text(RUNNER)
    spec = importlib.util.spec_from_file_location("fakebb", d / "fakebb.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.dir = d
    return mod


def _png(path, seed, size=16):
    Image.fromarray((np.random.default_rng(seed).random((size, size, 3)) * 255).astype("uint8")).save(path)
    return str(path)


def _images(tmp_path, n, start=0):
    d = tmp_path / "img"
    d.mkdir(exist_ok=True)
    return [_png(d / f"{i}.png", i) for i in range(start, start + n)]


def _shards(cache, bb, kind="images"):
    return sorted((Path(cache) / "features" / bb.fingerprint_hash / kind).glob("shard-*"))


def _run(fake, cache, paths, die="-", sleep=0.0, wait=True):
    cmd = [sys.executable, str(fake.dir / "runner.py"), str(fake.dir), str(cache), str(die), str(sleep), *paths]
    if not wait:
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_extract_values_alignment_and_rename_reuse(fake, tmp_path):
    bb = fake.FakeBackbone()
    paths = _images(tmp_path, 5)
    shutil.copy(paths[1], tmp_path / "img" / "dup.png")  # same content under another name
    paths.append(str(tmp_path / "img" / "dup.png"))
    r1 = extract(paths, bb, tmp_path / "c", batch_size=2, progress=False)
    assert r1.n_computed == 5 and r1.n_cached == 0 and bb.calls == 3  # duplicate computed once
    emb = r1.images["embedding"]
    assert emb.shape == (6, 8) and emb.dtype == np.float32 and r1.images["aux"].shape == (6, 3)
    ref = bb.forward_images(__import__("torch").stack([bb.transform(Image.open(p).convert("RGB")) for p in paths]))
    np.testing.assert_allclose(emb, ref["embedding"].numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(emb[1], emb[5])
    assert len(set(r1.keys)) == 5
    # rename + reorder: nothing recomputed, rows follow the new order
    os.rename(paths[0], tmp_path / "img" / "renamed.png")
    new = [paths[3], str(tmp_path / "img" / "renamed.png"), paths[2]]
    bb2 = fake.FakeBackbone()
    r2 = extract(new, bb2, tmp_path / "c", progress=False)
    assert r2.n_computed == 0 and r2.n_cached == 3 and bb2.calls == 0
    np.testing.assert_array_equal(r2.images["embedding"], emb[[3, 0, 2]])
    np.testing.assert_array_equal(r2.images["aux"], r1.images["aux"][[3, 0, 2]])


def test_fingerprint_change_recomputes_and_foreign_fingerprint_rejected(fake, tmp_path):
    paths = _images(tmp_path, 3)
    a = extract(paths, fake.FakeBackbone(1.0), tmp_path / "c", progress=False)
    b = extract(paths, fake.FakeBackbone(2.0), tmp_path / "c", progress=False)
    assert b.n_computed == 3
    np.testing.assert_allclose(b.images["embedding"], 2 * a.images["embedding"], rtol=1e-5)
    FeatureCache(tmp_path / "x", {"a": 1}, "abcd")
    with pytest.raises(CacheError, match="different backbone fingerprint"):
        FeatureCache(tmp_path / "x", {"a": 2}, "abcd")
    with pytest.raises(CacheError, match="fingerprint_hash"):
        FeatureCache(tmp_path / "x", {"a": 2})


@pytest.mark.parametrize("damage", ["truncate_npy", "flip_byte", "truncate_keys", "delete_checksum"])
def test_corrupt_shard_detected_and_only_its_items_recomputed(fake, tmp_path, damage):
    bb = fake.FakeBackbone()
    paths = _images(tmp_path, 6)
    r1 = extract(paths, bb, tmp_path / "c", batch_size=2, progress=False)
    shards = _shards(tmp_path / "c", bb)
    assert len(shards) == 3
    victim = shards[1]
    npy = victim / "embedding.npy"
    if damage == "truncate_npy":
        npy.write_bytes(npy.read_bytes()[:-7])
    elif damage == "flip_byte":
        data = bytearray(npy.read_bytes())
        data[-1] ^= 0xFF
        npy.write_bytes(bytes(data))
    elif damage == "truncate_keys":
        (victim / "keys.json").write_text('["ab')
    else:
        (victim / "checksum.json").unlink()
    bb2 = fake.FakeBackbone()
    with pytest.warns(UserWarning, match="corrupt or truncated"):
        r2 = extract(paths, bb2, tmp_path / "c", batch_size=2, progress=False)
    assert r2.n_computed == 2 and r2.n_cached == 4 and bb2.calls == 1
    np.testing.assert_allclose(r1.images["embedding"], r2.images["embedding"], atol=1e-6)
    assert not victim.exists() and len(_shards(tmp_path / "c", bb)) == 3


def test_lookup_and_read_features(fake, tmp_path):
    bb = fake.FakeBackbone()
    paths = _images(tmp_path, 4)
    r = extract(paths[:3], bb, tmp_path / "c", batch_size=2, progress=False)
    cache = FeatureCache(tmp_path / "c" / "features", bb)
    keys = [r.keys[2], "0" * 64, r.keys[0]]
    found, arr = cache.lookup(keys, "aux")
    assert found.tolist() == [True, False, True] and arr.shape == (3, 3) and arr.dtype == np.float32
    assert np.isnan(arr[1]).all()
    np.testing.assert_array_equal(arr[[0, 2]], r.images["aux"][[2, 0]])
    with pytest.raises(CacheError, match="not in the images cache"):
        cache.get("images", keys, "embedding")
    # memory-mapped shards; reader aligned with paths or keys, filling a caller's memmap
    assert isinstance(cache._array(_shards(tmp_path / "c", bb)[0], "embedding"), np.memmap)
    found, emb = read_features(paths, bb, tmp_path / "c")
    assert found.tolist() == [True, True, True, False]
    np.testing.assert_array_equal(emb[:3], r.images["embedding"])
    out = np.lib.format.open_memmap(tmp_path / "big.npy", mode="w+", dtype=np.float32, shape=(3, 8))
    read_features(list(reversed(r.keys)), bb, tmp_path / "c", out=out)
    out.flush()
    np.testing.assert_array_equal(np.load(tmp_path / "big.npy"), r.images["embedding"][::-1])


def test_stale_temporaries_pruned(fake, tmp_path):
    bb = fake.FakeBackbone()
    cache = FeatureCache(tmp_path, bb)
    old, new = tmp_path / bb.fingerprint_hash / "images" / ".tmp-old", tmp_path / bb.fingerprint_hash / "images" / ".tmp-new"
    old.mkdir(parents=True)
    new.mkdir()
    os.utime(old, (time.time() - 7 * 3600,) * 2)
    assert cache.prune_temporaries() == 1 and not old.exists() and new.exists()


def test_failures_listed_and_strict_raises(fake, tmp_path):
    bb = fake.FakeBackbone()
    paths = _images(tmp_path, 3)
    bad = tmp_path / "img" / "bad.png"
    bad.write_bytes(b"garbage, not a png")
    empty = tmp_path / "img" / "empty.png"
    empty.write_bytes(b"")
    trunc = tmp_path / "img" / "trunc.png"
    data = Path(_png(tmp_path / "img" / "full.png", 99, 64)).read_bytes()
    trunc.write_bytes(data[: len(data) // 2])
    shutil.copy(bad, tmp_path / "img" / "bad_copy.png")
    missing = tmp_path / "img" / "missing.png"
    inputs = [paths[0], str(bad), paths[1], str(empty), str(trunc), str(missing), str(tmp_path / "img" / "bad_copy.png"),
              paths[2]]
    r = extract(inputs, bb, tmp_path / "c", batch_size=3, progress=False)
    failed = {Path(f.path).name: f.reason for f in r.failures}
    assert set(failed) == {"bad.png", "empty.png", "trunc.png", "missing.png", "bad_copy.png"}
    assert "zero-byte" in failed["empty.png"] and "cannot read" in failed["missing.png"]
    assert "truncated" in failed["trunc.png"] or "corrupt" in failed["trunc.png"]
    emb = r.images["embedding"]
    assert np.isfinite(emb[[0, 2, 7]]).all() and np.isnan(emb[[1, 3, 4, 5, 6]]).all()
    assert r.n_computed == 3
    with pytest.raises(ImageError, match="bad.png"):
        extract([paths[0], str(bad)], fake.FakeBackbone(), tmp_path / "c2", strict=True, progress=False)
    with pytest.raises(ConfigError, match="prompts"):
        extract(paths, bb, tmp_path / "c", prompts=["a"], progress=False)


def test_texts_cached_by_text(fake, tmp_path):
    bb = fake.FakeBackbone()
    paths = _images(tmp_path, 3)
    r = extract(paths, bb, tmp_path / "c", prompts=["a cat", "a dog", "a cat"], progress=False)
    assert r.texts.shape == (3, 2) and r.texts.dtype == np.float32
    np.testing.assert_array_equal(r.texts[0], r.texts[2])
    assert len(_shards(tmp_path / "c", bb, "texts")) == 1
    r2 = extract(paths[:1], bb, tmp_path / "c", prompts=["a dog"], progress=False)
    assert len(_shards(tmp_path / "c", bb, "texts")) == 1  # nothing new written
    np.testing.assert_array_equal(r2.texts[0], r.texts[1])


def test_killed_run_resumes_without_recomputing_finished_batches(fake, tmp_path):
    paths = _images(tmp_path, 8)
    cache = tmp_path / "c"
    p = _run(fake, cache, paths, die=3)  # SIGKILL during the 3rd batch: 2 batches (4 images) finished
    assert p.returncode == -9, p.stderr
    bb = fake.FakeBackbone()
    assert len(_shards(cache, bb)) == 2
    assert not list((cache / "features" / bb.fingerprint_hash / "images").glob(".tmp-*"))
    r = extract(paths, bb, cache, batch_size=2, progress=False)  # resume in this process
    assert r.n_computed == 4 and r.n_cached == 4 and bb.calls == 2
    ref = extract(paths, fake.FakeBackbone(), tmp_path / "fresh", progress=False)
    np.testing.assert_allclose(r.images["embedding"], ref.images["embedding"], atol=1e-6)


def test_two_concurrent_writers(fake, tmp_path):
    import json

    paths = _images(tmp_path, 12)
    cache = tmp_path / "c"
    procs = [_run(fake, cache, paths, sleep=0.05, wait=False) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    res = [json.loads(o[0]) for o in outs]
    ref = extract(paths, fake.FakeBackbone(), tmp_path / "fresh", progress=False).images["embedding"]
    for r in res:
        np.testing.assert_allclose(np.array(r["emb"], np.float32), ref, atol=1e-6)
    bb = fake.FakeBackbone()
    with __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("error")  # no shard may be corrupt
        again = extract(paths, bb, cache, progress=False)
    assert again.n_computed == 0 and bb.calls == 0
    np.testing.assert_allclose(again.images["embedding"], ref, atol=1e-6)
    assert not list((cache / "features" / bb.fingerprint_hash / "images").glob(".tmp-*"))


def test_tiny_end_to_end_with_prompts(tmp_path):
    from judgenet.backbones import load_backbone

    tiny = load_backbone("tiny")
    paths = _images(tmp_path, 3)
    r = extract(paths, tiny, tmp_path / "c", prompts=["a red circle", "two squares", "a red circle"],
                progress=False)
    assert r.images["embedding"].shape == (3, tiny.embed_dim) and r.texts.shape == (3, tiny.embed_dim)
    assert np.isfinite(r.images["embedding"]).all()
    np.testing.assert_allclose(r.texts[1], tiny.encode_texts(["two squares"]).numpy()[0], atol=1e-6)


TORCHRUN = textwrap.dedent('''
    import json, sys
    sys.path.insert(0, sys.argv[1])
    import torch.distributed as dist
    from fakebb import FakeBackbone
    from judgenet.embeddings import extract
    bb = FakeBackbone()
    r = extract(sys.argv[4:], bb, sys.argv[2], batch_size=2, progress=False)
    with open(sys.argv[3] + f".{r.paths and __import__('os').environ['RANK']}.json", "w") as fh:
        json.dump({"computed": r.n_computed, "mine": bb.calls, "emb": r.images["embedding"].tolist(),
                   "failures": [f.path for f in r.failures]}, fh)
''')


@pytest.mark.slow
def test_torchrun_two_ranks_match_single_process(fake, tmp_path):
    import json

    paths = _images(tmp_path, 9)
    bad = tmp_path / "img" / "bad.png"
    bad.write_bytes(b"nope")
    paths.insert(4, str(bad))
    script = fake.dir / "dist_runner.py"
    script.write_text(TORCHRUN)
    torchrun = Path(sys.executable).parent / "torchrun"
    cmd = [str(torchrun), "--nproc-per-node", "2", "--master-port", str(29500 + os.getpid() % 1000),
           str(script), str(fake.dir), str(tmp_path / "c"), str(tmp_path / "res"), *paths]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=180,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert p.returncode == 0, p.stdout + p.stderr
    res = [json.loads((tmp_path / f"res.{r}.json").read_text()) for r in (0, 1)]
    ref = extract(paths, fake.FakeBackbone(), tmp_path / "single", progress=False)
    for r in res:
        np.testing.assert_allclose(np.array(r["emb"], np.float32), ref.images["embedding"], atol=1e-6)
        assert r["computed"] == 9 and [Path(f).name for f in r["failures"]] == ["bad.png"]
    assert all(r["mine"] >= 1 for r in res)  # both ranks did work


SPLIT_RUNNER = textwrap.dedent('''
    import json, os, sys, time
    sys.path.insert(0, sys.argv[1])
    from fakebb import FakeBackbone
    from judgenet.embeddings import extract
    open(sys.argv[3] + ".ready", "w").close()
    while not os.path.exists(sys.argv[4]):  # start together
        time.sleep(0.01)
    bb = FakeBackbone(sleep=0.3)
    r = extract(sys.argv[5:], bb, sys.argv[2], batch_size=2, progress=False)
    print(json.dumps({"computed": r.n_computed, "cached": r.n_cached, "calls": bb.calls,
                      "failures": [f.path for f in r.failures], "emb": r.images["embedding"].tolist()}))
''')


def test_concurrent_extractors_split_the_work(fake, tmp_path):
    """Two processes on one cache claim batches: together they compute each image once (issue 17)."""
    import json

    paths = _images(tmp_path, 12)
    bad = tmp_path / "img" / "broken.png"
    bad.write_bytes(b"not a png")
    paths.append(str(bad))
    (fake.dir / "split.py").write_text(SPLIT_RUNNER)
    cache, go = tmp_path / "c", tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, str(fake.dir / "split.py"), str(fake.dir), str(cache),
                               str(tmp_path / f"p{i}"), str(go), *paths], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(2)]
    deadline = time.time() + 240
    while not all((tmp_path / f"p{i}.ready").exists() for i in range(2)) and time.time() < deadline:
        time.sleep(0.05)
    go.touch()
    outs = [p.communicate(timeout=240) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    res = [json.loads(o[0]) for o in outs]
    assert sum(r["computed"] for r in res) == 12  # each distinct image embedded once, not twice
    assert all(r["computed"] > 0 for r in res), [r["computed"] for r in res]  # both worked
    assert all(r["computed"] + r["cached"] == 12 for r in res)
    assert all(r["failures"] == [str(bad)] for r in res)  # the unreadable file is listed by both
    ref = extract(paths, fake.FakeBackbone(), tmp_path / "fresh", progress=False).images["embedding"]
    for r in res:
        np.testing.assert_allclose(np.array(r["emb"], np.float32), ref, atol=1e-6)
    bb = fake.FakeBackbone()
    assert len(_shards(cache, bb)) == 6  # one shard per block of 2, no duplicates
    assert not list((cache / "features" / bb.fingerprint_hash / "images" / ".claims").iterdir())  # all released


def test_claims_are_exclusive_and_dead_owners_are_taken_over(fake, tmp_path):
    import socket

    cache = FeatureCache(tmp_path / "c", fake.FakeBackbone())
    c1 = cache.claim("images", ["k1", "k2"])
    assert c1 is not None and cache.claim("images", ["k1", "k2"]) is None  # held by a live process (us)
    assert cache.claim("images", ["k3"]) is not None  # another batch
    c1.release()
    c2 = cache.claim("images", ["k1", "k2"])
    assert c2 is not None
    # a claim left by a process that died (kill -9) is taken over at once
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    c2.path.write_text(f"{socket.gethostname()} {int(dead.stdout)}\n")
    assert cache.claim("images", ["k1", "k2"]) is not None
    # a claim nobody refreshed for longer than stale_after_s is taken over too
    c4 = cache.claim("images", ["k9"])
    c4.path.write_text("other-host 1\n")
    assert cache.claim("images", ["k9"]) is None
    os.utime(c4.path, (time.time() - 30, time.time() - 30))
    assert cache.claim("images", ["k9"], stale_after_s=10) is not None
