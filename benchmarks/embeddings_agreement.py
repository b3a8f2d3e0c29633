"""How far bf16 embeddings on the CPU agree with float32: the same clips through the workbench's extraction
(ser.learning.embeddings.extract_embeddings) in float32 and with bf16 autocast, then per hidden state
- the cosine of each clip's pooled vectors (bf16 against float32), raw and centred on the clips' float32 mean
  (a random model's vectors share a large common part, which makes the raw cosine look better than it is);
- a logistic-regression probe (standard scaler + logistic regression, sklearn's defaults, max_iter 2000) on an
  actor-disjoint split: the share of test clips whose predicted label is the same when the probe is trained and
  applied on bf16 vectors as on float32 vectors, and when the float32 probe is applied to bf16 vectors.

The model is a randomly initialised base-sized wav2vec2 (benchmarks/embeddings.py's, no download) unless
``--model`` names a folder or a hub id in the local cache; the clips are the first actors of a corpus
(``--data``, e.g. the synthetic demo corpus). With random weights and synthetic audio these figures say how much
bf16 moves the vectors and a probe's decisions, nothing about emotion: the probe's accuracy is not reported.

    SER_DATA=/tmp/big/demo91 .venv/bin/python benchmarks/embeddings_agreement.py --actors 4

Results go to benchmarks/results/embeddings.json under ``agreement`` (merged with what is there).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from machine import machine  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.environ.get("SER_DATA"), help="a corpus folder or manifest")
    parser.add_argument("--actors", type=int, default=4, help="the first N actors' clips are used")
    parser.add_argument("--model", default=None, help="a folder or hub id (default: random base wav2vec2)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "embeddings.json"))
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SER_CACHE"] = str(Path(tmp) / "cache")  # a cache of its own: both precisions computed
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        from embeddings import save_model
        from ser.data.corpus import load_corpus
        from ser.learning.embeddings import EmbeddingStore, columns, extract_embeddings

        corpus = load_corpus(args.data)
        actors = sorted(corpus.clips["speaker"].unique())[:args.actors]
        keep = corpus.clips.index[corpus.clips["speaker"].isin(actors)]
        corpus = replace(corpus, clips=corpus.clips.loc[keep], files=corpus.files.loc[keep])
        model = args.model or str(save_model(Path(tmp) / "wav2vec2-base", "base"))
        results, seconds = {}, {}
        for precision in ("float32", "bfloat16"):
            started = time.perf_counter()
            results[precision] = extract_embeddings(corpus, model, precision=precision, device="cpu")
            seconds[precision] = round(time.perf_counter() - started, 1)
        test_actors = actors[len(actors) // 2:]
        is_test = corpus.clips["speaker"].isin(test_actors).to_numpy()
        labels = corpus.clips["emotion"].to_numpy()
        layers = []
        for layer in results["float32"].layers:
            vectors = {}
            for precision, result in results.items():
                rows = EmbeddingStore(result.identity, result.dtype).read_layer(layer)
                rows = rows.reindex(_keys(corpus))
                vectors[precision] = rows[columns(result.dim)].to_numpy(dtype=np.float64)
            a, b = vectors["float32"], vectors["bfloat16"]
            cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
            mean = a.mean(0)  # centred on float32's mean: what a scaler-fed probe sees of the clips' differences
            centred = ((a - mean) * (b - mean)).sum(1) / np.linalg.norm(a - mean, axis=1) / np.linalg.norm(b - mean,
                                                                                                          axis=1)
            probes = {p: make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(v[~is_test],
                                                                                               labels[~is_test])
                      for p, v in vectors.items()}
            fp32 = probes["float32"].predict(a[is_test])
            layers.append({"layer": layer, "cosine_min": round(float(cosine.min()), 5),
                           "cosine_mean": round(float(cosine.mean()), 5),
                           "centred_cosine_min": round(float(centred.min()), 5),
                           "centred_cosine_mean": round(float(centred.mean()), 5),
                           "same_prediction_bf16_probe": round(float((probes["bfloat16"].predict(b[is_test]) == fp32)
                                                                     .mean()), 4),
                           "same_prediction_fp32_probe_on_bf16": round(float((probes["float32"].predict(b[is_test])
                                                                              == fp32).mean()), 4)})
            print(layers[-1], flush=True)
    entry = {"model": args.model or "random base wav2vec2", "corpus": corpus.name, "synthetic": corpus.synthetic,
             "clips": int(len(keep)), "test_clips": int(is_test.sum()), "actors": len(actors),
             "extraction_seconds": seconds, "precisions": {p: r.precision for p, r in results.items()},
             "layers": layers, "machine": machine(), "measured": time.strftime("%Y-%m-%dT%H:%M:%S"),
             "note": "random weights and synthetic audio: how much bf16 moves vectors and a probe's decisions, "
                     "nothing about emotion"}
    out = Path(args.out)
    stored = json.loads(out.read_text()) if out.exists() else {}
    stored.setdefault("agreement", {})["cpu-bf16-vs-float32"] = entry
    out.write_text(json.dumps(stored, indent=1) + "\n")
    print(f"wrote {out}")


def _keys(corpus):
    from ser.learning.features import file_keys

    return file_keys(corpus.files).to_numpy()


if __name__ == "__main__":
    main()
