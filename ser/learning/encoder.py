"""A pretrained speech encoder as a feature extractor: every hidden state, mean-pooled over the frames
that hold audio, for clips in memory.

Any model that ``AutoModel`` / ``AutoFeatureExtractor`` load from a hub id or a local folder: wav2vec2,
HuBERT, WavLM, data2vec-audio (raw waveforms), and Whisper, whose encoder alone is used and whose input
is padded to 30 s by its feature extractor (only the frames of the clip itself are pooled; a clip
longer than 30 s is cut there). Hidden states are numbered as transformers numbers them: 0 is the
embedding output, ``i`` the output of transformer layer ``i``, so a base-sized model gives 13.

Batches: clips sorted by duration and grouped so that a batch holds at most ``batch_seconds`` of padded
audio, so little of a batch is padding. The attention mask goes to every model whose forward takes one
(the feature extractor's per-clip normalisation also uses the true lengths), and the pooled frames of
a clip are ``model._get_feat_extract_output_lengths`` of its length. Models with a group-normalised
first convolution (wav2vec2-base, HuBERT-base, WavLM-base) would normalise it over the padded length; that
normalisation is made per clip (``_mask_group_norm``), so a clip's vector is the same batched or alone,
for these models as for the layer-normalised ones (large models, data2vec-audio).

Precision (``precision``): ``auto`` runs the forward under bf16 autocast on a GPU (fp16 where bf16 is not
supported) and in fp32 on the CPU; ``bfloat16`` asks for bf16 autocast on the CPU too, refused on a CPU without
bf16 instructions (avx512_bf16 or AMX: elsewhere bf16 is emulated, and slower than fp32); ``float32`` never
autocasts. The precision is part of the feature cache's key (ser.learning.embeddings). On the CPU, up to one
batch per core runs at once (fp32 inference is compute-bound there: batching saves little, so fp32 CPU batches
are short, and one torch thread per batch wastes less than every op split over all cores, the more so on a
machine busy with other work). With bf16 on the CPU the linear and convolution weights are stored in bf16 once
(autocast would cast all of them again at every forward, which made one clip at a time slower than fp32); a
forward then takes about half the CPU time of fp32 (base wav2vec2, 2.5 s clips, one Zen 4 core: 0.26 against
0.53 CPU-s), batched or not, so CPU batches stay short.
Weights load as safetensors only. Importing this module loads neither torch nor transformers, and
nothing here reads audio files (the benchmark uses it on a machine with only torch and transformers).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import SerError
from .finetune.model import ModelUnavailable

log = logging.getLogger(__name__)

RATE = 16_000
WHISPER_SECONDS = 30.0
CPU_BATCH_SECONDS = 3.0  # padded audio per batch: on the CPU batching saves nothing (compute-bound), padding costs
PRECISIONS = {"auto": "bf16 autocast on a GPU (fp16 where bf16 is not supported), float32 on the CPU",
              "float32": "float32 everywhere",
              "bfloat16": "bf16 autocast, also on a CPU with bf16 instructions (avx512_bf16 or AMX)"}
GPU_BATCH_SECONDS = 400.0
MAX_BATCH_CLIPS = 128
MAX_CPU_WORKERS = 4  # batches run at once on the CPU (each with cores / workers threads)
HASH_CHUNK = 1 << 22


# ---------------------------------------------------------------- which model, exactly

@dataclass(frozen=True)
class ModelIdentity:
    """What the feature cache keys on: ``name`` as given, ``source`` (an absolute folder or a hub id),
    ``where`` (folder, cache or hub) and ``revision``: the hub's commit hash, or for a folder the
    sha256 of its configuration, feature-extractor settings and safetensors weights."""

    name: str
    source: str
    where: str
    revision: str

    def key(self) -> str:
        text = json.dumps({"source": self.source if self.where != "folder" else "folder",
                           "revision": self.revision}, sort_keys=True)
        return hashlib.sha1(text.encode()).hexdigest()[:12]

    def slug(self) -> str:
        """For the cache folder's name: the hub id, or ``folder`` (a folder's files are its identity, so a
        copy or a moved folder finds its cache)."""
        base = "folder" if self.where == "folder" else self.source.replace("/", "--")
        return "".join(c if c.isalnum() or c in "-_." else "_" for c in base)[:60] or "model"

    def as_dict(self) -> dict:
        return asdict(self)


def model_identity(name: str, revision: str | None = None) -> ModelIdentity:
    """The model's identity without loading it: a folder is hashed (its files' digests are memoised by
    path, size and modification time), a hub id is resolved to the commit of ``revision`` (default:
    main) from the local Hugging Face cache, else from the hub. ``ModelUnavailable`` says what to do
    when neither has it."""
    from .finetune.model import locate_model

    location = locate_model(name)
    if location.where == "folder":
        folder = Path(location.name)
        return ModelIdentity(str(name), str(folder), "folder", folder_digest(folder))
    return ModelIdentity(str(name), location.name, location.where, _hub_commit(location.name, revision))


def folder_digest(folder: Path) -> str:
    """sha256 over the names and contents of the files that define the model: config, feature-extractor
    settings and safetensors weights (pickled weights are never read)."""
    names = sorted(p.name for p in folder.iterdir() if p.is_file() and (
        p.name in ("config.json", "preprocessor_config.json") or p.name.endswith(".safetensors")
        or p.name == "model.safetensors.index.json"))
    total = hashlib.sha256()
    for name in names:
        total.update(name.encode() + b"\0" + _file_digest(folder / name).encode() + b"\n")
    return total.hexdigest()


_digests: dict[tuple, str] = {}


def _file_digest(path: Path) -> str:
    stat = path.stat()
    memo = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if memo not in _digests:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            while block := handle.read(HASH_CHUNK):
                digest.update(block)
        _digests[memo] = digest.hexdigest()
    return _digests[memo]


def _hub_commit(repo_id: str, revision: str | None) -> str:
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(repo_id, "config.json", revision=revision)
    if isinstance(cached, str):  # .../models--ORG--NAME/snapshots/<commit>/config.json
        return Path(cached).parent.name
    try:
        from huggingface_hub import HfApi

        return HfApi().model_info(repo_id, revision=revision, timeout=10).sha
    except Exception as exc:
        from .finetune.model import _how_to_provide, _reason

        raise ModelUnavailable(f"the revision {revision or 'main'} of {repo_id!r} cannot be resolved "
                               f"({_reason(exc)}). " + _how_to_provide(repo_id)) from None


# ---------------------------------------------------------------- the model

def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (x86 avx512_bf16 or AMX, Arm bf16), read from /proc/cpuinfo."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    flags = set()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            flags.update(line.split(":", 1)[-1].split())
    return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})


def resolve_precision(device: str, precision: str | None = "auto") -> str:
    """``float32``, ``bfloat16`` or ``float16``: what the forward runs in on ``device`` (see the module's
    docstring for ``auto``)."""
    import torch

    cuda = device.startswith("cuda")
    precision = precision or "auto"
    if precision not in PRECISIONS:
        raise SerError(f"precision {precision!r}: choose one of {', '.join(PRECISIONS)}.", title="Unknown precision")
    if precision == "float32":
        return "float32"
    if cuda:
        if precision == "bfloat16" and not torch.cuda.is_bf16_supported():
            raise SerError("this GPU does not support bf16; use auto (fp16 autocast) or float32.", title="No bf16")
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    if precision == "auto":
        return "float32"
    if not cpu_has_bf16():
        raise SerError("this CPU has no bf16 instructions (avx512_bf16 or AMX): bf16 would be emulated and slower "
                       "than float32. Use float32 (or auto).", title="No bf16 on this CPU")
    return "bfloat16"


def pick_device(device: str = "auto") -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SerError(f"device {device!r} was asked for, but torch sees no CUDA GPU here; use cpu or auto.",
                       title="No GPU")
    return device


class SpeechEncoder:
    """A loaded model: ``embed`` turns clips (mono float32 at 16 kHz) into an array (clips x hidden states
    x hidden size) of mean-pooled hidden states."""

    def __init__(self, model, extractor, identity: ModelIdentity | None = None, device: str = "cpu",
                 batch_seconds: float | None = None, precision: str | None = "auto"):
        import torch

        self.encoder = model.get_encoder() if getattr(model.config, "is_encoder_decoder", False) else model
        self.encoder.eval().to(device)
        self.extractor, self.identity, self.device = extractor, identity, device
        self.whisper = getattr(model.config, "model_type", "") == "whisper"
        self.takes_mask = not self.whisper and _accepts(self.encoder.forward, "attention_mask")
        self.cuda = device.startswith("cuda")
        self.dtype = resolve_precision(device, precision)  # float32, bfloat16 or float16
        self.autocast_dtype = None if self.dtype == "float32" else getattr(torch, self.dtype)
        self.batch_seconds = batch_seconds or (GPU_BATCH_SECONDS if self.cuda else CPU_BATCH_SECONDS)
        self.forwards = 0  # model calls so far (tests count them)
        self._count = threading.Lock()
        self.workers = 1 if self.cuda else min(MAX_CPU_WORKERS, _cores())
        self.padding_free_norm = _mask_group_norm(self.encoder)
        if self.autocast_dtype is not None and not self.cuda:
            _cast_matmul_weights(self.encoder, self.autocast_dtype)

    @property
    def precision(self) -> str:
        return str(self.autocast_dtype).replace("torch.", "") + " autocast" if self.autocast_dtype else "float32"

    def min_samples(self) -> int:
        """The shortest clip that yields at least one frame."""
        if self.whisper:
            return RATE // 100
        lengths = getattr(self.encoder, "_get_feat_extract_output_lengths", None)
        if lengths is None:
            return RATE // 100
        n = 1
        while int(lengths(n)) < 1 and n < RATE:
            n *= 2
        low = n // 2
        while low + 1 < n:  # the smallest n with one frame
            mid = (low + n) // 2
            low, n = (low, mid) if int(lengths(mid)) >= 1 else (mid, n)
        return max(n, RATE // 100)

    def padded_seconds(self, samples: int) -> float:
        return WHISPER_SECONDS if self.whisper else samples / RATE

    def batches(self, lengths: list[int]) -> list[list[int]]:
        """Indices of the clips grouped by duration: each batch holds at most ``batch_seconds`` of padded
        audio (a longer clip goes alone) and ``MAX_BATCH_CLIPS`` clips."""
        order = sorted(range(len(lengths)), key=lambda i: lengths[i])
        out, batch = [], []
        for i in order:
            longest = self.padded_seconds(lengths[i])  # sorted: the newcomer is the longest
            if batch and (longest * (len(batch) + 1) > self.batch_seconds or len(batch) >= MAX_BATCH_CLIPS):
                out.append(batch)
                batch = []
            batch.append(i)
        return out + ([batch] if batch else [])

    def embed(self, clips: list[np.ndarray]) -> np.ndarray:
        """Pooled hidden states of every clip (clips x hidden states x size, float32), batched by length."""
        result = None
        for batch, pooled in self.run_batches(clips, self.batches([c.size for c in clips])):
            if isinstance(pooled, Exception):
                raise pooled
            if result is None:
                result = np.empty((len(clips), *pooled.shape[1:]), dtype=np.float32)
            result[batch] = pooled
        return result if result is not None else np.empty((0, 0, 0), dtype=np.float32)

    def run_batches(self, clips: list[np.ndarray], batches: list[list[int]]):
        """(batch, pooled array or the exception it raised) for each batch, in order. On the CPU, up to
        ``workers`` batches run at once, each on cores / workers threads: PyTorch's ops release the GIL,
        and on a few cores one thread per batch wastes far less time than every op split over all cores
        (measured on 2 cores: benchmarks/embeddings.py). Stopping the iteration cancels the batches not
        yet started."""
        if self.workers <= 1 or len(batches) <= 1:
            for batch in batches:
                yield batch, self._attempt([clips[i] for i in batch])
            return
        with _threads_per_batch(self.workers), ThreadPoolExecutor(self.workers) as pool:
            futures = [pool.submit(self._attempt, [clips[i] for i in batch]) for batch in batches]
            try:
                for batch, future in zip(batches, futures):
                    yield batch, future.result()
            finally:
                for future in futures:
                    future.cancel()

    def _attempt(self, clips: list[np.ndarray]):
        try:
            return self.embed_batch(clips)
        except Exception as exc:  # handed to the caller, which decides (one clip at a time, or raise)
            return exc

    def embed_batch(self, clips: list[np.ndarray]) -> np.ndarray:
        """One forward of these clips (padded to the longest); on a GPU that runs out of memory, the batch
        is halved and tried again."""
        import torch

        try:
            return self._forward(clips)
        except torch.cuda.OutOfMemoryError:
            if len(clips) == 1:
                raise
            torch.cuda.empty_cache()
            half = len(clips) // 2
            log.warning("out of GPU memory with %d clips in a batch: halving it", len(clips))
            self.batch_seconds = max(self.batch_seconds / 2, 1.0)
            return np.concatenate([self.embed_batch(clips[:half]), self.embed_batch(clips[half:])])

    def _forward(self, clips: list[np.ndarray]) -> np.ndarray:
        import torch

        inputs = self.extractor(clips, sampling_rate=RATE, return_attention_mask=True, return_tensors="pt",
                                **({} if self.whisper else {"padding": "longest"}))
        mask = inputs.pop("attention_mask")
        lengths = mask.sum(-1)
        if self.takes_mask:
            inputs["attention_mask"] = mask
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        padded = bool((lengths < lengths.max()).any())
        with torch.inference_mode(), torch.autocast("cuda" if self.cuda else "cpu", dtype=self.autocast_dtype,
                                                    enabled=self.autocast_dtype is not None):
            if self.padding_free_norm is not None and padded:
                self.padding_free_norm.state.lengths = lengths.to(self.device)
            try:
                states = self.encoder(**inputs, output_hidden_states=True).hidden_states
            finally:
                if self.padding_free_norm is not None:
                    self.padding_free_norm.state.lengths = None
            with self._count:
                self.forwards += 1
            frames = states[0].shape[1]
            counts = self._frames(lengths).clamp(1, frames).to(self.device)
            keep = (torch.arange(frames, device=self.device)[None, :] < counts[:, None]).float()
            pooled = torch.stack([torch.einsum("bfd,bf->bd", h.float(), keep) for h in states], dim=1)
            pooled = pooled / counts[:, None, None].float()  # batch x hidden states x size
        return pooled.cpu().numpy().astype(np.float32, copy=False)

    def _frames(self, lengths):
        """Frames of the model's output that hold each clip (lengths: samples, or Whisper's mel frames)."""
        import torch

        convert = getattr(self.encoder, "_get_feat_extract_output_lengths", None)
        out = convert(lengths) if convert is not None else lengths
        return torch.as_tensor(out).long()


def _mask_group_norm(model):
    """Models with a group-normalised first convolution (wav2vec2-base, HuBERT-base, WavLM-base: one group
    per channel, so each channel is normalised over time) would normalise over the padding too, and a
    clip's vectors would depend on the longest clip of its batch. Their first layer's GroupNorm is wrapped
    so that, while a padded batch runs, each clip is normalised over its own frames only: every frame
    that holds audio then has the value it has when the clip runs alone (later convolutions use only
    frames of the clip for the frames that hold audio). Returns the wrapper (None for other models)."""
    import torch

    layers = getattr(getattr(model, "feature_extractor", None), "conv_layers", None)
    if not layers:
        return None
    first = layers[0]
    norm, conv = getattr(first, "layer_norm", None), getattr(first, "conv", None)
    if not isinstance(norm, torch.nn.GroupNorm) or norm.num_groups != norm.num_channels or conv is None:
        return None
    first.layer_norm = _PaddingFreeGroupNorm(norm, conv.kernel_size[0], conv.stride[0])
    return first.layer_norm


def _padding_free_group_norm_class():
    import torch

    class PaddingFreeGroupNorm(torch.nn.Module):
        """A per-channel GroupNorm over each clip's own frames (``lengths``: samples of each clip, set only
        while a padded batch runs; otherwise the wrapped GroupNorm itself)."""

        def __init__(self, norm, kernel: int, stride: int):
            super().__init__()
            self.norm, self.kernel, self.stride = norm, kernel, stride
            self.state = threading.local()  # lengths per thread: batches may run at once

        def forward(self, x):
            lengths = getattr(self.state, "lengths", None)
            if lengths is None:
                return self.norm(x)
            frames = torch.div(lengths - self.kernel, self.stride, rounding_mode="floor") + 1
            keep = (torch.arange(x.shape[-1], device=x.device)[None, :] < frames[:, None])[:, None, :]
            values = x.float()
            count = frames.clamp(min=1)[:, None, None].float()
            mean = (values * keep).sum(-1, keepdim=True) / count
            var = (((values - mean) * keep) ** 2).sum(-1, keepdim=True) / count
            out = (values - mean) * torch.rsqrt(var + self.norm.eps)
            if self.norm.affine:
                out = out * self.norm.weight.float()[None, :, None] + self.norm.bias.float()[None, :, None]
            return out

    return PaddingFreeGroupNorm


def _PaddingFreeGroupNorm(norm, kernel: int, stride: int):  # noqa: N802 (a class made on first use: torch is lazy)
    global _padding_free_class
    if _padding_free_class is None:
        _padding_free_class = _padding_free_group_norm_class()
    return _padding_free_class(norm, kernel, stride)


_padding_free_class = None


def _cast_matmul_weights(model, dtype) -> None:
    """The weights of the linear and convolution layers stored in ``dtype`` once, instead of autocast casting
    all of them again at every forward (on the CPU that copy is a sizeable part of a short batch's time).
    Autocast computes these layers in ``dtype`` anyway, so the vectors do not change; norms keep float32.
    A layer whose weight is computed (weight norm's parametrisation) is left to autocast."""
    import torch

    for module in model.modules():
        if isinstance(module, (torch.nn.Linear, torch.nn.Conv1d)) and not hasattr(module, "parametrizations"):
            module.to(dtype)


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@contextmanager
def _threads_per_batch(workers: int):
    """torch's intra-op threads set to cores / workers while the batches run (a process-wide setting,
    restored afterwards)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(max(1, _cores() // workers))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _accepts(function, name: str) -> bool:
    import inspect

    try:
        return name in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


def load_encoder(name: str, revision: str | None = None, device: str = "auto", batch_seconds: float | None = None,
                 identity: ModelIdentity | None = None, precision: str | None = "auto") -> SpeechEncoder:
    """The model and its feature extractor, from a folder, the local Hugging Face cache or the hub
    (safetensors weights only), on ``device`` (auto: the GPU when there is one)."""
    from transformers import AutoFeatureExtractor, AutoModel

    identity = identity or model_identity(name, revision)
    pinned = None if identity.where == "folder" else identity.revision
    try:
        extractor = AutoFeatureExtractor.from_pretrained(identity.source, revision=pinned)
        model = AutoModel.from_pretrained(identity.source, revision=pinned, use_safetensors=True)
    except (OSError, ValueError, KeyError) as exc:
        from .finetune.model import _how_to_provide, _reason

        if identity.where == "folder":
            detail = (f"the folder {name} does not hold a usable speech encoder ({_reason(exc)}). It needs "
                      "config.json, model.safetensors and preprocessor_config.json, as written by the model's "
                      "and the feature extractor's save_pretrained (weights as safetensors: pickled "
                      "pytorch_model.bin files are not loaded).")
        else:
            detail = f"{name!r} cannot be loaded ({_reason(exc)}). " + _how_to_provide(identity.source)
        raise ModelUnavailable(detail) from None
    return SpeechEncoder(model, extractor, identity, pick_device(device), batch_seconds, precision)
