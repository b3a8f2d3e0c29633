"""The clip table, one component for every page: a sortable, filterable table of clips with their
metadata, the crowd's votes and, for a run, its predictions (``ser.analysis.clip_table`` builds, filters
and sorts it). A selected row plays the clip and shows its waveform and mel spectrogram; the CSV holds
exactly the rows and columns shown. Its settings survive page switches and stand in the URL, each
prefixed with the table's ``key``; a selection made on another page (``ui.selection``) narrows it."""

from __future__ import annotations

import re

import pandas as pd
import streamlit as st

from ser.analysis.clip_table import (PROB, TableView, categorical_columns, category_options, clip_frame,
                                     column_groups, count_line, numeric_columns, shown_clips, table_csv)
from ser.labels import EMOTIONS
from ser.runs import Run
from ui.audio_view import clip_view
from ui.page_state import STORE, URL, kept
from ui.selection import selection_filter

CORRECTNESS = ["all", "correct", "wrong"]
NO_RANGE = "(no range)"
HIDDEN_AT_FIRST = {"vote counts"}  # groups shown only when asked for: 18 count columns would crowd the table


@st.cache_data(show_spinner="Reading the run's predictions…", max_entries=8)
def run_predictions(run_id: str, path: str, version: int) -> pd.DataFrame:
    """A run's predictions, read once per version of its predictions file."""
    from ser.runs import load_run

    return load_run(run_id).predictions()


def predictions_of(run: Run) -> pd.DataFrame:
    path = run.predictions_path
    version = path.stat().st_mtime_ns if path.exists() else 0
    return run_predictions(run.run_id, str(path), version)


def clip_table(clips: pd.DataFrame, key: str, run: Run | None = None, part: str | None = None,
               extra: pd.DataFrame | None = None, exclude_selection: str | None = None,
               pick_selection: bool = True) -> pd.DataFrame:
    """Draw the clip table and return what it shows (filtered, sorted, the shown columns).

    ``clips``: rows of the corpus' clips table (index ``clip_id``, with ``path`` for the player).
    ``run``: add its predictions of ``part`` (None: every part); its clips are the rows then.
    ``extra``: more columns with the same index (e.g. a cluster), shown after the prediction's and
    offered as filters. ``pick_selection``: offer the selections made on other pages as a filter ("Only the
    clips of"), except those of the page ``exclude_selection`` (its own); False where the page filters by
    them already."""
    frame = clip_frame(clips, None if run is None else predictions_of(run), part, extra)
    total = len(frame)
    index, selection = (selection_filter(f"{key}_selection", frame.index, exclude=exclude_selection)
                        if pick_selection else (frame.index, None))
    if selection is not None:
        frame = frame.loc[index]
    view, columns = _controls(frame, key, [] if extra is None else list(extra.columns))
    shown = shown_clips(frame, view)[columns]
    filters = active_filters(view)
    st.caption(f"**{count_line(len(shown), total)}**" + (f" · {selection.label}" if selection is not None else "")
               + (f" · {filters}" if filters else "") + " · select a row to hear the clip and see its spectrogram")
    _follow_selection(f"{key}_table", shown.index)
    event = st.dataframe(shown, key=f"{key}_table", on_select="rerun", selection_mode="single-row",
                         column_config=column_config(shown), height=420)
    st.download_button("Download what is shown (CSV)", data=lambda: table_csv(shown), on_click="ignore",
                       file_name=f"{key}_clips.csv", mime="text/csv", key=f"{key}_csv",
                       icon=":material/download:")
    rows = event.selection.rows if event is not None else []
    if rows and rows[0] < len(shown):
        selected_clip(clips, shown.index[rows[0]], shown.iloc[rows[0]], key)
    return shown


def _follow_selection(table_key: str, index: pd.Index) -> None:
    """A selected row is a position in what was shown: when filters or the order change, move it to where
    its clip now stands, or drop it when the clip is no longer shown (else another clip would play)."""
    seen_key = f"{table_key}_rows_shown"
    before = st.session_state.get(seen_key)
    st.session_state[seen_key] = index
    state = st.session_state.get(table_key)
    rows = list(state["selection"]["rows"]) if state is not None else []
    if before is None or not rows or before.equals(index):
        return
    clip_id = before[rows[0]] if rows[0] < len(before) else None
    where = index.get_indexer([clip_id]) if clip_id is not None else [-1]
    moved = [int(where[0])] if where[0] >= 0 else []
    st.session_state[table_key] = {"selection": {"rows": moved, "columns": [], "cells": []}}


def selected_clip(clips: pd.DataFrame, clip_id: str, row: pd.Series, key: str) -> None:
    """The selected row: a line about it, its player, waveform and mel spectrogram."""
    facts = [f"**{clip_id}**", f"emotion {row.get('emotion')}"]
    if "prediction" in row.index:
        verdict = "correct" if row.get("correct") else "wrong"
        facts.append(f"predicted {row['prediction']} ({verdict}, confidence {row.get('confidence', float('nan')):.2f})")
    st.markdown(" · ".join(facts))
    path = clips["path"].get(clip_id) if "path" in clips else None
    if path is None or pd.isna(path):
        st.info(f"The audio file of {clip_id} is not known: this corpus no longer lists the clip.")
        return
    clip_view(path, key=f"{key}_clip")


def _controls(frame: pd.DataFrame, key: str, extra: list[str]) -> tuple[TableView, list[str]]:
    """Draw the table's controls; return the view they define and the columns to show."""
    groups = column_groups(frame, pd.DataFrame(columns=extra) if extra else None)
    names = list(groups)
    top = st.columns([3, 2, 3, 1] if "correct" in frame else [3, 3, 1])
    search = top[0].text_input("Clip id contains", key=kept(f"{key}_search"), bind=URL,
                               placeholder="e.g. 1001_DFA or _ANG_")
    correct = None
    if "correct" in frame:
        answer = top[1].segmented_control("Prediction", CORRECTNESS, default="all", required=True,
                                          key=kept(f"{key}_correct", CORRECTNESS), bind=URL)
        correct = {"correct": True, "wrong": False}.get(answer)
    sort_options = ["clip_id", *frame.columns]
    sort_by = top[-2].selectbox("Sort by", sort_options, key=kept(f"{key}_sort", sort_options), bind=URL,
                                format_func=label)
    descending = top[-1].toggle("Descending", key=kept(f"{key}_descending"), bind=URL)
    shown_groups = st.pills("Columns", names, selection_mode="multi",
                            default=[n for n in names if n not in HIDDEN_AT_FIRST],
                            key=kept(f"{key}_columns", names), bind=URL)
    values, ranges = _filters(frame, key, extra)
    view = TableView(values=values, correct=correct, search=search or "", ranges=ranges,
                     sort_by=None if sort_by == "clip_id" and not descending else sort_by, descending=descending)
    columns = ["emotion"] + [c for name in names if name in (shown_groups or []) for c in groups[name]]
    return view, columns


def _filters(frame: pd.DataFrame, key: str, extra: list[str]) -> tuple[dict, dict]:
    categorical = categorical_columns(frame, extra)
    numeric = [NO_RANGE] + numeric_columns(frame)
    values, ranges = {}, {}
    with st.expander("Filters: by value, by a range", expanded=False):
        slots = st.columns(4)
        for i, column in enumerate(categorical):
            options = category_options(frame[column])
            values[column] = slots[i % 4].multiselect(label(column), options, key=kept(f"{key}_is_{column}", options),
                                                      bind=URL, placeholder="all")
        left, right = st.columns([1, 3])
        range_of = left.selectbox("Range of", numeric, key=kept(f"{key}_range_of", numeric), bind=URL,
                                  format_func=lambda c: c if c == NO_RANGE else label(c))
        if range_of != NO_RANGE:
            known = frame[range_of].dropna()
            low, high = (float(known.min()), float(known.max())) if len(known) else (0.0, 0.0)
            if high == low:
                right.caption(f"Every shown clip has the same {label(range_of)}, or none." if len(known)
                              else f"No clip has a {label(range_of)}.")
            else:
                _within(f"{key}_range_{range_of}", low, high)
                chosen = right.slider(label(range_of), low, high, (low, high), key=kept(f"{key}_range_{range_of}"),
                                      bind=URL)
                if tuple(chosen) != (low, high):
                    ranges[range_of] = tuple(chosen)
    return values, ranges


def _within(key: str, low: float, high: float) -> None:
    """Clamp a kept range into the column's bounds (the data may have changed since it was chosen)."""
    kept_range = st.session_state.get(STORE, {}).get(key, st.session_state.get(key))
    if isinstance(kept_range, (list, tuple)) and len(kept_range) == 2:
        clamped = (min(max(float(kept_range[0]), low), high), max(min(float(kept_range[1]), high), low))
        if tuple(kept_range) != clamped:
            st.session_state[key] = clamped
            st.session_state.setdefault(STORE, {})[key] = clamped


def active_filters(view: TableView) -> str:
    """The filters in force, in words (each with its values), for the line above the table."""
    parts = [f"{label(c)}: {', '.join(_literal(x) for x in v)}" for c, v in view.values.items() if v]
    if view.correct is not None:
        parts.append("correct only" if view.correct else "wrong only")
    if view.search.strip():
        parts.append(f"clip id contains “{_literal(view.search.strip())}”")
    parts += [f"{label(c)} {lo:.2f}–{hi:.2f}" for c, (lo, hi) in view.ranges.items()]
    return "; ".join(parts)


def _literal(text) -> str:
    """Text the user typed or picked, shown as written in Markdown ("_ANG_" is not italics)."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|~<>$])", r"\\\1", str(text))


def label(column: str) -> str:
    """A column's header: P(ANG) for a probability, words for the rest."""
    if column.startswith(PROB):
        return f"P({column[len(PROB):]})"
    words = {"duration_s": "duration (s)", "clip_id": "clip id"}
    if column in words:
        return words[column]
    modality, _, what = column.partition("_")
    if modality in ("voice", "face", "av") and what:
        return f"{modality} {what}" if what not in EMOTIONS else f"{modality} votes {what}"
    return column


def column_config(shown: pd.DataFrame) -> dict:
    """Probabilities and confidence as bars with their value, agreement and duration as short numbers."""
    config = {"clip_id": st.column_config.TextColumn("clip id", pinned=True)}
    for column in shown.columns:
        if column.startswith(PROB) or column == "confidence":
            config[column] = st.column_config.ProgressColumn(label(column), min_value=0.0, max_value=1.0,
                                                             format="%.2f")
        elif column.endswith("_agreement") or column == "duration_s":
            config[column] = st.column_config.NumberColumn(label(column), format="%.2f")
        elif column == "correct":
            config[column] = st.column_config.CheckboxColumn("correct")
        elif label(column) != column:
            config[column] = st.column_config.Column(label(column))
    return config
