"""Decode, validate and resample audio. Inside the engine audio is mono float32 at 16 kHz."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import AudioError

SAMPLE_RATE = 16_000
LFS_POINTER_PREFIX = b"version https://git-lfs"


@dataclass(frozen=True)
class AudioInfo:
    duration_s: float
    sample_rate: int
    channels: int


def file_problem(path: Path) -> str | None:
    """A quick check that needs no decoding: missing, empty, or a Git LFS pointer."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return "missing file"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if size == 0:
        return "empty file (0 bytes)"
    if size < 1024:
        with open(path, "rb") as handle:
            if handle.read(len(LFS_POINTER_PREFIX)) == LFS_POINTER_PREFIX:
                return "Git LFS pointer instead of audio: run `git lfs pull` in the corpus folder"
    return None


def _raise_if_problem(path: Path) -> None:
    problem = file_problem(path)
    if problem is not None:
        raise AudioError(f"{path}: {problem}")


def probe(path: Path | str) -> AudioInfo:
    """Read the header only: duration, rate and channels. Raises AudioError."""
    import soundfile as sf

    path = Path(path)
    _raise_if_problem(path)
    try:
        info = sf.info(str(path))
    except Exception as exc:  # soundfile raises several types for bad headers
        raise AudioError(f"{path}: not a readable audio file ({error_reason(exc)})") from None
    if info.frames <= 0 or info.samplerate <= 0:
        raise AudioError(f"{path}: the file holds no audio samples")
    return AudioInfo(info.frames / info.samplerate, int(info.samplerate), int(info.channels))


def load_audio(path: Path | str, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Decode a file to mono float32 at ``sample_rate``. Raises AudioError naming the file."""
    import soundfile as sf

    path = Path(path)
    _raise_if_problem(path)
    try:
        samples, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:
        raise AudioError(f"{path}: not a decodable audio file ({error_reason(exc)})") from None
    return to_mono_resampled(samples, rate, sample_rate, source=str(path))


def to_mono_resampled(samples: np.ndarray, rate: int, sample_rate: int, source: str) -> np.ndarray:
    """Mix channels down, check the samples, resample with soxr (librosa's default)."""
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    if samples.size == 0:
        raise AudioError(f"{source}: the file holds no audio samples")
    if not np.all(np.isfinite(samples)):
        raise AudioError(f"{source}: the audio contains NaN or infinite samples")
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    if rate != sample_rate:
        import soxr

        samples = soxr.resample(samples, rate, sample_rate, quality="HQ").astype(np.float32)
    return samples


def error_reason(exc: Exception) -> str:
    """The last line of a decoder's error, without soundfile's repeated file name."""
    lines = str(exc).strip().splitlines()
    text = lines[-1] if lines else type(exc).__name__
    if text.startswith("Error opening") and "': " in text:
        text = text.split("': ", 1)[1]
    return text.rstrip(".")
