"""The clip table's engine (ser.analysis.clip_table): rows and columns with and without crowd votes and a
run, probabilities and confidence, filters, sorting and the CSV of what is shown; and a clip's pictures
(ser.data.spectrum)."""

import io

import numpy as np
import pandas as pd
import pytest

from ser.analysis.clip_table import (TableView, categorical_columns, clip_frame, column_groups, count_line,
                                     filter_clips, numeric_columns, shown_clips, sort_clips, table_csv)
from ser.data.corpus import load_corpus
from ser.data.spectrum import mel_spectrogram, waveform_points
from ser.errors import ConfigError
from ser.runs import prediction_frame

CLASSES = ["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"]


@pytest.fixture
def clips(crema_folder):
    return load_corpus(crema_folder).clips


def predictions(clips: pd.DataFrame) -> pd.DataFrame:
    """Test clips: the first half; every third one wrong (said SAD, or NEU when it is SAD); fixed probabilities."""
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(len(CLASSES)), size=len(clips))
    said = [CLASSES[int(p.argmax())] for p in probs]
    half = len(clips) // 2
    return pd.concat([prediction_frame(clips.iloc[:half], "test", said[:half], probs[:half], CLASSES),
                      prediction_frame(clips.iloc[half:], "train", said[half:], probs[half:], CLASSES)],
                     ignore_index=True)


def test_without_a_run_every_clip_with_its_metadata_and_votes(clips):
    frame = clip_frame(clips)
    assert frame.index.equals(clips.index) and frame.index.name == "clip_id"
    assert "path" not in frame and frame.columns[0] == "emotion"
    groups = column_groups(frame)
    assert "prediction" not in groups and "probabilities" not in groups
    assert groups["crowd"][:3] == ["voice_vote", "voice_agreement", "voice_responses"]
    assert groups["vote counts"][:6] == [f"voice_{e}" for e in CLASSES]
    pd.testing.assert_series_equal(frame["voice_agreement"], clips["voice_agreement"])  # the corpus' own


def test_a_corpus_without_votes_has_no_crowd_columns(crema_folder):
    (crema_folder / "processedResults" / "tabulatedVotes.csv").unlink()
    frame = clip_frame(load_corpus(crema_folder).clips)
    assert "crowd" not in column_groups(frame) and "vote counts" not in column_groups(frame)
    assert not any(c.startswith("voice_") for c in frame.columns)


def test_a_run_adds_prediction_probabilities_confidence_and_correctness(clips):
    stored = predictions(clips)
    frame = clip_frame(clips, stored, part="test")
    test = stored[stored["part"] == "test"].set_index("clip_id")
    assert list(frame.index) == list(test.index)
    assert list(frame.columns[:5]) == ["emotion", "prediction", "correct", "confidence", "part"]
    assert list(frame.columns[5:11]) == [f"prob_{e}" for e in CLASSES]
    probs = test[[f"prob_{e}" for e in CLASSES]].to_numpy(dtype=float)
    np.testing.assert_allclose(frame["confidence"], probs.max(axis=1))
    np.testing.assert_allclose(frame["prob_HAP"], test["prob_HAP"])
    assert (frame["correct"] == (test["y_true"] == test["y_pred"])).all()
    assert frame["correct"].any() and not frame["correct"].all()
    assert frame.loc[test.index[0], "speaker"] == clips.loc[test.index[0], "speaker"]  # joined metadata
    assert len(clip_frame(clips, stored)) == len(clips)  # every part
    assert list(clip_frame(clips.iloc[10:14], stored).index) == list(clips.index[10:14])  # only the clips given
    assert set(clip_frame(clips, stored, part="train")["part"]) == {"train"}


def test_extra_columns_follow_the_prediction_and_are_filters(clips):
    extra = pd.DataFrame({"cluster": np.arange(len(clips)) % 3}, index=clips.index)
    frame = clip_frame(clips, predictions(clips), part="test", extra=extra)
    assert list(frame.columns[:6]) == ["emotion", "prediction", "correct", "confidence", "part", "cluster"]
    assert "cluster" in categorical_columns(frame, ["cluster"])
    assert "cluster" not in categorical_columns(frame)  # a number column is a filter only when asked
    assert list(filter_clips(frame, TableView(values={"cluster": [1]}))["cluster"].unique()) == [1]


def test_filter_and_range_columns(clips):
    frame = clip_frame(clips, predictions(clips))
    categorical = categorical_columns(frame)
    assert categorical[:4] == ["emotion", "prediction", "part", "speaker"] and "voice_vote" in categorical
    assert "correct" not in categorical and "duration_s" not in categorical
    numeric = numeric_columns(frame)
    assert numeric[0] == "confidence" and numeric[1] == "prob_ANG" and "duration_s" in numeric
    assert "correct" not in numeric


def test_filters_compose(clips):
    frame = clip_frame(clips, predictions(clips))
    angry = filter_clips(frame, TableView(values={"emotion": ["ANG"], "speaker": []}))
    assert len(angry) == (clips["emotion"] == "ANG").sum() and set(angry["emotion"]) == {"ANG"}
    wrong = filter_clips(frame, TableView(correct=False))
    assert len(wrong) == (~frame["correct"]).sum() and not wrong["correct"].any()
    assert filter_clips(frame, TableView(correct=True))["correct"].all()
    found = filter_clips(frame, TableView(search=" 1002_ieo "))
    assert len(found) == 6 and all(i.startswith("1002_IEO") for i in found.index)
    sure = filter_clips(frame, TableView(ranges={"confidence": (0.4, 1.0)}))
    assert len(sure) == (frame["confidence"] >= 0.4).sum() and sure["confidence"].min() >= 0.4
    both = filter_clips(frame, TableView(values={"sex": ["Male"]}, correct=False, search="DFA"))
    expected = frame[(frame["sex"] == "Male") & ~frame["correct"] & frame.index.str.contains("DFA")]
    assert list(both.index) == list(expected.index) and len(both)


def test_filters_refuse_what_the_clips_lack(clips):
    frame = clip_frame(clips)
    with pytest.raises(ConfigError):
        filter_clips(frame, TableView(correct=True))
    with pytest.raises(ConfigError):
        filter_clips(frame, TableView(ranges={"confidence": (0, 1)}))
    with pytest.raises(ConfigError):
        sort_clips(frame, "confidence")


def test_sorting(clips):
    frame = clip_frame(clips, predictions(clips))
    by_confidence = sort_clips(frame, "confidence", descending=True)
    assert by_confidence["confidence"].is_monotonic_decreasing and len(by_confidence) == len(frame)
    assert sort_clips(frame, "confidence")["confidence"].is_monotonic_increasing
    assert list(sort_clips(frame, "clip_id", descending=True).index) == sorted(frame.index, reverse=True)
    assert sort_clips(frame, None).index.equals(frame.index)
    by_emotion = sort_clips(frame, "emotion")
    for emotion, group in by_emotion.groupby("emotion", sort=False):  # ties keep the corpus' order
        assert list(group.index) == [i for i in frame.index if frame.loc[i, "emotion"] == emotion]
    gaps = frame.assign(age=frame["age"].astype(float))
    gaps.iloc[0, gaps.columns.get_loc("age")] = np.nan
    assert sort_clips(gaps, "age", descending=True).index[-1] == frame.index[0]  # missing last


def test_shown_is_filtered_then_sorted_and_the_csv_is_exactly_it(clips):
    frame = clip_frame(clips, predictions(clips), part="test")
    view = TableView(values={"sex": ["Female", "Male"]}, correct=True, sort_by="confidence", descending=True)
    shown = shown_clips(frame, view)
    assert shown["correct"].all() and shown["confidence"].is_monotonic_decreasing
    shown = shown[["emotion", "prediction", "confidence", "prob_ANG", "speaker"]]
    back = pd.read_csv(io.StringIO(table_csv(shown)), index_col="clip_id", dtype={"speaker": str})
    assert list(back.columns) == list(shown.columns) and list(back.index) == list(shown.index)
    pd.testing.assert_frame_equal(back, shown, check_dtype=False, check_index_type=False)
    assert count_line(1234, 7462) == "1,234 of 7,462 clips"


def test_a_clips_pictures(clips):
    from ser.data.audio import load_audio

    audio = load_audio(clips["path"].iloc[0])
    points = waveform_points(audio, points=100)
    assert list(points.columns) == ["seconds", "amplitude"] and 100 <= len(points) <= 201
    assert points["seconds"].iloc[-1] < audio.size / 16000
    mel = mel_spectrogram(audio)
    assert mel.shape[0] == 64 and mel.index.is_monotonic_increasing and mel.index[-1] <= 8000
    assert mel.to_numpy().max() == 0 and mel.columns[1] == pytest.approx(256 / 16000)  # dB relative to the top


def test_the_spectrogram_is_librosas_and_its_bands_are_named_by_their_centres(clips):
    import librosa

    from ser.data.audio import load_audio
    from ser.data.spectrum import mel_filters

    tone_then_silence = np.r_[0.5 * np.sin(2 * np.pi * 440 * np.arange(8000) / 16000), np.zeros(8000)]
    for audio in (load_audio(clips["path"].iloc[0]), tone_then_silence.astype(np.float32)):
        mel = mel_spectrogram(audio)
        reference = librosa.power_to_db(librosa.feature.melspectrogram(y=audio, sr=16000, n_mels=64,
                                                                       hop_length=256), ref=np.max)
        assert mel.shape == reference.shape
        assert np.abs(mel.to_numpy() - reference).max() < 0.01  # dB
    assert mel.to_numpy().min() == -80  # the silence: 80 dB below the tone, as librosa shows it
    peaks = librosa.fft_frequencies(sr=16000, n_fft=2048)[mel_filters(16000, 2048, 64).argmax(axis=1)]
    assert np.abs(peaks - mel.index.to_numpy()).max() <= 16000 / 2048  # within one FFT bin of each band's peak
    silence = mel_spectrogram(np.zeros(16000, dtype=np.float32))
    assert np.isfinite(silence.to_numpy()).all()
