"""mfcc13 extraction speed: the workbench (parallel, precomputed mel basis, per-file cache) against
a plain serial loop of ``librosa.load`` + ``librosa.feature.mfcc`` per file, in the same process, on
a generated demo corpus (synthetic audio of CREMA-D length).

    .venv/bin/python benchmarks/features.py [--actors 25] [--out benchmarks/results/features.json]

Targets (issue 2): cold at least 3x the plain loop on 2 cores; warm (cache hit) under 1 s.
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


def plain_loop(paths) -> tuple[np.ndarray, float]:
    import librosa

    started = time.perf_counter()
    rows = [librosa.feature.mfcc(y=librosa.load(p)[0], sr=22050, n_mfcc=13).mean(axis=1) for p in paths]
    return np.vstack(rows), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--actors", type=int, default=25, help="demo actors (82 clips each; 25 -> 2,050 clips)")
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "features.json"))
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="ser-bench-features-"))
    os.environ["SER_CACHE"] = str(workdir / "cache")
    from ser.data.corpus import load_corpus
    from ser.data.demo import generate_demo_corpus
    from ser.learning.features import extract_features

    print(f"generating {args.actors} demo actors in {workdir}…", file=sys.stderr)
    started = time.perf_counter()
    folder = generate_demo_corpus(workdir / "demo", actors=args.actors)
    generation_s = time.perf_counter() - started
    corpus = load_corpus(folder)
    paths = corpus.clips["path"].tolist()
    for path in paths:  # page-cache every file so both contenders read from memory
        Path(path).read_bytes()

    import librosa  # noqa: F401  (imported before timing: the plain loop should not pay for it)

    plain, plain_s = plain_loop(paths)
    print(f"plain loop: {plain_s:.2f} s", file=sys.stderr)
    cold = extract_features(corpus, "mfcc13", jobs=args.jobs)
    print(f"workbench cold: {cold.seconds:.2f} s", file=sys.stderr)
    warm = extract_features(corpus, "mfcc13", jobs=args.jobs)
    started = time.perf_counter()
    warm_with_load = extract_features(load_corpus(folder), "mfcc13", jobs=args.jobs)
    warm_with_load_s = time.perf_counter() - started
    assert warm.cached and warm_with_load.cached and not cold.failed
    difference = float(np.abs(cold.table.loc[corpus.clips.index].to_numpy() - plain).max())

    clips = len(paths)
    result = {
        "benchmark": "features/mfcc13",
        "clips": clips,
        "corpus": f"synthetic demo corpus, {args.actors} actors, mean clip {corpus.clips['duration_s'].mean():.2f} s",
        "demo_generation_s": round(generation_s, 2),
        "plain_loop": {"seconds": round(plain_s, 3), "clips_per_s": round(clips / plain_s, 1)},
        "cold": {"seconds": round(cold.seconds, 3), "clips_per_s": round(clips / cold.seconds, 1)},
        "warm": {"seconds": round(warm.seconds, 3), "clips_per_s": round(clips / warm.seconds, 1)},
        "warm_including_corpus_scan_s": round(warm_with_load_s, 3),
        "cold_speedup_vs_plain": round(plain_s / cold.seconds, 2),
        "max_abs_difference_vs_plain": difference,
        "targets": {"cold_speedup_at_least": 3.0, "warm_under_s": 1.0},
        "met": {"cold": plain_s / cold.seconds >= 3.0, "warm": warm.seconds < 1.0},
        "machine": machine(),
        "measured": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
