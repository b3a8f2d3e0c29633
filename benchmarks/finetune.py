"""wav2vec2 fine-tuning throughput (clips/s) and peak GPU memory: the workbench's settings against the
report notebook's, in the same process, on the same random audio of CREMA-D length, the same number of
optimizer steps each, through Hugging Face's Trainer. The models are randomly initialised from
``Wav2Vec2Config`` with the real sizes (no download), feature encoder frozen in both.

- workbench: the ``TrainingArguments`` of ``ser.learning.finetune.trainer.training_arguments`` for a default
  ``FinetuneSpec`` (batch 8 x 4 accumulation, bf16 autocast where supported else fp16, length-grouped
  batches padded to their longest clip, no gradient checkpointing);
- report: fp16, gradient checkpointing, batch 32 x 4 accumulation, random batches with every clip padded
  to the longest clip of the data set (5.0 s, CREMA-D's longest).

    .venv/bin/python benchmarks/finetune.py                 # GPU: base and large, 20 steps each
    .venv/bin/python benchmarks/finetune.py --smoke         # CPU, tiny config, 3 steps, smaller batches

Clips/s counts the clips of ``--steps`` timed optimizer steps, one pass over the data, after ``--warmup``
untimed steps (CUDA kernels, autotuning).
Target (on one H100): the workbench at least 2x the report settings' throughput, for both sizes.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from transformers import TrainerCallback  # noqa: E402

from machine import machine  # noqa: E402

RATE = 16000
LONGEST_S = 5.0  # CREMA-D's longest clip; its clips average about 2.5 s
SIZES = {
    "tiny": dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                 conv_dim=(32, 32, 32), conv_kernel=(10, 8, 4), conv_stride=(5, 4, 4),
                 num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4, classifier_proj_size=32),
    "base": dict(),  # Wav2Vec2Config's defaults are wav2vec2-base's sizes (95M parameters)
    "large": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
                  feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True),  # xls-r-300m-like
}


# On 2 CPU cores a batch of 32 clips padded to 5 s takes ~15 s, so the smoke test scales both batches down
# by 4 and both accumulations by 2 (the 4:1 ratio of batch sizes stays).
SMOKE = {"workbench": {"batch_size": 2, "grad_accum": 2}, "report": {"batch_size": 8, "grad_accum": 2}}


class RandomClips:
    """In-memory clips of CREMA-D length (normal 2.5 s +/- 0.5 s, within 1.3-5.0 s, one of exactly 5.0 s)."""

    def __init__(self, count: int, seed: int = 0):
        rng = np.random.default_rng(seed)
        seconds = np.clip(rng.normal(2.5, 0.5, count), 1.3, LONGEST_S)
        seconds[0] = LONGEST_S
        self.audio = [rng.standard_normal(int(s * RATE)).astype(np.float32) * 0.1 for s in seconds]
        self.targets = rng.integers(0, 6, count).tolist()
        self.lengths = [a.size for a in self.audio]

    def __len__(self) -> int:
        return len(self.audio)

    def __getitem__(self, i: int) -> dict:
        return {"input_values": self.audio[i], "labels": self.targets[i]}


class PadToLongestClip:
    """The notebook's padding: every clip padded to the longest clip of the data set."""

    def __init__(self, extractor, length: int):
        self.extractor, self.length = extractor, length

    def __call__(self, items: list[dict]) -> dict:
        import torch

        batch = self.extractor([i["input_values"] for i in items], sampling_rate=RATE, padding="max_length",
                               max_length=self.length, return_tensors="pt")  # with attention_mask if the model has one
        batch["labels"] = torch.tensor([i["labels"] for i in items], dtype=torch.long)
        return batch


def workbench_arguments(out: Path, steps: int, smoke: bool):
    from ser.learning.finetune import FinetuneSpec
    from ser.learning.finetune.trainer import training_arguments

    spec = FinetuneSpec(num_workers=0, **(SMOKE["workbench"] if smoke else {}))
    args = training_arguments(spec, out, 64).to_dict()
    args.update(max_steps=steps, eval_strategy="no", save_strategy="no", load_best_model_at_end=False,
                metric_for_best_model=None, logging_strategy="no", warmup_steps=0, lr_scheduler_kwargs={})
    return _arguments(args), spec.batch_size * spec.grad_accum


def report_arguments(out: Path, steps: int, smoke: bool):
    import torch

    cuda = torch.cuda.is_available()
    batch, accum = (SMOKE["report"]["batch_size"], SMOKE["report"]["grad_accum"]) if smoke else (32, 4)
    args = dict(output_dir=str(out), max_steps=steps, per_device_train_batch_size=batch,
                gradient_accumulation_steps=accum, fp16=cuda, activation_checkpointing=True, learning_rate=1e-4,
                use_cpu=not cuda, report_to="none", disable_tqdm=True, eval_strategy="no", save_strategy="no",
                logging_strategy="no", seed=3, dataloader_pin_memory=cuda, label_names=["labels"])
    return _arguments(args), batch * accum


def _arguments(values: dict):
    import dataclasses

    from transformers import TrainingArguments

    names = {f.name for f in dataclasses.fields(TrainingArguments) if f.init}
    values = {k: v for k, v in values.items() if k in names}
    values.pop("gradient_checkpointing", None)  # 5.x: a deprecated alias of activation_checkpointing
    values.pop("gradient_checkpointing_kwargs", None)
    return TrainingArguments(**values)


def measure(size: str, setting: str, steps: int, warmup: int, smoke: bool = False) -> dict:
    """Untimed ``warmup`` steps (CUDA kernels, autotuning), then ``steps`` timed optimizer steps that see
    every clip of the data once (so length grouping gets no easy batches); clips/s and peak GPU memory."""
    import torch

    arguments = workbench_arguments if setting == "workbench" else report_arguments
    out = Path(tempfile.mkdtemp(prefix="ser-bench-finetune-"))
    args, per_step = arguments(out, steps, smoke)
    data = RandomClips(per_step * steps)
    model = _model(size)
    result = {"batch": args.per_device_train_batch_size, "grad_accum": args.gradient_accumulation_steps,
              "precision": "bf16" if args.bf16 else "fp16" if args.fp16 else "fp32",
              "gradient_checkpointing": bool(args.activation_checkpointing), "batches": args.train_sampling_strategy,
              "padding": "longest clip in the batch" if setting == "workbench"
              else f"longest clip in the data ({max(data.lengths) / RATE:.1f} s)"}
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    try:
        if warmup:
            _trainer(model, arguments(out, warmup, smoke)[0], data, size, setting, []).train()
        clock = _Clock()
        _trainer(model, args, data, size, setting, [clock]).train()
    except torch.cuda.OutOfMemoryError as exc:
        return {**result, "error": f"out of GPU memory: {str(exc).splitlines()[0]}"}
    finally:
        del model
        gc.collect()
    seconds = clock.times[-1] - clock.started
    result.update(steps=len(clock.times), clips=len(clock.times) * per_step, seconds=round(seconds, 3),
                  clips_per_s=round(len(clock.times) * per_step / seconds, 2))
    if torch.cuda.is_available():
        result["peak_gpu_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
        torch.cuda.empty_cache()
    return result


def _model(size: str):
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2ForSequenceClassification

    torch.manual_seed(0)
    model = Wav2Vec2ForSequenceClassification(Wav2Vec2Config(num_labels=6, **SIZES[size]))
    model.freeze_feature_encoder()
    return model


def _trainer(model, args, data: RandomClips, size: str, setting: str, callbacks: list):
    from transformers import Wav2Vec2FeatureExtractor
    from transformers.trainer_callback import PrinterCallback

    from ser.learning.finetune.data import ClipCollator
    from ser.learning.finetune.trainer import ClipTrainer

    extractor = Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=size == "large")
    collator = ClipCollator(extractor) if setting == "workbench" else PadToLongestClip(extractor, max(data.lengths))
    trainer = ClipTrainer(model=model, args=args, data_collator=collator, train_dataset=data,
                          processing_class=extractor, callbacks=callbacks)
    trainer.remove_callback(PrinterCallback)  # stdout carries the JSON only
    return trainer


class _Clock(TrainerCallback):
    """Wall time at the start of training and after every optimizer step (the GPU synchronised)."""

    def __init__(self):
        self.started, self.times = 0.0, []

    def on_train_begin(self, args, state, control, **kwargs):
        self.started = self._now()

    def on_step_end(self, args, state, control, **kwargs):
        self.times.append(self._now())

    @staticmethod
    def _now() -> float:
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return time.perf_counter()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="CPU, tiny config, a few steps")
    parser.add_argument("--sizes", nargs="+", choices=sorted(SIZES), default=None)
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps per setting")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps before the timed ones")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    import torch

    if not args.smoke and not torch.cuda.is_available():
        parser.error("no CUDA device: run with --smoke, or on a machine with a GPU")
    sizes = args.sizes or (["tiny"] if args.smoke else ["base", "large"])
    steps = args.steps or (3 if args.smoke else 20)
    warmup = args.warmup if args.warmup is not None else (1 if args.smoke else 3)
    if steps < 1 or warmup < 0:
        parser.error("--steps must be 1 or more and --warmup 0 or more")
    name = "finetune-smoke.json" if args.smoke else "finetune.json"  # a smoke run never overwrites GPU figures
    out = Path(args.out or Path(__file__).parent / "results" / name)

    results = {}
    for size in sizes:
        results[size] = {}
        for setting in ("report", "workbench"):
            print(f"{size} / {setting} settings: {steps} steps…", file=sys.stderr)
            results[size][setting] = measure(size, setting, steps, warmup, args.smoke)
            print(f"  {json.dumps(results[size][setting])}", file=sys.stderr)
        ours, theirs = results[size]["workbench"], results[size]["report"]
        if "clips_per_s" in ours and "clips_per_s" in theirs:
            results[size]["speedup"] = round(ours["clips_per_s"] / theirs["clips_per_s"], 2)
    speedups = [r.get("speedup") for r in results.values()]
    result = {
        "benchmark": "finetune/throughput",
        "mode": f"smoke (CPU, fp32 for both, batches scaled down: {SMOKE})" if args.smoke else "gpu",
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "data": "random audio, CREMA-D length: normal 2.5 s +/- 0.5 s within 1.3-5.0 s, longest 5.0 s",
        "steps": steps, "warmup_steps": warmup, "sizes": {s: SIZES[s] or "Wav2Vec2Config defaults" for s in sizes},
        "results": results, "target_speedup": 2.0,
        "met": None if args.smoke else all(s is not None and s >= 2.0 for s in speedups),
        "versions": {"torch": torch.__version__, "transformers": __import__("transformers").__version__},
        "machine": machine(), "measured": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
