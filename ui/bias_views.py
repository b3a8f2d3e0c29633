"""Pieces of the Bias page: caches keyed by which clips are analysed (a selection from another page or a
filter makes a subset, and two subsets must never share an entry), the clicks on its charts turned into
picks, and the list of the clips picked."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui.state import clips_of

NONE = "(none)"


@st.cache_resource(show_spinner="Joining the run's predictions with its clips…", max_entries=8)
def analysis(run_id: str, part: str, stamp: int, signature: str) -> pd.DataFrame:
    """``ser.analysis.bias.analysis_frame`` of a run's part, built once per predictions stamp and corpus
    signature (``corpus_signature`` of the run's corpus) and shared (not copied on every rerun as
    ``st.cache_data`` would): the page only reads and slices it."""
    from ser.analysis.bias import analysis_frame
    from ser.runs import load_run
    from ui.clip_table import predictions_of

    run = load_run(run_id)
    return analysis_frame(run, clips_of(run.info["corpus"]["source"]), part, predictions_of(run))


@st.cache_data(show_spinner="Resampling actors for the intervals and shuffling for the gap test…", max_entries=128)
def group_report(run_id: str, part: str, by, n_boot: int, stamp: int, digest: str, _frame: pd.DataFrame):
    """``ser.analysis.bias.cached_group_report`` of ``_frame`` (whose clips ``digest`` names)."""
    from ser.analysis.bias import cached_group_report
    from ser.runs import load_run

    return cached_group_report(load_run(run_id), _frame, by, part, n_boot=n_boot)


@st.cache_data(show_spinner=False, max_entries=128)
def overall(run_id: str, part: str, stamp: int, n_boot: int, digest: str, _frame: pd.DataFrame) -> dict:
    """``ser.analysis.bias.overall_report`` of ``_frame``: the run's predictions of ``part`` for the clips
    ``digest`` names."""
    from ser.analysis.bias import overall_report

    return overall_report(_frame, n_boot=n_boot)


@st.cache_data(show_spinner=False, max_entries=32)
def error_tree(run_id: str, part: str, stamp: int, digest: str, depth: int, _frame: pd.DataFrame):
    """``ser.analysis.bias.error_tree`` of ``_frame`` (whose clips ``digest`` names) and its Graphviz text."""
    from ser.analysis.bias import error_tree as build, tree_dot

    tree = build(_frame, depth)
    return tree, tree_dot(tree)


@st.cache_resource(show_spinner=False, max_entries=64)
def confusion_figure(run_id: str, part: str, stamp: int, digest: str, who: str, normalise: bool,
                     _frame: pd.DataFrame):
    """The confusion matrix of ``who`` ("model" or "crowd") over ``_frame`` (whose clips ``digest`` names) and
    its clickable figure, built once (building a Plotly figure costs about 0.1 s). Shared: do not modify."""
    from ser.analysis.bias import confusion
    from ui.charts import confusion_squares

    matrix = confusion(_frame, "y_pred" if who == "model" else "crowd_voice")
    title = "Model" if who == "model" else "Crowd, voice only (same clips)"
    return matrix, confusion_squares(matrix, title, normalise)


@st.cache_resource(show_spinner=False, max_entries=64)
def group_figure(run_id: str, part: str, stamp: int, digest: str, grouping: tuple, n_boot: int, unit: str,
                 overall_f1: float, _table: pd.DataFrame):
    """``ui.charts.group_chart`` of a report's table, built once per report. Shared: do not modify."""
    from ui.charts import group_chart

    return group_chart(_table, overall_f1, unit=unit)


def metric_cards(overall_metrics: dict, frame: pd.DataFrame) -> None:
    """Macro-F1, UAR, accuracy with their 95% intervals, clips and actors, as five cards."""
    slots = st.columns(5)
    for slot, (name, label) in zip(slots, [("macro_f1", "Macro-F1"), ("uar", "UAR"), ("accuracy", "Accuracy")]):
        low, high = overall_metrics[name]["ci"]
        slot.metric(label, f"{overall_metrics[name]['value']:.3f}",
                    help="95% interval: actors resampled with their clips (within each sex)",
                    delta=f"[{low:.3f}, {high:.3f}]" if low is not None else "no interval", delta_color="off",
                    delta_arrow="off")
    slots[3].metric("Clips", f"{len(frame):,}")
    slots[4].metric("Actors", f"{frame['speaker'].nunique():,}")


def clicked(chart_key: str) -> dict | None:
    """The first point of a click (or box/lasso) on the chart drawn with ``chart_key``, or None."""
    event = st.session_state.get(chart_key)
    try:
        points = event["selection"]["points"]
    except (KeyError, TypeError):
        return None
    return points[0] if points else None


def cell_option(who: str, intended: str, chosen: str) -> str:
    return f"{who}|{intended}|{chosen}"


def cell_label(option: str) -> str:
    if option == NONE:
        return "(no cell)"
    who, intended, chosen = option.split("|")
    return f"{'Model' if who == 'model' else 'Crowd (voice)'}: true {intended}, said {chosen}"


def pick_cell(chart_key: str, who: str, picker: str) -> None:
    """Callback of a confusion chart: the clicked cell becomes the picker's value."""
    point = clicked(chart_key)
    if point is not None and point.get("customdata"):
        intended, chosen = point["customdata"][:2]
        st.session_state[picker] = cell_option(who, str(intended), str(chosen))


def pick_group(chart_key: str, picker: str) -> None:
    """Callback of the By-group (or Actors) chart: the clicked group becomes the picker's value."""
    point = clicked(chart_key)
    if point is not None and point.get("customdata"):
        st.session_state[picker] = str(point["customdata"][0])


def show_clips(clips: pd.DataFrame, key: str, run=None, part: str | None = None) -> None:
    """The clips picked (rows of the analysis frame) in the clip table: with the run, its prediction,
    confidence and probability of every class for them, beside the crowd's votes, to be sorted and heard.
    The table offers no selection filter of its own: the page's one ("Only the clips of") applies already."""
    from ser.analysis.bias import FILTER_COLUMNS
    from ui.clip_table import clip_table

    derived = ["y_true", "y_pred", "correct", "crowd_voice", "age band", "duration band", "actor train clips"]
    table = clips.drop(columns=[c for c in derived if c in clips]).assign(emotion=clips["y_true"])
    for column in FILTER_COLUMNS:  # the analysis frame says "unknown" where the corpus has no value
        if column in table:
            table[column] = table[column].where(table[column] != "unknown")
    clip_table(table, key=key, run=run, part=part, pick_selection=False)
