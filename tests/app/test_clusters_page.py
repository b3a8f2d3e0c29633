"""The Clusters page through AppTest, on a small generated corpus."""


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
