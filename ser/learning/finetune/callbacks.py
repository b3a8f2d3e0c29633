"""The Trainer callback that turns training into run progress: step, epoch, loss, learning rate, validation
macro-F1 per epoch (``history``), seconds per epoch and ETA, written into run.json at most every few
seconds; and the cancel check, which stops training at the next optimizer step."""

from __future__ import annotations

import time
from typing import Callable

from transformers import TrainerCallback

from ...progress import Progress
from ...runs import Run, update_run


class RunProgress(TrainerCallback):
    def __init__(self, run: Run, progress: Progress | None = None, should_stop: Callable[[], bool] | None = None,
                 history: list[dict] | None = None, every: float = 2.0):
        self.run, self.progress, self.should_stop, self.every = run, progress, should_stop, every
        self.history = list(history or [])
        self.cancelled = False
        self.loss = self.learning_rate = None
        self._losses: list[float] = []
        self._last_write = 0.0
        self._started = self._epoch_started = time.monotonic()
        self._first_step = 0

    def on_train_begin(self, args, state, control, **kwargs):
        self._started = self._epoch_started = time.monotonic()
        self._first_step = state.global_step
        self._write(args, state, force=True)

    def on_epoch_begin(self, args, state, control, **kwargs):
        self._epoch_started = time.monotonic()
        self._losses = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if "loss" in logs:
            self.loss = float(logs["loss"])
            self._losses.append(self.loss)
        if "learning_rate" in logs:
            self.learning_rate = float(logs["learning_rate"])

    def on_step_end(self, args, state, control, **kwargs):
        if self.should_stop is not None and self.should_stop():
            self.cancelled = True
            control.should_training_stop = True
        self._write(args, state)

    def on_epoch_end(self, args, state, control, **kwargs):
        if self.cancelled:  # keep where we are (a checkpoint to resume from), skip the evaluation
            control.should_evaluate = False
            control.should_save = True

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        metrics = metrics or {}
        self.history.append({
            "epoch": round(float(state.epoch or 0), 3), "step": state.global_step,
            "train_loss": _mean(self._losses) if self._losses else self.loss,
            "val_loss": metrics.get("eval_loss"), "val_macro_f1": metrics.get("eval_macro_f1"),
            "val_uar": metrics.get("eval_uar"), "val_accuracy": metrics.get("eval_accuracy"),
            "learning_rate": self.learning_rate, "seconds": round(time.monotonic() - self._epoch_started, 2)})
        self._write(args, state, force=True)

    def on_train_end(self, args, state, control, **kwargs):
        self._write(args, state, force=True)

    def _write(self, args, state, force: bool = False) -> None:
        now = time.monotonic()
        if not state.is_world_process_zero or (not force and now - self._last_write < self.every):
            return
        self._last_write = now
        info = self._progress(args, state, now)
        update_run(self.run, progress=info, history=self.history)
        if self.progress is not None:
            self.progress(info["done"], info["total"], info["message"])

    def _progress(self, args, state, now: float) -> dict:
        step, total = state.global_step, state.max_steps
        done = step - self._first_step
        eta = (now - self._started) / done * max(total - step, 0) if done > 0 else None
        epochs = float(args.num_train_epochs)
        per_epoch = [h["seconds"] for h in self.history if h.get("seconds") is not None]
        message = f"epoch {float(state.epoch or 0):.2f}/{epochs:g} · step {step}/{total}"
        if self.loss is not None:
            message += f" · loss {self.loss:.3f}"
        if self.history and self.history[-1].get("val_macro_f1") is not None:
            message += f" · val macro-F1 {self.history[-1]['val_macro_f1']:.3f}"
        return {"done": step, "total": total, "message": message, "step": step, "total_steps": total,
                "epoch": round(float(state.epoch or 0), 3), "epochs": epochs, "loss": self.loss,
                "learning_rate": self.learning_rate,
                "seconds_per_epoch": round(_mean(per_epoch), 2) if per_epoch else None,
                "eta_s": round(eta, 1) if eta is not None else None, "cancelling": self.cancelled}


def _mean(values: list[float]) -> float:
    return float(sum(values) / len(values))
