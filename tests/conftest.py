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
