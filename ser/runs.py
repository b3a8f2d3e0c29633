"""The run registry on disk: ``cache/runs/<run_id>/`` with ``run.json``, ``predictions.parquet`` and
the model. Baselines and wav2vec2 runs are the same kind of object; every result view reads runs.

``run.json`` is written atomically (temporary file + rename), so a crash never leaves a finished
run half-written, and a run that finished is never overwritten by a later failure."""

from __future__ import annotations

import json
import logging
import re
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import config
from .errors import SerError
from .storage import atomic_write

log = logging.getLogger(__name__)

PARTS = ("train", "val", "test")  # the sides of a split; "split" names the scheme (actor, report, loso)
PREDICTION_COLUMNS = ["clip_id", "part", "y_true", "y_pred"]
STATES = ("queued", "running", "finished", "failed", "cancelled", "interrupted")
FINAL_STATES = ("finished", "failed", "cancelled")


class RunError(SerError):
    title = "Run not available"


@dataclass
class Run:
    run_id: str
    path: Path
    info: dict

    @property
    def kind(self) -> str:
        return self.info.get("kind", "?")

    @property
    def status(self) -> str:
        return self.info.get("status", "?")

    @property
    def metrics(self) -> dict:
        return self.info.get("metrics") or {}

    @property
    def predictions_path(self) -> Path:
        return self.path / "predictions.parquet"

    def predictions(self) -> pd.DataFrame:
        """``clip_id, part, y_true, y_pred, prob_<EMO>...``. Runs written before the column was named
        ``part`` called it ``split`` (with the same values); they are read the same way."""
        if not self.predictions_path.exists():
            raise RunError(f"run {self.run_id} has no predictions (status: {self.status}).")
        frame = pd.read_parquet(self.predictions_path)
        if "part" not in frame and "split" in frame:
            frame = frame.rename(columns={"split": "part"})
        missing = [c for c in PREDICTION_COLUMNS if c not in frame]
        if missing:
            raise RunError(f"run {self.run_id}: {self.predictions_path} lacks the column(s) {', '.join(missing)}; "
                           "it was not written by this workbench or is damaged. Delete the run and train it again.",
                           title="Unreadable predictions")
        return frame

    def parts(self) -> list[str]:
        """The parts the run has predictions for, test first."""
        return parts_of(self.predictions())

    @property
    def has_training_rows(self) -> bool:
        return self.stores_training(self.parts())

    def stores_training(self, parts: list[str]) -> bool:
        """Whether predictions with these parts include the training clips (wav2vec2 runs before the one
        predictions contract stored only validation and test clips; a leave-one-speaker-out run has none
        to store): without them, "how many clips of this actor were in training" is unknown, not 0."""
        return "train" in parts or self.info.get("spec", {}).get("split") == "loso"

    def label(self) -> str:
        spec = self.info.get("spec", {})
        model = spec.get("model", self.kind)
        metric = self.metrics.get("macro_f1")
        score = f" · macro-F1 {metric:.3f}" if metric is not None else ""
        inputs = spec.get("features") or (f"lr {spec['learning_rate']:g}" if "learning_rate" in spec else "")
        return f"{self.run_id} · {model} · {inputs} · {spec.get('split', '')}{score} · {self.status}"


RUN_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*-\d{8}-\d{6}-[0-9a-f]{4}")  # as new_run_id writes them
RUN_ID_FORM = "KIND-YYYYmmdd-HHMMSS-xxxx (e.g. baseline-20250101-120000-ab12)"


def parts_of(predictions: pd.DataFrame) -> list[str]:
    """The parts present in a predictions table, test first."""
    present = set(predictions["part"])
    return [p for p in ("test", "val", "train") if p in present]


def corpus_record(corpus) -> dict:
    """What a run records of its corpus (a ``ser.data.corpus.Corpus``): enough to reload it and to tell
    whether it changed since."""
    return {"name": corpus.name, "source": str(corpus.source), "kind": corpus.kind,
            "fingerprint": corpus.fingerprint, "clips": int(len(corpus.clips)), "synthetic": corpus.synthetic}


def new_run_id(kind: str) -> str:
    return check_run_id(f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}")


def check_run_id(run_id: str) -> str:
    """The id itself when it has the form new_run_id gives (``{kind}-{YYYYmmdd-HHMMSS}-{hex4}``, the kind in
    lower-case letters, digits and hyphens), else RunError: no path is ever built from anything else, so
    an id like ``../x`` never reaches outside the runs folder."""
    if not isinstance(run_id, str) or RUN_ID.fullmatch(run_id) is None:
        raise RunError(f"no run {run_id!r} in {config.runs_dir()}: a run id has the form {RUN_ID_FORM} "
                       "(see `python -m ser runs`).", title="Run not found")
    return run_id


def create_run(kind: str, spec: dict, corpus_info: dict, status: str = "queued", run_id: str | None = None) -> Run:
    run_id = check_run_id(run_id or new_run_id(kind))
    path = config.runs_dir() / run_id
    path.mkdir(parents=True, exist_ok=False)
    info = {"run_id": run_id, "kind": kind, "status": status, "created": _now(), "spec": spec,
            "corpus": corpus_info, "progress": {"done": 0, "total": 0, "message": status}}
    run = Run(run_id, path, info)
    save_run(run)
    return run


def save_run(run: Run) -> None:
    """Write run.json atomically."""
    text = json.dumps(run.info, indent=2, default=json_default)
    atomic_write(run.path / "run.json", lambda tmp: tmp.write_text(text))


def update_run(run: Run, **fields) -> Run:
    """Merge fields into run.json; refuses to change a finished run's status."""
    current = _read_info(run.path) or run.info
    if current.get("status") == "finished" and fields.get("status") not in (None, "finished"):
        log.warning("run %s is finished; not marking it %s", run.run_id, fields["status"])
        fields = {k: v for k, v in fields.items() if k != "status"}
    current.update(fields)
    run.info = current
    save_run(run)
    return run


def load_run(run_id: str) -> Run:
    path = config.runs_dir() / check_run_id(run_id)
    info = _read_info(path)
    if info is None:
        raise RunError(f"no run {run_id!r} in {config.runs_dir()} (see `python -m ser runs`).", title="Run not found")
    return Run(run_id, path, info)


def list_runs(kind: str | None = None) -> list[Run]:
    """Every readable run, newest first; an unreadable run.json is logged and skipped, and a folder whose
    name is not a run id (made by hand) is not a run."""
    runs = []
    for path in config.runs_dir().iterdir():
        if not path.is_dir() or RUN_ID.fullmatch(path.name) is None:
            continue
        info = _read_info(path)
        if info is None:
            continue
        if kind is None or info.get("kind") == kind:
            runs.append(Run(path.name, path, info))
    return sorted(runs, key=lambda r: r.info.get("created", ""), reverse=True)


def prediction_frame(clips: pd.DataFrame, part: str, y_pred, probabilities=None, classes=None) -> pd.DataFrame:
    """Predictions of some clips (rows of the clips table) in one part, in the one layout every run
    kind writes: ``clip_id, part, y_true, y_pred`` then ``prob_<EMO>`` for each class the model knows."""
    if part not in PARTS:
        raise ValueError(f"unknown part {part!r}; parts are {', '.join(PARTS)}")
    frame = pd.DataFrame({"clip_id": clips.index.to_numpy(), "part": part, "y_true": clips["emotion"].to_numpy(),
                          "y_pred": np.asarray(y_pred, dtype=object)})
    if probabilities is not None:
        probabilities = np.asarray(probabilities)
        for i, code in enumerate(classes):
            frame[f"prob_{code}"] = probabilities[:, i].astype(np.float32)
    return frame


def write_predictions(run: Run, frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The one writer of ``predictions.parquet``: every clip the run used, each once, with its part
    (train, val, test), so every view can tell training clips from held-out ones whatever the run kind."""
    predictions = pd.concat(frames, ignore_index=True)
    duplicated = predictions["clip_id"][predictions["clip_id"].duplicated()]
    if len(duplicated):
        raise ValueError(f"run {run.run_id}: clip {duplicated.iloc[0]} is predicted twice")
    atomic_write(run.predictions_path, lambda tmp: predictions.to_parquet(tmp, index=False))
    return predictions


def delete_run(run_id: str) -> None:
    """Remove the run's folder and what was derived from it (the Bias page's saved reports)."""
    run = load_run(run_id)  # checks the id: only a folder directly inside the runs folder is removed
    shutil.rmtree(run.path)
    shutil.rmtree(config.bias_dir(run.run_id), ignore_errors=True)


def runs_table(runs: list[Run]) -> pd.DataFrame:
    """One row per run for lists: kind, model, corpus, features, split, headline metrics, date."""
    rows = []
    for run in runs:
        spec, metrics = run.info.get("spec", {}), run.metrics
        rows.append({"run_id": run.run_id, "kind": run.kind, "model": spec.get("model"), "status": run.status,
                     "corpus": run.info.get("corpus", {}).get("name"), "features": spec.get("features"),
                     "split": spec.get("split"), "macro_f1": metrics.get("macro_f1"), "uar": metrics.get("uar"),
                     "accuracy": metrics.get("accuracy"), "created": run.info.get("created")})
    columns = ["run_id", "kind", "model", "status", "corpus", "features", "split", "macro_f1", "uar", "accuracy",
               "created"]
    return pd.DataFrame(rows, columns=columns)


def comparison_table(runs: list[Run]) -> pd.DataFrame:
    """wav2vec2 runs laid out like the report's Table 5: model, learning rate, epochs, scheduler, warm-up, macro-F1."""
    rows = []
    for run in runs:
        spec, metrics = run.info.get("spec", {}), run.metrics
        history = run.info.get("history") or []
        rows.append({"run_id": run.run_id, "model": spec.get("model"), "lr": spec.get("learning_rate"),
                     "epochs": f"{len(history)}/{spec.get('epochs')}", "scheduler": spec.get("scheduler"),
                     "warmup": spec.get("warmup_ratio"), "split": spec.get("split"),
                     "macro_f1": metrics.get("macro_f1"), "uar": metrics.get("uar"),
                     "accuracy": metrics.get("accuracy"),
                     "status": run.status, "parent": run.info.get("parent")})
    return pd.DataFrame(rows)


def _read_info(path: Path) -> dict | None:
    try:
        return json.loads((path / "run.json").read_text())
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as exc:
        log.warning("run %s: unreadable run.json (%s); skipped", path.name, exc)
        return None


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")


def json_default(value):
    """JSON for numpy scalars and arrays (anything else as text)."""
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def progress_writer(run: Run, progress=None, timed: bool = True):
    """A ``ser.progress.Progress`` that writes into the run's ``progress`` (at most once a second, and
    always the last call) and passes each message on to ``progress``. ``timed``: each message gets the
    phase's elapsed time and time left (``PhaseClock``); with False the message already says them and
    only the figures are added to run.json."""
    from .progress import PhaseClock

    clock, last = PhaseClock(), {"t": 0.0}

    def report(done: int, total: int, message: str) -> None:
        text, figures = clock.describe(done, total, message) if timed else (message, clock.read(done, total, message))
        if progress:
            progress(done, total, text)
        now = time.monotonic()
        if done >= total or now - last["t"] > 1.0:
            last["t"] = now
            update_run(run, progress={"done": done, "total": total, "message": text, **figures})

    return report


def exception_text(exc: Exception) -> str:
    """What run.json says about an unexpected failure: the exception's class and message."""
    return f"{type(exc).__name__}: {exc}"


def titled_text(exc: Exception) -> str:
    """A SerError as its title and detail; anything else as its class and message."""
    return f"{getattr(exc, 'title', type(exc).__name__)}: {getattr(exc, 'detail', exc)}"


def complete_run(run: Run, work, cancelled: type[Exception], error_text=exception_text) -> Run:
    """The life of a job's run: status running, then ``work()`` (which returns the fields for run.json)
    and status finished with its seconds; ``cancelled`` raised by the work marks it cancelled with the
    exception's message; any other exception marks it failed (``error_text``) and is raised again."""
    started = time.perf_counter()
    update_run(run, status="running", started=_now())
    try:
        result = work()
    except cancelled as exc:
        update_run(run, status="cancelled", error=str(exc))
        return run
    except Exception as exc:
        update_run(run, status="failed", error=error_text(exc))
        raise
    update_run(run, status="finished", seconds=round(time.perf_counter() - started, 2), finished=_now(),
               **result)
    return run
