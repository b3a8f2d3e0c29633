"""How emotion and intensity shape a clip's speaking style."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .actors import Voice

LEVEL_SCALE = {"LO": 0.5, "MD": 1.0, "HI": 1.5, "XX": 1.0}

# Deviation from neutral at full (MD / XX) intensity. pitch: semitones; range: log2 factor
# of the pitch excursions; rate: log factor; loud: dB; tension, breath, jitter, creak,
# tremor: added to the voice; smile / open: formant shifts (F2 up / F1 up).
EMOTION_DEVIATIONS: dict[str, dict[str, float]] = {
    "NEU": {},
    "ANG": {"pitch": 3.0, "range": 0.5, "rate": 0.12, "loud": 6.0, "tension": 1.1,
            "breath": -0.3, "jitter": 0.2, "open": 1.0},
    "HAP": {"pitch": 3.5, "range": 0.8, "rate": 0.07, "loud": 3.0, "tension": 0.3,
            "smile": 1.0},
    "FEA": {"pitch": 4.5, "range": 0.1, "rate": 0.16, "loud": 0.5, "breath": 0.8,
            "jitter": 1.2, "tremor": 1.0},
    "SAD": {"pitch": -2.0, "range": -0.9, "rate": -0.22, "loud": -5.0, "tension": -0.8,
            "breath": 0.8, "open": -0.8, "creak": 0.3},
    "DIS": {"pitch": -2.0, "range": 0.1, "rate": -0.15, "loud": -1.0, "tension": 0.3,
            "jitter": 0.6, "creak": 1.0},
}
# Per-clip standard deviation of each parameter: comparable to the emotion effects.
CLIP_SPREAD = {"pitch": 2.0, "range": 0.35, "rate": 0.09, "loud": 3.0, "tension": 0.45,
               "breath": 0.35, "jitter": 0.4, "creak": 0.25, "tremor": 0.2, "smile": 0.5,
               "open": 0.5}


def emotion_profile(emotion: str, level: str) -> dict[str, float]:
    """The emotion's deviation from neutral, scaled by intensity (LO 0.5, MD 1, HI 1.5)."""
    scale = LEVEL_SCALE[level]
    deviation = EMOTION_DEVIATIONS[emotion]
    return {k: scale * deviation.get(k, 0.0) for k in CLIP_SPREAD}


@dataclass(frozen=True)
class Style:
    """Everything the synthesis needs for one clip."""

    f0: float
    range_st: float
    rate: float
    loudness: float  # dB re an average neutral clip
    tension: float
    breath: float
    jitter: float
    shimmer: float
    creak: float
    tremor: float
    vtl: float
    smile: float
    open: float


def clip_style(voice: Voice, profile: dict[str, float], rng: np.random.Generator) -> Style:
    """Combine actor voice, scaled emotion deviation and per-clip variation."""
    p = {k: voice.expressiveness * v + rng.normal(0, CLIP_SPREAD[k]) for k, v in profile.items()}
    loud = voice.loudness + p["loud"]
    return Style(
        f0=voice.f0 * 2 ** (p["pitch"] / 12),
        range_st=2.5 * 2 ** p["range"],
        rate=float(np.clip(voice.rate * np.exp(p["rate"]), 0.6, 1.6)),
        loudness=float(loud),
        tension=float(np.clip(voice.tension + p["tension"], -2, 2)),
        breath=float(np.clip(voice.breathiness * (1 + p["breath"]), 0.02, 0.6)),
        jitter=float(np.clip(voice.jitter * (1 + p["jitter"]), 0.002, 0.05)),
        shimmer=float(np.clip(voice.shimmer * (1 + 0.5 * p["jitter"]), 0.01, 0.2)),
        creak=float(np.clip(voice.creak + p["creak"], 0, 1.5)),
        tremor=float(np.clip(p["tremor"], 0, 2)),
        vtl=voice.vtl,
        smile=p["smile"],
        open=p["open"],
    )
