"""The statistics of the bias page, proven on simulated predictions where the truth is known
(``simulated_predictions``): how often the gap verdict fires with no group effect, how often it finds a
planted one, and how often the 95% intervals cover the true group value."""

import numpy as np
import pytest

from ser.analysis import uncertainty
from ser.analysis.bias import group_report
from simulated_predictions import expected_accuracy, simulate

DATASETS = 200
REPLICATES = 200  # per dataset, for both the bootstrap and the permutations (the app uses 1,000)


def verdicts(groups: dict, by: str, datasets: int = DATASETS, seed: int = 0, **effects) -> tuple[float, list]:
    rng = np.random.default_rng(seed)
    fired, reports = 0, []
    for i in range(datasets):
        report = group_report(simulate(rng, groups, **effects), by, n_boot=REPLICATES, seed=i)
        fired += bool(report.gap["distinguishable"])
        reports.append(report)
    return fired / datasets, reports


def coverage(reports: list, truth: dict) -> float:
    hits = [row.ci_low <= truth[row.group] <= row.ci_high for report in reports
            for row in report.groups.itertuples() if row.eligible]
    return float(np.mean(hits))


@pytest.mark.slow
def test_no_group_effect_actor_level_attribute_rarely_fires_and_intervals_cover():
    """Two races of 14 and 13 actors (a 27-actor test set), actors differing from each other (sd 0.6 on
    the log-odds), no race effect: the verdict fires in at most 10% of 200 datasets."""
    rate, reports = verdicts({"A": 14, "B": 13}, "race")
    assert rate <= 0.10, rate
    truth = {g: expected_accuracy(0.0, 0.6) for g in "AB"}
    assert coverage(reports, truth) >= 0.88
    assert np.mean([r.gap["ci"][0] <= 0 <= r.gap["ci"][1] for r in reports]) >= 0.88  # the true gap is 0


@pytest.mark.slow
def test_no_group_effect_clip_level_attribute_rarely_fires():
    """12 sentences, every actor saying each: the largest of 66 pairwise gaps must not fool the verdict."""
    rate, reports = verdicts({"A": 14, "B": 13}, "sentence", datasets=DATASETS, seed=1)
    assert rate <= 0.10, rate
    truth = {s: expected_accuracy(0.0, 0.6) for s in reports[0].groups.group}
    assert coverage(reports, truth) >= 0.88


@pytest.mark.slow
def test_no_actor_effect_grouped_by_actor_rarely_fires():
    rate, _ = verdicts({"A": 14, "B": 13}, "actor", datasets=100, seed=2, actor_sd=0.0)
    assert rate <= 0.10, rate


@pytest.mark.slow
def test_a_planted_gap_of_015_across_12_actors_per_group_is_found_and_covered():
    effect = -0.64  # on the log-odds: 0.15 lower expected macro-F1 with actor sd 0.4
    truth = {"A": expected_accuracy(0.0, 0.4), "B": expected_accuracy(effect, 0.4)}
    assert truth["A"] - truth["B"] == pytest.approx(0.15, abs=0.005)
    rate, reports = verdicts({"A": 12, "B": 12}, "race", datasets=100, seed=3, actor_sd=0.4,
                             actor_effects={"B": effect})
    assert rate >= 0.80, rate
    assert coverage(reports, truth) >= 0.88
    gap_hits = [r.gap["ci"][0] <= truth[r.gap["best"]] - truth[r.gap["worst"]] <= r.gap["ci"][1] for r in reports]
    assert np.mean(gap_hits) >= 0.88


@pytest.mark.slow
def test_a_planted_sentence_effect_is_found():
    rate, reports = verdicts({"A": 14, "B": 13}, "sentence", datasets=60, seed=4, sentence_effects={"IEO": -0.9})
    assert rate >= 0.80, rate
    assert np.mean([r.gap["worst"] == "IEO" for r in reports]) >= 0.8


def test_stratified_resampling_keeps_each_groups_number_of_actors():
    strata = np.array([0] * 5 + [1] * 3 + [2] * 1)
    weights = uncertainty.actor_weights(strata, 500, np.random.default_rng(0))
    assert (weights[:, :5].sum(axis=1) == 5).all() and (weights[:, 5:8].sum(axis=1) == 3).all()
    assert (weights[:, 8] == 1).all()
    assert weights[:, :5].std() > 0.5  # actors really are drawn with replacement


def test_within_actor_shuffles_keep_each_actors_labels():
    labels = np.array([0, 1, 2, 0, 1, 2, 3, 3])
    strata = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    shuffled = uncertainty._shuffle_within(labels, strata, 300, np.random.default_rng(0))
    for stratum in range(3):
        members = strata == stratum
        assert (np.sort(shuffled[:, members], axis=1) == np.sort(labels[members])).all()
    assert len({tuple(row[:3]) for row in shuffled}) == 6  # every order of the first stratum occurs


def test_expanded_percentile_interval():
    assert uncertainty.expanded_level(13) == pytest.approx(0.01167, abs=1e-4)
    assert uncertainty.expanded_level(10_000) == pytest.approx(0.025, abs=2e-4)
    samples = np.random.default_rng(0).normal(size=(4000, 2))
    plain = uncertainty.percentile_interval(samples)
    assert plain[:, 0] == pytest.approx(np.quantile(samples[:, 0], [0.025, 0.975]))
    expanded = uncertainty.percentile_interval(samples, [5, 1000])
    assert expanded[1, 0] - expanded[0, 0] > 1.3 * (plain[1, 0] - plain[0, 0])


def test_permutation_p_value_is_never_zero():
    assert uncertainty.permutation_p_value(1.0, np.zeros(99)) == pytest.approx(0.01)
    assert uncertainty.permutation_p_value(0.0, np.zeros(99)) == 1.0
