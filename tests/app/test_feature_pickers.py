"""Embedding layers in the pages' feature pickers (ui.features_panel): the Clusters page lists the layers of a
tiny wav2vec2 whose embeddings are stored and clusters one; a model not stored yet is never computed in the
page but queued as the worker's extraction job; the Baselines page trains on a layer. The tiny model is
randomly initialised and saved to a folder (no network): its clusters say nothing about emotion."""

from __future__ import annotations

import time

import pytest

from apptest import open_page
from ser.analysis.clustering import kmeans_clusters
from ser.data.corpus import load_corpus
from ser.learning.embeddings import embedding_features, extract_embeddings
from ser.runs import list_runs, load_run
from test_embeddings import save_encoder

pytestmark = pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask and attn_mask")


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return save_encoder(tmp_path_factory.mktemp("picker-encoder") / "tiny-w2v", "wav2vec2")


def wait_for(run_id: str, seconds: float = 180):
    deadline = time.monotonic() + seconds
    while load_run(run_id).status not in ("finished", "failed", "cancelled"):
        assert time.monotonic() < deadline, load_run(run_id).info
        time.sleep(0.5)
    return load_run(run_id)


def test_clusters_lists_the_stored_layers_and_clusters_one(monkeypatch, small_demo, tiny):
    corpus = load_corpus(small_demo)
    extract_embeddings(corpus, str(tiny))
    app = open_page(monkeypatch, "app_pages/clusters.py", small_demo)
    picker = app.selectbox(key="clusters_feature_set")
    names = [f"ssl:{tiny}:{layer}" for layer in range(3)]
    shown = {o for o in picker.options if " · layer " in o}  # the options' labels
    assert shown == {f"tiny-w2v · layer {layer} ({tiny})" for layer in range(3)}
    picker.set_value(names[2]).run()
    assert not app.exception, app.exception
    assert any(c.value.startswith(f"{names[2]}: 492 clips") and "read from the cache" in c.value for c in app.caption)
    expected = kmeans_clusters(embedding_features(corpus, names[2]).table, 6)
    assert next(m for m in app.metric if m.label == "Silhouette").value == f"{expected.silhouette:.3f}"
    assert "extract_embeddings" not in _keys(app)


def _keys(app) -> set[str]:
    return {b.key for b in app.button}


def test_a_model_not_stored_is_queued_as_a_job_not_computed_in_the_page(monkeypatch, small_demo, tiny):
    from ser.learning import embeddings

    app = open_page(monkeypatch, "app_pages/clusters.py", small_demo)
    app.selectbox(key="clusters_feature_set").set_value("ssl:another").run()
    assert any("Give the speech encoder" in i.value for i in app.info)
    monkeypatch.setattr(embeddings, "load_encoder", lambda *a, **k: pytest.fail("the page ran the model"))
    app.text_input(key="clusters_feature_set_model").input(str(tiny)).run()
    app.number_input(key="clusters_feature_set_layer").set_value(1).run()
    assert not app.exception, app.exception
    assert any("Layer 1 of" in i.value and "not stored for this corpus yet" in i.value and "(0 of 492 clips)"
               in i.value for i in app.info)
    assert "extract_embeddings" in _keys(app) and not list_runs()
    assert app.selectbox(key="extract_precision").value == "auto"
    app.selectbox(key="extract_precision").set_value("float32").run()  # not the default: it must reach the job
    app.button(key="extract_embeddings").click().run()
    assert not app.exception, app.exception
    [run] = list_runs()
    assert run.kind == "embeddings" and run.info["spec"]["model"] == str(tiny) and run.info["spec"]["layers"] == "all"
    assert run.info["spec"]["precision"] == "float32"
    if load_run(run.run_id).status in ("queued", "running"):  # its progress is shown while it waits or runs
        assert any(run.run_id in str(p.proto.text) for p in app.get("progress"))
    assert wait_for(run.run_id).status == "finished"
    app.run()
    assert not app.exception, app.exception
    assert any(c.value.startswith(f"ssl:{tiny}:1: 492 clips") for c in app.caption)  # now read from the cache


def test_a_model_that_cannot_be_had_says_what_to_do_offline(monkeypatch, small_demo):
    app = open_page(monkeypatch, "app_pages/clusters.py", small_demo)
    app.selectbox(key="clusters_feature_set").set_value("ssl:another").run()
    app.text_input(key="clusters_feature_set_model").input("nobody/no-such-encoder").run()
    assert not app.exception, app.exception
    assert any("nobody/no-such-encoder" in e.value for e in app.error)
    assert any("HF_HUB_OFFLINE=1" in i.value and "save_pretrained" in i.value for i in app.info)
    assert "extract_embeddings" not in _keys(app)


def test_baselines_trains_on_an_embedding_layer(monkeypatch, small_demo, tiny):
    corpus = load_corpus(small_demo)
    extract_embeddings(corpus, str(tiny))
    app = open_page(monkeypatch, "app_pages/baselines.py", small_demo)
    name = f"ssl:{tiny}:1"
    assert f"tiny-w2v · layer 1 ({tiny})" in app.selectbox(key="baseline_features").options  # labels
    app.selectbox(key="baseline_features").set_value(name)
    app.selectbox(key="baseline_model").set_value("logreg")
    app.selectbox(key="baseline_grid").set_value("none")
    app.button(key="start_baseline").click().run()
    assert not app.exception, app.exception
    [run] = list_runs()
    assert run.info["spec"]["features"] == name
    run = wait_for(run.run_id)
    assert run.status == "finished", run.info
    assert 0 <= run.info["metrics"]["macro_f1"] <= 1
