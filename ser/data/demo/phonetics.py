"""Sentences as syllables (vowel, consonants, stress) and their timing in an utterance."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .clips import SAMPLE_RATE
from .emotion import Style

# F1, F2, F3 of an adult male (Peterson & Barney style); F4, F5 fixed.
VOWELS = {
    "iy": (270, 2290, 3010), "ih": (390, 1990, 2550), "ey": (480, 1900, 2500),
    "eh": (530, 1840, 2480), "ae": (660, 1720, 2410), "aa": (730, 1090, 2440),
    "ao": (570, 840, 2410), "ow": (500, 900, 2400), "uh": (440, 1020, 2240),
    "uw": (300, 870, 2240), "ah": (640, 1190, 2390), "er": (490, 1350, 1690),
}
HIGH_FORMANTS = (3400, 4300)
BANDWIDTHS = (60, 90, 120, 180, 250)
SPELLINGS = {
    "ee": "iy", "ea": "iy", "ie": "iy", "y": "iy", "ey": "ey", "ay": "ey", "ai": "ey",
    "ei": "ey", "oo": "uw", "ew": "uw", "ui": "uw", "ou": "ah", "oi": "ao", "au": "ao",
    "oa": "ow", "io": "ah", "a": "ae", "e": "eh", "i": "ih", "o": "aa", "u": "ah",
}
FUNCTION_WORDS = {"i", "a", "the", "to", "is", "it", "its", "of", "in", "on", "my", "be",
                  "we", "well", "will", "this", "that", "what", "im", "ive", "have", "would"}
UNSTRESSED_PREFIXES = ("ab", "ap", "ala", "e", "for", "be", "to")


@dataclass(frozen=True)
class Syllable:
    onset: str     # "", "stop", "s", "sh", "f", "h", "son"
    vowel: str
    coda: str
    stressed: bool
    word_end: bool


def consonant_kind(letters: str) -> str:
    """Rough manner class of a spelled consonant cluster."""
    if not letters:
        return ""
    if "sh" in letters or "ch" in letters:
        return "sh"
    if "th" in letters or "f" in letters or "v" in letters:
        return "f"
    if "s" in letters or "z" in letters:
        return "s"
    if re.search("[pbtdkgcqxj]", letters):
        return "stop"
    if letters.startswith("h"):
        return "h"
    return "son"


def word_syllables(word: str) -> list[Syllable]:
    """Syllables of one word from its spelling: vowel groups, minus a silent final e."""
    parts = re.split(r"([aeiou]+y?|(?<=[^aeiou])y)", word)
    groups, consonants = parts[1::2], parts[0::2]
    if len(groups) > 1 and groups[-1] == "e" and not consonants[-1] and not word.endswith("le"):
        consonants[-2:] = [consonants[-2] + "e"]
        groups = groups[:-1]
    if not groups:
        return []
    stress = 1 if len(groups) > 1 and word.startswith(UNSTRESSED_PREFIXES) else 0
    last = len(groups) - 1
    return [Syllable(onset=consonant_kind(consonants[i]),
                     vowel=SPELLINGS.get(g, SPELLINGS[g[0]]),
                     coda=consonant_kind(consonants[-1].rstrip("e")) if i == last else "",
                     stressed=i == stress and word not in FUNCTION_WORDS,
                     word_end=i == last)
            for i, g in enumerate(groups)]


@lru_cache(maxsize=None)
def sentence_syllables(text: str) -> tuple[Syllable, ...]:
    """One syllable per spelled vowel group of each word."""
    words = re.sub(r"[^a-z ]", "", text.lower()).split()
    return tuple(s for w in words for s in word_syllables(w))


# ----------------------------------------------------------------------------- timing

@dataclass
class Plan:
    """Sample positions of the utterance's parts."""

    n: int
    syllable_start: np.ndarray   # first sample belonging to each syllable's filter
    nucleus: np.ndarray          # (k, 2) vowel start, end
    murmur: list                 # (start, end) low-level voiced sonorants
    noises: list                 # (start, end, kind)
    stressed: np.ndarray
    vowels: list


CONSONANT_SECONDS = {"stop": 0.05, "s": 0.085, "sh": 0.09, "f": 0.065, "h": 0.055,
                     "son": 0.045, "": 0.0}


def _syllable_events(syl: Syllable, rng, last: bool, pause_p: float) -> list:
    """(kind, seconds) events of one syllable at unit rate."""
    events = []
    if syl.onset:
        events.append((syl.onset, CONSONANT_SECONDS[syl.onset] * rng.uniform(0.8, 1.2)))
    length = 0.15 * (1.35 if syl.stressed else 0.8) * rng.lognormal(0, 0.18)
    events.append(("vowel", length * (1.5 if last else 1.0)))
    if syl.coda:
        events.append((syl.coda, CONSONANT_SECONDS[syl.coda] * rng.uniform(0.7, 1.1)))
    if syl.word_end and not last and rng.random() < pause_p:
        events.append(("pause", rng.uniform(0.05, 0.18)))
    elif syl.word_end and not last:
        events.append(("pause", 0.015))
    return events


def utterance_plan(syllables, style: Style, rng: np.random.Generator) -> Plan:
    """Lay the syllables out in time: lead silence, consonants, vowels, pauses, trail."""
    pause_p = 0.1 + 0.15 * max(0.0, 1 - style.rate)
    events = [_syllable_events(s, rng, i == len(syllables) - 1, pause_p)
              for i, s in enumerate(syllables)]
    speech = sum(d for ev in events for _, d in ev) / style.rate
    lead, trail = rng.uniform(0.15, 0.45), rng.uniform(0.2, 0.55)
    stretch = np.clip(speech, 1.6 - lead - trail, 3.4 - lead - trail) / speech / style.rate
    n = int(round((lead + speech * style.rate * stretch + trail) * SAMPLE_RATE))
    t = int(lead * SAMPLE_RATE)
    starts, nuclei, murmur, noises = [], [], [], []
    for ev in events:
        starts.append(t)
        for kind, seconds in ev:
            length = int(seconds * stretch * SAMPLE_RATE)
            if kind == "vowel":
                nuclei.append((t, t + length))
            elif kind == "son":
                murmur.append((t, t + length))
            elif kind != "pause":
                noises.append((t, t + length, kind))
            t += length
    starts[0] = 0
    return Plan(n=n, syllable_start=np.array(starts), nucleus=np.array(nuclei), murmur=murmur,
                noises=noises, stressed=np.array([s.stressed for s in syllables]),
                vowels=[s.vowel for s in syllables])
