"""An exhaustive grid search that gives the same scores and best parameters as scikit-learn's
``GridSearchCV`` (same candidate order, fold scores, mean, ranking and tie-break), but reports
progress after every fit, can be cancelled between fits, hands every finished fit to ``on_fit`` as
it comes (so a record of them survives the process being killed), and hands the most expensive fits
out first, so that no core idles at the end waiting for one slow candidate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from ..progress import Progress



class Cancelled(Exception):
    """The user asked to stop; what was finished before is kept."""


@dataclass
class GridResult:
    candidates: list[dict]
    fold_scores: np.ndarray  # candidates x folds
    fit_seconds: np.ndarray
    best_index: int
    capped: np.ndarray | None = None  # candidates x folds: the fit stopped at its iteration budget

    @property
    def mean_scores(self) -> np.ndarray:
        return np.average(self.fold_scores, axis=1)

    @property
    def std_scores(self) -> np.ndarray:
        means = self.mean_scores
        return np.sqrt(np.average((self.fold_scores - means[:, None]) ** 2, axis=1))

    @property
    def best_params(self) -> dict:
        return self.candidates[self.best_index]

    @property
    def best_fold_scores(self) -> list[float]:
        return [float(s) for s in self.fold_scores[self.best_index]]

    def table(self) -> list[dict]:
        ranks = _ranks(self.mean_scores)
        capped = self.capped if self.capped is not None else np.zeros_like(self.fold_scores, dtype=bool)
        return [{"params": params, "mean": float(m), "std": float(s), "rank": int(r),
                 "folds": [float(v) for v in folds], "seconds": float(np.sum(seconds)),
                 "capped_folds": int(np.sum(hit))}
                for params, m, s, r, folds, seconds, hit in zip(self.candidates, self.mean_scores, self.std_scores,
                                                                ranks, self.fold_scores, self.fit_seconds, capped)]


def grid_search(estimator, grid: dict, X: np.ndarray, y: np.ndarray, splits: list[tuple[np.ndarray, np.ndarray]],
                scoring: str = "accuracy", jobs: int = 1, progress: Progress | None = None,
                should_stop: Callable[[], bool] | None = None,
                cost: Callable[[dict], float] | None = None,
                on_fit: Callable[[dict], None] | None = None) -> GridResult:
    """``on_fit`` gets each finished fit as {candidate, fold, params, score, seconds, capped}."""
    from joblib import Parallel, delayed
    from sklearn.model_selection import ParameterGrid

    candidates = list(ParameterGrid(grid))
    tasks = [(c, f) for c in range(len(candidates)) for f in range(len(splits))]
    if cost is not None:  # longest first; results are put back in the canonical order below
        tasks.sort(key=lambda task: -cost(candidates[task[0]]))
    scores = np.full((len(candidates), len(splits)), np.nan)
    seconds = np.zeros_like(scores)
    capped = np.zeros(scores.shape, dtype=bool)
    calls = (delayed(_fit_and_score)(estimator, candidates[c], X, y, splits[f], scoring, c, f) for c, f in tasks)
    runner = Parallel(n_jobs=jobs, return_as="generator_unordered") if jobs != 1 else None
    results = runner(calls) if runner is not None else (call[0](*call[1], **call[2]) for call in calls)
    done = 0
    for c, f, score, elapsed, hit in results:
        scores[c, f], seconds[c, f], capped[c, f] = score, elapsed, hit
        done += 1
        if on_fit is not None:
            on_fit({"candidate": int(c), "fold": int(f), "params": candidates[c], "score": float(score),
                    "seconds": round(float(elapsed), 4), "capped": bool(hit)})
        if progress:
            tried = ", ".join(f"{k.removeprefix('clf__')}={v}" for k, v in candidates[c].items())
            progress(done, len(tasks),
                     f"grid search: {done}/{len(tasks)} fits (last: {tried or 'defaults'}, fold {f + 1})")
        if should_stop is not None and should_stop():
            raise Cancelled(f"stopped after {done} of {len(tasks)} fits")
    return GridResult(candidates, scores, seconds, int(np.argmin(_ranks(np.average(scores, axis=1)))), capped)


def _ranks(means: np.ndarray) -> np.ndarray:
    """GridSearchCV's ranking: failed (NaN) candidates tie with the worst, ties share the best rank."""
    if np.isnan(means).all():
        return np.ones_like(means, dtype=np.int32)
    filled = np.where(np.isnan(means), np.nanmin(means) - 1, means)
    from scipy.stats import rankdata  # here, not at the top: scipy.stats takes 0.6 s to import for every CLI call

    return rankdata(-filled, method="min").astype(np.int32)


def _fit_and_score(estimator, params, X, y, split, scoring, c, f):
    import time
    import warnings

    from sklearn.base import clone
    from sklearn.metrics import get_scorer

    train, test = split
    started = time.perf_counter()
    model = clone(estimator).set_params(**params)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. ConvergenceWarning of one candidate: its score says enough
            model.fit(X[train], y[train])
            score = float(get_scorer(scoring)(model, X[test], y[test]))
    except Exception:  # a failing candidate scores NaN, as GridSearchCV's error_score=nan
        score = np.nan
    return c, f, score, time.perf_counter() - started, hit_iteration_budget(model)


def hit_iteration_budget(model) -> bool:
    """Whether a fitted estimator (or a pipeline's last step) stopped at its iteration budget
    (``max_iter``) before converging: an SVC whose solver ran ``max_iter`` iterations in any of its
    one-vs-one subproblems. Estimators without such a budget never hit one."""
    final = model.steps[-1][1] if hasattr(model, "steps") else model
    budget, done = getattr(final, "max_iter", None), getattr(final, "n_iter_", None)
    if not isinstance(budget, (int, np.integer)) or budget <= 0 or done is None:
        return False
    return bool(np.max(done) >= budget)
