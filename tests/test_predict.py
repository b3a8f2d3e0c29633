import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ser.learning.baselines import BaselineSpec, run_baseline
from ser.data.corpus import load_corpus
from ser.errors import SerError
from ser.labels import EMOTIONS
from ser.learning.predict import Predictor, predict_files
from ser.runs import create_run, load_run

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def trained(small_demo, tmp_path_factory):
    """One baseline run for the whole module (training it per test costs 10-20 s each), in its own cache."""
    cache = tmp_path_factory.mktemp("predict-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SER_CACHE", str(cache))
        run = run_baseline(BaselineSpec(model="svm", grid="none", jobs=1), load_corpus(small_demo))
    return cache, run.run_id


@pytest.fixture
def run(trained, monkeypatch):
    cache, run_id = trained
    monkeypatch.setenv("SER_CACHE", str(cache))  # the CLI in a subprocess finds the run there too
    return load_run(run_id)


def test_a_baseline_run_classifies_its_own_clips(run, small_demo):
    clips = load_corpus(small_demo).clips
    test_ids = run.predictions().query("part == 'test'").clip_id.tolist()[:5]
    results = predict_files(run, clips.loc[test_ids, "path"].tolist())
    expected = run.predictions().set_index("clip_id").loc[test_ids, "y_pred"].tolist()
    assert [r["emotion"] for r in results] == expected  # the same model, the same features
    for result in results:
        assert set(result["probs"]) == set(EMOTIONS) and sum(result["probs"].values()) == pytest.approx(1)
        assert result["handling"] == "whole clip"


def test_a_clip_too_short_for_any_model_says_so_before_the_model_sees_it(run):
    from ser.errors import AudioError
    from ser.learning.predict import Predictor

    with pytest.raises(AudioError, match=r"few\.wav: only 1 ms of audio; at least 100 ms are needed"):
        Predictor(run).predict(np.zeros(10, dtype=np.float32), name="few.wav")  # (wav2vec2 failed in torch words)
    assert Predictor(run).predict(np.zeros(1600, dtype=np.float32)).emotion in EMOTIONS  # 100 ms: classified


def test_long_clips_are_windowed(run, small_demo, tmp_path):
    audio, rate = sf.read(str(next((Path(small_demo) / "AudioWAV").glob("*.wav"))), dtype="float32")
    long = tmp_path / "long.wav"
    sf.write(str(long), np.tile(audio, 8), rate)
    [result] = predict_files(run, [long])
    assert result["handling"].startswith("cut into") and "probabilities averaged" in result["handling"]


def test_bad_files_get_their_own_error_and_the_rest_proceeds(run, small_demo, tmp_path):
    good = next((Path(small_demo) / "AudioWAV").glob("*.wav"))
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    results = predict_files(run, [empty, good, tmp_path / "missing.wav"])
    assert "empty file" in results[0]["error"] and "emotion" in results[1]
    assert "cannot read the file" in results[2]["error"]


def test_a_truncated_wav_is_reported_and_the_rest_classified(run, small_demo, tmp_path):
    good = next((Path(small_demo) / "AudioWAV").glob("*.wav"))
    audio, rate = sf.read(str(good), dtype="float32")
    whole = tmp_path / "whole.wav"
    sf.write(str(whole), np.tile(audio, 2)[: 2 * rate], rate, subtype="PCM_16")  # 2.00 s
    truncated = tmp_path / "cut.wav"
    truncated.write_bytes(whole.read_bytes()[: 44 + 2 * rate // 2])  # 0.50 s of it
    results = predict_files(run, [good, truncated, whole])
    assert "emotion" in results[0] and "emotion" in results[2]
    assert results[1]["error"] == (f"Clip is truncated: cut.wav: truncated: the header promises 2.00 s "
                                   f"({2 * rate:,} frames) but the file holds 0.50 s ({rate // 2:,} frames); it was "
                                   "cut short (an interrupted copy or download?)")


def test_a_clip_above_16_khz_reaches_mfcc13_as_the_corpus_clips_do(run, small_demo, tmp_path):
    """Decoded at its own rate and resampled once to 22,050 Hz, as the training clips' features were."""
    import joblib
    import soxr

    from ser.learning.features import compute_file, get_feature_set

    good = next((Path(small_demo) / "AudioWAV").glob("*.wav"))
    audio, rate = sf.read(str(good), dtype="float32")
    high = tmp_path / "high.wav"
    sf.write(str(high), soxr.resample(audio, rate, 48000), 48000, subtype="FLOAT")
    [result] = predict_files(run, [high])
    model = joblib.load(run.path / "model.joblib")
    vector = compute_file(get_feature_set("mfcc13"), high).astype(np.float64)[None, :]
    expected = dict(zip(model.classes_, model.predict_proba(vector)[0]))
    assert result["probs"] == pytest.approx(expected, abs=1e-6)


def test_an_unfinished_run_cannot_classify():
    with pytest.raises(SerError):
        Predictor(create_run("baseline", {"features": "mfcc13"}, {}))


def test_predict_cli(run, small_demo, tmp_path):
    good = str(next((Path(small_demo) / "AudioWAV").glob("*.wav")))
    noise = tmp_path / "noise.wav"
    noise.write_bytes(bytes(range(256)) * 20)
    done = subprocess.run([sys.executable, "-m", "ser", "predict", "--run", run.run_id, good, str(noise), "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)["results"]
    assert results[0]["emotion"] in EMOTIONS
    assert results[1]["error"].startswith("Not a recognisable audio file: ")
    assert "not a recognisable audio file (no decoder could read it)" in results[1]["error"]
    failed = subprocess.run([sys.executable, "-m", "ser", "predict", "--run", run.run_id, str(noise)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert failed.returncode != 0 and "No clip classified" in failed.stderr
    outside = subprocess.run([sys.executable, "-m", "ser", "predict", "--run", "../x", good], cwd=ROOT,
                             capture_output=True, text=True, timeout=120)
    assert outside.returncode != 0 and "error: Run not found: no run '../x'" in outside.stderr
    assert "a run id has the form KIND-YYYYmmdd-HHMMSS-xxxx" in outside.stderr
