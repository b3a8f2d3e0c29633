"""The sidebar every page starts with: which corpus, and what state it is in; the worker, and the watch
that redraws the page when a job's status changes."""

from __future__ import annotations

import streamlit as st

from ser.data.corpus import Corpus
from ser.data.demo import DEMO_NOTE
from ser.errors import SerError
from ser.jobs.queue import is_local
from ser.jobs.worker import ensure_local_worker, live_workers
from ui.live import ACTIVE, NEWS_KEY, announce, current_runs, live_fragment
from ui.state import SOURCE_KEY, current_corpus, reload_corpus, show_error


def corpus_sidebar() -> Corpus | None:
    """Draw the corpus picker and return the loaded corpus (None after showing why it failed)."""
    with st.sidebar:
        st.subheader("Corpus")
        st.text_input("CREMA-D folder or manifest CSV", key=SOURCE_KEY,
                      placeholder="empty: $SER_DATA, else the demo corpus",
                      help="A CREMA-D folder holds AudioWAV/ and, optionally, VideoDemographics.csv, "
                           "SentenceFilenames.csv and processedResults/. A manifest CSV has the columns "
                           "path, emotion, speaker and any metadata.")
        if st.button("Rescan files", key="rescan", help="Read the folder again after adding or changing files"):
            reload_corpus()
        corpus = current_corpus()
        if corpus is not None:
            st.caption(f"**{corpus.name}** · {len(corpus.clips):,} clips · "
                       f"{corpus.clips['speaker'].nunique()} speakers · {len(corpus.problems)} problems")
            if corpus.synthetic:
                st.warning(DEMO_NOTE, icon=":material/science:")
        watch_jobs()
    for news in st.session_state.pop(NEWS_KEY, []):
        st.toast(news)
    return corpus


def watch_jobs() -> None:
    """The worker's state, and while a job is queued or running (or a worker is busy or starting) a look
    every few seconds: when a job's status or the worker's changes, the whole page runs again, so every
    table, picker and opened run shows it at once. With nothing to wait for, nothing polls. (The sidebar
    is drawn before the page: a page that queues a job runs again at once, so that this sees it.)"""
    seen = job_states()
    runs, workers = seen
    waiting = (any(status in ACTIVE for _, status in runs) or any(doing for _, doing in workers)
               or (is_local() and not workers))  # a job in progress, a worker busy or starting
    live_fragment(_watch, waiting)(seen)


def job_states() -> tuple:
    """(run id, status) of every run, and the local workers' (id, current run)."""
    runs = tuple((run.run_id, run.status) for run in current_runs())
    workers = tuple(sorted((w["id"], w.get("current_run") or "") for w in live_workers()))
    return runs, workers


def _watch(seen: tuple) -> None:
    now = job_states()
    if now != seen:
        before = dict(seen[0])
        for run_id, status in now[0]:
            if before.get(run_id) in ACTIVE and status not in ACTIVE:
                announce(f"{run_id} {status}")
        st.rerun()
    worker_status()


def worker_status() -> None:
    """The job worker: start a local one when none is alive (SQLite queue), say what it is doing."""
    try:
        state = ensure_local_worker()
    except SerError as exc:
        show_error(exc)
        return
    st.subheader("Worker")
    if state is None:
        if is_local():
            st.caption("Starting a local worker…")
        else:
            st.warning("No worker is alive on the shared queue: start `python -m ser worker` on a GPU host.")
        return
    doing = f"running {state['current_run']}" if state.get("current_run") else "idle"
    started = " · auto-started: stops when idle and no app or CLI uses it" if state.get("auto") else ""
    st.caption(f"{state['host']} · {state['device']} · {doing}{started}")
