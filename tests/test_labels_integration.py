"""The full public label files, when present: published counts from ``label-sets/SOURCES.md``.

Folder: ``$JUDGENET_LABEL_SETS``, else ``../shared/label-sets`` relative to the repository root.
Skips cleanly when the files are absent (a fresh clone)."""
import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from judgenet.labels import item_references, load_label_set, rater_ceiling

pytestmark = pytest.mark.integration

ROOT = Path(os.environ.get("JUDGENET_LABEL_SETS") or Path(__file__).resolve().parents[1].parent / "shared" / "label-sets")
SHA256 = {"thumb/mscoco_THumB-1.0.jsonl": "463ebf947c793a541922ead33eb10a885e77c19e9c7d27cf89e034bfff643efa",
          "thumb/mscoco_references.json": "897672f1f53ed33a376237c33fabc89ebbd04b40e9ced82691c2e9c9324d8fdf",
          "pascal50s/pair_pascal.mat": "63925be0d9a9d98d68cfdef2be6667a87b6ee23f08f3a1397edaaee07ad09d84",
          "pascal50s/pascal50S.mat": "f927c038104d9579ce89be6b8c1a10415b41ce02519becc28238b6fb75a145ac",
          "flickr8k/ExpertAnnotations.txt": "56c2b1a9e1a46ba73b8b151abd7c3c8b1676fbacadb559d0c2eb6524b166cf4f",
          "flickr8k/CrowdFlowerAnnotations.txt": "72a74aef443df4848fb1f3c23654ee9e0ca5b528198f68e2efedf11b6ca61260",
          "flickr8k/Flickr8k.token.txt": "1e1f3a371ba1a1bf742e6930521c037e046b2bf3fcc2390ba8405e0301ed7689"}


def _need(*files):
    missing = [f for f in files if not (ROOT / f).is_file()]
    if missing:
        pytest.skip(f"label-set files not present under {ROOT}: {', '.join(missing)}")


@pytest.fixture(scope="module")
def expert():
    _need("flickr8k/ExpertAnnotations.txt", "flickr8k/Flickr8k.token.txt")
    return load_label_set("flickr8k-expert", root=ROOT)


@pytest.fixture(scope="module")
def expert_all():
    _need("flickr8k/ExpertAnnotations.txt", "flickr8k/Flickr8k.token.txt")
    return load_label_set("flickr8k-expert", root=ROOT, drop_own_references=False)


@pytest.mark.parametrize("rel", sorted(SHA256))
def test_checksums(rel):
    _need(rel)
    assert hashlib.sha256((ROOT / rel).read_bytes()).hexdigest() == SHA256[rel]


def test_flickr8k_expert_counts(expert, expert_all):
    assert len(expert) == 16_992 and expert.frame["item_id"].nunique() == 5_664
    assert expert.meta["n_own_reference_pairs"] == 158
    full = expert_all
    assert len(full) == 17_466 and full.frame["item_id"].nunique() == 5_822
    assert full.frame["image"].nunique() == 1_000
    assert full.frame["score"].value_counts().sort_index().tolist() == [9_797, 4_997, 1_701, 971]
    assert full.frame["caption_id"].str.endswith("#2").all()
    assert expert.aggregate("describes")["n_raters"].eq(3).all()
    assert len(expert.references) == 8_092 and sum(map(len, expert.references.values())) == 40_460


def test_flickr8k_cf_counts(expert_all):
    _need("flickr8k/CrowdFlowerAnnotations.txt", "flickr8k/Flickr8k.token.txt")
    cf = load_label_set("flickr8k-cf", root=ROOT)
    f = cf.frame
    assert len(f) == 47_830 and f["image"].nunique() == 1_000
    assert f["n_votes"].value_counts().sort_index().to_dict() == {3: 46_780, 4: 780, 5: 220, 6: 50}
    assert f["n_votes"].sum() == 144_860 and f["own_reference"].sum() == 721
    np.testing.assert_allclose(f["score"], f["n_yes"] / f["n_votes"])
    refs = item_references(cf)
    own = f.loc[f["own_reference"], "item_id"]
    assert all(len(refs[i]) == 4 for i in own)
    assert len(set(expert_all.frame["item_id"]) & set(f["item_id"])) == 2_329


def test_pascal50s_counts():
    _need("pascal50s/pair_pascal.mat", "pascal50s/pascal50S.mat")
    ps = load_label_set("pascal50s", root=ROOT)
    f = ps.frame
    assert len(f) == 4_000
    assert f["category"].value_counts().to_dict() == {"HC": 1_000, "HI": 1_000, "HM": 1_000, "MM": 1_000}
    assert f["n_votes"].value_counts().to_dict() == {11: 3_994, 10: 6}
    assert (f["preference"] != 0.5).all()  # no ties
    assert (f["votes_a"] == f["n_votes"]).sum() >= 980  # the unanimous (+1, uint8-stored) pairs
    hi = f[f["category"] == "HI"]
    correct = np.where(hi["source_a"] == 6, hi["preference"] > 0.5, hi["preference"] < 0.5)
    assert correct.mean() == pytest.approx(0.998, abs=5e-4)
    assert ((f["source_a"] == 6) & (f["source_b"] == 6)).eq(f["category"] == "HC").all()
    assert len(ps.references) == 1_000 and all(len(v) == 50 for v in ps.references.values())
    assert set(ps.references) == set(f["image"])
    assert not f["caption_a"].str.match(r"^\s|.*\s$").any()


def test_thumb_counts():
    _need("thumb/mscoco_THumB-1.0.jsonl", "thumb/mscoco_references.json")
    t = load_label_set("thumb", root=ROOT)  # the loader checks human_score == (P+R)/2+Fl+Con+Inc on every row
    f = t.frame
    assert f["question"].value_counts().to_dict() == {"human_score": 2_500, "precision": 2_500, "recall": 2_500}
    hs = f[f["question"] == "human_score"]
    assert hs["generator"].value_counts().to_dict() == {s: 500 for s in
                                                         ("Up-Down", "Unified-VLP", "VinVL-base", "VinVL-large", "Human")}
    assert (hs["score"].min(), hs["score"].max()) == (1.9, 5.0)
    r = f[f["question"] == "recall"]["score"]
    assert (r.min(), r.max()) == (2.0, 5.0)
    assert len(t.references) == 500 and all(len(v) == 4 for v in t.references.values())
    assert hs["seg_id"].nunique() == 500


def test_flickr8k_expert_rater_ceiling(expert):
    c = rater_ceiling(expert, "describes", n_resamples=10, seed=0)
    assert c["n_items"] == 5_664 and c["n_raters"] == 3
    assert 0.5 < c["pairwise_agreement"] <= 1 and 0 < c["alpha_ordinal"] <= 1
    print({k: round(v, 4) if isinstance(v, float) else v for k, v in c.items()})


# ------------------------------------------------------------------ `judgenet benchmark` per set (issue 13)
def _need_metrics(java: bool = True):
    from judgenet.captions.refmetrics import java_available, pycocoevalcap_available
    if not pycocoevalcap_available():
        pytest.skip("pycocoevalcap not installed (pip install 'judgenet[captions]')")
    if java and not java_available():
        pytest.skip("Java not on PATH: the PTB tokenizer and METEOR of the published protocol need it")


def _rows(res, **kw):
    return {r.metric: r for r in res.rows if all(getattr(r, k) == v for k, v in kw.items())}


@pytest.mark.slow
def test_benchmark_flickr8k_expert_reproduces_clipscore_table1():
    _need("flickr8k/ExpertAnnotations.txt", "flickr8k/Flickr8k.token.txt")
    _need_metrics()
    from judgenet.captions import run_benchmark
    res = run_benchmark("flickr8k-expert", ROOT, text_backbone=None, n_resamples=20)
    rows = _rows(res)
    for m in ("BLEU-1", "BLEU-4", "ROUGE-L", "METEOR", "CIDEr-D"):  # to the printed decimal
        assert round(100 * rows[m].ours.value, 1) == rows[m].published.value, m
        assert rows[m].measure == "kendall_tau_c" and rows[m].published.table == "Table 1"
    assert "SPICE" in " ".join(res.notices)


@pytest.mark.slow
def test_benchmark_flickr8k_cf_both_reference_protocols():
    _need("flickr8k/CrowdFlowerAnnotations.txt", "flickr8k/Flickr8k.token.txt")
    _need_metrics()
    from judgenet.captions import run_benchmark
    res = run_benchmark("flickr8k-cf", ROOT, text_backbone=None, n_resamples=20,
                        metrics=("BLEU-4", "ROUGE-L", "CIDEr-D"))
    shared, item = _rows(res, protocol="clipscore-shared"), _rows(res, protocol="per-item")
    for m in ("BLEU-4", "ROUGE-L", "CIDEr-D"):  # the published Table 2, to the printed decimal
        assert round(100 * shared[m].ours.value, 1) == shared[m].published.value, m
        assert item[m].published is None and "not the published protocol" in item[m].note
        assert 0.3 < 100 * (item[m].ours.value - shared[m].ours.value) < 1.0, m
    assert "4 refs: 36,100" in res.protocols["flickr8k-cf/clipscore-shared"]


@pytest.mark.slow
def test_benchmark_pascal50s_against_table7():
    _need("pascal50s/pair_pascal.mat", "pascal50s/pascal50S.mat")
    _need_metrics()
    from judgenet.captions import run_benchmark
    res = run_benchmark("pascal50s", ROOT, text_backbone=None, n_resamples=20, metrics=("ROUGE-L", "CIDEr-D"))
    for c in ("HC", "HI", "HM", "MM", "mean"):
        rows = _rows(res, subset=c)
        assert rows["length"].published.table.startswith("Table 7")
        assert rows["length"].published_other.labels == "48-vote"
        # length uses no references: it must match the published 11-vote row closely
        assert abs(100 * rows["length"].ours.value - rows["length"].published.value) < 1.0, c
        for m in ("ROUGE-L", "CIDEr-D"):
            assert abs(100 * rows[m].ours.value - rows[m].published.value) < PASCAL_TOL, (m, c)
    assert any("48-vote" in n for n in res.notices)


PASCAL_TOL = 1.5
"""Points; our 5 reference draws are not the paper's. Measured (seed 0, 5 draws): ROUGE-L, CIDEr-D and
METEOR within 1.1 points of Table 7 in every category; BLEU-4 is further off (+1.9 HI, +5.8 MM, see the
README), so it is reported, not asserted."""


@pytest.mark.slow
def test_benchmark_thumb_own_references_removed():
    _need("thumb/mscoco_THumB-1.0.jsonl", "thumb/mscoco_references.json")
    _need_metrics()
    from judgenet.captions import run_benchmark
    from judgenet.captions.protocols import thumb_instances
    from judgenet.captions.refmetrics import reference_metrics
    inst = thumb_instances(ROOT)
    assert "Human 39" in inst.notes[0]
    s = reference_metrics(inst.frame["candidate"].tolist(), inst.references, ["BLEU-4", "METEOR"]).scores
    human = (inst.frame["system"] == "Human").to_numpy()
    assert s["BLEU-4"][human].mean() == pytest.approx(0.092, abs=0.0015)  # .162 with the references as given
    res = run_benchmark("thumb", ROOT, text_backbone=None, n_resamples=20, metrics=("METEOR",))
    sys_row = [r for r in res.rows if r.subset == "system" and r.metric == "METEOR"][0]
    assert sys_row.ours.value == pytest.approx(0.2)  # 1.0 if Human captions stayed among their references
    assert {r.subset for r in res.rows} == {"all", "machine", "system"}


def _need_minilm():
    import importlib.util
    if importlib.util.find_spec("sentence_transformers") is None:
        pytest.skip("sentence-transformers not installed (pip install 'judgenet[captions]')")
    from judgenet.backbones.text import find_text_model
    from judgenet.errors import JudgenetError
    try:
        find_text_model("all-MiniLM-L6-v2")
    except JudgenetError as e:
        pytest.skip(f"all-MiniLM-L6-v2 not available offline: {e}")


@pytest.mark.slow
def test_benchmark_cli_thumb_with_minilm_offline(tmp_path, capsys, monkeypatch):
    """`judgenet benchmark thumb` through the CLI with the genuine MiniLM, no network (HF_HUB_OFFLINE):
    the MiniLM rows of README's THumB table, and their values equal a direct sentence-transformers
    computation on a sample of rows."""
    _need("thumb/mscoco_THumB-1.0.jsonl", "thumb/mscoco_references.json")
    _need_metrics(java=False)
    _need_minilm()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import json

    from judgenet.cli import main
    rc = main(["benchmark", "thumb", "--label-root", str(ROOT), "--metric", "BLEU-1", "--n-resamples", "50",
               "--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "out"), "--json"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    rows = json.loads(out.out)["rows"]
    mean = {(r["subset"], r["target"], r["measure"]): r for r in rows if r["metric"] == "text-all-MiniLM-L6-v2-mean"}
    assert all(r["published"] is None for r in mean.values())
    # README (THumB table): Pearson total all 38.4, machine 43.8; tau-b all 22.9; system tau-b 0.4
    assert round(100 * mean[("all", "human_score", "pearson")]["ours"]["value"], 1) == 38.4
    assert round(100 * mean[("machine", "human_score", "pearson")]["ours"]["value"], 1) == 43.8
    assert round(100 * mean[("all", "human_score", "kendall_tau_b")]["ours"]["value"], 1) == 22.9
    assert mean[("system", "human_score", "system_kendall_tau_b")]["ours"]["value"] == pytest.approx(0.4)
    # independent: sentence-transformers itself on 20 captions
    from sentence_transformers import SentenceTransformer

    from judgenet.backbones.text import find_text_model
    from judgenet.captions.protocols import thumb_instances
    inst = thumb_instances(ROOT)
    model = SentenceTransformer(str(find_text_model("all-MiniLM-L6-v2")), device="cpu")
    idx = np.arange(0, len(inst), 125)
    sims = []
    for i in idx:
        v = model.encode([inst.frame["candidate"][i]] + inst.references[i], normalize_embeddings=True)
        sims.append(float(np.mean(v[1:] @ v[0])))
    from judgenet.captions.textsim import embed_texts, reference_similarity
    from judgenet.backbones import load_backbone
    emb = embed_texts([inst.frame["candidate"][i] for i in idx] + [r for i in idx for r in inst.references[i]],
                      load_backbone("text:all-MiniLM-L6-v2"), tmp_path / "cache")
    ours = reference_similarity([inst.frame["candidate"][i] for i in idx], [inst.references[i] for i in idx], emb)
    np.testing.assert_allclose(ours["text-all-MiniLM-L6-v2-mean"], sims, atol=1e-5)
