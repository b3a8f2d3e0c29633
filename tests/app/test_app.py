"""The app and the overview page through streamlit.testing.v1.AppTest."""

from pathlib import Path

import numpy as np
import soundfile as sf
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 120


def run_app(monkeypatch, **env) -> AppTest:
    for key, value in env.items():
        monkeypatch.setenv(key, str(value))
    monkeypatch.chdir(ROOT)
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    app.run()
    assert not app.exception, app.exception
    return app


def frame_with_column(app, column: str):
    """The first dataframe on the page with this column (display-only frames carry no key)."""
    for frame in app.dataframe:
        if column in frame.value.columns:
            return frame.value
    raise AssertionError(f"no dataframe with a {column!r} column")


def texts(app) -> str:
    parts = [m.value for m in app.markdown] + [w.value for w in app.warning] + [i.value for i in app.info]
    parts += [e.value for e in app.error] + [h.value for h in app.header] + [c.value for c in app.caption]
    return "\n".join(str(p) for p in parts)


def test_opens_on_the_demo_corpus_without_a_question(monkeypatch, isolated_cache):
    """No corpus set: the app generates the demo corpus itself (SER_DEMO_ACTORS actors; 3 here, to be quick)."""
    from ser import config

    assert config.demo_actors() == 24  # the default
    app = run_app(monkeypatch, SER_DEMO_ACTORS=3)
    assert (isolated_cache / "demo-corpus" / "AudioWAV").is_dir()
    assert app.title[0].value == "Corpus overview"
    assert "synthetic" in texts(app).lower()
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Clips"] == "246" and metrics["Speakers"] == "3"  # 82 clips per actor, as CREMA-D's
    assert not app.error


def test_overview_of_a_crema_folder(monkeypatch, crema_folder):
    (crema_folder / "AudioWAV" / "1001_DFA_ANG_XX.wav").write_text("version https://git-lfs.github.com/spec/v1\n")
    app = run_app(monkeypatch, SER_DATA=crema_folder)
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Clips"] == "23" and metrics["Problems"] == "1"
    assert "synthetic" not in texts(app).lower()
    assert frame_with_column(app, "problem")["kind"].tolist() == ["Git LFS pointer"]
    agreement = frame_with_column(app, "report (pooled)")
    assert list(agreement.columns[-2:]) == ["report (pooled)", "clips"]
    assert "Macro-F1" in metrics


def clip_count(app) -> str:
    return next(c.value for c in app.caption if " clips**" in c.value)


def test_overview_clip_table_filters_plays_and_keeps_its_view(monkeypatch, crema_folder):
    app = run_app(monkeypatch, SER_DATA=crema_folder)
    assert clip_count(app).startswith("**24 of 24 clips**")
    table = frame_with_column(app, "voice_vote")
    assert len(table) == 24 and {"speaker", "sentence", "voice_agreement", "face_vote"} <= set(table.columns)
    assert not app.get("audio")  # no player until a row is selected
    app.multiselect(key="overview_clips_is_emotion").set_value(["ANG"]).run()
    assert clip_count(app).startswith("**4 of 24 clips**")
    assert set(frame_with_column(app, "voice_vote")["emotion"]) == {"ANG"}
    app.session_state["overview_clips_table"] = {"selection": {"rows": [1], "columns": []}}
    app.run()
    assert not app.exception and len(app.get("audio")) == 1
    assert any("overview_clips_clip_spectrogram" in c.proto.id for c in app.get("plotly_chart"))
    app.switch_page("app_pages/bias.py").run()
    app.switch_page("app_pages/overview.py").run()
    assert not app.exception
    assert clip_count(app).startswith("**4 of 24 clips**")  # the filter survived the visit
    assert app.query_params["overview_clips_is_emotion"] in ("ANG", ["ANG"])


def test_a_shared_overview_url_opens_the_same_clips(monkeypatch, crema_folder):
    monkeypatch.setenv("SER_DATA", str(crema_folder))
    monkeypatch.chdir(ROOT)
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    app.query_params["overview_clips_is_sex"] = "Male"
    app.query_params["overview_clips_search"] = "DFA"
    app.query_params["overview_tab"] = "sex"
    app.run()
    assert not app.exception
    charts = [c.proto.id for c in app.get("plotly_chart")]
    assert any("dist_sex" in c for c in charts) and not any("dist_emotion" in c for c in charts)  # the open tab
    assert clip_count(app).startswith("**6 of 24 clips**")
    shown = frame_with_column(app, "voice_vote")
    assert set(shown["sex"]) == {"Male"} and all("_DFA_" in i for i in shown.index)


def test_bad_corpus_path_shows_an_error_and_the_app_keeps_working(monkeypatch, crema_folder, tmp_path):
    app = run_app(monkeypatch, SER_DATA=crema_folder)
    app.text_input(key="corpus_source").input(str(tmp_path / "missing")).run()
    assert not app.exception
    assert any("Corpus not found" in e.value for e in app.error)
    app.text_input(key="corpus_source").input(str(crema_folder)).run()
    assert not app.exception and not app.error


def test_corpus_without_votes_says_so(monkeypatch, crema_folder):
    (crema_folder / "processedResults" / "tabulatedVotes.csv").unlink()
    app = run_app(monkeypatch, SER_DATA=crema_folder)
    assert "no crowd votes" in texts(app)


def test_feature_extraction_from_the_overview(monkeypatch, crema_folder):
    path = crema_folder / "AudioWAV" / "1001_DFA_DIS_XX.wav"
    sound, rate = sf.read(path, dtype="float32")
    sound[len(sound) // 2] = np.nan
    sf.write(path, sound, rate, subtype="FLOAT")  # a sound header and a NaN sample: found only when decoding
    app = run_app(monkeypatch, SER_DATA=crema_folder)
    app.button(key="extract_features").click().run()
    assert not app.exception
    caption = next(c.value for c in app.caption if c.value.startswith("mfcc13:"))
    assert "23 clips, 1 failed" in caption and "computed" in caption
    app.button(key="extract_features").click().run()
    assert any("read from the cache" in c.value for c in app.caption)
