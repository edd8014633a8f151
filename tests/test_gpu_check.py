"""benchmarks/gpu.py, the prepared accelerator check: its harness runs CPU against CPU here (features equal,
metrics from tensors equal to the functional metrics, a table written); the CUDA run needs a GPU."""
import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu.py"


def _module():
    spec = importlib.util.spec_from_file_location("judgenet_gpu_check", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_harness_cpu_against_cpu(tmp_path):
    gpu = _module()
    out = tmp_path / "gpu.md"
    assert gpu.main(["--device", "cpu", "--n-images", "12", "--backbone", "tiny", "--out", str(out)]) == 0
    res = json.loads(out.with_suffix(".json").read_text())
    (ext,) = res["extraction"]
    assert ext["backbone"] == "tiny" and ext["equal"] and ext["max_relative_difference"] <= 1e-4
    assert {m["metric"] for m in res["metrics"]} == {"FID", "KID", "MID"}
    assert all(m["relative_difference"] <= 1e-6 for m in res["metrics"])
    assert "| tiny |" in out.read_text()


def test_an_absent_accelerator_is_one_line():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the refusal path cannot be shown")
    with pytest.raises(SystemExit, match="CUDA device"):
        _module().run("cuda", 4, ["tiny"], 1e-4, {})


def test_cuda_against_cpu(tmp_path):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine (run `python benchmarks/gpu.py --device cuda` where one is lent)")
    gpu = _module()
    assert gpu.main(["--device", "cuda", "--n-images", "64", "--backbone", "tiny", "--out", str(tmp_path / "g.md")]) == 0
