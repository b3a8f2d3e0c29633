"""The layer probe page through AppTest: a probe started from the form runs through the real worker (a tiny local
wav2vec2), a second probe of another model is drawn over it, each best layer marked."""

import json
import time

import pytest

from apptest import open_page, open_url
from ser.data.corpus import load_corpus
from ser.learning.probe import ProbeSpec, probe_table, run_probe
from ser.runs import list_runs, load_run
from test_embeddings import save_encoder

pytestmark = pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask and attn_mask")
CLIPS = 90


def chart_traces(app) -> list[dict]:
    [chart] = [c for c in app.get("plotly_chart")]
    return json.loads(chart.proto.spec)["data"]


def test_layer_probe_page(monkeypatch, small_demo, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the worker the page starts inherits it
    wav2vec2, hubert = save_encoder(tmp_path / "wav2vec2"), save_encoder(tmp_path / "hubert", "hubert")
    app = open_page(monkeypatch, "app_pages/layers.py", small_demo)
    assert app.title[0].value.startswith("Layer probe")
    assert any("No finished probe yet" in i.value for i in app.info)
    assert any("without internet" in i.value for i in app.info)
    app.text_input(key="probe_model").set_value(str(wav2vec2))
    app.number_input(key="probe_max_clips").set_value(CLIPS)
    app.button(key="start_probe").click().run()
    assert not app.exception
    [run] = list_runs("probe")
    deadline = time.monotonic() + 180
    while load_run(run.run_id).status not in ("finished", "failed", "cancelled"):
        assert time.monotonic() < deadline, "the probe did not finish"
        time.sleep(0.5)
    assert load_run(run.run_id).status == "finished", load_run(run.run_id).info.get("error")
    other = run_probe(ProbeSpec(model=str(hubert), max_clips=CLIPS, jobs=1), load_corpus(small_demo))
    app.run()
    assert not app.exception
    app.selectbox(key="probe_pick").set_value(run.run_id).run()
    assert len(chart_traces(app)) == 2  # one line with its error bars, and its best layer
    app.selectbox(key="probe_compare").set_value(other.run_id).run()
    assert not app.exception
    traces = chart_traces(app)
    lines = [t for t in traces if t.get("mode") == "lines+markers"]
    stars = [t for t in traces if t.get("marker", {}).get("symbol") == "star"]
    assert len(lines) == 2 and len(stars) == 2
    for trace, probe in zip(lines, [load_run(run.run_id), other]):
        table = probe_table(probe)
        assert trace["x"] == table["layer"].tolist() and trace["y"] == pytest.approx(table["macro_f1"].tolist())
        assert trace["error_y"]["array"] == pytest.approx((table["high"] - table["macro_f1"]).tolist())
    for star, probe in zip(stars, [load_run(run.run_id), other]):
        assert star["x"] == [probe.info["best_layer"]]
    shown = " ".join(m.value for m in app.markdown)
    assert f"Kept as baseline run `{load_run(run.run_id).info['best_run']}`" in shown
    assert f"`{other.info['best_run']}`" in shown
    # 6 demo actors: the actor split tests on 2, too few for a telling interval, and the page says so
    assert any("speaker(s) in the test part" in w.value for w in app.warning)


def test_a_model_that_cannot_be_had_is_refused_before_a_job_is_queued(monkeypatch, small_demo):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    app = open_page(monkeypatch, "app_pages/layers.py", small_demo)
    app.text_input(key="probe_model").set_value("nobody/no-such-encoder")
    app.button(key="start_probe").click().run()
    assert not app.exception
    assert any("nobody/no-such-encoder" in e.value and "hf download" in e.value for e in app.error)
    assert list_runs("probe") == []  # nothing queued that could only fail


def made_up_probe(model: str, best: int, day: int):
    """A finished probe of three layers, ``best`` the best, made on ``day`` of January 2025, without training."""
    from ser.runs import create_run, update_run

    run = create_run("probe", {"model": model, "classifier": "logreg", "split": "actor"},
                     {"name": "demo", "synthetic": True}, run_id=f"probe-202501{day:02d}-120000-abcd")
    layers = [{"layer": layer, "macro_f1": 0.3 + 0.1 * (layer == best), "low": 0.2, "high": 0.5, "uar": 0.3,
               "accuracy": 0.3, "seconds": 1.0, "best": layer == best, "actors": 6} for layer in range(3)]
    return update_run(run, status="finished", layers=layers, best_layer=best, best_run=f"baseline-of-{model}",
                      created=f"2025-01-{day:02d}T12:00:00")


def test_the_probes_shown_are_kept_and_a_shared_url_opens_them(monkeypatch, small_demo):
    from streamlit.testing.v1 import AppTest

    from apptest import ROOT

    older, newer = made_up_probe("model-a", 1, day=1), made_up_probe("model-b", 2, day=2)
    app = open_page(monkeypatch, "app_pages/layers.py", small_demo)
    assert app.selectbox(key="probe_pick").value == newer.run_id and app.selectbox(key="probe_compare").value == "none"
    app.selectbox(key="probe_pick").set_value(older.run_id).run()
    app.selectbox(key="probe_compare").set_value(newer.run_id).run()
    app.switch_page("app_pages/overview.py").run()
    app.switch_page("app_pages/layers.py").run()
    assert not app.exception, app.exception
    assert app.query_params["probe_pick"] == older.run_id
    assert app.selectbox(key="probe_pick").value == older.run_id
    assert app.selectbox(key="probe_compare").value == newer.run_id
    assert [t["x"] for t in chart_traces(app) if t.get("marker", {}).get("symbol") == "star"] == [[1], [2]]

    monkeypatch.setenv("SER_DATA", str(small_demo))
    shared = open_url("app_pages/layers.py", {"probe_pick": older.run_id})
    assert shared.selectbox(key="probe_pick").value == older.run_id
    stale = AppTest.from_file(str(ROOT / "app_pages" / "layers.py"), default_timeout=180)
    stale.query_params["probe_pick"] = "probe-20200101-000000-dead"
    stale.run()
    assert not stale.exception, stale.exception
    assert stale.selectbox(key="probe_pick").value == newer.run_id
