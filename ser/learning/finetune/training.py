"""Fine-tune a wav2vec2 checkpoint on a corpus (RQ3) with Hugging Face's Trainer: frozen feature encoder,
evaluation and a checkpoint every epoch, early stopping on validation macro-F1, the best epoch kept.
The result is a run like a baseline's: run.json (history, metrics on the test split), predictions for
the validation and test clips, and the model (safetensors) with its feature extractor in ``model/``.

Under torchrun (a job asking for several GPUs, see ``distributed``) every rank runs ``run_finetune``: all
train, evaluate and predict together; only rank 0 writes the run's files, and the others keep the same
state in memory (``distributed.record``)."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from ...data.corpus import Corpus
from ...errors import ConfigError, SerError
from ...labels import emotion_order
from ...metrics import classification_metrics
from ...progress import Progress
from ...runs import Run, corpus_record, create_run, prediction_frame, update_run, write_predictions
from . import distributed
from .distributed import record
from .data import ClipDataset, ClipParts, prepare_clips, sample_clips
from .spec import FinetuneSpec

KIND = "wav2vec2"


def start_finetune(spec: FinetuneSpec, corpus: Corpus, parent: str | None = None) -> Run:
    """Create the run folder (status queued) for a job to fill."""
    spec.validate()
    run = create_run(KIND, spec.to_dict(), corpus_record(corpus))
    return update_run(run, parent=parent) if parent else run


def run_finetune(spec: FinetuneSpec, corpus: Corpus, run: Run | None = None, progress: Progress | None = None,
                 should_stop: Callable[[], bool] | None = None, resume: bool = False) -> Run:
    """Train, evaluate and save, all written into the run. ``resume`` continues from the run's latest
    checkpoint (a run whose worker died or that was cancelled). Cancelled: status "cancelled", the
    checkpoints kept. Failed: status "failed" with the error, then the error is raised."""
    spec.validate()
    distributed.join()
    should_stop = distributed.agreed(should_stop)
    run = run or distributed.created_on_main(lambda: start_finetune(spec, corpus))
    if resume and run.status == "finished":
        raise ConfigError(f"run {run.run_id} has finished; there is nothing to resume.", title="Nothing to resume")
    started = time.perf_counter()
    record(run, status="running", spec=spec.to_dict(), error=None, started=_now())
    try:
        result = _fine_tune(spec, corpus, run, progress, should_stop, resume)
    except Exception as exc:
        lost = distributed.lost_peer(exc)  # another rank died: torchrun normally ends this one meanwhile
        record(run, status="failed", error=error_text(lost or exc, spec))
        if lost:
            raise lost from exc
        raise
    if result is None:
        return record(run, status="cancelled", error="cancelled by request; the last checkpoint is kept "
                      "(resume continues from it)", seconds=round(time.perf_counter() - started, 2))
    return record(run, status="finished", seconds=round(time.perf_counter() - started, 2), finished=_now(), **result)


def _fine_tune(spec, corpus, run, progress, should_stop, resume) -> dict | None:
    from .callbacks import RunProgress
    from .trainer import device_info, make_trainer

    labels = emotion_order(corpus.clips["emotion"].dropna())
    _report(run, progress, "checking the clips")
    parts = prepare_clips(sample_clips(corpus.clips, spec.max_clips, spec.seed), spec.split, spec.seed,
                          spec.max_seconds)
    record(run, labels=labels, failed_clips=parts.failed, split_info=parts.sizes(),
           device={**device_info(), "processes": distributed.world_size()})
    _report(run, progress, f"loading {spec.model}")
    model, extractor = _load(spec, labels)
    if not resume and distributed.is_main_process():  # a fresh start never mixes with an earlier attempt's
        shutil.rmtree(checkpoints_dir(run), ignore_errors=True)  # checkpoints
    distributed.barrier()  # every rank sees the same checkpoints
    checkpoint = latest_checkpoint(run) if resume else None
    tracker = RunProgress(run, progress, should_stop, history=_history_until(run, checkpoint) if resume else [])
    record(run, resumed_from=checkpoint.name if checkpoint else None, history=tracker.history)
    trainer = make_trainer(spec, checkpoints_dir(run), model, extractor, _dataset(parts, "train", labels, spec),
                           _dataset(parts, "val", labels, spec), [tracker])
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    if tracker.cancelled:
        return None
    _report(run, progress, "predicting the training, validation and test clips")
    return _finish(run, trainer, parts, labels, spec)


def _load(spec: FinetuneSpec, labels: list[str]):
    from .model import load_model

    model, extractor = load_model(spec.model, labels)
    if spec.freeze_feature_encoder:
        if not hasattr(model, "freeze_feature_encoder"):
            raise ConfigError(f"{spec.model} ({type(model).__name__}) has no feature encoder to freeze; "
                              "set freeze_feature_encoder to false.")
        model.freeze_feature_encoder()
    return model, extractor


def _finish(run: Run, trainer, parts: ClipParts, labels: list[str], spec: FinetuneSpec) -> dict:
    """Predictions of every clip (train, val and test: the one predictions contract), metrics, the best
    model saved as safetensors; the checkpoints removed. Every rank predicts (its share of the batches,
    gathered in order); rank 0 writes."""
    frames = [_predict(trainer, parts, name, labels, spec) for name in ("train", "val", "test")]
    if distributed.is_main_process():
        predictions = write_predictions(run, frames)
        save_model(trainer, run.path / "model")
        shutil.rmtree(checkpoints_dir(run), ignore_errors=True)
    else:
        predictions = pd.concat(frames, ignore_index=True)
    test, val = (predictions[predictions["part"] == name] for name in ("test", "val"))
    metrics = classification_metrics(test["y_true"], test["y_pred"], labels=labels)
    val_metrics = classification_metrics(val["y_true"], val["y_pred"], labels=labels)
    state = trainer.state
    return {"metrics": metrics, "labels": labels,
            "val_metrics": {key: val_metrics[key] for key in ("accuracy", "macro_f1", "uar")},
            "best": {"step": state.best_global_step, "val_macro_f1": state.best_metric,
                     "epoch": _epoch_of(state.best_global_step, trainer.state.log_history)},
            "epochs_trained": round(float(state.epoch or 0), 3),
            "stopped_early": bool(state.global_step < state.max_steps)}


def save_model(trainer, folder: Path) -> None:
    """The model (safetensors) and its feature extractor, written into a temporary folder renamed into
    place: a job killed meanwhile leaves no half-written model."""
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        trainer.model.save_pretrained(tmp)
        trainer.processing_class.save_pretrained(tmp)
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _predict(trainer, parts: ClipParts, name: str, labels: list[str], spec: FinetuneSpec) -> pd.DataFrame:
    """The clips of one part through the best model, in order (training clips too, without the random
    crop that training uses, so their predictions are what the model says of the whole clip). The labels
    that come back are checked against the clips', so predictions never land on the wrong clip."""
    rows = parts.part(name)
    dataset = _dataset(parts, name, labels, spec, augment=False)
    output = trainer.predict(dataset)
    if not np.array_equal(np.asarray(output.label_ids).reshape(-1), np.asarray(dataset.targets)):
        raise SerError(f"the predictions of the {name} clips came back in another order than the clips "
                       f"({len(dataset)} clips, {distributed.world_size()} process(es)); nothing was written.",
                       title="Predictions out of order")
    logits = output.predictions
    logits = np.asarray(logits[0] if isinstance(logits, tuple) else logits, dtype=np.float64)
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    return prediction_frame(rows, name, np.asarray(labels)[probabilities.argmax(axis=1)], probabilities, labels)


def _dataset(parts: ClipParts, name: str, labels: list[str], spec: FinetuneSpec, augment: bool = True) -> ClipDataset:
    return ClipDataset(parts.part(name), labels, spec.max_seconds, train=augment and name == "train")


# ---------------------------------------------------------------- checkpoints

def checkpoints_dir(run: Run) -> Path:
    return run.path / "checkpoints"


def latest_checkpoint(run: Run) -> Path | None:
    """The run's newest complete ``checkpoint-<step>`` folder, or None."""
    folder = checkpoints_dir(run)
    found = [p for p in folder.glob("checkpoint-*") if p.name.split("-")[-1].isdigit()
             and _readable_state(p)] if folder.exists() else []
    return max(found, key=lambda p: int(p.name.split("-")[-1])) if found else None


def _readable_state(checkpoint: Path) -> bool:
    """Whether the checkpoint got as far as its trainer_state.json, which Trainer writes after the model,
    the optimizer and the random states (a checkpoint cut short by a kill has none, or half of one)."""
    try:
        json.loads((checkpoint / "trainer_state.json").read_text())
    except (OSError, ValueError):
        return False
    return True


def _history_until(run: Run, checkpoint: Path | None) -> list[dict]:
    """The history of the epochs a resumed run keeps: those up to the checkpoint it resumes from."""
    if checkpoint is None:
        return []
    step = json.loads((checkpoint / "trainer_state.json").read_text()).get("global_step", 0)
    return [entry for entry in run.info.get("history") or [] if entry.get("step", 0) <= step]


def _epoch_of(step: int | None, log_history: list[dict]) -> float | None:
    for entry in log_history:
        if step is not None and entry.get("step") == step and "eval_macro_f1" in entry:
            return round(float(entry["epoch"]), 3)
    return None


def _report(run: Run, progress: Progress | None, message: str) -> None:
    """A stage without steps; the training figures already in ``progress`` stay."""
    current = {"done": 0, "total": 0, **(run.info.get("progress") or {})}
    record(run, progress={**current, "message": message})
    if progress is not None and distributed.is_main_process():
        progress(current["done"], current["total"], message)


def error_text(exc: Exception, spec: FinetuneSpec | None = None) -> str:
    """What run.json says about a failure: the title and detail of a SerError, what to do when the GPU ran
    out of memory, else the exception."""
    if isinstance(exc, SerError):
        return str(exc)
    if type(exc).__name__ == "OutOfMemoryError" and spec is not None:  # torch.cuda.OutOfMemoryError
        smaller = max(1, spec.batch_size // 4)
        return (f"the GPU ran out of memory with batches of {spec.batch_size} clips of up to {spec.max_seconds:g} s. "
                f"Lower the batch size and raise the gradient accumulation to keep the clips per step (e.g. "
                f"--batch-size {smaller} --grad-accum {spec.grad_accum * spec.batch_size // smaller}), or lower "
                f"the max clip length. ({str(exc).splitlines()[0] if str(exc) else 'CUDA out of memory'})")
    return f"{type(exc).__name__}: {exc}"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")
