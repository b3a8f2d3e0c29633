"""RQ4: for whom does it work? Any run's predictions by actor, demographics, sentence, intensity and
duration, with intervals, the crowd beside the model, and a tree that explains the errors."""

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from ser.analysis.bias import FILTER_COLUMNS, GROUPINGS, confusion, filter_frame, gap_verdict
from ser.errors import NotEnoughData, SerError
from ser.runs import list_runs
from ui import cached
from ui.charts import confusion_heatmap
from ui.clip_list import paged_clips
from ui.sidebar import corpus_sidebar
from ui.state import show_error

corpus_sidebar()
st.title("Bias: for whom does it work?")
st.markdown("Pick a run: its predictions are joined with its corpus' metadata. Every macro-F1 below carries its "
            "number of clips, its number of actors and a 95% interval from a bootstrap that resamples **actors with "
            "all their clips** (clips of one voice are not independent). A group with fewer than 5 actors keeps its "
            "number but describes those people, not a population, and takes no part in the verdict on gaps.")

runs = [run for run in list_runs() if run.status == "finished" and run.predictions_path.exists()]
if not runs:
    st.info("No finished run yet: train one on the Baselines page (or `python -m ser baseline --model svm`).")
    st.stop()
ids = [run.run_id for run in runs]
columns = st.columns([3, 1, 1])
run_id = columns[0].selectbox("Run", ids, key="bias_run",
                              format_func=lambda i: next(r.label() for r in runs if r.run_id == i))
run = next(r for r in runs if r.run_id == run_id)
stamp = run.predictions_path.stat().st_mtime_ns
try:
    parts = run.parts()
except SerError as exc:
    show_error(exc)
    st.stop()
scheme = run.info.get("spec", {}).get("split", "")
part = columns[1].selectbox("Part", parts, key="bias_part",
                            help=f"Which part of the run's {scheme} split to analyse: test (held out) by default.")
n_boot = columns[2].selectbox("Replicates", [1000, 2000, 5000], key="bias_boot",
                              help="Bootstrap replicates for the intervals, and shuffles for the permutation test.")
if run.info.get("corpus", {}).get("synthetic"):
    st.warning("This run was trained on the synthetic demo corpus: group differences here are properties of the "
               "generator, not of people.", icon=":material/science:")
try:
    frame = cached.analysis(run.run_id, part, stamp)
    overall = cached.group_report(run.run_id, part, "sex", n_boot, stamp, frame).overall
except SerError as exc:
    show_error(exc)
    st.stop()

metric_columns = st.columns(4)
for slot, (name, label) in zip(metric_columns, [("macro_f1", "Macro-F1"), ("uar", "UAR"), ("accuracy", "Accuracy")]):
    low, high = overall[name]["ci"]
    slot.metric(label, f"{overall[name]['value']:.3f}", help="95% interval: actors resampled with their clips",
                delta=f"[{low:.3f}, {high:.3f}]" if low is not None else None, delta_color="off", delta_arrow="off")
metric_columns[3].metric("Clips", f"{len(frame):,}", delta=f"{frame['speaker'].nunique()} actors", delta_color="off",
                         delta_arrow="off")

by_tab, actor_tab, confusion_tab, crowd_tab, tree_tab = st.tabs(
    ["By group", "Actors", "Confusion by demographics", "Crowd vs model", "Why errors happen"])


def group_chart(table: pd.DataFrame, overall_f1: float) -> go.Figure:
    """Each group's macro-F1 with its interval, worst at the bottom; groups with too few actors in grey."""
    shown = table.sort_values("macro_f1")
    colours = ["#3b5bdb" if eligible else "#adb5bd" for eligible in shown["eligible"]]
    labels = [f"{group} ({actors} actors)" for group, actors in zip(shown["group"], shown["actors"])]
    figure = go.Figure(go.Scatter(
        x=shown["macro_f1"], y=labels, mode="markers", marker=dict(size=9, color=colours),
        error_x=dict(type="data", symmetric=False, array=shown["ci_high"] - shown["macro_f1"],
                     arrayminus=shown["macro_f1"] - shown["ci_low"]),
        customdata=shown[["support", "actors"]].to_numpy(),
        hovertemplate="%{y}<br>macro-F1 %{x:.3f}<br>%{customdata[0]} clips, %{customdata[1]} actors<extra></extra>"))
    figure.add_vline(x=overall_f1, line_dash="dot", annotation_text="overall")
    figure.update_layout(height=max(260, 26 * len(shown) + 80), margin=dict(l=10, r=10, t=20, b=10),
                         xaxis_title="macro-F1 with 95% interval (grey: fewer than 5 actors)", xaxis_range=[0, 1],
                         yaxis_type="category")
    return figure


with by_tab:
    choice = st.columns(2)
    by = choice[0].selectbox("Group by", list(GROUPINGS), index=list(GROUPINGS).index("sex"), key="bias_by")
    second = choice[1].selectbox("Intersect with", ["(none)"] + [g for g in GROUPINGS if g != by], key="bias_by2")
    grouping = by if second == "(none)" else [by, second]
    report = cached.group_report(run.run_id, part, grouping, n_boot, stamp, frame)
    st.plotly_chart(group_chart(report.groups, overall["macro_f1"]["value"]), key="bias_group_chart")
    st.markdown(gap_verdict(report.gap))
    shown = report.groups.round(3).assign(eligible=lambda t: t["eligible"].map({True: "yes", False: "too few actors"}))
    st.dataframe(shown.rename(columns={"support": "clips", "eligible": "in the verdict"}), hide_index=True,
                 key="bias_group_table")
    st.download_button("Download this table (CSV)", report.groups.to_csv(index=False), file_name=f"{run.run_id}-by-"
                       f"{'-'.join(grouping) if isinstance(grouping, list) else grouping}.csv", key="bias_group_csv")

with actor_tab:
    actors = cached.group_report(run.run_id, part, "actor", n_boot, stamp, frame).groups
    ordered = actors.sort_values("macro_f1")
    figure = px.bar(ordered, x="group", y="macro_f1", text="support", hover_data=["ci_low", "ci_high"],
                    labels={"group": "actor", "macro_f1": "macro-F1"},
                    title="Actors sorted by macro-F1 (bar label: clips)")
    figure.update_layout(height=380, margin=dict(l=10, r=10, t=40, b=10), xaxis_type="category")
    st.plotly_chart(figure, key="bias_actor_chart")
    actor = st.selectbox("Listen to an actor's clips (worst first)", ordered["group"].tolist(), key="bias_actor")
    clips = frame[frame["speaker"] == actor].rename(columns={"y_true": "emotion"})
    said = clips[["y_pred", "correct"]].rename(columns={"y_pred": "model said"})
    if "crowd_voice" in clips:
        said["crowd (voice) said"] = clips["crowd_voice"]
    paged_clips(clips, key="bias_actor_page", extra=said)

with confusion_tab:
    filters = {}
    filter_slots = st.columns(len(FILTER_COLUMNS))
    for slot, column in zip(filter_slots, FILTER_COLUMNS):
        options = sorted(frame[column].dropna().astype(str).unique()) if column in frame else []
        filters[column] = slot.multiselect(column, options, key=f"bias_filter_{column}")
    chosen = filter_frame(frame, filters)
    normalise = st.toggle("Row-normalised", value=True, key="bias_confusion_normalise")
    st.caption(f"{len(chosen):,} clip(s) match the filters.")
    if chosen.empty:
        st.info("No clips match these filters.")
    else:
        left, right = st.columns(2)
        left.plotly_chart(confusion_heatmap(confusion(chosen), "Model", normalise), key="bias_model_confusion")
        if "crowd_voice" in chosen and chosen["crowd_voice"].notna().any():
            right.plotly_chart(confusion_heatmap(confusion(chosen, "crowd_voice"), "Crowd, voice only (same clips)",
                                                 normalise), key="bias_crowd_confusion")
        else:
            right.info("This corpus has no crowd votes to compare with.")
        st.download_button("Download these predictions (CSV)", chosen.drop(columns=["path"], errors="ignore").to_csv(),
                           file_name=f"{run.run_id}-{part}-filtered.csv", key="bias_predictions_csv")

with crowd_tab:
    table = cached.group_report(run.run_id, part, st.session_state.get("bias_by", "sex"), n_boot, stamp, frame).groups
    if "crowd_macro_f1" not in table:
        st.info("This corpus has no crowd votes: there is no human baseline to put beside the model.")
    else:
        st.markdown("For each group of the *By group* tab: the crowd's voice-only plurality vote and the model, "
                    "scored the same way on the same clips.")
        long = table.melt(id_vars=["group", "support"], value_vars=["macro_f1", "crowd_macro_f1"],
                          var_name="who", value_name="macro-F1").replace({"macro_f1": "model",
                                                                          "crowd_macro_f1": "crowd (voice only)"})
        figure = px.bar(long, x="group", y="macro-F1", color="who", barmode="group", range_y=[0, 1])
        figure.update_layout(height=360, margin=dict(l=10, r=10, t=20, b=10), xaxis_type="category")
        st.plotly_chart(figure, key="bias_crowd_chart")

with tree_tab:
    depth = st.slider("Tree depth", 1, 6, 3, key="bias_depth")
    try:
        tree, dot = cached.error_tree(run.run_id, part, depth, stamp, frame)
    except NotEnoughData as exc:
        st.info(f"**{exc.title}**: {exc.detail}")
    except SerError as exc:
        show_error(exc)
    else:
        st.markdown(f"A decision tree predicts from metadata whether the model got a clip right. It is fitted on the "
                    f"clips of 70% of the actors and scored on the other {tree.heldout_actors} actors' clips, so it "
                    f"cannot simply memorise actors. On those it is right **{tree.heldout_accuracy:.1%}** of the time; "
                    f"always guessing the more common outcome would be right **{tree.majority_rate:.1%}**.")
        for note in tree.notes:
            st.caption(note)
        if not tree.explains_something:
            st.warning("The tree does no better than guessing the majority: the metadata does not explain the "
                       "errors, so do not read meaning into its branches.")
        st.graphviz_chart(dot)
        if len(tree.importances):
            figure = px.bar(tree.importances.rename("importance").reset_index(), x="importance", y="index",
                            orientation="h", labels={"index": ""}, title="What the tree uses")
            figure.update_layout(height=60 + 28 * len(tree.importances), margin=dict(l=10, r=10, t=40, b=10),
                                 yaxis_autorange="reversed")
            st.plotly_chart(figure, key="bias_importances")
