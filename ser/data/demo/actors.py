"""Invented actors: demographics like CREMA-D's and a voice for each."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .clips import TAG_ACTOR, TAG_PEOPLE, actor_ids, rng_for

RACES = ("African American", "Asian", "Caucasian", "Unknown")
ETHNICITIES = ("Hispanic", "Not Hispanic")
SEXES = ("Male", "Female")


@dataclass(frozen=True)
class Person:
    """A row of VideoDemographics.csv."""

    actor: int
    age: int
    sex: str
    race: str
    ethnicity: str


@dataclass(frozen=True)
class Voice:
    """An actor's habitual voice: pitch, vocal-tract length, rate, loudness and quality."""

    actor: int
    f0: float             # Hz
    vtl: float            # formant scale (shorter tract -> higher formants)
    rate: float           # speaking-rate factor
    loudness: float       # dB relative to an average actor
    tension: float        # pressed (+) .. lax (-) phonation
    breathiness: float    # aspiration level
    jitter: float         # relative period perturbation
    shimmer: float        # relative amplitude perturbation
    creak: float          # habitual vocal fry at phrase ends
    expressiveness: float  # how strongly the actor portrays emotion


def _shares_to_counts(n: int, shares: dict[str, float]) -> dict[str, int]:
    """Largest-remainder rounding of shares to whole counts summing to n."""
    raw = {k: n * v / sum(shares.values()) for k, v in shares.items()}
    counts = {k: int(v) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: counts[k] - raw[k])[: n - sum(counts.values())]:
        counts[k] += 1
    return counts


def _ensure_each(counts: dict[str, int]) -> dict[str, int]:
    """Move one from the largest category to every empty one."""
    for k in counts:
        if counts[k] == 0:
            counts[max(counts, key=counts.get)] -= 1
            counts[k] = 1
    return counts


def demographics(actors: int, seed: int) -> list[Person]:
    """Balanced sexes, ages 20-74, races and ethnicities in roughly CREMA-D's proportions."""
    rng = rng_for(TAG_PEOPLE, seed, actors)
    full = actors >= 24
    sexes = [SEXES[i % 2] for i in range(actors)]
    race_counts = _shares_to_counts(actors, {"Caucasian": 0.66, "African American": 0.25,
                                             "Asian": 0.07, "Unknown": 0.02})
    if full:
        race_counts = _ensure_each(race_counts)
    races = [r for r, c in race_counts.items() for _ in range(c)]
    hispanic = max(int(full), round(actors / 9))
    ethnic = ["Hispanic"] * hispanic + ["Not Hispanic"] * (actors - hispanic)
    ages = np.clip(20 + np.floor(rng.beta(1.3, 2.0, actors) * 55), 20, 74).astype(int)
    sexes, races, ethnic = (list(rng.permutation(v)) for v in (sexes, races, ethnic))
    return [Person(a, int(age), str(s), str(r), str(e))
            for a, age, s, r, e in zip(actor_ids(actors), ages, sexes, races, ethnic)]


def actor_voice(person: Person, seed: int) -> Voice:
    """Draw the actor's voice; depends only on (seed, actor id) and the actor's sex and age."""
    rng = rng_for(TAG_ACTOR, seed, person.actor)
    male = person.sex == "Male"
    old = max(0.0, (person.age - 45) / 30)
    f0 = rng.normal(120, 10) if male else rng.normal(210, 16) - 15 * old
    return Voice(
        actor=person.actor,
        f0=float(np.clip(f0, 85 if male else 160, 150 if male else 260)),
        vtl=float((1.0 if male else 1.16) * np.exp(rng.normal(0, 0.04))),
        rate=float(np.exp(rng.normal(0, 0.08))),
        loudness=float(rng.normal(0, 2.0)),
        tension=float(rng.normal(0, 0.3)),
        breathiness=float(np.clip(rng.normal(0.10 if male else 0.16, 0.04), 0.02, 0.3)),
        jitter=float(np.clip(rng.normal(0.008, 0.002) * (1 + old), 0.003, 0.02)),
        shimmer=float(np.clip(rng.normal(0.04, 0.01), 0.015, 0.08)),
        creak=float(np.clip(rng.normal(0.25 if male else 0.12, 0.1), 0, 0.6)),
        expressiveness=float(np.clip(rng.normal(1.0, 0.25), 0.4, 1.6)),
    )
