import numpy as np
import pandas as pd
import pytest

from ser import config
from ser.clustering import (contingency, kmeans_clusters, overall_purity, pca_embedding, purity,
                            silhouette_reading, umap_embedding)
from ser.corpus import load_corpus
from ser.errors import ConfigError
from ser.features import extract_features


@pytest.fixture(scope="module")
def features(small_demo, tmp_path_factory):
    return extract_features(load_corpus(small_demo), "mfcc13", jobs=2, use_cache=False).table


def test_kmeans_shapes_and_silhouette(features):
    result = kmeans_clusters(features, 6)
    assert result.labels.index.equals(features.index)
    assert set(result.labels) == set(range(6))
    assert -1 <= result.silhouette <= 1
    assert kmeans_clusters(features, 6).labels.equals(result.labels)  # seeded


def test_separated_blobs_get_a_high_silhouette():
    rng = np.random.default_rng(0)
    blobs = np.vstack([rng.normal(loc=c, scale=0.1, size=(30, 2)) for c in (0, 10, 20)])
    frame = pd.DataFrame(blobs, index=[f"c{i}" for i in range(90)])
    result = kmeans_clusters(frame, 3)
    assert result.silhouette > 0.8
    assert "strong structure" in silhouette_reading(result.silhouette)
    assert "no substantial structure" in silhouette_reading(0.1)


def test_invalid_k(features):
    with pytest.raises(ConfigError):
        kmeans_clusters(features, 1)


def test_contingency_sums_and_purity(small_demo, features):
    clips = load_corpus(small_demo).clips.loc[features.index]
    labels = kmeans_clusters(features, 4).labels
    table = contingency(labels, clips["emotion"])
    assert table.to_numpy().sum() == len(features)
    assert (table.sum(axis=1) == labels.value_counts().sort_index()).all()
    per_cluster = purity(table)
    assert ((per_cluster["purity"] > 0) & (per_cluster["purity"] <= 1)).all()
    exact = contingency(clips["emotion"].rename("cluster"), clips["emotion"])
    assert overall_purity(exact) == 1.0


def test_pca_and_cached_umap(features):
    coords, variance = pca_embedding(features)
    assert coords.shape == (len(features), 2) and 0 < sum(variance) <= 1
    first = umap_embedding(features, n_neighbors=10)
    assert first.shape == (len(features), 2) and np.isfinite(first.to_numpy()).all()
    cached = list((config.cache_dir() / "embeddings").glob("*.parquet"))
    assert len(cached) == 1
    mtime = cached[0].stat().st_mtime_ns
    again = umap_embedding(features, n_neighbors=10)
    pd.testing.assert_frame_equal(first, again)
    assert cached[0].stat().st_mtime_ns == mtime  # read, not recomputed


def test_a_corrupt_embedding_cache_is_recomputed(features, caplog):
    first = umap_embedding(features, n_neighbors=8)
    [cached] = [p for p in (config.cache_dir() / "embeddings").glob("*.parquet")]
    cached.write_bytes(b"PAR1 truncated")
    again = umap_embedding(features, n_neighbors=8)
    pd.testing.assert_frame_equal(first, again)
    assert "unreadable" in caplog.text
