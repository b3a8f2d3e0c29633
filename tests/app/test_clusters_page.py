"""The Clusters page through AppTest, on a small generated corpus."""


import json

import pytest

from ser.analysis.clustering import agreement_table, kmeans_clusters
from ser.data.corpus import load_corpus
from ser.learning.features import extract_features
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
    agreement = next(t.value for t in app.dataframe if "AMI" in t.value.columns)
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
    agreement = next(t.value for t in app.dataframe if "AMI" in t.value.columns)
    clips_per_speaker = load_corpus(small_demo).clips["speaker"].value_counts()
    ceiling = clips_per_speaker.nlargest(3).sum() / clips_per_speaker.sum()  # k = 3
    assert agreement.loc["speaker", "purity ceiling"] == pytest.approx(ceiling)
    app.segmented_control(key="clusters_colour").set_value("emotion").run()
    app.segmented_control(key="clusters_view").set_value("UMAP").run()
    assert not app.exception
    assert any("UMAP keeps neighbourhoods" in c.value for c in app.caption)


def test_clusters_page_with_another_feature_set(monkeypatch, crema_folder):
    # 24 clips (mfcc-stats of 492 took 25 s); eGeMAPS (openSMILE): librosa's numba code is tested with mfcc-stats
    app = open_page(monkeypatch, "app_pages/clusters.py", crema_folder)
    app.selectbox(key="clusters_feature_set").set_value("egemaps").run()
    assert not app.exception
    assert any(c.value.startswith("egemaps: 24 clips") for c in app.caption)


def test_clusters_settings_survive_a_page_switch(monkeypatch, small_demo):
    app = open_page(monkeypatch, "app_pages/clusters.py", small_demo)
    app.slider(key="clusters_k").set_value(3).run()
    app.segmented_control(key="clusters_colour").set_value("sex").run()
    app.switch_page("app_pages/overview.py").run()
    for key in list(app.query_params):  # a browser on another page has none of the Clusters page's parameters
        del app.query_params[key]
    app.switch_page("app_pages/clusters.py").run()
    assert not app.exception
    assert app.slider(key="clusters_k").value == 3
    assert app.segmented_control(key="clusters_colour").value == "sex"
    assert len(next(f.value for f in app.dataframe if "dominant" in f.value.columns)) == 3


def test_the_clusters_view_lives_in_the_url_and_a_shared_url_opens_it(monkeypatch, small_demo):
    from streamlit.testing.v1 import AppTest

    from apptest import ROOT

    monkeypatch.setenv("SER_DATA", str(small_demo))
    monkeypatch.chdir(ROOT)
    app = AppTest.from_file(str(ROOT / "app_pages" / "clusters.py"), default_timeout=180)
    app.run()
    app.segmented_control(key="clusters_view").set_value("UMAP").run()
    assert not app.exception
    # the browser writes a bound widget's value into the URL under its query_param_key
    bound = [app.slider(key="clusters_k"), app.segmented_control(key="clusters_colour"),
             app.segmented_control(key="clusters_view"), app.slider(key="clusters_neighbors"),
             app.selectbox(key="clusters_feature_set")]
    assert [w.proto.query_param_key for w in bound] == [w.key for w in bound]
    assert app.segmented_control(key="clusters_view").proto.required
    assert app.segmented_control(key="clusters_colour").proto.required
    shared = AppTest.from_file(str(ROOT / "app_pages" / "clusters.py"), default_timeout=180)
    for key, value in {"clusters_k": "4", "clusters_colour": "speaker", "clusters_view": "PCA"}.items():
        shared.query_params[key] = value
    shared.run()
    assert not shared.exception
    assert shared.slider(key="clusters_k").value == 4
    assert shared.segmented_control(key="clusters_colour").value == "speaker"
    assert len(next(f.value for f in shared.dataframe if "dominant" in f.value.columns)) == 4
    legend = json.loads(shared.get("plotly_chart")[0].proto.spec)["layout"]["legend"]["title"]["text"]
    assert legend == "speaker"


def selection_of(rows):
    """What the chart's widget state holds after a box or lasso (or a click: one point) over these rows."""
    return {"selection": {"points": [{"customdata": row} for row in rows], "point_indices": list(rows),
                          "box": [], "lasso": []}}


def test_a_box_selection_is_listed_and_offered_and_a_click_plays_one_clip(monkeypatch, small_demo):
    from ui.selection import STORE

    app = open_page(monkeypatch, "app_pages/clusters.py", small_demo)
    features = extract_features(load_corpus(small_demo), "mfcc13").table  # the scatter's rows, in order
    app.session_state["cluster_scatter"] = selection_of(range(5, 12))
    app.run()
    assert not app.exception
    assert "7 selected clips" in [s.value for s in app.subheader]
    offered = app.session_state[STORE]["Clusters"]
    assert offered.clip_ids == tuple(features.index[5:12]) and offered.label == "selection from Clusters, 7 clips"
    table = next(f.value for f in app.dataframe if "cluster" in f.value.columns and len(f.value) == 7)
    assert list(table.index) == list(features.index[5:12])
    app.session_state["cluster_scatter"] = selection_of([20])
    app.run()
    assert not app.exception
    assert any(m.value.startswith(f"**{features.index[20]}**") for m in app.markdown)
    assert len(app.get("audio")) == 1
    assert app.session_state[STORE]["Clusters"].clip_ids == tuple(features.index[5:12])  # a click is not a selection


def test_a_selection_from_another_page_is_drawn_on_top(monkeypatch, small_demo):
    from ui.selection import STORE, Selection

    app = open_page(monkeypatch, "app_pages/clusters.py", small_demo)
    features = extract_features(load_corpus(small_demo), "mfcc13").table
    app.session_state[STORE] = {"Bias: true ANG, said SAD": Selection("Bias: true ANG, said SAD",
                                                                       tuple(features.index[:30]))}
    app.run()
    app.selectbox(key="clusters_highlight").select("Bias: true ANG, said SAD").run()
    assert not app.exception
    assert any("drawn in colour on top" in c.value for c in app.caption)
    traces = json.loads(app.get("plotly_chart")[0].proto.spec)["data"]
    assert traces[0]["name"] == "other clips"
    assert sum(_points(t) for t in traces[1:]) == 30 and _points(traces[0]) == len(features) - 30


def _points(trace) -> int:
    """Points in a trace of the chart's JSON (a list, or plotly's base64 typed array)."""
    import base64

    import numpy as np

    x = trace["x"]
    return len(x) if isinstance(x, list) else len(np.frombuffer(base64.b64decode(x["bdata"]), dtype=x["dtype"]))
