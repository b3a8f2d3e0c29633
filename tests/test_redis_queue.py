"""The Redis path of the queue, against a real redis-server on a free port (several GPU hosts share
one Redis and one run store)."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ser.learning.baselines import BaselineSpec
from ser.data.corpus import load_corpus
from ser.jobs.control import submit_baseline
from ser.runs import load_run
from ser.jobs.worker import live_workers
from net import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def redis_url(redis_server, tmp_path, monkeypatch):
    port = free_port()
    server = subprocess.Popen([redis_server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", str(tmp_path)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, server, "redis-server", timeout=20)
    url = f"redis://127.0.0.1:{port}/0"
    monkeypatch.setenv("SER_QUEUE_URL", url)
    yield url
    server.terminate()
    server.wait(timeout=10)


def test_a_worker_on_redis_runs_a_job(redis_url, small_demo):
    from ser.jobs.queue import is_local, pending

    assert not is_local()
    run = submit_baseline(BaselineSpec(model="svm", grid="none", jobs=1), load_corpus(small_demo))
    assert pending() == 1
    worker = subprocess.Popen([sys.executable, "-m", "ser", "worker"], cwd=ROOT, env={**os.environ},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while load_run(run.run_id).status not in ("finished", "failed"):
            assert time.monotonic() < deadline, load_run(run.run_id).info
            time.sleep(0.3)
        assert load_run(run.run_id).status == "finished"
        assert pending() == 0
        assert any(w["pid"] == worker.pid for w in live_workers())
    finally:
        worker.kill()
        worker.wait(timeout=10)
