"""judgenet.jobs.inputs: generator names, label image confinement, output folders, prompt files."""
import os

import pytest

from judgenet.errors import ConfigError
from judgenet.jobs.inputs import generator_names, prompts_for, read_prompts, resolve_label_images, run_dir


def test_generator_names_unique_from_path(tmp_path):
    for d in ("a/blur", "b/blur", "c/noise"):
        (tmp_path / d).mkdir(parents=True)
    names = generator_names([tmp_path / "a/blur", tmp_path / "b/blur", tmp_path / "c/noise"])
    assert names == ["a/blur", "b/blur", "noise"]
    with pytest.raises(ConfigError, match="given twice"):
        generator_names([tmp_path / "c/noise", str(tmp_path / "c" / ".." / "c" / "noise")])


def test_label_images_confined_to_images_folder(tmp_path):
    root = tmp_path / "gen"
    root.mkdir()
    (root / "x.png").write_bytes(b"x")
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"s")
    assert resolve_label_images(["x.png"], ["i1"], root) == [str((root / "x.png").resolve())]
    for bad in ("../secret.png", str(secret)):
        with pytest.raises(ConfigError, match="outside the image folder.*allow-outside-images"):
            resolve_label_images([bad], ["i2"], root)
    assert resolve_label_images(["../secret.png"], ["i2"], root, allow_outside=True) == [str(secret.resolve())]
    with pytest.raises(ConfigError, match="item i3: image .*missing.png not found"):
        resolve_label_images(["missing.png"], ["i3"], root)


def test_label_image_symlink_escaping_is_refused(tmp_path):
    root = tmp_path / "gen"
    root.mkdir()
    (tmp_path / "outside.png").write_bytes(b"o")
    os.symlink(tmp_path / "outside.png", root / "link.png")
    with pytest.raises(ConfigError, match="outside"):
        resolve_label_images(["link.png"], ["i"], root)


def test_run_dir_refuses_files_and_non_empty(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ConfigError, match="existing file"):
        run_dir(f, "x")
    d = tmp_path / "d"
    d.mkdir()
    (d / "a").write_text("a")
    with pytest.raises(ConfigError, match="--overwrite"):
        run_dir(d, "x")
    assert run_dir(d, "x", overwrite=True) == d


def test_prompt_files(tmp_path):
    p = tmp_path / "p.csv"
    p.write_text("image,prompt\na.png,a red cube\nb.png,\n")
    with pytest.raises(ConfigError, match="row 3: blank prompt for image b.png"):
        read_prompts(p)
    p.write_text("image;prompt\na.png;a red cube\n")  # semicolons: the delimiter is sniffed
    assert read_prompts(p) == {"a.png": "a red cube"}
    p.write_text("file,caption\na.png,x\n")
    with pytest.raises(ConfigError, match=r"missing column\(s\) \['image', 'prompt'\].*found \['file', 'caption'\]"):
        read_prompts(p)
    (tmp_path / "a.png").write_bytes(b"")
    (tmp_path / "b.png").write_bytes(b"")
    with pytest.raises(ConfigError, match="1 image.*b.png"):
        prompts_for([tmp_path / "a.png", tmp_path / "b.png"], tmp_path, {"a.png": "x"})
    assert prompts_for([tmp_path / "b.png"], tmp_path, {"a.png": "x"}, require_all=False) == [None]


def test_open_run_marks_locks_resumes_and_cleans_up(tmp_path):
    import json

    from judgenet.jobs.inputs import LOCK, UNFINISHED, open_run

    job = {"command": "score", "options": {"seed": 0}}
    out = tmp_path / "o"
    with pytest.raises(KeyboardInterrupt):
        with open_run(out, "x", job=job, keep=("study.db",)) as root:
            assert json.loads((root / UNFINISHED).read_text())["command"] == "score" and (root / LOCK).exists()
            (root / "study.db").write_text("trials")
            (root / "sub").mkdir()
            (root / "sub" / "part.npz").write_text("partial")
            raise KeyboardInterrupt
    # what the run wrote is gone except its resumable state; the folder says it is unfinished, by which command
    assert sorted(p.name for p in out.rglob("*")) == sorted([UNFINISHED, "study.db"])
    with pytest.raises(ConfigError, match="unfinished `judgenet score` run with other options"):
        with open_run(out, "x", job={"command": "score", "options": {"seed": 1}}):
            pass
    with open_run(out, "x", job=job) as root:  # the identical run resumes into it
        (root / "result.csv").write_text("done")
    assert sorted(p.name for p in out.iterdir()) == ["result.csv", "study.db"]  # finished: no marker, no lock
    with pytest.raises(ConfigError, match="exists and is not empty"):
        with open_run(out, "x", job=job):
            pass
    with pytest.raises(ValueError):  # a failed run into a new folder leaves nothing behind
        with open_run(tmp_path / "n", "x", job=job) as root:
            (root / "half.npz").write_text("x")
            raise ValueError
    assert not (tmp_path / "n").exists()


def test_open_run_refuses_an_out_inside_an_input_folder(tmp_path):
    from judgenet.jobs.inputs import open_run

    (tmp_path / "real").mkdir()
    with pytest.raises(ConfigError, match="inside the reference folder"):
        with open_run(tmp_path / "real" / "a" / "b", "x", inputs=[("reference folder", tmp_path / "real")]):
            pass
    assert not (tmp_path / "real" / "a").exists()


def test_prompt_file_with_two_rows_for_one_image_is_refused(tmp_path):
    p = tmp_path / "p.csv"
    p.write_text("image,prompt\na.png,one\nb.png,two\na.png,three\n")
    with pytest.raises(ConfigError, match=r"p.csv, rows 2, 4: image a.png has 2 prompt rows"):
        read_prompts(p)
