"""judgenet.images: decoding every mode to RGB, failures that name path and reason, listing."""

import numpy as np
import pytest
from PIL import Image

from judgenet.errors import ConfigError, ImageError
from judgenet.images import ImageFailure, list_images, load_rgb


def _rgb(seed=0, size=8):
    return Image.fromarray((np.random.default_rng(seed).random((size, size, 3)) * 255).astype("uint8"))


@pytest.mark.parametrize("kind", ["L", "LA", "P", "RGBA", "CMYK", "I;16", "RGB"])
def test_load_rgb_converts_modes(tmp_path, kind):
    if kind == "I;16":
        im = Image.fromarray((np.arange(64).reshape(8, 8) * 1000).astype(np.uint16))
        assert im.mode.startswith("I;16")
    else:
        im = _rgb().convert(kind)
    path = tmp_path / ("x.tiff" if kind in ("CMYK", "I;16") else "x.png")
    im.save(path)
    out = load_rgb(path)
    assert out.mode == "RGB" and out.size == (8, 8)


def test_i16_is_scaled_to_8_bit(tmp_path):
    a = np.array([[0, 257, 65535, 32896]], dtype=np.uint16)
    Image.fromarray(a).save(tmp_path / "d.tiff")
    got = np.asarray(load_rgb(tmp_path / "d.tiff"))[0, :, 0]
    assert got.tolist() == [0, 1, 255, 128]


def test_grey_is_replicated_to_three_channels(tmp_path):
    Image.fromarray(np.full((3, 3), 77, np.uint8), mode="L").save(tmp_path / "g.png")
    assert np.asarray(load_rgb(tmp_path / "g.png")).reshape(-1, 3).tolist() == [[77, 77, 77]] * 9


def test_alpha_composited_on_white_and_exif_applied(tmp_path):
    Image.new("RGBA", (4, 4), (0, 0, 0, 0)).save(tmp_path / "t.png")
    assert load_rgb(tmp_path / "t.png").getpixel((0, 0)) == (255, 255, 255)
    Image.new("RGBA", (4, 4), (0, 0, 0, 255)).save(tmp_path / "o.png")
    assert load_rgb(tmp_path / "o.png").getpixel((0, 0)) == (0, 0, 0)
    Image.new("LA", (4, 4), (0, 0)).save(tmp_path / "la.png")
    assert load_rgb(tmp_path / "la.png").getpixel((1, 1)) == (255, 255, 255)
    im = Image.new("RGB", (6, 2))
    exif = im.getexif()
    exif[0x0112] = 6  # orientation: rotate 90
    im.save(tmp_path / "r.jpg", exif=exif)
    assert load_rgb(tmp_path / "r.jpg").size == (2, 6)


@pytest.mark.parametrize("content,reason", [(b"", "zero-byte"), (b"not an image at all", "not an image")])
def test_bad_files_raise_with_path_and_reason(tmp_path, content, reason):
    p = tmp_path / "bad.png"
    p.write_bytes(content)
    with pytest.raises(ImageError, match=reason) as ei:
        load_rgb(p)
    assert str(p) in str(ei.value)


def test_missing_file(tmp_path):
    with pytest.raises(ImageError, match="not found"):
        load_rgb(tmp_path / "nope.png")


@pytest.mark.parametrize("ext", ["png", "jpg"])
def test_truncated_image_is_reported(tmp_path, ext):
    p = tmp_path / f"t.{ext}"
    _rgb(0, 64).save(p)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="truncated|corrupt") as ei:
        load_rgb(p)
    assert str(p) in str(ei.value)


def test_list_images_recursive_sorted_by_extension(tmp_path):
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / ".hidden").mkdir()
    for rel in ["b.png", "a.JPG", "sub/c.webp", "sub/deeper/d.tiff", ".hidden/e.png", "notes.txt", "sub/x.csv"]:
        (tmp_path / rel).write_bytes(b"x")
    got = [p.relative_to(tmp_path).as_posix() for p in list_images(tmp_path)]
    assert got == ["a.JPG", "b.png", "sub/c.webp", "sub/deeper/d.tiff"]
    both = list_images([tmp_path / "sub", tmp_path / "b.png", tmp_path / "b.png", tmp_path / "notes.txt"])
    assert [p.name for p in both] == ["b.png", "c.webp", "d.tiff"]
    with pytest.raises(ConfigError, match="no such file"):
        list_images(tmp_path / "missing")


def test_list_images_lists_dangling_symlinks_and_loops_as_skipped(tmp_path, caplog):
    import logging
    import os

    from judgenet.images import ImageList

    Image.new("RGB", (4, 4)).save(tmp_path / "a.png")
    os.symlink(tmp_path / "a.png", tmp_path / "good.png")
    os.symlink(tmp_path / "gone.png", tmp_path / "dangling.png")
    os.symlink(tmp_path / "loop2.jpg", tmp_path / "loop1.jpg")
    os.symlink(tmp_path / "loop1.jpg", tmp_path / "loop2.jpg")
    os.symlink(tmp_path / "nowhere", tmp_path / "notes.txt")  # not an image name: not listed at all
    (tmp_path / "sub").mkdir()
    os.symlink(tmp_path, tmp_path / "sub" / "up")  # a directory loop is not descended
    with caplog.at_level(logging.WARNING, logger="judgenet.images"):
        got = list_images(tmp_path)
    assert isinstance(got, ImageList) and isinstance(got, list)
    assert [p.name for p in got] == ["a.png", "good.png"]
    reasons = {os.path.basename(f.path): f.reason for f in got.skipped}
    assert set(reasons) == {"dangling.png", "loop1.jpg", "loop2.jpg"}
    assert reasons["dangling.png"].startswith("dangling symlink") and "gone.png" in reasons["dangling.png"]
    assert reasons["loop1.jpg"].startswith("symlink loop")
    assert all(isinstance(f, ImageFailure) for f in got.skipped)
    assert sum("skipped" in r.getMessage() for r in caplog.records) == 3
    # an explicitly given broken link is skipped (listed) too, not a crash
    one = list_images([tmp_path / "dangling.png", tmp_path / "a.png"])
    assert [p.name for p in one] == ["a.png"] and [os.path.basename(f.path) for f in one.skipped] == ["dangling.png"]
