"""Latency of classifying one uploaded clip with a wav2vec2 run, through the app's own path
(``ser.learning.predict.Predictor.predict_upload``: decode the WAV bytes, resample to 16 kHz, feature
extractor, model forward, softmax), for a randomly initialised base-sized wav2vec2 (``Wav2Vec2Config()``
defaults, 95M parameters, no download) saved as a finished run in a temporary cache.

    .venv/bin/python benchmarks/inference.py                # on the GPU when there is one, else the CPU
    .venv/bin/python benchmarks/inference.py --size tiny    # a quick check

Reports the model's load time (what "load the chosen run's model when it is chosen" hides from the
user), the first classification after loading (cold), and the median and 90th percentile of ``--repeats``
warm classifications of a 3 s clip at 44.1 kHz (resampled, as a typical upload is); the device says
which processor ran the model. Results go to benchmarks/results/inference-<device>.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from finetune import SIZES  # noqa: E402
from machine import machine  # noqa: E402

LABELS = ["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"]


def wav_bytes(seconds: float, rate: int, seed: int = 0) -> bytes:
    import soundfile

    audio = np.random.default_rng(seed).standard_normal(int(seconds * rate)).astype(np.float32) * 0.1
    buffer = io.BytesIO()
    soundfile.write(buffer, audio, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def make_run(size: str):
    """A finished wav2vec2 run holding a randomly initialised model of this size."""
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2ForSequenceClassification

    from ser.runs import create_run, update_run

    torch.manual_seed(0)
    config = Wav2Vec2Config(num_labels=len(LABELS), id2label=dict(enumerate(LABELS)),
                            label2id={label: i for i, label in enumerate(LABELS)}, **SIZES[size])
    run = create_run("wav2vec2", {"max_seconds": 6.0, "model": f"random {size}"}, {"source": "none"})
    Wav2Vec2ForSequenceClassification(config).save_pretrained(run.path / "model")
    Wav2Vec2FeatureExtractor(return_attention_mask=size == "large").save_pretrained(run.path / "model")
    return update_run(run, status="finished")


def measure(size: str, seconds: float, rate: int, repeats: int) -> dict:
    import torch

    from ser.learning.predict import Predictor

    run = make_run(size)
    data = wav_bytes(seconds, rate)
    started = time.perf_counter()
    predictor = Predictor(run)
    _sync()
    load_s = time.perf_counter() - started
    timings = []
    for i in range(repeats + 1):
        started = time.perf_counter()
        predictor.predict_upload("clip.wav", data)
        _sync()
        timings.append(time.perf_counter() - started)
    warm = np.array(timings[1:])
    return {"size": size, "device": predictor.device,
            "device_name": torch.cuda.get_device_name(0) if predictor.device == "cuda" else "cpu",
            "clip": f"{seconds:g} s at {rate} Hz, 16-bit WAV", "model_load_s": round(load_s, 3),
            "first_s": round(timings[0], 4), "warm_median_s": round(float(np.median(warm)), 4),
            "warm_p90_s": round(float(np.percentile(warm, 90)), 4), "repeats": repeats,
            "threads": torch.get_num_threads()}


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="base")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rate", type=int, default=44100)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    os.environ["SER_CACHE"] = tempfile.mkdtemp(prefix="ser-bench-inference-")  # runs go to a throwaway cache
    import torch
    import transformers

    result = {"benchmark": "inference/upload-latency", **measure(args.size, args.seconds, args.rate, args.repeats),
              "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
              "machine": machine(), "measured": time.strftime("%Y-%m-%d %H:%M:%S")}
    name = f"inference-{'gpu' if result['device'] == 'cuda' else 'cpu'}.json"
    out = Path(args.out or Path(__file__).parent / "results" / name)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
