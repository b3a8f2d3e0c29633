import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ser.baselines import BaselineSpec, run_baseline
from ser.corpus import load_corpus
from ser.errors import SerError
from ser.labels import EMOTIONS
from ser.predict import Predictor, predict_files
from ser.runs import create_run

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def run(small_demo):
    return run_baseline(BaselineSpec(model="svm", grid="none", jobs=1), load_corpus(small_demo))


def test_a_baseline_run_classifies_its_own_clips(run, small_demo):
    clips = load_corpus(small_demo).clips
    test_ids = run.predictions().query("part == 'test'").clip_id.tolist()[:5]
    results = predict_files(run, clips.loc[test_ids, "path"].tolist())
    expected = run.predictions().set_index("clip_id").loc[test_ids, "y_pred"].tolist()
    assert [r["emotion"] for r in results] == expected  # the same model, the same features
    for result in results:
        assert set(result["probs"]) == set(EMOTIONS) and sum(result["probs"].values()) == pytest.approx(1)
        assert result["handling"] == "whole clip"


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
    assert results[0]["emotion"] in EMOTIONS and "not a decodable audio" in results[1]["error"]
    failed = subprocess.run([sys.executable, "-m", "ser", "predict", "--run", run.run_id, str(noise)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert failed.returncode != 0 and "No clip classified" in failed.stderr
