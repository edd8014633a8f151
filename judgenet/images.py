"""Decode any image file to RGB, or say exactly why not.

Conversion rules (documented because they change the numbers):

* EXIF orientation is applied first (``ImageOps.exif_transpose``).
* ``L``/``P``/``CMYK``/``YCbCr`` … → RGB with PIL's ``convert("RGB")`` (palette with transparency
  goes through RGBA).
* ``RGBA``/``LA``/``PA`` → alpha-composited over a **white** background.
* 16-/32-bit integer (``I;16``, ``I``) and float (``F``) images → scaled by their own maximum range
  (``I;16``: /257; ``I``: clipped to [0, 65535] then /257; ``F``: clipped to [0, 1] ×255) → 8-bit grey → RGB.
* Multi-frame files (animated GIF/PNG/WebP, multi-page TIFF): the first frame.

Failures: any file that cannot be decoded — empty, missing, truncated, corrupt, not an image, a
header claiming more than twice ``PIL.Image.MAX_IMAGE_PIXELS`` pixels, or any other decoder
exception — raises :class:`judgenet.errors.ImageError` (with ``.path`` and ``.reason``), never
another exception type; extraction records it as an :class:`ImageFailure` and goes on.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ConfigError, ImageError

__all__ = ["load_rgb", "to_rgb", "ImageFailure", "ImageList", "list_images", "IMAGE_EXTENSIONS"]

_log = logging.getLogger(__name__)

#: File name endings (lower-case) that :func:`list_images` treats as images.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".ppm", ".pgm")


@dataclass(frozen=True)
class ImageFailure:
    """An input that could not be decoded: its ``path`` and a human-readable ``reason``."""

    path: str
    reason: str


def _to_rgb(img: Image.Image) -> Image.Image:
    mode = img.mode
    if mode == "RGB":
        return img
    if mode == "P" and "transparency" in img.info:
        img, mode = img.convert("RGBA"), "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(bg, rgba).convert("RGB")
    if mode.startswith("I;16") or mode in ("I", "F"):
        a = np.asarray(img)
        if mode == "F":
            a8 = (np.clip(a, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        else:
            a8 = (np.clip(a.astype(np.float64), 0, 65535) / 257.0 + 0.5).astype(np.uint8)
        return Image.fromarray(a8, mode="L").convert("RGB")
    return img.convert("RGB")


def to_rgb(image) -> Image.Image:
    """An in-memory image as 8-bit RGB PIL, by the same rules as :func:`load_rgb` (EXIF orientation,
    alpha on white, 16-bit scaled, first frame).

    Args:
        image: a PIL image, or a ``uint8`` numpy array of shape (H, W) grey, (H, W, 3) RGB or
            (H, W, 4) RGBA.
    Raises:
        ConfigError: another type, dtype or shape.
    """
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8 or not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (3, 4))):
            raise ConfigError(f"in-memory image arrays must be uint8 of shape (H, W), (H, W, 3) or (H, W, 4); "
                              f"got {image.dtype} {image.shape}")
        mode = "L" if image.ndim == 2 else ("RGB" if image.shape[2] == 3 else "RGBA")
        return _to_rgb(Image.fromarray(np.ascontiguousarray(image), mode))
    if isinstance(image, Image.Image):
        return _to_rgb(ImageOps.exif_transpose(image))
    raise ConfigError(f"expected an image file path, a PIL image or a uint8 array; got {type(image).__name__}")


def _image_error(path: Path, reason: str) -> ImageError:
    exc = ImageError(f"{path}: {reason}")
    exc.path, exc.reason = str(path), reason
    return exc


def load_rgb(path: str | os.PathLike) -> Image.Image:
    """Open ``path`` as an 8-bit RGB PIL image (fully decoded), converted as the module docstring says.

    Raises:
        ImageError: empty, missing, truncated, corrupt, non-image or decompression-bomb file (more
            than twice ``PIL.Image.MAX_IMAGE_PIXELS``), or any other decoder error. The message is
            ``"<path>: <reason>"``; the exception also has ``.path`` and ``.reason`` attributes
            (what :class:`ImageFailure` records).
    """
    p = Path(path)
    try:
        if p.stat().st_size == 0:
            raise _image_error(p, "empty (zero-byte) file")
        with Image.open(p) as im:
            im.load()
            im = ImageOps.exif_transpose(im)
            return _to_rgb(im).copy()
    except ImageError:
        raise
    except FileNotFoundError:
        raise _image_error(p, "file not found") from None
    except UnidentifiedImageError:
        raise _image_error(p, "not an image PIL can read") from None
    except Image.DecompressionBombError as exc:  # often a corrupt header claiming a huge size
        raise _image_error(p, f"too large to decode safely ({exc})") from None
    except (OSError, SyntaxError, ValueError) as exc:  # truncated / corrupt data
        raise _image_error(p, f"corrupt or truncated image ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - PIL plugins raise many types on corrupt data; never crash a run
        raise _image_error(p, f"cannot decode ({type(exc).__name__}: {exc})") from None


class ImageList(list):
    """A list of image :class:`~pathlib.Path` objects with ``.skipped``: the :class:`ImageFailure` entries of files
    that look like images by name but cannot be opened at all (dangling symlinks, symlink loops)."""

    def __init__(self, paths=(), skipped=()):
        super().__init__(paths)
        self.skipped: list[ImageFailure] = list(skipped)


def _broken_link_reason(p: Path) -> str | None:
    """Why symlink ``p`` cannot be followed (None if it can, or is no symlink)."""
    import errno

    if not p.is_symlink():
        return None
    try:
        p.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symlink loop (the link points back to itself)"
        if exc.errno == errno.ENOENT:
            return f"dangling symlink (its target {os.readlink(p)} does not exist)"
        return f"symlink that cannot be followed ({exc.strerror or exc})"
    return None


def list_images(dir_or_paths: str | os.PathLike | Iterable[str | os.PathLike], *,
                extensions: Iterable[str] = IMAGE_EXTENSIONS) -> ImageList:
    """Image files under a directory (recursive) or from a list of files/directories.

    Selection is by file-name extension (case-insensitive, ``extensions``); hidden files and files
    inside hidden directories (name starting with ``.``) are skipped. The result is sorted by path
    (as POSIX strings) and de-duplicated, so it is the same on every machine. Symlinks to files are
    followed; symlinks to directories are not descended (no loops). Image-named symlinks that cannot
    be followed — dangling, or a loop — are not returned but listed in the result's ``.skipped``
    (:class:`ImageFailure` with the reason) and logged as warnings, never dropped silently.

    Returns:
        :class:`ImageList` (a ``list`` of ``Path``) with ``.skipped``.
    Raises:
        ConfigError: a given path does not exist.
    """
    exts = tuple(e.lower() if e.startswith(".") else "." + e.lower() for e in extensions)
    items = [dir_or_paths] if isinstance(dir_or_paths, (str, os.PathLike)) else list(dir_or_paths)
    out: set[Path] = set()
    skipped: dict[str, ImageFailure] = {}

    def consider(f: Path) -> None:
        if f.suffix.lower() not in exts:
            return
        if f.is_file():
            out.add(f)
            return
        why = _broken_link_reason(f)
        if why is not None:
            skipped.setdefault(str(f), ImageFailure(str(f), why))

    for item in items:
        p = Path(item)
        if p.is_dir():
            for f in p.rglob("*"):
                rel = f.relative_to(p).parts
                if not any(part.startswith(".") for part in rel):
                    consider(f)
        elif p.is_file() or p.is_symlink():
            consider(p)
        else:
            raise ConfigError(f"{p}: no such file or directory; give image files or folders of images")
    result = ImageList(sorted(out, key=lambda f: f.as_posix()),
                       sorted(skipped.values(), key=lambda x: x.path))
    for f in result.skipped:
        _log.warning("skipped %s: %s", f.path, f.reason)
    return result
