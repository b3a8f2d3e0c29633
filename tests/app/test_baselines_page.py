"""The Baselines page through AppTest, on a small generated corpus."""

import time


from ser.learning.baselines import BaselineSpec, run_baseline
from ser.data.corpus import load_corpus
from ser.runs import list_runs, load_run
from apptest import open_page, open_url


def test_baselines_page_starts_a_job_and_shows_the_run(monkeypatch, small_demo):
    app = open_page(monkeypatch, "app_pages/baselines.py", small_demo)
    assert any("No runs yet" in i.value for i in app.info)
    [expected] = [c.value for c in app.caption if c.value.startswith("Expected duration on this corpus (492 clips)")]
    assert " for the SVM and " in expected
    app.selectbox(key="baseline_grid").set_value("none")
    app.button(key="start_baseline").click().run()
    assert not app.exception
    [run] = list_runs()
    deadline = time.monotonic() + 120
    while load_run(run.run_id).status not in ("finished", "failed"):
        assert time.monotonic() < deadline, "the job did not finish"
        time.sleep(0.5)
    app.run()
    assert not app.exception
    assert load_run(run.run_id).status == "finished"
    metrics = {m.label: m.value for m in app.metric}
    assert {"Macro-F1", "UAR", "Accuracy", "Test clips"} <= set(metrics)
    report = next(f.value for f in app.dataframe if "precision" in f.value.columns)
    assert "macro avg" in report.index


def test_baselines_page_opens_and_deletes_runs(monkeypatch, small_demo):
    corpus = load_corpus(small_demo)
    first = run_baseline(BaselineSpec(model="svm", grid="none", jobs=1), corpus)
    second = run_baseline(BaselineSpec(model="rf", split="report", grid="none", jobs=1), corpus)
    app = open_page(monkeypatch, "app_pages/baselines.py", small_demo)
    table = next(f.value for f in app.dataframe if "run_id" in f.value.columns)
    assert set(table["run_id"]) == {first.run_id, second.run_id}
    app.selectbox(key="open_run").set_value(first.run_id).run()
    assert any(first.run_id in m.value for m in app.markdown)
    app.checkbox(key="confirm_delete").check().run()
    app.button(key="delete_run").click().run()
    assert not app.exception
    assert [r.run_id for r in list_runs()] == [second.run_id]


def test_the_opened_run_is_in_the_url_and_a_shared_url_opens_it(monkeypatch, small_demo):
    corpus = load_corpus(small_demo)
    first = run_baseline(BaselineSpec(model="svm", grid="none", jobs=1), corpus)
    second = run_baseline(BaselineSpec(model="rf", split="report", grid="none", jobs=1), corpus)
    app = open_page(monkeypatch, "app_pages/baselines.py", small_demo)
    app.selectbox(key="open_run").set_value(first.run_id).run()
    assert app.query_params["open_run"] == first.run_id  # the id, not the label
    shared = open_url("app_pages/baselines.py", {"open_run": first.run_id})
    assert shared.selectbox(key="open_run").value == first.run_id
    stale = open_url("app_pages/baselines.py", {"open_run": "deleted-run"})
    assert stale.selectbox(key="open_run").value == second.run_id  # the newest


def test_an_app_restart_still_shows_a_running_job(monkeypatch, small_demo, worker_process):
    """The job and its progress live on disk: a fresh app session (as after a restart) shows them."""
    from ser.jobs.control import cancel_requested, refresh, submit_baseline

    run = submit_baseline(BaselineSpec(model="rf", grid="report", jobs=1), load_corpus(small_demo))  # minutes
    deadline = time.monotonic() + 60
    while "grid search" not in load_run(run.run_id).info.get("progress", {}).get("message", ""):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    app = open_page(monkeypatch, "app_pages/baselines.py", small_demo)  # a brand-new session
    bars = [p for p in app.get("progress") if run.run_id in str(p.proto.text)]
    assert bars, (load_run(run.run_id).status, [str(p.proto.text) for p in app.get("progress")], app.exception)
    button = app.button(key=f"cancel_{run.run_id}")  # raises KeyError when the page has no such button
    assert button.label == "Cancel"
    button.click().run()
    assert not app.exception
    assert cancel_requested(load_run(run.run_id))  # the click reached the job...
    deadline = time.monotonic() + 60
    while refresh(load_run(run.run_id)).status != "cancelled":  # ...and the worker stopped it
        assert time.monotonic() < deadline, load_run(run.run_id).info
        time.sleep(0.3)
