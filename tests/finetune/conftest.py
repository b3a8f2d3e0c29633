"""Fixtures for the wav2vec2 tests: no network, a tiny randomly initialised wav2vec2 saved to a folder (the
stand-in for a real checkpoint) and the 6-actor demo corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
            conv_dim=(32, 32, 32), conv_kernel=(10, 8, 4), conv_stride=(5, 4, 4),  # total stride 80
            num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4, classifier_proj_size=32)


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """The hub is never asked: the environment variable for child processes, the constant for this one
    (huggingface_hub reads HF_HUB_OFFLINE once, at import)."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)


def save_tiny_model(folder: Path, attention_mask: bool = False) -> Path:
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2ForSequenceClassification

    torch.manual_seed(0)
    Wav2Vec2ForSequenceClassification(Wav2Vec2Config(**TINY)).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True,
                             return_attention_mask=attention_mask).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A folder like one written by save_pretrained: config.json, model.safetensors, preprocessor_config.json."""
    return save_tiny_model(tmp_path_factory.mktemp("tiny-wav2vec2"))


@pytest.fixture(scope="session")
def demo_corpus(small_demo):
    from ser.data.corpus import load_corpus

    return load_corpus(small_demo)


@pytest.fixture
def tiny_spec(tiny_model):
    """A spec that trains in a few seconds on 2 cores: 48 clips cropped to 1 s, batches of 8."""
    from ser.learning.finetune import FinetuneSpec

    def make(**changes):
        base = dict(model=str(tiny_model), epochs=1, batch_size=8, grad_accum=1, max_clips=48, max_seconds=1.0,
                    learning_rate=1e-3)
        return FinetuneSpec(**{**base, **changes})

    return make
