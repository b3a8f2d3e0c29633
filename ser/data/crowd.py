"""What the crowd heard: agreement per intended emotion and the voice-only plurality vote as a
human baseline. Works on the vote columns of the clips table (see corpus.read_votes)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..labels import EMOTIONS
from ..metrics import HEADLINE, TIE, classification_metrics, confusion_frame, label_set

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


def hit_rate_table(clips: pd.DataFrame) -> pd.DataFrame:
    """Mean *hit rate* (share of raters who chose the intended emotion) per intended emotion and
    modality: unlike agreement, it says whether the crowd heard what the actor meant."""
    columns = {}
    for modality in MODALITY_NAMES:
        counts = [f"{modality}_{e}" for e in EMOTIONS]
        if not set(counts) <= set(clips.columns):
            continue
        votes = clips[counts].to_numpy(dtype=float)
        total = votes.sum(axis=1)
        intended = clips["emotion"].map({e: i for i, e in enumerate(EMOTIONS)})
        known = intended.notna().to_numpy() & (total > 0)
        hits = np.full(len(clips), np.nan)
        rows = np.flatnonzero(known)
        hits[rows] = votes[rows, intended.to_numpy()[rows].astype(int)] / total[rows]
        columns[modality] = pd.Series(hits, index=clips.index).groupby(clips["emotion"]).mean()
    table = pd.DataFrame(columns)
    return table.loc[[e for e in EMOTIONS if e in table.index]] if len(table) else table


def plurality_vote(clips: pd.DataFrame, modality: str = "voice") -> pd.Series:
    """The emotion most raters chose for each clip in one modality; a tie names every tied emotion
    joined by "/" (``"ANG/NEU"``), which ``ser.metrics`` scores as an equal share for each, i.e. the
    expected score of a fair tie-break, with no seed. Clips without votes get no entry."""
    count_columns = [f"{modality}_{e}" for e in EMOTIONS]
    missing = [c for c in count_columns if c not in clips.columns]
    if missing:
        return pd.Series(dtype=object, name=f"{modality}_plurality")
    counts = clips[count_columns].dropna()
    counts = counts[counts.sum(axis=1) > 0]
    values = counts.to_numpy(dtype=float)
    winners = values == values.max(axis=1, keepdims=True)
    names = np.asarray(EMOTIONS, dtype=object)
    votes = [TIE.join(names[row]) for row in winners]
    return pd.Series(votes, index=counts.index, name=f"{modality}_plurality", dtype=object)


def tie_share(votes: pd.Series) -> float:
    """The share of clips whose plurality vote is a tie."""
    return float(votes.str.contains(TIE, regex=False).mean()) if len(votes) else 0.0


def crowd_scores(clips: pd.DataFrame, modality: str = "voice") -> dict | None:
    """The crowd's plurality vote scored against the intended emotion by the same code as a model
    (``ser.metrics``, over the corpus' label set), ties as fractional credit."""
    votes = plurality_vote(clips, modality)
    if votes.empty:
        return None
    truth = clips.loc[votes.index, "emotion"]
    metrics = classification_metrics(truth, votes, labels=label_set(clips["emotion"], votes))
    return {"modality": modality, "clips": int(len(votes)), "ties": tie_share(votes),
            **{name: metrics[name] for name in HEADLINE}, "labels": metrics["labels"],
            "confusion": confusion_frame(metrics)}
