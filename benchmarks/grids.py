"""The report's grids at full corpus size: a baseline run (features cached, actor-disjoint split, 5
speaker-grouped folds, the report's grid, the final model) on a 91-actor generated corpus of 7,462
clips (CREMA-D has 7,442), for the SVM (48 candidates, with the default iteration budget per fit) and
the random forest (54 candidates). Records the wall time of each run, the time per candidate, and
which fits reached the SVM's budget.

    .venv/bin/python benchmarks/grids.py [--corpus DIR] [--models svm rf] [--out benchmarks/results/grids.json]

Target (issue 11): the default report SVM grid on a 7,442-clip corpus finishes in under 10 minutes on
2 cores. Without the budget (``svm_max_iter=0``, plain GridSearchCV) one polynomial-kernel fit alone ran
past 8 minutes there, so the exact mode is not timed here.
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

from machine import machine  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=None, help="a generated 91-actor corpus to reuse (else one is made)")
    parser.add_argument("--models", nargs="+", default=["svm", "rf"], choices=["svm", "rf"])
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "grids.json"))
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="ser-bench-grids-"))
    os.environ.setdefault("SER_CACHE", str(workdir / "cache"))
    from ser.data.corpus import load_corpus
    from ser.data.demo import generate_demo_corpus
    from ser.learning.baselines import BaselineSpec, run_baseline
    from ser.learning.features import extract_features

    folder = Path(args.corpus) if args.corpus else generate_demo_corpus(workdir / "demo", actors=91)
    corpus = load_corpus(folder)
    started = time.perf_counter()
    extract_features(corpus, "mfcc13")
    features_s = time.perf_counter() - started
    runs = {}
    for model in args.models:
        spec = BaselineSpec(model=model, split="actor", grid="report")
        print(f"{model}: the report's grid on {len(corpus.clips)} clips…", file=sys.stderr)
        started = time.perf_counter()
        run = run_baseline(spec, corpus)
        seconds = time.perf_counter() - started
        cv = run.info["cv"]
        per_candidate = sorted((c["seconds"] for c in cv["candidates"]), reverse=True)
        runs[model] = {
            "status": run.status, "wall_s": round(seconds, 1), "candidates": len(cv["candidates"]),
            "fits": len(cv["candidates"]) * len(cv["folds"]),
            "candidate_fit_seconds": {"max": round(per_candidate[0], 1),
                                      "median": round(per_candidate[len(per_candidate) // 2], 2),
                                      "sum": round(sum(per_candidate), 1)},
            "slowest": [{"params": c["params"], "seconds": round(c["seconds"], 1), "capped_folds": c["capped_folds"]}
                        for c in sorted(cv["candidates"], key=lambda c: -c["seconds"])[:5]],
            "capped_fits": sum(c["capped_folds"] for c in cv["candidates"]),
            "best_params": run.info["best_params"], "deviations": cv.get("deviations", []),
            "svm_max_iter": spec.svm_max_iter if model == "svm" else None,
            "train_clips": run.info["split_info"]["train"],
        }
        print(json.dumps(runs[model], indent=2), file=sys.stderr)
    result = {"benchmark": "baselines/report grids at full size", "clips": int(len(corpus.clips)),
              "actors": int(corpus.clips["speaker"].nunique()), "features_s": round(features_s, 1),
              "corpus": "synthetic demo corpus, 91 actors (CREMA-D-sized); accuracies say nothing about emotion",
              "runs": runs, "target_svm_s": 600, "met": runs.get("svm", {}).get("wall_s", 0) < 600,
              "machine": machine(), "measured": time.strftime("%Y-%m-%d %H:%M:%S")}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
