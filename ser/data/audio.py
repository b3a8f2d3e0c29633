"""Decode, validate and resample audio. Inside the engine audio is mono float32 at 16 kHz.

A file that cannot be used raises ``AudioProblem`` with the kind of problem (missing, unreadable,
empty, lfs-pointer, truncated, undecodable, no-samples, not-finite), so the corpus reader can count
problems by kind without reading their messages."""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..errors import AudioProblem

SAMPLE_RATE = 16_000
LFS_POINTER_PREFIX = b"version https://git-lfs"
UNDECODABLE_TITLE = "Not a recognisable audio file"
TRUNCATED_TITLE = "Clip is truncated"
PCM_LIKE_FORMATS = {0x0001, 0x0003, 0x0006, 0x0007, 0xFFFE}  # PCM, float, A-law, mu-law, extensible
UNKNOWN_LENGTH = {0, 0xFFFFFFFF}  # data sizes that streaming writers leave in the header


@dataclass(frozen=True)
class AudioInfo:
    duration_s: float
    sample_rate: int
    channels: int


@dataclass(frozen=True)
class Truncation:
    """A WAV file whose data chunk declares more audio than the file holds."""

    declared_bytes: int
    present_bytes: int
    byte_rate: int | None
    block_align: int | None

    def __str__(self) -> str:
        return (f"truncated: the header promises {self._amount(self.declared_bytes)} but the file holds "
                f"{self._amount(self.present_bytes)}; it was cut short (an interrupted copy or download?)")

    def _amount(self, size: int) -> str:
        if not self.byte_rate:
            return f"{size:,} bytes of audio"
        seconds = f"{size / self.byte_rate:.2f} s"
        return f"{seconds} ({size // self.block_align:,} frames)" if self.block_align else seconds


def wav_truncation(handle: BinaryIO, size: int) -> Truncation | None:
    """Compare a RIFF/WAVE file's data chunk size with the bytes that follow it. libsndfile silently
    decodes what is there, so a file cut short would otherwise pass for a shorter clip. None for other
    formats, for whole files and for headers written by streaming tools (size 0 or 0xFFFFFFFF)."""
    handle.seek(0)
    head = handle.read(12)
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
        return None
    order = "<" if head[:4] == b"RIFF" else ">"
    byte_rate = block_align = None
    offset = 12
    while offset + 8 <= size:
        handle.seek(offset)
        chunk_id, chunk_size = struct.unpack(order + "4sI", handle.read(8))
        if chunk_id == b"fmt ":
            fmt = handle.read(16)
            if len(fmt) == 16:
                tag, _, _, byte_rate, block_align, _ = struct.unpack(order + "HHIIHH", fmt)
                block_align = block_align if tag in PCM_LIKE_FORMATS and block_align else None
        elif chunk_id == b"data":
            if chunk_size in UNKNOWN_LENGTH:
                return None
            present = size - offset - 8
            whole = (chunk_size - chunk_size % block_align) if block_align else chunk_size
            return Truncation(chunk_size, present, byte_rate, block_align) if present < whole else None
        offset += 8 + chunk_size + (chunk_size & 1)
    return None


def file_problem(path: Path) -> AudioProblem | None:
    """A quick check that reads no audio: missing, empty, a Git LFS pointer, or a WAV cut short."""
    try:
        size = path.stat().st_size
        if size == 0:
            return AudioProblem(f"{path}: empty file (0 bytes)", "empty", title="Empty file")
        with open(path, "rb") as handle:
            if handle.read(len(LFS_POINTER_PREFIX)) == LFS_POINTER_PREFIX:
                return AudioProblem(f"{path}: Git LFS pointer instead of audio: run `git lfs pull` in the corpus "
                                    "folder", "lfs-pointer", title="Git LFS pointer instead of audio")
            truncation = wav_truncation(handle, size)
    except FileNotFoundError:
        return AudioProblem(f"{path}: missing file", "missing", title="File not found")
    except OSError as exc:
        return AudioProblem(f"{path}: cannot be read ({exc.strerror or exc})", "unreadable",
                            title="File cannot be read")
    if truncation is not None:
        return AudioProblem(f"{path}: {truncation}", "truncated", title=TRUNCATED_TITLE)
    return None


def undecodable(name: str, reason: str, hint: str = "") -> AudioProblem:
    """The error for bytes no decoder could read, in words, with the decoder's own text kept as a detail."""
    return AudioProblem(f"{name}: not a recognisable audio file (no decoder could read it).{hint} "
                        f"Decoder's message: {reason}", "undecodable", title=UNDECODABLE_TITLE)


def _raise_if_problem(path: Path) -> None:
    problem = file_problem(path)
    if problem is not None:
        raise problem


def probe(path: Path | str) -> AudioInfo:
    """Read the header only: duration, rate and channels. Raises AudioProblem."""
    import soundfile as sf

    path = Path(path)
    _raise_if_problem(path)
    try:
        info = sf.info(str(path))
    except Exception as exc:  # soundfile raises several types for bad headers
        raise undecodable(str(path), f"libsndfile: {error_reason(exc)}") from None
    if info.frames <= 0 or info.samplerate <= 0:
        raise AudioProblem(f"{path}: the file holds no audio samples", "no-samples", title="No audio in the file")
    return AudioInfo(info.frames / info.samplerate, int(info.samplerate), int(info.channels))


def decode_file(path: Path | str) -> tuple[np.ndarray, int]:
    """Decode a file to mono float32 at its own sample rate. Raises AudioProblem naming the file."""
    import soundfile as sf

    path = Path(path)
    _raise_if_problem(path)
    try:
        samples, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:
        raise undecodable(str(path), f"libsndfile: {error_reason(exc)}") from None
    return checked_mono(samples, str(path)), int(rate)


def load_audio(path: Path | str, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Decode a file to mono float32 at ``sample_rate``. Raises AudioProblem naming the file."""
    samples, rate = decode_file(path)
    return to_mono_resampled(samples, rate, sample_rate, source=str(path))


def checked_mono(samples: np.ndarray, source: str) -> np.ndarray:
    """Mix channels down (their mean, as librosa.to_mono) and check that there are finite samples."""
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    if samples.size == 0:
        raise AudioProblem(f"{source}: the file holds no audio samples", "no-samples", title="No audio in the file")
    if not np.all(np.isfinite(samples)):
        raise AudioProblem(f"{source}: the audio contains NaN or infinite samples", "not-finite",
                           title="Samples are not finite numbers")
    return np.ascontiguousarray(samples, dtype=np.float32)


def to_mono_resampled(samples: np.ndarray, rate: int, sample_rate: int, source: str) -> np.ndarray:
    """Mix channels down, check the samples, resample with soxr (librosa's default)."""
    samples = checked_mono(samples, source)
    if rate != sample_rate:
        import soxr

        samples = soxr.resample(samples, rate, sample_rate, quality="HQ").astype(np.float32)
    return samples


def error_reason(exc: Exception) -> str:
    """The last line of a decoder's error, without soundfile's repeated file name."""
    lines = str(exc).strip().splitlines()
    text = lines[-1] if lines else type(exc).__name__
    return re.sub(r"^Error opening ('.*?'|<.*?>): ", "", text).rstrip(".")
