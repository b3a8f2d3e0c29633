"""The clip table: one row per clip with its metadata, the crowd's votes and, for a run, what the model
said (prediction, the probability of every class, confidence, correct or not, the part). Filtering,
sorting and the CSV of what is shown are plain functions here, so every page's table behaves the same
and the CLI or a notebook can reproduce it.

The crowd columns are the corpus' own (``ser.data.corpus.read_votes``: ``<modality>_<EMO>`` counts,
``_responses``, ``_agreement``, ``_vote``); nothing here recomputes agreement."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..data.crowd import MODALITY_NAMES
from ..errors import ConfigError
from ..labels import EMOTIONS
from .bias import filter_frame as keep_values

METADATA = ["speaker", "sentence", "intensity", "sex", "age", "race", "ethnicity", "duration_s"]
PREDICTION = ["prediction", "correct", "confidence", "part"]
PROB = "prob_"
# Columns offered as value filters (a multiselect each) when present; extra columns of few values join them.
CATEGORICAL = ["emotion", "prediction", "part", "speaker", "sentence", "intensity", "sex", "race", "ethnicity",
               *(f"{m}_vote" for m in MODALITY_NAMES)]
GROUP_ORDER = ["prediction", "extra", "probabilities", "metadata", "crowd", "vote counts"]
MAX_CATEGORIES = 200  # an extra text column with more distinct values is searched, not picked from


def clip_frame(clips: pd.DataFrame, predictions: pd.DataFrame | None = None, part: str | None = None,
               extra: pd.DataFrame | None = None) -> pd.DataFrame:
    """The table's rows, indexed by ``clip_id``, without the audio path.

    Without ``predictions``: every clip of ``clips``. With a run's ``predictions`` (``clip_id, part, y_true,
    y_pred, prob_<EMO>...``): the clips of ``clips`` it predicted in ``part`` (None: every part; pass a subset
    of the corpus' clips to show only those), each with ``prediction``, ``correct``,
    ``confidence`` (the top probability), ``part`` and the probability of every class; ``emotion`` is what
    the run was scored against. ``extra`` (same index) adds columns after the prediction's, e.g. a cluster."""
    base = clips.drop(columns=["path"], errors="ignore")
    if predictions is None:
        frame = base.copy()
    else:
        predicted = _predicted(predictions, part)
        predicted = predicted[predicted.index.isin(base.index)]
        frame = predicted.join(base.drop(columns=["emotion"], errors="ignore"), how="left")
    if extra is not None:
        frame = frame.join(extra[[c for c in extra.columns if c not in frame.columns]], how="left")
    frame.index.name = "clip_id"
    return frame[_ordered_columns(frame, extra)]


def _predicted(predictions: pd.DataFrame, part: str | None) -> pd.DataFrame:
    rows = predictions if part is None else predictions[predictions["part"] == part]
    rows = rows.set_index("clip_id")
    probs = rows[[c for c in rows.columns if c.startswith(PROB)]].astype("float64")
    frame = pd.DataFrame({"emotion": rows["y_true"].astype(object), "prediction": rows["y_pred"].astype(object)},
                         index=rows.index)
    frame["correct"] = frame["emotion"] == frame["prediction"]
    frame["confidence"] = probs.max(axis=1) if probs.shape[1] else np.nan
    frame["part"] = rows["part"].astype(object)
    return frame.join(probs)


def _ordered_columns(frame: pd.DataFrame, extra: pd.DataFrame | None) -> list[str]:
    groups = column_groups(frame, extra)
    order = ["emotion"] + [c for name in GROUP_ORDER for c in groups.get(name, [])]
    return [c for c in order if c in frame.columns]


def column_groups(frame: pd.DataFrame, extra: pd.DataFrame | None = None) -> dict[str, list[str]]:
    """The table's columns by what they say (for a picker of what to show): ``prediction``,
    ``probabilities``, ``extra``, ``metadata``, ``crowd`` (vote, agreement, raters per modality) and ``vote
    counts``; empty groups are left out. ``emotion`` belongs to none: it is always shown."""
    columns = list(frame.columns)
    probabilities = [c for c in columns if c.startswith(PROB)]
    counts = [f"{m}_{e}" for m in MODALITY_NAMES for e in EMOTIONS if f"{m}_{e}" in columns]
    crowd = [f"{m}_{what}" for m in MODALITY_NAMES for what in ("vote", "agreement", "responses")
             if f"{m}_{what}" in columns]
    extra_columns = [c for c in (extra.columns if extra is not None else []) if c in columns]
    groups = {"prediction": [c for c in PREDICTION if c in columns], "probabilities": probabilities,
              "extra": extra_columns, "metadata": [c for c in METADATA if c in columns], "crowd": crowd,
              "vote counts": counts}
    known = {c for group in groups.values() for c in group} | {"emotion"}
    groups["metadata"] += [c for c in columns if c not in known]  # a manifest's own metadata columns
    return {name: groups[name] for name in GROUP_ORDER if groups[name]}


def categorical_columns(frame: pd.DataFrame, extra: list[str] | tuple = ()) -> list[str]:
    """Columns to filter by picking values: the known categorical ones present, any other text or
    categorical column, and the ``extra`` columns that are not fractions (e.g. a cluster number), each
    with at most ``MAX_CATEGORIES`` distinct values."""
    known = [c for c in CATEGORICAL if c in frame.columns]

    def few(column: str) -> bool:
        return frame[column].nunique() <= MAX_CATEGORIES

    def text(column: str) -> bool:
        dtype = frame[column].dtype
        return pd.api.types.is_string_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype)

    texts = [c for c in frame.columns if c not in known and text(c) and few(c)]
    extras = [c for c in extra if c in frame.columns and c not in known + texts
              and not pd.api.types.is_float_dtype(frame[c]) and few(c)]
    return known + texts + extras


def numeric_columns(frame: pd.DataFrame) -> list[str]:
    """Columns a range can narrow: confidence and the probabilities first, then the other numbers."""
    first = [c for c in ["confidence", *(c for c in frame.columns if c.startswith(PROB)),
                         *(f"{m}_agreement" for m in MODALITY_NAMES), "duration_s", "age"] if c in frame.columns]
    others = [c for c in frame.columns if c not in first and c != "correct"
              and pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])]
    return first + others


def category_options(values: pd.Series) -> list:
    """The distinct values of a column in a stable order: emotions in the fixed order, the rest sorted."""
    present = values.dropna().unique().tolist()
    ordered = [e for e in EMOTIONS if e in present]
    rest = sorted((v for v in present if v not in ordered), key=lambda v: (str(type(v)), v))
    return ordered + rest


@dataclass(frozen=True)
class TableView:
    """What a clip table shows: value filters (column -> chosen values; none chosen: all), correctness
    (True, False or None for both), a case-insensitive search in the clip id, numeric ranges (column ->
    (low, high), both inclusive; rows without a value drop out), and the order."""

    values: dict = field(default_factory=dict)
    correct: bool | None = None
    search: str = ""
    ranges: dict = field(default_factory=dict)
    sort_by: str | None = None
    descending: bool = False


def filter_clips(frame: pd.DataFrame, view: TableView) -> pd.DataFrame:
    """The rows the view's filters keep, in the frame's order (filters compose)."""
    chosen = keep_values(frame, {c: v for c, v in view.values.items() if v})
    if view.correct is not None:
        if "correct" not in chosen:
            raise ConfigError("cannot filter by correctness: these clips have no predictions.")
        chosen = chosen[chosen["correct"] == view.correct]
    text = view.search.strip().lower()
    if text:
        chosen = chosen[chosen.index.astype(str).str.lower().str.contains(text, regex=False)]
    for column, (low, high) in view.ranges.items():
        if column not in chosen:
            raise ConfigError(f"cannot narrow {column!r}: these clips have no such column.")
        chosen = chosen[chosen[column].between(low, high)]
    return chosen


def sort_clips(frame: pd.DataFrame, by: str | None, descending: bool = False) -> pd.DataFrame:
    """Rows ordered by a column (or the clip id: ``"clip_id"``); ties keep their order, missing values last.
    None keeps the frame's order."""
    if by is None:
        return frame
    if by == "clip_id":
        return frame.sort_index(ascending=not descending, kind="stable")
    if by not in frame:
        raise ConfigError(f"cannot sort by {by!r}: these clips have no such column.")
    return frame.sort_values(by, ascending=not descending, kind="stable", na_position="last")


def shown_clips(frame: pd.DataFrame, view: TableView) -> pd.DataFrame:
    """Filtered, then sorted: exactly the rows a table shows."""
    return sort_clips(filter_clips(frame, view), view.sort_by, view.descending)


def table_csv(shown: pd.DataFrame) -> str:
    """The CSV of what is shown: the clip id, then the shown columns in their order."""
    return shown.to_csv(index_label="clip_id")


def count_line(shown: int, total: int) -> str:
    return f"{shown:,} of {total:,} clips"
