"""What one clip looks like: its waveform, thinned for drawing, and its mel spectrogram in dB (as librosa's).
Computed for one clip at a time (the one a person picked), never for a whole table."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from .audio import SAMPLE_RATE

N_MELS = 64
HOP = 256  # 16 ms at 16 kHz
N_FFT = 2048  # librosa's default
TOP_DB = 80.0  # librosa's power_to_db default: the quietest cell shown is 80 dB below the loudest


def waveform_points(audio: np.ndarray, sample_rate: int = SAMPLE_RATE, points: int = 4000) -> pd.DataFrame:
    """``seconds, amplitude``: at most about ``points`` samples, evenly spaced, enough to draw its shape."""
    step = max(1, audio.size // points)
    return pd.DataFrame({"seconds": np.arange(0, audio.size, step) / sample_rate, "amplitude": audio[::step]})


def periodic_hann(n_fft: int) -> np.ndarray:
    """The periodic Hann window (scipy.signal.get_window("hann", n_fft) and librosa's, bit for bit)."""
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)


def power_frames(y: np.ndarray, n_fft: int, hop_length: int, window: np.ndarray) -> np.ndarray:
    """The power spectrum of centred frames (``n_fft // 2`` zeros padded at each end), frames x bins: librosa's
    ``abs(stft(y, center=True, pad_mode="constant")) ** 2``, transposed, with numpy's FFT. Not librosa's own
    stft: its numba code compiled for about 20 s the first time on 2 cores, and took 1.5 s to load from numba's
    cache in every new process (the first clip a person played in the app)."""
    import scipy.fft

    padded = np.pad(y, n_fft // 2, mode="constant")
    if padded.size < n_fft:
        padded = np.pad(padded, (0, n_fft - padded.size))
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop_length]
    spectrum = scipy.fft.rfft(frames * window, axis=1)
    return spectrum.real**2 + spectrum.imag**2


@functools.cache
def mel_filters(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    """librosa's mel filter bank (Slaney), float32, bands x bins (numpy code: nothing to compile)."""
    import librosa

    return librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels).astype(np.float32)


def mel_spectrogram(audio: np.ndarray, sample_rate: int = SAMPLE_RATE, n_mels: int = N_MELS,
                    hop_length: int = HOP) -> pd.DataFrame:
    """The mel power spectrogram in dB relative to its loudest cell, floored 80 dB below it (librosa's
    ``power_to_db(melspectrogram(...), ref=np.max)``): one row per mel band (indexed by the band's centre
    frequency in Hz, low to high), one column per frame (its start in seconds)."""
    import librosa

    power = power_frames(np.asarray(audio, dtype=np.float32), N_FFT, hop_length, periodic_hann(N_FFT))
    mel = (power @ mel_filters(sample_rate, N_FFT, n_mels).T).T.astype(np.float64)  # bands x frames
    decibels = 10.0 * np.log10(np.maximum(mel, 1e-10))
    decibels = np.maximum(decibels - decibels.max(), -TOP_DB)
    centres = librosa.mel_frequencies(n_mels=n_mels + 2, fmax=sample_rate / 2)[1:-1]  # (edges at both ends)
    seconds = np.arange(decibels.shape[1]) * hop_length / sample_rate
    return pd.DataFrame(decibels, index=pd.Index(np.round(centres).astype(int), name="Hz"),
                        columns=pd.Index(seconds, name="seconds"))
