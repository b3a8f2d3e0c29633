"""One clip to listen to and look at: an audio player, its waveform and its mel spectrogram
(``ser.data.spectrum``). A clip file is decoded once per file version (cached), and only the clip a
person picked: a table of thousands of clips never decodes them all."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ser.data.audio import SAMPLE_RATE, load_audio
from ser.data.spectrum import mel_spectrogram, waveform_points
from ser.errors import SerError
from ui.state import show_error


def waveform_figure(points: pd.DataFrame) -> go.Figure:
    """Graph objects, not plotly express: a rerun with a selected clip stays fast."""
    figure = go.Figure(go.Scatter(x=points["seconds"], y=points["amplitude"], mode="lines",
                                  line={"width": 1}, hovertemplate="%{x:.3f} s: %{y:.3f}<extra></extra>"))
    figure.update_layout(height=160, margin=dict(l=10, r=10, t=10, b=10), xaxis_title="seconds",
                         yaxis_title="amplitude")
    return figure


def spectrogram_figure(mel: pd.DataFrame) -> go.Figure:
    """Mel bands evenly spaced (labelled with their centre frequency), time in seconds. Viridis, not Magma:
    Magma's darkest stop (#000004) was drawn pink in the browser, so silence looked loud."""
    bands = [f"{hz} Hz" for hz in mel.index]
    figure = go.Figure(go.Heatmap(z=mel.to_numpy(), x=mel.columns.to_numpy(), y=bands, colorscale="Viridis",
                                  showscale=False, hovertemplate="%{x:.2f} s, %{y}: %{z:.0f} dB<extra></extra>"))
    figure.update_layout(height=220, margin=dict(l=10, r=10, t=10, b=10), xaxis_title="seconds",
                         yaxis_title="mel band")
    return figure


def audio_plots(audio: np.ndarray, key: str, sample_rate: int = SAMPLE_RATE) -> None:
    """The waveform and the mel spectrogram of decoded audio (mono float32)."""
    st.plotly_chart(waveform_figure(waveform_points(audio, sample_rate)), key=f"{key}_wave")
    st.plotly_chart(spectrogram_figure(mel_spectrogram(audio, sample_rate)), key=f"{key}_spectrogram")


@st.cache_data(show_spinner="Decoding the clip…", max_entries=32)
def clip_pictures(path: str, version: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(waveform points, mel spectrogram) of a clip file; ``version`` (its mtime) renews the entry when
    the file changes."""
    audio = load_audio(path)
    return waveform_points(audio), mel_spectrogram(audio)


def clip_view(path, key: str) -> None:
    """Play a clip file and show its waveform and mel spectrogram; a file that cannot be decoded says why."""
    path = Path(path)
    try:
        points, mel = clip_pictures(str(path), path.stat().st_mtime_ns)
    except (SerError, OSError) as exc:
        if isinstance(exc, SerError):
            show_error(exc)
        else:
            st.error(f"**Clip cannot be read**  \n{path}: {exc.strerror or exc}")
        return
    st.audio(str(path))
    st.plotly_chart(waveform_figure(points), key=f"{key}_wave")
    st.plotly_chart(spectrogram_figure(mel), key=f"{key}_spectrogram")
