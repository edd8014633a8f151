"""`import judgenet.backbones` (the package face, the name parser, the default-backbone check) imports no torch."""
import json
import subprocess
import sys

HEAVY = ("torch", "torchvision", "open_clip", "sklearn", "PIL")


def _loaded_after(code: str) -> list:
    probe = f"import sys, json\n{code}\nprint(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))"
    p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_package_face_imports_no_torch():
    assert _loaded_after("import judgenet.backbones") == []


def test_names_defaults_and_device_cpu_import_no_torch():
    code = ("from judgenet.backbones import parse_backbone_name, genuine_inception_path, resolve_device, Backbone\n"
            "assert parse_backbone_name('open_clip:ViT-B-32:laion2b_s34b_b79k').source == "
            "'clip-ViT-B-32-laion2b_s34b_b79k'\n"
            "genuine_inception_path(); assert resolve_device('cpu') == 'cpu'")
    assert _loaded_after(code) == []


def test_building_a_backbone_does_import_torch():  # the probe can fail: it sees torch when it is there
    assert "torch" in _loaded_after("from judgenet.backbones import load_backbone\n"
                                    "load_backbone('inception:fid', allow_random=True)")
