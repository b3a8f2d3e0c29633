"""RQ3: how do pretrained wav2vec2 models and hyperparameters matter? Fine-tuning jobs run by the
background worker (on a GPU where there is one), watched live; the report's learning-rate search."""

import streamlit as st

from ser.errors import SerError
from ser.learning.finetune import REPORT_MODELS, FinetuneSpec
from ser.learning.finetune.lr_search import LrSearchSpec
from ser.jobs.control import submit_finetune, submit_lr_search
from ser.learning.finetune.model import locate_model
from ser.params import spec_params
from ser.jobs.worker import live_workers
from ui.jobs_panel import job_progress
from ui.live import ACTIVE, any_active, current_runs, live_fragment
from ui.page_state import kept
from ui.run_report import delete_box, pick_run, show_run
from ui.sidebar import corpus_sidebar
from ui.spec_form import spec_form
from ser.runs import comparison_table
from ui.training_view import curves, search_chart, training_facts

OTHER = "another hub id or a local folder…"
KINDS = ("wav2vec2", "lr-search")
NOTICE = "ft_notice"  # what the last Start said: where the model comes from, or why nothing was queued

corpus = corpus_sidebar()
st.title("Fine-tuning wav2vec2: how do pretrained models and settings matter?")
st.markdown("A pretrained wav2vec2 checkpoint gets a classification head and is fine-tuned on the corpus with "
            "Hugging Face's Trainer (feature encoder frozen, as in the report), early-stopped on validation "
            "macro-F1. Jobs run in the background worker; you can leave this page and come back.")
st.caption("The report's best run reached macro-F1 0.7932 on CREMA-D, measured on the **validation** part of "
           "its random 70/15/15 split, where the same actors appear in training, with batches of 32 × 4 "
           "(gradient accumulation). It is not a yardstick for test scores on the actor-disjoint split (the "
           "default here), where every test actor is unseen in training.")
workers = live_workers()
if workers and not any(str(w.get("device", "")).startswith("cuda") for w in workers):
    st.warning("The worker has no GPU: fine-tuning a real wav2vec2 checkpoint on the CPU takes hours. Run "
               "`python -m ser worker` on a GPU machine that shares this cache (see the README).",
               icon=":material/memory:")

with st.form("finetune_form", enter_to_submit=False):  # Enter in the hub-id box never starts a job
    model_field = spec_params(FinetuneSpec)["model"]
    suggested = list(dict.fromkeys([model_field.default, *REPORT_MODELS]))
    columns = st.columns([2, 2])
    choices = [*suggested, OTHER]
    choice = columns[0].selectbox(model_field.label, choices, key=kept("ft_model_choice", choices),
                                  help=model_field.help)
    custom = columns[1].text_input("Hub id or folder (when 'another' is chosen)", key=kept("ft_model_custom"),
                                   placeholder="e.g. /models/wav2vec2-base or superb/wav2vec2-base-superb-er")
    training = spec_form(FinetuneSpec, "ft", columns=4, skip=("model",))
    search = st.toggle("Learning-rate search", key=kept("ft_search"),
                       help="Run the report's Algorithm 1 instead of one training, starting at the learning rate "
                            "above: lr/10, lr, lr*10, then narrow")
    searching = spec_form(LrSearchSpec, "ft", columns=4)
    started = st.form_submit_button("Start", type="primary", key="ft_start")

if started:
    model = custom.strip() if choice == OTHER else choice
    try:
        if corpus is None:
            raise SerError("pick a corpus in the sidebar first.", title="No corpus")
        spec = FinetuneSpec(model=model, **training).validate()
        with st.spinner(f"Looking for {model}…"):
            found = locate_model(spec.model)  # a folder, the local cache or the hub: fails here, not in the job
        run = (submit_lr_search(spec, corpus, **{**searching, "init_lr": spec.learning_rate}) if search
               else submit_finetune(spec, corpus))
        st.session_state["ft_open"] = run.run_id
        st.session_state[NOTICE] = ("success", f"Queued {run.run_id}: {found.message}", run.run_id)
    except SerError as exc:
        st.session_state[NOTICE] = ("error", f"**{exc.title}**  \n{exc.detail}", None)
    else:
        st.rerun()  # from the top, so that the sidebar's watch sees the new job and follows it
if NOTICE in st.session_state:  # until the next Start; a queued run's note while it waits or runs
    kind, text, queued = st.session_state[NOTICE]
    if kind == "error":
        st.error(text)
    elif any(r.run_id == queued and r.status in ACTIVE for r in current_runs(KINDS)):
        st.success(text)


def live() -> None:
    active = [r for r in current_runs(KINDS) if r.status in ACTIVE]
    if not active:
        return
    st.header("Training now")
    for run in active:
        job_progress(run)
        if training_facts(run):
            st.caption(training_facts(run))
        if run.kind == "lr-search":
            search_chart(run, key=f"live_{run.run_id}")
        else:
            curves(run, key=f"live_{run.run_id}")


live_fragment(live, any_active(current_runs(KINDS)))()

st.header("Runs")
runs = current_runs(KINDS)
if not runs:
    st.info("No fine-tuning run yet. Start one above, or from a terminal: "
            "`python -m ser finetune --model facebook/wav2vec2-base-960h --wait`.")
    st.stop()
table = comparison_table([r for r in runs if r.kind == "wav2vec2"])
if not table.empty:
    st.markdown("Laid out like the report's Table 5 (epochs: trained/asked; early stopping may end a run sooner).")
    st.dataframe(table.round(4), hide_index=True, key="ft_table")
ids = [r.run_id for r in runs]
run = pick_run(runs, "ft_open_run", "ft_open")  # kept, and in the URL
if run.kind == "lr-search":
    search_chart(run, key="ft_run")
else:
    curves(run, key="ft_run")
show_run(run, key="ft_run")
delete_box(run, "ft_confirm_delete", "ft_delete", "ft_open")
