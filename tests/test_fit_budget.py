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
    roomy = run_baseline(BaselineSpec(model="svm", grid_override=grid, svm_max_iter=10**6, jobs=1), corpus)
    assert roomy.info["cv"]["deviations"] == []  # a budget no fit reached is a note, not "not plain GridSearchCV"
    [note] = roomy.info["cv"]["notes"]
    assert "no fit reached it" in note and "1,000,000" in note


def test_a_phase_clock_estimates_the_time_left_from_the_work_done():
    from ser.progress import PhaseClock

    now = [100.0]
    clock = PhaseClock(lambda: now[0])
    assert clock.read(0, 240, "grid search: 0/240 fits")["eta_s"] is None  # nothing done: no estimate yet
    now[0] += 30
    text, figures = clock.describe(60, 240, "grid search: 60/240 fits")
    assert figures == {"phase": "grid search", "elapsed_s": 30.0, "eta_s": 90.0}
    assert text == "grid search: 60/240 fits · 0:30 elapsed, about 1:30 left"
    now[0] += 5
    assert clock.read(1, 2, "fitting the final model")["elapsed_s"] == 0.0  # a new phase, a new clock
    assert clock.read(2, 2, "fitting the final model")["eta_s"] == 0.0


def test_a_baseline_run_writes_phase_elapsed_and_eta_into_run_json(small_demo):
    from ser.data.corpus import load_corpus
    from ser.learning.baselines import BaselineSpec, run_baseline

    messages = []
    run = run_baseline(BaselineSpec(model="svm", grid_override={"clf__C": [0.1, 1]}, jobs=1),
                       load_corpus(small_demo), progress=lambda d, t, m: messages.append(m))
    searching = [m for m in messages if m.startswith("grid search:")]
    assert searching and all(" elapsed" in m for m in searching)
    assert "(last: C=" in searching[-1]
    assert set(run.info["progress"]) >= {"done", "total", "message", "phase", "elapsed_s", "eta_s"}
