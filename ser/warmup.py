"""Compile, once per installation, the numba code the workbench's libraries compile on first use: umap-learn's
(the first UMAP view) and librosa's (the `mfcc-stats` features). Both are kept in numba's disk cache, so every
later process loads them in a second instead of compiling them for 20-30 s each on 2 cores. `make setup` runs
``python -m ser.warmup`` after installing; it computes on made-up numbers and leaves nothing in the cache folder.
"""

from __future__ import annotations

import os
import tempfile
import time

import numpy as np
import pandas as pd


def warm_up() -> dict[str, float]:
    """Run one small UMAP and one `mfcc-stats` extraction; returns the seconds each took."""
    from .analysis.clustering import umap_embedding
    from .learning.features import get_feature_set

    seconds = {}
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(prefix="ser-warmup-") as scratch:
        before = os.environ.get("SER_CACHE")
        os.environ["SER_CACHE"] = scratch  # umap_embedding caches its view on disk: not in the user's cache
        try:
            started = time.perf_counter()
            points = pd.DataFrame(rng.normal(size=(300, 13)), index=[f"clip{i}" for i in range(300)])
            umap_embedding(points, n_neighbors=15)
            seconds["umap"] = time.perf_counter() - started
        finally:
            if before is None:
                os.environ.pop("SER_CACHE", None)
            else:
                os.environ["SER_CACHE"] = before
    started = time.perf_counter()
    get_feature_set("mfcc-stats").compute((0.1 * rng.standard_normal(16000)).astype(np.float32))
    seconds["mfcc-stats"] = time.perf_counter() - started
    return seconds


if __name__ == "__main__":
    took = warm_up()
    print("compiled once for this installation: " + ", ".join(f"{k} {v:.1f} s" for k, v in took.items()))
