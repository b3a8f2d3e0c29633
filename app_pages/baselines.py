"""RQ2: how well do classical classifiers do? Random forest and SVM with the report's grids, run as
jobs that survive a page reload; every result is a run in the registry."""

import streamlit as st

from ser.learning.baselines import BaselineSpec, grid_size
from ser.errors import SerError
from ser.learning.embeddings import parse_set_name
from ser.learning.features import is_embedding_set
from ser.data.corpus import load_corpus
from ser.jobs.control import submit_baseline, submit_evaluation
from ser.params import spec_params
from ser.runs import runs_table
from ser.learning.splits import WHY_SPLITS_MATTER
from ui.jobs_panel import active_jobs
from ui.live import announce, current_runs
from ui.run_report import delete_box, pick_run, show_run
from ui.sidebar import corpus_sidebar
from ui.features_panel import feature_set_picker
from ui.spec_form import spec_form
from ui.state import show_error

corpus = corpus_sidebar()
st.title("Baselines: how well do classical classifiers do?")
st.markdown("A standard scaler and a random forest or SVM (the report's), or the light heads used on pretrained "
            "speech representations (logistic regression, a small MLP), tuned by grid search with 5-fold "
            "cross-validation on the training part, then scored on the held-out clips. The report reached about "
            "0.45 accuracy with the SVM and random forest on CREMA-D's 13 mean MFCCs.")
st.info(WHY_SPLITS_MATTER, icon=":material/record_voice_over:")

# ------------------------------------------------------------------ start a job
with st.form("baseline_form", enter_to_submit=False):  # Enter in a number box never starts a job
    settings = spec_form(BaselineSpec, "baseline", columns=3, skip=("features",))
    field = spec_params(BaselineSpec)["features"]
    settings["features"] = feature_set_picker("baseline_features", in_form=True, label=field.label, help=field.help)
    started = st.form_submit_button("Start", type="primary", key="start_baseline")
folds = spec_params(BaselineSpec)["cv_folds"].default
st.caption(f"The report's grids: SVM {grid_size('svm')} candidates (C, gamma, kernel), random forest {grid_size('rf')} "
           f"(trees, depth, split and leaf sizes), each cross-validated {folds} times. The job uses every core.")
st.caption("Features: the hand-crafted sets, or one layer of a pretrained speech encoder (its hidden state mean-pooled "
           "over each clip). Layers whose embeddings the cache holds are listed; for another encoder choose "
           "'another speech encoder' and give its hub id or folder and the layer. Embeddings not stored yet are "
           "extracted by the job first, every hidden state at once (minutes on a CPU; the Clusters page can queue "
           "that extraction alone). Without internet, give a local folder or a model in the Hugging Face cache "
           "with HF_HUB_OFFLINE=1.")
if corpus is not None:
    import os

    from ser.learning.baselines import duration_text, expected_seconds

    clips, speakers = len(corpus.clips), corpus.clips["speaker"].nunique()
    cores = os.cpu_count() or 1
    guesses = {model: duration_text(expected_seconds(BaselineSpec(model=model), clips, speakers, cores))
               for model in ("svm", "rf")}
    st.caption(f"Expected duration on this corpus ({clips:,} clips) with the report's grid and the actor-disjoint "
               f"split: about {guesses['svm']} for the SVM and {guesses['rf']} for the random forest "
               f"on {cores} core(s), features cached (measured on a 2-core VM at CREMA-D size, scaled; within a "
               "factor of about 1.5). Leave-one-speaker-out fits one model per speaker; nested tuning runs one grid "
               "search per speaker.")
if started:
    if corpus is None:
        st.error("Pick a corpus in the sidebar first.")
    else:
        try:
            spec = BaselineSpec(**settings).validate()
            if is_embedding_set(spec.features):
                from ser.learning.finetune.model import locate_model

                model, _ = parse_set_name(spec.features)
                with st.spinner(f"Looking for {model}…"):
                    locate_model(model)  # a folder, the local cache or the hub: fails here, not in the job
            run = submit_baseline(spec, corpus)
            st.session_state["baseline_open"] = run.run_id
            announce(f"Queued {run.run_id}")
            st.rerun()  # from the top, so that the sidebar's watch sees the new job and follows it
        except SerError as exc:
            show_error(exc)


# ------------------------------------------------------------------ jobs in progress
active_jobs(("baseline", "evaluation"))

# ------------------------------------------------------------------ cross-corpus evaluation
st.header("Score a run on another corpus")
st.markdown("A finished run's model classifies the clips of another corpus (a CREMA-D folder or a manifest CSV) "
            "whose emotion it knows; clips of the other emotions are counted, not scored, and the model decides "
            "among the emotions both share. The result is a run of its own (kind *evaluation*): open it below, "
            "or on the Bias page, where its predictions meet the other corpus' metadata. From a terminal: "
            "`python -m ser evaluate --run ID --manifest CSV`.")
scorable = [run for run in current_runs() if run.status == "finished" and run.kind in ("baseline", "wav2vec2")]
if not scorable:
    st.caption("No finished baseline or wav2vec2 run yet to score.")
else:
    with st.form("evaluation_form", enter_to_submit=False):
        left, right = st.columns([2, 3])
        source_id = left.selectbox("Finished run", [run.run_id for run in scorable], key="evaluation_run",
                                   format_func=lambda i: next(r.label() for r in scorable if r.run_id == i))
        target = right.text_input("Other corpus: a CREMA-D folder or a manifest CSV (a path on this machine)",
                                  key="evaluation_corpus")
        score = st.form_submit_button("Score on this corpus", key="start_evaluation")
    if score:
        if not target.strip():
            st.error("Give the other corpus: the path of a CREMA-D folder (with AudioWAV/) or of a manifest CSV.")
        else:
            try:
                run = submit_evaluation(source_id, load_corpus(target))
                st.session_state["baseline_open"] = run.run_id
                announce(f"Queued {run.run_id}")
                st.rerun()
            except SerError as exc:
                show_error(exc)

# ------------------------------------------------------------------ runs
st.header("Runs")
runs = current_runs()
if not runs:
    st.info("No runs yet: start one above, or from a terminal with `python -m ser baseline --model svm`.")
    st.stop()
table = runs_table(runs)
st.dataframe(table.round(3), hide_index=True, key="runs_table")
run = pick_run(runs, "open_run", "baseline_open")
show_run(run, key="baseline_run")
if run.kind == "evaluation" and run.status == "finished":
    evaluated = run.info["spec"]
    unscored = ", ".join(f"{label} {clips}" for label, clips in (run.info.get("unscored") or {}).items()) or "none"
    same = " These are the audio files the run was trained on: the scores include its training clips."
    st.caption(f"Run {evaluated['source_run']} (trained on {evaluated.get('source_corpus')}) scored on "
               f"{run.info['corpus']['name']}: {run.info.get('clips')} clips of {', '.join(evaluated['labels'])}; "
               f"clips of emotions the model does not know: {unscored}; clips that failed: "
               f"{len(run.info.get('failed') or [])}.{same if evaluated.get('same_audio') else ''}")
delete_box(run, "confirm_delete", "delete_run", "baseline_open")
