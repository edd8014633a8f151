"""Every loader on its fixture (small excerpts of the real files, or files in the published layouts)."""
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from judgenet.errors import LabelError
from judgenet.labels import (FILE_FORMATS, LabelSet, PairwiseLabelSet, category_accuracy, detect_format,
                             hype_infinity, item_references, load_label_set, rank_shares, sample_references)
from judgenet.labels.loaders.rankings import read_rankings

FIX = Path(__file__).parent / "fixtures" / "labels"


def _lines(rel):
    return (FIX / rel).read_text().splitlines()


def _refused(path, text, loader, match):
    """Write ``text`` to ``path``; loading it with ``loader:`` must raise a LabelError matching ``match``."""
    path.write_text(text)
    with pytest.raises(LabelError, match=match):
        load_label_set(f"{loader}:{path}")


# ------------------------------------------------------------------ Flickr8k
def test_flickr8k_expert_fixture():
    lines = _lines("flickr8k/ExpertAnnotations.txt")
    own = [ln for ln in lines if ln.split("\t")[1].rsplit("#", 1)[0] == ln.split("\t")[0]]
    assert len(own) == 3
    ls = load_label_set("flickr8k-expert", root=FIX)
    assert isinstance(ls, LabelSet) and ls.name == "flickr8k-expert"
    n = len(lines) - len(own)
    assert len(ls) == 3 * n and ls.frame["item_id"].nunique() == n
    assert ls.scales == {"describes": (1.0, 4.0)} and ls.questions == ["describes"]
    assert not ls.frame["own_reference"].any() and ls.meta["n_own_reference_pairs"] == 3
    first = lines[0].split("\t")
    rows = ls.frame[ls.frame["item_id"] == f"{first[0]}|{first[1]}"]
    assert rows["rater_id"].tolist() == ["expert1", "expert2", "expert3"]
    assert rows["score"].tolist() == [float(x) for x in first[2:5]]
    token = dict(ln.split("\t", 1) for ln in _lines("flickr8k/Flickr8k.token.txt"))
    assert rows["prompt"].iloc[0] == token[first[1]]
    assert len(ls.references[first[0]]) == 5
    full = load_label_set("flickr8k-expert", root=FIX, drop_own_references=False)
    assert len(full) == 3 * len(lines) and full.frame["own_reference"].sum() == 9
    agg = ls.aggregate("describes")
    assert (agg["n_raters"] == 3).all() and len(agg) == n


def test_flickr8k_token_keeps_spurious_key():
    ls = load_label_set("flickr8k-expert", root=FIX)
    assert "2258277193_586949ec62.jpg.1" in ls.references  # split at the last '#', never at the first '.'


def test_flickr8k_cf_fixture_and_reference_protocol():
    lines = _lines("flickr8k/CrowdFlowerAnnotations.txt")
    ls = load_label_set("flickr8k-cf", root=FIX / "flickr8k")  # the set's own folder works too
    assert len(ls) == len(lines) and ls.frame["rater_id"].isna().all()
    f = ls.frame
    np.testing.assert_allclose(f["score"], f["n_yes"] / f["n_votes"])
    assert (f["n_votes"] >= 3).all() and f["own_reference"].sum() == 3
    refs = item_references(ls)
    own = f[f["own_reference"]].iloc[0]
    assert len(refs[own["item_id"]]) == 4 and own["prompt"] not in refs[own["item_id"]]
    other = f[~f["own_reference"]].iloc[0]
    assert len(refs[other["item_id"]]) == 5
    assert len(load_label_set("flickr8k-cf", root=FIX, drop_own_references=True)) == len(lines) - 3
    with pytest.raises(LabelError, match="needs rater_id|rater"):
        from judgenet.labels import rater_ceiling
        rater_ceiling(ls, "describes")


def test_flickr8k_bad_line_and_missing_files(tmp_path):
    d = tmp_path / "flickr8k"
    d.mkdir()
    shutil.copy(FIX / "flickr8k/Flickr8k.token.txt", d)
    lines = _lines("flickr8k/ExpertAnnotations.txt")
    lines[4] = "\t".join(lines[4].split("\t")[:4] + ["x"])
    (d / "ExpertAnnotations.txt").write_text("\n".join(lines) + "\n")
    with pytest.raises(LabelError, match=r"ExpertAnnotations.txt, row 5, column 'expert3': expected a number"):
        load_label_set("flickr8k-expert", root=tmp_path)
    with pytest.raises(LabelError, match=r"CrowdFlowerAnnotations.txt not found.*data_cards/flickr8k-cf.md"):
        load_label_set("flickr8k-cf", root=tmp_path)


def test_no_root_anywhere(monkeypatch):
    import judgenet.labels.loaders._common as common

    monkeypatch.delenv("JUDGENET_LABEL_SETS", raising=False)
    monkeypatch.setattr(common, "REPO_DEFAULT", Path("/nonexistent/label-sets"))
    with pytest.raises(LabelError, match=r"JUDGENET_LABEL_SETS.*never downloads"):
        load_label_set("thumb")


def test_env_root(monkeypatch):
    monkeypatch.setenv("JUDGENET_LABEL_SETS", str(FIX))
    assert len(load_label_set("thumb")) == 75


# ------------------------------------------------------------------ THumB
def test_thumb_fixture():
    ls = load_label_set("thumb", root=FIX)
    assert ls.questions == ["human_score", "precision", "recall"] and len(ls) == 75
    f = ls.frame
    assert sorted(f["generator"].unique()) == ["Human", "Unified-VLP", "Up-Down", "VinVL-base", "VinVL-large"]
    assert f["rater_id"].isna().all()
    hs = f[f["question"] == "human_score"].set_index("item_id")["score"]
    p = f[f["question"] == "precision"].set_index("item_id")["score"]
    r = f[f["question"] == "recall"].set_index("item_id")["score"]
    pen = f[f["question"] == "human_score"].set_index("item_id")[["Fl", "Con", "Inc"]].sum(axis=1)
    np.testing.assert_allclose(hs, (p + r) / 2 + pen)
    assert f["seg_id"].map(type).eq(str).all()
    assert all(len(v) == 4 for v in ls.references.values()) and len(ls.references) == 5
    assert set(ls.references) == set(f["image"])
    assert ls.aggregate("human_score").shape[0] == 25


def test_thumb_total_mismatch_is_reported(tmp_path):
    d = tmp_path / "thumb"
    d.mkdir()
    shutil.copy(FIX / "thumb/mscoco_references.json", d)
    lines = _lines("thumb/mscoco_THumB-1.0.jsonl")
    import json
    rec = json.loads(lines[6])
    rec["human_score"] = rec["human_score"] + 1
    lines[6] = json.dumps(rec)
    (d / "mscoco_THumB-1.0.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(LabelError, match=r"mscoco_THumB-1.0.jsonl, row 7, column 'human_score'"):
        load_label_set("thumb", root=tmp_path)
    assert len(load_label_set("thumb", root=tmp_path, check_total=False)) == 75


# ------------------------------------------------------------------ Pascal-50S
def test_pascal50s_fixture_mixed_dtypes():
    from scipy.io import loadmat

    m = loadmat(FIX / "pascal50s/pair_pascal.mat")
    dtypes = {str(r["result"].dtype) for r in m["result"].ravel()}
    assert dtypes == {"uint8", "int16"}  # the fixture mimics the real mix
    ps = load_label_set("pascal50s", root=FIX)
    assert isinstance(ps, PairwiseLabelSet) and len(ps) == m["result"].size
    f = ps.frame
    votes = [r["result"].ravel().astype(np.int64) for r in m["result"].ravel()]
    np.testing.assert_allclose(f["preference"], [(v > 0).mean() for v in votes])
    assert (f["preference"] >= 0).all()  # uint8 arrays with -1 would wrap to 255 if not cast
    assert sorted(f["n_votes"].unique()) == [10, 11]
    assert f["category"].value_counts().to_dict() == {"HC": 3, "HI": 3, "HM": 4, "MM": 3}
    assert f["category"].tolist()[:4] == ["HI", "HC", "HI", "HI"]  # file order kept (interleaved)
    assert not f["caption_a"].str.startswith(" ").any() and not f["caption_b"].str.endswith(" ").any()
    hc = f[f["category"] == "HC"]
    assert (hc["generator_a"] == "human").all() and (hc["generator_b"] == "human").all()
    assert all(len(v) == 50 for v in ps.references.values())
    assert "48-vote" in ps.meta["votes"]


def test_pascal50s_references_and_accuracy():
    ps = load_label_set("pascal50s", root=FIX)
    r1, r2 = sample_references(ps, 5, seed=1), sample_references(ps, 5, seed=1)
    assert r1 == r2 and all(len(r) == 5 and len(set(r)) == 5 for r in r1)
    assert all(set(r) <= set(ps.references[im]) for r, im in zip(r1, ps.frame["image"]))
    pref = ps.frame["preference"].to_numpy()
    perfect = category_accuracy(ps, pref, 1 - pref)
    assert perfect == {"HC": 1.0, "HI": 1.0, "HM": 1.0, "MM": 1.0, "mean": 1.0}
    worst = category_accuracy(ps, 1 - pref, pref)
    assert worst["mean"] == 0.0
    assert category_accuracy(ps, np.zeros(len(ps)), np.zeros(len(ps)))["mean"] == 0.5


# ------------------------------------------------------------------ Pick-a-Pic
def test_pickapic_csv():
    ps = load_label_set(f"pickapic:{FIX / 'pickapic.csv'}")
    assert isinstance(ps, PairwiseLabelSet) and ps.meta["dropped_unlabeled"] == 1
    f = ps.frame
    assert f["preference"].tolist() == [1.0, 0.0, 0.5, 1.0, 0.0]
    assert f["choice"].tolist() == ["a", "b", "tie", "a", "b"]
    assert f["generator_a"].iloc[0] == "sd-1.5" and f["rater_id"].iloc[0] == "7"
    assert f["prompt"].iloc[2] == "an astronaut riding a horse on the moon"
    agg = ps.aggregate("overall").set_index(["item_a", "item_b"])
    assert agg.loc[("a1", "b1"), "preference"] == 0.5 and agg.loc[("a1", "b1"), "n_raters"] == 2
    assert len(load_label_set(FIX / "pickapic.csv", drop_identical=True)) == 4  # detected by columns


def test_pickapic_parquet_and_bad_labels(tmp_path):
    df = pd.read_csv(FIX / "pickapic.csv")
    df["jpg_0"] = b"\x89PNG"
    df.to_parquet(tmp_path / "p.parquet")
    ps = load_label_set(tmp_path / "p.parquet")
    assert len(ps) == 5 and "jpg_0" not in ps.frame.columns
    bad = df.drop(columns=["jpg_0"])
    bad.loc[1, "label_1"] = 0.0
    bad.loc[2, "label_0"] = 0.7
    bad.to_csv(tmp_path / "b.csv", index=False)
    with pytest.raises(LabelError, match=r"b.csv, row 3, column 'label_1': expected label_0 \+ label_1 = 1"):
        load_label_set(f"pickapic:{tmp_path / 'b.csv'}")
    ps = load_label_set(f"pickapic:{tmp_path / 'b.csv'}", lenient=True)
    assert len(ps) == 3 and ps.skipped_rows == [3, 4]


# ------------------------------------------------------------------ HYPE and Likert
def test_hype_fixture():
    ls = load_label_set(FIX / "hype.csv")  # detected by the 'answer' column
    assert ls.questions == ["real_vs_fake"] and len(ls) == 18
    assert set(ls.frame["score"]) == {0.0, 1.0} and "real" in set(ls.frame["generator"])
    assert ls.frame["item_id"].iloc[0] == "real/0001.png" and ls.frame["rater_id"].iloc[0] == "w1"
    h = hype_infinity(ls).set_index("generator")
    # stylegan: 3 of 6 fakes judged real; real: 1 of 6 judged fake
    assert h.loc["stylegan", "fake_judged_real"] == 0.5 and h.loc["stylegan", "n_real"] == 6
    assert h.loc["stylegan", "hype_infinity"] == pytest.approx((3 + 1) / 12)
    assert h.loc["progan", "hype_infinity"] == pytest.approx((1 + 1) / 12)
    per_image = ls.aggregate("real_vs_fake").set_index("item_id")["score"]
    assert per_image["stylegan/0001.png"] == pytest.approx(2 / 3)


def test_hype_unknown_answer(tmp_path):
    p = tmp_path / "h.csv"
    _refused(p, "worker_id,image,model,answer\nw1,a.png,real,real\nw1,b.png,gan,maybe\n", "hype",
             r"h.csv, row 3, column 'score'.*'maybe'")
    p.write_text("worker_id,image,is_real,answer\nw1,a.png,1,real\nw1,b.png,0,real\n")
    ls = load_label_set(f"hype:{p}")
    assert ls.frame["generator"].tolist() == ["real", "generated"]


def test_likert_fixture():
    ls = load_label_set(f"likert:{FIX / 'likert.csv'}")
    assert ls.questions == ["realism"] and ls.scales == {"realism": (1.0, 5.0)} and len(ls) == 15
    assert set(ls.frame["rater_id"]) == {"r1", "r2", "r3"}
    agg = ls.aggregate("realism").set_index("item_id")
    assert agg.loc["g/a.png", "score"] == 4.0 and agg.loc["g/a.png", "n_raters"] == 3
    assert load_label_set(FIX / "likert.csv").meta["format"] == "likert"  # detected by 'rating'
    with pytest.raises(LabelError, match=r"row \d+, column 'score'.*\[1, 3\]"):
        load_label_set(f"likert:{FIX / 'likert.csv'}", scale=(1, 3))


# ------------------------------------------------------------------ XMC-GAN-style rankings
def test_rankings_long_to_pairs():
    ps = load_label_set(FIX / "rankings_long.csv", allow_ties=True)  # detected by 'rank'
    assert isinstance(ps, PairwiseLabelSet) and ps.meta["n_rankings"] == 4
    assert len(ps) == 4 * 6  # 4 rankings of 4 generators -> 6 pairs each
    f = ps.frame
    r1 = f[(f["rater_id"] == "r1") & (f["question"] == "realism") & (f["prompt"] == "a bus parked on a street")]
    row = r1[(r1["generator_a"] == "attngan") & (r1["generator_b"] == "xmc-gan")].iloc[0]
    assert row["choice"] == "b" and row["item_a"] == "attn/000.png"
    r2 = f[(f["rater_id"] == "r2")]
    tie = r2[(r2["generator_a"] == "attngan") & (r2["generator_b"] == "dm-gan")].iloc[0]
    assert tie["choice"] == "tie" and tie["preference"] == 0.5
    sh = pd.DataFrame(ps.meta["rank_shares"]).set_index(["question", "generator"])
    assert sh.loc[("realism", "xmc-gan"), "first_share"] == pytest.approx(2 / 3)
    assert sh.loc[("alignment", "xmc-gan"), "first_share"] == 1.0


def test_rankings_wide_equals_long():
    wide = load_label_set(f"rankings:{FIX / 'rankings_wide.csv'}", question="realism", allow_ties=True)
    long = read_rankings(FIX / "rankings_long.csv", allow_ties=True)
    bus = long[long["prompt"] == "a bus parked on a street"]
    assert len(wide) == 12
    w = rank_shares(read_rankings(FIX / "rankings_wide.csv", question="realism", allow_ties=True)).set_index("generator")
    lo = rank_shares(bus).set_index("generator")
    pd.testing.assert_series_equal(w["first_share"], lo["first_share"])
    assert set(wide.frame["item_a"]) <= {f"p0|{g}" for g in ("xmc-gan", "df-gan", "dm-gan", "attngan")}
    with pytest.raises(LabelError, match="no question column"):
        load_label_set(f"xmcgan:{FIX / 'rankings_wide.csv'}")


def test_rankings_bad_rank(tmp_path):
    p, head = tmp_path / "r.csv", "caption,rater_id,question,model,rank\n"
    _refused(p, head + "x,r1,realism,a,1\nx,r1,realism,b,0\n", "rankings", r"r.csv, row 3, column 'rank'")
    _refused(p, head + "x,r1,realism,a,1\nx,r1,realism,a,2\n", "rankings",
             r"row 3, column 'generator'.*ranked twice")


# ------------------------------------------------------------------ dispatcher
def test_detect_format_and_unknown_columns(tmp_path):
    assert detect_format(["item_id", "image", "generator", "question", "score"]) == "judgenet"
    assert detect_format(["caption", "label_0", "label_1"]) == "pickapic"
    assert detect_format(["foo"]) is None
    p = tmp_path / "x.csv"
    p.write_text("foo,bar\n1,2\n")
    with pytest.raises(LabelError, match=r"match no known label format.*pickapic:"):
        load_label_set(p)
    assert set(FILE_FORMATS) >= {"pickapic", "hype", "likert", "rankings", "xmcgan"}


# ------------------------------------------------------------------ data cards
CARDS = Path(__file__).resolve().parents[1] / "data_cards"
SECTIONS = ["What was judged and by whom", "Scale and question wording", "Size", "Provenance & license",
            "Where to obtain", "Protocol used in the literature", "Known pitfalls", "How to load"]


def test_every_set_and_format_has_a_card_with_the_same_sections():
    import re

    import judgenet.labels as L
    from judgenet.labels import PUBLIC_SETS

    names = set(PUBLIC_SETS) | {"pickapic", "hype", "likert", "xmcgan", "world-simulated"}
    assert names <= {p.stem for p in CARDS.glob("*.md")}
    readme = (CARDS / "README.md").read_text()
    for name in sorted(names):
        text = (CARDS / f"{name}.md").read_text()
        heads = re.findall(r"^## (.+)$", text, flags=re.M)
        assert heads == SECTIONS, name
        assert f"({name}.md)" in readme, name
        for imports in re.findall(r"from judgenet\.labels import ([\w, ]+)", text):
            for obj in imports.split(","):
                assert hasattr(L, obj.strip()), (name, obj)
        if name in PUBLIC_SETS:
            assert f'load_label_set("{name}"' in text and f"--labels {name}" in text
    assert "SIMULATED" in (CARDS / "world-simulated.md").read_text()
    assert "NOT the 48-vote consensus" in (CARDS / "pascal50s.md").read_text()
