"""Speech-encoder embeddings as feature sets (ser.learning.embeddings, ser.learning.encoder), driven by tiny
randomly initialised wav2vec2, HuBERT and WavLM models saved to folders (the stand-ins for real
checkpoints; no network) on a handful of demo clips."""

from __future__ import annotations

import json
import shutil
import struct
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ser.learning import embeddings
from ser.learning.embeddings import (Cancelled, EmbeddingSpec, EmbeddingStore, embedding_features,
                                     extract_embeddings, run_embedding_job)
from ser.learning.encoder import ModelUnavailable, load_encoder, model_identity

TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
            conv_dim=(32, 32, 32), conv_kernel=(10, 8, 4), conv_stride=(5, 4, 4),  # total stride 80
            num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4)
# transformers' WavLM hands torch a boolean padding mask beside its float position bias; torch warns
pytestmark = pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask and attn_mask")
LAYER_NORM = dict(feat_extract_norm="layer", do_stable_layer_norm=True)  # as large models; takes a mask


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)


def save_encoder(folder: Path, kind: str = "wav2vec2", seed: int = 0, mask: bool = False, **changes) -> Path:
    import torch
    from transformers import AutoModel, HubertConfig, Wav2Vec2Config, Wav2Vec2FeatureExtractor, WavLMConfig

    config = {"wav2vec2": Wav2Vec2Config, "hubert": HubertConfig, "wavlm": WavLMConfig}[kind](**{**TINY, **changes})
    torch.manual_seed(seed)
    AutoModel.from_config(config).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True,
                             return_attention_mask=mask).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def encoders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("encoders")
    return {kind: save_encoder(root / kind, kind) for kind in ("wav2vec2", "hubert", "wavlm")}


@pytest.fixture(scope="session")
def layer_norm_encoders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("layer-norm-encoders")
    return {kind: save_encoder(root / kind, kind, mask=True, **LAYER_NORM) for kind in ("wav2vec2", "hubert", "wavlm")}


@pytest.fixture(scope="session")
def clips_corpus(small_demo):
    """Ten demo clips of two actors."""
    from ser.data.corpus import load_corpus

    corpus = load_corpus(small_demo)
    keep = corpus.clips.index[:10]
    return replace(corpus, clips=corpus.clips.loc[keep], files=corpus.files.loc[keep])


def test_every_hidden_state_of_each_model_is_stored_per_layer(encoders, clips_corpus):
    for kind, folder in encoders.items():
        result = extract_embeddings(clips_corpus, str(folder))
        assert result.layers == [0, 1, 2], kind  # the embedding output + num_hidden_layers
        assert result.dim == 32 and result.clips == 10 and result.failed == [] and not result.cached
        summary = result.summary()
        assert summary["layers"] == 3 and summary["model"] == str(folder)
        store = EmbeddingStore(result.identity)
        assert sorted(p.name for p in store.folder.glob("layer-*.parquet")) == \
            ["layer-00.parquet", "layer-01.parquet", "layer-02.parquet"]
        assert not store.chunks()  # merged when the corpus is done
        table = embedding_features(clips_corpus, f"ssl:{folder}:2").table
        assert table.shape == (10, 32) and list(table.index) == list(clips_corpus.clips.index)
        assert np.isfinite(table.to_numpy()).all() and table.dtypes.eq(np.float32).all()


@pytest.mark.parametrize("norm", ["group", "layer"])
def test_a_stored_vector_is_the_mean_over_the_clips_frames(encoders, layer_norm_encoders, clips_corpus, norm):
    """The stored vector (computed in a batch of clips of other lengths) is the mean of the hidden state's
    frames of a plain forward of the clip alone."""
    import torch
    from transformers import AutoFeatureExtractor, AutoModel

    folder = (encoders if norm == "group" else layer_norm_encoders)["wav2vec2"]
    clip = clips_corpus.clips.index[3]
    table = embedding_features(clips_corpus, f"ssl:{folder}:1").table
    from ser.data.audio import load_audio

    model = AutoModel.from_pretrained(folder).eval()
    inputs = AutoFeatureExtractor.from_pretrained(folder)(load_audio(clips_corpus.files.loc[clip, "path"]),
                                                          sampling_rate=16000, return_tensors="pt")
    with torch.no_grad():
        expected = model(**inputs, output_hidden_states=True).hidden_states[1][0].mean(0).numpy()
    np.testing.assert_allclose(table.loc[clip].to_numpy(), expected, rtol=1e-4, atol=1e-5)


def test_second_call_reads_the_cache_without_a_forward(encoders, clips_corpus, monkeypatch):
    encoder = load_encoder(str(encoders["hubert"]))
    first = extract_embeddings(clips_corpus, str(encoders["hubert"]), encoder=encoder)
    assert encoder.forwards > 0 and first.computed == 10
    forwards = encoder.forwards
    again = extract_embeddings(clips_corpus, str(encoders["hubert"]), encoder=encoder)
    assert encoder.forwards == forwards and again.cached and again.computed == 0
    monkeypatch.setattr(embeddings, "load_encoder", lambda *a, **k: pytest.fail("the model was loaded"))
    table = embedding_features(clips_corpus, f"ssl:{encoders['hubert']}:0")
    assert table.cached and table.table.shape == (10, 32)


def _two_clips():
    rng = np.random.default_rng(1)
    return rng.standard_normal(16000).astype(np.float32) * 0.1, rng.standard_normal(48000).astype(np.float32) * 0.1


@pytest.mark.parametrize("norm", ["group", "layer"])
@pytest.mark.parametrize("kind", ["wav2vec2", "hubert", "wavlm"])
def test_a_clips_vector_does_not_change_when_batched_with_a_longer_clip(encoders, layer_norm_encoders, kind, norm):
    """Layer-normalised models take the attention mask; group-normalised ones (base models) have their first
    convolution's normalisation made per clip. Either way, padding does not move a clip's vector."""
    folder = (encoders if norm == "group" else layer_norm_encoders)[kind]
    encoder = load_encoder(str(folder), device="cpu")
    assert encoder.takes_mask and (encoder.padding_free_norm is not None) == (norm == "group")
    short, long = _two_clips()
    alone = encoder.embed_batch([short])[0]
    batched = encoder.embed_batch([short, long])
    np.testing.assert_allclose(batched[0], alone, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(batched[1], encoder.embed_batch([long])[0], rtol=1e-3, atol=1e-4)


def test_batches_running_at_once_give_the_same_vectors(encoders, clips_corpus):
    """On the CPU several batches run at once (threads): each clip keeps its own padding-free normalisation."""
    from ser.data.audio import load_audio

    clips = [load_audio(p) for p in clips_corpus.files["path"]]
    encoder = load_encoder(str(encoders["wav2vec2"]), device="cpu", batch_seconds=6.0)
    encoder.workers = 1
    one_at_a_time = encoder.embed(clips)
    encoder.workers = 3
    forwards = encoder.forwards
    at_once = encoder.embed(clips)
    assert encoder.forwards - forwards == len(encoder.batches([c.size for c in clips])) > 3
    np.testing.assert_allclose(at_once, one_at_a_time, rtol=1e-4, atol=1e-5)


def test_batches_group_clips_by_duration_within_the_budget(encoders):
    encoder = load_encoder(str(encoders["wav2vec2"]), device="cpu", batch_seconds=6.0)
    lengths = [48000, 16000, 32000, 16000, 80000, 17000]
    batches = encoder.batches(lengths)
    assert sorted(i for b in batches for i in b) == list(range(6))
    assert [lengths[i] for b in batches for i in b] == sorted(lengths)  # in order of duration
    for batch in batches:
        assert len(batch) == 1 or max(lengths[i] for i in batch) * len(batch) <= 6.0 * 16000
    assert batches[-1] == [4]  # longer than the budget: alone


def test_resume_after_an_interruption_computes_only_what_is_missing(encoders, clips_corpus):
    folder = str(encoders["wavlm"])
    encoder = load_encoder(folder, batch_seconds=3.0)
    encoder.workers = 1  # one batch at a time: the stop comes between two batches, none in flight
    seen = []
    encoder._forward = _counting(encoder._forward, seen)
    calls = {"n": 0}

    def stop_after_three_batches():
        calls["n"] += 1
        return calls["n"] > 3

    with pytest.raises(Cancelled):
        extract_embeddings(clips_corpus, folder, encoder=encoder, chunk_clips=4, should_stop=stop_after_three_batches)
    first = len(seen)
    assert 0 < first < 10
    store = EmbeddingStore(encoder.identity)
    assert len(store.stored_keys([0, 1, 2])) == first  # finished work kept, also of the chunk that was stopped
    (store.pending / ".half-written").mkdir()  # a crash in the middle of writing a chunk
    result = extract_embeddings(clips_corpus, folder, encoder=encoder, chunk_clips=4)
    assert len(seen) == 10 and result.computed == 10 - first and result.clips == 10
    assert sorted(map(tuple, seen)) == sorted({tuple(s) for s in seen})  # no clip twice
    assert not store.pending.exists() or not any(store.pending.iterdir())


def _counting(forward, seen):
    def wrapped(clips):
        seen.extend([c.size, float(c[:50].sum())] for c in clips)
        return forward(clips)
    return wrapped


def test_the_models_identity_is_in_the_key(encoders, clips_corpus, tmp_path):
    other = save_encoder(tmp_path / "other", "wav2vec2", seed=1)
    copy = tmp_path / "copy"
    shutil.copytree(encoders["wav2vec2"], copy)
    a, b, c = (extract_embeddings(clips_corpus, str(f), layers="1") for f in (encoders["wav2vec2"], other, copy))
    assert a.identity.revision != b.identity.revision
    assert EmbeddingStore(a.identity).folder != EmbeddingStore(b.identity).folder
    assert not b.cached  # different weights: computed again
    assert c.cached and c.identity.revision == a.identity.revision  # the same files, wherever they are
    table_a = embedding_features(clips_corpus, f"ssl:{encoders['wav2vec2']}:1").table
    table_b = embedding_features(clips_corpus, f"ssl:{other}:1").table
    assert not np.allclose(table_a.to_numpy(), table_b.to_numpy())


def test_a_hub_id_that_cannot_be_had_says_what_to_do(clips_corpus):
    with pytest.raises(ModelUnavailable) as error:
        extract_embeddings(clips_corpus, "facebook/no-such-model-here")
    assert "hf download facebook/no-such-model-here" in error.value.detail


def test_pickled_weights_are_not_loaded(encoders, tmp_path):
    folder = tmp_path / "pickled"
    shutil.copytree(encoders["wav2vec2"], folder)
    (folder / "model.safetensors").rename(folder / "pytorch_model.bin")
    with pytest.raises(ModelUnavailable) as error:
        model_identity(str(folder))
    assert "safetensors" in error.value.detail


def _write_wav(path: Path, samples: np.ndarray) -> None:
    """A 32-bit float WAV (format 3), mono, 16 kHz."""
    data = samples.astype("<f4").tobytes()
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + \
        struct.pack("<IHHIIHH", 16, 3, 1, 16000, 64000, 4, 32) + b"data" + struct.pack("<I", len(data))
    path.write_bytes(header + data)


@pytest.fixture
def manifest_with_broken_clips(clips_corpus, tmp_path) -> Path:
    rows = [f"{clips_corpus.files.loc[c, 'path']},{clips_corpus.clips.loc[c, 'emotion']},"
            f"{clips_corpus.clips.loc[c, 'speaker']}" for c in clips_corpus.clips.index[:6]]
    _write_wav(tmp_path / "too_short.wav", np.zeros(40, dtype=np.float32))
    _write_wav(tmp_path / "not_finite.wav", np.full(16000, np.nan, dtype=np.float32))
    rows += [f"{tmp_path / 'too_short.wav'},ANG,x", f"{tmp_path / 'not_finite.wav'},SAD,x"]
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("path,emotion,speaker\n" + "\n".join(rows) + "\n")
    return manifest


def test_a_broken_clip_is_recorded_and_never_stops_the_corpus(encoders, manifest_with_broken_clips):
    from ser.data.corpus import load_corpus

    corpus = load_corpus(manifest_with_broken_clips)
    assert len(corpus.files) == 8
    result = extract_embeddings(corpus, str(encoders["wav2vec2"]))
    assert result.clips == 6
    problems = {p.clip: p.problem for p in result.failed}
    assert set(problems) == {"too_short", "not_finite"}
    assert "too_short.wav" in problems["too_short"] and "shorter" in problems["too_short"]
    assert "not_finite.wav" in problems["not_finite"]
    table = embedding_features(corpus, f"ssl:{encoders['wav2vec2']}:2")
    assert len(table.table) == 6 and {p.clip for p in table.failed} == {"too_short", "not_finite"}


def test_a_failing_forward_is_retried_clip_by_clip(encoders, clips_corpus):
    encoder = load_encoder(str(encoders["hubert"]), batch_seconds=60.0)
    bad = clips_corpus.files.loc[clips_corpus.clips.index[2], "path"]
    from ser.data.audio import load_audio

    bad_size = load_audio(bad).size
    forward = encoder._forward

    def fails_on_one(clips):
        if any(c.size == bad_size for c in clips):
            raise RuntimeError("boom")
        return forward(clips)

    encoder._forward = fails_on_one
    result = extract_embeddings(clips_corpus, str(encoders["hubert"]), encoder=encoder)
    assert [p.clip for p in result.failed] == [clips_corpus.clips.index[2]]
    assert "RuntimeError: boom" in result.failed[0].problem and result.clips == 9


def test_layers_can_be_chosen_and_are_checked(encoders, clips_corpus):
    from ser.errors import FeatureError

    folder = str(encoders["wavlm"])
    assert extract_embeddings(clips_corpus, folder, layers="1").summary()["layers"] == 1
    assert extract_embeddings(clips_corpus, folder, layers="0,2").layers == [0, 2]
    with pytest.raises(FeatureError, match="hidden states 0-2"):
        extract_embeddings(clips_corpus, folder, layers="7")
    with pytest.raises(FeatureError, match="ssl:MODEL:LAYER"):
        embedding_features(clips_corpus, f"ssl:{folder}")


def test_a_layer_is_a_feature_set_for_new_clips(layer_norm_encoders, clips_corpus):
    from ser.data.audio import load_audio
    from ser.learning.features import extract_features, get_feature_set

    name = f"ssl:{layer_norm_encoders['wav2vec2']}:2"
    table = extract_features(clips_corpus, name).table
    feature_set = get_feature_set(name)
    clip = clips_corpus.clips.index[0]
    vector = feature_set.compute(load_audio(clips_corpus.files.loc[clip, "path"]))
    np.testing.assert_allclose(vector, table.loc[clip].to_numpy(), rtol=1e-4, atol=1e-5)
    assert feature_set.columns() == list(table.columns) and not feature_set.native_rate


def test_the_job_records_progress_and_its_summary(encoders, clips_corpus):
    from ser.runs import load_run

    spec = EmbeddingSpec(model=str(encoders["wav2vec2"]), layers="all")
    messages = []
    run = run_embedding_job(spec, clips_corpus, progress=lambda d, t, m: messages.append((d, t, m)))
    run = load_run(run.run_id)
    assert run.status == "finished" and run.kind == "embeddings"
    assert run.info["embeddings"]["layers"] == 3 and run.info["embeddings"]["clips"] == 10
    assert run.info["progress"]["done"] == 10 and messages[-1][0] == 10 and run.info["progress"]["eta_s"] == 0
    assert all("elapsed" in m for _, _, m in messages)  # with the phase clock: elapsed, and the time left
    assert EmbeddingSpec.from_dict(json.loads(json.dumps(run.info["spec"]))) == spec
    stopped = run_embedding_job(replace(spec, model=str(encoders["hubert"])), clips_corpus, should_stop=lambda: True)
    assert load_run(stopped.run_id).status == "cancelled"


needs_cpu_bf16 = pytest.mark.skipif(not __import__("ser.learning.encoder", fromlist=["x"]).cpu_has_bf16(),
                                    reason="this CPU has no bf16 instructions (avx512_bf16 or AMX)")


@needs_cpu_bf16
def test_bf16_on_the_cpu_is_stored_apart_and_agrees_with_float32(encoders, clips_corpus):
    folder = str(encoders["wav2vec2"])
    bf16 = extract_embeddings(clips_corpus, folder, precision="bfloat16")
    assert bf16.dtype == "bfloat16" and bf16.precision == "bfloat16 autocast" and bf16.computed == 10
    store = EmbeddingStore(bf16.identity, "bfloat16")
    assert store.folder.name.endswith("-bf16") and store.folder != EmbeddingStore(bf16.identity).folder
    assert json.loads((store.folder / "model.json").read_text())["precision"] == "bfloat16 autocast"
    again = extract_embeddings(clips_corpus, folder)  # auto: a store of any precision holding every file is read
    assert again.cached and again.dtype == "bfloat16"
    fp32 = extract_embeddings(clips_corpus, folder, precision="float32")  # asked for: computed in its own store
    assert fp32.computed == 10 and fp32.dtype == "float32" and fp32.precision == "float32"
    a = EmbeddingStore(fp32.identity).read_layer(2)[embeddings.columns(32)].to_numpy()
    b = store.read_layer(2).reindex(EmbeddingStore(fp32.identity).read_layer(2).index)[embeddings.columns(32)]
    b = b.to_numpy()
    cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cosine.min() > 0.99  # close to float32...
    assert np.abs(a - b).max() > 1e-3 * np.abs(a).max()  # ...but bf16 really ran (batching alone moves ~1e-6)


def test_bf16_is_refused_on_a_cpu_without_it(encoders, monkeypatch):
    from ser.errors import SerError
    from ser.learning import encoder as encoder_module

    monkeypatch.setattr(encoder_module, "cpu_has_bf16", lambda: False)
    with pytest.raises(SerError, match="no bf16 instructions"):
        load_encoder(str(encoders["wav2vec2"]), device="cpu", precision="bfloat16")
    assert load_encoder(str(encoders["wav2vec2"]), device="cpu").dtype == "float32"  # auto on the CPU
    with pytest.raises(Exception, match="precision 'half'"):
        EmbeddingSpec(model="m", precision="half").validate()


@pytest.fixture(scope="session")
def tiny_whisper(tmp_path_factory) -> Path:
    import torch
    from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperModel

    folder = tmp_path_factory.mktemp("tiny-whisper")
    torch.manual_seed(0)
    WhisperModel(WhisperConfig(d_model=32, encoder_layers=2, decoder_layers=1, encoder_attention_heads=2,
                               decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64,
                               num_mel_bins=80)).save_pretrained(folder)
    WhisperFeatureExtractor(feature_size=80).save_pretrained(folder)
    return folder


def test_whispers_encoder_pools_only_the_frames_of_the_clip(tiny_whisper):
    """Whisper's input is padded to 30 s: only the encoder runs, and only the frames of the clip (two mel
    frames of 10 ms per encoder frame) are averaged."""
    import torch
    from transformers import AutoFeatureExtractor, AutoModel

    encoder = load_encoder(str(tiny_whisper), device="cpu")
    short, long = _two_clips()
    vectors = encoder.embed([long, short])
    assert vectors.shape == (2, 3, 32) and encoder.whisper and not encoder.takes_mask
    model = AutoModel.from_pretrained(tiny_whisper).get_encoder().eval()
    features = AutoFeatureExtractor.from_pretrained(tiny_whisper)(short, sampling_rate=16000, return_tensors="pt")
    with torch.no_grad():
        states = model(features["input_features"], output_hidden_states=True).hidden_states
    assert states[0].shape[1] == 1500  # 30 s
    frames = 50  # 1 s of audio: 100 mel frames, 50 encoder frames
    np.testing.assert_allclose(vectors[1], torch.stack([h[0, :frames].mean(0) for h in states]).numpy(),
                               rtol=1e-4, atol=1e-5)
    assert not np.allclose(vectors[1], torch.stack([h[0].mean(0) for h in states]).numpy(), atol=1e-3)
