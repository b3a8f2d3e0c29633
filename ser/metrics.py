"""The metrics every run reports: macro-F1 (the headline, as in the report), UAR and accuracy, and the
per-class report and confusion matrix."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .labels import emotion_order


def classification_metrics(y_true, y_pred, labels: list[str] | None = None) -> dict:
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support, \
        recall_score

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    labels = labels or emotion_order(set(y_true) | set(y_pred))
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=labels,
                                                                     zero_division=0)
    report = {label: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
              for label, p, r, f, s in zip(labels, precision, recall, f1, support)}
    present = [label for label in labels if label in set(y_true)]
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
        "uar": float(recall_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
        "clips": int(len(y_true)),
        "report": report,
        "labels": labels,
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def confusion_frame(metrics: dict) -> pd.DataFrame:
    labels = metrics["labels"]
    return pd.DataFrame(metrics["confusion"], index=labels, columns=labels)


def report_frame(metrics: dict) -> pd.DataFrame:
    """Per-class precision, recall, F1 and support with macro and weighted averages, like
    scikit-learn's classification_report (the report's Tables 2 and 3)."""
    table = pd.DataFrame(metrics["report"]).T[["precision", "recall", "f1", "support"]]
    support = table["support"].astype(float)
    macro = table[["precision", "recall", "f1"]].mean()
    weighted = (table[["precision", "recall", "f1"]].mul(support, axis=0).sum() / max(support.sum(), 1))
    table.loc["macro avg"] = [*macro, support.sum()]
    table.loc["weighted avg"] = [*weighted, support.sum()]
    table["support"] = table["support"].astype(int)
    return table
