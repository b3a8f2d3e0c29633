"""The sidebar every page starts with: which corpus, and what state it is in."""

from __future__ import annotations

import streamlit as st

from ser.data.corpus import Corpus
from ser.data.demo import DEMO_NOTE
from ser.errors import SerError
from ser.jobs.queue import is_local
from ser.jobs.worker import ensure_local_worker
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
        worker_status()
    return corpus


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
