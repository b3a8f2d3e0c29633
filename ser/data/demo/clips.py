"""Which recordings the demo corpus holds: CREMA-D's 82 clips per actor, and the seeded random streams."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...labels import EMOTIONS, INTENSITIES, SENTENCES

SAMPLE_RATE = 16000
LEVELS = tuple(level for level in INTENSITIES if level != "XX")  # LO MD HI

# Seed-sequence tags keep the random streams of different purposes apart.
TAG_CLIP, TAG_ACTOR, TAG_PEOPLE, TAG_VOTES = 1, 2, 3, 4


@dataclass(frozen=True)
class Clip:
    """One recording: actor id, sentence code, emotion code and intensity level."""

    actor: int
    sentence: str
    emotion: str
    level: str

    @property
    def name(self) -> str:
        return f"{self.actor}_{self.sentence}_{self.emotion}_{self.level}"

    @property
    def key(self) -> tuple[int, int, int, int]:
        """Integers identifying the clip, independent of processing order."""
        return (self.actor, list(SENTENCES).index(self.sentence),
                EMOTIONS.index(self.emotion), list(INTENSITIES).index(self.level))


def actor_clips(actor: int) -> list[Clip]:
    """CREMA-D's 82 clips of one actor: IEO at three levels (NEU unleveled), the rest at XX."""
    clips = [Clip(actor, "IEO", "NEU", "XX")]
    clips += [Clip(actor, "IEO", e, lv) for e in EMOTIONS if e != "NEU" for lv in LEVELS]
    clips += [Clip(actor, s, e, "XX") for s in SENTENCES if s != "IEO" for e in EMOTIONS]
    return clips


def corpus_clips(actors: int) -> list[Clip]:
    """All clips in stimulus-number order (actor by actor)."""
    return [clip for actor in actor_ids(actors) for clip in actor_clips(actor)]


def actor_ids(actors: int) -> list[int]:
    return list(range(1001, 1001 + actors))


def rng_for(tag: int, *values: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([tag, *map(int, values)]))
