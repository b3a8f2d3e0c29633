"""Live job statuses through AppTest: the pages poll (a fragment with run_every) only while a job is queued
or running, show a job's final state and its message once, and the Fine-tuning page checks the model
before queueing. AppTest does not tick fragments by time: the browser test sees a page change by itself."""

from __future__ import annotations

import time

import pytest
import streamlit

from ser.data.corpus import load_corpus
from ser.jobs import control
from ser.learning.baselines import BaselineSpec, start_baseline
from ser.runs import list_runs, load_run, update_run
from ui import live, sidebar
from apptest import open_page

WORKER = {"id": "host-1", "host": "host", "pid": 1, "device": "cpu", "current_run": None, "auto": True}


@pytest.fixture
def polls(monkeypatch):
    """The run_every of every fragment the pages declare, with a worker that is already up (none is started)."""
    declared = []
    real = streamlit.fragment

    def fragment(func=None, *, run_every=None, **kwargs):
        declared.append(run_every)
        return real(func, run_every=run_every, **kwargs)

    monkeypatch.setattr(streamlit, "fragment", fragment)
    monkeypatch.setattr(sidebar, "ensure_local_worker", lambda: WORKER)
    monkeypatch.setattr(sidebar, "live_workers", lambda: [WORKER])
    monkeypatch.setattr(control, "_queue", lambda run: run)  # queued, never picked up
    return declared


def test_baselines_polls_only_while_a_job_is_queued_and_shows_its_end_once(monkeypatch, small_demo, polls):
    app = open_page(monkeypatch, "app_pages/baselines.py", small_demo)
    assert polls and set(polls) == {None}  # nothing queued or running: nothing polls

    run = start_baseline(BaselineSpec(model="svm", grid="none"), load_corpus(small_demo))  # queued
    polls.clear()
    app.run()
    assert not app.exception
    assert polls.count(live.POLL_SECONDS) == 2, polls  # the sidebar's watch and the jobs panel
    bars = [str(p.proto.text) for p in app.get("progress")]
    assert bars == [f"{run.run_id} · queued: waiting for a worker"]
    assert app.selectbox(key="open_run").value == run.run_id

    update_run(run, status="failed", error="the job's process ended with exit status 3")
    polls.clear()
    app.run()
    assert not app.exception
    assert set(polls) == {None}
    errors = [e.value for e in app.error]
    assert errors == [f"**{run.run_id} failed**  \nthe job's process ended with exit status 3"]  # once
    assert not list(app.get("progress"))
    assert app.button(key=f"resume_{run.run_id}").label == "Run again"


def test_a_cancelled_run_says_so_in_a_red_box(monkeypatch, small_demo, polls):
    run = start_baseline(BaselineSpec(model="svm", grid="none"), load_corpus(small_demo))
    control.cancel(run.run_id)  # queued: cancelled at once
    app = open_page(monkeypatch, "app_pages/baselines.py", small_demo)
    assert [e.value for e in app.error] == [f"**{run.run_id} cancelled**  \ncancelled before it ran"]


CHECKPOINT = ("config.json", "preprocessor_config.json", "model.safetensors")


def write_checkpoint(folder, files):
    """A folder with these checkpoint files (their content does not matter to the check)."""
    folder.mkdir()
    for name in files:
        (folder / name).write_text("{}")
    return folder


@pytest.mark.parametrize("complete", [True, False])
def test_finetune_checks_the_model_before_queueing(monkeypatch, small_demo, polls, tmp_path, complete):
    folder = write_checkpoint(tmp_path / "checkpoint", CHECKPOINT if complete else ("config.json",))
    app = open_page(monkeypatch, "app_pages/finetune.py", small_demo)
    app.selectbox(key="ft_model_choice").set_value("another hub id or a local folder…")
    app.text_input(key="ft_model_custom").input(str(folder))
    app.button(key="ft_start").click().run()
    assert not app.exception
    runs = list_runs()
    if complete:
        [run] = runs
        assert run.status == "queued" and not list(app.error)
        [note] = [s.value for s in app.success]
        assert note == f"Queued {run.run_id}: {folder} is a local folder with a checkpoint (safetensors weights)."
        assert polls.count(live.POLL_SECONDS) == 2  # the watch and "Training now" follow the new job
    else:
        assert runs == []
        [error] = [e.value for e in app.error]
        assert str(folder) in error and "lacks preprocessor_config.json, model.safetensors" in error
    app.run()  # shown once, and still there on the next run
    assert len(app.error) + len(app.success) == 1
    if complete:  # the note about a queued job goes once the job is over; its own red box says how it ended
        update_run(run, status="failed", error="stopped")
        app.run()
        assert not list(app.success) and [e.value for e in app.error] == [f"**{run.run_id} failed**  \nstopped"]


def test_finetune_offline_without_the_model_in_the_cache(monkeypatch, small_demo, polls, tmp_path):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    app = open_page(monkeypatch, "app_pages/finetune.py", small_demo)
    app.selectbox(key="ft_model_choice").set_value("another hub id or a local folder…")
    app.text_input(key="ft_model_custom").input("nobody/no-such-model")
    app.button(key="ft_start").click().run()
    [error] = [e.value for e in app.error]
    assert "'nobody/no-such-model' is not in the local Hugging Face cache" in error and "HF_HUB_OFFLINE" in error
    assert list_runs() == []


def test_progress_text_counts_on_from_the_last_write(isolated_cache, small_demo):
    run = start_baseline(BaselineSpec(model="svm"), load_corpus(small_demo))
    assert live.progress_text(run) == "queued: waiting for a worker"
    update_run(run, status="running", progress={
        "done": 12, "total": 240, "message": "grid search: 12/240 fits · 0:10 elapsed, about 3:10 left",
        "phase": "grid search", "elapsed_s": 10.0, "eta_s": 190.0})
    written = (run.path / "run.json").stat().st_mtime
    run = load_run(run.run_id)
    assert live.progress_text(run, now=written + 30) == ("grid search: 12/240 fits · 0:40 elapsed, "
                                                         "about 2:40 left")
    assert live.progress_text(run, now=written + 600).endswith("10:10 elapsed, taking longer than estimated")
    begun = int(written) - 150  # the job began 150 s before this phase's last write: an earlier phase took that
    update_run(run, started=time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(begun)))
    written = (run.path / "run.json").stat().st_mtime
    total = live.clock_text(written + 30 - begun)
    assert live.progress_text(load_run(run.run_id), now=written + 30).endswith(
        f"about 2:40 left · {total} since the job started")  # a phase's clock starts at 0:00, the total does not
    control.cancel(run.run_id)
    assert live.progress_text(load_run(run.run_id), now=written).endswith("· cancelling…")
