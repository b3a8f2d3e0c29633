"""No orphaned workers, no twins: real `python -m ser worker` processes on this test's cache. An
auto-started worker exits once idle with no client; a client lease keeps it; a worker started by hand
stays; one worker holds the lock; SIGTERM ends the process within 10 s, also right after a job."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ser.data.corpus import load_corpus
from ser.jobs import child, worker
from ser.jobs.control import refresh, submit_baseline
from ser.learning.baselines import BaselineSpec
from ser.runs import load_run

ROOT = Path(__file__).resolve().parents[1]
IDLE = 2  # SER_WORKER_IDLE_SECONDS for these workers
STARTUP = 20  # seconds a worker may take to import and lock on a slow machine


# A worker whose process holds a thread that never ends, as a pool or a library thread left behind by a job
# can: the interpreter joins such threads at exit, so the worker must end its process itself.
LEFT_BEHIND = ("import sys, threading; threading.Thread(target=threading.Event().wait).start(); "
               "from ser.cli import main; sys.exit(main(['worker']))")


@pytest.fixture
def start_worker(isolated_cache):
    """Starts `python -m ser worker [--auto]` with a short idle timeout; kills whatever is left after the test."""
    started = []

    def start(*args, command=("-m", "ser", "worker"), **env):
        log = isolated_cache.parent / f"worker-{len(started)}.log"
        with log.open("ab") as out:
            process = subprocess.Popen([sys.executable, *command, *args], cwd=ROOT,
                                       stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                       env={**os.environ, "SER_WORKER_IDLE_SECONDS": str(IDLE), **env})
        process.log = log
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def wait_until_locked(process, timeout=STARTUP):
    deadline = time.monotonic() + timeout
    while worker.lock_holder() != process.pid:
        assert process.poll() is None, process.log.read_text()
        assert time.monotonic() < deadline, f"the worker did not take the lock: {process.log.read_text()}"
        time.sleep(0.1)


def stays_alive(process, seconds):
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return True
    return False


def test_an_auto_worker_without_clients_exits_when_idle(start_worker):
    process = start_worker("--auto")
    wait_until_locked(process)
    assert process.wait(timeout=IDLE + 5) == 0
    assert "idle for 2 s with no client: exiting" in process.log.read_text()
    assert not worker.local_worker_running()


def test_an_auto_worker_stays_while_its_client_lease_is_fresh(start_worker):
    process = start_worker("--auto", SER_WORKER_CLIENT_SECONDS="1")
    wait_until_locked(process)
    deadline = time.monotonic() + 2 * IDLE + 1
    while time.monotonic() < deadline:  # a client touching its lease, as a page run or a --wait poll does
        worker.touch_client()
        assert process.poll() is None, process.log.read_text()
        time.sleep(0.3)
    assert process.wait(timeout=1 + IDLE + 5) == 0  # the lease goes stale 1 s after the last touch


def test_a_lease_of_a_process_that_is_gone_keeps_no_worker(start_worker):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    lease = worker.clients_dir() / f"{socket.gethostname()}-{gone.pid}"
    process = start_worker("--auto")
    wait_until_locked(process)
    lease.touch()
    assert process.wait(timeout=IDLE + 5) == 0
    assert not lease.exists()


def test_a_worker_started_by_hand_stays_when_idle(start_worker):
    process = start_worker()
    wait_until_locked(process)
    assert stays_alive(process, 2 * IDLE + 1), process.log.read_text()


@pytest.mark.parametrize("auto", [False, True], ids=["by-hand", "auto"])
def test_of_two_workers_started_at_once_one_holds_the_lock_and_the_other_exits(start_worker, auto):
    args = ("--auto",) if auto else ()
    pair = [start_worker(*args), start_worker(*args)]  # the same moment: neither has a heartbeat yet
    deadline = time.monotonic() + STARTUP
    while all(p.poll() is None for p in pair):
        assert time.monotonic() < deadline, [p.log.read_text() for p in pair]
        time.sleep(0.1)
    [loser] = [p for p in pair if p.poll() is not None]
    [winner] = [p for p in pair if p is not loser]
    assert loser.returncode == (0 if auto else 1)
    assert "another worker" in loser.log.read_text() and f"(pid {winner.pid})" in loser.log.read_text()
    wait_until_locked(winner)
    assert winner.poll() is None


def test_the_app_starts_no_second_worker_beside_one_without_a_heartbeat(start_worker, isolated_cache):
    process = start_worker()
    wait_until_locked(process)
    for beat in (isolated_cache / "workers").glob("*.json"):
        beat.unlink()  # as in the moment between taking the lock and the first heartbeat
    worker.ensure_local_worker()
    assert worker._started == []
    assert (worker.clients_dir() / f"{socket.gethostname()}-{os.getpid()}").exists()


def test_sigterm_ends_an_idle_worker_within_10_s(start_worker):
    process = start_worker()
    wait_until_locked(process)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    assert not worker.local_worker_running()


def test_sigterm_ends_a_worker_even_when_a_thread_would_keep_it_alive(start_worker):
    process = start_worker(command=("-c", LEFT_BEHIND))
    wait_until_locked(process)
    deadline = time.monotonic() + STARTUP
    while "Huey consumer started" not in process.log.read_text():
        assert time.monotonic() < deadline, process.log.read_text()
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0, process.log.read_text()
    assert "ending the process" in process.log.read_text()


def test_sigterm_right_after_a_job_ends_the_worker_within_10_s(start_worker, small_demo):
    process = start_worker()
    wait_until_locked(process)
    run = submit_baseline(BaselineSpec(model="svm", grid="none", cv_folds=2), load_corpus(small_demo))
    deadline = time.monotonic() + 120
    while (run := load_run(run.run_id)).status not in ("finished", "failed"):
        assert time.monotonic() < deadline, run.info.get("progress")
        time.sleep(0.05)
    assert run.status == "finished", run.info.get("error")
    process.send_signal(signal.SIGTERM)
    start = time.monotonic()
    assert process.wait(timeout=10) == 0, process.log.read_text()
    print(f"exited {time.monotonic() - start:.2f} s after SIGTERM")


def test_sigterm_during_a_job_ends_the_worker_and_the_job_is_interrupted(start_worker, small_demo):
    process = start_worker()
    wait_until_locked(process)
    run = submit_baseline(BaselineSpec(model="rf", grid="report", jobs=1), load_corpus(small_demo))  # minutes
    deadline = time.monotonic() + 120
    while "grid search" not in load_run(run.run_id).info.get("progress", {}).get("message", ""):
        assert time.monotonic() < deadline, load_run(run.run_id).info.get("progress")
        time.sleep(0.1)
    below = child.descendants(process.pid)  # the job's child process
    assert below
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=10)
    assert not [pid for pid, started in below.items() if child.alive(pid, started)]  # no orphaned work
    stopped = load_run(run.run_id)
    assert stopped.status == "interrupted", stopped.info  # written by the worker itself, no refresh needed
    assert "its worker was stopped" in stopped.info["error"]
    assert refresh(stopped).status == "interrupted"


CLIENT = ("import time; from ser.jobs import worker\n"
          "worker.ensure_local_worker()\n"
          "while worker.lock_holder() is None: time.sleep(0.1); worker.ensure_local_worker()\n"
          "print(worker.lock_holder())")


def test_the_worker_an_app_started_exits_after_the_app_is_gone(isolated_cache):
    env = {**os.environ, "SER_WORKER_IDLE_SECONDS": str(IDLE)}
    client = subprocess.run([sys.executable, "-c", CLIENT], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=STARTUP + 10)  # an app (or `--wait`) that starts a worker, then stops
    pid = int(client.stdout.strip())
    try:
        deadline = time.monotonic() + IDLE + 5
        while worker.pid_alive(pid):
            assert time.monotonic() < deadline, (isolated_cache / "worker.log").read_text()
            time.sleep(0.1)
        assert "idle for 2 s with no client: exiting" in (isolated_cache / "worker.log").read_text()
    finally:
        if worker.pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
