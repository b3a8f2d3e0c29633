"""A deterministic synthetic corpus laid out exactly like CREMA-D, for demos and tests.

The audio is voiced, speech-like sound (glottal pulses through moving formant resonators,
one vowel per syllable of the sentence) whose pitch, loudness, rate and voice quality are
shaped by the clip's emotion, intensity and actor, with per-clip variation large enough that
the classes overlap. The crowd votes are simulated raters. Nothing measured on this corpus
says anything about real emotional speech.

The package, one idea a module:

- ``clips``: which recordings exist (CREMA-D's 82 per actor) and the seeded random streams;
- ``actors``: invented demographics and each actor's voice;
- ``emotion``: how emotion and intensity shape a clip's speaking style;
- ``phonetics``: sentences as syllables and their timing;
- ``sound``: the formant synthesiser;
- ``raters``: simulated crowd votes;
- ``metadata``: the CSV files in CREMA-D's format;
- ``folder``: the marker and README, and the folder safety rules (never overwrite other data);
- ``generate``: the driver, writing clips in parallel.
"""

from .folder import DEMO_NOTE, MARKER, MARKER_NOTE, is_demo_corpus
from .generate import generate_demo_corpus

__all__ = ["DEMO_NOTE", "MARKER", "MARKER_NOTE", "generate_demo_corpus", "is_demo_corpus"]
