"""The Bias page through AppTest, on a small generated corpus."""


import pytest

from ser.learning.baselines import BaselineSpec, run_baseline
from ser.data.corpus import load_corpus
from apptest import open_page


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
