"""RQ1: how distinct are emotions in audio features? Standardised features, KMeans, silhouette,
PCA and UMAP views, contingency tables, and chance-corrected measures of whether the clusters follow
emotion, sex, speaker or intensity (purity with its chance level and ceiling, V-measure, AMI).

The 2-D embeddings are cached on disk per feature table and parameters, so changing only the
colouring (or reloading the page) never recomputes UMAP. UMAP reports its epochs as it runs
(``umap_embedding(progress=...)``)."""

from __future__ import annotations

import functools
import hashlib
import logging
import sys
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import config
from ..storage import atomic_write
from ..errors import ConfigError

log = logging.getLogger(__name__)


SILHOUETTE_SAMPLE = 2_000  # clips: the silhouette is O(n²); 7,462 clips took 1.5 to 4.5 s on 2 cores
KMEANS_INITS = 4  # seeded k-means++ starts, best kept (10 took 0.1-0.2 s more per k on 7,462 clips; the best of 4
# was within 0.001 % of the best of 10's inertia for k = 4, 6 and 12 on the 91-actor demo corpus)
UMAP_EPOCHS = 200  # umap-learn's own choice for large data (500 below 10,000 clips took 2.5 times as long)
EXACT_NEIGHBOURS_UP_TO = 20_000  # clips; above, umap-learn's own approximate search (see _neighbours)


@dataclass
class Clustering:
    labels: pd.Series  # clip_id -> cluster number
    silhouette: float
    k: int
    inertia: float
    silhouette_sample: int = 0  # clips the silhouette was computed on (0: all of them)


def standardise(features: pd.DataFrame) -> np.ndarray:
    from sklearn.preprocessing import StandardScaler

    return StandardScaler().fit_transform(features.to_numpy(dtype=np.float64))


def kmeans_clusters(features: pd.DataFrame, k: int = 6, seed: int = 0) -> Clustering:
    """KMeans on standardised features and the silhouette score of the result (computed on at most
    SILHOUETTE_SAMPLE clips, a seeded sample beyond that: its error is about 0.005 on 2,000 clips)."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    if not 2 <= k < len(features):
        raise ConfigError(f"k must be between 2 and {len(features) - 1} for {len(features)} clips; got {k}.",
                          title="Invalid number of clusters")
    from threadpoolctl import threadpool_limits

    X = standardise(features)
    # One OpenMP thread: with two on 2 busy cores (the app's own threads, other users) KMeans took 12.5 s
    # instead of 0.3 s; the result is the same.
    with threadpool_limits(limits=1):
        model = KMeans(n_clusters=k, n_init=KMEANS_INITS, random_state=seed).fit(X)
        sample = SILHOUETTE_SAMPLE if len(X) > SILHOUETTE_SAMPLE else 0
        score = silhouette_score(X, model.labels_, sample_size=sample or None, random_state=seed)
    return Clustering(pd.Series(model.labels_, index=features.index, name="cluster"), float(score), k,
                      float(model.inertia_), sample)


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


def umap_embedding(features: pd.DataFrame, n_neighbors: int = 15, min_dist: float = 0.1, seed: int = 0,
                   progress=None) -> pd.DataFrame:
    """UMAP in 2-D (umap-learn, UMAP_EPOCHS epochs), cached on disk by the feature values and the
    parameters. ``progress(done, total, message)`` hears the phase before the epochs (neighbours, and once per
    installation the compilation of umap-learn's numba code) and then each epoch as umap-learn counts it."""
    path = _umap_path(features, n_neighbors, min_dist, seed)
    cached = _read_cached(path, features.index)
    if cached is not None:
        return cached
    if progress:
        progress(0, UMAP_EPOCHS, "finding each clip's nearest neighbours")
    umap = _umap()
    n_neighbors = max(2, min(n_neighbors, len(features) - 1))
    values = standardise(features)
    # umap-learn shows its epochs with tqdm only; a bar format of "done/total" written to a file object of
    # ours turns them into progress calls, without verbose's prints.
    epochs = {"disable": progress is None, "file": _EpochCounter(progress), "bar_format": "{n}/{total}\n",
              "mininterval": 0.25}
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1), warnings.catch_warnings():
        # with neighbours of ours umap-learn warns that transform() on new data is unavailable (never used here)
        warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]")
        warnings.filterwarnings("ignore", message="Cannot cache compiled function")  # (see _umap)
        reducer = umap.UMAP(n_neighbors=n_neighbors, min_dist=min_dist, random_state=seed, n_jobs=1,
                            n_epochs=UMAP_EPOCHS, tqdm_kwds=epochs, precomputed_knn=_neighbours(values, n_neighbors))
        coords = _frame(reducer.fit_transform(values), features.index)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, coords.to_parquet)
    return coords


def _neighbours(values: np.ndarray, k: int) -> tuple:
    """Each clip's k nearest neighbours, itself first, and their distances, exact, from scikit-learn; or
    (None, None, None), umap-learn's "search yourself", above EXACT_NEIGHBOURS_UP_TO clips.

    Why not umap-learn's own search: below 4,096 clips it is this same exact search, above it pynndescent's
    approximate one, whose numba code cannot be cached on disk and compiled for 15-25 s in every new process
    on 2 cores. This exact search took 0.4-3 s on 7,462 clips of 13 to 1,024 features (one thread)."""
    if len(values) > EXACT_NEIGHBOURS_UP_TO:
        return None, None, None
    from sklearn.neighbors import NearestNeighbors

    distances, indices = NearestNeighbors(n_neighbors=k).fit(values).kneighbors(values)
    return indices.astype(np.int32), distances.astype(np.float32), None


@functools.cache
def _umap():
    """umap-learn, with its numba functions cached on disk.

    umap-learn declares few of its numba functions cache=True, so every new process (the app, each worker)
    compiled them again at its first UMAP: 10-20 s on 2 cores. Turning numba's own disk cache on for them
    (beside the package, or under NUMBA_CACHE_DIR) makes that once per installation: 0.5 s afterwards. Numba
    refuses a few (they use dynamic globals); those warn here and compile as before."""
    with warnings.catch_warnings():  # "Tensorflow not installed; ParametricUMAP will be unavailable"
        warnings.simplefilter("ignore", ImportWarning)
        import umap
    try:
        from numba.core.caching import NullCache
        from numba.core.dispatcher import Dispatcher
    except ImportError:  # another numba layout: UMAP works, only without the disk cache
        return umap
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] in ("umap", "pynndescent"):
            for value in list(vars(module).values()):
                if isinstance(value, Dispatcher) and isinstance(getattr(value, "_cache", None), NullCache):
                    value.enable_caching()
    return umap


def cached_umap(features: pd.DataFrame, n_neighbors: int = 15, min_dist: float = 0.1,
                seed: int = 0) -> pd.DataFrame | None:
    """The UMAP view if the disk cache has it, else None (nothing is computed)."""
    return _read_cached(_umap_path(features, n_neighbors, min_dist, seed), features.index)


def _umap_path(features: pd.DataFrame, n_neighbors: int, min_dist: float, seed: int):
    key = _embedding_key(features, f"umap-{n_neighbors}-{min_dist}-{seed}-{UMAP_EPOCHS}")
    return config.cache_dir() / "embeddings" / f"{key}.parquet"


class _EpochCounter:
    """A file object for tqdm whose lines read "done/total": each becomes a progress call."""

    def __init__(self, progress):
        self.progress = progress

    def write(self, text: str) -> None:
        for line in str(text).replace("\r", "\n").splitlines():
            done, _, total = line.strip().partition("/")
            if self.progress and done.isdigit() and total.isdigit():
                self.progress(int(done), int(total), f"UMAP epochs: {done}/{total}")

    def flush(self) -> None:
        pass


def contingency(clusters: pd.Series, attribute: pd.Series) -> pd.DataFrame:
    """Clips per cluster (rows) and attribute value (columns), both sorted (as pd.crosstab gives them,
    counted with one bincount: crosstab took 80 ms an attribute on 7,462 clips)."""
    values = attribute.reindex(clusters.index).astype(object).where(lambda v: v.notna(), "unknown")
    cluster_codes, cluster_names = pd.factorize(clusters, sort=True)
    value_codes, value_names = pd.factorize(values, sort=True)
    k, m = len(cluster_names), len(value_names)
    table = np.bincount(cluster_codes * m + value_codes, minlength=k * m).reshape(k, m)
    return pd.DataFrame(table, index=pd.Index(cluster_names, name="cluster"),
                        columns=pd.Index(value_names, name=attribute.name or "value"))


def purity(table: pd.DataFrame) -> pd.DataFrame:
    """Per cluster: its size, the dominant value and the share of the cluster it covers."""
    size = table.sum(axis=1)
    return pd.DataFrame({"clips": size, "dominant": table.idxmax(axis=1),
                         "purity": (table.max(axis=1) / size.replace(0, 1)).round(3)})


def overall_purity(table: pd.DataFrame) -> float:
    """Share of clips that belong to their cluster's dominant value. It reaches 1.0 only when there are
    at least as many clusters as values; read it against `purity_ceiling` and its chance level."""
    total = table.to_numpy().sum()
    return float(table.max(axis=1).sum() / total) if total else float("nan")


# ------------------------------------------------------------------ do the clusters follow an attribute?
# Purity favours attributes with few values; adjusted mutual information (AMI) does not, so it is the
# one that ranks attributes. Chance levels come from shuffling the attribute's labels against the
# clusters, which keeps both sets of group sizes (the model AMI's own correction assumes).

def purity_ceiling(value_counts, k: int) -> float:
    """The highest purity any k clusters can reach: each cluster's dominant value counts once, so at
    best the k largest values each own a cluster (the rest joins the smallest of them without
    outnumbering it): the k largest values' share of the clips, 1.0 when k is at least their number."""
    counts = np.sort(np.asarray(value_counts, dtype=np.float64))[::-1]
    total = counts.sum()
    return float(counts[:k].sum() / total) if total else float("nan")


def shuffled_tables(cluster_codes: np.ndarray, value_codes: np.ndarray, k: int, m: int,
                    permutations: int = 20, seed: int = 0) -> np.ndarray:
    """Contingency tables (permutations x k x m) of the clusters against seeded shuffles of the values,
    counted in one bincount."""
    rng = np.random.default_rng(seed)
    shuffled = rng.permuted(np.tile(value_codes, (permutations, 1)), axis=1)
    flat = (np.arange(permutations)[:, None] * k + cluster_codes[None, :]) * m + shuffled
    return np.bincount(flat.ravel(), minlength=permutations * k * m).reshape(permutations, k, m)


def table_purity(tables: np.ndarray) -> np.ndarray:
    """Purity of each contingency table (clusters x values) in the last two axes."""
    tables = np.asarray(tables, dtype=np.float64)
    return tables.max(axis=-1).sum(axis=-1) / tables.sum(axis=(-2, -1))


def table_v_measure(tables: np.ndarray) -> np.ndarray:
    """V-measure of each contingency table (clusters x values) in the last two axes: the harmonic mean
    of homogeneity (each cluster holds one value) and completeness (each value sits in one cluster),
    as scikit-learn's `v_measure_score` computes it; it equals NMI with the arithmetic mean."""
    tables = np.asarray(tables, dtype=np.float64)
    n = tables.sum(axis=(-2, -1), keepdims=True)
    joint = tables / n
    clusters, values = joint.sum(axis=-1, keepdims=True), joint.sum(axis=-2, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(joint > 0, joint * np.log(joint / (clusters * values)), 0.0)
        mi = np.maximum(terms.sum(axis=(-2, -1)), 0.0)
        h_clusters = -np.where(clusters > 0, clusters * np.log(clusters), 0.0).sum(axis=(-2, -1))
        h_values = -np.where(values > 0, values * np.log(values), 0.0).sum(axis=(-2, -1))
        homogeneity = np.where(h_values > 0, mi / h_values, 1.0)
        completeness = np.where(h_clusters > 0, mi / h_clusters, 1.0)
        both = homogeneity + completeness
        return np.where(both > 0, 2 * homogeneity * completeness / both, 0.0)


def attribute_agreement(clusters: pd.Series, attribute: pd.Series, permutations: int = 20,
                        seed: int = 0) -> dict:
    """How far the clusters follow one attribute (missing values count as "unknown", as in
    `contingency`): purity with its chance level (the mean over seeded shuffles) and its ceiling for
    this many clusters; V-measure with its chance level; AMI, whose chance level is 0 by construction
    (scikit-learn subtracts the mutual information expected between shuffled labels); and whether the
    clusters share more information with the attribute than every shuffle did."""
    from sklearn.metrics import adjusted_mutual_info_score

    values = attribute.reindex(clusters.index).astype(object).where(lambda v: v.notna(), "unknown")
    cluster_codes, cluster_names = pd.factorize(clusters, sort=True)
    value_codes, value_names = pd.factorize(values, sort=True)
    k, m = len(cluster_names), len(value_names)
    table = np.bincount(cluster_codes * m + value_codes, minlength=k * m).reshape(k, m)
    shuffled = shuffled_tables(cluster_codes, value_codes, k, m, permutations, seed)
    v_measure, v_shuffled = float(table_v_measure(table)), table_v_measure(shuffled)
    return {"values": m, "purity": float(table_purity(table)), "purity_chance": float(table_purity(shuffled).mean()),
            "purity_ceiling": purity_ceiling(table.sum(axis=0), k),
            "v_measure": v_measure, "v_measure_chance": float(v_shuffled.mean()),
            "ami": float(adjusted_mutual_info_score(value_codes, cluster_codes)),
            "beyond_chance": bool(m > 1 and v_measure > v_shuffled.max() + 1e-12)}


def agreement_table(clusters: pd.Series, attributes: dict[str, pd.Series], permutations: int = 20,
                    seed: int = 0) -> pd.DataFrame:
    """`attribute_agreement` for each attribute (rows, in the given order) with a one-line reading."""
    rows = {name: attribute_agreement(clusters, values, permutations, seed) for name, values in attributes.items()}
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("attribute")
    table["reading"] = agreement_readings(table, k=clusters.nunique())
    return table


@dataclass
class ClusterReport:
    """Everything the Clusters page shows for one k: the clustering, the agreement table and, per
    attribute, the contingency table and each cluster's dominant value."""
    clustering: Clustering
    agreement: pd.DataFrame
    tables: dict[str, pd.DataFrame]
    purity: dict[str, pd.DataFrame]


def cluster_report(features: pd.DataFrame, k: int, attributes: dict[str, pd.Series], seed: int = 0) -> ClusterReport:
    """KMeans with ``k`` clusters and how far the clusters follow each attribute (those with a value)."""
    clustering = kmeans_clusters(features, k, seed)
    attributes = {name: values for name, values in attributes.items() if values.notna().any()}
    tables = {name: contingency(clustering.labels, values) for name, values in attributes.items()}
    return ClusterReport(clustering, agreement_table(clustering.labels, attributes, seed=seed), tables,
                         {name: purity(table) for name, table in tables.items()})


def agreement_readings(table: pd.DataFrame, k: int) -> pd.Series:
    """One line per attribute, ranked by AMI (comparable across attributes with any number of values),
    never by purity, whose ceiling and chance level depend on how many values an attribute has."""
    followed = table[table["beyond_chance"]]["ami"].sort_values(ascending=False)
    lines = {}
    for name, row in table.iterrows():
        if row["values"] < 2:
            lines[name] = "One value only: there is nothing for the clusters to follow."
            continue
        if not row["beyond_chance"]:
            line = (f"The clusters ignore {name}: AMI {_score(row['ami'])} is at chance (0), and V-measure is no "
                    f"higher than with shuffled labels.")
        elif name == followed.index[0]:
            others = followed.drop(name)
            line = f"The clusters follow {name} {'more than any other attribute here' if len(table) > 1 else ''}"
            line = line.rstrip() + f": AMI {_score(row['ami'])} (0 is chance, 1 a perfect match)"
            line += f", against {_score(others.iloc[0])} for {others.index[0]}." if len(others) else "."
        else:
            line = (f"The clusters follow {name} less than {followed.index[0]}: AMI {_score(row['ami'])} against "
                    f"{_score(followed.iloc[0])}.")
        if row["purity_ceiling"] < 0.9:
            span = row["purity_ceiling"] - row["purity_chance"]
            where = max(0.0, (row["purity"] - row["purity_chance"]) / span) if span > 0 else float("nan")
            line += (f" With {k} clusters and {row['values']} values purity cannot exceed "
                     f"{row['purity_ceiling']:.3f}")
            line += f"; it is {where:.0%} of the way from chance to that ceiling." if np.isfinite(where) else "."
        lines[name] = line
    return pd.Series(lines, name="reading")


def _score(value: float) -> str:
    return f"{value:.3f}".replace("-0.000", "0.000")


def _frame(coords: np.ndarray, index: pd.Index) -> pd.DataFrame:
    return pd.DataFrame(coords.astype(np.float32), index=index, columns=["x", "y"])


def table_fingerprint(features: pd.DataFrame, params: str = "") -> str:
    """A short digest of a feature table (its clip ids and float32 values) and ``params``: the key the
    disk cache files embeddings by, and a cheap hashable stand-in for the table in memory caches (a few
    milliseconds for 7,462 clips, where hashing the DataFrame itself cost each cached call more)."""
    digest = hashlib.sha1(params.encode())
    digest.update("|".join(map(str, features.index)).encode())
    digest.update(np.ascontiguousarray(features.to_numpy(dtype=np.float32)).tobytes())
    return digest.hexdigest()[:20]


_embedding_key = table_fingerprint


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
