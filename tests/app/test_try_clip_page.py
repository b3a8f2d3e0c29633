"""The Try a clip page through AppTest, on a small generated corpus: the run's model is loaded as soon as the run
is picked (not when a file arrives), an upload is classified and drawn, and the run picker is the pages' shared
"run": the run chosen on Bias is the one tried here, kept across pages and named in the URL."""

import json

import pytest
from streamlit.testing.v1 import AppTest

from apptest import ROOT, open_page
from ser.data.corpus import load_corpus
from ser.labels import EMOTIONS
from ser.learning.baselines import BaselineSpec, run_baseline
from ser.learning.predict import Predictor


@pytest.fixture
def two_runs(small_demo):
    corpus = load_corpus(small_demo)
    older = run_baseline(BaselineSpec(model="logreg", grid="none", jobs=1), corpus)
    newer = run_baseline(BaselineSpec(model="svm", grid="none", jobs=1), corpus)
    return older, newer


def test_the_model_is_loaded_when_the_run_is_picked_and_an_upload_is_classified(monkeypatch, small_demo):
    loaded, load = [], Predictor.__init__

    def counted(self, chosen):
        loaded.append(chosen.run_id)
        load(self, chosen)

    monkeypatch.setattr(Predictor, "__init__", counted)
    app = open_page(monkeypatch, "app_pages/try_clip.py", small_demo)
    assert any("No finished run yet" in i.value for i in app.info)
    run = run_baseline(BaselineSpec(model="svm", grid="none", jobs=1), load_corpus(small_demo))
    app.run()
    assert not app.exception, app.exception
    assert app.selectbox(key="run").value == run.run_id
    assert loaded == [run.run_id]  # with the page, before any file
    clip = next((small_demo / "AudioWAV").glob("*_ANG_*.wav"))
    app.file_uploader(key="try_upload").set_value((clip.name, clip.read_bytes(), "audio/wav")).run()
    assert not app.exception, app.exception
    assert [m.value for m in app.metric if m.label == "Predicted emotion"][0] in EMOTIONS
    charts = [json.loads(c.proto.spec) for c in app.get("plotly_chart")]
    assert len(charts) == 3  # the waveform and the mel spectrogram (ui.audio_view), the probabilities
    assert charts[1]["data"][0]["type"] == "heatmap"
    assert loaded == [run.run_id]  # not loaded again for the upload


def test_a_clip_the_model_was_trained_on_is_flagged(monkeypatch, small_demo, tmp_path):
    run = run_baseline(BaselineSpec(model="svm", grid="none", jobs=1), load_corpus(small_demo))
    parts = run.predictions().set_index("clip_id")["part"]
    trained, tested = parts[parts == "train"].index[0], parts[parts == "test"].index[0]
    renamed = tmp_path / "my-recording.wav"  # a clip of no run
    renamed.write_bytes((small_demo / "AudioWAV" / f"{tested}.wav").read_bytes())
    app = open_page(monkeypatch, "app_pages/try_clip.py", small_demo)
    files = [(f"{trained}.wav", (small_demo / "AudioWAV" / f"{trained}.wav").read_bytes(), "audio/wav"),
             (f"{tested}.wav", (small_demo / "AudioWAV" / f"{tested}.wav").read_bytes(), "audio/wav"),
             (renamed.name, renamed.read_bytes(), "audio/wav")]
    app.file_uploader(key="try_upload").set_value(files).run()
    assert not app.exception, app.exception
    assert [w.value for w in app.warning if "training part" in w.value] == [
        f"A clip named {trained} was in this model's training part: this shows what it learned, not how it does on "
        "voices it has not heard."]
    assert [i.value for i in app.info if "part (" in i.value] == [
        f"A clip named {tested} is in this model's test part (the run's report already counts it)."]


def test_the_run_chosen_on_bias_is_tried_kept_and_named_in_the_url(monkeypatch, small_demo, two_runs):
    older, newer = two_runs
    app = open_page(monkeypatch, "app_pages/bias.py", small_demo)
    app.selectbox(key="run").set_value(older.run_id).run()
    app.switch_page("app_pages/try_clip.py").run()
    assert not app.exception, app.exception
    assert app.selectbox(key="run").value == older.run_id
    app.selectbox(key="run").set_value(newer.run_id).run()
    app.switch_page("app_pages/overview.py").run()
    app.switch_page("app_pages/try_clip.py").run()
    assert app.selectbox(key="run").value == newer.run_id
    assert app.query_params["run"] == newer.run_id  # in the URL: a shared link names the run

    for named, shown in ((older.run_id, older.run_id), ("baseline-20200101-000000-dead", newer.run_id)):
        shared = AppTest.from_file(str(ROOT / "app_pages" / "try_clip.py"), default_timeout=180)
        shared.query_params["run"] = named
        shared.run()
        assert not shared.exception, shared.exception
        assert shared.selectbox(key="run").value == shown
