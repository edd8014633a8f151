"""Label files at scale: chunked reading + vectorized checks give the same LabelSets and errors as the
code before the split (read from git history) and as a row-by-row reference; a bad row stops reading."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from judgenet.errors import LabelError
from judgenet.labels import LabelSet, PairwiseLabelSet, read_labels

ROOT = Path(__file__).resolve().parent.parent
FIX = Path(__file__).parent / "fixtures" / "labels"
BEFORE = "a45ecf5"  # the last commit with the one-file labels/schema.py (row loops)


def _before():
    """judgenet.labels.schema as it was before the split (checks written as row loops), or skip."""
    try:
        code = subprocess.run(["git", "-C", str(ROOT), "show", f"{BEFORE}:judgenet/labels/schema.py"],
                              capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("the pre-split labels/schema.py is not in this checkout's git history")
    spec = importlib.util.spec_from_loader("judgenet.labels._before_split", loader=None)
    mod = importlib.util.module_from_spec(spec)
    mod.__package__ = "judgenet.labels"
    sys.modules[spec.name] = mod
    exec(compile(code, "schema_before_split.py", "exec"), mod.__dict__)
    return mod


def _outcome(fn):
    try:
        return fn(), None
    except LabelError as exc:
        return None, str(exc)


def _same_sets(a, b):
    assert type(a).__name__ == type(b).__name__
    pd.testing.assert_frame_equal(a.frame, b.frame, check_exact=True)
    assert [(p.row, p.column, p.message) for p in a.skipped] == [(p.row, p.column, p.message) for p in b.skipped]
    assert a.scales == b.scales and getattr(a, "inferred_scales", None) == getattr(b, "inferred_scales", None)


def _first_problem(message):
    return message.split(" (and ")[0].split(" (reading stopped")[0].split("; or pass lenient")[0]


def _fuzzed(rng, pairwise):
    """A small label table with random defects (blank, non-numeric, out-of-scale, duplicate, repeated
    anonymous rows, an item with two images, an item compared with itself ...)."""
    n = int(rng.integers(1, 14))
    if pairwise:
        ids = [(f"i{rng.integers(0, 6)}", f"i{rng.integers(0, 6)}") for _ in range(n)]
        df = pd.DataFrame({"item_a": [a for a, _ in ids], "item_b": [b for _, b in ids], "question": "overall",
                           "choice": rng.choice(["a", "b", "tie", "A "], n), "rater_id": rng.choice(["r0", "r1"], n),
                           "image_a": [a + ".png" for a, _ in ids], "image_b": [b + ".png" for _, b in ids],
                           "generator_a": [a[-1] for a, _ in ids], "generator_b": [b[-1] for _, b in ids]})
        if rng.random() < 0.4:
            df["preference"] = rng.choice(["0.3", "", "1.5", "x", "1"], n)
    else:
        items = [f"i{rng.integers(0, max(2, n // 3))}" for _ in range(n)]
        df = pd.DataFrame({"item_id": items, "image": [i + ".png" for i in items], "prompt": "p",
                           "generator": [i[-1] for i in items], "rater_id": rng.choice(["r0", "r1", "r2"], n),
                           "question": rng.choice(["realism", "alignment"], n), "score": rng.integers(1, 6, n),
                           "extra": rng.integers(0, 9, n)})
    for _ in range(int(rng.integers(0, 4))):
        col = rng.choice(list(df.columns))
        df[col] = df[col].astype(object)
        df.loc[int(rng.integers(0, n)), col] = rng.choice(["", " ", "high", "inf", "7", "x.png", "007", "i0"])
    if rng.random() < 0.3:
        df = df.drop(columns="rater_id")
    if rng.random() < 0.3:
        df = pd.concat([df, df.iloc[[0]]], ignore_index=True)
    return df


def _files(tmp_path, n_fuzzed):
    files = [f for f in sorted(FIX.glob("*")) if f.suffix in (".csv", ".jsonl")]
    for s in range(n_fuzzed):
        rng = np.random.default_rng(s)
        df = _fuzzed(rng, pairwise=s % 2 == 0)
        p = tmp_path / f"f{s}.{('csv', 'jsonl', 'parquet')[s % 3]}"
        if p.suffix == ".csv":
            df.to_csv(p, index=False)
        elif p.suffix == ".jsonl":
            df.to_json(p, orient="records", lines=True)
        else:
            df.astype(str).to_parquet(p, index=False)
        files.append(p)
    return files


@pytest.mark.parametrize("n_fuzzed, chunks, minimum", [
    (12, (None, 2), 60), pytest.param(60, (None, 1, 2, 3), 700, marks=pytest.mark.slow)], ids=["some", "many"])
def test_same_labelsets_and_errors_as_before_the_split(tmp_path, n_fuzzed, chunks, minimum):
    """Fixtures and fuzzed files, strict and lenient, with a scale, read whole and in chunks of a few rows:
    the same frames, skipped problems, scales and first error as the row-loop code before the split."""
    before = _before()
    checked = 0
    for path in _files(tmp_path, n_fuzzed):
        for kw in ({}, {"lenient": True}, {"scales": {"realism": (1, 5)}}):
            old, old_err = _outcome(lambda: before.read_labels(path, **kw))
            for chunk_rows in chunks:
                new, new_err = _outcome(lambda: read_labels(path, chunk_rows=chunk_rows, **kw))
                assert (old_err is None) == (new_err is None), (path, kw, chunk_rows, old_err, new_err)
                if old_err is not None:
                    old_err = old_err.replace(", __row__)", ")")  # the internal column is no longer listed
                    if chunk_rows is None:
                        assert new_err == old_err
                    else:  # stops at the same first problem (a value's quoting may follow its chunk's type)
                        a, b = _first_problem(old_err), _first_problem(new_err)
                        assert a == b or a.replace("'", "") == b.replace("'", ""), (a, b)
                else:
                    _same_sets(old, new)
                checked += 1
    assert checked > minimum


def _reference_problem_rows(df):
    """Row-by-row reference: the rows (1-based) an independent reading of the rules flags — empty required
    values, non-finite scores, duplicate (item, rater, question), anonymous exact repeats, one image and
    one generator per item."""
    bad, seen, anon, first_image, first_gen = set(), set(), set(), {}, {}
    for r, rec in enumerate(df.to_dict("records"), start=1):
        blank = {k: rec[k] is None or (isinstance(rec[k], float) and np.isnan(rec[k])) or str(rec[k]).strip() == ""
                 for k in rec}
        if any(blank[k] for k in ("item_id", "image", "generator", "question")):
            bad.add(r)
        try:
            if not np.isfinite(float(rec["score"])):
                bad.add(r)
        except (TypeError, ValueError):
            bad.add(r)
        if not blank["rater_id"]:
            key = (str(rec["item_id"]), str(rec["rater_id"]), str(rec["question"]))
            if key in seen:
                bad.add(r)
            seen.add(key)
        else:
            key = tuple(str(rec[k]) for k in rec if k != "rater_id")
            if key in anon:
                bad.add(r)
            anon.add(key)
        if not blank["item_id"]:
            for attr, first in (("image", first_image), ("generator", first_gen)):
                if not blank[attr] and first.setdefault(str(rec["item_id"]), str(rec[attr])) != str(rec[attr]):
                    bad.add(r)
    return bad


def test_lenient_skips_exactly_the_rows_a_row_by_row_reference_flags():
    rng = np.random.default_rng(7)
    n = 3000
    items = rng.integers(0, 400, n)
    df = pd.DataFrame({"item_id": [f"i{i}" for i in items], "image": [f"{i}.png" for i in items],
                       "generator": [f"g{i % 3}" for i in items], "question": "realism",
                       "rater_id": [f"r{r}" for r in rng.integers(0, 12, n)], "score": rng.integers(1, 6, n)})
    for col, values in (("image", ["x.png"]), ("score", ["nan", "high", ""]), ("rater_id", [None]),
                        ("generator", ["", "g9"]), ("item_id", [" "])):
        pick = rng.choice(n, 40, replace=False)
        df[col] = df[col].astype(object)
        df.loc[pick, col] = rng.choice(np.array(values, dtype=object), 40)
    df = pd.concat([df, df.iloc[rng.choice(n, 30)]], ignore_index=True)  # exact repeats, some anonymous
    expected = _reference_problem_rows(df)
    ls = LabelSet.from_frame(df, lenient=True)
    assert set(ls.skipped_rows) == expected and len(ls) == len(df) - len(expected)
    assert 100 < len(expected) < len(df) // 2


def _big_csv(path, n, duplicate_row=None, broken_tail=False):
    k = np.arange(n)
    df = pd.DataFrame({"item_id": "i" + pd.Series(k // 5).astype(str), "image": "im" + pd.Series(k // 5).astype(str),
                       "generator": "g", "rater_id": "r" + pd.Series(k % 5).astype(str), "question": "realism",
                       "score": (k % 5) + 1})
    if duplicate_row is not None:  # file row r is record r - 2 (the header is row 1)
        df.iloc[duplicate_row - 2] = df.iloc[duplicate_row - 3]
    df.to_csv(path, index=False)
    if broken_tail:  # a line that cannot be parsed: reading the whole file would fail on it instead
        with open(path, "a") as fh:
            fh.write('"unterminated,quote\n' + "x,y\n" * 3)
    return path


def test_a_duplicate_on_row_3_of_a_large_file_is_reported_without_reading_the_rest(tmp_path):
    p = _big_csv(tmp_path / "big.csv", 200_000, duplicate_row=3, broken_tail=True)
    with pytest.raises(LabelError) as e:
        read_labels(p)
    msg = str(e.value)
    assert msg.startswith(f"{p}, row 3, column 'rater_id': duplicate judgment — item 'i0', rater 'r0'")
    assert "already judged in row 2" in msg and "reading stopped after row" in msg and "cannot parse" not in msg
    with pytest.raises(LabelError, match="cannot parse"):  # the tail is broken: the whole file was not read
        read_labels(p, lenient=True)


def test_a_problem_found_late_names_the_first_bad_row_of_the_file(tmp_path):
    p = _big_csv(tmp_path / "late.csv", 150_000, duplicate_row=140_001)
    with pytest.raises(LabelError, match=r"row 140001, column 'rater_id': duplicate judgment .* in row 140000"):
        read_labels(p)
    good = read_labels(_big_csv(tmp_path / "good.csv", 150_000))
    whole = read_labels(tmp_path / "good.csv", chunk_rows=None)
    assert len(good) == 150_000
    pd.testing.assert_frame_equal(good.frame, whole.frame, check_exact=True)


def test_jsonl_whose_keys_change_along_the_file_is_checked_in_one_piece(tmp_path):
    p = tmp_path / "l.jsonl"
    recs = [{"item_id": f"i{i}", "image": f"{i}.png", "generator": "g", "question": "q", "score": 1} for i in range(5)]
    recs[4]["rater_id"] = "r1"  # a key that the first chunks do not have
    pd.DataFrame(recs).to_json(p, orient="records", lines=True)
    p.write_text("\n".join(line.replace(',"rater_id":null', "") for line in p.read_text().splitlines()) + "\n")
    chunked, whole = read_labels(p, chunk_rows=2), read_labels(p, chunk_rows=None)
    pd.testing.assert_frame_equal(chunked.frame, whole.frame, check_exact=True)
    assert chunked.frame["rater_id"].tolist()[-1] == "r1"


def test_pairwise_duplicates_at_scale_name_the_first_judgment(tmp_path):
    n = 100_000
    k = np.arange(n)
    df = pd.DataFrame({"item_a": "a" + pd.Series(k).astype(str), "item_b": "b" + pd.Series(k).astype(str),
                       "question": "overall", "choice": np.where(k % 2, "a", "b"), "rater_id": "r1"})
    df.loc[n - 1, ["item_a", "item_b", "choice"]] = ["b5", "a5", "a"]  # row 7 reversed, same choice = contradiction
    with pytest.raises(LabelError, match=rf"row {n + 1}, column 'rater_id': contradictory duplicate judgment — "
                                         r"rater 'r1' already compared 'a5' and 'b5' on 'overall' in row 7"):
        PairwiseLabelSet.from_frame(df, row_numbers=k + 2)


def test_chunk_rows_is_checked():
    with pytest.raises(LabelError, match="chunk_rows"):
        read_labels(FIX / "judgments.csv", chunk_rows=0)
