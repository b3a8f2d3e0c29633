"""One definition of every metric: checked against scikit-learn, on stacks, and with tied votes."""

import itertools

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support, recall_score

from ser.metrics import classification_metrics, confusion_counts, headline, label_set, report_frame, scores

EMOS = ["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"]


@pytest.mark.parametrize("seed", range(5))
def test_headline_metrics_match_scikit_learn_over_the_classes_present(seed):
    rng = np.random.default_rng(seed)
    truth = rng.choice(EMOS[:4], 60)  # NEU and SAD never true ...
    guess = np.where(rng.random(60) < 0.5, truth, rng.choice(EMOS, 60))  # ... but sometimes predicted
    got = classification_metrics(truth, guess, labels=EMOS)
    present = sorted(set(truth))
    assert got["accuracy"] == pytest.approx(accuracy_score(truth, guess))
    assert got["macro_f1"] == pytest.approx(f1_score(truth, guess, labels=present, average="macro"))
    assert got["uar"] == pytest.approx(recall_score(truth, guess, labels=present, average="macro"))
    precision, recall, f1, support = precision_recall_fscore_support(truth, guess, labels=EMOS, zero_division=0)
    for i, label in enumerate(EMOS):
        assert got["report"][label] == pytest.approx({"precision": precision[i], "recall": recall[i],
                                                      "f1": f1[i], "support": support[i]})
    assert got["labels"] == EMOS and np.asarray(got["confusion"]).sum() == 60


def test_a_stack_of_confusion_matrices_scores_each_like_one():
    rng = np.random.default_rng(1)
    stack = rng.integers(0, 9, size=(7, 3, 6, 6)).astype(float)
    stack[2, 1, 4, :] = 0  # a class without clips in one matrix
    stacked = scores(stack)
    for index in np.ndindex(7, 3):
        single = scores(stack[index])
        for name in ("accuracy", "macro_f1", "uar"):
            assert stacked[name][index] == pytest.approx(single[name])
    assert np.isnan(scores(np.zeros((6, 6)))["macro_f1"])


def test_a_tie_scores_the_expected_value_of_a_fair_tie_break():
    truth = ["ANG", "ANG", "SAD", "NEU", "SAD"]
    votes = ["ANG/NEU", "ANG", "SAD/NEU/ANG", "NEU", "HAP"]
    options = [vote.split("/") for vote in votes]
    breaks = list(itertools.product(*options))
    expected = {name: np.mean([headline(truth, list(b), EMOS)[name] for b in breaks]) for name in ("accuracy", "uar")}
    got = headline(truth, votes, EMOS)
    assert got["accuracy"] == pytest.approx(expected["accuracy"])
    assert got["uar"] == pytest.approx(expected["uar"])
    matrix = confusion_counts(truth, votes, EMOS)
    assert matrix.sum() == pytest.approx(5) and matrix[0, 0] == pytest.approx(1.5)


def test_label_set_puts_the_fixed_order_first_and_splits_ties():
    assert label_set(["SAD", "BOR"], ["ANG/NEU"]) == ["ANG", "NEU", "SAD", "BOR"]


def test_report_frame_macro_average_is_the_headline_macro():
    truth, guess = ["ANG", "ANG", "SAD", "SAD"], ["ANG", "NEU", "SAD", "SAD"]
    metrics = classification_metrics(truth, guess, labels=EMOS)
    assert report_frame(metrics).loc["macro avg", "f1"] == pytest.approx(metrics["macro_f1"])
