"""Clips for the Trainer: which clips take part (a sample, the 70/15/15 split, the ones that decode), a
map-style dataset that crops long clips (randomly for training, from the start for evaluation, as
``random_subsample`` in Hugging Face's audio-classification example) and a collator that normalises
each clip and pads the batch with the model's feature extractor."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...data.audio import SAMPLE_RATE, load_audio
from ...errors import AudioError, ConfigError
from ..splits import make_split

VAL_SIZE = 0.15  # 70/15/15, as the report's wav2vec2 split


@dataclass
class ClipParts:
    """The clips that take part, their part (train, val, test) and cropped length in samples, and those
    that failed."""

    clips: pd.DataFrame  # the readable clips, with columns ``part`` and ``samples``
    failed: list[dict]  # [{clip, problem}] clips that could not be decoded, left out before training

    def part(self, name: str) -> pd.DataFrame:
        """One part, shortest clips first, so evaluation batches carry little padding."""
        rows = self.clips[self.clips["part"] == name]
        return rows.sort_values("samples", kind="stable")

    def sizes(self) -> dict:
        info = {name: int((self.clips["part"] == name).sum()) for name in ("train", "val", "test")}
        for name in ("train", "val", "test"):
            info[f"{name}_speakers"] = int(self.clips.loc[self.clips["part"] == name, "speaker"].nunique())
        return info


def sample_clips(clips: pd.DataFrame, max_clips: int | None, seed: int) -> pd.DataFrame:
    """All clips, or a sample of ``max_clips`` stratified by emotion."""
    if max_clips is None or max_clips >= len(clips):
        return clips
    from sklearn.model_selection import train_test_split

    keep, _ = train_test_split(clips.index.to_numpy(), train_size=max_clips, random_state=seed,
                               stratify=clips["emotion"].to_numpy())
    return clips.loc[sorted(keep)]


def prepare_clips(clips: pd.DataFrame, split: str, seed: int, max_seconds: float, jobs: int = 4) -> ClipParts:
    """Split first (so a broken file never moves the split), then decode every clip once: the ones that
    fail are reported and left out; the others get their length (capped at ``max_seconds``)."""
    parts = make_split(clips, split, val_size=VAL_SIZE, seed=seed)
    max_samples = int(round(max_seconds * SAMPLE_RATE))
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = list(pool.map(_decoded_length, clips["path"].astype(str)))
    failed = [{"clip": clip, "problem": r} for clip, r in zip(clips.index, results) if isinstance(r, str)]
    readable = [not isinstance(r, str) for r in results]
    table = clips.assign(part=parts.to_numpy())[readable].copy()
    table["samples"] = [min(r, max_samples) for r in results if not isinstance(r, str)]
    for name in ("train", "val", "test"):
        if (table["part"] == name).sum() == 0:
            raise ConfigError(f"no usable clips in the {name} part of the {split} split"
                              f"{' (see failed_clips)' if failed else ''}.", title="Too few clips")
    return ClipParts(table, failed)


def _decoded_length(path: str) -> int | str:
    try:
        return int(load_audio(path).size)
    except AudioError as exc:
        return exc.detail


def random_crop(audio: np.ndarray, max_samples: int) -> np.ndarray:
    """A random window of ``max_samples`` (the whole clip when shorter); uses torch's seeded generator."""
    if audio.size <= max_samples:
        return audio
    import torch

    start = int(torch.randint(0, audio.size - max_samples + 1, (1,)))
    return audio[start:start + max_samples]


class ClipDataset:
    """Map-style dataset of ``{"input_values": float32 audio, "labels": int}``; audio is decoded on access."""

    def __init__(self, clips: pd.DataFrame, labels: list[str], max_seconds: float, train: bool):
        index = {label: i for i, label in enumerate(labels)}
        self.clip_ids = clips.index.to_list()
        self.paths = clips["path"].astype(str).to_list()
        self.targets = [index[e] for e in clips["emotion"]]
        self.lengths = clips["samples"].astype(int).to_list()
        self.max_samples = int(round(max_seconds * SAMPLE_RATE))
        self.train = train

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> dict:
        audio = load_audio(self.paths[i])
        audio = random_crop(audio, self.max_samples) if self.train else audio[:self.max_samples]
        return {"input_values": audio, "labels": self.targets[i]}


# Batches are padded to their longest clip rounded up to a multiple of this, so that batch shapes repeat:
# on a GPU, each new input shape costs cuDNN a new plan for the convolutions, and with one shape per batch
# that dominated a step (benchmarks/results/gpu/2026-11-26-run2/probe.json: 173 clips/s on first-seen shapes
# against 747 once seen; 0.25 s buckets: 505, and 2.1x the clips/s of a large model's training).
PAD_SECONDS = 0.25


@dataclass
class ClipCollator:
    """Normalise each clip on its own (as the extractor does for a single clip), then pad the batch to its
    longest clip rounded up to ``pad_to_multiple_of`` samples (default: ``PAD_SECONDS``);
    ``attention_mask`` only where the checkpoint was trained with one (``return_attention_mask``)."""

    extractor: object
    pad_to_multiple_of: int | None = -1  # -1: PAD_SECONDS at the extractor's rate; None: no rounding

    def __call__(self, items: list[dict]) -> dict:
        import torch

        rate = getattr(self.extractor, "sampling_rate", SAMPLE_RATE)
        audio = [item["input_values"] for item in items]
        normalised = self.extractor(audio, sampling_rate=rate)["input_values"]
        multiple = int(PAD_SECONDS * rate) if self.pad_to_multiple_of == -1 else self.pad_to_multiple_of
        batch = self.extractor.pad({"input_values": normalised}, padding=True, return_tensors="pt",
                                   pad_to_multiple_of=multiple,
                                   return_attention_mask=bool(getattr(self.extractor, "return_attention_mask", False)))
        batch["labels"] = torch.tensor([item["labels"] for item in items], dtype=torch.long)
        return batch
