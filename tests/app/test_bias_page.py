"""The Bias page through AppTest, on a small generated corpus."""

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from apptest import ROOT, open_page
from ser.data.corpus import load_corpus
from ser.learning.baselines import BaselineSpec, run_baseline
from ser.runs import create_run, update_run

EMOTIONS = ["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"]


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
    open_tab(app, "Confusion by demographics")
    app.multiselect(key="bias_filter_sex").set_value(["Female"]).run()
    assert any(c.value.endswith("Click a cell to list and hear its clips.") for c in app.caption)
    open_tab(app, "Crowd vs model")  # its grouping is the By-group tab's (one widget key, one tab drawn at a time)
    assert app.selectbox(key="bias_by").value == "actor" and app.get("plotly_chart")
    open_tab(app, "Why errors happen")
    app.slider(key="bias_depth").set_value(2).run()
    assert not app.exception
    assert any("each of the 6 actors' clips are scored by a tree fitted on the other actors" in m.value
               for m in app.markdown)
    assert any("95% interval" in w.value for w in app.warning) or any("95% interval" in c.value for c in app.caption)


def test_bias_page_without_runs(monkeypatch, small_demo):
    app = open_page(monkeypatch, "app_pages/bias.py", small_demo)
    assert any("No finished run yet" in i.value for i in app.info)


# ---------------------------------------------------------------- made-up runs with known predictions

def open_tab(app: AppTest, label: str) -> AppTest:
    """Open one of the page's tabs (only the open tab runs), as a click on it does: the tab's state, and the
    URL that a click updates in a browser (under AppTest a URL already naming a tab would otherwise win)."""
    app.session_state["bias_tab"] = label
    if label == "By group":
        app.query_params.pop("bias_tab", None)
    else:
        app.query_params["bias_tab"] = label
    app.run()
    assert not app.exception, app.exception
    return app


def made_up_run(corpus_path, clips: pd.DataFrame, worst: str, created: str, with_train: bool = False):
    """A finished run whose predictions are known: every fourth clip and two thirds of ``worst``'s clips are
    predicted as the next emotion (in each part)."""
    run = create_run("baseline", {"model": "svm", "features": "mfcc13", "split": "actor"},
                     {"source": str(corpus_path), "synthetic": True})
    truth = clips["emotion"].to_numpy()
    position = np.arange(len(clips))
    wrong = (position % 4 == 0) | ((clips["speaker"].astype(str).to_numpy() == worst) & (position % 3 != 0))
    following = np.array([EMOTIONS[(EMOTIONS.index(e) + 1) % 6] for e in truth])
    part = np.where(position % 2 == 0, "test", "train") if with_train else "test"
    pd.DataFrame({"clip_id": clips.index, "part": part, "y_true": truth,
                  "y_pred": np.where(wrong, following, truth)}).to_parquet(run.predictions_path)
    update_run(run, status="finished", created=created)
    return run


@pytest.fixture
def made_up(small_demo):
    """Two finished runs on the small demo corpus: the older one worst on its first actor, the newer one on
    its last (and with a train part)."""
    clips = load_corpus(small_demo).clips
    speakers = sorted(clips["speaker"].astype(str).unique())
    older = made_up_run(small_demo, clips, speakers[0], "2026-01-01T00:00:00")
    newer = made_up_run(small_demo, clips, speakers[-1], "2026-01-02T00:00:00", with_train=True)
    return {"older": older, "newer": newer, "clips": clips, "speakers": speakers}


def frame_of(run, part="test"):
    from ser.analysis.bias import analysis_frame

    return analysis_frame(run, load_corpus(run.info["corpus"]["source"]).clips, part)


def cards(app: AppTest) -> list[dict]:
    """The metric cards as one dict per row of five (headline first)."""
    values = [(m.label, m.value, m.proto.body) for m in app.metric]
    rows = [values[i:i + 5] for i in range(0, len(values), 5)]
    return [{label: (value, body) for label, value, body in row} for row in rows]


def test_the_listen_box_starts_on_the_charts_worst_actor(monkeypatch, small_demo, made_up):
    app = open_tab(open_page(monkeypatch, "app_pages/bias.py", small_demo), "Actors")
    listen = app.selectbox(key="bias_actor")
    assert app.selectbox(key="run").value == made_up["newer"].run_id
    assert listen.value == made_up["speakers"][-1]  # its worst actor
    from ser.analysis.bias import group_report

    table = group_report(frame_of(made_up["newer"]), "actor", n_boot=0).groups
    shown = [option.split()[1] for option in listen.options]  # "actor 1006 · macro-F1 0.136"
    assert shown == list(table.sort_values("macro_f1", kind="stable")["group"].astype(str))
    app.selectbox(key="run").set_value(made_up["older"].run_id).run()
    assert app.selectbox(key="bias_actor").value == made_up["speakers"][0]  # the other run's worst
    app.selectbox(key="bias_actor").set_value(made_up["speakers"][2]).run()
    app.selectbox(key="bias_boot").set_value(2000).run()
    assert app.selectbox(key="bias_actor").value == made_up["speakers"][2]  # the user's choice then stays


def test_the_confusion_views_cards_are_the_filtered_clips_with_intervals(monkeypatch, small_demo, made_up):
    from ser.analysis.bias import filter_frame, overall_report

    app = open_tab(open_page(monkeypatch, "app_pages/bias.py", small_demo), "Confusion by demographics")
    headline, filtered = cards(app)
    assert headline == filtered  # no filter: the same clips, the same definition
    sentence = app.multiselect(key="bias_filter_sentence").options[0]
    app.multiselect(key="bias_filter_sentence").set_value([sentence]).run()
    headline_after, filtered = cards(app)
    assert headline_after == headline
    subset = filter_frame(frame_of(made_up["newer"]), {"sentence": [sentence]})
    expected = overall_report(subset)
    assert filtered["Clips"][0] == f"{len(subset):,}" and filtered["Actors"][0] == str(subset["speaker"].nunique())
    assert float(filtered["Macro-F1"][0]) == pytest.approx(expected["macro_f1"]["value"], abs=1e-3)
    low, high = expected["macro_f1"]["ci"]
    assert f"[{low:.3f}, {high:.3f}]" in str(app.metric[5].proto.delta)
    assert any(f"**sentence**: {sentence}" in m.value for m in app.markdown)  # the active filters, readable
    app.multiselect(key="bias_filter_sex").set_value(["Female"]).run()  # 3 actors: too few for an interval
    assert cards(app)[1]["Actors"][0] == "3" and "no interval" in str(app.metric[5].proto.delta)
    assert any("too few for an interval" in c.value for c in app.caption)
    assert any(f"**sex**: Female · **sentence**: {sentence}" in m.value for m in app.markdown)


def test_a_chosen_cell_lists_exactly_its_clips_and_offers_them(monkeypatch, small_demo, made_up):
    app = open_tab(open_page(monkeypatch, "app_pages/bias.py", small_demo), "Confusion by demographics")
    app.selectbox(key="bias_cell").set_value("model|ANG|DIS").run()
    frame = frame_of(made_up["newer"])
    expected = frame.index[(frame["y_true"] == "ANG") & (frame["y_pred"] == "DIS")]
    assert len(expected) > 0
    assert any(c.value.startswith(f"{len(expected):,} clip(s): Model: true ANG, said DIS") for c in app.caption)
    listed = next(f.value for f in app.dataframe if "prediction" in f.value.columns)  # the clip table
    assert set(listed.index) == set(expected) and (listed["prediction"] == "DIS").all()
    offered = app.session_state["_selections"]["Bias: cell"]  # one cell kept: a new one replaces it
    assert offered.source == "Bias: true ANG, said DIS" and set(offered.clip_ids) == set(expected)
    app.selectbox(key="bias_cell").set_value("model|SAD|SAD").run()
    assert [s.source for s in app.session_state["_selections"].values()] == ["Bias: true SAD, said SAD"]
    cells = [(t, p) for t in sorted(set(frame["y_true"])) for p in sorted(set(frame["y_pred"]))]
    t, p = next(c for c in cells if not ((frame["y_true"] == c[0]) & (frame["y_pred"] == c[1])).any())
    app.selectbox(key="bias_cell").set_value(f"model|{t}|{p}").run()  # an empty cell: nothing offered, nothing lost
    assert any(c.value.startswith("No clips: Model: true") for c in app.caption)
    assert [s.source for s in app.session_state["_selections"].values()] == ["Bias: true SAD, said SAD"]


def test_a_selection_made_on_another_page_narrows_the_analysis(monkeypatch, small_demo, made_up):
    from ser.analysis.bias import overall_report
    from ui.selection import Selection

    frame = frame_of(made_up["newer"])
    chosen = frame.index[frame["speaker"].astype(str).isin(made_up["speakers"][:5])][::3]
    app = open_page(monkeypatch, "app_pages/bias.py", small_demo)
    app.session_state["_selections"] = {"Clusters": Selection("Clusters", tuple(chosen))}
    app.run()
    app.selectbox(key="bias_only").set_value("Clusters").run()
    assert not app.exception
    assert any(f"selection from Clusters, {len(chosen):,} clips" in i.value for i in app.info)
    headline = cards(app)[0]
    assert headline["Clips"][0] == f"{len(chosen):,}"
    assert float(headline["Macro-F1"][0]) == pytest.approx(overall_report(frame.loc[chosen])["macro_f1"]["value"],
                                                           abs=1e-3)
    table = next(f.value for f in app.dataframe if "ci_low" in f.value.columns)
    assert table["clips"].sum() == len(chosen)  # the groups are of the selection too
    # a cell's (or group's) clip table has no "Only the clips of" of its own: the page's one applies
    app = open_tab(app, "Confusion by demographics")
    app.selectbox(key="bias_cell").set_value("model|ANG|ANG").run()
    listed = next(f.value for f in app.dataframe if "prediction" in f.value.columns)
    assert set(listed.index) <= set(chosen) and len(listed) > 0
    assert [b.key for b in app.selectbox if "selection" in (b.key or "") or b.label == "Only the clips of"] == \
        ["bias_only"]  # and Bias's own pick (this cell) is not offered back to the page's filter
    assert app.selectbox(key="bias_only").options == ["(all clips)", "selection from Clusters, "
                                                      f"{len(chosen):,} clips"]


def test_settings_survive_a_visit_to_another_page(monkeypatch, small_demo, made_up):
    app = open_page(monkeypatch, "app_pages/bias.py", small_demo)
    app.selectbox(key="run").set_value(made_up["older"].run_id).run()
    app.selectbox(key="bias_boot").set_value(2000).run()
    app.selectbox(key="bias_by").set_value("race").run()
    app.selectbox(key="bias_by2").set_value("sex").run()
    open_tab(app, "Confusion by demographics")
    app.multiselect(key="bias_filter_sex").set_value(["Female"]).run()
    app.toggle(key="bias_normalise").set_value(False).run()
    app.switch_page("app_pages/overview.py").run()
    for key in list(app.query_params):  # a browser on another page has none of the Bias page's parameters
        del app.query_params[key]
    app.switch_page("app_pages/bias.py").run()
    assert not app.exception
    assert app.selectbox(key="run").value == made_up["older"].run_id
    assert app.selectbox(key="bias_boot").value == 2000
    assert app.multiselect(key="bias_filter_sex").value == ["Female"]
    assert app.toggle(key="bias_normalise").value is False
    open_tab(app, "By group")
    assert app.selectbox(key="bias_by").value == "race" and app.selectbox(key="bias_by2").value == "sex"


def test_a_shared_url_opens_the_same_view_and_a_stale_run_is_ignored(monkeypatch, small_demo, made_up):
    monkeypatch.setenv("SER_DATA", str(small_demo))
    monkeypatch.chdir(ROOT)
    app = AppTest.from_file(str(ROOT / "app_pages" / "bias.py"), default_timeout=180)
    for key, value in {"run": made_up["older"].run_id, "bias_part": "test", "bias_boot": "2000",
                       "bias_tab": "Confusion by demographics", "bias_filter_sex": "Female",
                       "bias_normalise": "false"}.items():
        app.query_params[key] = value
    app.run()
    assert not app.exception, app.exception
    assert app.selectbox(key="run").value == made_up["older"].run_id and app.selectbox(key="bias_boot").value == 2000
    assert app.multiselect(key="bias_filter_sex").value == ["Female"]
    assert app.toggle(key="bias_normalise").value is False
    stale = AppTest.from_file(str(ROOT / "app_pages" / "bias.py"), default_timeout=180)
    stale.query_params["run"] = "baseline-20200101-000000-dead"
    stale.query_params["bias_by"] = "race"
    stale.run()
    assert not stale.exception, stale.exception
    assert stale.selectbox(key="run").value == made_up["newer"].run_id  # the newest run instead
    assert stale.selectbox(key="bias_by").value == "race"


def test_a_groups_clips_are_listed_and_offered(monkeypatch, small_demo, made_up):
    app = open_page(monkeypatch, "app_pages/bias.py", small_demo)
    app.selectbox(key="bias_by").set_value("sentence").run()
    sentence = app.selectbox(key="bias_group_pick").options[2]  # after "(none)" and the worst sentence
    app.selectbox(key="bias_group_pick").set_value(sentence).run()
    frame = frame_of(made_up["newer"])
    expected = frame.index[frame["sentence"] == sentence]
    assert 0 < len(expected) < len(frame)
    assert any(c.value.startswith(f"The {len(expected):,} clips of sentence {sentence}") for c in app.caption)
    offered = app.session_state["_selections"]["Bias: group"]
    assert offered.source == f"Bias: sentence {sentence}" and set(offered.clip_ids) == set(expected)
    listed = next(f.value for f in app.dataframe if "prediction" in f.value.columns)
    assert set(listed.index) == set(expected)


def test_a_click_on_a_cell_or_a_point_becomes_the_pick(monkeypatch):
    """What Plotly sends on a click (the point with its customdata) sets the picker the page lists from."""
    from ui import bias_views
    from ui.charts import confusion_squares

    matrix = pd.DataFrame([[5, 2], [0, 7]], index=["ANG", "SAD"], columns=["ANG", "SAD"])
    trace = confusion_squares(matrix, "Model", normalise=True).data[0]
    point = next(list(c) for c in trace.customdata if list(c[:2]) == ["ANG", "SAD"])
    assert point[2] == 2 and trace.marker.symbol == "square"
    state = {"chart": {"selection": {"points": [{"x": "SAD", "y": "ANG", "customdata": point}]}}}
    monkeypatch.setattr(bias_views.st, "session_state", state)
    bias_views.pick_cell("chart", "crowd", "bias_cell")
    assert state["bias_cell"] == "crowd|ANG|SAD" and bias_views.cell_label(state["bias_cell"]).endswith("said SAD")
    state["group_chart"] = {"selection": {"points": [{"customdata": ["Female", 120, 3]}]}}
    bias_views.pick_group("group_chart", "bias_group_pick")
    assert state["bias_group_pick"] == "Female"
    state["empty"] = {"selection": {"points": []}}
    bias_views.pick_group("empty", "bias_group_pick")  # a click beside the points changes nothing
    assert state["bias_group_pick"] == "Female"
