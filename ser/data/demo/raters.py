"""Simulated crowd raters: votes per clip and modality, as CREMA-D's tabulatedVotes.csv holds them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..cremad import MODALITIES
from ...labels import VOTE_LETTERS
from .actors import Voice
from .clips import TAG_VOTES, Clip, rng_for
from .emotion import LEVEL_SCALE

LETTERS = tuple(sorted(VOTE_LETTERS))  # A D F H N S

# Accuracy of simulated raters per modality (logit of a typical emotional clip) and the
# per-emotion ease (logit offset) in each modality: face > audio-visual > voice.
MODALITY_LOGIT = {1: -0.5, 2: 0.3, 3: 0.1}
EMOTION_EASE = {
    1: {"ANG": 0.6, "DIS": -0.2, "FEA": -0.5, "HAP": -0.6, "NEU": 1.1, "SAD": 0.2},
    2: {"ANG": 0.3, "DIS": 0.2, "FEA": -0.4, "HAP": 1.2, "NEU": 0.6, "SAD": 0.0},
    3: {"ANG": 0.5, "DIS": 0.1, "FEA": -0.3, "HAP": 1.0, "NEU": 0.7, "SAD": 0.2},
}
# Who a wrong rater picks instead (NEU gets extra weight for every emotion: raters lean to it).
CONFUSIONS = {
    "NEU": {"SAD": 3.0, "HAP": 1.0, "DIS": 1.0, "ANG": 0.5, "FEA": 0.5},
    "SAD": {"NEU": 4.0, "FEA": 1.5, "DIS": 1.0, "ANG": 0.2, "HAP": 0.2},
    "ANG": {"DIS": 3.0, "NEU": 2.0, "HAP": 0.5, "FEA": 0.5, "SAD": 0.2},
    "DIS": {"NEU": 3.0, "ANG": 2.0, "SAD": 1.0, "FEA": 0.3, "HAP": 0.2},
    "FEA": {"SAD": 2.5, "NEU": 2.0, "ANG": 0.5, "DIS": 0.5, "HAP": 0.3},
    "HAP": {"NEU": 3.0, "ANG": 0.5, "FEA": 0.5, "DIS": 0.3, "SAD": 0.2},
}
RESPONSE_COUNTS = (8, 9, 10, 11, 12)
RESPONSE_WEIGHTS = (0.1, 0.25, 0.35, 0.2, 0.1)


def vote_probabilities(clip: Clip, modality: int, expressiveness: float,
                       rng: np.random.Generator) -> np.ndarray:
    """Probability of each letter A..S for one rater of this clip in this modality."""
    z = (MODALITY_LOGIT[modality] + EMOTION_EASE[modality][clip.emotion]
         + 1.2 * (LEVEL_SCALE[clip.level] - 1) + 0.8 * (expressiveness - 1) + rng.normal(0, 0.6))
    correct = 1 / (1 + np.exp(-z))
    wrong = dict(CONFUSIONS[clip.emotion])
    total = sum(wrong.values())
    probs = np.array([correct if VOTE_LETTERS[x] == clip.emotion
                      else (1 - correct) * wrong[VOTE_LETTERS[x]] / total for x in LETTERS])
    return probs / probs.sum()


@dataclass(frozen=True)
class Votes:
    """The simulated responses to one clip in one modality."""

    letters: np.ndarray   # index into LETTERS per response
    ratings: np.ndarray   # 0-100 intensity per response
    normed: np.ndarray    # rater-normalised intensity per response

    @property
    def counts(self) -> np.ndarray:
        return np.bincount(self.letters, minlength=len(LETTERS))

    @property
    def winners(self) -> list[str]:
        counts = self.counts
        return [x for x, c in zip(LETTERS, counts) if c == counts.max()]


def crowd_votes(clip: Clip, modality: int, expressiveness: float,
                rng: np.random.Generator) -> Votes:
    """Simulate 8-12 raters choosing an emotion and rating its intensity."""
    n = int(rng.choice(RESPONSE_COUNTS, p=RESPONSE_WEIGHTS))
    letters = rng.choice(len(LETTERS), size=n, p=vote_probabilities(clip, modality,
                                                                   expressiveness, rng))
    picked = np.array([VOTE_LETTERS[LETTERS[i]] for i in letters])
    true = picked == clip.emotion
    mean = np.where(true, 55 + 22 * (LEVEL_SCALE[clip.level] - 1) + 8 * (modality == 2), 38.0)
    mean = np.where(picked == "NEU", 66.0 + 4 * (clip.emotion == "NEU"), mean) + rng.normal(0, 5)
    ratings = np.clip(np.round(rng.normal(mean, 15)), 0, 100)
    normed = np.clip(ratings * rng.normal(1, 0.1, n) + rng.normal(-1, 6, n), 0, 100)
    return Votes(letters=letters, ratings=ratings, normed=normed)


def clip_votes(clip: Clip, voice: Voice, seed: int) -> dict[int, Votes]:
    """Votes in the three modalities, from the clip's own random stream."""
    rng = rng_for(TAG_VOTES, seed, *clip.key)
    return {m: crowd_votes(clip, m, voice.expressiveness, rng) for m in MODALITIES}
