"""Jobs through the real queue and real worker processes: finish, cancel, SIGKILL and resume,
two jobs at once."""

import os
import signal
import time

import pytest

from ser.learning.baselines import BaselineSpec
from ser.data.corpus import load_corpus
from ser.jobs.child import alive, descendants
from ser.jobs.control import cancel, log_tail, refresh, resume, submit_baseline
from ser.runs import load_run
from ser.jobs.worker import live_workers


def wait_for(run_id, states, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = refresh(load_run(run_id))
        if run.status in states:
            return run
        time.sleep(0.3)
    raise AssertionError(f"run {run_id} still {run.status} after {timeout} s: {log_tail(run)}")


def wait_for_progress(run_id, text, timeout=60):
    deadline = time.monotonic() + timeout
    while text not in load_run(run_id).info.get("progress", {}).get("message", ""):
        assert time.monotonic() < deadline, load_run(run_id).info.get("progress")
        time.sleep(0.2)


@pytest.fixture
def corpus(small_demo):
    return load_corpus(small_demo)


def test_the_worker_reports_itself(worker_process):
    [state] = live_workers()
    assert state["pid"] == worker_process.pid and state["device"] == "cpu"


def test_a_job_is_queued_and_a_worker_runs_it(corpus, worker_process):
    run = submit_baseline(BaselineSpec(model="svm", grid="none", jobs=1), corpus)
    assert run.status == "queued"
    finished = wait_for(run.run_id, {"finished", "failed"})
    assert finished.status == "finished", finished.info.get("error")
    assert finished.info["worker"]["pid"] == worker_process.pid
    assert finished.predictions_path.exists() and finished.metrics["macro_f1"] > 0


def test_two_jobs_run_one_after_the_other(corpus, worker_process):
    first = submit_baseline(BaselineSpec(model="svm", grid="none", jobs=1), corpus)
    second = submit_baseline(BaselineSpec(model="rf", grid="none", jobs=1), corpus)
    first, second = wait_for(first.run_id, {"finished"}), wait_for(second.run_id, {"finished"})
    assert second.info["started"] >= first.info["finished"]


def test_cancel_stops_a_running_grid_search(corpus, worker_process):
    run = submit_baseline(BaselineSpec(model="rf", grid="report", jobs=1), corpus)  # 270 forest fits: minutes
    wait_for_progress(run.run_id, "grid search")
    cancel(run.run_id)
    cancelled = wait_for(run.run_id, {"cancelled", "finished", "failed"})
    assert cancelled.status == "cancelled"
    assert "of 216 fits had finished" in cancelled.info["error"]  # 54 candidates x 4 speaker-grouped folds


def test_cancel_of_a_queued_job_without_a_worker(corpus):
    run = submit_baseline(BaselineSpec(model="svm", grid="none", jobs=1), corpus)
    assert cancel(run.run_id).status == "cancelled"


def test_a_killed_worker_leaves_an_interrupted_job_that_resumes(corpus, worker_process, isolated_cache):
    done = submit_baseline(BaselineSpec(model="rf", grid="none", jobs=1), corpus)
    done = wait_for(done.run_id, {"finished", "failed"})
    before = (done.path / "run.json").read_text()

    run = submit_baseline(BaselineSpec(model="rf", grid="report", jobs=1), corpus)
    wait_for_progress(run.run_id, "grid search")
    below = descendants(worker_process.pid)  # the job's child process
    assert below
    os.killpg(worker_process.pid, signal.SIGKILL)
    worker_process.wait(timeout=10)
    deadline = time.monotonic() + 10  # the parent-death signal ends the job's process with its worker
    while [pid for pid, started in below.items() if alive(pid, started)]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    interrupted = wait_for(run.run_id, {"interrupted"}, timeout=60)
    assert "stopped before the job finished" in interrupted.info["error"]
    assert (done.path / "run.json").read_text() == before  # the finished run is untouched

    import subprocess
    import sys
    from pathlib import Path

    spare = subprocess.Popen([sys.executable, "-m", "ser", "worker"], cwd=Path(__file__).resolve().parents[1],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        resumed = resume(run.run_id)
        assert resumed.status == "queued"
        wait_for_progress(run.run_id, "grid search")
        cancel(run.run_id)  # the report grid would take minutes: it is enough that it runs again
        assert wait_for(run.run_id, {"cancelled", "finished"}).status == "cancelled"
    finally:
        spare.kill()
        spare.wait(timeout=10)
