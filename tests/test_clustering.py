import itertools
import time

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_mutual_info_score, silhouette_score, v_measure_score
from sklearn.preprocessing import StandardScaler

from ser import config
from ser.analysis import clustering
from ser.analysis.clustering import (agreement_table, attribute_agreement, cached_umap, cluster_report, contingency,
                                     kmeans_clusters, overall_purity, pca_embedding, purity, purity_ceiling,
                                     shuffled_tables, silhouette_reading, table_fingerprint, table_purity,
                                     table_v_measure, umap_embedding)
from ser.data.corpus import load_corpus
from ser.errors import ConfigError
from ser.learning.features import extract_features


@pytest.fixture(scope="module")
def features(small_demo, tmp_path_factory):
    return extract_features(load_corpus(small_demo), "mfcc13", jobs=2, use_cache=False).table


def test_kmeans_shapes_and_silhouette(features):
    result = kmeans_clusters(features, 6)
    assert result.labels.index.equals(features.index)
    assert set(result.labels) == set(range(6))
    standardised = StandardScaler().fit_transform(features.to_numpy(dtype=np.float64))
    assert result.silhouette == pytest.approx(silhouette_score(standardised, result.labels))  # all 492 clips
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
    with pytest.raises(ConfigError, match="k must be between 2 and 491 for 492 clips; got 1"):
        kmeans_clusters(features, 1)
    with pytest.raises(ConfigError, match="got 492"):
        kmeans_clusters(features, 492)


def test_contingency_sums_and_purity(small_demo, features):
    clips = load_corpus(small_demo).clips.loc[features.index]
    labels = kmeans_clusters(features, 4).labels
    table = contingency(labels, clips["emotion"])
    assert table.to_numpy().sum() == len(features)
    assert (table.sum(axis=1) == labels.value_counts().sort_index()).all()
    per_cluster = purity(table)
    by_hand = clips.groupby(labels)["emotion"].agg(lambda e: e.value_counts().max() / len(e))
    assert per_cluster["purity"].to_numpy() == pytest.approx(by_hand.sort_index().to_numpy(), abs=5e-4)
    dominant_share = [(clips.loc[labels == c, "emotion"] == e).mean() for c, e in per_cluster["dominant"].items()]
    assert dominant_share == pytest.approx(by_hand.sort_index().tolist())
    exact = contingency(clips["emotion"].rename("cluster"), clips["emotion"])
    assert overall_purity(exact) == 1.0


def test_pca_and_cached_umap(features):
    coords, variance = pca_embedding(features)
    assert coords.shape == (len(features), 2)
    # the principal components of standardised features: the two largest eigenvalues of their covariance,
    # as shares of its trace, and the coordinates' own variances
    eigenvalues = np.linalg.eigvalsh(np.cov(StandardScaler().fit_transform(features), rowvar=False, ddof=0))[::-1]
    assert variance == pytest.approx(eigenvalues[:2] / eigenvalues.sum(), rel=1e-6)
    assert coords.var(ddof=0).to_numpy() == pytest.approx(eigenvalues[:2], rel=1e-6)
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


# ------------------------------------------------------------------ do the clusters follow an attribute?

def crema_shaped(seed=0, n=7442, speakers=91, k=6, follow_speaker=0.7):
    """Clips of 91 speakers and 6 emotions, independent of each other, and k clusters that follow
    speaker groups (speaker modulo k) for a share of the clips and are random for the rest; sex leans
    a little towards the clusters (60% female in the first half of them, 40% in the others)."""
    rng = np.random.default_rng(seed)
    index = pd.Index([f"c{i}" for i in range(n)], name="clip_id")
    speaker = rng.integers(0, speakers, n)
    clusters = np.where(rng.random(n) < follow_speaker, speaker % k, rng.integers(0, k, n))
    attributes = {"emotion": pd.Series(rng.choice(["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"], n), index=index),
                  "speaker": pd.Series(1001 + speaker, index=index),
                  "sex": pd.Series(np.where(rng.random(n) < np.where(clusters < k // 2, 0.6, 0.4), "Female", "Male"),
                                   index=index)}
    return pd.Series(clusters, index=index, name="cluster"), attributes


def test_ami_ranks_a_many_valued_attribute_the_clusters_follow_above_one_they_ignore():
    clusters, attributes = crema_shaped()
    table = agreement_table(clusters, attributes)
    emotion, speaker = table.loc["emotion"], table.loc["speaker"]
    assert emotion["purity"] > 2 * speaker["purity"]  # purity says emotion...
    assert speaker["purity_ceiling"] < 0.1  # ...because speaker's purity cannot exceed about 6/91
    assert speaker["ami"] > 0.2 > 0.01 > emotion["ami"]  # AMI says speaker, by far
    assert speaker["v_measure"] > 10 * emotion["v_measure"]
    assert speaker["beyond_chance"] and not emotion["beyond_chance"]
    assert speaker["reading"].startswith("The clusters follow speaker more than any other attribute")
    assert "purity cannot exceed" in speaker["reading"] and "1.0" not in speaker["reading"]
    assert emotion["reading"].startswith("The clusters ignore emotion")
    sex = table.loc["sex"]  # followed a little: purity far above speaker's, AMI far below
    assert sex["beyond_chance"] and sex["purity"] > 0.55 and 0 < sex["ami"] < speaker["ami"] / 5
    assert sex["reading"].startswith("The clusters follow sex less than speaker")
    assert list(table.index) == ["emotion", "speaker", "sex"]
    assert list(table.columns) == ["values", "purity", "purity_chance", "purity_ceiling", "v_measure",
                                   "v_measure_chance", "ami", "beyond_chance", "reading"]
    assert table["values"].tolist() == [6, 91, 2]


@pytest.mark.parametrize("values", [2, 6, 91])
def test_independent_labels_sit_at_chance(values):
    rng = np.random.default_rng(values)
    n = 7442
    clusters = pd.Series(rng.integers(0, 6, n))
    attribute = pd.Series(rng.integers(0, values, n))
    result = attribute_agreement(clusters, attribute, permutations=20, seed=1)
    assert abs(result["ami"]) < 0.003
    assert result["purity"] == pytest.approx(result["purity_chance"], abs=0.004)
    assert result["purity_chance"] > attribute.value_counts(normalize=True).max()  # not the largest share
    assert result["v_measure"] == pytest.approx(result["v_measure_chance"], abs=0.002)
    # independent labels share (k - 1)(m - 1) / 2n nats by chance (Miller's bias); V-measure divides
    # it by the mean entropy of the two labellings
    entropy = [-(p * np.log(p)).sum() for p in (clusters.value_counts(normalize=True),
                                                 attribute.value_counts(normalize=True))]
    expected = 5 * (values - 1) / (2 * n) / np.mean(entropy)
    assert result["v_measure_chance"] == pytest.approx(expected, rel=0.25)
    assert not result["beyond_chance"]
    assert result["values"] == values


def test_purity_ceiling_by_hand_and_by_brute_force():
    assert purity_ceiling([5, 3, 2], 1) == pytest.approx(0.5)
    assert purity_ceiling([2, 5, 3], 2) == pytest.approx(0.8)
    assert purity_ceiling([5, 3, 2], 3) == 1.0
    assert purity_ceiling([5, 3, 2], 6) == 1.0
    assert purity_ceiling([82] * 91, 6) == pytest.approx(6 / 91)
    values = np.array([0, 0, 0, 0, 1, 1, 2, 3])  # counts 4, 2, 1, 1: at best (4 + 2 + 1) / 8 with 3 clusters
    assignments = np.array(list(itertools.product(range(3), repeat=len(values))))  # every way to form 3 clusters
    tables = np.zeros((len(assignments), 3, 4))
    np.add.at(tables, (np.arange(len(assignments))[:, None], assignments, values[None, :]), 1)
    best = tables.max(axis=2).sum(axis=1).max() / len(values)
    assert best == purity_ceiling(np.bincount(values), 3) == pytest.approx(7 / 8)


def test_the_vectorised_measures_agree_with_scikit_learn():
    rng = np.random.default_rng(3)
    for k, m in [(6, 91), (2, 2), (3, 1), (1, 4), (4, 6)]:
        clusters, values = rng.integers(0, k, 500), rng.integers(0, m, 500)
        values[:m], clusters[:k] = np.arange(m), np.arange(k)  # every code used
        table = np.bincount(clusters * m + values, minlength=k * m).reshape(k, m)
        assert table_v_measure(table) == pytest.approx(v_measure_score(values, clusters), abs=1e-12)
        assert table_purity(table) == pytest.approx(overall_purity(pd.DataFrame(table)))
        shuffled = shuffled_tables(clusters, values, k, m, permutations=5, seed=0)
        assert (shuffled.sum(axis=2) == table.sum(axis=1)).all()  # shuffles keep the cluster sizes...
        assert (shuffled.sum(axis=1) == table.sum(axis=0)).all()  # ...and the value counts
        if k > 1 and m > 1:
            assert not (shuffled == shuffled[0]).all()  # the shuffles differ
    clusters, attributes = crema_shaped(n=2000)
    result = attribute_agreement(clusters, attributes["speaker"])
    assert result["ami"] == pytest.approx(adjusted_mutual_info_score(attributes["speaker"], clusters))
    assert result["v_measure"] == pytest.approx(v_measure_score(attributes["speaker"], clusters))


def test_an_attribute_with_one_value_or_missing_values():
    clusters, attributes = crema_shaped(n=600)
    unknown = pd.Series(np.nan, index=clusters.index, dtype=object)
    partly = attributes["sex"].mask(np.arange(600) % 5 == 0)
    table = agreement_table(clusters, {"speaker": attributes["speaker"], "race": unknown, "sex": partly})
    assert table.loc["race", "values"] == 1 and table.loc["race", "reading"].startswith("One value only")
    assert table.loc["sex", "values"] == 3  # Female, Male, unknown, as in the contingency table
    assert table.loc["sex", "purity"] == pytest.approx(overall_purity(contingency(clusters, partly)))


def test_agreement_is_fast_on_a_crema_sized_corpus():
    clusters, attributes = crema_shaped()
    attribute_agreement(clusters, attributes["emotion"])  # imports
    start = time.perf_counter()
    agreement_table(clusters, attributes)
    assert (time.perf_counter() - start) / len(attributes) < 0.5


def test_contingency_is_crosstab_with_missing_values_as_unknown():
    rng = np.random.default_rng(3)
    clusters = pd.Series(rng.integers(0, 5, 400), index=[f"c{i}" for i in range(400)], name="cluster")
    for values in (rng.choice(["ANG", "SAD", None], 400), rng.choice([20, 35, 51], 400).astype(float)):
        attribute = pd.Series(values, index=clusters.index, name="attr")
        if attribute.dtype == float:
            attribute.iloc[:7] = np.nan
        filled = attribute.astype(object).where(attribute.notna(), "unknown")
        expected = pd.crosstab(clusters, filled.rename("attr"))
        pd.testing.assert_frame_equal(contingency(clusters, attribute), expected, check_dtype=False,
                                      check_index_type=False, check_column_type=False)


def test_the_silhouette_of_a_large_corpus_is_a_seeded_sample(features, monkeypatch):
    monkeypatch.setattr(clustering, "SILHOUETTE_SAMPLE", 100)
    result = kmeans_clusters(features, 4)
    assert result.silhouette_sample == 100
    X = StandardScaler().fit_transform(features.to_numpy(dtype=np.float64))
    assert result.silhouette == pytest.approx(silhouette_score(X, result.labels.to_numpy(), sample_size=100,
                                                               random_state=0))
    monkeypatch.setattr(clustering, "SILHOUETTE_SAMPLE", len(features))
    whole = kmeans_clusters(features, 4)
    assert whole.silhouette_sample == 0
    assert whole.silhouette == pytest.approx(silhouette_score(X, whole.labels.to_numpy()))


def test_cluster_report_gathers_the_page_s_tables(small_demo, features):
    clips = load_corpus(small_demo).clips.loc[features.index]
    attributes = {a: clips[a] for a in ["emotion", "sex", "speaker", "intensity"]}
    attributes["none"] = pd.Series(np.nan, index=clips.index)
    report = cluster_report(features, 3, attributes)
    assert list(report.agreement.index) == ["emotion", "sex", "speaker", "intensity"]  # "none" has no value
    assert report.clustering.k == 3 and set(report.tables) == set(report.purity) == set(report.agreement.index)
    assert report.tables["speaker"].to_numpy().sum() == len(features)
    assert len(report.purity["emotion"]) == 3


def test_table_fingerprint_names_the_values_and_the_clips(features):
    assert table_fingerprint(features) == table_fingerprint(features.copy())
    changed = features.copy()
    changed.iloc[0, 0] += 1e-3
    assert table_fingerprint(changed) != table_fingerprint(features)
    assert table_fingerprint(features.iloc[1:]) != table_fingerprint(features)
    renamed = features.copy()
    renamed.index = [f"other_{i}" for i in range(len(features))]  # same values, other clips
    assert table_fingerprint(renamed) != table_fingerprint(features)
    assert table_fingerprint(features, "mfcc13") != table_fingerprint(features, "egemaps")


def test_umap_reports_its_epochs_and_is_cached(features):
    heard = []
    assert cached_umap(features, 6) is None
    coords = umap_embedding(features, n_neighbors=6, progress=lambda done, total, message: heard.append((done, total)))
    assert heard[0] == (0, clustering.UMAP_EPOCHS)  # before the epochs: the neighbours
    assert heard[-1] == (clustering.UMAP_EPOCHS, clustering.UMAP_EPOCHS)
    assert len(heard) > 2 and [d for d, _ in heard] == sorted(d for d, _ in heard)
    pd.testing.assert_frame_equal(cached_umap(features, 6), coords)


def test_umap_gets_the_exact_neighbours_umap_learn_itself_finds_on_small_data():
    """Our neighbours (scikit-learn, every corpus up to EXACT_NEIGHBOURS_UP_TO clips) are what umap-learn's own
    exact search gives below 4,096 clips (the k nearest by euclidean distance, each clip itself first): checked
    against the full distance matrix, sorted (umap-learn's own search would compile numba code for 15 s here)."""
    values = np.random.default_rng(1).normal(size=(600, 13))
    indices, distances, index = clustering._neighbours(values, 15)
    assert indices.shape == distances.shape == (600, 15) and index is None
    assert (indices[:, 0] == np.arange(600)).all() and (distances[:, 0] == 0).all()
    full = np.sqrt(((values[:, None, :] - values[None, :, :]) ** 2).sum(axis=-1))
    theirs = np.argsort(full, axis=1, kind="stable")[:, :15]
    assert (indices == theirs).mean() > 0.995  # (ties and float32 rounding may swap two neighbours)
    assert distances == pytest.approx(np.take_along_axis(full, theirs, axis=1), abs=1e-4)


def test_above_the_exact_limit_umap_learn_searches_itself(monkeypatch):
    monkeypatch.setattr(clustering, "EXACT_NEIGHBOURS_UP_TO", 99)
    assert clustering._neighbours(np.zeros((100, 3)), 5) == (None, None, None)  # umap-learn's own default


def test_umap_learns_numba_code_is_compiled_once_per_installation_not_per_process():
    from numba.core.caching import NullCache

    umap = clustering._umap()
    used = [umap.umap_.smooth_knn_dist, umap.umap_.compute_membership_strengths,
            umap.layouts._nb_optimize_layout_euclidean_single_epoch]
    assert not any(isinstance(function._cache, NullCache) for function in used)
