"""Trainer setup: the training arguments a spec stands for, and a Trainer whose samplers know the clips.

Imported only inside functions (it imports transformers and torch at once)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import SequentialSampler
from transformers import EarlyStoppingCallback, Trainer, TrainingArguments
from transformers.trainer_callback import PrinterCallback, ProgressCallback
from transformers.trainer_pt_utils import LengthGroupedSampler

from .data import ClipCollator, ClipDataset
from .spec import SCHEDULERS, FinetuneSpec

# ReduceLROnPlateau on validation macro-F1: divide the rate by 10 after one epoch without improvement,
# so that it acts before early stopping (patience 3 by default) ends the run.
PLATEAU = {"mode": "max", "factor": 0.1, "patience": 1}


class ClipTrainer(Trainer):
    """Hugging Face's Trainer with two sampler changes (transformers 5.x):

    - length-grouped training batches use the clip lengths measured when the clips were checked; the stock
      ``LengthGroupedSampler`` would decode every clip once more to measure it. Its shuffling draws from
      its own generator seeded with the spec's seed, so that under torchrun every rank orders the clips
      alike and takes its own share of the batches (the global generator drifts apart between ranks, whose
      random crops differ, and accelerate synchronises only samplers it knows);
    - evaluation and prediction go through the dataset in order: with ``train_sampling_strategy=
      "group_by_length"`` the stock Trainer groups evaluation batches by length too, which reorders the
      predictions against the clips (our evaluation sets are already sorted by length)."""

    def _get_train_sampler(self, train_dataset=None):
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        if self.args.train_sampling_strategy == "group_by_length" and hasattr(dataset, "lengths"):
            generator = torch.Generator()
            generator.manual_seed(self.args.seed)
            return LengthGroupedSampler(self.args.train_batch_size * self.args.gradient_accumulation_steps,
                                        lengths=dataset.lengths, generator=generator)
        return super()._get_train_sampler(train_dataset)

    def _get_eval_sampler(self, eval_dataset):
        if self.args.world_size > 1:
            return None  # accelerate shards the batches
        return SequentialSampler(eval_dataset)


def device_info() -> dict:
    """The device training runs on and its precision, for run.json."""
    if torch.cuda.is_available():
        return {"device": "cuda", "name": torch.cuda.get_device_name(0), "gpus": torch.cuda.device_count(),
                "precision": "bf16" if torch.cuda.is_bf16_supported() else "fp16"}
    return {"device": "cpu", "name": "cpu", "threads": torch.get_num_threads(), "precision": "fp32"}


def training_arguments(spec: FinetuneSpec, output_dir: Path, train_clips: int) -> TrainingArguments:
    """The spec as TrainingArguments: evaluate and save every epoch, keep the best by validation macro-F1;
    on CUDA bf16 (fp16 where bf16 is missing), length-grouped batches everywhere."""
    cuda = torch.cuda.is_available()
    precision = device_info()["precision"]
    steps_per_epoch = max(1, math.ceil(math.ceil(train_clips / spec.batch_size) / spec.grad_accum))
    workers = spec.num_workers if spec.num_workers is not None else (min(4, os.cpu_count() or 1) if cuda else 0)
    return TrainingArguments(
        output_dir=str(output_dir), seed=spec.seed, use_cpu=not cuda, report_to="none", disable_tqdm=True,
        num_train_epochs=spec.epochs, learning_rate=spec.learning_rate,
        per_device_train_batch_size=spec.batch_size, per_device_eval_batch_size=spec.batch_size * 2,
        gradient_accumulation_steps=spec.grad_accum,
        lr_scheduler_type=SCHEDULERS[spec.scheduler], warmup_steps=spec.warmup_ratio,  # a float < 1 is a ratio
        lr_scheduler_kwargs=PLATEAU if spec.scheduler == "plateau" else None,
        eval_strategy="epoch", save_strategy="epoch", save_total_limit=2,
        load_best_model_at_end=True, metric_for_best_model="macro_f1", greater_is_better=True,
        logging_strategy="steps", logging_steps=max(1, min(25, steps_per_epoch // 5)),
        bf16=precision == "bf16", fp16=precision == "fp16",
        train_sampling_strategy="group_by_length",  # 5.x's replacement of group_by_length=True
        dataloader_num_workers=workers, dataloader_persistent_workers=workers > 0, dataloader_pin_memory=cuda,
        label_names=["labels"])


def validation_metrics(prediction) -> dict:
    """macro-F1 (the metric that picks the best epoch), UAR and accuracy, by ``ser.metrics`` (the same
    definitions as every page), over the model's label indices."""
    from ...metrics import headline

    logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
    logits = np.asarray(logits)
    y_pred, y_true = logits.argmax(-1), np.asarray(prediction.label_ids)
    classes = [str(i) for i in range(logits.shape[-1])]
    return headline(y_true.astype(str), y_pred.astype(str), classes)


def make_trainer(spec: FinetuneSpec, output_dir: Path, model, extractor, train: ClipDataset, val: ClipDataset,
                 callbacks: list) -> ClipTrainer:
    if spec.patience > 0:
        callbacks = [*callbacks, EarlyStoppingCallback(early_stopping_patience=spec.patience)]
    trainer = ClipTrainer(model=model, args=training_arguments(spec, output_dir, len(train)),
                          data_collator=ClipCollator(extractor), train_dataset=train, eval_dataset=val,
                          processing_class=extractor, compute_metrics=validation_metrics, callbacks=callbacks)
    for printer in (PrinterCallback, ProgressCallback):  # progress goes to run.json; stdout stays clean
        trainer.remove_callback(printer)
    return trainer
