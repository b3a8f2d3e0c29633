"""The Clusters page's scatter (one WebGL trace per colour value, built with graph objects) and the UMAP
view computed with its progress shown (umap-learn's epochs as they run)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.colors import qualitative

from ser.analysis import clustering
from ui import cached
from ui.charts import EMOTION_COLORS

HOVER_COLUMNS = ["emotion", "speaker", "sex", "sentence"]
HOVER = "%{text}<extra>%{fullData.name}</extra>"
LEGEND_MAX = 12  # more values than this (speakers): one trace, colours cycled, no legend
GREY = "rgba(170, 170, 170, 0.35)"


def scatter_figure(points: pd.DataFrame, colour: str, axis: str, order: list[str] | None = None,
                   highlight: pd.Index | None = None) -> go.Figure:
    """``points``: x, y, the colour column and HOVER_COLUMNS, indexed by clip id. ``highlight``: clips drawn
    on top in colour, the others grey beneath them. Each point's customdata is its row in ``points`` (a
    number: a selection reports it, ``selected_clips`` turns it back into clip ids; numbers travel as typed
    arrays where strings were copied one by one). Built from numpy arrays: plotly express took 0.35 s
    (1.8 s by speaker, one trace per speaker) for 7,462 clips."""
    values = points[colour].astype(object).where(points[colour].notna(), "unknown").astype(str).to_numpy()
    names = order or sorted(pd.unique(values), key=_natural)
    custom = np.arange(len(points), dtype=np.int32)
    hover = (points.index.astype(str) + "<br>" + _text(points["emotion"]) + " · speaker " + _text(points["speaker"])
             + " · " + _text(points["sex"]) + "<br>sentence " + _text(points["sentence"])).to_numpy(dtype=object)
    x, y = points["x"].to_numpy(), points["y"].to_numpy()
    figure = go.Figure()
    shown = np.ones(len(points), dtype=bool)
    if highlight is not None:
        shown = points.index.isin(highlight)
        figure.add_trace(go.Scattergl(x=x[~shown], y=y[~shown], mode="markers", name="other clips",
                                      marker=dict(size=4, color=GREY), customdata=custom[~shown],
                                      text=hover[~shown], hovertemplate=HOVER))
    palette = qualitative.Plotly if len(names) <= 10 else qualitative.Alphabet
    colours = EMOTION_COLORS if colour == "emotion" else {}
    if len(names) <= LEGEND_MAX:
        for i, name in enumerate(names):
            mask = shown & (values == name)
            if mask.any():
                figure.add_trace(go.Scattergl(
                    x=x[mask], y=y[mask], mode="markers", name=name, customdata=custom[mask], text=hover[mask],
                    hovertemplate=HOVER,
                    marker=dict(size=5, opacity=0.75, color=colours.get(name, palette[i % len(palette)]))))
    else:
        codes = pd.Index(names).get_indexer(values[shown])
        figure.add_trace(go.Scattergl(
            x=x[shown], y=y[shown], mode="markers", name=colour, customdata=custom[shown], text=hover[shown],
            hovertemplate=HOVER,
            showlegend=False, marker=dict(size=5, opacity=0.75, color=np.asarray(palette)[codes % len(palette)])))
    # No dragmode: Streamlit then lets a click select the point under it ("event+select"); in lasso or box
    # mode it turns click selection off, which is why clicking a point did nothing.
    figure.update_layout(height=560, margin=dict(l=10, r=10, t=30, b=10), legend_title_text=colour,
                         xaxis_title=f"{axis} 1", yaxis_title=f"{axis} 2")
    return figure


@st.cache_resource(max_entries=16, show_spinner=False)
def cached_scatter(view_key: tuple, _points: pd.DataFrame, colour: str, axis: str, order: tuple | None,
                   _highlight: pd.Index | None) -> go.Figure:
    """``scatter_figure`` once per view: ``view_key`` names everything the points and the highlight depend
    on (table, k, view and its parameters, the highlighted selection). The figure is shared, never changed
    (st.plotly_chart serialises a copy); building it was a third of a warm rerun."""
    return scatter_figure(_points, colour, axis, list(order) if order else None, _highlight)


def selected_clips(event, points: pd.DataFrame) -> list[str]:
    """The clip ids a plotly selection event names (its points' customdata rows in ``points``), in order."""
    rows = []
    for point in (event["selection"]["points"] if event else []):  # (the chart's state is a dict too)
        custom = point.get("customdata")
        row = custom[0] if isinstance(custom, (list, tuple)) else custom
        if isinstance(row, (int, float)) and 0 <= int(row) < len(points):
            rows.append(int(row))
    return list(dict.fromkeys(points.index[rows].astype(str)))


def heatmap(table: pd.DataFrame, title: str, x_label: str, y_label: str) -> go.Figure:
    """Counts as a heatmap with each cell's number (graph objects: plotly express' imshow took 0.2 s)."""
    figure = go.Figure(go.Heatmap(z=table.to_numpy(), x=[str(c) for c in table.columns],
                                  y=[str(i) for i in table.index], colorscale="Blues", texttemplate="%{z}",
                                  colorbar=dict(title="clips"),
                                  hovertemplate=f"{y_label} %{{y}}, {x_label} %{{x}}: %{{z}} clips<extra></extra>"))
    figure.update_layout(title=title, height=360, margin=dict(l=10, r=10, t=40, b=10),
                         xaxis_title=x_label, yaxis=dict(title=y_label, autorange="reversed", type="category"))
    return figure


def umap_with_progress(features: pd.DataFrame, table: str, n_neighbors: int, min_dist: float = 0.1) -> pd.DataFrame:
    """The UMAP view: from the caches, or computed in a thread while a bar shows its progress (the phase
    before the epochs with its elapsed seconds, then each epoch with the time left at the rate so far)."""
    if clustering.cached_umap(features, n_neighbors, min_dist) is None:
        _compute_umap(features, n_neighbors, min_dist)
    return cached.umap(table, n_neighbors, min_dist, _features=features)


def _compute_umap(features: pd.DataFrame, n_neighbors: int, min_dist: float) -> None:
    state = {"done": 0, "total": clustering.UMAP_EPOCHS, "error": None, "epochs_from": None}

    def report(done: int, total: int, message: str) -> None:
        if done and state["epochs_from"] is None:
            state["epochs_from"] = time.monotonic()
        state["done"], state["total"] = done, total

    def run() -> None:
        try:
            clustering.umap_embedding(features, n_neighbors, min_dist, progress=report)
        except Exception as exc:  # shown by the page's thread
            state["error"] = exc

    bar = st.progress(0.0, text="UMAP: starting…")
    worker = threading.Thread(target=run, name="umap", daemon=True)
    started = time.monotonic()
    worker.start()
    while worker.is_alive():
        worker.join(0.3)
        elapsed = time.monotonic() - started
        done, total = state["done"], max(state["total"], 1)
        if not done:
            bar.progress(0.0, text=f"UMAP on {len(features):,} clips: finding each clip's neighbours, {elapsed:.0f} s "
                                   "so far (the very first UMAP after installing also compiles umap-learn's code, "
                                   "once: about 30 s on 2 cores)")
        else:
            rate = (time.monotonic() - state["epochs_from"]) / max(done, 1)
            bar.progress(done / total, text=f"UMAP epochs: {done}/{total}, {elapsed:.0f} s so far, about "
                                            f"{rate * (total - done):.0f} s left")
    bar.empty()
    if state["error"] is not None:
        raise state["error"]


def _text(values: pd.Series) -> pd.Series:
    return values.astype(object).where(values.notna(), "?").astype(str)


def _natural(value: str):
    return (0, int(value), "") if value.isdigit() else (1, 0, value)
