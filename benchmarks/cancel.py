"""Cancel latency: seconds from ``cancel()`` to the run being final (and to the job's last process being
gone), through a real worker process, for jobs cancelled in the middle of their work:

- svm-report-grid: the report's SVM grid in its exact mode (no iteration budget), cancelled a few
  seconds into the grid search, with a fit running on every core;
- svm-slow-fit: an SVM grid whose fits each run for minutes (a sigmoid kernel with a huge C), cancelled
  two seconds into them: a cancel that waited for the fits in flight would take minutes;
- wav2vec2-step: a fine-tuning job (the tiny wav2vec2 stand-in of the tests), cancelled in the middle
  of training, after its first checkpoint.

    .venv/bin/python benchmarks/cancel.py [--corpus DIR] [--repeats 3] [--out benchmarks/results/cancel.json]

Target (issue 11): final within 5 s.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import machine  # noqa: E402

SLOW_FIT = {"clf__kernel": ["sigmoid"], "clf__C": [1e5], "clf__gamma": [1.0], "clf__tol": [1e-12]}


def wait(check, timeout: float, what: str, every: float = 0.05):
    deadline = time.monotonic() + timeout
    while not (found := check()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(every)
    return found


def cancel_once(worker: subprocess.Popen, submit, ready, settle: float) -> dict:
    """Submit a job, wait until ``ready(run)``, ``settle`` seconds more, then cancel and time it."""
    from ser.jobs import child
    from ser.jobs.control import cancel
    from ser.runs import FINAL_STATES, load_run

    run = submit()
    wait(lambda: ready(load_run(run.run_id)), 600, f"{run.run_id} to be under way", every=0.1)
    time.sleep(settle)
    processes = child.descendants(worker.pid)
    asked = time.monotonic()
    cancel(run.run_id)
    done = wait(lambda: (r := load_run(run.run_id)).status in FINAL_STATES and r, 60, "the run to be final", 0.01)
    final_s = time.monotonic() - asked
    wait(lambda: not [p for p, s in processes.items() if child.alive(p, s)], 30, "the processes to end", 0.01)
    gone_s = time.monotonic() - asked
    return {"run_id": run.run_id, "status": done.status, "final_s": round(final_s, 3),
            "processes_gone_s": round(gone_s, 3), "processes": len(processes), "message": done.info.get("error")}


def summary(samples: list[dict]) -> dict:
    finals = [s["final_s"] for s in samples]
    return {"final_s": {"median": round(statistics.median(finals), 3), "max": round(max(finals), 3)},
            "all_cancelled": all(s["status"] == "cancelled" for s in samples), "samples": samples}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=None, help="a generated demo corpus to reuse (else a 6-actor one is made)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "cancel.json"))
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="ser-bench-cancel-"))
    os.environ["SER_CACHE"] = str(workdir / "cache")
    os.environ["HF_HUB_OFFLINE"] = "1"
    from ser.data.corpus import load_corpus
    from ser.data.demo import generate_demo_corpus
    from ser.jobs.control import submit_baseline, submit_finetune
    from ser.learning.baselines import BaselineSpec
    from ser.learning.features import extract_features
    from ser.learning.finetune import FinetuneSpec, latest_checkpoint

    folder = Path(args.corpus) if args.corpus else generate_demo_corpus(workdir / "demo", actors=6, seed=1)
    corpus = load_corpus(folder)
    extract_features(corpus, "mfcc13")  # cached, so every job reaches its grid search at once
    fixtures_spec = importlib.util.spec_from_file_location("finetune_fixtures", ROOT / "tests" / "finetune" /
                                                           "conftest.py")
    fixtures = importlib.util.module_from_spec(fixtures_spec)
    fixtures_spec.loader.exec_module(fixtures)
    tiny = fixtures.save_tiny_model(workdir / "tiny-wav2vec2")

    log = open(workdir / "worker.log", "ab")
    worker = subprocess.Popen([sys.executable, "-m", "ser", "worker"], cwd=ROOT, stdout=log, stderr=log,
                              env={**os.environ}, start_new_session=True)
    from ser.jobs.worker import lock_holder

    wait(lambda: lock_holder() == worker.pid, 60, "the worker", 0.1)
    searching = lambda run: run.info.get("fits_planned")  # noqa: E731
    cases = {
        "svm-report-grid": (lambda: submit_baseline(BaselineSpec(model="svm", grid="report", svm_max_iter=0), corpus),
                            searching, 3.0),
        "svm-slow-fit": (lambda: submit_baseline(BaselineSpec(model="svm", grid_override=SLOW_FIT, svm_max_iter=0,
                                                              cv_folds=2), corpus), searching, 2.0),
        "wav2vec2-step": (lambda: submit_finetune(FinetuneSpec(model=str(tiny), epochs=300, batch_size=8, grad_accum=1,
                                                               max_clips=48, max_seconds=1.0, learning_rate=1e-3),
                                                  corpus),
                          lambda run: latest_checkpoint(run) is not None, 1.0),
    }
    results = {}
    try:
        for name, (submit, ready, settle) in cases.items():
            samples = [cancel_once(worker, submit, ready, settle) for _ in range(args.repeats)]
            results[name] = summary(samples)
            print(name, json.dumps(results[name]["final_s"]), file=sys.stderr, flush=True)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
        log.close()
    result = {"benchmark": "cancel latency: cancel() to the run being final, through a real worker",
              "corpus": {"clips": int(len(corpus.clips)), "actors": int(corpus.clips["speaker"].nunique()),
                         "kind": "synthetic demo corpus"},
              "cases": results, "target_s": 5,
              "met": all(case["final_s"]["max"] < 5 and case["all_cancelled"] for case in results.values()),
              "machine": machine(), "measured": time.strftime("%Y-%m-%d %H:%M:%S")}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({name: case["final_s"] for name, case in results.items()}, indent=2))


if __name__ == "__main__":
    main()
