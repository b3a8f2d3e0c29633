"""The label vocabularies of CREMA-D, the letter codes of other corpora, and the fixed emotion order used everywhere."""

from __future__ import annotations

from .errors import ConfigError

EMOTIONS: tuple[str, ...] = ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")

EMOTION_NAMES = {
    "ANG": "anger",
    "DIS": "disgust",
    "FEA": "fear",
    "HAP": "happy",
    "NEU": "neutral",
    "SAD": "sad",
}

# Letters used by CREMA-D's crowd-vote files (tabulatedVotes.csv, summaryTable.csv).
VOTE_LETTERS = {"A": "ANG", "D": "DIS", "F": "FEA", "H": "HAP", "N": "NEU", "S": "SAD"}

# The 12 sentences of CREMA-D, by the code used in file names.
SENTENCES = {
    "IEO": "It's eleven o'clock",
    "TIE": "That is exactly what happened",
    "IOM": "I'm on my way to the meeting",
    "IWW": "I wonder what this is about",
    "TAI": "The airplane is almost full",
    "MTI": "Maybe tomorrow it will be cold",
    "IWL": "I would like a new alarm clock",
    "ITH": "I think I have a doctor's appointment",
    "DFA": "Don't forget a jacket",
    "ITS": "I think I've seen this before",
    "TSI": "The surface is slick",
    "WSI": "We'll stop in a couple of minutes",
}

# Intensity codes in file names; XX means the level was not specified.
INTENSITIES = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}

# Emotion words other corpora use, mapped into the fixed codes (extra codes are allowed). No single
# letters: they mean different emotions in different corpora (see LETTER_SCHEMES).
EMOTION_ALIASES = {
    "ang": "ANG", "anger": "ANG", "angry": "ANG",
    "dis": "DIS", "disgust": "DIS", "disgusted": "DIS",
    "fea": "FEA", "fear": "FEA", "fearful": "FEA", "afraid": "FEA", "anxiety": "FEA",
    "hap": "HAP", "happy": "HAP", "happiness": "HAP", "joy": "HAP",
    "neu": "NEU", "neutral": "NEU",
    "sad": "SAD", "sadness": "SAD",
    "bor": "BOR", "boredom": "BOR", "bored": "BOR",
    "cal": "CAL", "calm": "CAL",
    "sur": "SUR", "surprise": "SUR", "surprised": "SUR",
}

# Letter codes that a manifest may use only by naming their scheme: a column ``<scheme>_letter`` in place
# of ``emotion``. EmoDB's letters are German words: W Wut (anger), L Langeweile (boredom), E Ekel
# (disgust), A Angst (fear), F Freude (happiness), T Trauer (sadness), N neutral; so its A and F are
# not CREMA-D's A (anger) and F (fear).
LETTER_SCHEMES = {
    "emodb": {"W": "ANG", "L": "BOR", "E": "DIS", "A": "FEA", "F": "HAP", "T": "SAD", "N": "NEU"},
}


def emotion_code(label: str) -> str | None:
    """Map an emotion label (code or word, any case) to a code; None for an empty label.

    Unknown words become their upper-cased form, so a corpus may add its own classes. A single letter
    is refused (ConfigError): which emotion it means depends on the corpus (see LETTER_SCHEMES)."""
    text = str(label).strip()
    if not text or text.lower() == "nan":
        return None
    if len(text) == 1:
        raise ConfigError(f"emotion label {text!r} is a single letter, which means different emotions in different "
                          "corpora; write the emotion as a word or code (anger, ANG)", title="Ambiguous emotion letter")
    return EMOTION_ALIASES.get(text.lower(), text.upper())


def single_letters(labels) -> list[str]:
    """The distinct single-letter labels among ``labels``, sorted."""
    return sorted({text for text in (str(label).strip() for label in labels) if len(text) == 1})


def letter_code(scheme: str, letter) -> str | None:
    """The code of ``letter`` in a letter scheme (e.g. EmoDB's "A" -> "FEA"); None for an empty or unknown letter."""
    text = str(letter).strip().upper()
    return LETTER_SCHEMES[scheme].get(text)


def emotion_order(codes) -> list[str]:
    """The fixed order ANG DIS FEA HAP NEU SAD first, then any extra codes alphabetically."""
    present = set(codes)
    return [e for e in EMOTIONS if e in present] + sorted(present - set(EMOTIONS))
