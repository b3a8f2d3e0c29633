"""RQ4: for whom does it work? Any run's predictions by actor, demographics, sentence, intensity and
duration, with intervals, the crowd beside the model, and a tree that explains the errors.

Every setting is kept when the page is left (ui.page_state.kept) and the ones that define the view are in
the URL. Clicking a group, an actor or a confusion-matrix cell lists its clips and offers them to the other
pages (ui.selection); a selection made elsewhere (a lasso on Clusters) narrows the whole analysis."""

from functools import partial

import numpy as np
import plotly.express as px
import streamlit as st

from ser.analysis.bias import (FILTER_COLUMNS, GROUPINGS, TREE_FOLDS, cell_clips, filter_frame, frame_digest,
                               gap_verdict, group_clips)
from ser.analysis.uncertainty import MIN_ACTORS
from ser.data.corpus import corpus_signature
from ser.errors import NotEnoughData, SerError
from ser.runs import list_runs, parts_of
from ui import bias_views
from ui.bias_views import NONE, cell_label, cell_option, metric_cards, pick_cell, pick_group, show_clips
from ui.charts import worst_first
from ui.clip_table import predictions_of
from ui.page_state import URL, kept
from ui.selection import offer, selection_filter
from ui.sidebar import corpus_sidebar
from ui.state import show_error

PAGE = "Bias"  # where its selections come from (ui.selection)

TABS = ["By group", "Actors", "Confusion by demographics", "Crowd vs model", "Why errors happen"]
GROUP_NAMES = list(GROUPINGS)

corpus_sidebar()
st.title("Bias: for whom does it work?")
st.markdown("Pick a run: its predictions are joined with its corpus' metadata. Every macro-F1 of a group, an "
            "actor or a filtered set below carries its "
            "number of clips, its number of actors and a 95% interval from a bootstrap that resamples **actors with "
            "all their clips** (clips of one voice are not independent). A group with fewer than 5 actors keeps its "
            "number but describes those people, not a population, and takes no part in the verdict on gaps.")

runs = [run for run in list_runs() if run.status == "finished" and run.predictions_path.exists()]
if not runs:
    st.info("No finished run yet: train one on the Baselines page (or `python -m ser baseline --model svm`).")
    st.stop()
ids = [run.run_id for run in runs]
labels = {run.run_id: run.label() for run in runs}
columns = st.columns([3, 1, 1])
# the plain id, without a format_func: a bound selectbox puts its formatted option in the URL, and the id is
# what stays the same on every page that shares the "run" key
run_id = columns[0].selectbox("Run", ids, index=None, key=kept("run", ids, fallback=ids[0]), bind=URL) or ids[0]
run = runs[ids.index(run_id)]
columns[0].caption(labels[run_id])
stamp = run.predictions_path.stat().st_mtime_ns
try:
    parts = parts_of(predictions_of(run))  # the predictions read once per version, shared with the clip table
except SerError as exc:
    show_error(exc)
    st.stop()
scheme = run.info.get("spec", {}).get("split", "")
part = columns[1].selectbox("Part", parts, key=kept("bias_part", parts), bind=URL,
                            help=f"Which part of the run's {scheme} split to analyse: test (held out) by default.")
REPLICATES = [1000, 2000, 5000]
n_boot = columns[2].selectbox("Replicates", REPLICATES, key=kept("bias_boot", REPLICATES), bind=URL,
                              help="Bootstrap replicates for the intervals, and shuffles for the permutation test.")
if run.info.get("corpus", {}).get("synthetic"):
    st.warning("This run was trained on the synthetic demo corpus: group differences here are properties of the "
               "generator, not of people.", icon=":material/science:")
try:
    whole = bias_views.analysis(run.run_id, part, stamp, corpus_signature(run.info["corpus"]["source"]))
except SerError as exc:
    show_error(exc)
    st.stop()

kept_ids, selection = selection_filter("bias_only", whole.index, exclude=PAGE)  # (its own picks: the tabs' filters)
frame = whole.loc[kept_ids] if selection is not None else whole
digest = frame_digest(frame)
if selection is not None:
    st.info(f"Analysing only the **{selection.label}**: {len(frame):,} of the {len(whole):,} clips of this part. "
            "Every number below is about these clips.", icon=":material/filter_alt:")
try:
    overall = bias_views.overall(run.run_id, part, stamp, n_boot, digest, frame)
except SerError as exc:
    show_error(exc)
    st.stop()
metric_cards(overall, frame)
if overall["macro_f1"]["ci"][0] is None:
    st.caption(f"These clips come from {frame['speaker'].nunique()} actor(s): fewer than {MIN_ACTORS}, too few for an "
               "interval that would say anything about other speakers, so none is shown.")
overall_f1 = overall["macro_f1"]["value"]


def grouping_picker(allow_second: bool = True):
    """The grouping (one attribute, or two intersected), shared by the By-group and Crowd tabs (only the open
    tab runs, so one widget key serves both)."""
    choice = st.columns(2)
    by = choice[0].selectbox("Group by", GROUP_NAMES, index=GROUP_NAMES.index("sex"),
                             key=kept("bias_by", GROUP_NAMES), bind=URL)
    seconds = ["(none)"] + [g for g in GROUP_NAMES if g != by]
    second = choice[1].selectbox("Intersect with", seconds, key=kept("bias_by2", seconds), bind=URL,
                                 disabled=not allow_second)
    return by if second == "(none)" or not allow_second else [by, second]


def report_for(grouping):
    return bias_views.group_report(run.run_id, part, grouping, n_boot, stamp, digest, frame)


def by_group_view() -> None:
    grouping = grouping_picker()
    name = grouping if isinstance(grouping, str) else " × ".join(grouping)
    report = report_for(grouping)
    figure = bias_views.group_figure(run.run_id, part, stamp, digest, tuple(np.atleast_1d(grouping)), n_boot,
                                     "clips" if grouping == "actor" else "actors", overall_f1, report.groups)
    st.plotly_chart(figure, key="bias_group_chart", selection_mode="points",
                    on_select=partial(pick_group, "bias_group_chart", "bias_group_pick"))
    st.markdown(gap_verdict(report.gap))
    options = [NONE] + worst_first(report.groups)["group"].astype(str).tolist()
    group = st.selectbox("List the clips of a group (or click its point above)", options,
                         key=kept("bias_group_pick", options))
    if group != NONE:
        picked = group_clips(frame, grouping, group)
        source = f"{PAGE}: {name} {group}"
        offer(source, picked, slot=f"{PAGE}: group")
        st.caption(f"The {len(picked):,} clips of {name} {group}, offered to the other pages as a selection.")
        show_clips(frame.loc[picked], key="bias_group_clips", run=run, part=part)
    shown = report.groups.round(3).assign(eligible=lambda t: t["eligible"].map({True: "yes", False: "too few actors"}))
    st.dataframe(shown.rename(columns={"support": "clips", "eligible": "in the verdict"}), hide_index=True,
                 key="bias_group_table")
    st.download_button("Download this table (CSV)", report.groups.to_csv(index=False), file_name=f"{run.run_id}-by-"
                       f"{'-'.join(grouping) if isinstance(grouping, list) else grouping}.csv", key="bias_group_csv")


def actor_view() -> None:
    actors = report_for("actor").groups
    ordered = worst_first(actors)
    options = ordered["group"].astype(str).tolist()
    context = f"{run.run_id}|{part}|{digest}"
    if st.session_state.get("_bias_actor_for") != context:  # another run or subset: start from its worst actor
        st.session_state["_bias_actor_for"] = context
        st.session_state["bias_actor"] = options[0]
    st.caption("Each actor's macro-F1 with a 95% interval (the actor's clips resampled), worst at the top; grey: "
               "fewer than 10 clips. Click an actor to listen to their clips.")
    with st.container(height=min(560, 22 * len(options) + 110), border=False):
        figure = bias_views.group_figure(run.run_id, part, stamp, digest, ("actor",), n_boot, "clips", overall_f1,
                                         actors)
        st.plotly_chart(figure, key="bias_actor_chart",
                        selection_mode="points", on_select=partial(pick_group, "bias_actor_chart", "bias_actor"))
    scores = dict(zip(ordered["group"].astype(str), ordered["macro_f1"]))
    actor = st.selectbox("Listen to an actor's clips (worst first)", options, key=kept("bias_actor", options),
                         format_func=lambda a: f"actor {a} · macro-F1 {scores[a]:.3f}")
    picked = frame.index[frame["speaker"].astype(str) == actor]
    offer(f"{PAGE}: actor {actor}", picked, slot=f"{PAGE}: actor")
    show_clips(frame.loc[picked], key="bias_actor_clips", run=run, part=part)


def confusion_view() -> None:
    filters = {}
    present = [c for c in FILTER_COLUMNS if c in frame]
    slots = st.columns(4) + st.columns(4)
    for slot, column in zip(slots, present):
        options = sorted(frame[column].dropna().astype(str).unique())
        filters[column] = slot.multiselect(column, options, key=kept(f"bias_filter_{column}", options), bind=URL,
                                           placeholder="any")
    active = " · ".join(f"**{column}**: {', '.join(values)}" for column, values in filters.items() if values)
    st.markdown(f"Filters: {active}" if active else "No filter: every clip of the analysis.")
    chosen = filter_frame(frame, filters)
    if chosen.empty:
        st.info("No clips match these filters.")
        return
    subset_digest = frame_digest(chosen)
    subset = bias_views.overall(run.run_id, part, stamp, n_boot, subset_digest, chosen)
    metric_cards(subset, chosen)
    if subset["macro_f1"]["ci"][0] is None:
        st.caption(f"The filtered clips come from {chosen['speaker'].nunique()} actor(s): fewer than {MIN_ACTORS}, "
                   "too few for an interval, so none is shown.")
    normalise = st.toggle("Row-normalised", value=True, key=kept("bias_normalise"), bind=URL)
    st.caption(f"{len(chosen):,} clip(s) match the filters. Click a cell to list and hear its clips.")
    key = (run.run_id, part, stamp, subset_digest)
    whose = ["model"] + (["crowd"] if "crowd_voice" in chosen and chosen["crowd_voice"].notna().any() else [])
    figures = {who: bias_views.confusion_figure(*key, who, normalise, chosen) for who in whose}
    matrices = {who: matrix for who, (matrix, _) in figures.items()}
    left, right = st.columns(2)
    left.plotly_chart(figures["model"][1], key="bias_model_confusion",
                      selection_mode="points", on_select=partial(pick_cell, "bias_model_confusion", "model",
                                                                  "bias_cell"))
    if "crowd" in matrices:
        right.plotly_chart(figures["crowd"][1], key="bias_crowd_confusion", selection_mode="points",
                           on_select=partial(pick_cell, "bias_crowd_confusion", "crowd", "bias_cell"))
    else:
        right.info("This corpus has no crowd votes to compare with.")
    options = [NONE] + [cell_option(who, t, s) for who, matrix in matrices.items()
                        for t in matrix.index for s in matrix.columns]
    cell = st.selectbox("List the clips of a cell (or click it above)", options, key=kept("bias_cell", options),
                        format_func=cell_label)
    if cell != NONE:
        who, intended, said = cell.split("|")
        picked = cell_clips(chosen, intended, said, "y_pred" if who == "model" else "crowd_voice")
        source = f"{PAGE}: true {intended}, said {said}" + (" (crowd)" if who == "crowd" else "")
        if len(picked) == 0:  # an empty cell offers nothing and keeps the last cell's selection
            st.caption(f"No clips: {cell_label(cell)}. Nothing is offered to the other pages.")
        else:
            offer(source, picked, slot=f"{PAGE}: cell")
            st.caption(f"{len(picked):,} clip(s): {cell_label(cell)}; offered to the other pages as a selection.")
            show_clips(chosen.loc[picked], key="bias_cell_clips", run=run, part=part)
    st.download_button("Download these predictions (CSV)",  # written only when clicked (0.1 s for 2,000 clips)
                       lambda: chosen.drop(columns=["path"], errors="ignore").to_csv(),
                       file_name=f"{run.run_id}-{part}-filtered.csv", key="bias_predictions_csv")


def crowd_view() -> None:
    table = report_for(grouping_picker(allow_second=False)).groups
    if "crowd_macro_f1" not in table:
        st.info("This corpus has no crowd votes: there is no human baseline to put beside the model.")
        return
    st.markdown("For each group: the crowd's voice-only plurality vote and the model, scored the same way on the "
                "same clips. These bars are point values, without intervals: the By group tab gives the model's "
                "with their intervals and numbers of actors.")
    long = table.melt(id_vars=["group", "support"], value_vars=["macro_f1", "crowd_macro_f1"],
                      var_name="who", value_name="macro-F1").replace({"macro_f1": "model",
                                                                      "crowd_macro_f1": "crowd (voice only)"})
    figure = px.bar(long, x="group", y="macro-F1", color="who", barmode="group", range_y=[0, 1])
    figure.update_layout(height=360, margin=dict(l=10, r=10, t=20, b=10), xaxis_type="category")
    st.plotly_chart(figure, key="bias_crowd_chart")


def tree_view() -> None:
    depth = st.slider("Tree depth", 1, 6, 3, key=kept("bias_depth"), bind=URL)
    try:
        tree, dot = bias_views.error_tree(run.run_id, part, stamp, digest, depth, frame)
    except NotEnoughData as exc:
        st.info(f"**{exc.title}**: {exc.detail}")
        return
    except SerError as exc:
        show_error(exc)
        return
    st.markdown(f"A decision tree predicts from metadata whether the model got a clip right (the tree drawn below "
                f"is fitted on all {tree.test_size:,} clips). Whether it explains anything is judged on actors it "
                f"never saw: each of the {tree.heldout_actors} actors' clips are scored by a tree fitted on the "
                f"other actors ({TREE_FOLDS} folds of actors), so it cannot simply memorise actors. Scored that way "
                f"it is right **{tree.heldout_accuracy:.1%}** of the time; guessing the outcome more common among "
                f"the other actors would be right **{tree.majority_rate:.1%}**.")
    for note in tree.notes:
        st.caption(note)
    if tree.gain_ci is None:
        st.warning(f"Only {tree.heldout_actors} actors: too few to tell whether the tree beats the "
                   "majority guess for other speakers, so do not read meaning into its branches.")
    elif not tree.explains_something:
        low, high = tree.gain_ci
        st.warning(f"The tree does no better than guessing the majority beyond chance (its gain, 95% interval "
                   f"[{low:+.1%}, {high:+.1%}] with actors resampled, includes 0): the metadata does not explain "
                   "the errors, so do not read meaning into its branches.")
    else:
        low, high = tree.gain_ci
        st.caption(f"The tree's gain over the majority guess: 95% interval [{low:+.1%}, {high:+.1%}] (actors "
                   "resampled with all their clips).")
    st.graphviz_chart(dot)
    if len(tree.importances):
        figure = px.bar(tree.importances.rename("importance").reset_index(), x="importance", y="index",
                        orientation="h", labels={"index": ""}, title="What the tree uses")
        figure.update_layout(height=60 + 28 * len(tree.importances), margin=dict(l=10, r=10, t=40, b=10),
                             yaxis_autorange="reversed")
        st.plotly_chart(figure, key="bias_importances")


tabs = st.tabs(TABS, key=kept("bias_tab", TABS), bind=URL)
for tab, view in zip(tabs, [by_group_view, actor_view, confusion_view, crowd_view, tree_view]):
    with tab:
        if tab.open:  # only the open tab runs
            view()
