"""RQ1: how distinct are emotions in audio features? Standardised features, KMeans, silhouette,
PCA and UMAP views, and contingency tables that show whether clusters follow emotion or speaker.

The 2-D embeddings are cached on disk per feature table and parameters, so changing only the
colouring (or reloading the page) never recomputes UMAP."""

from __future__ import annotations

import hashlib
import logging
import os
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import config
from .errors import ConfigError

log = logging.getLogger(__name__)


@dataclass
class Clustering:
    labels: pd.Series  # clip_id -> cluster number
    silhouette: float
    k: int
    inertia: float


def standardise(features: pd.DataFrame) -> np.ndarray:
    from sklearn.preprocessing import StandardScaler

    return StandardScaler().fit_transform(features.to_numpy(dtype=np.float64))


def kmeans_clusters(features: pd.DataFrame, k: int = 6, seed: int = 0) -> Clustering:
    """KMeans on standardised features and the silhouette score of the result (computed on at most
    10,000 clips, a seeded sample beyond that)."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    if not 2 <= k < len(features):
        raise ConfigError(f"k must be between 2 and {len(features) - 1} for {len(features)} clips; got {k}.",
                          title="Invalid number of clusters")
    X = standardise(features)
    model = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(X)
    sample = min(len(X), 10_000)
    score = silhouette_score(X, model.labels_, sample_size=sample if sample < len(X) else None, random_state=seed)
    return Clustering(pd.Series(model.labels_, index=features.index, name="cluster"), float(score), k,
                      float(model.inertia_))


def silhouette_reading(score: float) -> str:
    """One line on what a silhouette score means (Kaufman & Rousseeuw's bands)."""
    if score > 0.7:
        band = "strong structure: the clusters are well separated"
    elif score > 0.5:
        band = "reasonable structure"
    elif score > 0.25:
        band = "weak structure that may be artificial"
    else:
        band = "no substantial structure: clips sit about as close to other clusters as to their own"
    return f"Silhouette {score:.3f} (from -1 to 1): {band}."


def pca_embedding(features: pd.DataFrame) -> tuple[pd.DataFrame, list[float]]:
    """The first two principal components and the share of variance each explains."""
    from sklearn.decomposition import PCA

    pca = PCA(n_components=2, random_state=0)
    coords = pca.fit_transform(standardise(features))
    return _frame(coords, features.index), [float(v) for v in pca.explained_variance_ratio_]


def umap_embedding(features: pd.DataFrame, n_neighbors: int = 15, min_dist: float = 0.1, seed: int = 0) -> pd.DataFrame:
    """UMAP in 2-D (umap-learn), cached on disk by the feature values and the parameters."""
    key = _embedding_key(features, f"umap-{n_neighbors}-{min_dist}-{seed}")
    path = config.cache_dir() / "embeddings" / f"{key}.parquet"
    cached = _read_cached(path, features.index)
    if cached is not None:
        return cached
    with warnings.catch_warnings():  # "Tensorflow not installed; ParametricUMAP will be unavailable"
        warnings.simplefilter("ignore", ImportWarning)
        import umap

    n_neighbors = max(2, min(n_neighbors, len(features) - 1))
    reducer = umap.UMAP(n_neighbors=n_neighbors, min_dist=min_dist, random_state=seed, n_jobs=1)
    coords = _frame(reducer.fit_transform(standardise(features)), features.index)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    coords.to_parquet(tmp)
    os.replace(tmp, path)
    return coords


def contingency(clusters: pd.Series, attribute: pd.Series) -> pd.DataFrame:
    """Clips per cluster (rows) and attribute value (columns)."""
    values = attribute.reindex(clusters.index).astype(object).where(lambda v: v.notna(), "unknown")
    return pd.crosstab(clusters.rename("cluster"), values.rename(attribute.name or "value"))


def purity(table: pd.DataFrame) -> pd.DataFrame:
    """Per cluster: its size, the dominant value and the share of the cluster it covers."""
    size = table.sum(axis=1)
    return pd.DataFrame({"clips": size, "dominant": table.idxmax(axis=1),
                         "purity": (table.max(axis=1) / size.replace(0, 1)).round(3)})


def overall_purity(table: pd.DataFrame) -> float:
    """Share of clips that belong to their cluster's dominant value (1.0: clusters follow it exactly)."""
    total = table.to_numpy().sum()
    return float(table.max(axis=1).sum() / total) if total else float("nan")


def _frame(coords: np.ndarray, index: pd.Index) -> pd.DataFrame:
    return pd.DataFrame(coords.astype(np.float32), index=index, columns=["x", "y"])


def _embedding_key(features: pd.DataFrame, params: str) -> str:
    digest = hashlib.sha1(params.encode())
    digest.update("|".join(map(str, features.index)).encode())
    digest.update(np.ascontiguousarray(features.to_numpy(dtype=np.float32)).tobytes())
    return digest.hexdigest()[:20]


def _read_cached(path, index: pd.Index) -> pd.DataFrame | None:
    if not path.exists():
        return None
    try:
        frame = pd.read_parquet(path)
        return frame.loc[index]
    except Exception as exc:
        log.warning("embedding cache %s unreadable (%s); recomputing", path, exc)
        path.unlink(missing_ok=True)
        return None
