import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

from ser.baselines import BaselineSpec, grid_size, run_baseline
from ser.corpus import load_corpus
from ser.errors import ConfigError
from ser.labels import EMOTIONS

SMALL_SVM_GRID = {"clf__C": [0.1, 1], "clf__kernel": ["rbf"]}


@pytest.fixture
def corpus(small_demo):
    return load_corpus(small_demo)


def test_svm_on_the_actor_split_end_to_end(corpus):
    spec = BaselineSpec(model="svm", split="actor", grid_override=SMALL_SVM_GRID, jobs=2)
    run = run_baseline(spec, corpus)
    assert run.status == "finished"
    predictions = run.predictions()
    assert list(predictions.columns[:4]) == ["clip_id", "split", "y_true", "y_pred"]
    assert [c for c in predictions.columns if c.startswith("prob_")] == [f"prob_{e}" for e in EMOTIONS]
    np.testing.assert_allclose(predictions.filter(like="prob_").sum(axis=1), 1, atol=1e-4)
    clips = corpus.clips
    train = set(clips.loc[predictions.query("split == 'train'").clip_id, "speaker"])
    test = set(clips.loc[predictions.query("split == 'test'").clip_id, "speaker"])
    assert train and test and not train & test
    tested = predictions.query("split == 'test'")
    assert run.metrics["macro_f1"] == pytest.approx(f1_score(tested.y_true, tested.y_pred, average="macro"))
    assert run.metrics["clips"] == len(tested)
    assert run.info["best_params"]["C"] in (0.1, 1)
    assert len(run.info["cv"]["folds"]) == 4  # grouped folds: 4 training speakers
    assert run.info["spec"]["split"] == "actor" and run.info["corpus"]["synthetic"] is True
    model = joblib.load(run.path / "model.joblib")
    features = pd.read_parquet(next((run.path.parent.parent / "features").glob("mfcc13-*.parquet")))
    assert model.predict(features.drop(columns="error").to_numpy()[:3]).shape == (3,)
    # the predicted emotion is the most probable one
    top = predictions.filter(like="prob_").to_numpy().argmax(axis=1)
    assert (np.asarray(EMOTIONS)[top] == predictions.y_pred.to_numpy()).all()


def test_random_forest_on_the_report_split(corpus):
    spec = BaselineSpec(model="rf", split="report", grid="none", jobs=1)
    run = run_baseline(spec, corpus)
    predictions = run.predictions()
    assert (predictions.split == "test").mean() == pytest.approx(0.3, abs=0.01)
    assert run.info["best_params"] == {}
    assert len(run.info["cv"]["folds"]) == 5


def test_leave_one_speaker_out_predicts_every_clip_once(corpus):
    spec = BaselineSpec(model="svm", split="loso", grid="none", jobs=2)
    run = run_baseline(spec, corpus)
    predictions = run.predictions()
    assert (predictions.split == "test").all()
    assert sorted(predictions.clip_id) == sorted(corpus.clips.index)
    assert run.info["split_info"]["folds"] == 6


def test_progress_is_written_into_the_run(corpus):
    messages = []
    run = run_baseline(BaselineSpec(model="svm", grid_override=SMALL_SVM_GRID, jobs=1), corpus,
                       progress=lambda d, t, m: messages.append(m))
    assert any(m.startswith("grid search") for m in messages)
    assert run.info["progress"]["done"] >= 1


def test_cancel_between_fits_marks_the_run_cancelled(corpus):
    run = run_baseline(BaselineSpec(model="svm", grid_override=SMALL_SVM_GRID, jobs=1), corpus,
                       should_stop=lambda: True)
    assert run.status == "cancelled" and "stopped after" in run.info["error"]
    assert not run.predictions_path.exists()


@pytest.mark.parametrize("field, value", [("model", "knn"), ("split", "random"), ("grid", "huge"),
                                          ("scoring", "auc"), ("cv_folds", 1)])
def test_invalid_specs(field, value):
    with pytest.raises(ConfigError):
        BaselineSpec(**{field: value}).validate()


def test_report_grid_sizes():
    assert grid_size("svm") == 48 and grid_size("rf") == 54
