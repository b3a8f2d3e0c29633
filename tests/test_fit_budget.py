"""Iteration budgets for slow grid candidates: a fit that stops at its budget is recorded as such."""

import numpy as np
from sklearn.model_selection import StratifiedKFold

from ser.learning.baselines import make_pipeline
from ser.learning.grid_search import grid_search, hit_iteration_budget


def overlapping_classes(n=300, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.array(["ANG", "NEU", "SAD"]), n // 3)
    return rng.normal(size=(n, 6)) + 0.3 * (y[:, None] == "ANG"), y


def test_a_fit_that_runs_out_of_iterations_is_flagged_and_a_converged_one_is_not():
    X, y = overlapping_classes()
    slow = make_pipeline("svm", 3).set_params(clf__kernel="poly", clf__C=100, clf__gamma=1, clf__max_iter=50)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # libsvm warns that it stopped early: that is what is being tested
        slow.fit(X, y)
    assert hit_iteration_budget(slow)
    fast = make_pipeline("svm", 3).set_params(clf__kernel="rbf", clf__C=1, clf__max_iter=100_000).fit(X, y)
    assert not hit_iteration_budget(fast)
    assert not hit_iteration_budget(make_pipeline("svm", 3).fit(X, y))  # no budget: never "hit"
    assert not hit_iteration_budget(make_pipeline("rf", 3).set_params(clf__n_estimators=5).fit(X, y))


def test_the_grid_records_which_folds_hit_the_budget():
    X, y = overlapping_classes()
    splits = list(StratifiedKFold(3).split(X, y))
    grid = {"clf__kernel": ["rbf", "poly"], "clf__C": [100], "clf__gamma": [1], "clf__max_iter": [50]}
    result = grid_search(make_pipeline("svm", 3), grid, X, y, splits, jobs=1)
    rows = {row["params"]["clf__kernel"]: row for row in result.table()}
    assert rows["poly"]["capped_folds"] == 3
    poly = [c["clf__kernel"] == "poly" for c in result.candidates]
    assert result.capped.shape == (2, 3) and result.capped[poly].all()
    assert all(row["seconds"] > 0 for row in rows.values())


def test_a_baseline_run_records_every_fit_that_hit_the_budget(small_demo):
    from ser.data.corpus import load_corpus
    from ser.learning.baselines import BaselineSpec, run_baseline

    corpus = load_corpus(small_demo)
    grid = {"clf__kernel": ["rbf", "poly"], "clf__C": [100], "clf__gamma": [1]}
    budgeted = run_baseline(BaselineSpec(model="svm", grid_override=grid, svm_max_iter=20, jobs=1), corpus)
    cv = budgeted.info["cv"]
    capped = {tuple(sorted(c["params"].items())): c["capped_folds"] for c in cv["candidates"]}
    assert capped[(("C", 100), ("gamma", 1), ("kernel", "poly"))] == len(cv["folds"])
    [deviation] = cv["deviations"]
    assert "stopped after 20 solver iterations" in deviation and "kernel=poly" in deviation
    assert f"{sum(capped.values())} of {2 * len(cv['folds'])} fits reached it" in deviation
    exact = run_baseline(BaselineSpec(model="svm", grid_override=grid, svm_max_iter=0, jobs=1), corpus)
    assert exact.info["cv"]["deviations"] == [] and all(c["capped_folds"] == 0 for c in exact.info["cv"]["candidates"])
