"""Classical baselines (RQ2): random forest and SVM as scikit-learn pipelines (scaler + estimator)
with the report's grids and 5-fold cross-validation on the training part, and beside them the light heads
EmoBox puts on frozen speech representations: logistic regression and a small MLP (one hidden layer of 256)
with small grids of their own. A baseline produces a run.

Cross-validation follows the split: on the report's random split the folds are stratified (as the
report's ``GridSearchCV(cv=5)``); on the actor-disjoint split they are grouped by speaker, so the
chosen parameters are the ones that generalise to new voices. With leave-one-speaker-out the
parameters are chosen once by 5 speaker-grouped folds over the whole corpus, then every speaker is
predicted by a model trained on all the others.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
import pandas as pd

from ..data.corpus import Corpus
from ..errors import ConfigError
from .grid_search import Cancelled, grid_search
from ..metrics import classification_metrics, label_set
from ..params import check_choice, param, spec_from_dict
from ..progress import Progress
from ..runs import (Run, complete_run, corpus_record, create_run, prediction_frame, progress_writer, update_run,
                    write_predictions)
from .splits import loso_folds, make_split, splits_for

MODELS = {"svm": "support vector machine", "rf": "random forest", "logreg": "logistic regression",
          "mlp": "small MLP head (one hidden layer of 256, early stopping)"}
MLP_HIDDEN = 256

REPORT_GRIDS = {
    "rf": {"clf__n_estimators": [100, 200, 300], "clf__max_depth": [10, 20],
           "clf__min_samples_split": [2, 5, 10], "clf__min_samples_leaf": [1, 2, 4]},
    "svm": {"clf__C": [0.1, 1, 10, 100], "clf__gamma": [1, 0.1, 0.01, 0.001],
            "clf__kernel": ["rbf", "poly", "sigmoid"]},
    # not in the report: small grids for the heads EmoBox trains on frozen speech representations
    "logreg": {"clf__C": [0.01, 0.1, 1, 10]},
    "mlp": {"clf__alpha": [1e-4, 1e-2], "clf__learning_rate_init": [1e-3, 1e-2]},
}
GRIDS = {"report": "the report's grid (for LR and MLP, a small one)",
         "none": "defaults only"}
SCORINGS = {"accuracy": "accuracy (as the report)", "f1_macro": "macro-F1"}
LOSO_TUNING = {
    "global": "parameters chosen once, by speaker-grouped folds over every speaker (each held-out speaker "
              "took part in choosing them, so the scores are slightly optimistic)",
    "nested": "parameters chosen again for every held-out speaker, by speaker-grouped folds over the other "
              "speakers only (unbiased; one grid search per speaker)",
}
LOSO_TUNING_LABELS = {"global": "once, over every speaker", "nested": "again for every held-out speaker (nested)"}


@dataclass
class BaselineSpec:
    """Everything that defines a baseline run; written into the job and into run.json. Each field's help,
    choices, page label and command-line flag are declared here (ser.params); the CLI and the baselines
    page are built from them."""

    model: str = param("svm", "the classifier", choices=MODELS, label="Model", cli_required=True)
    features: str = param("mfcc13", "the feature set: mfcc13 (the report's), mfcc-stats, egemaps, or "
                          "ssl:MODEL:LAYER (one layer of a model's hidden states)", label="Features")
    split: str = param("actor", "how the clips are divided into train and test (70/30)",
                       choices=splits_for("baseline"), label="Split")
    grid: str = param("report", "the report's grid, or the estimator's defaults (still cross-validated)",
                      choices=GRIDS, label="Grid")
    scoring: str = param("accuracy", "what the grid search maximises (the report: accuracy)", choices=SCORINGS,
                         label="Grid search maximises")
    cv_folds: int = param(5, "cross-validation folds on the training part (at least 2)", page=False)
    seed: int = param(3, "seed of the split, the folds and the estimator", label="Seed", step=1)
    jobs: int | None = param(None, "worker processes (when not given: all cores)", page=False)
    grid_override: dict | None = param(None, "a smaller grid, e.g. for tests", cli=False, page=False)
    svm_max_iter: int = param(100_000, "SVM only: stop each fit's solver after this many iterations per pair of "
                              "classes, so that a few very slow candidates (polynomial kernels with a large C and "
                              "gamma) cannot hold a full-size grid for hours; fits that hit it are recorded and shown. "
                              "0: no budget, exactly GridSearchCV", label="SVM iteration budget per fit (0: none)",
                              minimum=0, step=10_000)
    loso_tuning: str = param("global", "with the leave-one-speaker-out split only, when the grid's parameters are "
                             "chosen: global is slightly optimistic (each held-out speaker took part in choosing "
                             "them); nested is unbiased and runs one grid search per speaker",
                             choices=LOSO_TUNING_LABELS, label="Leave-one-speaker-out tuning")

    def validate(self) -> "BaselineSpec":
        check_choice(self, "model", "Unknown model")
        check_choice(self, "split", "Unknown split")
        check_choice(self, "grid", "Unknown grid")
        check_choice(self, "scoring", "Unknown scoring")
        if self.cv_folds < 2:
            raise ConfigError("cross-validation needs at least 2 folds.")
        check_choice(self, "loso_tuning", "Unknown LOSO tuning")
        if isinstance(self.svm_max_iter, bool) or not isinstance(self.svm_max_iter, int) or self.svm_max_iter < 0:
            raise ConfigError(f"svm_max_iter is {self.svm_max_iter!r}; give a whole number of iterations, or 0 for "
                              "no budget.")
        return self

    @classmethod
    def from_dict(cls, values: dict) -> "BaselineSpec":
        """A spec from JSON (a job, run.json); unknown keys are refused with their names."""
        return spec_from_dict(cls, values, "baseline")

    def param_grid(self) -> dict:
        if self.grid_override is not None:
            return self.grid_override
        return REPORT_GRIDS[self.model] if self.grid == "report" else {}

    def to_dict(self) -> dict:
        return asdict(self)


def grid_size(model: str) -> int:
    """Candidates in the report's grid for this model (logreg and mlp: their own small grid)."""
    return int(np.prod([len(values) for values in REPORT_GRIDS[model].values()]))


def make_pipeline(model: str, seed: int, max_iter: int = 0):
    """Scaler + estimator. ``max_iter`` > 0 gives an SVM an iteration budget per fit (0: none). The MLP stops
    early when its score on 10% of the training rows has not improved for 10 epochs."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    if model == "logreg":
        estimator = LogisticRegression(max_iter=1000, random_state=seed)
    elif model == "mlp":
        estimator = MLPClassifier(hidden_layer_sizes=(MLP_HIDDEN,), early_stopping=True, max_iter=200,
                                  random_state=seed)
    else:
        estimator = SVC(random_state=seed, max_iter=max_iter if max_iter > 0 else -1) if model == "svm" else \
            RandomForestClassifier(random_state=seed)
    return Pipeline([("scale", StandardScaler()), ("clf", estimator)])


def final_model(model: str, seed: int, params: dict, max_iter: int = 0):
    """The model a run keeps: the pipeline with the chosen parameters. An SVM gets class
    probabilities by Platt scaling over 5 internal folds (CalibratedClassifierCV with
    ensemble=False, scikit-learn's replacement for SVC(probability=True)); its predicted emotion
    is the most probable one, so prediction and probabilities always agree."""
    from sklearn.calibration import CalibratedClassifierCV

    pipeline = make_pipeline(model, seed, max_iter).set_params(**params)
    if model == "svm":
        return _QuietFit(CalibratedClassifierCV(pipeline, method="sigmoid", ensemble=False, cv=5))
    if model in ("logreg", "mlp"):  # a solver stopped at max_iter warns; the fit is kept as GridSearchCV would
        return _QuietFit(pipeline)
    return pipeline


class _QuietFit:
    """A model whose fit does not warn when an SVM stops at its iteration budget (the run's report says
    so through ``deviations``); everything else is the wrapped model's. Only the wrapped model is what a
    run saves (``model.joblib``), so runs load as before."""

    def __init__(self, model):
        self.model = model

    def fit(self, X, y):
        import warnings

        from sklearn.exceptions import ConvergenceWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return self.model.fit(X, y)


# Measured by benchmarks/grids.py (2026-11-26, 2-core AMD EPYC VM): whole baseline runs with the report's
# grids on 5,166 training clips (91-actor generated corpus, actor-disjoint split, features cached).
GRID_BENCHMARK = {"svm": {"train_clips": 5166, "wall_s": 128.1, "cores": 2},
                  "rf": {"train_clips": 5166, "wall_s": 238.5, "cores": 2}}
NO_BENCHMARK = "no benchmark yet"  # logreg and mlp: benchmarks/grids.py has not measured them


def expected_seconds(spec: "BaselineSpec", clips: int, speakers: int, cores: int) -> float | None:
    """A rough duration of a baseline run, from the benchmark above: scaled by the training clips (SVM fits
    grow with the square of the clips, forests about linearly), the cores, and the number of grid searches
    and final fits the split needs. Good to a factor of about 1.5 on a machine like the benchmark's; it
    assumes the features are already cached (extracting mfcc13 takes about 50 s per 7,000 clips there).
    None for a model the benchmark has not measured (``duration_text`` then says "no benchmark yet")."""
    if spec.model not in GRID_BENCHMARK:
        return None
    reference = GRID_BENCHMARK[spec.model]
    train = clips * (1.0 if spec.split == "loso" else 0.7)
    growth = (train / reference["train_clips"]) ** (2 if spec.model == "svm" else 1)
    candidates = max(1, int(np.prod([len(v) for v in spec.param_grid().values()])) if spec.param_grid() else 1)
    search = reference["wall_s"] * growth * candidates / grid_size(spec.model) * reference["cores"] / max(cores, 1)
    if spec.split == "loso":
        searches = speakers if spec.loso_tuning == "nested" else 1
        final_fits = speakers * (6 if spec.model == "svm" else 1)  # an SVM's calibration fits 5 folds + 1
        return search * searches + final_fits * search / (candidates * spec.cv_folds) / max(cores, 1)
    return search


def duration_text(seconds: float | None) -> str:
    """A duration for people: "40 s", "3 min", "2.5 h" (None: "no benchmark yet")."""
    if seconds is None:
        return NO_BENCHMARK
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def fit_cost(params: dict) -> float:
    """A rough relative cost of one fit, to hand the slowest out first (measured on 2,000 clips:
    a polynomial kernel with gamma 1 fits about 10x slower than any rbf or sigmoid fit; forests
    grow with trees x depth)."""
    cost = 1.0
    if params.get("clf__kernel") == "poly":
        cost += 10 * params.get("clf__gamma", 0.1) + np.log10(params.get("clf__C", 1.0) + 1)
    cost *= params.get("clf__n_estimators", 1) * (params.get("clf__max_depth") or 30) / 10
    return float(cost)


# ---------------------------------------------------------------- the run



FITS_FILE = "fits.jsonl"


class FitRecord:
    """Every finished fit of a run's grid search(es), one JSON line each in ``fits.jsonl``, appended the
    moment it finishes: what a job had done survives its process being killed (a cancel mid-fit), and
    ``finished_fits`` counts it. The number of fits planned is in run.json (``fits_planned``)."""

    def __init__(self, run: Run):
        self.run, self.path = run, run.path / FITS_FILE
        self.path.unlink(missing_ok=True)  # a run started again starts its record again
        self.planned = 0

    def plan(self, fits: int) -> None:
        self.planned += fits
        update_run(self.run, fits_planned=self.planned)

    def search(self, label: str | None = None) -> Callable[[dict], None]:
        def on_fit(fit: dict) -> None:
            line = json.dumps({**({"search": label} if label is not None else {}), **_strip_fit(fit)}, default=str)
            with self.path.open("a") as out:
                out.write(line + "\n")
        return on_fit


def _strip_fit(fit: dict) -> dict:
    return {**fit, "params": _strip(fit["params"])}


def finished_fits(run: Run) -> tuple[int, int]:
    """(fits finished, fits planned) of a baseline run's grid search(es), from its record; a line cut
    short by a kill is not counted."""
    done = 0
    path = run.path / FITS_FILE
    if path.exists():
        for line in path.read_text(errors="replace").splitlines():
            try:
                json.loads(line)
            except ValueError:
                continue
            done += 1
    return done, int(run.info.get("fits_planned") or 0)


def start_baseline(spec: BaselineSpec, corpus: Corpus) -> Run:
    """Create the run folder (status queued) for a job to fill."""
    spec.validate()
    return create_run("baseline", spec.to_dict(), corpus_record(corpus))


def run_baseline(spec: BaselineSpec, corpus: Corpus, run: Run | None = None, progress: Progress | None = None,
                 should_stop: Callable[[], bool] | None = None) -> Run:
    """Features, split, grid search, final fit, predictions and metrics, all written into the run.
    A failure or cancellation marks the run failed/cancelled with the reason."""
    spec.validate()
    run = run or start_baseline(spec, corpus)
    report = progress_writer(run, progress)
    return complete_run(run, lambda: _train_and_evaluate(spec, corpus, run, report, should_stop), Cancelled)


def _train_and_evaluate(spec: BaselineSpec, corpus: Corpus, run: Run, report: Progress, should_stop) -> dict:
    import joblib

    from .features import extract_features

    features = extract_features(corpus, spec.features, jobs=spec.jobs,
                                progress=report)
    clips = corpus.clips.loc[features.table.index]
    if clips["emotion"].nunique() < 2:
        raise ConfigError("the corpus needs at least two emotions with usable clips.")
    X = features.table.to_numpy(dtype=np.float64)
    y = clips["emotion"].to_numpy()
    jobs = spec.jobs or -1
    record = FitRecord(run)
    if spec.split == "loso":
        predictions, cv, model, split_info = _loso(spec, clips, X, y, jobs, report, should_stop, record)
    else:
        predictions, cv, model, split_info = _holdout(spec, clips, X, y, jobs, report, should_stop, record)
    joblib.dump(model, run.path / "model.joblib")
    predictions = write_predictions(run, predictions)
    test = predictions[predictions["part"] == "test"]
    labels = label_set(clips["emotion"])
    metrics = classification_metrics(test["y_true"], test["y_pred"], labels=labels)
    best_params = cv.pop("best_params")
    return {"metrics": metrics, "best_params": best_params, "split_info": split_info, "cv": cv,
            "features_failed": len(features.failed), "labels": metrics["labels"]}


def _cv_splits(spec: BaselineSpec, clips: pd.DataFrame, y: np.ndarray, grouped: bool) -> tuple[list, str]:
    """The cross-validation folds of a training part and a sentence saying how they were made. The
    report split's folds are stratified and shuffled with the run's seed, as the report's GridSearchCV
    saw its training rows in train_test_split's shuffled order (unshuffled folds over clips sorted by id
    would be blocked by actor, i.e. nearly speaker-independent)."""
    from sklearn.model_selection import GroupKFold, StratifiedKFold

    if grouped:
        speakers = clips["speaker"].to_numpy()
        folds = min(spec.cv_folds, len(set(speakers)))
        if folds < 2:
            raise ConfigError("speaker-grouped cross-validation needs at least 2 speakers in the training part.")
        return (list(GroupKFold(n_splits=folds).split(np.zeros(len(y)), y, speakers)),
                f"{folds} speaker-grouped folds (no speaker in two folds)")
    smallest = pd.Series(y).value_counts().min()
    if smallest < spec.cv_folds:
        raise ConfigError(f"an emotion has only {smallest} training clip(s), fewer than the {spec.cv_folds} folds.")
    folds = StratifiedKFold(n_splits=spec.cv_folds, shuffle=True, random_state=spec.seed)
    return (list(folds.split(np.zeros(len(y)), y)),
            f"{spec.cv_folds} stratified folds, shuffled with seed {spec.seed} (speakers appear in several folds)")


def _cv_record(spec: BaselineSpec, search, scheme: str) -> dict:
    return {"folds": search.best_fold_scores, "mean": float(search.mean_scores[search.best_index]),
            "scoring": spec.scoring, "scheme": scheme, "candidates": _strip_table(search.table()),
            "best_params": _strip(search.best_params), "deviations": deviations(spec, search),
            "notes": budget_notes(spec, search)}


def budget_notes(spec: BaselineSpec, search) -> list[str]:
    """The SVM's iteration budget when no fit reached it: the scores are GridSearchCV's own."""
    hits = _budget_hits(spec, search)
    if hits is None or hits.any():
        return []
    return [f"SVM fits had a budget of {spec.svm_max_iter:,} solver iterations per pair of classes; no fit reached "
            "it, so every score is the one plain GridSearchCV would give."]


def _budget_hits(spec: BaselineSpec, search) -> np.ndarray | None:
    """Which fits (candidates x folds) reached the SVM's iteration budget; None when no budget applies."""
    if spec.model != "svm" or not spec.svm_max_iter:
        return None
    return search.capped if search.capped is not None else np.zeros_like(search.fold_scores, dtype=bool)


def deviations(spec: BaselineSpec, search) -> list[str]:
    """How this search differs from plain GridSearchCV, in sentences for the run's report: the SVM's
    iteration budget and which fits hit it (their scores are of models stopped before converging); the MLP's
    early stopping."""
    if spec.model == "mlp":
        return [f"The MLP ({MLP_HIDDEN} hidden units) holds out 10% of every training part it is fitted on and "
                "stops when its accuracy there has not improved for 10 epochs (at most 200), so it trains on "
                "90% of the clips GridSearchCV would hand it."]
    hits = _budget_hits(spec, search)
    if hits is None:
        return []
    fits, capped = int(hits.size), int(hits.sum())
    budget = (f"SVM fits were stopped after {spec.svm_max_iter:,} solver iterations per pair of classes (plain "
              "GridSearchCV has no such limit)")
    if not capped:  # a limit that changed nothing: the run report says so in a note, not as a deviation
        return []
    names = [", ".join(f"{k.removeprefix('clf__')}={v}" for k, v in search.candidates[c].items())
             for c in np.flatnonzero(hits.any(axis=1))]
    best_hit = bool(hits[search.best_index].any())
    text = (f"{budget}; {capped} of {fits} fits reached it, in {len(names)} candidate(s): {'; '.join(names)}. "
            "Their scores are of models stopped before converging (usually lower than converged ones).")
    if best_hit:
        text += " The chosen candidate is one of them."
    return [text]


def _search(spec, X, y, splits, jobs, report, should_stop, on_fit=None):
    estimator = make_pipeline(spec.model, spec.seed, spec.svm_max_iter)
    return grid_search(estimator, spec.param_grid(), X, y, splits, spec.scoring, jobs, report, should_stop,
                       cost=fit_cost, on_fit=on_fit)


def _candidates(spec) -> int:
    return int(np.prod([len(values) for values in spec.param_grid().values()])) if spec.param_grid() else 1


def _holdout(spec, clips, X, y, jobs, report, should_stop, record):
    parts = make_split(clips, spec.split, seed=spec.seed).to_numpy()
    train, test = np.flatnonzero(parts == "train"), np.flatnonzero(parts == "test")
    splits, scheme = _cv_splits(spec, clips.iloc[train], y[train], grouped=spec.split == "actor")
    record.plan(_candidates(spec) * len(splits))
    search = _search(spec, X[train], y[train], splits, jobs, report, should_stop, record.search())
    report(0, 1, "fitting the final model")
    model = final_model(spec.model, spec.seed, search.best_params, spec.svm_max_iter).fit(X[train], y[train])
    report(1, 1, "final model fitted")
    predictions = _predictions(model, clips, X, parts)
    split_info = {"train": int(len(train)), "test": int(len(test)),
                  "train_speakers": int(clips.iloc[train]["speaker"].nunique()),
                  "test_speakers": int(clips.iloc[test]["speaker"].nunique())}
    return predictions, _cv_record(spec, search, scheme), model, split_info


def _loso(spec, clips, X, y, jobs, report, should_stop, record):
    if spec.loso_tuning == "nested":
        return _nested_loso(spec, clips, X, y, jobs, report, should_stop, record)
    from joblib import Parallel, delayed

    splits, scheme = _cv_splits(spec, clips, y, grouped=True)
    record.plan(_candidates(spec) * len(splits))
    search = _search(spec, X, y, splits, jobs, report, should_stop, record.search())
    folds = loso_folds(clips)
    frames = []
    calls = (delayed(_fit_predict)(spec, search.best_params, X, y, train, test) for _, train, test in folds)
    for i, (test, labels, probabilities, classes) in enumerate(Parallel(n_jobs=jobs, return_as="generator")(calls)):
        frames.append(prediction_frame(clips.iloc[test], "test", labels, probabilities, classes))
        report(i + 1, len(folds), f"leave-one-speaker-out: {i + 1}/{len(folds)} speakers")
        if should_stop is not None and should_stop():
            raise Cancelled(f"stopped after {i + 1} of {len(folds)} speakers")
    model = final_model(spec.model, spec.seed, search.best_params, spec.svm_max_iter).fit(X, y)
    split_info = {"folds": len(folds), "test": int(len(y)), "tuning": "global", "tuning_note": LOSO_TUNING["global"]}
    return frames, _cv_record(spec, search, scheme), model, split_info


def _nested_loso(spec, clips, X, y, jobs, report, should_stop, record):
    """Every speaker predicted by a model whose parameters were chosen without that speaker. The model
    the run keeps (for new clips) is fitted on every clip with the parameters chosen most often."""
    folds = loso_folds(clips)
    frames, chosen = [], []
    for i, (speaker, train, test) in enumerate(folds):
        def fold_report(done, total, message, i=i, speaker=speaker):
            report(i * total + done, len(folds) * total,
                   f"nested leave-one-speaker-out: speaker {speaker} ({i + 1}/{len(folds)}), {message}")

        splits, scheme = _cv_splits(spec, clips.iloc[train], y[train], grouped=True)
        if i == 0:  # every held-out speaker leaves the same number of speakers, so the same number of folds
            record.plan(_candidates(spec) * len(splits) * len(folds))
        search = _search(spec, X[train], y[train], splits, jobs, fold_report, should_stop,
                         record.search(str(speaker)))
        _, labels, probabilities, classes = _fit_predict(spec, search.best_params, X, y, train, test)
        frames.append(prediction_frame(clips.iloc[test], "test", labels, probabilities, classes))
        chosen.append({"speaker": speaker, "params": _strip(search.best_params),
                       "cv_mean": float(search.mean_scores[search.best_index])})
    counts = pd.Series([json.dumps(c["params"], sort_keys=True) for c in chosen]).value_counts()
    best = json.loads(counts.index[0])
    most_often = {f"clf__{k}": v for k, v in best.items()}
    model = final_model(spec.model, spec.seed, most_often, spec.svm_max_iter).fit(X, y)
    split_info = {"folds": len(folds), "test": int(len(y)), "tuning": "nested", "tuning_note": LOSO_TUNING["nested"]}
    cv = {"scoring": spec.scoring, "scheme": f"per held-out speaker: {scheme}", "per_speaker": chosen,
          "best_params": best, "best_params_share": float(counts.iloc[0] / len(chosen))}
    return frames, cv, model, split_info


def _fit_predict(spec, params, X, y, train, test):
    model = final_model(spec.model, spec.seed, params, spec.svm_max_iter).fit(X[train], y[train])
    return test, model.predict(X[test]), model.predict_proba(X[test]), list(model.classes_)


def _predictions(model, clips, X, parts) -> list[pd.DataFrame]:
    frames = []
    for part in ("train", "test"):
        rows = np.flatnonzero(parts == part)
        frames.append(prediction_frame(clips.iloc[rows], part, model.predict(X[rows]), model.predict_proba(X[rows]),
                                       list(model.classes_)))
    return frames


def _strip(params: dict) -> dict:
    return {key.removeprefix("clf__"): value for key, value in params.items()}


def _strip_table(rows: list[dict]) -> list[dict]:
    return [{**row, "params": _strip(row["params"])} for row in rows]
