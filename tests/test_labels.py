"""Label schema: validation errors (file, row, column, expectation), lenient mode, I/O round trips, aggregation."""
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from judgenet.errors import LabelError
from judgenet.labels import (LabelSet, PairwiseLabelSet, Problem, aggregate_pairs, load_label_set, read_labels,
                             zscore_by_rater)

FIX = Path(__file__).parent / "fixtures" / "labels"
HEADER = "item_id,image,prompt,generator,rater_id,question,score\n"


def _csv(tmp_path, body, name="l.csv", header=HEADER):
    p = tmp_path / name
    p.write_text(header + body)
    return p


def _frame(**over):
    d = {"item_id": ["i1", "i1", "i2", "i2"], "image": ["a.png", "a.png", "b.png", "b.png"],
         "prompt": ["p", "p", "p", "p"], "generator": ["g1", "g1", "real", "real"],
         "rater_id": ["r1", "r2", "r1", "r2"], "question": ["realism"] * 4, "score": [4, 5, 2, 1]}
    d.update(over)
    return pd.DataFrame(d)


# ------------------------------------------------------------------ reading the fixture files
def test_read_judgments_csv():
    ls = read_labels(FIX / "judgments.csv", scales={"realism": (1, 5), "alignment": (1, 5)})
    assert isinstance(ls, LabelSet) and ls.name == "judgments" and len(ls) == 8
    assert ls.questions == ["realism", "alignment"]
    assert ls.frame["score"].dtype == np.float64
    assert ls.scales == {"realism": (1.0, 5.0), "alignment": (1.0, 5.0)} and not ls.inferred_scales
    assert ls.skipped == [] and ls.summary()["raters"] == 2


def test_undeclared_scale_is_inferred():
    ls = read_labels(FIX / "judgments.csv")
    assert ls.scales["realism"] == (1.0, 5.0) and ls.scales["alignment"] == (2.0, 3.0)
    assert set(ls.inferred_scales) == {"realism", "alignment"}


def test_read_pairs_jsonl():
    ps = read_labels(FIX / "pairs.jsonl")
    assert isinstance(ps, PairwiseLabelSet) and len(ps) == 4
    assert ps.frame["preference"].tolist() == [1.0, 0.0, 0.5, 0.25]
    assert ps.frame["choice"].tolist() == ["a", "b", "tie", "b"]
    assert ps.scales == {"overall": (0.0, 1.0)}


# ------------------------------------------------------------------ validation errors
def test_missing_column_names_file_header_and_fix(tmp_path):
    p = _csv(tmp_path, "i1,a.png,p,g,r1,realism,4\n", header="item_id,image,prompt,generator,rater_id,question,rating\n")
    with pytest.raises(LabelError) as e:
        read_labels(p)
    msg = str(e.value)
    assert str(p) in msg and "row 1" in msg and "'score'" in msg and "missing" in msg
    assert "rename column 'rating' to 'score'" in msg


def test_missing_column_fatal_even_when_lenient():
    with pytest.raises(LabelError, match="missing"):
        LabelSet.from_frame(_frame().drop(columns=["generator"]), lenient=True)


@pytest.mark.parametrize("body, kwargs, parts", [
    ("i1,a.png,p,g,r1,realism,4\ni2,b.png,p,g,r1,realism,high\n", {},
     ("row 3, column 'score'", "expected a finite number", "'high'")),
    ("i1,a.png,p,g,r1,realism,4\ni2,b.png,p,g,r1,realism,7\n", {"scales": {"realism": (1, 5)}},
     ("row 3, column 'score'", "[1, 5]", "found 7")),
    ("i1,a.png,p,g,r1,realism,4\ni2,b.png,p,g,r1,realism,3\ni1,a.png,p,g,r1,realism,5\n", {},
     ("row 4, column 'rater_id'", "duplicate judgment", "row 2")),
], ids=["non-numeric-score", "out-of-scale-score", "duplicate-judgment"])
def test_bad_row_names_file_row_column_and_what_was_found(tmp_path, body, kwargs, parts):
    p = _csv(tmp_path, body)
    with pytest.raises(LabelError) as e:
        read_labels(p, **kwargs)
    msg = str(e.value)
    assert f"{p}, {parts[0]}" in msg and all(part in msg for part in parts[1:])


def test_scores_outside_an_undeclared_scale_are_fine(tmp_path):
    p = _csv(tmp_path, "i1,a.png,p,g,r1,realism,4\ni2,b.png,p,g,r1,realism,7\n")
    assert read_labels(p).frame["score"].tolist() == [4.0, 7.0]


def test_unknown_image_root_and_list(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.png").write_bytes(b"x")
    p = _csv(tmp_path, "i1,a.png,p,g,r1,realism,4\ni2,b.png,p,g,r1,realism,3\n")
    with pytest.raises(LabelError) as e:
        read_labels(p, images_root=tmp_path / "img")
    assert f"{p}, row 3, column 'image'" in str(e.value) and "unknown image 'b.png'" in str(e.value)
    with pytest.raises(LabelError, match=r"row 2, column 'image'.*'a.png'"):
        read_labels(p, known_images=["b.png"])
    assert len(read_labels(p, known_images=["x/a.png", "b.png"])) == 2  # file name matches too


def test_anonymous_repeats_are_not_duplicates(tmp_path):
    p = _csv(tmp_path, "i1,a.png,p,g,,realism,4\ni1,a.png,p,g,,realism,5\n")
    ls = read_labels(p)
    assert ls.aggregate("realism")["n_raters"].tolist() == [2]


def test_inconsistent_item_image(tmp_path):
    p = _csv(tmp_path, "i1,a.png,p,g,r1,realism,4\ni1,z.png,p,g,r2,realism,5\n")
    with pytest.raises(LabelError, match=r"row 3, column 'image'.*one image per item_id"):
        read_labels(p)


def test_empty_required_value(tmp_path):
    p = _csv(tmp_path, "i1,a.png,p,,r1,realism,4\n")
    with pytest.raises(LabelError, match=r"row 2, column 'generator': expected a non-empty value"):
        read_labels(p)


def test_jsonl_row_numbers_are_line_numbers(tmp_path):
    p = tmp_path / "l.jsonl"
    good = {"item_id": "i1", "image": "a.png", "generator": "g", "question": "realism", "score": 3}
    p.write_text(json.dumps(good) + "\n\n" + json.dumps({**good, "item_id": "i2", "score": "bad"}) + "\n")
    with pytest.raises(LabelError, match=rf"{re.escape(str(p))}, row 3, column 'score'"):
        read_labels(p)
    p.write_text(json.dumps(good) + "\n{not json\n")
    with pytest.raises(LabelError, match=r"row 2: not valid JSON"):
        read_labels(p)


def test_dataframe_errors_say_dataframe():
    with pytest.raises(LabelError, match=r"<DataFrame>, row 2, column 'score'"):
        LabelSet.from_frame(_frame(score=[4, "x", 2, 1]))


def test_lenient_skips_counts_and_lists(tmp_path):
    p = _csv(tmp_path, "i1,a.png,p,g,r1,realism,4\ni2,b.png,p,g,r1,realism,x\ni3,c.png,p,g,r1,realism,9\n"
                       "i1,a.png,p,g,r1,realism,2\ni4,d.png,p,g,r1,realism,1\n")
    ls = read_labels(p, scales={"realism": (1, 5)}, lenient=True)
    assert ls.frame["item_id"].tolist() == ["i1", "i4"]
    assert ls.skipped_rows == [3, 4, 5]
    assert all(isinstance(q, Problem) for q in ls.skipped)
    assert [q.column for q in ls.skipped] == ["score", "score", "rater_id"]
    assert ls.summary()["skipped_rows"] == 3 and "3 skipped" in repr(ls)
    with pytest.raises(LabelError, match=r"and 2 more problem\(s\); bad rows: 3, 4, 5"):
        read_labels(p, scales={"realism": (1, 5)})


def test_pairwise_validation(tmp_path):
    base = {"item_a": ["x", "y"], "item_b": ["y", "z"], "question": ["overall"] * 2}
    with pytest.raises(LabelError, match=r"'choice' or 'preference'"):
        PairwiseLabelSet.from_frame(pd.DataFrame(base))
    with pytest.raises(LabelError, match=r"row 2, column 'choice': expected 'a', 'b' or 'tie'"):
        PairwiseLabelSet.from_frame(pd.DataFrame({**base, "choice": ["a", "left"]}))
    with pytest.raises(LabelError, match=r"row 1, column 'preference': expected a number in \[0, 1\]"):
        PairwiseLabelSet.from_frame(pd.DataFrame({**base, "preference": [1.5, 0.2]}))
    with pytest.raises(LabelError, match=r"row 2, column 'item_b'.*compared with itself"):
        PairwiseLabelSet.from_frame(pd.DataFrame({"item_a": ["x", "y"], "item_b": ["y", "y"],
                                                  "question": ["q", "q"], "choice": ["a", "b"]}))
    with pytest.raises(LabelError, match=r"row 2, column 'rater_id': contradictory duplicate judgment .* in row 1"):
        PairwiseLabelSet.from_frame(pd.DataFrame({"item_a": ["x", "y"], "item_b": ["y", "x"], "question": ["q", "q"],
                                                  "choice": ["a", "a"], "rater_id": ["r", "r"]}))
    with pytest.raises(LabelError, match=r"row 2, column 'rater_id': duplicate judgment .* in row 1"):
        PairwiseLabelSet.from_frame(pd.DataFrame({"item_a": ["x", "y"], "item_b": ["y", "x"], "question": ["q", "q"],
                                                  "choice": ["a", "b"], "rater_id": ["r", "r"]}))
    ps = PairwiseLabelSet.from_frame(pd.DataFrame({**base, "choice": ["A", "nope"]}), lenient=True)
    assert len(ps) == 1 and ps.skipped_rows == [2]
    p = tmp_path / "p.csv"
    p.write_text("item_a,item_b,question,choice\nx,y,overall,a\nx,z,overall,maybe\n")
    with pytest.raises(LabelError, match=rf"{re.escape(str(p))}, row 3, column 'choice'"):
        read_labels(p)


def test_from_frame_rejects_non_frame_and_bad_scale():
    with pytest.raises(LabelError, match="DataFrame"):
        LabelSet.from_frame([{"a": 1}])
    with pytest.raises(LabelError, match="low must be <= high"):
        LabelSet.from_frame(_frame(), scales={"realism": (5, 1)})


def test_from_frame_types_and_optional_columns():
    ls = LabelSet.from_frame(_frame(item_id=[1, 1, 2, 2]).drop(columns=["prompt", "rater_id"]), "x")
    assert ls.frame["item_id"].tolist() == ["1", "1", "2", "2"]
    assert ls.frame["rater_id"].isna().all() and ls.frame["prompt"].isna().all()
    assert list(ls.frame.columns[:7]) == ["item_id", "image", "prompt", "generator", "rater_id", "question", "score"]


# ------------------------------------------------------------------ round trips
@pytest.mark.parametrize("ext", ["csv", "tsv", "jsonl", "parquet"])
def test_round_trip_judgments(tmp_path, ext):
    ls = LabelSet.from_frame(_frame(extra=[1.5, 2.5, 3.5, 4.5]), "mine", scales={"realism": (1, 5)},
                             meta={"simulated": True, "note": "x", "obj": object()})
    path = ls.write(tmp_path / f"l.{ext}")
    back = read_labels(path)
    assert back.name == "mine" and back.scales == {"realism": (1.0, 5.0)} and back.meta["note"] == "x"
    assert back.simulated and "obj" not in back.meta
    pd.testing.assert_frame_equal(back.frame, ls.frame, check_dtype=False)


@pytest.mark.parametrize("ext", ["csv", "jsonl", "parquet"])
def test_round_trip_pairs(tmp_path, ext):
    ps = read_labels(FIX / "pairs.jsonl")
    back = read_labels(ps.write(tmp_path / f"p.{ext}"))
    assert isinstance(back, PairwiseLabelSet) and back.name == "pairs"
    pd.testing.assert_frame_equal(back.frame, ps.frame, check_dtype=False)


def test_parquet_without_pyarrow(tmp_path, monkeypatch):
    import judgenet.labels.files as files

    monkeypatch.setattr(files, "_have_pyarrow", lambda: False)
    ls = LabelSet.from_frame(_frame())
    with pytest.raises(LabelError, match=r"pip install judgenet\[parquet\]"):
        ls.write(tmp_path / "l.parquet")
    (tmp_path / "x.parquet").write_bytes(b"PAR1")
    with pytest.raises(LabelError, match="pyarrow"):
        read_labels(tmp_path / "x.parquet")


def test_unknown_extension(tmp_path):
    with pytest.raises(LabelError, match="unknown label file"):
        LabelSet.from_frame(_frame()).write(tmp_path / "l.xlsx")
    (tmp_path / "l.xlsx").write_text("x")
    with pytest.raises(LabelError, match="unknown label file type"):
        read_labels(tmp_path / "l.xlsx")
    with pytest.raises(LabelError, match="not found"):
        read_labels(tmp_path / "missing.csv")


# ------------------------------------------------------------------ aggregation
def test_aggregate_mean_median_n_raters():
    df = pd.DataFrame({"item_id": ["a"] * 3 + ["b"] * 2, "image": ["a.png"] * 3 + ["b.png"] * 2,
                       "generator": ["g"] * 5, "rater_id": ["r1", "r2", "r3", "r1", "r2"],
                       "question": ["q"] * 5, "score": [1, 2, 6, 3, 5]})
    agg = LabelSet.from_frame(df).aggregate("q")
    assert agg["item_id"].tolist() == ["a", "b"]
    assert agg["score"].tolist() == [3.0, 4.0] and agg["median"].tolist() == [2.0, 4.0]
    assert agg["n_raters"].tolist() == [3, 2] and agg["std"].iloc[1] == pytest.approx(np.sqrt(2))
    assert LabelSet.from_frame(df).aggregate("q", "median")["score"].tolist() == [2.0, 4.0]
    with pytest.raises(LabelError, match="unknown aggregation"):
        LabelSet.from_frame(df).aggregate("q", "mode")
    with pytest.raises(LabelError, match="no judgments for question 'x'"):
        LabelSet.from_frame(df).aggregate("x")


def test_zscore_by_rater_removes_rater_offset_and_scale():
    # rater r2 = 2 * r1 + 1: after per-rater z-normalization both give identical scores
    s1 = np.array([1.0, 2.0, 4.0])
    df = pd.DataFrame({"item_id": list("abc") * 2, "image": list("abc") * 2, "generator": ["g"] * 6,
                       "rater_id": ["r1"] * 3 + ["r2"] * 3, "question": ["q"] * 6,
                       "score": np.r_[s1, 2 * s1 + 1]})
    ls = LabelSet.from_frame(df)
    z = zscore_by_rater(ls.frame).to_numpy()
    expect = (s1 - s1.mean()) / s1.std(ddof=1)
    np.testing.assert_allclose(z, np.r_[expect, expect])
    agg = ls.aggregate("q", "zmean")
    np.testing.assert_allclose(agg["score"], expect)
    assert ls.znormalized().frame["score"].tolist() == pytest.approx(z.tolist())
    anon = LabelSet.from_frame(df.assign(rater_id=None))
    with pytest.raises(LabelError, match="needs rater_id"):
        anon.aggregate("q", "zmean")


def test_pairwise_aggregate_flips_reversed_and_majority():
    ps = read_labels(FIX / "pairs.jsonl")
    agg = ps.aggregate("overall").set_index(["item_a", "item_b"])
    # (i1, i2): a, (i2, i1): b -> i1 preferred, tie -> 0.5  => mean (1 + 1 + 0.5) / 3
    row = agg.loc[("i1", "i2")]
    assert row["preference"] == pytest.approx(2.5 / 3) and row["majority"] == "a"
    assert (row["n_a"], row["n_b"], row["n_tie"], row["n_raters"]) == (2, 0, 1, 3)
    assert row["generator_a"] == "gan-a"
    assert agg.loc[("i1", "i3")]["majority"] == "b"
    assert aggregate_pairs(ps.frame, "overall").shape[0] == 2


def test_select_and_summary():
    ls = read_labels(FIX / "judgments.csv")
    sub = ls.select("alignment")
    assert len(sub) == 2 and sub.questions == ["alignment"]
    with pytest.raises(LabelError):
        ls.select("nope")


def test_world_style_frame_builds():
    """The simulated raters of the world package build their LabelSet through from_frame."""
    ls = LabelSet.from_frame(_frame(), name="world-simulated", scales={"realism": (1, 5)}, source="simulated",
                             meta={"simulated": True})
    assert ls.simulated and ls.name == "world-simulated"
    with pytest.raises(LabelError, match=r"simulated, row 1, column 'score'"):
        LabelSet.from_frame(_frame(score=[9, 1, 1, 1]), scales={"realism": (1, 5)}, source="simulated")


def test_dispatcher_errors():
    with pytest.raises(LabelError, match="neither an existing label file nor a known set"):
        load_label_set("no-such-set")
    with pytest.raises(LabelError, match="simulated"):
        load_label_set("world-simulated")
    ls = load_label_set(str(FIX / "judgments.csv"))
    assert isinstance(ls, LabelSet)

# The full public files (published counts) are checked in tests/test_labels_integration.py.


# ------------------------------------------------------------------ hostile input (issue 17 items 6 and 14)
def test_anonymous_exact_repeats_are_refused_or_listed(tmp_path):
    p = _csv(tmp_path, "i1,a.png,p,g,,realism,4\ni1,a.png,p,g,,realism,4\ni2,b.png,p,g,,realism,2\n")
    with pytest.raises(LabelError, match=r"row 3, column 'rater_id': this row repeats row 2 exactly .*no rater_id"):
        read_labels(p)
    ls = read_labels(p, lenient=True)
    assert ls.skipped_rows == [3] and len(ls) == 2
    assert ls.aggregate("realism").set_index("item_id").loc["i1", "n_raters"] == 1
    # with rater ids the same scores are two judgments
    p2 = _csv(tmp_path, "i1,a.png,p,g,r1,realism,4\ni1,a.png,p,g,r2,realism,4\n", name="ok.csv")
    assert len(read_labels(p2)) == 2
    # pairwise anonymous repeats too
    pp = tmp_path / "pairs.csv"
    pp.write_text("item_a,item_b,question,choice\nx,y,q,a\nx,y,q,a\nx,z,q,b\n")
    with pytest.raises(LabelError, match=r"row 3, column 'rater_id': this row repeats row 2 exactly"):
        read_labels(pp)


def test_blank_item_id_is_reported_as_blank_not_as_an_item_nan_conflict(tmp_path):
    p = _csv(tmp_path, "i1,a.png,p,g,r1,realism,4\n,b.png,p,g,r1,realism,4\n,c.png,p,g,r1,realism,3\n")
    with pytest.raises(LabelError) as e:
        read_labels(p)
    msg = str(e.value)
    assert "row 3, column 'item_id': expected a non-empty value, found an empty value" in msg
    assert "nan" not in msg.lower().replace("non-empty", "")


@pytest.mark.parametrize("body", ["i1,a.png,p,g,r1,realism,abc\n", "i1,a.png,p,g,r1,realism,\n",
                                  "i1,a.png,p,g,r1,realism,nan\n"])
def test_messages_show_no_numpy_reprs(tmp_path, body):
    p = _csv(tmp_path, body)
    with pytest.raises(LabelError) as e:
        read_labels(p)
    assert "np." not in str(e.value) and "row 2, column 'score'" in str(e.value)
    f = pd.DataFrame({"item_a": np.array(["x"], dtype=object), "item_b": np.array([np.str_("x")], dtype=object),
                      "question": ["q"], "preference": [np.float64(0.5)]})
    with pytest.raises(LabelError) as e:
        PairwiseLabelSet.from_frame(f)
    assert "np." not in str(e.value) and "'x' is compared with itself" in str(e.value)


def test_semicolon_delimited_file_is_read(tmp_path):
    p = _csv(tmp_path, "i1;a.png;p;g;r1;realism;4\ni2;b.png;p;g;r1;realism;2\n", header=HEADER.replace(",", ";"))
    ls = read_labels(p)
    assert len(ls) == 2 and ls.frame["score"].tolist() == [4.0, 2.0]
    ls2 = load_label_set(p)
    assert len(ls2) == 2


def test_missing_score_column_is_named(tmp_path):
    p = _csv(tmp_path, "i1,a.png,p,g,r1,realism\n", header="item_id,image,prompt,generator,rater_id,question\n")
    with pytest.raises(LabelError, match=r"without column\(s\) \['score'\]; fix: add a 'score' column"):
        load_label_set(p)
    with pytest.raises(LabelError, match=r"column\(s\) \['score'\]: missing"):
        read_labels(p)


# ------------------------------------------------------------------ pairwise items and rankings
def test_pairwise_items_carry_image_prompt_generator_and_must_agree(tmp_path):
    p = tmp_path / "pairs.csv"
    p.write_text("item_a,item_b,image_a,image_b,generator_a,generator_b,prompt,question,choice,rater_id\n"
                 "x,y,x.png,y.png,g1,g2,a cat,overall,a,r1\n"
                 "y,z,y.png,z.png,g2,g3,a cat,overall,tie,r1\n")
    ps = read_labels(p)
    items = ps.items()
    assert items["item_id"].tolist() == ["x", "y", "z"]
    assert items.set_index("item_id").loc["y"].tolist() == ["y.png", "a cat", "g2"]
    p.write_text("item_a,item_b,image_a,image_b,generator_a,generator_b,prompt,question,choice,rater_id\n"
                 "x,y,x.png,y.png,g1,g2,a cat,overall,a,r1\n"
                 "y,z,y.png,z.png,g9,g3,a cat,overall,tie,r1\n")
    with pytest.raises(LabelError, match=r"row 3, column 'generator_a': item 'y' has generator 'g9' here but 'g2'"):
        read_labels(p)
    assert len(read_labels(p, lenient=True)) == 1


def _rank_file(tmp_path, body):
    p = tmp_path / "r.csv"
    p.write_text("caption,rater_id,question,model,rank\n" + body)
    return p


def test_rankings_with_ties_or_gaps_are_errors_or_listed_skips(tmp_path):
    good = "x,r1,realism,a,1\nx,r1,realism,b,2\nx,r1,realism,c,3\n"
    tie = "y,r1,realism,a,1\ny,r1,realism,b,1\ny,r1,realism,c,3\n"
    gap = "z,r2,realism,a,1\nz,r2,realism,b,2\nz,r2,realism,c,4\n"
    with pytest.raises(LabelError, match=r"r.csv, row 5, column 'rank': the ranking of prompt 'y' by rater 'r1' "
                                         r"\(realism\) has ranks 1, 1, 3 — it has equal ranks .*allow_ties=True"):
        load_label_set(f"rankings:{_rank_file(tmp_path, good + tie)}")
    with pytest.raises(LabelError, match=r"row 5, column 'rank'.*ranks 1, 2, 4 — it skips ranks .*renumber"):
        load_label_set(f"rankings:{_rank_file(tmp_path, good + gap)}")
    ps = load_label_set(f"rankings:{_rank_file(tmp_path, good + tie + gap)}", lenient=True)
    assert ps.skipped_rows == [5, 8] and len(ps) == 3
    ps = load_label_set(f"rankings:{_rank_file(tmp_path, good + tie)}", allow_ties=True)
    assert len(ps) == 6 and (ps.frame["choice"] == "tie").sum() == 1
    odd = _rank_file(tmp_path, "y,r1,realism,a,1\ny,r1,realism,b,1\ny,r1,realism,c,4\n")
    with pytest.raises(LabelError, match="skips ranks"):  # 1, 1, 4 is neither competition nor dense
        load_label_set(f"rankings:{odd}", allow_ties=True)


def test_each_ranking_counts_equally_in_aggregation(tmp_path):
    # rater r1 ranks 4 items (6 pairs), rater r2 gives the single pair (a, b) the other way round
    body = ("x,r1,realism,a,1\nx,r1,realism,b,2\nx,r1,realism,c,3\nx,r1,realism,d,4\n"
            "x,r2,realism,a,2\nx,r2,realism,b,1\n")
    ps = load_label_set(f"rankings:{_rank_file(tmp_path, body)}")
    w = ps.frame.groupby("rater_id")["weight"].sum()
    assert w["r1"] == pytest.approx(1.0) and w["r2"] == pytest.approx(1.0)
    agg = aggregate_pairs(ps.frame, "realism").set_index(["generator_a", "generator_b"])
    # pair (a, b): r1 says a (weight 1/6), r2 says b (weight 1): weighted mean for a = (1/6) / (7/6)
    assert agg.loc[("a", "b"), "preference"] == pytest.approx(1 / 7)
    per_pair = load_label_set(f"rankings:{_rank_file(tmp_path, body)}", weighting="pair")
    agg2 = aggregate_pairs(per_pair.frame, "realism").set_index(["generator_a", "generator_b"])
    assert agg2.loc[("a", "b"), "preference"] == pytest.approx(0.5)
