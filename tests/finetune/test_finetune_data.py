import numpy as np
import pytest

from ser.learning.finetune.data import ClipCollator, ClipDataset, prepare_clips, random_crop, sample_clips


def test_sample_keeps_every_emotion(demo_corpus):
    clips = sample_clips(demo_corpus.clips, 48, seed=3)
    assert len(clips) == 48 and clips["emotion"].nunique() == 6
    assert sample_clips(demo_corpus.clips, None, seed=3) is demo_corpus.clips


def test_a_clip_that_does_not_decode_is_reported_and_left_out(demo_corpus, tmp_path):
    clips = sample_clips(demo_corpus.clips, 48, seed=3).copy()
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF" + bytes(range(256)) * 8)
    clips.loc[clips.index[0], "path"] = str(broken)
    parts = prepare_clips(clips, "actor", seed=3, max_seconds=1.0)
    assert [f["clip"] for f in parts.failed] == [clips.index[0]]
    assert "broken.wav" in parts.failed[0]["problem"]
    assert clips.index[0] not in parts.clips.index and len(parts.clips) == 47
    assert parts.clips["samples"].max() <= 16000
    sizes = parts.sizes()
    assert sizes["train"] + sizes["val"] + sizes["test"] == 47
    assert sizes["val_speakers"] >= 1 and sizes["test_speakers"] >= 1


def test_actor_split_keeps_speakers_apart(demo_corpus):
    parts = prepare_clips(sample_clips(demo_corpus.clips, 60, seed=3), "actor", seed=3, max_seconds=1.0)
    speakers = {name: set(parts.part(name)["speaker"]) for name in ("train", "val", "test")}
    assert not (speakers["train"] & speakers["test"]) and not (speakers["val"] & speakers["test"])


def test_training_crop_is_random_and_evaluation_crop_is_the_start(demo_corpus):
    import torch

    audio = np.arange(32000, dtype=np.float32)
    torch.manual_seed(0)
    starts = {int(random_crop(audio, 16000)[0]) for _ in range(20)}
    assert len(starts) > 1 and all(len(random_crop(audio, 16000)) == 16000 for _ in range(5))
    assert random_crop(audio[:100], 16000).size == 100
    clips = prepare_clips(sample_clips(demo_corpus.clips, 48, seed=3), "report", 3, max_seconds=0.5).part("val")
    item = ClipDataset(clips, ["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"], 0.5, train=False)[0]
    assert item["input_values"].size == 8000 and item["input_values"].dtype == np.float32
    assert ClipDataset(clips, ["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"], 0.5, train=False)[0]["input_values"] \
        .tolist() == item["input_values"].tolist()


@pytest.mark.parametrize("mask", [False, True])
def test_collator_normalises_each_clip_and_pads(mask):
    from transformers import Wav2Vec2FeatureExtractor

    extractor = Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=mask)
    rng = np.random.default_rng(0)
    items = [{"input_values": (3 + rng.standard_normal(n)).astype(np.float32), "labels": i}
             for i, n in enumerate((1600, 800))]
    batch = ClipCollator(extractor, pad_to_multiple_of=None)(items)
    assert tuple(batch["input_values"].shape) == (2, 1600)
    assert batch["labels"].tolist() == [0, 1]
    short = batch["input_values"][1].numpy()
    assert abs(short[:800].mean()) < 1e-3 and abs(short[:800].std() - 1) < 1e-2  # normalised before padding
    assert not short[800:].any()
    assert ("attention_mask" in batch) == mask
    if mask:
        assert batch["attention_mask"].sum(dim=1).tolist() == [1600, 800]


def test_batches_are_padded_to_a_quarter_second_so_that_shapes_repeat():
    """Batches of different longest clips within one 0.25 s bucket get one shape (a GPU builds one cuDNN
    plan per shape); the padding is zeros after each clip and masked where the model takes a mask."""
    from transformers import Wav2Vec2FeatureExtractor

    extractor = Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=True)
    rng = np.random.default_rng(1)
    shapes = set()
    for longest in (36100, 37000, 39990):  # 2.26-2.50 s: one bucket
        items = [{"input_values": rng.standard_normal(n).astype(np.float32), "labels": 0} for n in (longest, 20000)]
        batch = ClipCollator(extractor)(items)
        shapes.add(tuple(batch["input_values"].shape))
        assert batch["attention_mask"].sum(dim=1).tolist() == [longest, 20000]
        assert not batch["input_values"][0, longest:].any()
    assert shapes == {(2, 40000)}
    assert tuple(ClipCollator(extractor)([{"input_values": np.ones(40001, np.float32), "labels": 0}])
                 ["input_values"].shape) == (1, 44000)
