"""What one clip looks like: its waveform, thinned for drawing, and its mel spectrogram in dB (librosa).
Computed for one clip at a time (the one a person picked), never for a whole table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .audio import SAMPLE_RATE

N_MELS = 64
HOP = 256  # 16 ms at 16 kHz


def waveform_points(audio: np.ndarray, sample_rate: int = SAMPLE_RATE, points: int = 4000) -> pd.DataFrame:
    """``seconds, amplitude``: at most about ``points`` samples, evenly spaced, enough to draw its shape."""
    step = max(1, audio.size // points)
    return pd.DataFrame({"seconds": np.arange(0, audio.size, step) / sample_rate, "amplitude": audio[::step]})


def mel_spectrogram(audio: np.ndarray, sample_rate: int = SAMPLE_RATE, n_mels: int = N_MELS,
                    hop_length: int = HOP) -> pd.DataFrame:
    """The mel power spectrogram in dB relative to its loudest cell: one row per mel band (indexed by the
    band's centre frequency in Hz, low to high), one column per frame (its start in seconds)."""
    import librosa

    power = librosa.feature.melspectrogram(y=audio, sr=sample_rate, n_mels=n_mels, hop_length=hop_length)
    decibels = librosa.power_to_db(power, ref=np.max)
    hertz = librosa.mel_frequencies(n_mels=n_mels, fmax=sample_rate / 2)
    seconds = librosa.frames_to_time(np.arange(decibels.shape[1]), sr=sample_rate, hop_length=hop_length)
    return pd.DataFrame(decibels, index=pd.Index(np.round(hertz).astype(int), name="Hz"),
                        columns=pd.Index(seconds, name="seconds"))
