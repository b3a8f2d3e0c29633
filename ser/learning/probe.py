"""Which layer carries the emotion? A layer-wise probe: the same light classifier (logistic regression by
default, or any baseline model with its default parameters) trained on every hidden state of a speech encoder
with the same split, each scored on the held-out clips with macro-F1, UAR and accuracy, macro-F1 with the
speaker-level 95% interval the Bias page shows (``ser.analysis.bias.overall_metrics``: actors resampled with
all their clips, stratified by sex, 1,000 replicates). The best layer's classifier is then trained again as a
normal baseline run (``best_run``), so Bias and Try a clip can use it.

``run.json`` of a probe holds ``layers`` [{layer, macro_f1, low, high, accuracy, uar, seconds}],
``best_layer`` and ``best_run``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from typing import Callable

import numpy as np
import pandas as pd

from ..data.corpus import Corpus
from ..errors import ConfigError
from ..params import check_choice, param, spec_from_dict
from ..progress import Progress
from ..runs import Run, complete_run, corpus_record, create_run, progress_writer, titled_text, update_run
from .baselines import MODELS
from .splits import splits_for

N_BOOT = 1000  # as the Bias page
BOOT_SEED = 0  # as the Bias page: the best layer's interval here is the one Bias shows for its run
SPLITS = {name: label for name, label in splits_for("baseline").items() if name != "loso"}


class Cancelled(Exception):
    """The probe stopped on request between layers; the layers done are kept in run.json."""


@dataclass
class ProbeSpec:
    """A layer-wise probe: written into the job and into run.json."""

    model: str = param("", "a speech encoder: a hub id (facebook/wav2vec2-base, microsoft/wavlm-base-plus...) "
                       "or a local folder written by save_pretrained", label="Model", cli_required=True)
    layers: str = param("all", "the hidden states to probe: all, a number, or numbers separated by commas "
                        "(0 is the embedding output)", label="Layers")
    classifier: str = param("logreg", "the light classifier trained on every layer, with its default parameters",
                            choices=MODELS, label="Classifier")
    split: str = param("actor", "how the clips are divided into train and test (70/30), the same for every layer",
                       choices=SPLITS, label="Split")
    seed: int = param(3, "seed of the split and the classifier", label="Seed", step=1)
    max_clips: int = param(0, "probe at most this many clips, drawn per emotion with the seed (0: every clip)",
                           label="At most this many clips (0: all)", minimum=0, step=100)
    jobs: int | None = param(None, "worker processes of the best layer's baseline run (when not given: all cores)",
                             page=False)

    def validate(self) -> "ProbeSpec":
        from .embeddings import parse_layers

        if not str(self.model).strip():
            raise ConfigError("no model given: a hub id (ORG/MODEL_ID) or a local folder.", title="No model")
        parse_layers(self.layers)
        check_choice(self, "classifier", "Unknown classifier")
        check_choice(self, "split", "Unknown split")
        if isinstance(self.max_clips, bool) or not isinstance(self.max_clips, int) or self.max_clips < 0:
            raise ConfigError(f"max_clips is {self.max_clips!r}; give a whole number of clips, or 0 for all.",
                              title="Unknown number of clips")
        return self

    @classmethod
    def from_dict(cls, values: dict) -> "ProbeSpec":
        """A spec from JSON (a job, run.json); unknown keys are refused with their names."""
        return spec_from_dict(cls, values, "probe")

    def to_dict(self) -> dict:
        return asdict(self)


def start_probe(spec: ProbeSpec, corpus: Corpus) -> Run:
    """The run folder (status queued) of a probe; the worker fills it."""
    spec.validate()
    return create_run("probe", spec.to_dict(), corpus_record(corpus))


def run_probe(spec: ProbeSpec, corpus: Corpus, run: Run | None = None,
              should_stop: Callable[[], bool] | None = None, progress: Progress | None = None) -> Run:
    """Embeddings of every requested layer (extracted when missing), one classifier per layer, the table of
    scores in run.json, the best layer marked and kept as a baseline run. Cancelling between layers keeps the
    layers done."""
    spec.validate()
    run = run or start_probe(spec, corpus)
    report = progress_writer(run, progress)
    return complete_run(run, lambda: _probe(spec, sample_clips(corpus, spec.max_clips, spec.seed), run, report,
                                            should_stop), Cancelled, titled_text)


def sample_clips(corpus: Corpus, max_clips: int, seed: int) -> Corpus:
    """At most ``max_clips`` clips, the same share of every emotion, drawn with the seed (0: the corpus)."""
    if not max_clips or max_clips >= len(corpus.clips):
        return corpus
    share = max_clips / len(corpus.clips)
    keep = corpus.clips.groupby("emotion", group_keys=False).sample(frac=share, random_state=seed).index
    keep = corpus.clips.index[corpus.clips.index.isin(keep)]
    return replace(corpus, clips=corpus.clips.loc[keep], files=corpus.files.loc[keep])


def _probe(spec: ProbeSpec, corpus: Corpus, run: Run, report: Progress, should_stop) -> dict:
    from .embeddings import _check_layers, extract_embeddings, parse_layers

    # every hidden state, as a layer's feature set reads them (a subset stored alone would be extracted again)
    embedded = extract_embeddings(corpus, spec.model, "all", progress=report, should_stop=should_stop)
    layers = _check_layers(parse_layers(spec.layers), len(embedded.layers), spec.model)
    update_run(run, embeddings=embedded.summary())
    rows, split_info = [], {}
    for i, layer in enumerate(layers):
        if should_stop is not None and should_stop():
            raise Cancelled(f"stopped after {i} of {len(layers)} layers")
        report(i, len(layers), f"layer {i + 1}/{len(layers)}: training on hidden state {layer}")
        rows.append(probe_layer(spec, corpus, layer, split_info))
        update_run(run, layers=rows)
    report(len(layers), len(layers), f"layer {len(layers)}/{len(layers)}: done")
    best = max(rows, key=lambda row: (row["macro_f1"], -row["layer"]))["layer"]  # ties: the earliest layer
    for row in rows:
        row["best"] = row["layer"] == best
    update_run(run, layers=rows, best_layer=best)
    if should_stop is not None and should_stop():
        raise Cancelled(f"stopped after all {len(layers)} layers, before keeping layer {best} as a run")
    kept = keep_best_layer(spec, corpus, best, should_stop)
    return {"layers": rows, "best_layer": best, "best_run": kept.run_id, "split_info": split_info,
            "metrics": kept.metrics}  # the best layer's full report (the kept run's test part is the probe's)


def probe_layer(spec: ProbeSpec, corpus: Corpus, layer: int, split_info: dict | None = None) -> dict:
    """One layer: the classifier fitted on the training part, scored on the test part. The split is made over
    the clips with features, as a baseline run makes it (so the kept run's test part is this one)."""
    from .baselines import final_model
    from .embeddings import embedding_features, set_name
    from .splits import make_split

    started = time.perf_counter()
    table = embedding_features(corpus, set_name(spec.model, layer)).table
    clips = corpus.clips.loc[table.index]
    chosen = make_split(clips, spec.split, seed=spec.seed).to_numpy()
    train, test = chosen == "train", chosen == "test"
    if split_info is not None:
        split_info.update(train=int(train.sum()), test=int(test.sum()),
                          train_speakers=int(clips.loc[train, "speaker"].nunique()),
                          test_speakers=int(clips.loc[test, "speaker"].nunique()))
    X, y = table.to_numpy(dtype=np.float64), clips["emotion"].to_numpy()
    if len(set(y[train])) < 2:
        raise ConfigError("the training part needs at least two emotions with usable clips.")
    model = final_model(spec.classifier, spec.seed, {}).fit(X[train], y[train])
    scored = held_out_scores(clips[test], model.predict(X[test]))
    return {"layer": int(layer), "macro_f1": scored["macro_f1"]["value"], "low": scored["macro_f1"]["ci"][0],
            "high": scored["macro_f1"]["ci"][1], "accuracy": scored["accuracy"]["value"],
            "uar": scored["uar"]["value"], "clips": int(test.sum()), "actors": scored["macro_f1"]["actors"],
            "seconds": round(time.perf_counter() - started, 3),
            "metrics": {name: scored[name]["value"] for name in ("accuracy", "macro_f1", "uar")}}


def held_out_scores(clips: pd.DataFrame, predicted: np.ndarray) -> dict:
    """Macro-F1, UAR and accuracy of the test clips, each with the Bias page's speaker-level interval
    (``ser.analysis.bias``: the overall numbers of its report, grouped by sex)."""
    from ..analysis import bias, uncertainty
    from ..metrics import label_set

    frame = pd.DataFrame({"y_true": clips["emotion"].to_numpy(), "y_pred": predicted,
                          "speaker": clips["speaker"].astype(str).to_numpy(),
                          "sex": (clips["sex"] if "sex" in clips else pd.Series(None, index=clips.index))
                          .astype(object).where(lambda s: s.notna(), "unknown").astype(str).to_numpy()},
                         index=clips.index)
    if frame.empty:
        raise ConfigError("the split leaves no clips to test on.", title="Nothing to score")
    labels = label_set(frame["y_true"], frame["y_pred"])
    grouped, _ = bias.grouped_clips(frame, ["sex"], labels)
    _, samples = uncertainty.bootstrap_confusions(grouped, N_BOOT, BOOT_SEED)
    return bias.overall_metrics(frame, labels, grouped, samples)


def keep_best_layer(spec: ProbeSpec, corpus: Corpus, layer: int, should_stop=None) -> Run:
    """The best layer's classifier as a normal baseline run (defaults only, the same split and seed): its
    predictions are the probe's for that layer."""
    from .baselines import BaselineSpec, run_baseline
    from .embeddings import set_name

    baseline = BaselineSpec(model=spec.classifier, features=set_name(spec.model, layer), split=spec.split,
                            grid="none", seed=spec.seed, jobs=spec.jobs)
    kept = run_baseline(baseline, corpus, should_stop=should_stop)
    if kept.status != "finished":
        raise Cancelled(f"the best layer ({layer}) was not kept as a run: {kept.info.get('error')}")
    return kept


def probe_table(run: Run) -> pd.DataFrame:
    """A finished (or partly done) probe's layers: layer, macro_f1, low, high, accuracy, uar, seconds, best."""
    rows = run.info.get("layers") or []
    table = pd.DataFrame([{k: v for k, v in row.items() if k != "metrics"} for row in rows])
    if table.empty:
        return pd.DataFrame(columns=["layer", "macro_f1", "low", "high", "accuracy", "uar", "seconds", "best"])
    if "best" not in table:
        table["best"] = False
    return table
