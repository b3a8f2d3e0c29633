"""Summaries of a loaded corpus for the overview page and ``python -m ser corpus``."""

from __future__ import annotations

import pandas as pd

from .corpus import Corpus, age_band
from .crowd import agreement_table, crowd_scores, has_votes
from ..labels import emotion_order


def corpus_summary(corpus: Corpus) -> dict:
    """The keys DESIGN.md promises for ``corpus --json``."""
    clips = corpus.clips
    emotions = clips["emotion"].value_counts()
    summary = {
        "corpus": corpus.name,
        "source": str(corpus.source),
        "kind": corpus.kind,
        "synthetic": corpus.synthetic,
        "clips": int(len(clips)),
        "speakers": int(clips["speaker"].nunique()),
        "emotions": {code: int(emotions[code]) for code in emotion_order(emotions.index)},
        "hours": round(float(clips["duration_s"].sum()) / 3600, 3),
        "problems": [p.as_dict() for p in corpus.problems],
    }
    if has_votes(clips):
        table = agreement_table(clips)
        summary["agreement"] = {column: {code: round(float(v), 4) for code, v in table[column].items()}
                                for column in table.columns if column != "clips"}
        scores = crowd_scores(clips, "voice")
        summary["crowd_voice"] = {k: scores[k] for k in ("clips", "accuracy", "macro_f1", "uar", "ties")}
    return summary


def distribution(clips: pd.DataFrame, column: str) -> pd.DataFrame:
    """Clip counts by one metadata column, with emotion as the second key when present."""
    if column == "emotion":
        return clips.groupby("emotion").size().rename("clips").reset_index()
    values = age_band(clips["age"]) if column == "age band" else clips[column]
    frame = pd.DataFrame({column: values.astype(object).where(values.notna(), "unknown").astype(str),
                          "emotion": clips["emotion"]})
    return frame.groupby([column, "emotion"]).size().rename("clips").reset_index()
