"""RQ3: how do pretrained wav2vec2 models and hyperparameters matter? Fine-tuning jobs run by the
background worker (on a GPU where there is one), watched live; the report's learning-rate search."""

import streamlit as st

from ser.errors import SerError
from ser.finetune import REPORT_MODELS, SCHEDULERS, FinetuneSpec
from ser.finetune.lr_search import DEFAULT_SCHEDULE, SCHEDULES
from ser.jobs import refresh, submit_finetune, submit_lr_search
from ser.runs import list_runs
from ser.worker import live_workers
from ui.jobs_panel import job_progress, stopped_job
from ui.run_report import delete_box, pick_run, show_run
from ui.sidebar import corpus_sidebar
from ui.state import show_error
from ui.training_view import comparison_table, curves, live_status, search_chart

OTHER = "another hub id or a local folder…"
KINDS = ("wav2vec2", "lr-search")
SCHEDULE_NAMES = {"algorithm1": "the report's Algorithm 1: each round longer, the best retrained",
                  "fixed": "cheaper variant of Algorithm 1: same length every round, the best carried over"}

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

with st.form("finetune_form"):
    columns = st.columns([2, 2])
    choice = columns[0].selectbox("Pretrained model", [*REPORT_MODELS, OTHER], key="ft_model_choice")
    custom = columns[1].text_input("Hub id or folder (when 'another' is chosen)", key="ft_model_custom",
                                   placeholder="e.g. /models/wav2vec2-base or superb/wav2vec2-base-superb-er")
    columns = st.columns(4)
    learning_rate = columns[0].number_input("Learning rate", value=1e-4, min_value=1e-7, max_value=1e-1,
                                            format="%.0e", step=1e-5, key="ft_lr")
    epochs = columns[1].number_input("Epochs", value=10, min_value=1, max_value=200, key="ft_epochs",
                                     help="For one training; the search sets each round's length itself")
    batch = columns[2].number_input("Batch size", value=8, min_value=1, max_value=256, key="ft_batch")
    accum = columns[3].number_input("Gradient accumulation", value=4, min_value=1, max_value=64, key="ft_accum")
    columns = st.columns(4)
    scheduler = columns[0].selectbox("Scheduler", list(SCHEDULERS), key="ft_scheduler")
    warmup = columns[1].number_input("Warm-up ratio", value=0.1, min_value=0.0, max_value=0.9, step=0.05,
                                     key="ft_warmup")
    patience = columns[2].number_input("Early-stopping patience (epochs)", value=3, min_value=0, max_value=50,
                                       key="ft_patience")
    split = columns[3].selectbox("Split (70/15/15)", ["actor", "report"], key="ft_split",
                                 format_func=lambda s: "actor-disjoint" if s == "actor" else "the report's random")
    columns = st.columns(4)
    max_seconds = columns[0].number_input("Max clip length (s)", value=6.0, min_value=1.0, max_value=60.0,
                                          key="ft_max_seconds")
    seed = columns[1].number_input("Seed", value=3, step=1, key="ft_seed")
    search = columns[2].toggle("Learning-rate search", key="ft_search",
                               help="Run the report's Algorithm 1 instead of one training: lr/10, lr, lr*10, then narrow")
    factor = columns[3].number_input("Search factor", value=0.5, min_value=0.05, max_value=0.95, step=0.05,
                                     key="ft_factor")
    columns = st.columns([2, 1, 1])
    schedule = columns[0].selectbox("Search schedule", list(SCHEDULES), key="ft_schedule",
                                    index=list(SCHEDULES).index(DEFAULT_SCHEDULE),
                                    format_func=SCHEDULE_NAMES.get,
                                    help="Algorithm 1, as the report's notebook: 3 candidates a round, each round "
                                         "5 epochs longer (5, 10, 15, ...), the best rate retrained from scratch. "
                                         "The variant: 2 new rates a round at one length, the best's earlier score "
                                         "kept. With 5 epochs a round and 4 rounds: 150 epochs at most against 45.")
    epochs_per_round = columns[1].number_input("Epochs per round", value=5, min_value=1, max_value=50,
                                               key="ft_epochs_per_round",
                                               help="Algorithm 1: round r trains r times this many epochs; the "
                                                    "variant: this many every round")
    max_rounds = columns[2].number_input("Rounds at most", value=4, min_value=1, max_value=10, key="ft_max_rounds")
    started = st.form_submit_button("Start", type="primary", key="ft_start")

if started:
    model = custom.strip() if choice == OTHER else choice
    try:
        if corpus is None:
            raise SerError("pick a corpus in the sidebar first.", title="No corpus")
        spec = FinetuneSpec(model=model, learning_rate=float(learning_rate), epochs=int(epochs),
                            batch_size=int(batch), grad_accum=int(accum), scheduler=scheduler,
                            warmup_ratio=float(warmup), patience=int(patience), seed=int(seed), split=split,
                            max_seconds=float(max_seconds)).validate()
        run = (submit_lr_search(spec, corpus, init_lr=float(learning_rate), factor=float(factor),
                                epochs_per_round=int(epochs_per_round), max_rounds=int(max_rounds), schedule=schedule)
               if search else submit_finetune(spec, corpus))
        st.session_state["ft_open"] = run.run_id
        st.toast(f"Queued {run.run_id}")
    except SerError as exc:
        show_error(exc)


@st.fragment(run_every=2.0)
def live() -> None:
    active = [refresh(r) for r in list_runs() if r.kind in KINDS and r.status in ("queued", "running")]
    if not active:
        return
    st.header("Training now")
    for run in active:
        job_progress(run)
        st.caption(live_status(run))
        if run.kind == "lr-search":
            search_chart(run, key=f"live_{run.run_id}")
        else:
            curves(run, key=f"live_{run.run_id}")


live()

st.header("Runs")
runs = [refresh(r) for r in list_runs() if r.kind in KINDS]
if not runs:
    st.info("No fine-tuning run yet. Start one above, or from a terminal: "
            "`python -m ser finetune --model facebook/wav2vec2-base-960h --wait`.")
    st.stop()
table = comparison_table([r for r in runs if r.kind == "wav2vec2"])
if not table.empty:
    st.markdown("Laid out like the report's Table 5 (epochs: trained/asked; early stopping may end a run sooner).")
    st.dataframe(table.round(4), hide_index=True, key="ft_table")
run = pick_run(runs, "ft_open_run", "ft_open")
if run.status in ("interrupted", "failed", "cancelled"):
    stopped_job(run)
if run.kind == "lr-search":
    search_chart(run, key="ft_run")
else:
    curves(run, key="ft_run")
show_run(run, key="ft_run")
delete_box(run, "ft_confirm_delete", "ft_delete", "ft_open")
