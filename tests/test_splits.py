import numpy as np
import pandas as pd
import pytest

from ser.errors import ConfigError
from ser.learning.splits import actor_disjoint_split, loso_folds, make_split, report_split


def clips_table(speakers=10, per_speaker=24):
    rows = []
    for s in range(speakers):
        for i in range(per_speaker):
            rows.append({"clip_id": f"{1001 + s}_{i:03d}", "speaker": str(1001 + s),
                         "emotion": ["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"][i % 6],
                         "sex": "Male" if s % 2 else "Female"})
    return pd.DataFrame(rows).set_index("clip_id")


def test_report_split_is_stratified_and_reproducible():
    clips = clips_table()
    first, second = report_split(clips), report_split(clips)
    assert first.equals(second)
    assert (first == "test").mean() == pytest.approx(0.3, abs=0.01)
    shares = clips.groupby(first)["emotion"].value_counts(normalize=True)
    assert np.allclose(shares["test"].to_numpy(), 1 / 6, atol=0.02)
    assert not report_split(clips, seed=4).equals(first)


def test_report_split_matches_scikit_learn_with_random_state_3():
    from sklearn.model_selection import train_test_split

    clips = clips_table()
    _, test = train_test_split(np.arange(len(clips)), test_size=0.3, random_state=3, stratify=clips["emotion"])
    assert set(np.flatnonzero(report_split(clips).to_numpy() == "test")) == set(test)


def test_report_split_with_validation_is_70_15_15():
    parts = report_split(clips_table(), test_size=0.15, val_size=0.15)
    shares = parts.value_counts(normalize=True)
    assert shares["train"] == pytest.approx(0.70, abs=0.01)
    assert shares["val"] == pytest.approx(0.15, abs=0.01) and shares["test"] == pytest.approx(0.15, abs=0.01)


def test_actor_disjoint_split_really_is_disjoint():
    clips = clips_table(speakers=20)
    parts = actor_disjoint_split(clips, test_size=0.15, val_size=0.15)
    speakers = {part: set(clips.loc[parts == part, "speaker"]) for part in ("train", "val", "test")}
    assert not speakers["train"] & speakers["test"] and not speakers["train"] & speakers["val"]
    assert not speakers["val"] & speakers["test"]
    assert all(speakers.values())
    assert parts.equals(actor_disjoint_split(clips, test_size=0.15, val_size=0.15))
    test_sexes = clips.loc[parts == "test", "sex"].value_counts()
    assert set(test_sexes.index) == {"Male", "Female"}  # balanced by sex


def test_actor_disjoint_split_needs_speakers():
    with pytest.raises(ConfigError, match="needs at least 2 speakers; this corpus has 1"):
        actor_disjoint_split(clips_table(speakers=1))
    with pytest.raises(ConfigError, match="needs at least 3 speakers; this corpus has 2"):  # train, val and test
        actor_disjoint_split(clips_table(speakers=2), val_size=0.15)


def test_loso_folds_cover_every_clip_once():
    clips = clips_table(speakers=4)
    folds = loso_folds(clips)
    assert [speaker for speaker, _, _ in folds] == ["1001", "1002", "1003", "1004"]
    tested = np.concatenate([test for _, _, test in folds])
    assert sorted(tested) == list(range(len(clips)))
    for speaker, train, test in folds:
        assert set(clips.iloc[test]["speaker"]) == {speaker}
        assert speaker not in set(clips.iloc[train]["speaker"])


def test_unknown_split_and_tiny_classes():
    clips = clips_table()
    with pytest.raises(ConfigError, match="unknown split 'random'; choose one of actor, report, loso"):
        make_split(clips, "random")
    with pytest.raises(ConfigError, match=r"emotion\(s\) SAD have fewer than 4 clips"):
        report_split(clips.drop(clips.index[clips["emotion"] == "SAD"][3:]))  # 3 sad clips left
