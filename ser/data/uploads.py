"""Audio that a user hands in (uploads, recordings, files given to ``predict``): decoded to mono
float32 at 16 kHz with one clear message per problem. Nothing uploaded is executed or unpickled:
bytes go to libsndfile, or to ffmpeg for formats libsndfile cannot read (m4a/aac)."""

from __future__ import annotations

import io
import shutil
import subprocess

import numpy as np

from .audio import (LFS_POINTER_PREFIX, SAMPLE_RATE, TRUNCATED_TITLE, checked_mono, error_reason, to_mono_resampled,
                    undecodable, wav_truncation)
from ..errors import AudioError, AudioProblem

MAX_SECONDS = 600.0
MIN_SECONDS = 0.1
SILENCE_PEAK = 1e-4
FFMPEG_ONLY = {".m4a", ".aac", ".mp4", ".wma", ".opus", ".webm"}
SUPPORTED = " Supported here: wav, flac, ogg, mp3; install ffmpeg for m4a/aac and other formats."


def decode_bytes(name: str, data: bytes, max_seconds: float = MAX_SECONDS) -> np.ndarray:
    """Decode ``data`` (the contents of file ``name``) to mono float32 at 16 kHz. Raises AudioError with a
    message that names the file: empty, Git LFS pointer, not audio, truncated, unsupported codec, NaN/Inf,
    silent, too long."""
    audio, rate = decode_upload(name, data, max_seconds)
    return to_mono_resampled(audio, rate, SAMPLE_RATE, source=name)


def decode_upload(name: str, data: bytes, max_seconds: float = MAX_SECONDS) -> tuple[np.ndarray, int]:
    """As ``decode_bytes``, but mono float32 at the file's own sample rate: ``(audio, rate)``."""
    if not data:
        raise AudioProblem(f"{name}: empty file (0 bytes)", "empty", title="Empty file")
    if data.startswith(LFS_POINTER_PREFIX):
        raise AudioProblem(f"{name}: a Git LFS pointer, not audio; run `git lfs pull` where it came from",
                           "lfs-pointer", title="Git LFS pointer instead of audio")
    truncation = wav_truncation(io.BytesIO(data), len(data))
    if truncation is not None:
        raise AudioProblem(f"{name}: {truncation}", "truncated", title=TRUNCATED_TITLE)
    audio, rate = _decode(name, data)
    if audio.size == 0:
        raise AudioProblem(f"{name}: the file holds no audio samples (header only or truncated)", "no-samples",
                           title="No audio in the file")
    require_min_length(name, audio.shape[0], rate, hint=" (truncated?)")
    if audio.shape[0] / rate > max_seconds:
        raise AudioError(f"{name}: {audio.shape[0] / rate:.0f} s long, beyond the {max_seconds:.0f} s limit; "
                         "cut it into shorter clips", title="Clip too long")
    samples = checked_mono(audio, source=name)
    if np.max(np.abs(samples)) < SILENCE_PEAK:
        raise AudioError(f"{name}: the clip is silent (peak below {SILENCE_PEAK})", title="Silent clip")
    return samples, rate


def _decode(name: str, data: bytes) -> tuple[np.ndarray, int]:
    import soundfile as sf

    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    tried = ""
    if suffix not in FFMPEG_ONLY:
        try:
            audio, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
            return audio, int(rate)
        except Exception as exc:  # libsndfile: not audio, unsupported codec
            tried = f"libsndfile: {error_reason(exc)}"
            if shutil.which("ffmpeg") is None:
                raise undecodable(name, tried, hint=SUPPORTED) from None
    return _decode_with_ffmpeg(name, data, tried)


def _decode_with_ffmpeg(name: str, data: bytes, tried: str = "") -> tuple[np.ndarray, int]:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise AudioError(f"{name}: this format needs ffmpeg, which is not installed here (Debian/Ubuntu: "
                         "`apt-get install ffmpeg`; macOS: `brew install ffmpeg`), or convert the clip to wav",
                         title="Format not supported here")
    done = subprocess.run([ffmpeg, "-v", "error", "-i", "pipe:0", "-f", "f32le", "-ac", "1", "-ar", str(SAMPLE_RATE),
                           "pipe:1"], input=data, capture_output=True, timeout=120)
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines()
        said = lines[-1].removeprefix("pipe:0: ").rstrip(".") if lines else f"exit status {done.returncode}"
        raise undecodable(name, "; ".join(filter(None, [tried, f"ffmpeg: {said}"])))
    return np.frombuffer(done.stdout, dtype=np.float32).reshape(-1, 1).copy(), SAMPLE_RATE


def require_min_length(name: str, samples: int, rate: int, hint: str = "") -> None:
    """Refuse a clip shorter than MIN_SECONDS (models and feature sets cannot classify a few samples)."""
    if samples / rate < MIN_SECONDS:
        raise AudioError(f"{name}: only {samples / rate * 1000:.0f} ms of audio{hint}; at least "
                         f"{MIN_SECONDS * 1000:.0f} ms are needed", title="Clip too short")
