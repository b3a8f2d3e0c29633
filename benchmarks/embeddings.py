"""Embedding extraction throughput (clips/s) and peak memory: the workbench's batched path
(``ser.learning.encoder``: clips sorted by duration, batched to a budget of padded audio, every hidden state
mean-pooled over the frames holding audio; on the CPU one batch per core at once) against a plain per-clip
loop (feature extractor + model forward with ``output_hidden_states``, one clip at a time, the same mean over
frames), in the same process, on the same random clips of CREMA-D length (normal 2.5 s +/- 0.5 s within
1.3-5.0 s). The loop is the plain one: fp32 on the CPU; bf16 autocast on a GPU (fp16 where bf16 is not
supported). The batched path runs in each precision of ``--precision`` (auto: the workbench's default, the
loop's policy; bfloat16: bf16 autocast on the CPU too, on a CPU with avx512_bf16 or AMX).

The model is a randomly initialised wav2vec2 from ``Wav2Vec2Config`` (base: its defaults, 95M parameters;
large: hidden 1024, 24 layers, 16 heads, 4096 intermediate, layer-normalised convolutions, stable layer norm),
no download: saved to a temporary folder and loaded through the workbench's own loader (safetensors), as a
real checkpoint would be.

    .venv/bin/python benchmarks/embeddings.py                      # CPU (or the GPU when there is one), base
    .venv/bin/python benchmarks/embeddings.py --device cuda --size base large
    .venv/bin/python benchmarks/embeddings.py --smoke              # CPU, tiny config, a few clips, seconds
    .venv/bin/python benchmarks/embeddings.py --precision float32 bfloat16 --clips 16   # CPU: fp32 and bf16 rows

The paths are timed in rotating rounds (``--rounds``) after one untimed warm-up each; clips/s is each path's
median round, ``speedup`` the median of the rounds' loop/batched ratios (pairs taken in the same round, so a
change of load moves both), and ``cpu_s_per_clip`` the process' CPU seconds (all threads) per clip, which other
processes move far less than the wall clock (though a thread spinning while it waits for a descheduled
partner counts too). Peak memory: the process' resident set sampled every 5 ms during each path's rounds (CPU; both
models are loaded, so ``rss_at_start_mib`` gives the level a round started from), or
``torch.cuda.max_memory_allocated`` (GPU). The pooled vectors of both paths are compared (cosine): a
group-normalised model (base) normalises its first convolution over the padded length, so its batched
vectors move slightly with the padding; a layer-normalised one (large) gives the same vectors.

Results go to benchmarks/results/embeddings.json (smoke: embeddings-smoke.json), one entry per device and size
(``--tag`` names a variant), merged with the entries already there, each with the load average before and
after (other processes on the machine change the CPU figures a lot).

Target: the batched path at least 2x the loop on 2 CPU cores. On the CPU, fp32 extraction is compute-bound
(matrix products and convolutions are ~90% of a forward, ~0.5 CPU-s per 2.5 s clip on one Zen 4 core, near
the core's fp32 peak), so batching saves little and padding costs; the workbench runs one batch per core (one
torch thread each) instead of splitting every op over both cores. In fp32 that gives ~1.2x on an idle machine;
on a machine busy with other work, where split ops wait for each other, 2-4x. 2x on an idle machine is reached
only with bf16 (``--precision bfloat16``): a forward then takes about half the CPU time (0.26 against 0.53
CPU-s per clip on one core), with pooled vectors at cosine >= 0.9999 to fp32 for a random base model
(benchmarks/embeddings_agreement.py measures a probe's predictions too). fp32 stays the CPU's default.
The GPU is where batching pays.
Imports only numpy, torch, transformers and the workbench's encoder module (no librosa, soundfile, soxr).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from machine import machine  # noqa: E402

RATE = 16000
SIZES = {
    "tiny": dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                 conv_dim=(32, 32, 32), conv_kernel=(10, 8, 4), conv_stride=(5, 4, 4),
                 num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4),
    "base": dict(),  # Wav2Vec2Config's defaults are wav2vec2-base's sizes
    "large": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
                  feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True),
}


def random_clips(count: int, seed: int = 0) -> list[np.ndarray]:
    """Clips of CREMA-D length (as benchmarks/finetune.py's RandomClips): normal 2.5 s +/- 0.5 s within
    1.3-5.0 s, in random order."""
    rng = np.random.default_rng(seed)
    seconds = np.clip(rng.normal(2.5, 0.5, count), 1.3, 5.0)
    return [rng.standard_normal(int(s * RATE)).astype(np.float32) * 0.1 for s in seconds]


def save_model(folder: Path, size: str) -> Path:
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

    torch.manual_seed(0)
    config = Wav2Vec2Config(**SIZES[size])
    Wav2Vec2Model(config).save_pretrained(folder)
    # as the real checkpoints: base models take no attention mask, layer-normalised (large) ones do
    Wav2Vec2FeatureExtractor(return_attention_mask=config.feat_extract_norm == "layer").save_pretrained(folder)
    return folder


class PlainLoop:
    """What one would write by hand: the feature extractor and the model on one clip at a time."""

    def __init__(self, folder: Path, device: str):
        import torch
        from transformers import AutoFeatureExtractor, AutoModel

        self.extractor = AutoFeatureExtractor.from_pretrained(folder)
        self.model = AutoModel.from_pretrained(folder, use_safetensors=True).eval().to(device)
        self.device, self.cuda = device, device.startswith("cuda")
        self.dtype = (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16) if self.cuda else None

    def embed(self, clips: list[np.ndarray]) -> np.ndarray:
        import torch

        out = []
        for clip in clips:
            inputs = self.extractor(clip, sampling_rate=RATE, return_tensors="pt").to(self.device)
            with torch.inference_mode(), torch.autocast("cuda", dtype=self.dtype, enabled=self.cuda):
                states = self.model(**inputs, output_hidden_states=True).hidden_states
                out.append(torch.stack([h[0].float().mean(0) for h in states]).cpu().numpy())
        return np.stack(out)


class PeakMemory:
    """Peak resident memory (CPU) or peak allocated GPU memory while the block runs, in MiB."""

    def __init__(self, cuda: bool):
        self.cuda, self.peak_mib, self.start_mib = cuda, 0.0, 0.0

    def __enter__(self):
        self.start_mib = _rss_mib()
        if self.cuda:
            import torch

            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        else:
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            self.peak_mib = max(self.peak_mib, _rss_mib())
            self._stop.wait(0.005)

    def __exit__(self, *exc):
        if self.cuda:
            import torch

            torch.cuda.synchronize()
            self.peak_mib = max(self.peak_mib, torch.cuda.max_memory_allocated() / 2**20)
        else:
            self._stop.set()
            self._thread.join()
            self.peak_mib = max(self.peak_mib, _rss_mib())


def _rss_mib() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def measure(size: str, device: str, clips: list[np.ndarray], rounds: int, batch_seconds: float | None,
            precisions: list[str], workers: int | None = None) -> list[dict]:
    """One row per precision of the batched path, all timed in the same rounds as one plain loop (the order of
    the paths rotates from round to round); each row's ``speedup`` is the median of its rounds' ratios."""
    import torch

    from ser.learning.encoder import load_encoder

    cuda = device.startswith("cuda")
    with tempfile.TemporaryDirectory() as tmp:
        folder = save_model(Path(tmp) / f"wav2vec2-{size}", size)
        encoders = {p: load_encoder(str(folder), device=device, batch_seconds=batch_seconds, precision=p)
                    for p in precisions}
        for encoder in encoders.values():
            if workers:
                encoder.workers = workers
            encoder.embed(clips[:4])  # warm-up: kernels, allocator, oneDNN primitives
        loop = PlainLoop(folder, device)
        loop.embed(clips[:2])
        load_before = os.getloadavg()[0]
        paths = {**{f"batched-{p}": encoders[p].embed for p in precisions}, "loop": loop.embed}
        times = {name: [] for name in paths}
        cpu = {name: [] for name in paths}  # process CPU seconds (every thread): less moved by other processes
        peaks = {name: 0.0 for name in paths}
        starts = {name: [] for name in paths}
        vectors = {}
        names = list(paths)
        for r in range(rounds):
            for name in names[r % len(names):] + names[:r % len(names)]:
                with PeakMemory(cuda) as memory:
                    started, cpu_started = time.perf_counter(), time.process_time()
                    vectors[name] = paths[name](clips)
                    if cuda:
                        torch.cuda.synchronize()
                    times[name].append(time.perf_counter() - started)
                    cpu[name].append(time.process_time() - cpu_started)
                peaks[name] = max(peaks[name], memory.peak_mib)
                starts[name].append(memory.start_mib)
        load_after = os.getloadavg()[0]
        rows = []
        for precision in precisions:
            encoder, name = encoders[precision], f"batched-{precision}"
            a, b = vectors[name], vectors["loop"]
            cosine = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
            row = {"size": size, "device": device, "device_name": torch.cuda.get_device_name() if cuda else "cpu",
                   "torch_threads": torch.get_num_threads(), "precision": encoder.precision,
                   "loop_precision": "bf16/fp16 autocast" if cuda else "float32",
                   "hidden_states": int(a.shape[1]), "hidden_size": int(a.shape[2]),
                   "parameters_m": round(sum(p.numel() for p in loop.model.parameters()) / 1e6, 1),
                   "clips": len(clips), "audio_s": round(sum(c.size for c in clips) / RATE, 1),
                   "batch_seconds": encoder.batch_seconds, "batches": len(encoder.batches([c.size for c in clips])),
                   "rounds": rounds, "workers": encoder.workers,
                   "load_average": [round(load_before, 2), round(load_after, 2)]}  # other processes
            for path, key in ((name, "batched"), ("loop", "loop")):
                median = statistics.median(times[path])
                row[key] = {"clips_per_s": round(len(clips) / median, 2),
                            "seconds": [round(t, 2) for t in times[path]],
                            "cpu_s_per_clip": round(statistics.median(cpu[path]) / len(clips), 3),
                            "peak_mib": round(peaks[path], 1),
                            "rss_at_start_mib": round(min(starts[path]), 1)}
            ratios = [loop_s / batched_s for loop_s, batched_s in zip(times["loop"], times[name])]
            row["speedup"] = round(statistics.median(ratios), 2)
            row["speedup_per_round"] = [round(r, 2) for r in ratios]
            row["cpu_time_ratio"] = round(row["loop"]["cpu_s_per_clip"] / row["batched"]["cpu_s_per_clip"], 2)
            row["cosine_batched_vs_loop"] = {"min": round(float(cosine.min()), 5),
                                             "mean": round(float(cosine.mean()), 5),
                                             "min_per_layer": [round(float(v), 5) for v in cosine.min(0)]}
            row["peak_memory_kind"] = "torch.cuda.max_memory_allocated" if cuda else "process RSS"
            rows.append(row)
        del encoders, loop
        if cuda:
            torch.cuda.empty_cache()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto", help="auto (the GPU when there is one), cuda or cpu")
    parser.add_argument("--size", nargs="+", default=None, choices=list(SIZES),
                        help="model sizes (default: base; --smoke: tiny)")
    parser.add_argument("--clips", type=int, default=None, help="clips per round (default: 32 on the CPU, "
                                                                "256 on a GPU, 12 with --smoke)")
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds per path (default 3; smoke 1)")
    parser.add_argument("--batch-seconds", type=float, nargs="+", default=[None],
                        help="padded audio per batch (default: the workbench's); several values: one row each")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's own)")
    parser.add_argument("--precision", nargs="+", default=["auto"], choices=["auto", "float32", "bfloat16"],
                        help="the batched path's precision, several: one row each, timed in the same rounds (the "
                             "loop stays the plain one: fp32 on the CPU)")
    parser.add_argument("--workers", type=int, default=None, help="CPU batches at once (default: the workbench's)")
    parser.add_argument("--smoke", action="store_true", help="a quick check on the CPU: tiny model, 12 clips")
    parser.add_argument("--tag", default="", help="appended to the entry's name (e.g. loaded, for a run on a "
                                                  "machine busy with other work)")
    parser.add_argument("--out", default=None, help="JSON file (default: benchmarks/results/embeddings.json)")
    args = parser.parse_args()

    import torch

    from ser.learning.encoder import pick_device

    if args.threads:
        torch.set_num_threads(args.threads)
    device = "cpu" if args.smoke else pick_device(args.device)
    sizes = args.size or (["tiny"] if args.smoke else ["base"])
    count = args.clips or (12 if args.smoke else 256 if device.startswith("cuda") else 32)
    rounds = args.rounds or (1 if args.smoke else 3)
    clips = random_clips(count)
    out = Path(args.out or Path(__file__).parent / "results" /
               ("embeddings-smoke.json" if args.smoke else "embeddings.json"))
    results = json.loads(out.read_text()) if out.exists() else {}
    results.setdefault("runs", {})
    for size in sizes:
        for budget in args.batch_seconds:
            for row in measure(size, device, clips, rounds, budget, args.precision, args.workers):
                precision = {"float32": "-float32", "bfloat16 autocast": "-bfloat16"}.get(row["precision"], "") \
                    if args.precision != ["auto"] else ""
                key = f"{'cuda' if device.startswith('cuda') else 'cpu'}-{size}{precision}" + \
                      (f"-workers{args.workers}" if args.workers else "") + \
                      (f"-budget{budget:g}" if budget is not None else "") + (f"-{args.tag}" if args.tag else "")
                row["machine"] = machine()
                row["measured"] = time.strftime("%Y-%m-%dT%H:%M:%S")
                results["runs"][key] = row
                print(f"{key}: batched {row['batched']['clips_per_s']} clips/s "
                      f"(peak {row['batched']['peak_mib']} MiB), loop {row['loop']['clips_per_s']} clips/s "
                      f"(peak {row['loop']['peak_mib']} MiB), speedup {row['speedup']}x "
                      f"{row['speedup_per_round']}, CPU-s per clip {row['batched']['cpu_s_per_clip']} vs "
                      f"{row['loop']['cpu_s_per_clip']}, cosine min {row['cosine_batched_vs_loop']['min']}", flush=True)
    results["description"] = __doc__.strip().splitlines()[0]
    results["transformers"] = __import__("transformers").__version__
    results["torch"] = torch.__version__
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
