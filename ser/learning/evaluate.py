"""Cross-corpus evaluation: a finished run scored on another corpus (a CREMA-D folder or a manifest) on
the emotions both share. The result is a run of kind ``evaluation`` like any other: its corpus is the
target corpus, its predictions (every scored clip, part ``test``) feed Bias with that corpus' metadata.

- A clip is *scored* when the source model knows its emotion; the other clips are counted by label in
  ``unscored`` ({label: clips}), and a clip that cannot be decoded is listed in ``failed`` by its file.
- The model decides among the shared emotions only: its probabilities over them, renormalised, and the
  most probable one is the prediction (a model trained on six emotions scored on a corpus with four is
  not penalised for naming a fifth no clip has). ``outside_top`` counts the scored clips whose most
  probable emotion overall was one of the others, so the effect of that choice is on record.
- Baselines read the target corpus' features through the feature cache (``extract_features``, as they
  were trained) and classify them in one batch; wav2vec2 runs classify clip by clip through
  ``ser.learning.predict.Predictor``.
- Metrics come from ``ser.metrics`` over the shared labels.
- ``same_audio`` in the spec says the target holds exactly the source run's audio files (the same corpus,
  or a manifest relabelling it): then the scores include the clips the model was trained on.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Callable

import numpy as np
import pandas as pd

from ..data.corpus import Corpus
from ..errors import ConfigError, NotEnoughData, SerError
from ..metrics import classification_metrics, label_set
from ..progress import Progress
from ..runs import (Run, RunError, complete_run, corpus_record, create_run, load_run, prediction_frame, progress_writer,
                    write_predictions)
from .grid_search import Cancelled

log = logging.getLogger(__name__)

KIND = "evaluation"
SPLIT = "cross-corpus"  # what run lists show in their split column


# ---------------------------------------------------------------- what a run's model knows

def model_labels(run: Run) -> list[str]:
    """The emotions the run's model can name, in its own order: a scikit-learn model's ``classes_``
    (``model.joblib``), a saved transformers model's ``id2label`` (``model/config.json``). RunError when
    the run keeps neither."""
    if (run.path / "model.joblib").exists():
        import joblib

        return [str(c) for c in joblib.load(run.path / "model.joblib").classes_]  # written by this workbench
    config = run.path / "model" / "config.json"
    if config.exists():
        id2label = json.loads(config.read_text())["id2label"]
        return [str(id2label[key]) for key in sorted(id2label, key=int)]
    raise RunError(f"run {run.run_id} ({run.kind}) keeps no model that can classify clips: neither "
                   f"{run.path / 'model.joblib'} nor {config}.", title="Run has no model")


def _has_joblib_model(run: Run) -> bool:
    """Whether the run classifies feature vectors with a scikit-learn model (then the target's features
    are read through the cache and classified in one batch)."""
    return (run.path / "model.joblib").exists() and bool(run.info.get("spec", {}).get("features"))


# ---------------------------------------------------------------- starting

def start_evaluation(run_id: str, corpus: Corpus) -> Run:
    """Create the evaluation run (status queued) that scores finished run ``run_id`` on ``corpus``.
    Refuses a run that is not found or not finished, and a corpus that shares no emotion with the model."""
    source = load_run(run_id)
    if source.kind == KIND:
        raise ConfigError(f"run {run_id} is itself a cross-corpus evaluation; score the run it evaluated "
                          f"({source.info.get('spec', {}).get('source_run')}) instead.", title="Not a trained run")
    if source.status != "finished":
        raise RunError(f"run {run_id} is {source.status}; only a finished run can be scored on another corpus.",
                       title="Run not finished")
    known = model_labels(source)
    target = label_set(corpus.clips["emotion"]) if len(corpus.clips) else []
    shared = [label for label in target if label in known]
    if not shared:
        raise ConfigError(f"run {run_id}'s model knows {', '.join(known)}; corpus {corpus.name} ({corpus.source}) "
                          f"has {', '.join(target) or 'no labelled clips'}: no emotion in common to score. Give a "
                          "corpus (or a manifest) with at least one of the model's emotions.",
                          title="No emotion in common")
    spec = source.info.get("spec", {})
    evaluation = {"source_run": run_id, "source_kind": source.kind, "model": spec.get("model"),
                  "features": spec.get("features"), "split": SPLIT, "labels": shared, "model_labels": known,
                  "source_corpus": source.info.get("corpus", {}).get("name"),
                  "same_audio": corpus.fingerprint == source.info.get("corpus", {}).get("fingerprint")}
    return create_run(KIND, evaluation, corpus_record(corpus))


# ---------------------------------------------------------------- the job

def run_evaluation(run: Run, corpus: Corpus, should_stop: Callable[[], bool] | None = None,
                   progress: Progress | None = None) -> Run:
    """Score the source run on ``corpus`` (the target corpus) and write predictions, metrics, ``clips``,
    ``unscored`` and ``failed`` into ``run``; status finished, or failed (raised) / cancelled."""
    report = progress_writer(run, progress)
    return complete_run(run, lambda: _score(run, corpus, report, should_stop), Cancelled)


def _score(run: Run, corpus: Corpus, report: Progress, should_stop) -> dict:
    spec = run.info["spec"]
    source = load_run(spec["source_run"])
    known = model_labels(source)
    emotions = corpus.clips["emotion"].astype(str)
    scorable = corpus.clips[emotions.isin(known)]
    unscored = {label: int(n) for label, n in emotions[~emotions.isin(known)].value_counts().items()}
    unscored = {label: unscored[label] for label in label_set(list(unscored))} if unscored else {}
    if scorable.empty:
        raise NotEnoughData(f"corpus {corpus.name} has no clip of the emotions run {source.run_id} knows "
                            f"({', '.join(known)}).", title="No emotion in common")
    if _has_joblib_model(source):
        ids, probabilities, failed = _baseline_probabilities(source, corpus, scorable, report)
    else:
        ids, probabilities, failed = _predictor_probabilities(source, scorable, report, should_stop)
    if not ids:
        raise NotEnoughData(f"none of the {len(scorable)} clips of {corpus.name} with a shared emotion could be "
                            f"classified; first problem: {failed[0]['clip']}: {failed[0]['problem']}",
                            title="No clip classified")
    shared = [label for label in label_set(scorable["emotion"]) if label in known]
    columns = [known.index(label) for label in shared]
    restricted = probabilities[:, columns]
    restricted = restricted / np.clip(restricted.sum(axis=1, keepdims=True), 1e-12, None)
    y_pred = np.asarray(shared, dtype=object)[restricted.argmax(axis=1)]
    outside_top = int((~np.isin(np.asarray(known, dtype=object)[probabilities.argmax(axis=1)], shared)).sum())
    clips = scorable.loc[ids]
    predictions = write_predictions(run, [prediction_frame(clips, "test", y_pred, restricted, shared)])
    metrics = classification_metrics(predictions["y_true"], predictions["y_pred"], labels=shared)
    report(1, 1, f"scored {len(ids)} clips")
    return {"metrics": metrics, "labels": shared, "clips": int(len(ids)), "unscored": unscored, "failed": failed,
            "outside_top": outside_top,
            "split_info": {"test": int(len(ids)), "test_speakers": int(clips["speaker"].nunique()),
                           "unscored": int(sum(unscored.values())), "failed": len(failed)}}


def _baseline_probabilities(source: Run, corpus: Corpus, scorable: pd.DataFrame, report: Progress):
    """A scikit-learn run: the target's features through the cache (as the run was trained), one batch."""
    import joblib

    from .features import extract_features

    files = corpus.files.loc[corpus.files.index.isin(scorable.index)]
    subset = dataclasses.replace(corpus, clips=scorable, files=files)
    features = extract_features(subset, source.info["spec"]["features"], progress=report)
    failed = [{"clip": _file_name(scorable, p.clip), "problem": p.problem} for p in features.failed]
    table = features.table.loc[features.table.index.isin(scorable.index)]
    if table.empty:
        return [], np.empty((0, 0)), failed
    model = joblib.load(source.path / "model.joblib")  # written by this workbench, never by a user upload
    report(0, 1, f"classifying {len(table)} clips")
    return list(table.index), model.predict_proba(table.to_numpy(dtype=np.float64)), failed


def _predictor_probabilities(source: Run, scorable: pd.DataFrame, report: Progress, should_stop):
    """Any other run (wav2vec2): clip by clip through the Predictor; a broken clip is recorded, not fatal."""
    from ..data.audio import SAMPLE_RATE, decode_file, load_audio
    from .predict import Predictor

    predictor = Predictor(source)
    order = {label: i for i, label in enumerate(predictor.labels)}
    ids, rows, failed = [], [], []
    total = len(scorable)
    for done, (clip_id, path) in enumerate(scorable["path"].items(), start=1):
        try:
            audio, rate = decode_file(path) if predictor.native_rate else (load_audio(path), SAMPLE_RATE)
            prediction = predictor.predict(audio, rate, name=_file_name(scorable, clip_id))
            row = np.zeros(len(order))
            for label, p in prediction.probs.items():
                row[order[label]] = p
            ids.append(clip_id)
            rows.append(row)
        except (SerError, OSError, ValueError) as exc:
            log.warning("%s: %s", path, exc)
            failed.append({"clip": _file_name(scorable, clip_id), "problem": str(exc)})
        report(done, total, f"scoring: {done}/{total} clips")
        if should_stop is not None and should_stop():
            raise Cancelled(f"stopped after {done} of {total} clips")
    return ids, (np.vstack(rows) if rows else np.empty((0, len(order)))), failed


def _file_name(clips: pd.DataFrame, clip) -> str:
    """A problem's clip as its file name (the feature cache names clips by id, or by path)."""
    if clip in clips.index:
        return str(clips.at[clip, "path"]).replace("\\", "/").rsplit("/", 1)[-1]
    return str(clip).replace("\\", "/").rsplit("/", 1)[-1]


