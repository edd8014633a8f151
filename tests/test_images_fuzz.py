"""load_rgb on randomly damaged files of every common format: an RGB image or ImageError, nothing else."""
import io
import warnings

import numpy as np
import pytest
from PIL import Image

from judgenet.errors import ImageError
from judgenet.images import load_rgb


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "TIFF", "BMP", "WEBP", "PPM"])
def test_damaged_files_never_escape_as_other_errors(tmp_path, fmt):
    rng = np.random.default_rng(0)
    base = Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8))
    buf = io.BytesIO()
    (base.convert("P") if fmt == "GIF" else base).save(buf, fmt)
    data = buf.getvalue()
    n_failed = 0
    for t in range(60):
        b = bytearray(data)
        if t % 2:
            b = b[: rng.integers(1, len(b))]  # truncated
        else:
            for _ in range(rng.integers(1, 20)):  # corrupted bytes
                b[rng.integers(0, len(b))] = rng.integers(0, 256)
        p = tmp_path / f"x{t}.{fmt.lower()}"
        p.write_bytes(bytes(b))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PIL warns about damaged TIFF tags
            try:
                im = load_rgb(p)
            except ImageError as exc:
                assert str(p) in str(exc) and exc.reason and exc.path == str(p)
                n_failed += 1
                continue
        assert im.mode == "RGB" and im.size[0] > 0
    assert n_failed > 0


def test_decompression_bomb_header_is_an_image_error(tmp_path):
    # a BMP header claiming 100000 × 100000 pixels (> 2 × PIL.Image.MAX_IMAGE_PIXELS)
    import struct

    w = h = 100_000
    header = b"BM" + struct.pack("<IHHI", 54 + 3, 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, 3, 2835, 2835, 0, 0)
    p = tmp_path / "bomb.bmp"
    p.write_bytes(header + info + b"\0\0\0")
    with pytest.raises(ImageError, match="too large"):
        load_rgb(p)
