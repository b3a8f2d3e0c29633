"""The formant synthesiser: a glottal source with jitter, shimmer and creak, moving formant resonators,
consonant noise and loudness."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import signal

from ...labels import SENTENCES
from .actors import Voice
from .clips import SAMPLE_RATE, TAG_CLIP, Clip, rng_for
from .emotion import Style, clip_style, emotion_profile
from .phonetics import BANDWIDTHS, HIGH_FORMANTS, VOWELS, Plan, sentence_syllables, utterance_plan

def syllable_envelope(plan: Plan, style: Style, rng: np.random.Generator) -> np.ndarray:
    """Amplitude of voicing: a shaped bump per vowel, quiet murmurs for sonorants."""
    env = np.zeros(plan.n)
    for (a, b), stressed in zip(plan.nucleus, plan.stressed):
        x = np.linspace(0, 1, b - a, endpoint=False)
        shape = np.minimum(1, x / 0.12) * np.minimum(1, (1 - x) / 0.3) * (1 - 0.25 * x)
        env[a:b] = shape * (1.0 if stressed else 0.7) * rng.uniform(0.85, 1.15)
    for a, b in plan.murmur:
        env[a:b] = np.maximum(env[a:b], 0.25)
    window = np.hanning(int(0.012 * SAMPLE_RATE))
    return np.convolve(env, window / window.sum(), mode="same")


CONTROL_RATE = 200  # pitch and creak control points per second


def _smooth(values: np.ndarray) -> np.ndarray:
    kernel = np.hanning(9)
    return np.convolve(values, kernel / kernel.sum(), mode="same")


def creak_weight(plan: Plan, style: Style, m: int, rng: np.random.Generator) -> np.ndarray:
    """Vocal fry (0..1) at control rate: the last vowel's tail, and a few others when creaky."""
    creak = np.zeros(m)
    last = len(plan.nucleus) - 1
    creaky = [last] + [i for i in range(last + 1) if rng.random() < 0.2 * style.creak]
    for i in creaky:
        a, b = (plan.nucleus[i] * CONTROL_RATE) // SAMPLE_RATE
        creak[a + (b - a) // 3: b + 2] = min(1.0, style.creak)
    return _smooth(creak)


def pitch_contour(plan: Plan, style: Style, rng: np.random.Generator) -> tuple:
    """Sample-level f0 (Hz) and creak weight: declination, accents, final fall, tremor."""
    m = plan.n * CONTROL_RATE // SAMPLE_RATE + 2
    centres = plan.nucleus.mean(axis=1) * CONTROL_RATE / SAMPLE_RATE
    accents = np.where(plan.stressed, rng.uniform(0.5, 1.0, len(centres)),
                       -0.3 * rng.uniform(0, 1, len(centres))) * style.range_st
    accents[-1] += (-0.8 if rng.random() > 0.15 else 0.6) * style.range_st  # fall, or rise
    knots = np.concatenate([[0], centres, [m - 1]])
    t = np.arange(m)
    st = np.interp(t, knots, np.concatenate([accents[:1], accents, accents[-1:]])) - 2.5 * t / m
    st += np.cumsum(rng.normal(0, 0.08, m)) * 0.3
    st += 0.35 * style.tremor * np.sin(2 * np.pi * rng.uniform(5, 7) * t / CONTROL_RATE)
    st = _smooth(st)
    creak = creak_weight(plan, style, m, rng)
    samples = np.arange(plan.n) * CONTROL_RATE / SAMPLE_RATE
    f0 = style.f0 * 2 ** (np.interp(samples, t, st) / 12)
    creak_s = np.interp(samples, t, creak)
    return np.clip(f0 * (1 - 0.4 * creak_s), 45, 650), creak_s


def rosenberg_pulse(phase: np.ndarray, open_q: float, skew: float) -> np.ndarray:
    """Rosenberg glottal flow over one cycle, phase in [0, 1)."""
    tp, tn = open_q * skew, open_q * (1 - skew)
    opening = 0.5 * (1 - np.cos(np.pi * phase / tp))
    closing = np.cos(0.5 * np.pi * np.clip((phase - tp) / tn, 0, 1))
    return np.where(phase < tp, opening, np.where(phase < tp + tn, closing, 0.0))


def glottal_source(f0: np.ndarray, creak: np.ndarray, style: Style,
                   rng: np.random.Generator) -> np.ndarray:
    """Glottal flow derivative with jitter, shimmer, creaky alternation and aspiration."""
    nominal = np.cumsum(f0) / SAMPLE_RATE
    cycles = int(nominal[-1]) + 3
    jitter = style.jitter * (1 + 2 * creak)
    period = 1 + jitter * rng.standard_normal(cycles)[nominal.astype(np.int64)]
    phase = np.cumsum(f0 / period) / SAMPLE_RATE
    cycle = phase.astype(np.int64)
    open_q = float(np.clip(0.6 - 0.1 * style.tension + 0.3 * style.breath, 0.35, 0.9))
    skew = float(np.clip(0.72 + 0.05 * style.tension, 0.6, 0.85))
    amp = 1 + style.shimmer * rng.standard_normal(int(cycle[-1]) + 2)
    amp = amp[cycle] * (1 - 0.6 * creak * (cycle % 2))
    flow = rosenberg_pulse(phase - cycle, open_q, skew) * amp
    source = np.diff(flow, prepend=0.0)
    source /= source.std() + 1e-12
    noise = np.diff(rng.standard_normal(len(f0) + 1)) * (0.3 + flow)
    return source + style.breath * 1.5 * noise / (noise.std() + 1e-12)


def spectral_tilt(source: np.ndarray, style: Style) -> np.ndarray:
    """One-pole low-pass: lax or breathy voices lose more high-frequency energy."""
    a = float(np.clip(0.45 - 0.25 * style.tension + 0.4 * style.breath, 0.0, 0.9))
    return signal.lfilter([1 - a], [1, -a], source)


def formant_frequencies(vowel: str, style: Style, rng: np.random.Generator) -> np.ndarray:
    """F1..F5 for one vowel, scaled by vocal-tract length and emotional articulation."""
    f = np.array(VOWELS[vowel] + HIGH_FORMANTS, dtype=float) * style.vtl
    f[0] *= 1 + 0.06 * style.open
    f[1] *= 1 + 0.04 * style.smile
    f[:3] *= np.exp(rng.normal(0, 0.04, 3))
    return np.clip(f, 200, 0.45 * SAMPLE_RATE)


def resonator_sos(freqs: np.ndarray, bandwidths: np.ndarray) -> np.ndarray:
    """Cascade of Klatt resonators (unity gain at DC) as second-order sections."""
    r = np.exp(-np.pi * bandwidths / SAMPLE_RATE)
    b1, b2 = 2 * r * np.cos(2 * np.pi * freqs / SAMPLE_RATE), -r * r
    gain = 1 - b1 - b2
    zeros = np.zeros_like(gain)
    return np.column_stack([gain, zeros, zeros, np.ones_like(gain), -b1, -b2])


def formant_filter(source: np.ndarray, plan: Plan, style: Style,
                   rng: np.random.Generator) -> np.ndarray:
    """Filter each syllable's stretch of source through its vowel; tails overlap-add."""
    out = np.zeros(plan.n + 800)
    bounds = list(plan.syllable_start) + [plan.n]
    bandwidths = np.array(BANDWIDTHS) * (1 + 0.8 * style.breath)
    for vowel, a, b in zip(plan.vowels, bounds[:-1], bounds[1:]):
        sos = resonator_sos(formant_frequencies(vowel, style, rng), bandwidths)
        segment = np.concatenate([source[a:b], np.zeros(800)])
        out[a:b + 800] += signal.sosfilt(sos, segment)
    return out[:plan.n]


@lru_cache(maxsize=None)
def _noise_band(kind: str) -> np.ndarray:
    bands = {"s": (3500, 7500), "sh": (2000, 5000), "f": (1200, 7500), "h": (500, 4000),
             "stop": (1500, 7500)}
    return signal.butter(2, bands[kind], btype="bandpass", fs=SAMPLE_RATE, output="sos")


NOISE_LEVEL = {"s": 0.35, "sh": 0.3, "f": 0.12, "h": 0.12, "stop": 0.5}


def consonant_noise(plan: Plan, style: Style, level: float,
                    rng: np.random.Generator) -> np.ndarray:
    """Frication for fricatives and a short release burst at the end of each stop closure."""
    out = np.zeros(plan.n)
    for a, b, kind in plan.noises:
        if kind == "stop":
            a = max(a, b - int(0.015 * SAMPLE_RATE))
        if b - a < 8:
            continue
        shape = np.exp(-np.linspace(0, 5, b - a)) if kind == "stop" else np.hanning(b - a)
        noise = signal.sosfilt(_noise_band(kind), rng.standard_normal(b - a))
        gain = NOISE_LEVEL[kind] * (1 + 0.25 * style.tension) * rng.uniform(0.7, 1.3)
        out[a:b] += max(gain, 0.02) * level * shape * noise / (noise.std() + 1e-12)
    return out


def set_level(sound: np.ndarray, plan: Plan, loudness: float) -> np.ndarray:
    """Scale the speech RMS with loudness, keeping the peak within 0.3-0.9."""
    speech = sound[plan.nucleus[0, 0]:plan.nucleus[-1, 1]]
    gain = 0.07 * 10 ** (loudness / 20) / (np.sqrt(np.mean(speech ** 2)) + 1e-12)
    peak = np.clip(gain * np.abs(sound).max(), 0.3, 0.9)
    return sound * peak / (np.abs(sound).max() + 1e-12)


def synthesize_clip(clip: Clip, voice: Voice, seed: int) -> np.ndarray:
    """The waveform of one clip (float, level set by loudness), a pure function of its inputs."""
    rng = rng_for(TAG_CLIP, seed, *clip.key)
    style = clip_style(voice, emotion_profile(clip.emotion, clip.level), rng)
    plan = utterance_plan(sentence_syllables(SENTENCES[clip.sentence]), style, rng)
    f0, creak = pitch_contour(plan, style, rng)
    source = spectral_tilt(glottal_source(f0, creak, style, rng), style)
    voiced = formant_filter(source * syllable_envelope(plan, style, rng), plan, style, rng)
    level = np.sqrt(np.mean(voiced[plan.nucleus[0, 0]:plan.nucleus[-1, 1]] ** 2))
    sound = voiced + consonant_noise(plan, style, level, rng)
    sound = signal.lfilter([1, -1], [1, -0.995], sound)  # remove DC and rumble
    sound = set_level(sound, plan, style.loudness)
    sound += rng.normal(0, 3e-4, plan.n)  # recording noise floor
    return np.clip(sound, -0.99, 0.99)
