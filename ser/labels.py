"""The label vocabularies of CREMA-D and the fixed emotion order used everywhere."""

from __future__ import annotations

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

# Emotion words other corpora use, mapped into the fixed codes (extra codes are allowed).
EMOTION_ALIASES = {
    "ang": "ANG", "anger": "ANG", "angry": "ANG", "a": "ANG",
    "dis": "DIS", "disgust": "DIS", "disgusted": "DIS", "d": "DIS",
    "fea": "FEA", "fear": "FEA", "fearful": "FEA", "afraid": "FEA", "anxiety": "FEA", "f": "FEA",
    "hap": "HAP", "happy": "HAP", "happiness": "HAP", "joy": "HAP", "h": "HAP",
    "neu": "NEU", "neutral": "NEU", "n": "NEU",
    "sad": "SAD", "sadness": "SAD", "s": "SAD",
    "bor": "BOR", "boredom": "BOR", "bored": "BOR",
    "cal": "CAL", "calm": "CAL",
    "sur": "SUR", "surprise": "SUR", "surprised": "SUR",
}


def emotion_code(label: str) -> str | None:
    """Map an emotion label (code or word, any case) to a code; None for an empty label.

    Unknown words become their upper-cased form, so a corpus may add its own classes."""
    text = str(label).strip()
    if not text or text.lower() == "nan":
        return None
    return EMOTION_ALIASES.get(text.lower(), text.upper())


def emotion_order(codes) -> list[str]:
    """The fixed order ANG DIS FEA HAP NEU SAD first, then any extra codes alphabetically."""
    present = set(codes)
    return [e for e in EMOTIONS if e in present] + sorted(present - set(EMOTIONS))
