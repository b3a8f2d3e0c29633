import numpy as np
import pytest

from ser.learning.finetune import ModelUnavailable, latest_checkpoint, run_finetune, start_finetune
from ser.runs import list_runs, load_run


def test_a_run_finishes_with_history_predictions_metrics_and_model(demo_corpus, tiny_spec):
    from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

    run = run_finetune(tiny_spec(epochs=2), demo_corpus)
    info = load_run(run.run_id).info
    assert info["kind"] == "wav2vec2" and info["status"] == "finished"
    assert [h["epoch"] for h in info["history"]] == [1.0, 2.0]
    assert all(0 <= h["val_macro_f1"] <= 1 and h["train_loss"] > 0 for h in info["history"])
    assert info["device"]["device"] == "cpu" and info["failed_clips"] == []
    assert set(info["metrics"]) >= {"accuracy", "macro_f1", "uar", "report", "confusion"}
    assert info["metrics"]["clips"] == info["split_info"]["test"]
    assert info["best"]["val_macro_f1"] == max(h["val_macro_f1"] for h in info["history"])
    assert info["progress"]["step"] == info["progress"]["total_steps"] > 0

    predictions = run.predictions()
    labels = ["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"]
    assert list(predictions.columns) == ["clip_id", "part", "y_true", "y_pred", *[f"prob_{e}" for e in labels]]
    test = predictions[predictions["part"] == "test"]
    assert len(test) == info["split_info"]["test"] and set(predictions["part"]) == {"train", "val", "test"}
    for part in ("train", "val"):  # every clip the run used, once, with its part
        assert (predictions["part"] == part).sum() == info["split_info"][part]
    assert predictions["clip_id"].is_unique
    probabilities = test[[f"prob_{e}" for e in labels]].to_numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    assert (test["y_pred"].to_numpy() == np.asarray(labels)[probabilities.argmax(axis=1)]).all()
    assert set(test["clip_id"]) <= set(demo_corpus.clips.index)

    folder = run.path / "model"
    assert (folder / "model.safetensors").exists() and not list(folder.glob("*.bin"))
    model = AutoModelForAudioClassification.from_pretrained(folder)
    assert model.config.id2label[0] == "ANG" and model.config.num_labels == 6
    assert AutoFeatureExtractor.from_pretrained(folder).sampling_rate == 16000
    assert not (run.path / "checkpoints").exists()


@pytest.mark.parametrize("scheduler", ["linear", "cosine", "plateau"])
def test_every_scheduler_runs(demo_corpus, tiny_spec, scheduler):
    run = run_finetune(tiny_spec(scheduler=scheduler, warmup_ratio=0.0), demo_corpus)
    assert run.status == "finished" and len(run.info["history"]) == 1
    if scheduler == "plateau":  # constant until validation macro-F1 stalls
        assert run.info["history"][0]["learning_rate"] == pytest.approx(1e-3)


def test_cancel_stops_at_the_next_step_and_keeps_a_checkpoint(demo_corpus, tiny_spec):
    run = run_finetune(tiny_spec(epochs=3), demo_corpus, should_stop=lambda: True)
    info = load_run(run.run_id).info
    assert info["status"] == "cancelled" and "checkpoint" in info["error"]
    assert latest_checkpoint(run).name == "checkpoint-1"
    assert info["progress"]["step"] == 1 and not (run.path / "model").exists()


def test_resume_continues_from_the_latest_checkpoint(demo_corpus, tiny_spec):
    spec = tiny_spec(epochs=2)
    run = start_finetune(spec, demo_corpus)
    run_finetune(spec, demo_corpus, run=run, should_stop=lambda: latest_checkpoint(run) is not None)
    first = load_run(run.run_id).info
    assert first["status"] == "cancelled" and [h["epoch"] for h in first["history"]] == [1.0]
    steps_per_epoch = first["history"][0]["step"]
    resumed_from = latest_checkpoint(run).name
    assert resumed_from == f"checkpoint-{steps_per_epoch + 1}"

    run = run_finetune(tiny_spec(epochs=3), demo_corpus, run=load_run(run.run_id), resume=True)
    info = load_run(run.run_id).info
    assert info["status"] == "finished" and info["resumed_from"] == resumed_from
    assert [h["epoch"] for h in info["history"]] == [1.0, 2.0, 3.0]
    assert [h["step"] for h in info["history"]] == [steps_per_epoch * k for k in (1, 2, 3)]
    assert info["history"][0] == first["history"][0]
    assert info["spec"]["epochs"] == 3 and (run.path / "model" / "model.safetensors").exists()


@pytest.mark.parametrize("model", ["nobody-here/wav2vec2-nothing", "{tmp}/no-such-folder"])
def test_an_unavailable_model_is_a_clear_error(demo_corpus, tiny_spec, tmp_path, model):
    model = model.format(tmp=tmp_path)
    with pytest.raises(ModelUnavailable) as error:
        run_finetune(tiny_spec(model=model), demo_corpus)
    assert error.value.title == "Model cannot be loaded"
    assert model in error.value.detail and "hf download" in error.value.detail
    assert "save_pretrained" in error.value.detail and "Traceback" not in error.value.detail
    failed = list_runs()
    assert len(failed) == 1 and failed[0].status == "failed" and model in failed[0].info["error"]


def test_a_gpu_out_of_memory_says_how_to_keep_the_clips_per_step():
    import torch

    from ser.learning.finetune import FinetuneSpec
    from ser.learning.finetune.training import error_text

    spec = FinetuneSpec(model="m", batch_size=32, grad_accum=1)
    text = error_text(torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"), spec)
    assert "ran out of memory with batches of 32 clips" in text
    assert "--batch-size 8 --grad-accum 4" in text and "Tried to allocate 2.00 GiB" in text
    assert error_text(ValueError("x"), spec) == "ValueError: x"
