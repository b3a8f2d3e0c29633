"""Plotly figures used by several pages."""

from __future__ import annotations

import numpy as np
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


def worst_first(table: pd.DataFrame) -> pd.DataFrame:
    """Groups ordered by macro-F1, worst first (the order of ``group_chart`` from the top)."""
    return table.sort_values("macro_f1", kind="stable", na_position="last")


def group_chart(table: pd.DataFrame, overall_f1: float, unit: str = "actors") -> go.Figure:
    """Each group's macro-F1 with its interval as a category each, worst at the top; groups with too few
    actors in grey. ``unit``: what the second number of a label counts ("actors", or "clips" for actors)."""
    shown = worst_first(table)
    colours = ["#3b5bdb" if eligible else "#adb5bd" for eligible in shown["eligible"]]
    named = "actor " if unit == "clips" else ""  # grouped by actor: "actor 1038 (82 clips)", not a bare number
    labels = [f"{named}{group} ({count} {unit})" for group, count in
              zip(shown["group"], shown["support" if unit == "clips" else "actors"])]
    counted = [f"{clips:,} clip{'s' * (clips != 1)}, {actors} actor{'s' * (actors != 1)}"
               for clips, actors in zip(shown["support"].astype(int), shown["actors"].astype(int))]
    figure = go.Figure(go.Scatter(
        x=shown["macro_f1"], y=labels, mode="markers", marker=dict(size=9, color=colours),
        # one colour for the bars: given none, plotly.js takes the markers' list and draws them black
        error_x=dict(type="data", symmetric=False, array=shown["ci_high"] - shown["macro_f1"],
                     arrayminus=shown["macro_f1"] - shown["ci_low"], color="#495057"),
        customdata=np.column_stack([shown["group"].astype(str), counted]),
        hovertemplate="%{y}<br>macro-F1 %{x:.3f}<br>%{customdata[1]}<br>click to list its clips<extra></extra>"))
    figure.add_vline(x=overall_f1, line_dash="dot", annotation_text="overall")
    grey = "fewer than 10 clips" if unit == "clips" else "fewer than 5 actors"
    figure.update_layout(height=max(260, 22 * len(shown) + 90), margin=dict(l=10, r=10, t=20, b=10),
                         xaxis_title=f"macro-F1 with 95% interval (grey: {grey})", xaxis_range=[0, 1],
                         yaxis=dict(type="category", categoryorder="array", categoryarray=labels,
                                    autorange="reversed", dtick=1),
                         clickmode="event+select", dragmode=False)
    return figure


def confusion_squares(matrix: pd.DataFrame, title: str, normalise: bool) -> go.Figure:
    """The confusion matrix drawn like ``confusion_heatmap`` but as a scatter of square markers, whose cells
    can be clicked (Plotly heatmaps emit no point selections to ``st.plotly_chart(on_select=...)``). Each
    point's customdata is [intended, chosen, count, count as text]."""
    values = matrix.div(matrix.sum(axis=1).replace(0, 1), axis=0) if normalise else matrix
    long = values.stack().rename("value").reset_index()
    long.columns = ["intended", "chosen", "value"]
    long["count"] = matrix.stack().to_numpy()
    top = float(long["value"].max()) or 1.0
    long["text"] = [f"{v:.2f}" if normalise else f"{v:g}" for v in long["value"]]  # tied crowd votes: fractions
    # formatted here: in an array mixing text and numbers, plotly.js's %{...:g} drew 240 as "240.000"
    long["count_text"] = [f"{c:g}" for c in long["count"]]
    side = 300 / max(len(values), 1)
    figure = go.Figure(go.Scatter(
        x=long["chosen"], y=long["intended"], mode="markers+text", text=long["text"],
        marker=dict(symbol="square", size=side, color=long["value"], colorscale="Blues", cmin=0, cmax=top,
                    line=dict(width=1, color="white")),
        textfont=dict(color=["white" if v > 0.55 * top else "#212529" for v in long["value"]]),
        customdata=long[["intended", "chosen", "count", "count_text"]].to_numpy(),
        hovertemplate="intended %{customdata[0]}<br>chosen %{customdata[1]}<br>%{text} (%{customdata[3]} clips)"
                      "<br>click to list these clips<extra></extra>"))
    labels = list(values.columns)
    figure.update_layout(title=title, height=400, width=420, margin=dict(l=10, r=10, t=40, b=10),
                         xaxis=dict(title="chosen", type="category", categoryorder="array", categoryarray=labels,
                                    showgrid=False, zeroline=False, constrain="domain"),
                         yaxis=dict(title="intended", type="category", categoryorder="array",
                                    categoryarray=list(values.index), autorange="reversed", showgrid=False,
                                    zeroline=False, scaleanchor="x"),
                         plot_bgcolor="white", clickmode="event+select", dragmode=False)
    return figure
