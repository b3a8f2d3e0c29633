"""Streamlit caches around pure engine calls (memory only; what must survive a restart is cached
on disk by the engine itself)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ser import clustering


@st.cache_data(show_spinner="Clustering…", max_entries=16)
def kmeans(features: pd.DataFrame, k: int, seed: int = 0) -> clustering.Clustering:
    return clustering.kmeans_clusters(features, k, seed)


@st.cache_data(show_spinner=False, max_entries=8)
def pca(features: pd.DataFrame):
    return clustering.pca_embedding(features)


@st.cache_data(show_spinner="Computing the UMAP view (the first time takes about half a minute)…", max_entries=8)
def umap(features: pd.DataFrame, n_neighbors: int, min_dist: float) -> pd.DataFrame:
    return clustering.umap_embedding(features, n_neighbors=n_neighbors, min_dist=min_dist)
