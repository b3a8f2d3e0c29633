"""The clip table component (ui.clip_table) and a run's report (ui.run_report) through AppTest, on a
small CREMA-D-layout folder and a run written with stored predictions (no training needed)."""

import io
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from ser.data.corpus import load_corpus
from ser.metrics import classification_metrics
from ser.runs import corpus_record, create_run, prediction_frame, update_run, write_predictions

ROOT = Path(__file__).resolve().parents[2]
CLASSES = ["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"]


@pytest.fixture
def run(crema_folder):
    """A finished run on the folder: 12 test clips, 12 training clips, seeded probabilities."""
    corpus = load_corpus(crema_folder)
    clips = corpus.clips
    probs = np.random.default_rng(0).dirichlet(np.ones(6), size=len(clips))
    said = [CLASSES[int(p.argmax())] for p in probs]
    made = create_run("baseline", {"model": "svm", "features": "mfcc13", "split": "actor"}, corpus_record(corpus))
    stored = write_predictions(made, [prediction_frame(clips.iloc[:12], "test", said[:12], probs[:12], CLASSES),
                                      prediction_frame(clips.iloc[12:], "train", said[12:], probs[12:], CLASSES)])
    test = stored[stored["part"] == "test"]
    metrics = classification_metrics(test["y_true"], test["y_pred"], labels=CLASSES)
    return update_run(made, status="finished", metrics={**metrics, "clips": 12})


def table_page(data: str, run_id: str | None, part: str | None, extra: bool) -> None:
    import pandas as pd
    import streamlit as st

    from ser.analysis.clip_table import table_csv
    from ser.data.corpus import load_corpus
    from ser.runs import load_run
    from ui.clip_table import clip_table

    if "clips" not in st.session_state:  # read once: a file deleted later stays a row, as in the app's cache
        st.session_state["clips"] = load_corpus(data).clips
    clips = st.session_state["clips"]
    cluster = pd.DataFrame({"cluster": [i % 3 for i in range(len(clips))]}, index=clips.index) if extra else None
    shown = clip_table(clips, "t", run=load_run(run_id) if run_id else None, part=part, extra=cluster)
    st.session_state["shown_csv"] = table_csv(shown)


def open_table(monkeypatch, crema_folder, run=None, part=None, extra=False) -> AppTest:
    monkeypatch.chdir(ROOT)
    monkeypatch.syspath_prepend(str(ROOT))
    app = AppTest.from_function(table_page, args=(str(crema_folder), run.run_id if run else None, part, extra),
                                default_timeout=60)
    app.run()
    assert not app.exception, app.exception
    return app


def count(app) -> str:
    return next(c.value for c in app.caption if " clips**" in c.value)


def table(app) -> pd.DataFrame:
    return app.dataframe[0].value


def csv_of(app) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(app.session_state["shown_csv"]), index_col="clip_id", dtype={"speaker": str})


def test_a_corpus_table_filters_and_the_csv_is_what_is_shown(monkeypatch, crema_folder):
    app = open_table(monkeypatch, crema_folder)
    assert count(app).startswith("**24 of 24 clips**")
    shown = table(app)
    assert len(shown) == 24 and {"emotion", "speaker", "voice_vote", "voice_agreement"} <= set(shown.columns)
    assert "voice_ANG" not in shown.columns and "prediction" not in shown.columns  # counts: asked for
    app.multiselect(key="t_is_emotion").set_value(["ANG", "SAD"]).run()
    app.text_input(key="t_search").input("1001").run()
    assert count(app).startswith("**4 of 24 clips**") and "emotion: ANG, SAD" in count(app)
    shown = table(app)
    assert set(shown["emotion"]) == {"ANG", "SAD"} and all(i.startswith("1001") for i in shown.index)
    app.selectbox(key="t_sort").set_value("voice_agreement").run()
    app.toggle(key="t_descending").set_value(True).run()
    shown = table(app)
    assert shown["voice_agreement"].is_monotonic_decreasing
    csv = csv_of(app)
    assert list(csv.index) == list(shown.index) and list(csv.columns) == list(shown.columns)
    pd.testing.assert_frame_equal(csv, shown, check_dtype=False, check_index_type=False)
    app.pills(key="t_columns").set_value(["metadata", "crowd", "vote counts"]).run()
    assert "voice_ANG" in table(app).columns and "voice_ANG" in csv_of(app).columns


def test_a_run_table_with_probabilities_correctness_and_a_range(monkeypatch, crema_folder, run):
    app = open_table(monkeypatch, crema_folder, run, part="test", extra=True)
    shown = table(app)
    assert count(app).startswith("**12 of 12 clips**")
    assert list(shown.columns[:6]) == ["emotion", "prediction", "correct", "confidence", "part", "cluster"]
    assert [c for c in shown.columns if c.startswith("prob_")] == [f"prob_{e}" for e in CLASSES]
    config = app.dataframe[0].proto.columns
    assert "progress" in config and "P(ANG)" in config  # probabilities drawn as bars, labelled P(...)
    app.segmented_control(key="t_correct").set_value("wrong").run()
    wrong = table(app)
    assert 0 < len(wrong) < 12 and not wrong["correct"].any()
    assert count(app).startswith(f"**{len(wrong)} of 12 clips**") and "wrong only" in count(app)
    app.segmented_control(key="t_correct").set_value("all").run()
    app.selectbox(key="t_range_of").set_value("confidence").run()
    low = float(shown["confidence"].median())
    app.slider(key="t_range_confidence").set_value((low, float(shown["confidence"].max()))).run()
    assert (table(app)["confidence"] >= low).all() and len(table(app)) == (shown["confidence"] >= low).sum()
    app.multiselect(key="t_is_cluster").set_value([1]).run()
    assert set(table(app)["cluster"]) == {1}


def test_selecting_a_row_plays_the_clip_with_its_waveform_and_spectrogram(monkeypatch, crema_folder, run):
    app = open_table(monkeypatch, crema_folder, run, part="test")
    assert not app.get("audio")
    app.selectbox(key="t_sort").set_value("confidence").run()
    chosen = table(app).index[2]
    app.session_state["t_table"] = {"selection": {"rows": [2], "columns": []}}
    app.run()
    assert not app.exception
    [player] = app.get("audio")
    assert any(f"**{chosen}**" in m.value and "predicted" in m.value for m in app.markdown)
    charts = {c.proto.id for c in app.get("plotly_chart")}
    assert any("t_clip_wave" in i for i in charts) and any("t_clip_spectrogram" in i for i in charts)
    app.toggle(key="t_descending").set_value(True).run()  # the order changes: the selection follows its clip
    assert any(f"**{chosen}**" in m.value for m in app.markdown) and len(app.get("audio")) == 1
    assert list(app.session_state["t_table"]["selection"]["rows"]) == [list(table(app).index).index(chosen)]
    other = next(i for i in table(app).index if i != chosen)
    app.text_input(key="t_search").input(other).run()  # filtered out: nothing plays, rather than another clip
    assert not app.exception and not app.get("audio")
    assert not any(f"**{chosen}**" in m.value or f"**{other}**" in m.value for m in app.markdown)


def test_a_clip_whose_file_is_gone_says_so(monkeypatch, crema_folder):
    app = open_table(monkeypatch, crema_folder)
    first = table(app).index[0]
    (crema_folder / "AudioWAV" / f"{first}.wav").unlink()
    app.session_state["t_table"] = {"selection": {"rows": [0], "columns": []}}
    app.run()
    assert not app.exception and not app.get("audio")
    assert app.error and first in app.error[0].value


def test_a_selection_from_another_page_narrows_the_table(monkeypatch, crema_folder):
    app = open_table(monkeypatch, crema_folder)
    ids = list(table(app).index[:5])
    sys.modules.pop("ui.selection", None)
    from ui.selection import STORE, Selection

    app.session_state[STORE] = {"Clusters": Selection("Clusters", tuple(ids))}
    app.run()
    app.selectbox(key="t_selection").set_value("Clusters").run()
    assert not app.exception
    assert list(table(app).index) == ids
    assert "selection from Clusters, 5 clips" in count(app) and count(app).startswith("**5 of 24 clips**")


def test_the_run_report_shows_every_clip_of_a_part(monkeypatch, crema_folder, run):
    def report(run_id: str) -> None:
        from ser.runs import load_run
        from ui.run_report import show_run

        show_run(load_run(run_id), key="r")

    monkeypatch.chdir(ROOT)
    monkeypatch.syspath_prepend(str(ROOT))
    app = AppTest.from_function(report, args=(run.run_id,), default_timeout=60)
    app.run()
    assert not app.exception, app.exception
    assert any(s.value == "Every clip of this run" for s in app.subheader)
    assert app.segmented_control(key="r_clips_part").value == "test"
    shown = next(f.value for f in app.dataframe if "prob_ANG" in f.value.columns)
    assert len(shown) == 12 and set(shown["part"]) == {"test"} and "confidence" in shown.columns
    assert shown["speaker"].notna().all()  # the run's corpus joined
    app.segmented_control(key="r_clips_part").set_value("train").run()
    shown = next(f.value for f in app.dataframe if "prob_ANG" in f.value.columns)
    assert len(shown) == 12 and set(shown["part"]) == {"train"}


def test_the_run_report_without_its_corpus_still_lists_the_predictions(monkeypatch, crema_folder, run):
    import shutil

    def report(run_id: str) -> None:
        from ser.runs import load_run
        from ui.run_report import show_run

        show_run(load_run(run_id), key="r")

    shutil.rmtree(crema_folder)
    monkeypatch.chdir(ROOT)
    monkeypatch.syspath_prepend(str(ROOT))
    app = AppTest.from_function(report, args=(run.run_id,), default_timeout=60)
    app.run()
    assert not app.exception, app.exception
    assert any("corpus cannot be read" in c.value for c in app.caption)
    shown = next(f.value for f in app.dataframe if "prob_ANG" in f.value.columns)
    assert len(shown) == 12 and shown["prediction"].notna().all()
    app.session_state["r_clips_table"] = {"selection": {"rows": [0], "columns": []}}
    app.run()
    assert not app.exception and not app.get("audio") and any("not known" in i.value for i in app.info)


def test_the_filter_line_shows_typed_text_as_written():
    script = ("import streamlit as st\nfrom ser.analysis.clip_table import TableView\nfrom ui.clip_table import "
              "active_filters\nst.markdown(active_filters(TableView(values={'sentence': ['I_T']}, search='_IEO_')))\n")
    app = AppTest.from_string(script)
    app.run()
    source = app.markdown[0].value
    assert "\\_IEO\\_" in source and "I\\_T" in source  # Markdown shows "_IEO_", not italic "IEO"
