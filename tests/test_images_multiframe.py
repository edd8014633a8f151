"""Multi-frame files decode to their first frame."""
import pytest
from PIL import Image

from judgenet.images import load_rgb


@pytest.mark.parametrize("ext", ["gif", "png", "tiff"])
def test_first_frame(tmp_path, ext):
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 0, 255), (0, 255, 0))]
    p = tmp_path / f"anim.{ext}"
    frames[0].save(p, save_all=True, append_images=frames[1:])
    with Image.open(p) as im:
        assert getattr(im, "n_frames", 1) == 3
    img = load_rgb(p)
    assert img.mode == "RGB" and img.getpixel((0, 0)) == (255, 0, 0)
