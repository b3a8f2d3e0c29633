import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

from ser.learning.baselines import BaselineSpec, grid_size, run_baseline
from ser.data.corpus import load_corpus
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
    assert list(predictions.columns[:4]) == ["clip_id", "part", "y_true", "y_pred"]
    assert [c for c in predictions.columns if c.startswith("prob_")] == [f"prob_{e}" for e in EMOTIONS]
    np.testing.assert_allclose(predictions.filter(like="prob_").sum(axis=1), 1, atol=1e-4)
    clips = corpus.clips
    train = set(clips.loc[predictions.query("part == 'train'").clip_id, "speaker"])
    test = set(clips.loc[predictions.query("part == 'test'").clip_id, "speaker"])
    assert train and test and not train & test
    tested = predictions.query("part == 'test'")
    assert run.metrics["macro_f1"] == pytest.approx(f1_score(tested.y_true, tested.y_pred, average="macro"))
    assert run.metrics["clips"] == len(tested)
    candidates = run.info["cv"]["candidates"]
    best = max(candidates, key=lambda c: (c["mean"], -candidates.index(c)))  # GridSearchCV's tie-break: first
    assert run.info["best_params"] == best["params"] and best["rank"] == 1
    assert "speaker-grouped" in run.info["cv"]["scheme"]
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
    assert (predictions.part == "test").mean() == pytest.approx(0.3, abs=0.01)
    assert run.info["best_params"] == {}
    assert len(run.info["cv"]["folds"]) == 5
    assert run.info["cv"]["scheme"] == "5 stratified folds, shuffled with seed 3 (speakers appear in several folds)"


def test_report_split_folds_are_shuffled_not_blocked_by_actor(corpus):
    """Clips are sorted by id (actor first): unshuffled folds would each hold about one fifth of the
    actors, i.e. be nearly speaker-independent, unlike the report's GridSearchCV over shuffled rows."""
    from ser.learning.baselines import _cv_splits

    clips = corpus.clips.sort_index()
    folds, _ = _cv_splits(BaselineSpec(split="report", seed=3), clips, clips.emotion.to_numpy(), grouped=False)
    speakers = clips.speaker.nunique()
    for _, held_out in folds:
        assert clips.iloc[held_out].speaker.nunique() == speakers
    again, _ = _cv_splits(BaselineSpec(split="report", seed=3), clips, clips.emotion.to_numpy(), grouped=False)
    other, _ = _cv_splits(BaselineSpec(split="report", seed=4), clips, clips.emotion.to_numpy(), grouped=False)
    assert all((a[1] == b[1]).all() for a, b in zip(folds, again))
    assert any(len(a[1]) != len(b[1]) or (a[1] != b[1]).any() for a, b in zip(folds, other))


def test_leave_one_speaker_out_predicts_every_clip_once(corpus):
    spec = BaselineSpec(model="svm", split="loso", grid="none", jobs=2)
    run = run_baseline(spec, corpus)
    predictions = run.predictions()
    assert (predictions.part == "test").all()
    assert sorted(predictions.clip_id) == sorted(corpus.clips.index)
    assert run.info["split_info"]["folds"] == 6 and run.info["split_info"]["tuning"] == "global"


def test_nested_leave_one_speaker_out_chooses_parameters_without_the_held_out_speaker(corpus, monkeypatch):
    from ser.learning import baselines

    searched = []
    original = baselines._search

    def spy(spec, X, y, splits, *args):
        searched.append(len(y))
        return original(spec, X, y, splits, *args)

    monkeypatch.setattr(baselines, "_search", spy)
    spec = BaselineSpec(model="svm", split="loso", grid_override=SMALL_SVM_GRID, loso_tuning="nested", jobs=2)
    run = run_baseline(spec, corpus)
    clips = corpus.clips
    per_speaker = clips.speaker.value_counts()
    assert sorted(searched) == sorted(len(clips) - per_speaker.to_numpy())  # one search per speaker, without it
    assert [row["speaker"] for row in run.info["cv"]["per_speaker"]] == sorted(per_speaker.index)
    assert run.info["split_info"]["tuning"] == "nested" and "unbiased" in run.info["split_info"]["tuning_note"]
    predictions = run.predictions()
    assert sorted(predictions.clip_id) == sorted(clips.index) and (predictions.part == "test").all()
    assert run.info["best_params"] in [row["params"] for row in run.info["cv"]["per_speaker"]]


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


@pytest.mark.parametrize("field, value, message", [
    ("model", "knn", "unknown model 'knn'"), ("split", "random", "unknown split 'random'"),
    ("grid", "huge", "unknown grid 'huge'"), ("scoring", "auc", "unknown scoring 'auc'"),
    ("cv_folds", 1, "at least 2 folds"), ("loso_tuning", "twice", "unknown loso_tuning 'twice'")])
def test_invalid_specs(field, value, message):
    with pytest.raises(ConfigError, match=message):
        BaselineSpec(**{field: value}).validate()


def test_a_spec_from_json_refuses_unknown_keys():
    with pytest.raises(ConfigError, match="unknown baseline parameter.*kernal"):
        BaselineSpec.from_dict({"model": "svm", "kernal": "rbf"})


def test_report_grid_sizes():
    assert grid_size("svm") == 48 and grid_size("rf") == 54


def test_expected_duration_is_the_benchmark_at_its_size_and_scales_with_the_work():
    from ser.learning.baselines import GRID_BENCHMARK, duration_text, expected_seconds

    at_benchmark = expected_seconds(BaselineSpec(model="svm"), round(5166 / 0.7), 91, 2)
    assert at_benchmark == pytest.approx(GRID_BENCHMARK["svm"]["wall_s"], rel=0.01)
    half = expected_seconds(BaselineSpec(model="svm"), round(5166 / 0.7 / 2), 91, 2)
    assert half == pytest.approx(at_benchmark / 4, rel=0.02)  # SVM fits grow with the square of the clips
    forest = expected_seconds(BaselineSpec(model="rf"), round(5166 / 0.7 / 2), 91, 2)
    assert forest == pytest.approx(GRID_BENCHMARK["rf"]["wall_s"] / 2, rel=0.02)
    four_cores = expected_seconds(BaselineSpec(model="svm"), round(5166 / 0.7), 91, 4)
    assert four_cores == pytest.approx(at_benchmark / 2, rel=0.02)
    nested = expected_seconds(BaselineSpec(model="svm", split="loso", loso_tuning="nested"), 7462, 91, 2)
    assert nested > 40 * expected_seconds(BaselineSpec(model="svm", split="loso"), 7462, 91, 2)
    assert [duration_text(s) for s in (0.2, 40, 200, 4 * 3600)] == ["1 s", "40 s", "3 min", "4.0 h"]


def test_the_light_heads_run_their_own_small_grids_end_to_end(corpus):
    """Logistic regression and the MLP head (as in EmoBox): standardised features, their own grid searched by
    speaker-grouped folds, a finished run whose saved model predicts probabilities that agree with its labels
    (one test for both: the second reads the first's features from the cache)."""
    for model, estimator in [("logreg", "LogisticRegression"), ("mlp", "MLPClassifier")]:
        _check_light_head(corpus, model, estimator)


def _check_light_head(corpus, model, estimator):
    run = run_baseline(BaselineSpec(model=model, split="actor", jobs=1), corpus)
    assert run.status == "finished"
    from ser.learning.baselines import REPORT_GRIDS

    grid = REPORT_GRIDS[model]
    assert len(run.info["cv"]["candidates"]) == grid_size(model) == int(np.prod([len(v) for v in grid.values()]))
    assert set(run.info["best_params"]) == {k.removeprefix("clf__") for k in grid}
    saved = joblib.load(run.path / "model.joblib")
    assert [name for name, _ in saved.steps] == ["scale", "clf"] and type(saved.steps[1][1]).__name__ == estimator
    predictions = run.predictions()
    top = predictions.filter(like="prob_").to_numpy().argmax(axis=1)
    assert (np.asarray(EMOTIONS)[top] == predictions.y_pred.to_numpy()).all()
    assert 0 <= run.metrics["macro_f1"] <= 1


def test_light_head_grids_and_the_mlps_shape():
    from ser.learning.baselines import final_model, make_pipeline

    assert grid_size("logreg") == 4 and grid_size("mlp") == 4
    mlp = make_pipeline("mlp", 3).named_steps["clf"]
    assert mlp.hidden_layer_sizes == (256,) and mlp.early_stopping and mlp.random_state == 3
    assert make_pipeline("logreg", 3).named_steps["clf"].random_state == 3
    assert "10%" in " ".join(__import__("ser.learning.baselines", fromlist=["deviations"]).deviations(
        BaselineSpec(model="mlp"), None))
    # the report's models are built exactly as before
    svm = make_pipeline("svm", 3, 100).named_steps["clf"]
    assert type(svm).__name__ == "SVC" and svm.max_iter == 100
    assert type(final_model("rf", 3, {}).named_steps["clf"]).__name__ == "RandomForestClassifier"


def test_a_model_without_a_benchmark_says_so_instead_of_a_guess():
    from ser.learning.baselines import duration_text, expected_seconds

    for model in ("logreg", "mlp"):
        assert expected_seconds(BaselineSpec(model=model), 7000, 91, 2) is None
        assert duration_text(expected_seconds(BaselineSpec(model=model), 7000, 91, 2)) == "no benchmark yet"
