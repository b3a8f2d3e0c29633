"""The clusters and baselines pages through AppTest, on a small generated corpus."""

import time

import pytest


from ser.learning.baselines import BaselineSpec, run_baseline
from ser.analysis.clustering import agreement_table, kmeans_clusters
from ser.data.corpus import load_corpus
from ser.learning.features import extract_features
from ser.runs import list_runs, load_run
from apptest import open_page


def test_clusters_page(monkeypatch, small_demo):
    app = open_page(monkeypatch, "app_pages/clusters.py", small_demo)
    assert app.title[0].value.startswith("Clusters")
    corpus = load_corpus(small_demo)
    features = extract_features(corpus, "mfcc13").table  # what the page computed, from the cache
    engine = kmeans_clusters(features, 6)
    silhouette = next(m for m in app.metric if m.label == "Silhouette")
    assert silhouette.value == f"{engine.silhouette:.3f}"  # the page shows the engine's number
    assert any("Silhouette" in m.value and "(from -1 to 1)" in m.value for m in app.markdown)
    agreement = next(t.value for t in app.table if "AMI" in t.value.columns)
    assert list(agreement.columns) == ["values", "purity", "purity chance", "purity ceiling", "V-measure",
                                       "V-measure chance", "AMI", "reading"]
    assert list(agreement.index) == ["emotion", "sex", "speaker", "intensity"]
    clips = corpus.clips.loc[features.index]
    expected = agreement_table(engine.labels, {a: clips[a] for a in agreement.index})
    for column, shown in [("purity", "purity"), ("purity_ceiling", "purity ceiling"), ("ami", "AMI")]:
        assert agreement[shown].tolist() == pytest.approx(expected[column].tolist()), column
    assert agreement["reading"].str.startswith("The clusters").all()
    assert any("chance level is 0 by construction" in m.value for m in app.markdown)
    assert not any("1.0 means" in m.value for m in app.markdown)
    app.slider(key="clusters_k").set_value(3).run()
    assert not app.exception
    assert len(next(f.value for f in app.dataframe if "dominant" in f.value.columns)) == 3
    agreement = next(t.value for t in app.table if "AMI" in t.value.columns)
    clips_per_speaker = load_corpus(small_demo).clips["speaker"].value_counts()
    ceiling = clips_per_speaker.nlargest(3).sum() / clips_per_speaker.sum()  # k = 3
    assert agreement.loc["speaker", "purity ceiling"] == pytest.approx(ceiling)
    app.segmented_control(key="clusters_colour").set_value("emotion").run()
    app.segmented_control(key="clusters_view").set_value("UMAP").run()
    assert not app.exception
    assert any("UMAP keeps neighbourhoods" in c.value for c in app.caption)


def test_clusters_page_with_another_feature_set(monkeypatch, small_demo):
    app = open_page(monkeypatch, "app_pages/clusters.py", small_demo)
    app.selectbox(key="clusters_feature_set").set_value("mfcc-stats").run()
    assert not app.exception
    assert any(c.value.startswith("mfcc-stats:") for c in app.caption)


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


def test_bias_page_for_a_baseline_run(monkeypatch, small_demo):
    from ser.analysis.bias import analysis_frame, cached_group_report, gap_verdict

    corpus = load_corpus(small_demo)
    run = run_baseline(BaselineSpec(model="svm", split="report", grid="none", jobs=1), corpus)  # 6 test actors
    app = open_page(monkeypatch, "app_pages/bias.py", small_demo)
    assert not app.exception
    metrics = {m.label: m.value for m in app.metric}
    assert float(metrics["Macro-F1"]) == pytest.approx(run.metrics["macro_f1"], abs=1e-3)
    assert metrics["Clips"] == f"{run.metrics['clips']:,}"
    engine = cached_group_report(run, analysis_frame(run, corpus.clips, "test"), "sex", "test", n_boot=1000)
    assert any(m.value == gap_verdict(engine.gap) for m in app.markdown)  # the page says what the engine says
    table = next(f.value for f in app.dataframe if "ci_low" in f.value.columns)
    assert list(table["actors"]) == [3, 3] and set(table["in the verdict"]) == {"too few actors"}
    for by in ("actor", "age band", "duration band", "intensity"):
        app.selectbox(key="bias_by").set_value(by).run()
        assert not app.exception, by
    app.selectbox(key="bias_by").set_value("actor").run()
    table = next(f.value for f in app.dataframe if "ci_low" in f.value.columns)
    assert len(table) == 6 and (table["in the verdict"] == "yes").all()  # actors with enough clips each
    assert any(m.value.startswith("Largest gap among the 6 groups") for m in app.markdown)
    app.selectbox(key="bias_by2").set_value("sex").run()
    table = next(f.value for f in app.dataframe if "ci_low" in f.value.columns)
    assert table["group"].str.contains(" × ").all()
    app.multiselect(key="bias_filter_sex").set_value(["Female"]).run()
    assert any(c.value.endswith("clip(s) match the filters.") for c in app.caption)
    app.slider(key="bias_depth").set_value(2).run()
    assert not app.exception
    assert any("scored on the other 2 actors' clips" in m.value for m in app.markdown)


def test_bias_page_without_runs(monkeypatch, small_demo):
    app = open_page(monkeypatch, "app_pages/bias.py", small_demo)
    assert any("No finished run yet" in i.value for i in app.info)


def test_try_clip_page_lists_runs(monkeypatch, small_demo):
    app = open_page(monkeypatch, "app_pages/try_clip.py", small_demo)
    assert any("No finished run yet" in i.value for i in app.info)
    run = run_baseline(BaselineSpec(model="svm", grid="none", jobs=1), load_corpus(small_demo))
    app.run()
    assert not app.exception
    assert app.selectbox(key="try_run").value == run.run_id


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


def test_finetune_page_without_runs(monkeypatch, small_demo):
    app = open_page(monkeypatch, "app_pages/finetune.py", small_demo)
    assert app.title[0].value.startswith("Fine-tuning wav2vec2")
    assert any("No fine-tuning run yet" in i.value for i in app.info)
    app.selectbox(key="ft_model_choice").set_value("another hub id or a local folder…")
    app.text_input(key="ft_model_custom").input("")
    app.button(key="ft_start").click().run()
    assert not app.exception
    assert any("No model" in e.value for e in app.error)
