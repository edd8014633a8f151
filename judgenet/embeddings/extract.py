"""Batched, cached, resumable extraction of image and text embeddings.

torch is imported only when something is computed: a run whose embeddings are all cached (a warm demo) reads them
without it (tested)."""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from .. import config
from ..config import usable_cpus as _usable_cpus  # module-level name: tests pin the core count
from ..errors import CacheError, ConfigError, ImageError
from ..images import ImageFailure, load_rgb, to_rgb
from .cache import FeatureCache, sha256_file, sha256_image, sha256_text

__all__ = ["extract", "extract_texts", "ExtractResult"]

CPU_CHUNK = 16  # images per forward pass on CPU


@dataclass
class ExtractResult:
    """Features aligned with the inputs.

    ``paths`` the N inputs as strings (``"<image i:keyprefix>"`` for in-memory images),
    ``images[output]`` is (N, D) float32 in input order (rows of NaN for failed images),
    ``texts`` (N, D_t) float32 aligned with ``prompts`` or None, ``keys`` the content hashes
    (None for unreadable files), ``failures`` the skipped inputs with reasons. ``n_computed`` /
    ``n_cached``: distinct file contents embedded in this run / found in the cache (summed over
    ranks under torchrun). ``seconds``: wall time of the call.
    """

    paths: list[str]
    keys: list[str | None]
    images: dict[str, np.ndarray]
    texts: np.ndarray | None
    failures: list[ImageFailure] = field(default_factory=list)
    n_computed: int = 0
    n_cached: int = 0
    seconds: float = 0.0


class _Outputs(dict):
    """``{output: array}`` that answers a missing output with the backbone's one-line reason (ConfigError)."""

    def __init__(self, backbone, *args):
        super().__init__(*args)
        self._backbone = backbone

    def __missing__(self, key):
        check = getattr(self._backbone, "check_output", None)
        if check is not None:
            check(key)
        raise KeyError(key)


class _Images:
    """A map-style dataset (what torch's DataLoader takes) of decoded, transformed images."""

    def __init__(self, paths: Sequence[str], transform, strict: bool):
        self.paths, self.transform, self.strict = list(paths), transform, strict

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        # Never raise here: an exception inside a DataLoader worker is re-raised in the main process
        # with the worker's traceback pasted into its message. ``strict`` is enforced by the caller.
        item = self.paths[i]  # a file path, or an in-memory image already converted to RGB
        try:
            return i, self.transform(item if isinstance(item, Image.Image) else load_rgb(item)), None
        except ImageError as exc:
            return i, None, getattr(exc, "reason", str(exc))


def _collate(batch):
    import torch

    ok = [(i, x) for i, x, err in batch if x is not None]
    bad = [(i, err) for i, x, err in batch if x is None]
    idx = [i for i, _ in ok]
    xs = torch.stack([x for _, x in ok]) if ok else None
    return idx, xs, bad


def _dist_context(distributed: bool | None, device: str):
    """``(rank, world_size, initialized_here)``; joins a torchrun job when asked or when detected."""
    launched = int(os.environ.get("WORLD_SIZE", "1")) > 1 and "MASTER_ADDR" in os.environ
    if distributed is False or (distributed is None and not launched and "torch.distributed" not in sys.modules):
        return 0, 1, False  # no torchrun, and no process group (one needs torch.distributed imported)
    import torch
    import torch.distributed as dist

    if distributed is False or not dist.is_available():
        return 0, 1, False
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size(), False
    ws = int(os.environ.get("WORLD_SIZE", "1"))
    if ws > 1 and "MASTER_ADDR" in os.environ:
        if str(device).startswith("cuda"):
            local = int(os.environ.get("LOCAL_RANK", "0"))
            if (torch.device(device).index or 0) != local:  # "cuda" means cuda:0 at load time
                raise ConfigError(f"rank with LOCAL_RANK={local} holds its backbone on {device}; load it with "
                                  f"device=f'cuda:{{LOCAL_RANK}}' so every rank uses its own GPU")
            torch.cuda.set_device(local)  # nccl collectives run on the current device
            dist.init_process_group(backend="nccl")
        else:
            dist.init_process_group(backend="gloo")
        return dist.get_rank(), dist.get_world_size(), True
    if distributed:
        raise ConfigError("extract(distributed=True) needs torch.distributed: run under `torchrun --nproc-per-node K` "
                          "or call torch.distributed.init_process_group first")
    return 0, 1, False


def _plan(n_todo: int, batch_size: int, num_workers: int | None, on_cpu: bool) -> tuple[int, int, int]:
    """``(worker processes, decode threads, torch intra-op threads)`` for a run.

    ``num_workers=None``: on CPU, ``min(4, max(1, cpus // 4))`` threads of this process decode and
    transform images while torch runs the forward on the other cores (threads start instantly and
    PIL releases the GIL while decoding and resizing; DataLoader processes take ~0.1 s to fork);
    on an accelerator, ``min(cpus - 1, 8)`` DataLoader processes. Nothing runs beside the main
    thread for a single batch, or with one usable CPU.
    """
    import torch

    cpus, threads = _usable_cpus(), torch.get_num_threads()
    if num_workers is not None or n_todo <= batch_size or cpus < 2:
        workers = num_workers or 0
        capped = max(1, min(threads, cpus - workers)) if (workers and on_cpu) else threads
        return workers, 0, capped
    if on_cpu:
        decoders = min(4, max(1, cpus // 4))
        return 0, decoders, max(1, min(threads, cpus - decoders))
    return min(cpus - 1, 8), 0, threads


def _threaded_batches(dataset: "_Images", chunks, n_threads: int):
    """Like a DataLoader over the index lists ``chunks`` (an iterator, consumed lazily) whose workers are
    threads of this process; keeps ``2 * n_threads`` batches in flight, yields them in order."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    def load(idx):
        return _collate([dataset[i] for i in idx])

    chunks = iter(chunks)
    pool = ThreadPoolExecutor(n_threads, thread_name_prefix="judgenet-decode")
    try:
        inflight = deque(pool.submit(load, c) for _, c in zip(range(2 * n_threads), chunks))
        while inflight:
            batch = inflight.popleft().result()
            nxt = next(chunks, None)
            if nxt is not None:
                inflight.append(pool.submit(load, nxt))
            yield batch
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


#: seconds between looks at a batch another extractor has claimed
CLAIM_POLL_S = 0.5


class _Blocks:
    """The work of one ``extract`` call cut into blocks of ``batch_size`` distinct keys, claimed in the cache.

    ``blocks[b]`` are indices into the todo list, ``block_keys[b]`` all keys of block ``b`` (its claim id: the same
    for every extractor given the same inputs). :meth:`first_pass` yields chunks of the blocks it can claim and
    defers the others; :meth:`next_deferred` then waits until a deferred block is either done by its owner or free
    (released or abandoned: claimed, and its still-missing items — e.g. unreadable ones — returned).
    """

    def __init__(self, cache: FeatureCache, blocks, block_keys, todo_keys, step: int, on_skip):
        self.cache, self.blocks, self.block_keys, self.todo_keys = cache, blocks, block_keys, todo_keys
        self.step, self.on_skip = step, on_skip
        self.claims: dict[int, object] = {}
        self.left: dict[int, int] = {}
        self.deferred: list[int] = []

    def _missing(self, b):
        idx = self.blocks[b]
        have = self.cache.contains("images", [self.todo_keys[i] for i in idx])
        return [i for i, h in zip(idx, have) if not h]

    def _take(self, b, claim) -> list[list[int]]:
        todo = self._missing(b)
        self.on_skip(len(self.blocks[b]) - len(todo))
        if not todo:
            claim.release()
            return []
        self.claims[b], self.left[b] = claim, len(todo)
        return [todo[s:s + self.step] for s in range(0, len(todo), self.step)]

    def first_pass(self):
        for b in range(len(self.blocks)):
            claim = self.cache.claim("images", self.block_keys[b])
            if claim is None:
                self.deferred.append(b)
            else:
                yield from self._take(b, claim)

    def next_deferred(self) -> list[list[int]] | None:
        """Chunks of the next deferred block this process must compute, or None when none is left."""
        while self.deferred:
            for b in list(self.deferred):
                if not self._missing(b):
                    self.deferred.remove(b)
                    self.on_skip(len(self.blocks[b]))
                    continue
                claim = self.cache.claim("images", self.block_keys[b])
                if claim is not None:
                    self.deferred.remove(b)
                    chunks = self._take(b, claim)
                    if chunks:
                        return chunks
            if self.deferred:
                time.sleep(CLAIM_POLL_S)
        return None

    def done(self, indices, flush) -> None:
        """Count processed todo indices; a completed block is flushed (one shard) and its claim released."""
        for i in indices:
            b = self.block_of[i]
            self.left[b] -= 1
            if self.left[b] == 0:
                flush()
                self.claims.pop(b).release()
            elif b in self.claims:
                self.claims[b].refresh()

    @property
    def block_of(self) -> dict[int, int]:
        if not hasattr(self, "_block_of"):
            self._block_of = {i: b for b, bl in enumerate(self.blocks) for i in bl}
        return self._block_of

    def release_all(self) -> None:
        for claim in self.claims.values():
            claim.release()
        self.claims.clear()


def _embed_missing_texts(cache: FeatureCache, backbone, texts: list[str], batch_size: int, rank: int = 0,
                         world: int = 1) -> list[str]:
    """Embed the distinct ``texts`` not yet in ``cache`` (this rank's share ``r::world``), ``batch_size * 4`` per
    shard. Returns the content key of every text, aligned with ``texts``."""
    tkeys = [sha256_text(t) for t in texts]
    by_key = dict(zip(tkeys, texts))
    tmine = list(by_key)[rank::world]
    missing = [k for k, h in zip(tmine, cache.contains("texts", tmine)) if not h] if tmine else []
    for s in range(0, len(missing), batch_size * 4):
        chunk = missing[s:s + batch_size * 4]
        emb = np.asarray(backbone.encode_texts([by_key[k] for k in chunk]), dtype=np.float32)
        cache.put("texts", chunk, {"embedding": emb})
    return tkeys


def extract_texts(texts: Sequence[str], backbone, cache_dir=None, *, batch_size: int = 64) -> np.ndarray:
    """Embed ``texts`` with ``backbone``'s text tower through the feature cache (texts keyed by the SHA-256 of
    their UTF-8 bytes; each distinct text is embedded once, ever).

    Args:
        texts: N strings. backbone: a :class:`judgenet.backbones.Backbone` with ``has_text``.
        cache_dir: cache root (see :func:`extract`). batch_size: a shard holds ``4 * batch_size`` texts.
    Returns:
        (N, D) float32 text embeddings aligned with ``texts`` (D is 0 when N is 0).
    """
    if not backbone.has_text:
        raise ConfigError(f"backbone {backbone.name!r} has no text tower; use tiny, an open_clip model or text:<model>")
    _check_batch_size(batch_size)
    texts = [str(t) for t in texts]
    cache = FeatureCache(config.cache_dir(cache_dir) / "features", backbone)
    return cache.get("texts", _embed_missing_texts(cache, backbone, texts, batch_size), "embedding")


def _check_batch_size(batch_size) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive integer (--batch-size), got {batch_size!r}")


def _gather(obj, world_size: int) -> list:
    if world_size == 1:
        return [obj]
    import torch.distributed as dist

    out = [None] * world_size
    dist.all_gather_object(out, obj)
    return out


def extract(paths: Sequence[str | os.PathLike], backbone, cache_dir=None, *, prompts: Sequence[str] | None = None,
            batch_size: int = 64, num_workers: int | None = None, strict: bool = False, progress: bool = True,
            distributed: bool | None = None) -> ExtractResult:
    """Embed image files (and prompts) with ``backbone``, reading from / writing to the cache.

    Each finished batch is written to the cache as its own shard, so an interrupted run resumes
    without recomputing finished batches; identical file contents are computed once. Concurrent
    ``extract`` calls (other processes, other machines on a shared cache) split the work: each batch of
    ``batch_size`` distinct inputs is claimed in the cache before it is computed (see
    :meth:`FeatureCache.claim`); batches another live process holds are left to it and waited for at the end.

    Under ``torchrun --nproc-per-node K`` (or an initialized ``torch.distributed`` group; gloo on CPU,
    nccl when the backbone is on CUDA — load it with ``device=f"cuda:{LOCAL_RANK}"``) rank ``r``
    computes the distinct inputs ``r::K``; all ranks write to the shared cache (file-locked) and,
    after a barrier, every rank returns the same full, aligned result (failures and counts are
    gathered from all ranks).

    Args:
        paths: N inputs — image file paths (keyed by the SHA-256 of their bytes) and/or in-memory
            images (PIL, or uint8 arrays (H, W[, 3|4]); converted by :func:`judgenet.images.to_rgb`,
            keyed by :func:`judgenet.embeddings.sha256_image`, held in memory for the call) — or a
            map-style ``torch.utils.data.Dataset`` yielding such items. prompts: N texts (optional;
            needs a text tower).
        backbone: a :class:`judgenet.backbones.Backbone`.
        cache_dir: cache root (``None``: ``$JUDGENET_CACHE_DIR`` or ``~/.cache/judgenet``); features live
            in ``<cache_dir>/features/<fingerprint_hash>/``.
        batch_size: images per cache shard (a run that stops loses at most the unfinished shard) and
            per forward pass on an accelerator; on CPU the forward runs ``CPU_CHUNK`` (16) at a time.
        num_workers: DataLoader worker processes that decode and transform images while the model
            runs; ``0`` does everything in the calling thread. ``None`` (default) chooses: on CPU,
            ``min(4, max(1, CPUs // 4))`` decoding threads; on an accelerator, ``min(CPUs - 1, 8)``
            worker processes; nothing extra for a single batch. On CPU, while decoders run, torch's
            intra-op threads are capped at ``CPUs - decoders`` (restored afterwards) so the forward
            pass and the decoders do not fight over cores (on 2 cores that is 2.2× faster than
            letting both use 2 threads, see ``benchmarks/README.md``).
        strict: raise :class:`judgenet.errors.ImageError` on the first unreadable image instead of
            listing it in ``failures``.
        progress: tqdm bar (images/s) on rank 0.
        distributed: ``None`` auto-detects torchrun; ``False`` never shards; ``True`` requires it.
    Returns:
        :class:`ExtractResult`; ``images[o]`` is (N, D_o) float32 (NaN rows for failures),
        ``texts`` (N, D) float32 or None.
    """
    t0 = time.perf_counter()
    _check_batch_size(batch_size)
    if num_workers is not None and (isinstance(num_workers, bool) or not isinstance(num_workers, (int, np.integer))
                                    or num_workers < 0):
        raise ConfigError(f"num_workers must be a non-negative integer or None (--workers), got {num_workers!r}")
    if not getattr(backbone, "has_images", True):
        raise ConfigError(f"backbone {backbone.name!r} encodes texts only; use extract_texts / embed for its texts "
                          "and an image backbone (tiny, open_clip:<arch>, inception:fid) for images")
    if "torch" in sys.modules and isinstance(paths, sys.modules["torch"].utils.data.Dataset):  # items 0 … len-1
        paths = [paths[i] for i in range(len(paths))]
    inputs = list(paths)
    memory: dict[str, Image.Image] = {}  # key → RGB image, for in-memory inputs
    mem_keys: dict[str, str] = {}  # label → key, for in-memory inputs
    paths = []
    for i, x in enumerate(inputs):
        if isinstance(x, (str, os.PathLike)):
            paths.append(str(x))
        else:
            rgb = to_rgb(x)
            k = sha256_image(rgb)
            memory.setdefault(k, rgb)
            paths.append(f"<image {i}:{k[:12]}>")
            mem_keys[paths[-1]] = k
    if prompts is not None:
        prompts = [str(t) for t in prompts]
        if len(prompts) != len(paths):
            raise ConfigError(f"{len(prompts)} prompts for {len(paths)} images; give one prompt per image")
    rank, world, own_group = _dist_context(distributed, getattr(backbone, "device", "cpu"))
    cache = FeatureCache(config.cache_dir(cache_dir) / "features", backbone)
    failures: list[ImageFailure] = []
    keys: list[str | None] = []
    for p, x in zip(paths, inputs):
        if not isinstance(x, (str, os.PathLike)):
            keys.append(mem_keys[p])
            continue
        try:
            keys.append(sha256_file(p))
        except OSError as exc:
            if strict:
                raise ImageError(f"{p}: cannot read ({exc.strerror or exc})") from None
            failures.append(ImageFailure(p, f"cannot read ({exc.strerror or exc})"))
            keys.append(None)
    first_path: dict[str, str] = {}
    for p, k in zip(paths, keys):
        if k is not None:
            first_path.setdefault(k, p)
    mine = list(first_path)[rank::world]  # deterministic split of the distinct contents
    have = dict(zip(mine, cache.contains("images", mine))) if mine else {}
    todo_keys = [k for k in mine if not have[k]]
    todo_paths = [first_path[k] for k in todo_keys]
    todo_items = [memory.get(k, p) for k, p in zip(todo_keys, todo_paths)]
    bad_keys: set[str] = set()
    my_failures: list[ImageFailure] = []
    n_computed = 0
    device = getattr(backbone, "device", "cpu")
    on_cpu = str(device).startswith("cpu")
    if todo_keys:
        import torch

        threads = torch.get_num_threads()
        workers, decoders, run_threads = _plan(len(todo_keys), batch_size, num_workers, on_cpu)
        # On CPU the forward runs in chunks of <= CPU_CHUNK images (as fast or faster per image than big
        # batches, and the first chunk starts sooner); finished rows are written a shard per block.
        step = min(batch_size, CPU_CHUNK) if on_cpu else batch_size
        # Blocks of batch_size distinct keys at fixed positions of `mine`, so that concurrent extractors of the
        # same inputs name the same blocks and split them through cache claims (each block: one shard).
        pos = {k: i for i, k in enumerate(todo_keys)}
        block_keys = [mine[b:b + batch_size] for b in range(0, len(mine), batch_size)]
        blocks = [[pos[k] for k in bk if k in pos] for bk in block_keys]
        block_keys = [bk for bk, bl in zip(block_keys, blocks) if bl]
        blocks = [bl for bl in blocks if bl]
        dataset = _Images(todo_items, backbone.transform, strict)
        bar = tqdm(total=len(todo_paths), desc=f"extract {backbone.name}", unit="img",
                   disable=not progress or rank != 0)
        work = _Blocks(cache, blocks, block_keys, todo_keys, step, bar.update)
        pending_keys: list[str] = []
        pending: dict[str, list[np.ndarray]] = {}

        def flush():
            nonlocal n_computed
            if pending_keys:
                cache.put("images", pending_keys, {k: np.concatenate(v) for k, v in pending.items()})
                n_computed += len(pending_keys)
                pending_keys.clear()
                pending.clear()

        def process(chunks):
            chunks = iter(chunks)
            loader = _threaded_batches(dataset, chunks, decoders) if decoders else torch.utils.data.DataLoader(
                dataset, batch_sampler=chunks, num_workers=workers, collate_fn=_collate, pin_memory=not on_cpu)
            try:
                for idx, xs, bad in loader:
                    if bad and strict:
                        raise ImageError(f"{todo_paths[bad[0][0]]}: {bad[0][1]} (--strict / strict=True stops at "
                                         "the first unreadable image)")
                    for i, err in bad:
                        my_failures.append(ImageFailure(todo_paths[i], err))
                        bad_keys.add(todo_keys[i])
                    if xs is not None:
                        for k, v in backbone.forward_images(xs).items():
                            pending.setdefault(k, []).append(v.numpy())
                        pending_keys.extend(todo_keys[i] for i in idx)
                    work.done([i for i, _ in bad] + list(idx), flush)
                    bar.update(len(idx) + len(bad))
            finally:
                if decoders:
                    loader.close()
                if hasattr(chunks, "close"):
                    chunks.close()

        torch.set_num_threads(run_threads)
        try:
            with torch.inference_mode():
                process(work.first_pass())
                # blocks other extractors held: wait for them (holding no claim meanwhile), or take them over
                while (chunks := work.next_deferred()) is not None:
                    process(chunks)
            flush()
        except BaseException:  # Ctrl-C, a strict failure, …: keep what was computed, then re-raise
            try:
                flush()
            except Exception:
                pass
            raise
        finally:
            work.release_all()
            torch.set_num_threads(threads)
            bar.close()
    # text embeddings: distinct prompts not yet cached, split across ranks the same way
    if prompts is not None:
        tkeys = _embed_missing_texts(cache, backbone, prompts, batch_size, rank, world)
    if world > 1:
        gathered = _gather((my_failures, sorted(bad_keys), n_computed), world)
        my_failures = [f for g in gathered for f in g[0]]
        bad_keys = {k for g in gathered for k in g[1]}
        n_computed = sum(g[2] for g in gathered)
    failures.extend(my_failures)
    n_cached = sum(1 for k in first_path if k not in bad_keys) - n_computed
    # assemble aligned outputs from the cache (memory-mapped shards)
    lookup_keys = [k if (k is not None and k not in bad_keys) else "" for k in keys]
    images: dict[str, np.ndarray] = _Outputs(backbone)
    for out_name in backbone.outputs:
        found, arr = cache.lookup(lookup_keys, out_name, "images")
        lost = [paths[i] for i, k in enumerate(lookup_keys) if k and not found[i]]
        if lost:  # a shard vanished or was corrupted between writing and reading (another process)
            raise CacheError(f"{len(lost)} features (e.g. {lost[0]}) disappeared from the cache at {cache.dir} while "
                             "extracting; run extract again")
        images[out_name] = arr
    failed_paths = {f.path for f in failures}
    for p, k in zip(paths, keys):
        if k in bad_keys and p not in failed_paths:
            failures.append(ImageFailure(p, f"same content as the unreadable file {first_path[k]}"))
    texts = cache.get("texts", tkeys, "embedding") if prompts is not None else None
    if own_group:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()
    return ExtractResult(paths, keys, images, texts, failures, n_computed=n_computed,
                         n_cached=max(n_cached, 0), seconds=time.perf_counter() - t0)
