"""The one definition of every score the workbench shows: accuracy, macro-F1 (the headline, as in the
report) and UAR, with the per-class report, all computed from a confusion matrix over a fixed label set
(the corpus' emotions). Models, the crowd, the bias engine and fine-tuning's validation all call this.

Definitions (``C[t, p]`` counts clips of true class t predicted as p):

- accuracy = trace(C) / sum(C);
- a class *takes part* in the macro averages when it occurs in the true labels of the clips scored
  (support > 0): a group without sad clips is not scored on sadness, but a wrong "sad" still costs the
  recall of the clip's true class;
- UAR (unweighted average recall) = mean over those classes of C[t, t] / support(t);
- macro-F1 = mean over those classes of 2 C[t, t] / (support(t) + predicted(t)), which equals
  scikit-learn's ``f1_score(..., labels=<classes present>, average="macro")``.

A prediction may be a *tie*: several classes joined by "/" (``"ANG/SAD"``), each getting an equal
share of the clip. The crowd's plurality vote uses this, so a tied vote scores the expected value of a
fair tie-break (exactly for accuracy and UAR, which are linear in the counts) and needs no seed.

Every function on confusion matrices works on stacks (``[..., K, K]``), so the bootstraps score
thousands of replicates at once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .labels import emotion_order

TIE = "/"
HEADLINE = ("macro_f1", "uar", "accuracy")


def label_set(*label_columns) -> list[str]:
    """The fixed order ANG DIS FEA HAP NEU SAD, then any other code, over every label given (ties split)."""
    codes = set()
    for column in label_columns:
        for value in pd.unique(pd.Series(column).dropna().astype(str)):
            codes.update(value.split(TIE))
    return emotion_order(codes)


def cell_entries(y_true, y_pred, labels: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each clip's share of the confusion matrix as (clip position, cell t*K+p, weight) arrays: one entry
    per clip, or one per tied class with weight 1/n. Clips with a missing prediction, or a label outside
    ``labels``, contribute nothing."""
    index = {label: i for i, label in enumerate(labels)}
    k = len(labels)
    true_codes, true_values = pd.factorize(pd.Series(np.asarray(y_true, dtype=object)).astype(str))
    pred_series = pd.Series(np.asarray(y_pred, dtype=object))
    pred_codes, pred_values = pd.factorize(pred_series.where(pred_series.notna(), None))
    true_index = np.array([index.get(v, -1) for v in true_values], dtype=np.int64)
    positions, cells, weights = [], [], []
    for code, value in enumerate(pred_values):
        members = np.flatnonzero(pred_codes == code)
        parts = [index.get(part, -1) for part in str(value).split(TIE)]
        rows = true_index[true_codes[members]] if len(true_values) else np.empty(0, np.int64)
        ok = rows >= 0
        for part in parts:
            if part < 0:
                continue
            positions.append(members[ok])
            cells.append(rows[ok] * k + part)
            weights.append(np.full(int(ok.sum()), 1.0 / len(parts)))
    if not positions:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    return np.concatenate(positions), np.concatenate(cells), np.concatenate(weights)


def confusion_counts(y_true, y_pred, labels: list[str]) -> np.ndarray:
    """The K x K confusion matrix (rows: true, columns: predicted) as floats (ties give fractions)."""
    _, cells, weights = cell_entries(y_true, y_pred, labels)
    k = len(labels)
    return np.bincount(cells, weights, minlength=k * k).reshape(k, k)


def scores(confusion: np.ndarray) -> dict[str, np.ndarray]:
    """Accuracy, macro-F1 and UAR of a confusion matrix or a stack of them (``[..., K, K]``). A matrix
    with no clips scores NaN."""
    confusion = np.asarray(confusion, dtype=float)
    tp = np.diagonal(confusion, axis1=-2, axis2=-1)
    support = confusion.sum(axis=-1)
    predicted = confusion.sum(axis=-2)
    total = support.sum(axis=-1)
    present = support > 0
    classes = present.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(present, tp / np.where(present, support, 1), 0.0)
        f1 = np.where(present, 2 * tp / np.where(present, support + predicted, 1), 0.0)
        return {"accuracy": np.where(total > 0, tp.sum(axis=-1) / np.where(total > 0, total, 1), np.nan),
                "macro_f1": np.where(classes > 0, f1.sum(axis=-1) / np.maximum(classes, 1), np.nan),
                "uar": np.where(classes > 0, recall.sum(axis=-1) / np.maximum(classes, 1), np.nan)}


def headline(y_true, y_pred, labels: list[str] | None = None) -> dict[str, float]:
    """accuracy, macro_f1 and uar of one set of predictions."""
    labels = labels or label_set(y_true, y_pred)
    return {name: float(value) for name, value in scores(confusion_counts(y_true, y_pred, labels)).items()}


def classification_metrics(y_true, y_pred, labels: list[str] | None = None) -> dict:
    """What a run stores: the headline metrics, the per-class report (precision, recall, F1, support for
    every label of the set; 0 where undefined, as scikit-learn's ``zero_division=0``) and the confusion
    matrix. ``labels`` is the corpus' label set; by default the labels seen."""
    labels = list(labels or label_set(y_true, y_pred))
    matrix = confusion_counts(y_true, y_pred, labels)
    tp, support, predicted = np.diag(matrix), matrix.sum(axis=1), matrix.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted > 0, tp / np.where(predicted > 0, predicted, 1), 0.0)
        recall = np.where(support > 0, tp / np.where(support > 0, support, 1), 0.0)
        f1 = np.where(support + predicted > 0, 2 * tp / np.where(support + predicted > 0, support + predicted, 1), 0.0)
    report = {label: {"precision": float(p), "recall": float(r), "f1": float(f), "support": _count(s)}
              for label, p, r, f, s in zip(labels, precision, recall, f1, support)}
    values = scores(matrix)
    return {**{name: float(values[name]) for name in ("accuracy", "macro_f1", "uar")},
            "clips": _count(matrix.sum()), "report": report, "labels": labels,
            "confusion": [[_count(v) for v in row] for row in matrix]}


def confusion_frame(metrics: dict) -> pd.DataFrame:
    labels = metrics["labels"]
    return pd.DataFrame(metrics["confusion"], index=labels, columns=labels)


def report_frame(metrics: dict) -> pd.DataFrame:
    """Per-class precision, recall, F1 and support with macro and weighted averages, like
    scikit-learn's classification_report (the report's Tables 2 and 3)."""
    table = pd.DataFrame(metrics["report"]).T[["precision", "recall", "f1", "support"]]
    support = table["support"].astype(float)
    macro = table.loc[support > 0, ["precision", "recall", "f1"]].mean()  # the classes that take part, as above
    weighted = (table[["precision", "recall", "f1"]].mul(support, axis=0).sum() / max(support.sum(), 1))
    table.loc["macro avg"] = [*macro, support.sum()]
    table.loc["weighted avg"] = [*weighted, support.sum()]
    table["support"] = table["support"].astype(float).round(2)
    return table


def _count(value: float):
    """Whole counts as ints (what JSON readers expect); fractional ones (tied crowd votes) as floats."""
    value = float(value)
    return int(value) if value.is_integer() else round(value, 4)
