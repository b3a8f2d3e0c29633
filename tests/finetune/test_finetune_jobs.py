"""Fine-tuning through the real queue and worker processes, the CLI, prediction with the saved
checkpoint, and the fine-tuning page: all on the tiny wav2vec2 stand-in, offline."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ser.jobs.control import refresh, resume, submit_finetune
from ser.labels import EMOTIONS
from ser.learning.predict import predict_files
from ser.runs import load_run

ROOT = Path(__file__).resolve().parents[2]


def wait_for(run_id, states, timeout=180, check=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = refresh(load_run(run_id))
        if run.status in states and (check is None or check(run)):
            return run
        time.sleep(0.3)
    raise AssertionError(f"{run_id}: {run.status} {run.info.get('progress')} {run.info.get('error')}")


def start_worker():
    return subprocess.Popen([sys.executable, "-m", "ser", "worker"], cwd=ROOT, env={**os.environ},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def test_a_queued_finetune_job_trains_and_its_model_classifies(tiny_spec, demo_corpus, worker_process):
    run = submit_finetune(tiny_spec(epochs=2), demo_corpus)
    done = wait_for(run.run_id, {"finished", "failed"})
    assert done.status == "finished", done.info.get("error")
    assert [round(h["epoch"]) for h in done.info["history"]] == [1, 2]
    assert (done.path / "model" / "model.safetensors").exists()
    clip = demo_corpus.clips.iloc[0]["path"]
    [result] = predict_files(done, [clip])
    assert result["emotion"] in EMOTIONS and abs(sum(result["probs"].values()) - 1) < 1e-4


def test_a_worker_killed_mid_training_leaves_a_resumable_run(tiny_spec, demo_corpus, worker_process):
    run = submit_finetune(tiny_spec(epochs=6, max_clips=96), demo_corpus)
    wait_for(run.run_id, {"running"}, check=lambda r: len(r.info.get("history") or []) >= 1)
    os.killpg(worker_process.pid, signal.SIGKILL)
    worker_process.wait(timeout=10)
    interrupted = wait_for(run.run_id, {"interrupted", "finished"}, timeout=60)
    assert interrupted.status == "interrupted"
    spare = start_worker()
    try:
        assert resume(run.run_id).status == "queued"
        done = wait_for(run.run_id, {"finished", "failed"}, timeout=300)
    finally:
        spare.kill()
        spare.wait(timeout=10)
    assert done.status == "finished", done.info.get("error")
    epochs = [round(h["epoch"]) for h in done.info["history"]]
    assert epochs == sorted(set(epochs)) and epochs[-1] <= 6 and epochs[0] == 1
    assert done.info.get("resumed_from")  # continued from a checkpoint, not from scratch


def test_cli_finetune_wait_json(tiny_model, small_demo):
    done = subprocess.run([sys.executable, "-m", "ser", "finetune", "--data", str(small_demo), "--model",
                           str(tiny_model), "--epochs", "1", "--batch-size", "8", "--grad-accum", "1",
                           "--max-clips", "48", "--max-seconds", "1", "--lr", "1e-3", "--wait", "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["status"] == "finished" and result["kind"] == "wav2vec2"
    assert set(result["metrics"]) == {"accuracy", "macro_f1", "uar"}


@pytest.mark.parametrize("command", ["finetune", "lr-search"])
def test_cli_unknown_model_is_a_clear_error_before_anything_is_queued(small_demo, isolated_cache, command):
    from ser.runs import list_runs

    done = subprocess.run([sys.executable, "-m", "ser", command, "--data", str(small_demo), "--model",
                           "/no/such/model-folder", "--wait", "--json"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert "Traceback" not in done.stdout + done.stderr
    assert done.returncode == 2 and "/no/such/model-folder" in done.stderr and "does not exist" in done.stderr
    assert list_runs() == []  # refused before queueing: no failed run left behind


def test_finetune_page_shows_runs_and_the_search(monkeypatch, tiny_spec, demo_corpus, small_demo):
    from ser.learning.finetune import run_finetune, run_lr_search

    run_finetune(tiny_spec(epochs=1), demo_corpus)
    run_lr_search(tiny_spec(), demo_corpus, init_lr=1e-3, epochs_per_round=1, max_rounds=1)
    monkeypatch.setenv("SER_DATA", str(small_demo))
    monkeypatch.chdir(ROOT)
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    app.run()
    app.switch_page("app_pages/finetune.py").run()
    assert not app.exception, app.exception
    table = next(f.value for f in app.dataframe if "scheduler" in f.value.columns)
    assert {"model", "lr", "epochs", "scheduler", "warmup", "macro_f1"} <= set(table.columns)
    for run_id in app.selectbox(key="ft_open_run").options:
        app.selectbox(key="ft_open_run").set_value(run_id).run()
        assert not app.exception


def test_cli_lr_search_wait_json(tiny_model, small_demo):
    done = subprocess.run([sys.executable, "-m", "ser", "lr-search", "--data", str(small_demo), "--model",
                           str(tiny_model), "--batch-size", "8", "--grad-accum", "1", "--max-clips", "48",
                           "--max-seconds", "1", "--init-lr", "1e-3", "--epochs-per-round", "1", "--max-rounds", "1",
                           "--schedule", "fixed", "--wait", "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["kind"] == "lr-search" and result["status"] == "finished"
    assert load_run(result["run_id"]).info["search"]["schedule"] == "fixed"  # the CLI passes the variant on
    assert sorted(r["lr"] for r in result["rounds"]) == [1e-4, 1e-3, 1e-2]
    assert result["best_params"]["learning_rate"] == result["best"]["lr"]
