"""The corpus the user picked, loaded through the engine and cached per source and signature."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ser import config
from ser.data.corpus import Corpus, corpus_signature, load_corpus
from ser.data.demo import generate_demo_corpus, is_demo_corpus
from ser.data.demo.folder import marker, read_marker
from ser.errors import SerError

SOURCE_KEY = "corpus_source"


def current_source() -> str | None:
    """What the sidebar names: a folder or manifest path, or None for SER_DATA / the demo corpus."""
    text = (st.session_state.get(SOURCE_KEY) or "").strip()
    return text or config.data_source()


@st.cache_resource(show_spinner="Reading the corpus…", max_entries=4)
def load(source: str | None, signature: str) -> Corpus:
    """The corpus at ``source``, read once per signature (its files' stats) and shared between reruns,
    pages and sessions, not copied: ``st.cache_data`` unpickled a copy of 7,000 clips' table at every rerun
    (25-120 ms). Nothing may modify it; with pandas' copy-on-write, derived tables never do."""
    return load_corpus(source)


def clips_of(source: str | None) -> pd.DataFrame:
    """The clips table of the corpus at ``source`` (e.g. a run's), through the same cache."""
    return load(source, corpus_signature(source)).clips


def ensure_demo_corpus() -> None:
    """Generate the demo corpus on first use, with a progress bar."""
    if is_demo_corpus(config.demo_dir()) and read_marker(config.demo_dir()) == marker(config.demo_actors(), 0):
        return
    with st.status("Generating the synthetic demo corpus (once, about half a minute)…", expanded=True) as status:
        bar = st.progress(0.0)
        generate_demo_corpus(config.demo_dir(), actors=config.demo_actors(),
                             progress=lambda done, total, message: bar.progress(done / max(total, 1), text=message))
        status.update(label="Demo corpus ready", state="complete", expanded=False)


def current_corpus() -> Corpus | None:
    """The loaded corpus, or None after showing the error that prevented loading it."""
    source = current_source()
    try:
        if source is None:
            ensure_demo_corpus()
        return load(source, corpus_signature(source))
    except SerError as exc:
        show_error(exc)
        return None


def reload_corpus() -> None:
    load.clear()


def show_error(exc: SerError) -> None:
    st.error(f"**{exc.title}**  \n{exc.detail}")
