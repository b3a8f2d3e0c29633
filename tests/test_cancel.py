"""Cancel within seconds, also in the middle of a fit or a training step: a real worker process runs the
job in a child process and stops it (and the processes below it) when asked; the run says what had
finished; the worker takes the next job at once. The time to stop is asserted loosely here (10 s); the
figure is measured by benchmarks/cancel.py."""

import importlib.util
import os
import shutil
import signal
import time
from pathlib import Path

import pytest

from ser.data.corpus import load_corpus
from ser.jobs import child
from ser.jobs.control import cancel, refresh, submit_baseline, submit_finetune, submit_lr_search
from ser.learning.baselines import BaselineSpec
from ser.runs import FINAL_STATES, list_runs, load_run

ROOT = Path(__file__).resolve().parent
# One SVM fit that runs for minutes on the small demo corpus (a sigmoid kernel with a huge C and a tiny
# tolerance, no iteration budget; measured: past 290 s on 2 cores), so a cancel that waited for the fit
# to end would take minutes.
SLOW_FIT = {"clf__kernel": ["sigmoid"], "clf__C": [1e5], "clf__gamma": [1.0], "clf__tol": [1e-12]}


def slow_svm(jobs=2):
    return BaselineSpec(model="svm", grid_override=SLOW_FIT, svm_max_iter=0, cv_folds=2, jobs=jobs)


def quick_svm():
    return BaselineSpec(model="svm", grid="none", cv_folds=2, jobs=1)


@pytest.fixture
def corpus(small_demo, small_demo_features, isolated_cache):
    shutil.copytree(small_demo_features, isolated_cache / "features")
    return load_corpus(small_demo)


def wait_until(check, timeout, what):
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, what()
        time.sleep(0.1)
    return found


def job_processes(worker):
    """The processes below the worker (the job's child and whatever it started): {pid: start time}."""
    return child.descendants(worker.pid)


def command(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def cancel_and_time(run_id):
    asked = time.monotonic()
    cancel(run_id)
    run = wait_until(lambda: (r := load_run(run_id)).status in FINAL_STATES and r, 30,
                     lambda: f"{run_id} still {load_run(run_id).status}")
    return run, time.monotonic() - asked


def left(processes):
    return {pid: command(pid) for pid, started in processes.items() if child.alive(pid, started)}


def all_gone(processes):
    return not left(processes)


def zombies(worker):
    """The worker's children that ended and were never reaped (adopted leftovers of its jobs)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] == "Z" and int(fields[1]) == worker.pid:
                found.append(int(entry.name))
    return found


def next_job_runs_at_once(corpus, within=10):
    """The worker is free: a new job is taken off the queue within a few seconds and finishes."""
    run = submit_baseline(quick_svm(), corpus)
    wait_until(lambda: load_run(run.run_id).status != "queued", within, lambda: "the next job was not taken")
    done = wait_until(lambda: (r := load_run(run.run_id)).status in FINAL_STATES and r, 120,
                      lambda: load_run(run.run_id).info.get("progress"))
    assert done.status == "finished", done.info.get("error")


def test_cancel_mid_fit_stops_the_job_and_its_pool_within_seconds(corpus, worker_process):
    run = submit_baseline(slow_svm(jobs=2), corpus)
    wait_until(lambda: load_run(run.run_id).info.get("fits_planned"), 120, lambda: load_run(run.run_id).info)
    # both fits running in joblib's worker processes, below the job's child
    processes = wait_until(lambda: len(p := job_processes(worker_process)) >= 3 and p, 30,
                           lambda: {pid: command(pid) for pid in job_processes(worker_process)})
    assert any("ser.jobs.child" in command(pid) for pid in processes)
    time.sleep(1.0)  # well inside the fits (minutes each)
    assert not (load_run(run.run_id).path / "fits.jsonl").exists()
    done, seconds = cancel_and_time(run.run_id)
    print(f"mid-fit: final {seconds:.2f} s after cancel")
    assert done.status == "cancelled" and seconds < 10
    assert "0 of 2 fits had finished" in done.info["error"]
    processes.update(job_processes(worker_process))
    wait_until(lambda: all_gone(processes), 5, lambda: left(processes))
    assert job_processes(worker_process) == {}
    wait_until(lambda: not zombies(worker_process), 5, lambda: f"the worker left zombies: {zombies(worker_process)}")
    next_job_runs_at_once(corpus)


WORKER_SIDE = """
import os, sys, time
from ser.jobs import child
from ser.runs import create_run
child.adopt_orphans()  # as the worker does
run = create_run("baseline", {"model": "svm"}, {"source": "-"})
job = child.JobProcess(run, [sys.executable, "-c", "from joblib import Parallel, delayed; import time; "
                                                   "Parallel(n_jobs=2)(delayed(time.sleep)(0.1) for _ in range(4))"])
while not job.ended():
    time.sleep(0.5)  # as the worker's watch: the pool's processes end unseen meanwhile
job.finish()
time.sleep(0.5)
print(sum(1 for e in os.scandir("/proc") if e.name.isdigit() and (s := child._stat(int(e.name)))
          and s[0] == os.getpid() and s[4] == "Z"))
"""


def test_a_finished_jobs_pool_leaves_no_zombie_in_the_worker(isolated_cache):
    """A job whose pool's processes (joblib's workers, its resource trackers) end on their own just after it,
    before the worker looks: the worker, their reaper once the job's process is gone, reaps them."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", WORKER_SIDE], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] == "0", f"zombies left in the worker: {done.stdout}"


def test_a_cancelled_baseline_says_how_many_fits_had_finished(corpus, worker_process):
    grid = {**SLOW_FIT, "clf__C": [1.0, 1e5]}  # C=1 fits in a moment, C=1e5 for minutes
    spec = BaselineSpec(model="svm", grid_override=grid, svm_max_iter=0, cv_folds=2, jobs=1)
    run = submit_baseline(spec, corpus)
    wait_until(lambda: (load_run(run.run_id).path / "fits.jsonl").exists(), 120, lambda: load_run(run.run_id).info)
    time.sleep(1.0)
    done, seconds = cancel_and_time(run.run_id)
    assert done.status == "cancelled" and seconds < 10
    assert "2 of 4 fits had finished (recorded in fits.jsonl)" in done.info["error"], done.info["error"]


def test_a_job_process_killed_without_being_asked_is_interrupted_and_the_worker_goes_on(corpus, worker_process):
    run = submit_baseline(slow_svm(jobs=1), corpus)
    wait_until(lambda: load_run(run.run_id).info.get("fits_planned"), 120, lambda: load_run(run.run_id).info)
    [main] = [pid for pid in job_processes(worker_process) if "ser.jobs.child" in command(pid)]
    os.kill(main, signal.SIGKILL)  # as the out-of-memory killer would
    done = wait_until(lambda: (r := load_run(run.run_id)).status != "running" and r, 10, lambda: "still running")
    assert done.status == "interrupted"
    assert "killed by SIGKILL without being asked" in done.info["error"]
    next_job_runs_at_once(corpus)


def test_a_worker_killed_outright_takes_its_job_process_with_it(corpus, worker_process):
    run = submit_baseline(slow_svm(jobs=2), corpus)
    processes = wait_until(lambda: len(p := job_processes(worker_process)) >= 3 and p, 120,
                           lambda: load_run(run.run_id).info)
    os.kill(worker_process.pid, signal.SIGKILL)  # no chance to stop its job: the kernel's parent-death signal does
    worker_process.wait(timeout=10)
    wait_until(lambda: all_gone(processes), 10, lambda: left(processes))
    assert refresh(load_run(run.run_id)).status in ("running", "interrupted")  # interrupted once the heartbeat is stale


def tiny_model(folder):
    spec = importlib.util.spec_from_file_location("finetune_fixtures", ROOT / "finetune" / "conftest.py")
    fixtures = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fixtures)
    return fixtures.save_tiny_model(folder)


def test_cancel_mid_step_of_a_finetune_job_keeps_the_last_checkpoint(corpus, tmp_path, monkeypatch, isolated_cache):
    from ser.learning.finetune import FinetuneSpec, latest_checkpoint

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import subprocess
    import sys

    worker = subprocess.Popen([sys.executable, "-m", "ser", "worker"], cwd=ROOT.parent, env={**os.environ},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        spec = FinetuneSpec(model=str(tiny_model(tmp_path / "tiny")), epochs=300, batch_size=8, grad_accum=1,
                            max_clips=48, max_seconds=1.0, learning_rate=1e-3)
        run = submit_finetune(spec, corpus)
        wait_until(lambda: len(load_run(run.run_id).info.get("history") or []) >= 1, 240,
                   lambda: load_run(run.run_id).info.get("progress"))
        wait_until(lambda: latest_checkpoint(load_run(run.run_id)), 30, lambda: "no checkpoint")
        processes = job_processes(worker)
        done, seconds = cancel_and_time(run.run_id)
        print(f"mid-step: final {seconds:.2f} s after cancel")
        assert done.status == "cancelled" and seconds < 10
        checkpoint = latest_checkpoint(done)
        assert f"the last checkpoint ({checkpoint.name}) is kept and resume continues from it" in done.info["error"]
        assert "last recorded step" in done.info["error"]
        wait_until(lambda: all_gone(processes), 5, lambda: left(processes))
        assert job_processes(worker) == {}

        search = submit_lr_search(spec, corpus, init_lr=1e-3, epochs_per_round=300, max_rounds=1)
        training = wait_until(lambda: [r for r in list_runs("wav2vec2") if r.info.get("parent") == search.run_id
                                       and r.info.get("progress", {}).get("step")], 240,
                              lambda: load_run(search.run_id).info.get("progress"))  # the worker took it at once
        done, seconds = cancel_and_time(search.run_id)
        assert done.status == "cancelled" and seconds < 10
        assert "0 candidate(s) had been trained and scored" in done.info["error"]
        [candidate] = training
        assert load_run(candidate.run_id).status == "cancelled"  # the candidate in training with it
        assert "cancelled with its learning-rate search" in load_run(candidate.run_id).info["error"]
    finally:
        worker.kill()
        worker.wait(timeout=10)


class EndedProcess:
    """A job process that has ended, as JobProcess reports it."""

    def __init__(self, how, number):
        self.exit_info = (how, number)

    def outcome(self):
        return child.JobProcess.outcome(self)


def running_run(log=""):
    from ser.runs import create_run

    run = create_run("baseline", {}, {}, status="running")
    (run.path / child.LOG_FILE).write_text(log)
    return run


@pytest.mark.parametrize("how, number, log, status, says", [
    ("killed", signal.SIGKILL, "step 3\n", "interrupted", "killed by SIGKILL without being asked"),
    ("exited", 1, "  exitcode  : -9 (pid: 123)\n", "interrupted", "a training process was killed by SIGKILL"),
    ("exited", 3, "Traceback ...\nMemoryError\n", "failed", "ended with exit status 3. Last log lines:"),
    ("exited", 0, "", "failed", "ended without recording a result"),
])
def test_a_job_process_that_ended_without_a_final_state(how, number, log, status, says):
    from ser.jobs.control import _settle

    run = running_run(log)
    _settle(run, EndedProcess(how, number), None)
    settled = load_run(run.run_id)
    assert settled.status == status and says in settled.info["error"], settled.info["error"]


def test_a_job_that_recorded_its_own_end_keeps_it():
    from ser.jobs.control import _settle
    from ser.runs import update_run

    run = update_run(running_run(), status="failed", error="ConfigError: no clips")
    _settle(load_run(run.run_id), EndedProcess("exited", 1), None)
    assert load_run(run.run_id).info["error"] == "ConfigError: no clips"
