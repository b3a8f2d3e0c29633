import time

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

from ser.analysis.bias import analysis_frame, confusion, error_tree, filter_frame, group_report, tree_dot, tree_inputs
from ser.errors import ConfigError, NotEnoughData
from ser.runs import RunError, create_run, update_run
from simulated_predictions import simulate

EMOS = ["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"]


def hand_made(n_per_group=120, seed=0, wrong_for=None):
    """Predictions for 24 actors (12 per sex, 8 per race); ``wrong_for`` plants errors on one sex."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_per_group * 2):
        sex = "Female" if i % 2 else "Male"
        truth = EMOS[(i // 2) % 6]
        error_rate = 0.8 if sex == wrong_for else 0.3
        guess = truth if rng.random() > error_rate else EMOS[(i + 1 + rng.integers(5)) % 6]
        rows.append({"clip_id": f"c{i}", "y_true": truth, "y_pred": guess, "sex": sex,
                     "race": ["Asian", "Caucasian", "African American"][i % 3], "speaker": f"{1000 + i % 24}",
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
        assert got.support == len(rows) and got.actors == rows.speaker.nunique() == 12
        crowd = f1_score(rows.y_true, rows.crowd_voice, average="macro", labels=sorted(set(rows.y_true)))
        assert got.crowd_macro_f1 == pytest.approx(crowd)
    assert report.overall["macro_f1"]["value"] == pytest.approx(f1_score(frame.y_true, frame.y_pred, average="macro"))


def test_intervals_resample_actors_so_fewer_actors_mean_wider_intervals():
    rng = np.random.default_rng(3)
    many = simulate(rng, {"A": 40, "B": 40}, clips_per_actor=36)
    few = simulate(rng, {"A": 8, "B": 8}, clips_per_actor=180)  # the same clips per group, fewer voices
    width = lambda r: (r.groups.ci_high - r.groups.ci_low).mean()  # noqa: E731
    wide, narrow = group_report(few, "race", n_boot=400), group_report(many, "race", n_boot=400)
    for report in (wide, narrow):
        rows = report.groups
        assert (rows.ci_low < rows.macro_f1).all() and (rows.macro_f1 < rows.ci_high).all()
        overall = report.overall["macro_f1"]
        assert overall["ci"][0] < overall["value"] < overall["ci"][1]
    assert width(wide) > 1.5 * width(narrow)


def test_a_gap_planted_across_many_actors_is_distinguishable_and_noise_is_not():
    planted = group_report(hand_made(n_per_group=200, wrong_for="Female"), "sex", n_boot=300)
    assert planted.gap["worst"] == "Female" and planted.gap["distinguishable"] is True
    assert planted.gap["p_value"] < 0.01 and planted.gap["ci"][0] > 0
    fair = group_report(simulate(np.random.default_rng(5), {"A": 12, "B": 12}), "race", n_boot=300)
    assert fair.gap["distinguishable"] is False and fair.gap["p_value"] > 0.05
    assert fair.gap["ci"][0] < fair.gap["gap"] < fair.gap["ci"][1]


def test_a_group_of_few_actors_is_marked_and_takes_no_part_in_the_verdict():
    frame = simulate(np.random.default_rng(2), {"A": 10, "B": 10, "Tiny": 2})
    tiny = frame["race"] == "Tiny"
    frame.loc[tiny, "y_pred"] = frame.loc[tiny, "y_true"]  # two perfect actors: the best group by far
    report = group_report(frame, "race", n_boot=200)
    row = report.groups.set_index("group").loc["Tiny"]
    assert row.actors == 2 and not row.eligible and row.macro_f1 == pytest.approx(1.0)
    assert report.groups.iloc[0].group == "Tiny"  # it keeps its number and its place
    assert "Tiny" not in (report.gap["best"], report.gap["worst"]) and report.gap["compared"] == 2
    assert report.to_json()["groups"][0] == {**report.to_json()["groups"][0], "actors": 2, "eligible": False}


def test_clip_level_attributes_are_shuffled_within_actors():
    frame = simulate(np.random.default_rng(4), {"A": 14, "B": 13}, sentence_effects={"IEO": -1.0})
    report = group_report(frame, "sentence", n_boot=300)
    assert report.gap["worst"] == "IEO" and report.gap["distinguishable"] is True
    assert "within each actor" in report.gap["shuffle"] and report.gap["compared"] == 12
    assert (report.groups.actors == 27).all()


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
    tied = frame.assign(crowd_voice=np.where(frame.y_true == "ANG", "ANG/NEU", frame.crowd_voice))
    shares = confusion(tied, "crowd_voice")
    assert shares.loc["ANG", "ANG"] == shares.loc["ANG", "NEU"] == (frame.y_true == "ANG").sum() / 2


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
    assert not tree.explains_something and tree.heldout_accuracy <= tree.majority_rate + 0.01


def tree_verdicts(effect: float, corpora: int, seed: int) -> int:
    """How often the tree's verdict says the metadata explains the errors, over simulated corpora of 15 + 15
    actors (40 clips each, actors differing at random) where one group's log-odds of a right prediction are
    shifted by ``effect``."""
    fired = 0
    for index in range(corpora):
        frame = simulate(np.random.default_rng(seed + index), {"A": 15, "B": 15}, clips_per_actor=40, base=0.5,
                         actor_effects={"B": effect})
        frame["duration_s"] = 2.5
        tree = error_tree(frame, depth=3, seed=index)
        fired += tree.explains_something
        assert tree.gain_ci[0] <= tree.heldout_accuracy - tree.majority_rate <= tree.gain_ci[1]
    return fired


def test_the_trees_verdict_rarely_fires_without_an_effect_and_finds_a_planted_one():
    """The verdict is the gain's actor-bootstrap interval lying above 0. Without any effect it fired in none of
    200 simulated corpora (and must stay under 5% here); with group B's log-odds 2 lower (about 27% against 60%
    right) it fired in 80% of 60."""
    assert tree_verdicts(0.0, 60, seed=100) <= 3
    assert tree_verdicts(-2.0, 40, seed=900) >= 24


def test_tree_is_scored_on_actors_it_never_saw():
    """Errors depend on the actor only (random actor effects), and every actor has a unique age: a tree
    scored on held-out clips of the same actors would learn "age = actor" and look explanatory; scored
    on held-out actors it must not."""
    frame = simulate(np.random.default_rng(7), {"A": 30}, actor_sd=2.0, clips_per_actor=60)
    frame["age band"] = frame["speaker"]  # a metadata column that identifies the actor
    frame["duration_s"] = 2.5
    tree = error_tree(frame, depth=6)
    assert not tree.explains_something, (tree.heldout_accuracy, tree.majority_rate)
    assert tree.heldout_actors == 30 and tree.test_size == 30 * 60  # every actor scored once, by a tree without it
    with pytest.raises(NotEnoughData, match="at least 3 actors"):
        error_tree(frame[frame.speaker.isin(["1001", "1002"])])


def test_analysis_frame_joins_predictions_with_clips(crema_folder):
    from ser.data.corpus import load_corpus

    corpus = load_corpus(crema_folder)
    run = create_run("baseline", {"model": "svm"}, {"source": str(crema_folder)})
    ids = corpus.clips.index
    predictions = pd.DataFrame({"clip_id": ids, "part": ["train"] * 12 + ["test"] * 12,
                                "y_true": corpus.clips.emotion.to_numpy(), "y_pred": "NEU"})
    predictions.to_parquet(run.predictions_path)
    update_run(run, status="finished")
    frame = analysis_frame(run, corpus.clips, "test")
    assert len(frame) == 12 and set(frame.index) == set(ids[12:])
    assert {"sex", "age band", "duration band", "actor train clips", "crowd_voice", "correct"} <= set(frame.columns)
    assert frame["correct"].sum() == (frame.y_true == "NEU").sum()
    train_counts = corpus.clips.loc[ids[:12], "speaker"].value_counts()
    assert (frame["actor train clips"] == frame["speaker"].map(train_counts).fillna(0)).all()
    with pytest.raises(ConfigError, match="no 'val' predictions; it has test, train"):
        analysis_frame(run, corpus.clips, "val")


def test_runs_written_before_the_part_column_are_read_the_same(crema_folder):
    """Old predictions called the part "split"; old wav2vec2 runs stored no training rows, so the
    actor's training clips are unknown (missing), never silently 0, and the tree says why it skips them."""
    from ser.data.corpus import load_corpus

    corpus = load_corpus(crema_folder)
    run = create_run("wav2vec2", {"model": "m", "split": "actor"}, {"source": str(crema_folder)})
    ids = corpus.clips.index
    pd.DataFrame({"clip_id": ids, "split": ["val"] * 12 + ["test"] * 12, "y_true": corpus.clips.emotion.to_numpy(),
                  "y_pred": "NEU"}).to_parquet(run.predictions_path)
    assert run.parts() == ["test", "val"] and not run.has_training_rows
    frame = analysis_frame(run, corpus.clips, "test")
    assert len(frame) == 12 and frame["actor train clips"].isna().all()
    assert "actor train clips" not in tree_inputs(frame)


def test_predictions_without_the_contract_columns_are_refused_with_the_run_named(crema_folder):
    run = create_run("baseline", {"model": "svm"}, {"source": str(crema_folder)})
    pd.DataFrame({"clip_id": ["a"], "label": ["ANG"]}).to_parquet(run.predictions_path)
    with pytest.raises(RunError, match=f"run {run.run_id}: .* lacks the column"):
        run.predictions()


def always_neutral_run(crema_folder):
    """A run that says NEU for every clip of the CREMA-D-layout folder (all of them its test part), and its
    analysis frame."""
    from ser.data.corpus import load_corpus

    corpus = load_corpus(crema_folder)
    run = create_run("baseline", {"model": "svm"}, {"source": str(crema_folder)})
    pd.DataFrame({"clip_id": corpus.clips.index, "part": "test", "y_true": corpus.clips.emotion.to_numpy(),
                  "y_pred": "NEU"}).to_parquet(run.predictions_path)
    return run, analysis_frame(run, corpus.clips, "test")


def test_a_corrupt_bias_cache_is_recomputed(crema_folder):
    from ser import config
    from ser.analysis.bias import cached_group_report

    run, frame = always_neutral_run(crema_folder)
    first = cached_group_report(run, frame, "sex", "test", n_boot=20)
    [cached] = list(config.bias_dir(run.run_id).glob("*.json"))
    cached.write_text("{ truncated")
    again = cached_group_report(run, frame, "sex", "test", n_boot=20)
    pd.testing.assert_frame_equal(first.groups, again.groups)


def test_the_bias_cache_is_read_not_recomputed(crema_folder, monkeypatch):
    from ser.analysis import bias

    run, frame = always_neutral_run(crema_folder)
    first = bias.cached_group_report(run, frame, "sex", "test", n_boot=20)

    def no_recompute(*args, **kwargs):
        raise AssertionError("the cached report should have been read")

    monkeypatch.setattr(bias, "group_report", no_recompute)
    again = bias.cached_group_report(run, frame, "sex", "test", n_boot=20)
    pd.testing.assert_frame_equal(first.groups, again.groups)
    with pytest.raises(AssertionError, match="should have been read"):
        bias.cached_group_report(run, frame, "sex", "test", n_boot=40)  # another key is computed


def test_saved_reports_are_bounded_per_run_and_go_with_the_run(crema_folder, monkeypatch):
    from ser import config
    from ser.analysis import bias
    from ser.runs import delete_run

    run, frame = always_neutral_run(crema_folder)
    legacy = config.cache_dir() / "bias" / "0123456789abcdef0123.json"  # where earlier versions saved reports
    legacy.parent.mkdir(parents=True)
    legacy.write_text("{}")
    monkeypatch.setattr(bias, "REPORTS_KEPT", 2)
    for boot in (20, 30, 40):  # three reports: the oldest is dropped
        bias.cached_group_report(run, frame, "sex", "test", n_boot=boot)
        time.sleep(0.01)
    assert len(list(config.bias_dir(run.run_id).glob("*.json"))) == 2 and not legacy.exists()
    calls = []
    monkeypatch.setattr(bias, "group_report", lambda *a, **k: calls.append(k["n_boot"]))
    bias.cached_group_report(run, frame, "sex", "test", n_boot=30)
    bias.cached_group_report(run, frame, "sex", "test", n_boot=40)
    assert calls == []  # the two newest were kept
    delete_run(run.run_id)
    assert not config.bias_dir(run.run_id).exists()


def test_overall_report_is_the_headline_and_needs_enough_actors():
    from ser.analysis.bias import overall_report

    frame = hand_made()
    report = overall_report(frame, n_boot=200)
    assert report == group_report(frame, "sex", n_boot=200).overall  # one definition: the page's headline
    assert report["macro_f1"]["ci"][0] < report["macro_f1"]["value"] < report["macro_f1"]["ci"][1]
    few = frame[frame["speaker"].isin(["1000", "1001", "1002", "1003"])]
    small = overall_report(few, n_boot=200)
    assert small["macro_f1"]["actors"] == 4 and small["macro_f1"]["ci"] == [None, None]
    expected = f1_score(few.y_true, few.y_pred, average="macro", labels=sorted(set(few.y_true)))
    assert small["macro_f1"]["value"] == pytest.approx(expected)
    with pytest.raises(ConfigError, match="no clips"):
        overall_report(frame.iloc[:0])


def test_cell_clips_are_the_clips_behind_each_confusion_cell():
    from ser.analysis.bias import cell_clips

    frame = hand_made()
    frame.loc[frame.index[:30:3], "crowd_voice"] = "ANG/SAD"  # ties count in each tied emotion's cell
    model, crowd = confusion(frame), confusion(frame, "crowd_voice")
    for intended in model.index:
        for said in model.columns:
            picked = cell_clips(frame, intended, said)
            assert len(picked) == model.loc[intended, said]
            assert ((frame.loc[picked, "y_true"] == intended) & (frame.loc[picked, "y_pred"] == said)).all()
            voted = cell_clips(frame, intended, said, "crowd_voice")
            shares = 1 / frame.loc[voted, "crowd_voice"].str.count("/").add(1)
            assert shares.sum() == pytest.approx(crowd.loc[intended, said])
    assert set(cell_clips(frame, frame.y_true.iloc[0], "SAD", "crowd_voice")) >= {frame.index[0]}


def test_group_clips_are_the_clips_each_group_counts():
    from ser.analysis.bias import group_clips

    frame = hand_made()
    for by in ("sex", ["race", "sex"], "actor"):
        table = group_report(frame, by, n_boot=0).groups
        for row in table.itertuples():
            assert len(group_clips(frame, by, row.group)) == row.support
    assert len(group_clips(frame, "sex", "nobody")) == 0


def test_the_bias_cache_tells_subsets_of_the_same_size_apart(crema_folder):
    from ser.analysis.bias import cached_group_report
    from ser.data.corpus import load_corpus

    corpus = load_corpus(crema_folder)
    run = create_run("baseline", {"model": "svm"}, {"source": str(crema_folder)})
    truth = corpus.clips.emotion.to_numpy()
    pd.DataFrame({"clip_id": corpus.clips.index, "part": "test", "y_true": truth,
                  "y_pred": np.where(np.arange(len(truth)) < 12, truth, "NEU")}).to_parquet(run.predictions_path)
    frame = analysis_frame(run, corpus.clips, "test")
    first = cached_group_report(run, frame.iloc[:12], "sex", "test", n_boot=0)  # all right
    second = cached_group_report(run, frame.iloc[12:], "sex", "test", n_boot=0)  # as many clips, mostly wrong
    assert first.overall["accuracy"]["value"] == 1.0 and second.overall["accuracy"]["value"] < 1.0
