import pandas as pd
import pytest

from ser.data.corpus import load_corpus
from sklearn.metrics import f1_score

from ser.data.crowd import agreement_table, crowd_scores, hit_rate_table, plurality_vote
from ser.labels import EMOTIONS
from ser.reference import truncate


def votes_frame(rows):
    """rows: (clip, intended, {emotion: count}) for the voice modality."""
    records = []
    for clip, intended, counts in rows:
        record = {"clip_id": clip, "emotion": intended}
        record.update({f"voice_{e}": counts.get(e, 0) for e in EMOTIONS})
        total = sum(counts.values())
        record["voice_agreement"] = max(counts.values()) / total
        records.append(record)
    return pd.DataFrame(records).set_index("clip_id")


def test_plurality_vote_and_scores_by_hand():
    clips = votes_frame([
        ("a", "ANG", {"ANG": 5, "NEU": 2}),
        ("b", "ANG", {"DIS": 4, "ANG": 1}),
        ("c", "SAD", {"SAD": 3}),
        ("d", "SAD", {"NEU": 6, "SAD": 2}),
        ("e", "NEU", {"NEU": 9}),
    ])
    votes = plurality_vote(clips)
    assert votes.to_dict() == {"a": "ANG", "b": "DIS", "c": "SAD", "d": "NEU", "e": "NEU"}
    scores = crowd_scores(clips)
    assert scores["accuracy"] == pytest.approx(3 / 5)
    # per class F1 over the intended emotions (ANG, NEU, SAD): 2/3 each; DIS was only voted, so it
    # costs ANG's recall but is not a class of its own (the same definition as every model's score)
    assert scores["macro_f1"] == pytest.approx(2 / 3)
    assert scores["macro_f1"] == pytest.approx(f1_score(clips.emotion, votes, labels=["ANG", "NEU", "SAD"],
                                                        average="macro"))
    assert scores["confusion"].loc["SAD", "NEU"] == 1


def test_a_tie_names_every_tied_emotion_and_gets_fractional_credit():
    clips = votes_frame([("t", "ANG", {"ANG": 3, "NEU": 3, "SAD": 1}), ("u", "SAD", {"SAD": 4})])
    votes = plurality_vote(clips)
    assert votes.to_dict() == {"t": "ANG/NEU", "u": "SAD"}  # SAD has fewer votes and is not tied
    scores = crowd_scores(clips)
    assert scores["accuracy"] == pytest.approx(0.75)  # half of a tied clip right, on average
    assert scores["confusion"].loc["ANG", "NEU"] == pytest.approx(0.5)
    assert scores["ties"] == pytest.approx(0.5)


def test_hit_rate_is_the_share_of_raters_choosing_the_intended_emotion():
    clips = votes_frame([("a", "ANG", {"ANG": 1, "NEU": 3}), ("b", "ANG", {"ANG": 2, "SAD": 2}),
                         ("c", "SAD", {"SAD": 5})])
    table = hit_rate_table(clips)
    assert table.loc["ANG", "voice"] == pytest.approx((1 / 4 + 2 / 4) / 2)
    assert table.loc["SAD", "voice"] == pytest.approx(1.0)


def test_agreement_table_pools_modalities(crema_folder):
    clips = load_corpus(crema_folder).clips
    table = agreement_table(clips)
    assert list(table.index) == list(EMOTIONS)
    angry = clips[clips.emotion == "ANG"]
    expected = pd.concat([angry[f"{m}_agreement"] for m in ("voice", "face", "av")]).mean()
    assert table.loc["ANG", "pooled"] == pytest.approx(expected)
    assert table.loc["ANG", "clips"] == len(angry)


def test_truncate_is_not_rounding():
    assert truncate(0.6379265) == 0.637
    assert truncate(0.7928) == 0.792
    assert truncate(0.684) == 0.684
