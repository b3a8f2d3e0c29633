"""The parameters of a wav2vec2 fine-tuning job: one dataclass, written into the job and into run.json,
so any run can be repeated exactly from its file."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from ..errors import ConfigError

DEFAULT_MODEL = "facebook/wav2vec2-base-960h"

# The five checkpoints the report fine-tuned on CREMA-D.
REPORT_MODELS = (
    "facebook/wav2vec2-base-960h",
    "facebook/wav2vec2-large-960h",
    "facebook/wav2vec2-xls-r-300m",
    "jonatasgrosman/wav2vec2-large-xlsr-53-english",
    "facebook/wav2vec2-large-100k-voxpopuli",
)

SCHEDULERS = {
    "linear": "linear",  # warm-up, then linear decay to 0 (the report's default)
    "cosine": "cosine",  # warm-up, then cosine decay to 0
    "plateau": "reduce_lr_on_plateau",  # constant, divided by 10 when validation macro-F1 stalls; no warm-up
}
FINETUNE_SPLITS = ("actor", "report")


@dataclass
class FinetuneSpec:
    """Everything that defines a wav2vec2 fine-tuning run."""

    model: str = DEFAULT_MODEL  # a hub id or a local folder written by save_pretrained
    learning_rate: float = 1e-4
    epochs: int = 10
    batch_size: int = 8
    grad_accum: int = 4
    scheduler: str = "linear"
    warmup_ratio: float = 0.1
    patience: int = 3  # early stopping on validation macro-F1, in epochs
    seed: int = 3
    split: str = "actor"  # actor-disjoint or the report's stratified 70/15/15
    max_seconds: float = 6.0  # clips are cropped to this length (CREMA-D clips are ~2.5 s)
    freeze_feature_encoder: bool = True
    max_clips: int | None = None  # a stratified sample of the corpus, for smoke tests
    num_workers: int | None = None  # data-loader processes; None: 4 on a GPU, 0 on the CPU

    def validate(self) -> "FinetuneSpec":
        if not str(self.model).strip():
            raise ConfigError("no model given; pass a hub id such as facebook/wav2vec2-base-960h or a folder.",
                              title="No model")
        _positive("learning_rate", self.learning_rate, "e.g. 1e-4")
        for name in ("epochs", "batch_size", "grad_accum"):
            _positive_int(name, getattr(self, name))
        if self.scheduler not in SCHEDULERS:
            raise ConfigError(f"unknown scheduler {self.scheduler!r}; choose {', '.join(SCHEDULERS)}.",
                              title="Unknown scheduler")
        if not 0 <= self.warmup_ratio < 1:
            raise ConfigError(f"warmup_ratio is {self.warmup_ratio}; give a share of the steps in [0, 1).")
        if not isinstance(self.patience, int) or self.patience < 0:
            raise ConfigError(f"patience is {self.patience!r}; give a whole number of epochs (0 turns early "
                              "stopping off).")
        if self.split not in FINETUNE_SPLITS:
            raise ConfigError(f"unknown split {self.split!r} for fine-tuning; choose actor or report "
                              "(both 70/15/15 with a validation part).", title="Unknown split")
        _positive("max_seconds", self.max_seconds, "e.g. 6.0")
        if self.max_clips is not None and (not isinstance(self.max_clips, int) or self.max_clips < 12):
            raise ConfigError(f"max_clips is {self.max_clips!r}; give at least 12 clips, or None for all.")
        if self.num_workers is not None and (not isinstance(self.num_workers, int) or self.num_workers < 0):
            raise ConfigError(f"num_workers is {self.num_workers!r}; give 0 or more data-loader processes.")
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "FinetuneSpec":
        """A spec from run.json or a job; unknown keys are refused by name."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown fine-tuning parameter(s) {', '.join(unknown)}.")
        return cls(**data)


def _positive(name: str, value, example: str) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
        raise ConfigError(f"{name} is {value!r}; give a positive number ({example}).")


def _positive_int(name: str, value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{name} is {value!r}; give a whole number of 1 or more.")
