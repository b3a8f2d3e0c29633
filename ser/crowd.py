"""What the crowd heard: agreement per intended emotion and the voice-only plurality vote as a
human baseline. Works on the vote columns of the clips table (see corpus.read_votes)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .labels import EMOTIONS

MODALITY_NAMES = {"voice": "voice only", "face": "face only", "av": "audio-visual"}


def has_votes(clips: pd.DataFrame, modality: str = "voice") -> bool:
    return f"{modality}_agreement" in clips.columns and clips[f"{modality}_agreement"].notna().any()


def agreement_table(clips: pd.DataFrame) -> pd.DataFrame:
    """Mean ``agreement`` (share of raters who chose the plurality emotion) per intended emotion,
    per modality and pooled over the three modalities (the pooled column is the report's table)."""
    columns = {}
    for modality in MODALITY_NAMES:
        if f"{modality}_agreement" in clips.columns:
            columns[modality] = clips.groupby("emotion")[f"{modality}_agreement"].mean()
    if not columns:
        return pd.DataFrame()
    table = pd.DataFrame(columns)
    stacked = pd.concat([clips[["emotion"]].assign(agreement=clips[f"{m}_agreement"]) for m in columns])
    table["pooled"] = stacked.groupby("emotion")["agreement"].mean()
    table["clips"] = clips.groupby("emotion").size()
    order = [e for e in EMOTIONS if e in table.index] + sorted(set(table.index) - set(EMOTIONS))
    return table.loc[order]


def plurality_vote(clips: pd.DataFrame, modality: str = "voice", seed: int = 0) -> pd.Series:
    """The emotion most raters chose for each clip in one modality. Ties are broken uniformly at
    random with a fixed seed, so the baseline neither favours nor penalises the intended emotion.
    Clips without votes get no entry."""
    count_columns = [f"{modality}_{e}" for e in EMOTIONS]
    missing = [c for c in count_columns if c not in clips.columns]
    if missing:
        return pd.Series(dtype=object, name=f"{modality}_plurality")
    counts = clips[count_columns].dropna()
    counts = counts[counts.sum(axis=1) > 0]
    values = counts.to_numpy(dtype=float)
    rng = np.random.default_rng(seed)
    jitter = rng.random(values.shape) * 0.5  # below 1: never changes an order between unequal counts
    winners = np.argmax(values + jitter, axis=1)
    return pd.Series(np.asarray(EMOTIONS)[winners], index=counts.index, name=f"{modality}_plurality")


def crowd_scores(clips: pd.DataFrame, modality: str = "voice", seed: int = 0) -> dict | None:
    """The crowd's plurality vote scored against the intended emotion, like a model would be."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, recall_score

    votes = plurality_vote(clips, modality, seed)
    if votes.empty:
        return None
    truth = clips.loc[votes.index, "emotion"]
    labels = [e for e in EMOTIONS if e in set(truth) | set(votes)]
    matrix = confusion_matrix(truth, votes, labels=labels)
    return {
        "modality": modality,
        "clips": int(len(votes)),
        "accuracy": float(accuracy_score(truth, votes)),
        "macro_f1": float(f1_score(truth, votes, labels=labels, average="macro", zero_division=0)),
        "uar": float(recall_score(truth, votes, labels=labels, average="macro", zero_division=0)),
        "labels": labels,
        "confusion": pd.DataFrame(matrix, index=labels, columns=labels),
    }
