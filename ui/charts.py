"""Plotly figures used by several pages."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

EMOTION_COLORS = {"ANG": "#d9480f", "DIS": "#5c940d", "FEA": "#7048e8", "HAP": "#f59f00",
                  "NEU": "#868e96", "SAD": "#1971c2"}


def counts_bar(frame: pd.DataFrame, column: str, title: str) -> go.Figure:
    """Stacked bars of clip counts by ``column``, coloured by emotion."""
    figure = px.bar(frame, x=column, y="clips", color="emotion", color_discrete_map=EMOTION_COLORS,
                    category_orders={"emotion": list(EMOTION_COLORS)}, title=title)
    figure.update_layout(height=340, margin=dict(l=10, r=10, t=40, b=10), legend_title_text="emotion")
    return figure


def confusion_heatmap(matrix: pd.DataFrame, title: str, normalise: bool) -> go.Figure:
    """Rows are the intended emotion, columns the predicted (or voted) one."""
    values = matrix.div(matrix.sum(axis=1).replace(0, 1), axis=0) if normalise else matrix
    text = values.map(lambda v: f"{v:.2f}" if normalise else f"{v:g}")  # tied crowd votes give fractions
    figure = go.Figure(go.Heatmap(z=values.to_numpy(), x=list(values.columns), y=list(values.index),
                                  text=text.to_numpy(), texttemplate="%{text}", colorscale="Blues",
                                  showscale=False, hovertemplate="intended %{y}<br>voted %{x}<br>%{text}"
                                  "<extra></extra>"))
    figure.update_layout(title=title, height=380, margin=dict(l=10, r=10, t=40, b=10),
                         xaxis_title="chosen", yaxis_title="intended", yaxis_autorange="reversed")
    return figure


def agreement_bars(table: pd.DataFrame) -> go.Figure:
    long = table.drop(columns=["clips"], errors="ignore").reset_index().melt(
        id_vars="emotion", var_name="modality", value_name="agreement")
    figure = px.bar(long, x="emotion", y="agreement", color="modality", barmode="group",
                    title="Mean crowd agreement per intended emotion")
    figure.update_layout(height=340, margin=dict(l=10, r=10, t=40, b=10), yaxis_range=[0, 1])
    return figure
