"""The parameters of a wav2vec2 fine-tuning job: one dataclass, written into the job and into run.json,
so any run can be repeated exactly from its file."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ...errors import ConfigError
from ...params import check_choice, param, spec_from_dict
from ..splits import splits_for

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


@dataclass
class FinetuneSpec:
    """Everything that defines a wav2vec2 fine-tuning run. Each field's help, choices, page label and
    command-line flag are declared here (ser.params); the CLI and the fine-tuning page are built from them."""

    model: str = param(DEFAULT_MODEL, "a hub id (e.g. facebook/wav2vec2-base-960h) or a local folder written by "
                       "save_pretrained", label="Pretrained model", cli_required=True)
    learning_rate: float = param(1e-4, "the peak learning rate (the search's first rate when it searches)",
                                 label="Learning rate", flag="--lr", minimum=1e-7, maximum=1e-1, step=1e-5,
                                 number_format="%.0e")
    epochs: int = param(10, "epochs of one training (the learning-rate search sets each round's length itself)",
                        label="Epochs", minimum=1, maximum=200)
    # 32 x 1 rather than 8 x 4: the same 32 clips per optimiser step (the same updates up to float rounding;
    # wav2vec2 has no batch statistics), 2.8x the clips/s of 8 x 4 for a large model on an H200
    # (benchmarks/results/gpu/2026-11-26-run2), for 11 GiB of GPU memory instead of 7.
    batch_size: int = param(32, "clips per batch on one device (on a GPU that runs out of memory: a smaller batch and "
                            "more accumulation, e.g. 8 x 4, give the same clips per step)", label="Batch size",
                            minimum=1, maximum=256)
    grad_accum: int = param(1, "batches accumulated into one optimiser step (the report: 32 x 4)",
                            label="Gradient accumulation", minimum=1, maximum=64)
    scheduler: str = param("linear", "linear: warm-up, then linear decay to 0 (the report's default); cosine: "
                           "warm-up, then cosine decay; plateau: constant, divided by 10 when validation macro-F1 "
                           "stalls (no warm-up)", choices=tuple(SCHEDULERS), label="Scheduler")
    warmup_ratio: float = param(0.1, "share of the training steps spent warming up, in [0, 1)", flag="--warmup",
                                label="Warm-up ratio", minimum=0.0, maximum=0.9, step=0.05)
    patience: int = param(3, "early stopping on validation macro-F1, in epochs (0 turns it off)",
                          label="Early-stopping patience (epochs)", minimum=0, maximum=50)
    seed: int = param(3, "seed of the split, the crops and the classification head", label="Seed", step=1)
    split: str = param("actor", "how the clips are divided into train, validation and test (70/15/15)",
                       choices=splits_for("finetune"), label="Split (70/15/15)")
    max_seconds: float = param(6.0, "clips are cropped to this many seconds (CREMA-D clips are ~2.5 s)",
                               label="Max clip length (s)", minimum=1.0, maximum=60.0)
    freeze_feature_encoder: bool = param(True, "keep the convolutional feature encoder frozen, as the report did",
                                         page=False)
    max_clips: int | None = param(None, "a stratified sample of this many clips, for smoke tests (at least 12)",
                                  page=False)
    num_workers: int | None = param(None, "data-loader processes (when not given: 4 on a GPU, 0 on the CPU)",
                                    page=False)
    gpus: int = param(1, "GPUs the job trains on, one process each (torchrun; batch size is per GPU): 1 (one "
                      "process, on the worker's GPU or else its CPU), N, or 0 for all the worker's GPUs",
                      label="GPUs (0 = all)", minimum=0, maximum=64, step=1)

    def validate(self) -> "FinetuneSpec":
        if not str(self.model).strip():
            raise ConfigError("no model given; pass a hub id such as facebook/wav2vec2-base-960h or a folder.",
                              title="No model")
        _positive("learning_rate", self.learning_rate, "e.g. 1e-4")
        for name in ("epochs", "batch_size", "grad_accum"):
            _positive_int(name, getattr(self, name))
        check_choice(self, "scheduler", "Unknown scheduler")
        if not 0 <= self.warmup_ratio < 1:
            raise ConfigError(f"warmup_ratio is {self.warmup_ratio}; give a share of the steps in [0, 1).")
        if not isinstance(self.patience, int) or self.patience < 0:
            raise ConfigError(f"patience is {self.patience!r}; give a whole number of epochs (0 turns early "
                              "stopping off).")
        check_choice(self, "split", "Unknown split", " (fine-tuning needs a validation part)")
        _positive("max_seconds", self.max_seconds, "e.g. 6.0")
        if self.max_clips is not None and (not isinstance(self.max_clips, int) or self.max_clips < 12):
            raise ConfigError(f"max_clips is {self.max_clips!r}; give at least 12 clips, or None for all.")
        if self.num_workers is not None and (not isinstance(self.num_workers, int) or self.num_workers < 0):
            raise ConfigError(f"num_workers is {self.num_workers!r}; give 0 or more data-loader processes.")
        if not isinstance(self.gpus, int) or isinstance(self.gpus, bool) or self.gpus < 0:
            raise ConfigError(f"gpus is {self.gpus!r}; give the number of GPUs to train on (1 or more), or 0 for "
                              "all the worker's GPUs.", title="Bad number of GPUs")
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "FinetuneSpec":
        """A spec from run.json or a job; unknown keys are refused by name."""
        return spec_from_dict(cls, data, "fine-tuning")


def _positive(name: str, value, example: str) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
        raise ConfigError(f"{name} is {value!r}; give a positive number ({example}).")


def _positive_int(name: str, value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{name} is {value!r}; give a whole number of 1 or more.")
