import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

from ser.bias import (analysis_frame, confusion, error_tree, filter_frame, group_report, macro_f1,
                      tree_dot)
from ser.errors import ConfigError
from ser.runs import create_run, update_run

EMOS = ["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"]


def hand_made(n_per_group=120, seed=0, wrong_for=None):
    """Predictions for clips of two sexes and three races; ``wrong_for`` plants errors on one sex."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_per_group * 2):
        sex = "Female" if i % 2 else "Male"
        truth = EMOS[(i // 2) % 6]
        error_rate = 0.8 if sex == wrong_for else 0.3
        guess = truth if rng.random() > error_rate else EMOS[(i + 1 + rng.integers(5)) % 6]
        rows.append({"clip_id": f"c{i}", "y_true": truth, "y_pred": guess, "sex": sex,
                     "race": ["Asian", "Caucasian", "African American"][i % 3], "speaker": f"{1000 + i % 8}",
                     "age band": "20-29" if i % 4 < 2 else "30-39", "intensity": "XX", "sentence": "DFA",
                     "ethnicity": "Not Hispanic", "duration_s": 2.0 + (i % 5) * 0.3, "duration band": "2.0-2.5 s",
                     "actor train clips": 50, "crowd_voice": truth if i % 3 else "NEU"})
    frame = pd.DataFrame(rows).set_index("clip_id")
    frame["correct"] = frame["y_true"] == frame["y_pred"]
    return frame


def test_group_metrics_match_scikit_learn():
    frame = hand_made()
    report = group_report(frame, "sex", n_boot=0)
    for sex, rows in frame.groupby("sex"):
        expected = f1_score(rows.y_true, rows.y_pred, average="macro", labels=sorted(set(rows.y_true)))
        got = report.groups.set_index("group").loc[sex]
        assert got.macro_f1 == pytest.approx(expected)
        assert got.support == len(rows)
        crowd = f1_score(rows.y_true, rows.crowd_voice, average="macro", labels=sorted(set(rows.y_true)))
        assert got.crowd_macro_f1 == pytest.approx(crowd)
    assert report.overall["macro_f1"]["value"] == pytest.approx(f1_score(frame.y_true, frame.y_pred, average="macro"))


def test_macro_f1_counts_only_emotions_present_in_the_group():
    assert macro_f1(["ANG", "ANG"], ["ANG", "SAD"]) == pytest.approx(f1_score(["ANG", "ANG"], ["ANG", "SAD"],
                                                                              labels=["ANG"], average="macro"))


def test_intervals_contain_the_estimate_and_widen_with_fewer_clips():
    big = group_report(hand_made(n_per_group=300), "sex", n_boot=200)
    small = group_report(hand_made(n_per_group=30), "sex", n_boot=200)
    for report in (big, small):
        rows = report.groups
        assert (rows.ci_low <= rows.macro_f1).all() and (rows.macro_f1 <= rows.ci_high).all()
        overall = report.overall["macro_f1"]
        assert overall["ci"][0] <= overall["value"] <= overall["ci"][1]
    width = lambda r: (r.groups.ci_high - r.groups.ci_low).mean()  # noqa: E731
    assert width(small) > 1.5 * width(big)


def test_gap_interval_says_whether_a_gap_is_noise():
    planted = group_report(hand_made(n_per_group=200, wrong_for="Female"), "sex", n_boot=200)
    assert planted.gap["worst"] == "Female" and planted.gap["distinguishable"] is True
    assert planted.gap["ci"][0] > 0
    fair = group_report(hand_made(n_per_group=200), "sex", n_boot=200)
    assert fair.gap["ci"][0] < fair.gap["gap"] < fair.gap["ci"][1]


def test_intersections_and_unknown_groupings():
    report = group_report(hand_made(), ["sex", "race"], n_boot=0)
    assert len(report.groups) == 6 and "Female × Asian" in set(report.groups.group)
    assert report.groups.support.sum() == 240
    with pytest.raises(ConfigError):
        group_report(hand_made(), "favourite colour", n_boot=0)


def test_filters_compose():
    frame = hand_made()
    one = filter_frame(frame, {"sex": ["Female"]})
    both = filter_frame(frame, {"sex": ["Female"], "race": ["Asian", "Caucasian"]})
    assert set(one.sex) == {"Female"} and len(both) < len(one)
    assert set(both.race) == {"Asian", "Caucasian"} and set(both.sex) == {"Female"}
    assert len(filter_frame(frame, {"sex": [], "race": []})) == len(frame)
    with pytest.raises(ConfigError):
        filter_frame(frame, {"shoe size": ["42"]})


def test_confusion_for_model_and_crowd():
    frame = hand_made()
    model = confusion(frame)
    assert model.to_numpy().sum() == len(frame) and list(model.index) == EMOS
    crowd = confusion(frame, "crowd_voice")
    assert crowd.loc["ANG", "NEU"] == ((frame.y_true == "ANG") & (frame.crowd_voice == "NEU")).sum()


def test_tree_finds_errors_planted_on_one_sex():
    frame = hand_made(n_per_group=300, wrong_for="Female", seed=1)
    tree = error_tree(frame, depth=2)
    root = tree.feature_names[tree.model.tree_.feature[0]]
    assert root.startswith("sex=")
    assert tree.explains_something and tree.heldout_accuracy > tree.majority_rate
    assert "sex is" in tree_dot(tree) and "errors" in tree_dot(tree)


def test_tree_that_explains_nothing_says_so():
    frame = hand_made(n_per_group=300, seed=2)  # errors independent of metadata
    tree = error_tree(frame, depth=3)
    assert tree.heldout_accuracy <= tree.majority_rate + 0.05


def test_analysis_frame_joins_predictions_with_clips(crema_folder):
    from ser.corpus import load_corpus

    corpus = load_corpus(crema_folder)
    run = create_run("baseline", {"model": "svm"}, {"source": str(crema_folder)})
    ids = corpus.clips.index
    predictions = pd.DataFrame({"clip_id": ids, "split": ["train"] * 12 + ["test"] * 12,
                                "y_true": corpus.clips.emotion.to_numpy(), "y_pred": "NEU"})
    predictions.to_parquet(run.predictions_path)
    update_run(run, status="finished")
    frame = analysis_frame(run, corpus.clips, "test")
    assert len(frame) == 12 and set(frame.index) == set(ids[12:])
    assert {"sex", "age band", "duration band", "actor train clips", "crowd_voice", "correct"} <= set(frame.columns)
    assert frame["correct"].sum() == (frame.y_true == "NEU").sum()
    train_counts = corpus.clips.loc[ids[:12], "speaker"].value_counts()
    assert (frame["actor train clips"] == frame["speaker"].map(train_counts).fillna(0)).all()
    with pytest.raises(ConfigError):
        analysis_frame(run, corpus.clips, "val")


def test_a_corrupt_bias_cache_is_recomputed(crema_folder):
    from ser import config
    from ser.bias import cached_group_report
    from ser.corpus import load_corpus

    corpus = load_corpus(crema_folder)
    run = create_run("baseline", {"model": "svm"}, {"source": str(crema_folder)})
    pd.DataFrame({"clip_id": corpus.clips.index, "split": "test", "y_true": corpus.clips.emotion.to_numpy(),
                  "y_pred": "NEU"}).to_parquet(run.predictions_path)
    frame = analysis_frame(run, corpus.clips, "test")
    first = cached_group_report(run, frame, "sex", "test", n_boot=20)
    [cached] = list((config.cache_dir() / "bias").glob("*.json"))
    cached.write_text("{ truncated")
    again = cached_group_report(run, frame, "sex", "test", n_boot=20)
    pd.testing.assert_frame_equal(first.groups, again.groups)
