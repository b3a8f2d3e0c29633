"""Extract (or read from the cache) one feature set, with a progress bar, and say what happened."""

from __future__ import annotations

import streamlit as st

from ser.data.corpus import Corpus
from ser.errors import SerError
from ser.learning.features import FEATURE_SETS, FeatureResult, extract_features
from ui.state import show_error


def features_with_progress(corpus: Corpus, set_name: str) -> FeatureResult | None:
    """Features for the corpus; a progress bar while clips are computed, a fast read on a cache hit."""
    bar = st.progress(0.0, text=f"{set_name}: reading the cache…")

    def report(done: int, total: int, message: str) -> None:
        bar.progress(done / max(total, 1), text=message)

    try:
        result = extract_features(corpus, set_name, progress=report)
    except SerError as exc:
        bar.empty()
        show_error(exc)
        return None
    bar.empty()
    return result


def feature_set_picker(key: str, default: str = "mfcc13") -> str:
    names = list(FEATURE_SETS)
    return st.selectbox("Feature set", names, index=names.index(default), key=key,
                        format_func=lambda n: f"{n}: {FEATURE_SETS[n].description}")


def describe_result(result: FeatureResult) -> None:
    source = "read from the cache" if result.cached else f"{result.computed:,} computed"
    st.caption(f"{result.set_name}: {len(result.table):,} clips, {len(result.failed)} failed, "
               f"{result.seconds:.2f} s ({source}).")
    if result.failed:
        with st.expander(f"{len(result.failed)} clip(s) could not be used for features"):
            st.dataframe([{"clip": p.clip, "problem": p.problem} for p in result.failed[:500]], hide_index=True)
