"""wav2vec2 fine-tuning (RQ3): the job's parameters (``FinetuneSpec``), the Trainer-based run
(``run_finetune``) and the report's learning-rate search (``run_lr_search``).

Importing this package loads neither torch nor transformers; they are imported when a run starts."""

from __future__ import annotations

from .spec import DEFAULT_MODEL, REPORT_MODELS, SCHEDULERS, FinetuneSpec

__all__ = ["DEFAULT_MODEL", "REPORT_MODELS", "SCHEDULERS", "FinetuneSpec", "ModelUnavailable", "run_finetune",
           "start_finetune", "run_lr_search", "start_lr_search", "latest_checkpoint"]


def __getattr__(name: str):
    """The run functions, imported on first use (they pull in pandas and scikit-learn, not torch)."""
    if name in ("run_finetune", "start_finetune", "latest_checkpoint"):
        from . import training
        return getattr(training, name)
    if name in ("run_lr_search", "start_lr_search"):
        from . import lr_search
        return getattr(lr_search, name)
    if name == "ModelUnavailable":
        from .model import ModelUnavailable
        return ModelUnavailable
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
