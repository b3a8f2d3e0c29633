"""Write tiny CREMA-D-layout folders for tests: real file formats, few clips, short sine-like audio."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import soundfile as sf

DEMOGRAPHICS = {
    "1001": (51, "Male", "Caucasian", "Not Hispanic"),
    "1002": (21, "Female", "African American", "Hispanic"),
    "1003": (35, "Female", "Asian", "Not Hispanic"),
}
EMOTION_PITCH = {"ANG": 260.0, "DIS": 150.0, "FEA": 300.0, "HAP": 240.0, "NEU": 180.0, "SAD": 130.0}


def tone(emotion: str, seconds: float = 0.6, rate: int = 16000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    f0 = EMOTION_PITCH[emotion] * (1 + 0.05 * rng.standard_normal())
    signal = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6))
    return (0.2 * signal / np.abs(signal).max() + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def write_clip(path: Path, emotion: str, seed: int = 0, rate: int = 16000) -> None:
    sf.write(str(path), tone(emotion, seed=seed, rate=rate), rate, subtype="PCM_16")


def write_crema_folder(root: Path, actors=("1001", "1002"), sentences=("DFA", "IEO"),
                       with_metadata: bool = True) -> list[str]:
    """A folder like CREMA-D's: AudioWAV/, VideoDemographics.csv, SentenceFilenames.csv,
    processedResults/tabulatedVotes.csv. Returns the clip ids written."""
    audio = root / "AudioWAV"
    audio.mkdir(parents=True, exist_ok=True)
    names = []
    for actor in actors:
        for sentence in sentences:
            for emotion in EMOTION_PITCH:
                level = "HI" if sentence == "IEO" and emotion != "NEU" else "XX"
                names.append(f"{actor}_{sentence}_{emotion}_{level}")
    for i, name in enumerate(names):
        write_clip(audio / f"{name}.wav", name.split("_")[2], seed=i)
    if with_metadata:
        write_demographics(root / "VideoDemographics.csv", [a for a in actors if a in DEMOGRAPHICS])
        write_sentence_filenames(root / "SentenceFilenames.csv", names)
        write_votes(root / "processedResults" / "tabulatedVotes.csv", names)
    return names


def write_demographics(path: Path, actors) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_NONNUMERIC)
        writer.writerow(["ActorID", "Age", "Sex", "Race", "Ethnicity"])
        for actor in actors:
            writer.writerow([int(actor), *DEMOGRAPHICS[actor]])


def write_sentence_filenames(path: Path, names) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_NONNUMERIC)
        writer.writerow(["Stimulus_Number", "Filename"])
        for number, name in enumerate(names, start=1):
            writer.writerow([number, name])


VOTE_HEADER = ["", "A", "D", "F", "H", "N", "S", "fileName", "numResponses", "agreement", "emoVote"]


def vote_counts(name: str, modality: int) -> list[int]:
    """Deterministic counts: voice raters get the intended emotion for half the clips and NEU
    otherwise; face raters always get it."""
    letters = "ADFHNS"
    intended = "ADFHNS"[["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"].index(name.split("_")[2])]
    counts = [0] * 6
    if modality == 1 and name.split("_")[1] == "DFA":
        counts[letters.index("N")] += 6
        counts[letters.index(intended)] += 3 if intended != "N" else 0
    else:
        counts[letters.index(intended)] += 8
        counts[letters.index("N")] += 2 if intended != "N" else 0
    return counts


def write_votes(path: Path, names) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_NONNUMERIC)
        writer.writerow(VOTE_HEADER)
        for modality in (1, 2, 3):
            for number, name in enumerate(names, start=1):
                counts = vote_counts(name, modality)
                total = sum(counts)
                top = max(counts)
                vote = ":".join(letter for letter, c in zip("ADFHNS", counts) if c == top)
                writer.writerow([f"{modality}{number:05d}", *counts, name, total, top / total, vote])
