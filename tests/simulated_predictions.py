"""Simulated predictions where the truth is known, for the calibration tests of ``ser.analysis.uncertainty``.

Each actor has a random effect on the log-odds of a correct prediction (actors differ, as real ones
do); a group can have a planted effect. A wrong prediction picks one of the other emotions uniformly,
so every class has as many predicted as true clips on average and the population macro-F1 of a group
equals its expected accuracy, E_u[sigmoid(base + u + effect)], computed by quadrature."""

from __future__ import annotations

import numpy as np
import pandas as pd

EMOS = np.array(["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"])
SENTENCES = ["IEO", "TIE", "IOM", "IWW", "TAI", "MTI", "IWL", "ITH", "DFA", "ITS", "TSI", "WSI"]


def expected_accuracy(logit: float, actor_sd: float) -> float:
    """E[sigmoid(logit + u)], u ~ N(0, actor_sd), by Gauss-Hermite quadrature."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    return float(np.sum(weights * (1 / (1 + np.exp(-(logit + actor_sd * nodes))))) / np.sqrt(2 * np.pi))


def simulate(rng: np.random.Generator, actor_groups: dict[str, int], clips_per_actor: int = 72,
             base: float = 0.0, actor_sd: float = 0.6, actor_effects: dict[str, float] | None = None,
             sentence_effects: dict[str, float] | None = None) -> pd.DataFrame:
    """A frame like ``ser.analysis.bias.analysis_frame``: y_true, y_pred, speaker, an actor-level ``race`` (the
    keys of ``actor_groups``, with that many actors each) and a clip-level ``sentence``.
    ``actor_effects``/``sentence_effects``: log-odds shifts per group."""
    actor_effects, sentence_effects = actor_effects or {}, sentence_effects or {}
    rows, actor = [], 0
    for group, count in actor_groups.items():
        for _ in range(count):
            u = rng.normal(0, actor_sd)
            truth = EMOS[np.arange(clips_per_actor) % 6]
            sentence = np.array(SENTENCES)[rng.permutation(clips_per_actor) % len(SENTENCES)]
            by_sentence = np.array([sentence_effects.get(s, 0.0) for s in sentence])
            logit = base + u + actor_effects.get(group, 0.0) + by_sentence
            right = rng.random(clips_per_actor) < 1 / (1 + np.exp(-logit))
            other = (np.searchsorted(EMOS, truth) + rng.integers(1, 6, clips_per_actor)) % 6
            guess = np.where(right, truth, EMOS[other])
            rows.append(pd.DataFrame({"y_true": truth, "y_pred": guess, "speaker": f"{1001 + actor}",
                                      "race": group, "sentence": sentence}))
            actor += 1
    frame = pd.concat(rows, ignore_index=True)
    frame.index = [f"clip{i}" for i in range(len(frame))]
    frame["correct"] = frame["y_true"] == frame["y_pred"]
    return frame
