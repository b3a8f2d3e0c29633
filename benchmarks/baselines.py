"""The report's SVM grid (48 candidates x 5 folds) on a generated 2,000-clip corpus: the workbench's
grid-search job against plain ``GridSearchCV(n_jobs=1)`` on the same features, in the same process.
Both must give identical best parameters and scores; the wall-time ratio is the figure.

    .venv/bin/python benchmarks/baselines.py [--actors 25] [--out benchmarks/results/baselines.json]

Target (issue 3): at least 1.8x faster on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from machine import machine  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--actors", type=int, default=25)
    parser.add_argument("--model", default="svm", choices=["svm", "rf"])
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "baselines.json"))
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="ser-bench-baselines-"))
    os.environ["SER_CACHE"] = str(workdir / "cache")
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    from ser.learning.baselines import REPORT_GRIDS, fit_cost, make_pipeline
    from ser.data.corpus import load_corpus
    from ser.data.demo import generate_demo_corpus
    from ser.learning.features import extract_features
    from ser.learning.grid_search import grid_search
    from ser.learning.splits import report_split

    corpus = load_corpus(generate_demo_corpus(workdir / "demo", actors=args.actors))
    table = extract_features(corpus, "mfcc13").table
    clips = corpus.clips.loc[table.index]
    train = report_split(clips).to_numpy() == "train"  # the report: 70/30, random_state=3
    X, y = table.to_numpy(np.float64)[train], clips["emotion"].to_numpy()[train]
    grid = REPORT_GRIDS[args.model]
    print(f"{len(y)} training clips, {args.model} grid", file=sys.stderr)

    started = time.perf_counter()
    plain = GridSearchCV(make_pipeline(args.model, 3), grid, cv=5, n_jobs=1, refit=False).fit(X, y)
    plain_s = time.perf_counter() - started
    print(f"GridSearchCV(n_jobs=1): {plain_s:.1f} s", file=sys.stderr)

    splits = list(StratifiedKFold(n_splits=5).split(np.zeros(len(y)), y))
    started = time.perf_counter()
    ours = grid_search(make_pipeline(args.model, 3), grid, X, y, splits, "accuracy", jobs=-1, cost=fit_cost)
    ours_s = time.perf_counter() - started
    print(f"workbench job: {ours_s:.1f} s", file=sys.stderr)

    plain_scores = np.vstack([plain.cv_results_[f"split{i}_test_score"] for i in range(5)]).T
    identical = (ours.best_params == plain.best_params_ and np.array_equal(ours.fold_scores, plain_scores)
                 and ours.best_index == plain.best_index_)
    result = {
        "benchmark": f"baselines/{args.model}-report-grid",
        "training_clips": int(len(y)),
        "candidates": len(ours.candidates), "folds": 5,
        "corpus": f"synthetic demo corpus, {args.actors} actors, mfcc13, report split (70% train)",
        "gridsearchcv_n_jobs_1_s": round(plain_s, 2),
        "workbench_s": round(ours_s, 2),
        "speedup": round(plain_s / ours_s, 2),
        "identical_best_params_and_scores": bool(identical),
        "best_params": {k: v for k, v in ours.best_params.items()},
        "best_mean_accuracy": float(ours.mean_scores[ours.best_index]),
        "target_speedup": 1.8,
        "met": bool(identical and plain_s / ours_s >= 1.8),
        "machine": machine(),
        "measured": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
