import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Never touch the user's ~/.cache/judgenet from tests."""
    monkeypatch.setenv("JUDGENET_CACHE_DIR", str(tmp_path_factory.mktemp("jn-cache")))


@pytest.fixture(scope="session")
def userdata(tmp_path_factory):
    """A user-style dataset: generator folders, a reference folder with prompts.csv, a label CSV."""
    import shutil
    from pathlib import Path

    import pandas as pd

    from judgenet.world import make_world, simulate_raters

    root = tmp_path_factory.mktemp("user")
    w = make_world(root / "world", n_real=200, n_per_generator=4, severities=(0.6,), seed=1,
                   generators=["near_perfect", "attribute_swap", "blur", "noise", "wrong_count"])
    real = root / "real"
    real.mkdir()
    rows = []
    for _, r in w.real.iterrows():
        shutil.copy(r["path"], real / Path(r["path"]).name)
        rows.append({"image": Path(r["path"]).name, "prompt": r["prompt"]})
    pd.DataFrame(rows).to_csv(real / "prompts.csv", index=False)
    gen = root / "gen"
    prompts = []
    for _, r in w.generated.iterrows():
        d = gen / r["generator"]
        d.mkdir(parents=True, exist_ok=True)
        shutil.copy(r["path"], d / Path(r["path"]).name)
        prompts.append({"image": Path(r["path"]).name, "prompt": r["prompt"]})
    pd.DataFrame(prompts).to_csv(root / "prompts.csv", index=False)
    j = simulate_raters(w, n_raters=4, seed=0).judgments
    j = j[j["generator"] != "real"].copy()
    j["image"] = [f"{g}/{Path(p).name}" for g, p in zip(j["generator"], j["image"])]
    j.to_csv(root / "labels.csv", index=False)
    return root


TINY_OPEN_CLIP_CFG = {"vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16},
                      "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 16, "heads": 2, "layers": 1}}


@pytest.fixture(scope="session")
def tiny_open_clip(tmp_path_factory):
    """``make(arch, seed=0, embed_dim=16) -> (folder, checkpoint)``: registers a 1-layer random open_clip
    architecture named ``arch`` and saves its weights as ``<folder>/<arch>-t<seed>.pt`` (nothing downloaded)."""
    import json

    import open_clip
    import torch

    made = {}

    def make(arch: str, seed: int = 0, embed_dim: int = 16):
        if (arch, seed) not in made:
            d = tmp_path_factory.mktemp(f"oc-{arch}")
            (d / f"{arch}.json").write_text(json.dumps({"embed_dim": embed_dim, **TINY_OPEN_CLIP_CFG}))
            open_clip.add_model_config(d / f"{arch}.json")
            torch.manual_seed(seed)
            ckpt = d / f"{arch}-t{seed}.pt"
            torch.save(open_clip.create_model(arch).eval().state_dict(), ckpt)
            made[(arch, seed)] = (d, ckpt)
        return made[(arch, seed)]

    return make


@pytest.fixture()
def one_thread():
    """Run the test with one BLAS/OpenMP/torch thread (deterministic reductions, no oversubscription)."""
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(scope="session")
def trained_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("trained-cache")


@pytest.fixture(scope="session")
def trained(userdata, trained_cache, tmp_path_factory):
    """A ridge realism predictor (``TrainResult``) trained on ``userdata`` with the tiny encoder, shared by the API and
    predictor-object tests (which only read it, or rebuild its report); ``trained_cache`` is its cache folder."""
    import judgenet as jn

    out = tmp_path_factory.mktemp("trained") / "pred"
    return jn.train(userdata / "labels.csv", images=userdata / "gen", reference=userdata / "real", out=out,
                    model="ridge", question="realism", n_resamples=50, cache_dir=trained_cache, backbones=["tiny"])
