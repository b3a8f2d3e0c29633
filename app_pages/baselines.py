"""RQ2: how well do classical classifiers do? Random forest and SVM with the report's grids, run as
jobs that survive a page reload; every result is a run in the registry."""

import streamlit as st

from ser.learning.baselines import BaselineSpec, grid_size
from ser.errors import SerError
from ser.learning.features import FEATURE_SETS
from ser.jobs.control import submit_baseline
from ser.params import spec_params
from ser.runs import runs_table
from ser.learning.splits import WHY_SPLITS_MATTER
from ui.jobs_panel import active_jobs
from ui.live import announce, current_runs
from ui.run_report import delete_box, pick_run, show_run
from ui.sidebar import corpus_sidebar
from ui.spec_form import spec_form
from ui.state import show_error

corpus = corpus_sidebar()
st.title("Baselines: how well do classical classifiers do?")
st.markdown("A standard scaler and a random forest or SVM, tuned by grid search with 5-fold cross-validation "
            "on the training part, then scored on the held-out clips. The report reached about 0.45 accuracy "
            "with these on CREMA-D's 13 mean MFCCs.")
st.info(WHY_SPLITS_MATTER, icon=":material/record_voice_over:")

# ------------------------------------------------------------------ start a job
with st.form("baseline_form", enter_to_submit=False):  # Enter in a number box never starts a job
    settings = spec_form(BaselineSpec, "baseline", columns=3, options={"features": list(FEATURE_SETS)})
    started = st.form_submit_button("Start", type="primary", key="start_baseline")
folds = spec_params(BaselineSpec)["cv_folds"].default
st.caption(f"The report's grids: SVM {grid_size('svm')} candidates (C, gamma, kernel), random forest {grid_size('rf')} "
           f"(trees, depth, split and leaf sizes), each cross-validated {folds} times. The job uses every core.")
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
            run = submit_baseline(spec, corpus)
            st.session_state["baseline_open"] = run.run_id
            announce(f"Queued {run.run_id}")
            st.rerun()  # from the top, so that the sidebar's watch sees the new job and follows it
        except SerError as exc:
            show_error(exc)


# ------------------------------------------------------------------ jobs in progress
active_jobs(("baseline",))

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
delete_box(run, "confirm_delete", "delete_run", "baseline_open")
