"""Jobs run in a real detached process; these tests wait for it, cancel it, and kill it."""

import os
import signal
import time

import pytest

from ser.baselines import BaselineSpec
from ser.corpus import load_corpus
from ser.jobs import cancel, log_tail, refresh, submit_baseline
from ser.runs import load_run


def wait_for(run_id, states, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = refresh(load_run(run_id))
        if run.status in states:
            return run
        time.sleep(0.3)
    raise AssertionError(f"run {run_id} still {run.status} after {timeout} s: {log_tail(run)}")


@pytest.fixture
def corpus(small_demo):
    return load_corpus(small_demo)


def test_a_job_runs_in_its_own_process_and_finishes(corpus):
    run = submit_baseline(BaselineSpec(model="svm", grid="none", jobs=1), corpus)
    assert run.status == "queued" and run.info["pid"] != os.getpid()
    finished = wait_for(run.run_id, {"finished", "failed"})
    assert finished.status == "finished", finished.info.get("error")
    assert finished.predictions_path.exists() and finished.metrics["macro_f1"] > 0


def test_cancel_stops_a_running_grid_search(corpus):
    spec = BaselineSpec(model="svm", grid="report", jobs=1)  # 240 fits: far from done when cancelled
    run = submit_baseline(spec, corpus)
    wait_for(run.run_id, {"running"})
    deadline = time.monotonic() + 60
    while load_run(run.run_id).info.get("progress", {}).get("message", "").find("grid search") < 0:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    cancel(run.run_id)
    cancelled = wait_for(run.run_id, {"cancelled", "finished", "failed"})
    assert cancelled.status == "cancelled"


def test_a_killed_job_becomes_interrupted_and_finished_runs_stay_intact(corpus):
    done = submit_baseline(BaselineSpec(model="rf", grid="none", jobs=1), corpus)
    done = wait_for(done.run_id, {"finished", "failed"})
    before = (done.path / "run.json").read_text()

    run = submit_baseline(BaselineSpec(model="svm", grid="report", jobs=1), corpus)
    wait_for(run.run_id, {"running"})
    os.killpg(os.getpgid(run.info["pid"]), signal.SIGKILL)
    interrupted = wait_for(run.run_id, {"interrupted"}, timeout=30)
    assert "ended before the job finished" in interrupted.info["error"]
    assert (done.path / "run.json").read_text() == before
    assert load_run(done.run_id).status == "finished"


def test_cancel_of_a_finished_run_changes_nothing(corpus):
    run = submit_baseline(BaselineSpec(model="svm", grid="none", jobs=1), corpus)
    run = wait_for(run.run_id, {"finished"})
    assert cancel(run.run_id).status == "finished"
    assert load_run(run.run_id).status == "finished"
