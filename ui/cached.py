"""Streamlit caches around pure engine calls (memory only; what must survive a restart is cached
on disk by the engine itself)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ser.analysis import clustering


# The Clusters page's caches take a short key for the feature table (clustering.table_fingerprint) and the
# table itself unhashed (_features): hashing a 7,462-row DataFrame at every call cost more than the rest.

@st.cache_data(show_spinner="Clustering…", max_entries=32)
def cluster_report(table: str, k: int, attributes_key: str, _features: pd.DataFrame,
                   _attributes: dict[str, pd.Series]) -> clustering.ClusterReport:
    return clustering.cluster_report(_features, k, _attributes)


@st.cache_data(show_spinner=False, max_entries=8)
def pca(table: str, _features: pd.DataFrame):
    return clustering.pca_embedding(_features)


@st.cache_data(show_spinner=False, max_entries=8)
def umap(table: str, n_neighbors: int, min_dist: float, _features: pd.DataFrame) -> pd.DataFrame:
    """The UMAP view from the disk cache, or computed (the page computes it with its progress first)."""
    return clustering.umap_embedding(_features, n_neighbors=n_neighbors, min_dist=min_dist)


@st.cache_data(show_spinner="Joining the run's predictions with its clips…", max_entries=8)
def analysis(run_id: str, part: str, stamp: int) -> pd.DataFrame:
    from ser.analysis.bias import analysis_frame
    from ser.data.corpus import load_corpus
    from ser.runs import load_run

    run = load_run(run_id)
    return analysis_frame(run, load_corpus(run.info["corpus"]["source"]).clips, part)


@st.cache_data(show_spinner="Resampling actors for the intervals and shuffling for the gap test…", max_entries=64)
def group_report(run_id: str, part: str, by, n_boot: int, stamp: int, _frame: pd.DataFrame):
    from ser.analysis.bias import cached_group_report
    from ser.runs import load_run

    return cached_group_report(load_run(run_id), _frame, by, part, n_boot=n_boot)


@st.cache_data(show_spinner=False, max_entries=32)
def error_tree(run_id: str, part: str, depth: int, stamp: int, _frame: pd.DataFrame):
    from ser.analysis.bias import error_tree as build, tree_dot

    tree = build(_frame, depth)
    return tree, tree_dot(tree)


@st.cache_resource(max_entries=2, show_spinner="Loading the run's model…")
def predictor(run_id: str, stamp: str):
    """A run's model, loaded once per run and modification stamp (a resource, shared between sessions)."""
    from ser.learning.predict import Predictor
    from ser.runs import load_run

    return Predictor(load_run(run_id))
