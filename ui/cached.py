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


@st.cache_resource(max_entries=2, show_spinner="Loading the run's model…")
def predictor(run_id: str, stamp: str):
    """A run's model, loaded once per run and modification stamp (a resource, shared between sessions)."""
    from ser.learning.predict import Predictor
    from ser.runs import load_run

    return Predictor(load_run(run_id))
