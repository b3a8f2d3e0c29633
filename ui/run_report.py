"""What a run says: headline metrics, the split, cross-validation, the per-class report and the
confusion matrix. Used for every kind of run."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from ser.errors import SerError
from ser.metrics import confusion_frame, report_frame
from ser.runs import Run, delete_run, parts_of
from ui.charts import confusion_heatmap
from ui.jobs_panel import stopped_job
from ui.clip_table import clip_table, predictions_of
from ui.live import STOPPED
from ui.page_state import URL, kept
from ui.state import clips_of, show_error


def show_run(run: Run, key: str) -> None:
    info, spec, metrics = run.info, run.info.get("spec", {}), run.metrics
    corpus = info.get("corpus", {})
    inputs = spec.get("features") or "waveforms"
    st.markdown(f"**{run.run_id}** · {spec.get('model')} on `{inputs}` · split **{spec.get('split')}** · "
                f"corpus {corpus.get('name')} ({corpus.get('clips', '?')} clips) · {info.get('status')} · "
                f"{info.get('created', '').replace('T', ' ')}")
    if corpus.get("synthetic"):
        st.caption("Trained on the synthetic demo corpus: the numbers show the workbench works, not how well "
                   "emotion can be recognised.")
    if run.status in STOPPED:
        stopped_job(run)  # the reason once, the log's last lines, resume or run again
        return
    if run.status != "finished":
        st.info(f"This run is {run.status}: its progress is shown above, and this view fills in by itself "
                "when it ends.")
        return
    columns = st.columns(4)
    columns[0].metric("Macro-F1", f"{metrics['macro_f1']:.3f}")
    columns[1].metric("UAR", f"{metrics['uar']:.3f}")
    columns[2].metric("Accuracy", f"{metrics['accuracy']:.3f}")
    columns[3].metric("Test clips", f"{metrics.get('clips', 0):,}")
    split_info = info.get("split_info", {})
    if split_info:
        st.caption("Split: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in split_info.items()
                                         if k != "tuning_note"))
    _cross_validation(info, key)
    left, right = st.columns(2)
    with left:
        st.markdown("**Per-class report (test)**")
        st.dataframe(report_frame(metrics).round(3), key=f"{key}_report")
    with right:
        normalise = st.toggle("Row-normalised", value=False, key=f"{key}_normalise")
        st.plotly_chart(confusion_heatmap(confusion_frame(metrics), "Confusion matrix (test)", normalise),
                        key=f"{key}_confusion")
    run_clips(run, key)


def run_clips(run: Run, key: str) -> pd.DataFrame | None:
    """Every clip of the run with its prediction and the probability of every class, one part at a time
    (test first), in the clip table; returns what the table shows."""
    st.subheader("Every clip of this run")
    try:
        parts = parts_of(predictions_of(run))
    except SerError as exc:
        show_error(exc)
        return None
    part = st.segmented_control("Part", parts, default=parts[0], required=True, bind=URL,
                                key=kept(f"{key}_clips_part", parts),
                                help="test: the clips held out from training; val: those used to stop or tune; "
                                     "train: the clips it learned from (their scores flatter the model).")
    return clip_table(corpus_clips(run), f"{key}_clips", run=run, part=part)


def corpus_clips(run: Run) -> pd.DataFrame:
    """The clips table of the run's corpus (read once per version of it); without it (moved or deleted),
    the run's clip ids alone, without metadata or audio."""
    source = run.info.get("corpus", {}).get("source")
    try:
        return clips_of(source)
    except SerError as exc:
        st.caption(f"The run's corpus cannot be read ({exc.title}: {exc.detail}), so its clips show no metadata "
                   "and cannot be played.")
        ids = pd.Index(predictions_of(run)["clip_id"], name="clip_id")
        return pd.DataFrame({"path": pd.Series(None, index=ids, dtype=object)})


def _cross_validation(info: dict, key: str) -> None:
    cv = info.get("cv")
    if not cv:
        return
    best = info.get("best_params") or {}
    scoring = cv.get("scoring", "accuracy")
    split_info = info.get("split_info", {})
    if split_info.get("tuning_note"):
        st.markdown(f"**Leave-one-speaker-out, {split_info['tuning']} tuning**: {split_info['tuning_note']}.")
    if "per_speaker" in cv:  # nested: one choice per held-out speaker
        st.markdown(f"Cross-validation ({cv.get('scheme')}, {scoring}). The parameters chosen most often "
                    f"({cv['best_params_share']:.0%} of speakers), used by the model kept for new clips: `{best}`")
        chosen = pd.DataFrame(cv["per_speaker"])
        chosen["params"] = chosen["params"].map(lambda p: ", ".join(f"{k}={v}" for k, v in p.items()))
        st.dataframe(chosen, hide_index=True, key=f"{key}_per_speaker")
        return
    for deviation in cv.get("deviations", []):
        st.warning(f"**Not plain GridSearchCV.** {deviation}", icon=":material/timer:")
    for note in cv.get("notes", []):
        st.caption(note)
    scheme = f"{cv['scheme']}, " if cv.get("scheme") else ""
    st.markdown(f"**Cross-validation on the training part** ({scheme}{len(cv['folds'])} folds, {scoring}): mean "
                f"{cv['mean']:.3f}; best parameters: `{best if best else 'the estimator defaults'}`")
    folds = pd.DataFrame({"fold": [f"fold {i + 1}" for i in range(len(cv["folds"]))], scoring: cv["folds"]})
    figure = px.bar(folds, x="fold", y=scoring, title="Best parameters, score per fold", range_y=[0, 1])
    figure.update_layout(height=260, margin=dict(l=10, r=10, t=40, b=10))
    left, right = st.columns([1, 1])
    left.plotly_chart(figure, key=f"{key}_folds")
    candidates = pd.DataFrame(cv.get("candidates", []))
    if len(candidates) > 1:
        candidates = candidates.sort_values("rank").head(10)
        candidates["params"] = candidates["params"].map(lambda p: ", ".join(f"{k}={v}" for k, v in p.items()))
        right.markdown("**Top candidates**")
        shown = [c for c in ("rank", "params", "mean", "std", "seconds", "capped_folds") if c in candidates]
        right.dataframe(candidates[shown].round(4).rename(columns={"capped_folds": "folds at the budget"}),
                        hide_index=True, key=f"{key}_candidates")


def delete_box(run: Run, checkbox_key: str, button_key: str, opened_key: str) -> None:
    """Delete a run after a confirming tick; forget it as the opened run."""
    with st.expander("Delete this run"):
        sure = st.checkbox(f"Yes, delete {run.run_id} with its predictions and model", key=checkbox_key)
        if st.button("Delete", key=button_key, disabled=not sure):
            delete_run(run.run_id)
            st.session_state.pop(opened_key, None)
            st.rerun()


def pick_run(runs: list[Run], key: str, opened_key: str) -> Run:
    """A selectbox over runs (each labelled with its status), switched once to the one just started
    (``opened_key`` in the session) if any. The run shown is kept when the user leaves the page and
    stands in the URL as ``key=RUN_ID``: written here rather than by ``bind=``, which would put the
    label (status, score) in the URL instead of the id."""
    labels = {run.run_id: run.label() for run in runs}
    shown_key = f"{key}_shown_label"
    kept(key, list(labels))
    if key not in st.session_state and st.query_params.get(key) in labels:
        st.session_state[key] = st.query_params[key]  # a shared link opens its run
    if st.session_state.get(opened_key) in labels:
        st.session_state[key] = st.session_state.pop(opened_key)
    elif st.session_state.get(key) in labels and st.session_state.get(shown_key) != labels[st.session_state[key]]:
        st.session_state[key] = st.session_state[key]  # set again, so the browser shows the new label (its status)
    chosen = st.selectbox("Open a run", list(labels), key=key, format_func=labels.__getitem__)
    st.session_state[shown_key] = labels[chosen]
    st.query_params[key] = chosen
    return next(r for r in runs if r.run_id == chosen)
