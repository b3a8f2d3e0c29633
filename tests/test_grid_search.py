import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from ser.learning.baselines import fit_cost, make_pipeline
from ser.learning.grid_search import Cancelled, grid_search


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    y = np.repeat(np.array(["ANG", "NEU", "SAD"]), 40)
    X = rng.normal(size=(120, 5)) + (y[:, None] == "ANG") * 0.8 - (y[:, None] == "SAD") * 0.6
    return X, y


@pytest.mark.parametrize("model, grid", [
    ("svm", {"clf__C": [0.1, 1, 10], "clf__gamma": [1, 0.1], "clf__kernel": ["rbf", "poly", "sigmoid"]}),
    ("rf", {"clf__n_estimators": [10, 20], "clf__max_depth": [2, 5]}),
])
def test_same_scores_and_best_params_as_gridsearchcv(data, model, grid):
    X, y = data
    reference = GridSearchCV(make_pipeline(model, 3), grid, cv=5, n_jobs=1, refit=False).fit(X, y)
    splits = list(StratifiedKFold(5).split(X, y))
    ours = grid_search(make_pipeline(model, 3), grid, X, y, splits, jobs=2, cost=fit_cost)
    assert ours.best_params == reference.best_params_
    assert ours.best_index == reference.best_index_
    folds = np.vstack([reference.cv_results_[f"split{i}_test_score"] for i in range(5)]).T
    np.testing.assert_array_equal(ours.fold_scores, folds)
    np.testing.assert_array_equal(ours.mean_scores, reference.cv_results_["mean_test_score"])


def test_ties_go_to_the_first_candidate_like_gridsearchcv(data):
    X, y = data
    grid = {"clf__C": [1, 1.0000001]}  # two candidates with identical scores
    splits = list(StratifiedKFold(5).split(X, y))
    result = grid_search(make_pipeline("svm", 3), grid, X, y, splits, jobs=1)
    assert result.best_index == 0


def test_progress_and_cancel(data):
    X, y = data
    splits = list(StratifiedKFold(3).split(X, y))
    seen = []
    grid = {"clf__C": [0.1, 1, 10, 100]}
    grid_search(make_pipeline("svm", 3), grid, X, y, splits, jobs=1, progress=lambda d, t, m: seen.append((d, t)))
    assert seen[-1] == (12, 12) and len(seen) == 12
    with pytest.raises(Cancelled, match=r"stopped after \d+ of 12 fits"):
        grid_search(make_pipeline("svm", 3), grid, X, y, splits, jobs=1, should_stop=lambda: True)


def test_a_failing_candidate_scores_nan_and_is_not_chosen(data):
    X, y = data
    splits = list(StratifiedKFold(3).split(X, y))
    result = grid_search(make_pipeline("svm", 3), {"clf__C": [-1.0, 1.0]}, X, y, splits, jobs=1)
    assert np.isnan(result.fold_scores[0]).all()
    assert result.best_params == {"clf__C": 1.0}


def test_every_finished_fit_is_handed_over_as_it_finishes(data):
    X, y = data
    splits = list(StratifiedKFold(3).split(X, y))
    fits = []
    result = grid_search(make_pipeline("svm", 3), {"clf__C": [0.1, 1]}, X, y, splits, jobs=2, on_fit=fits.append)
    assert len(fits) == 6
    assert sorted((f["candidate"], f["fold"]) for f in fits) == [(c, f) for c in range(2) for f in range(3)]
    for fit in fits:
        assert fit["params"] == result.candidates[fit["candidate"]]
        assert fit["score"] == result.fold_scores[fit["candidate"], fit["fold"]]
