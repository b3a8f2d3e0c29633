"""The run registry on disk: ``cache/runs/<run_id>/`` with ``run.json``, ``predictions.parquet`` and
the model. Baselines and wav2vec2 runs are the same kind of object; every result view reads runs.

``run.json`` is written atomically (temporary file + rename), so a crash never leaves a finished
run half-written, and a run that finished is never overwritten by a later failure."""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from . import config
from .errors import SerError

log = logging.getLogger(__name__)

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
        if not self.predictions_path.exists():
            raise RunError(f"run {self.run_id} has no predictions (status: {self.status}).")
        return pd.read_parquet(self.predictions_path)

    def label(self) -> str:
        spec = self.info.get("spec", {})
        model = spec.get("model", self.kind)
        metric = self.metrics.get("macro_f1")
        score = f" · macro-F1 {metric:.3f}" if metric is not None else ""
        inputs = spec.get("features") or (f"lr {spec['learning_rate']:g}" if "learning_rate" in spec else "")
        return f"{self.run_id} · {model} · {inputs} · {spec.get('split', '')}{score} · {self.status}"


def new_run_id(kind: str) -> str:
    return f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


def create_run(kind: str, spec: dict, corpus_info: dict, status: str = "queued", run_id: str | None = None) -> Run:
    run_id = run_id or new_run_id(kind)
    path = config.runs_dir() / run_id
    path.mkdir(parents=True, exist_ok=False)
    info = {"run_id": run_id, "kind": kind, "status": status, "created": _now(), "spec": spec,
            "corpus": corpus_info, "progress": {"done": 0, "total": 0, "message": status}}
    run = Run(run_id, path, info)
    save_run(run)
    return run


def save_run(run: Run) -> None:
    """Write run.json atomically."""
    tmp = run.path / f"run.json.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(run.info, indent=2, default=json_default))
    os.replace(tmp, run.path / "run.json")


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
    path = config.runs_dir() / run_id
    info = _read_info(path)
    if info is None:
        raise RunError(f"no run {run_id!r} in {config.runs_dir()} (see `python -m ser runs`).", title="Run not found")
    return Run(run_id, path, info)


def list_runs(kind: str | None = None) -> list[Run]:
    """Every readable run, newest first; an unreadable run.json is logged and skipped."""
    runs = []
    for path in config.runs_dir().iterdir():
        if not path.is_dir():
            continue
        info = _read_info(path)
        if info is None:
            continue
        if kind is None or info.get("kind") == kind:
            runs.append(Run(path.name, path, info))
    return sorted(runs, key=lambda r: r.info.get("created", ""), reverse=True)


def delete_run(run_id: str) -> None:
    run = load_run(run_id)
    shutil.rmtree(run.path)


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
