"""Training curves and the learning-rate search chart of wav2vec2 runs."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st
from plotly.subplots import make_subplots
import plotly.graph_objects as go

from ser.learning.finetune.lr_search import SCHEDULES
from ser.runs import Run


def curves(run: Run, key: str) -> None:
    history = pd.DataFrame(run.info.get("history") or [])
    if history.empty:
        st.caption("No epoch finished yet.")
        return
    figure = make_subplots(rows=1, cols=3, subplot_titles=("loss", "validation macro-F1", "learning rate"))
    for column, name, dash in (("train_loss", "train", None), ("val_loss", "validation", "dot")):
        if column in history and history[column].notna().any():
            figure.add_trace(go.Scatter(x=history["epoch"], y=history[column], name=name, mode="lines+markers",
                                        line=dict(dash=dash)), row=1, col=1)
    if "val_macro_f1" in history:
        figure.add_trace(go.Scatter(x=history["epoch"], y=history["val_macro_f1"], name="val macro-F1",
                                    mode="lines+markers", showlegend=False), row=1, col=2)
    if "learning_rate" in history:
        figure.add_trace(go.Scatter(x=history["epoch"], y=history["learning_rate"], name="learning rate",
                                    mode="lines+markers", showlegend=False), row=1, col=3)
    figure.update_xaxes(title_text="epoch")
    figure.update_layout(height=280, margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=-0.3))
    st.plotly_chart(figure, key=f"{key}_curves")


def training_facts(run: Run) -> str:
    """What the progress bar does not say: time per epoch and the worker's device."""
    progress = run.info.get("progress") or {}
    parts = []
    if progress.get("seconds_per_epoch"):
        parts.append(f"{progress['seconds_per_epoch']:.0f} s per epoch")
    device = (run.info.get("worker") or {}).get("device")
    if device:
        parts.append(f"on {device}")
    return " · ".join(parts)


def search_chart(run: Run, key: str) -> None:
    st.caption(f"Schedule: {schedule_text(run)}.")
    rounds = pd.DataFrame(run.info.get("rounds") or [])
    if rounds.empty:
        st.caption("No candidate finished yet.")
        return
    if "epochs" in rounds:  # Algorithm 1 trains each round longer: 5, 10, 15 epochs
        rounds["round"] = [f"{r} ({e:.0f} epochs)" if pd.notna(e) else str(r)
                           for r, e in zip(rounds["round"], rounds["epochs"])]
    else:
        rounds["round"] = rounds["round"].astype(str)
    figure = px.scatter(rounds, x="lr", y="score", color="round", log_x=True, hover_data=["run_id"],
                        labels={"lr": "learning rate", "score": "validation macro-F1"},
                        title="Learning-rate search: each round's candidates")
    best = run.info.get("best")
    if best:
        figure.add_trace(go.Scatter(x=[best["lr"]], y=[best["score"]], mode="markers", name="winner",
                                    marker=dict(symbol="star", size=18, color="gold", line=dict(width=1))))
    figure.update_traces(marker=dict(size=11), selector=dict(mode="markers", name=None))
    figure.update_layout(height=340, margin=dict(l=10, r=10, t=40, b=10))
    st.plotly_chart(figure, key=f"{key}_search")
    st.dataframe(rounds, hide_index=True, key=f"{key}_rounds")


def schedule_text(run: Run) -> str:
    """The search's schedule in words, as run.json records it; a run from before the choice was the variant."""
    return run.info.get("algorithm") or SCHEDULES["fixed"]
