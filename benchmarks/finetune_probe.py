"""Where does a fine-tuning step's time go on a GPU? A diagnostic beside benchmarks/finetune.py (whose
figures showed the GPU mostly idle): the same random CREMA-D-length clips and base-sized wav2vec2, timed

- through a plain PyTorch loop (no Trainer) with bf16 or fp16 autocast, batches of clips sorted by length
  padded to their longest clip, or every clip padded to 5 s;
- the frozen convolutional feature encoder alone (forward), bf16 and fp16;
- one Trainer run of the workbench's default setting (batch 32 x 1) under torch.profiler: the operators that
  take the most CPU and GPU time.

    python3 benchmarks/finetune_probe.py [--size base] [--out FILE.json]

Prints a table; writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"  # the CPU: a quick check of the script

from finetune import RATE, RandomClips, _model, _trainer, workbench_arguments  # noqa: E402


def _sync() -> None:
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def _batches(data: RandomClips, batch: int, fixed: int | None, multiple: int = 1):
    order = np.argsort(data.lengths)
    for start in range(0, len(order), batch):
        items = [data.audio[i] for i in order[start:start + batch]]
        length = fixed or -(-max(a.size for a in items) // multiple) * multiple
        values = np.zeros((len(items), length), np.float32)
        for row, audio in enumerate(items):
            values[row, :audio.size] = (audio - audio.mean()) / (audio.std() + 1e-7)
        labels = torch.tensor([data.targets[i] for i in order[start:start + batch]])
        yield torch.from_numpy(values).pin_memory() if DEVICE == "cuda" else torch.from_numpy(values), labels


def plain_loop(size: str, data: RandomClips, dtype, fixed: int | None, batch: int = 32, multiple: int = 1) -> dict:
    model = _model(size).to(DEVICE).train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5, fused=DEVICE == "cuda")
    batches = list(_batches(data, batch, fixed, multiple))

    def step(values, labels):
        with torch.autocast(DEVICE, dtype=dtype, enabled=DEVICE == "cuda"):
            loss = model(input_values=values.to(DEVICE, non_blocking=True),
                         labels=labels.to(DEVICE, non_blocking=True)).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for values, labels in batches[:3]:
        step(values, labels)
    _sync()
    passes = []
    for _ in range(2):  # the first pass meets each batch shape for the first time, the second has seen them all
        started = time.perf_counter()
        for values, labels in batches:
            step(values, labels)
        _sync()
        passes.append(time.perf_counter() - started)
    return {"clips_per_s": round(len(data) / passes[0], 1), "ms_per_batch": round(1000 * passes[0] / len(batches), 1),
            "clips_per_s_shapes_seen": round(len(data) / passes[1], 1),
            "shapes": len({tuple(v.shape) for v, _ in batches})}


def encoder_only(size: str, data: RandomClips, dtype, batch: int = 32) -> dict:
    model = _model(size).to(DEVICE).eval()
    batches = list(_batches(data, batch, None))
    with torch.no_grad(), torch.autocast(DEVICE, dtype=dtype, enabled=DEVICE == "cuda"):
        for values, _ in batches[:3]:
            model.wav2vec2.feature_extractor(values.to(DEVICE))
        _sync()
        started = time.perf_counter()
        for values, _ in batches:
            model.wav2vec2.feature_extractor(values.to(DEVICE))
        _sync()
    seconds = time.perf_counter() - started
    del model
    return {"clips_per_s": round(len(data) / seconds, 1), "ms_per_batch": round(1000 * seconds / len(batches), 1)}


def profile_trainer(size: str, steps: int = 8, smoke: bool = False) -> str:
    from torch.profiler import ProfilerActivity, profile

    out = Path(tempfile.mkdtemp(prefix="ser-probe-"))
    args, per_step = workbench_arguments(out, steps, smoke, "workbench")
    data = RandomClips(per_step * steps)
    model = _model(size)
    _trainer(model, workbench_arguments(out, 2, smoke, "workbench")[0], data, size, "workbench", []).train()
    trainer = _trainer(model, args, data, size, "workbench", [])
    _sync()
    started = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if DEVICE == "cuda" else [])) as prof:
        trainer.train()
        _sync()
    wall = time.perf_counter() - started
    averages = prof.key_averages()
    gpu_total = sum(e.self_device_time_total for e in averages) / 1e6
    lines = [f"Trainer, workbench defaults, {steps} steps of {per_step} clips: wall {wall:.2f} s (profiled), "
             f"GPU kernels {gpu_total:.2f} s in all",
             averages.table(sort_by="self_cpu_time_total", row_limit=18, max_name_column_width=60),
             averages.table(sort_by="self_device_time_total", row_limit=12, max_name_column_width=60)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="base")
    parser.add_argument("--clips", type=int, default=1024)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    data = RandomClips(args.clips)
    rows = {}
    for name, dtype in (("bf16", torch.bfloat16), ("fp16", torch.float16)):
        rows[f"plain loop, {name}, padded to batch's longest"] = plain_loop(args.size, data, dtype, None)
        rows[f"plain loop, {name}, padded to a multiple of 0.25 s"] = plain_loop(args.size, data, dtype, None,
                                                                              multiple=RATE // 4)
        rows[f"plain loop, {name}, padded to 5 s"] = plain_loop(args.size, data, dtype, int(5 * RATE))
        rows[f"feature encoder forward only, {name}"] = encoder_only(args.size, data, dtype)
        print(json.dumps(rows), file=sys.stderr, flush=True)
    report = profile_trainer(args.size, smoke=DEVICE != "cuda")
    print(report, file=sys.stderr, flush=True)
    result = {"benchmark": "finetune/probe", "size": args.size, "clips": args.clips, "batch": 32,
              "device": torch.cuda.get_device_name(0) if DEVICE == "cuda" else "cpu", "rows": rows,
              "profile": report,
              "measured": time.strftime("%Y-%m-%d %H:%M:%S")}
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    for name, row in rows.items():
        seen = f"{row['clips_per_s_shapes_seen']:>9} clips/s once shapes are seen" if "shapes" in row else ""
        print(f"{name:52s} {row['clips_per_s']:>9} clips/s {row['ms_per_batch']:>8} ms/batch {seen}")


if __name__ == "__main__":
    main()
