"""The layer-wise probe (ser.learning.probe): the same light classifier on every hidden state of a tiny local
speech encoder (tests/test_embeddings.py's stand-ins), on a sample of the small demo corpus."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ser.data.corpus import load_corpus
from ser.errors import ConfigError
from ser.learning.probe import ProbeSpec, probe_table, run_probe, sample_clips
from ser.runs import load_run
from tests.test_embeddings import offline, save_encoder  # noqa: F401  (offline: an autouse fixture)

pytestmark = pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask and attn_mask")
CLIPS = 90  # of the 6-actor demo corpus: every actor and emotion, a few seconds of extraction


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    return save_encoder(tmp_path_factory.mktemp("probe-encoder") / "wav2vec2")


@pytest.fixture(scope="module")
def corpus(small_demo):
    return sample_clips(load_corpus(small_demo), CLIPS, 3)


def test_a_probe_scores_every_layer_and_keeps_the_best_as_a_baseline_run(encoder, corpus):
    run = run_probe(ProbeSpec(model=str(encoder), max_clips=CLIPS, jobs=1), corpus)
    assert run.status == "finished", run.info.get("error")
    table = probe_table(run)
    assert list(table["layer"]) == [0, 1, 2]  # the embedding output + num_hidden_layers (2)
    assert ((table["low"] <= table["macro_f1"]) & (table["macro_f1"] <= table["high"])).all()
    assert np.isfinite(table[["low", "high"]].to_numpy()).all()
    assert run.info["best_layer"] == int(table.loc[table["macro_f1"].idxmax(), "layer"])
    assert table["best"].sum() == 1 and int(table.loc[table["best"], "layer"].iloc[0]) == run.info["best_layer"]
    assert (table["seconds"] >= 0).all() and set(table.columns) >= {"accuracy", "uar"}
    kept = load_run(run.info["best_run"])
    assert kept.kind == "baseline" and kept.status == "finished"
    assert kept.info["spec"]["features"] == f"ssl:{encoder}:{run.info['best_layer']}"
    assert kept.info["spec"]["model"] == "logreg" and kept.info["spec"]["split"] == "actor"
    best = table.loc[table["best"]].iloc[0]
    # the kept run is the probe's classifier on that layer: the same test clips, the same score
    assert kept.metrics["macro_f1"] == pytest.approx(best["macro_f1"])
    assert kept.metrics["clips"] == run.info["split_info"]["test"]
    assert run.metrics == kept.metrics  # the probe's report is its best layer's, as any run's (runs tables, show_run)
    assert run.info["progress"]["message"].startswith("layer 3/3")


def test_the_interval_is_the_one_the_bias_page_shows_for_the_kept_run(encoder, small_demo):
    from ser.analysis.bias import analysis_frame, group_report

    corpus = sample_clips(load_corpus(small_demo), 300, 3)  # enough test clips for the interval to tell seeds apart

    _make_layer_informative(corpus, str(encoder), 1, signal=0.12)  # some clips right, some wrong
    # the report split: every actor in the test part (the actor split leaves one actor of each sex there)
    run = run_probe(ProbeSpec(model=str(encoder), layers="1", split="report", jobs=1), corpus)
    row = probe_table(run).iloc[0]
    kept = load_run(run.info["best_run"])
    overall = group_report(analysis_frame(kept, corpus.clips), "sex").overall["macro_f1"]
    assert overall["value"] == pytest.approx(row["macro_f1"])
    assert overall["ci"] == pytest.approx([row["low"], row["high"]])
    assert row["low"] < row["macro_f1"] < row["high"] and 0.3 < row["macro_f1"] < 0.95


def _make_layer_informative(corpus, model: str, layer: int, signal: float = 5.0) -> None:
    """Overwrite the stored vectors of one hidden state with the clip's emotion (one-hot x signal, plus noise of
    standard deviation 0.1)."""
    from ser.learning.embeddings import EmbeddingStore, extract_embeddings
    from ser.learning.features import file_keys

    result = extract_embeddings(corpus, model)
    store = EmbeddingStore(result.identity)
    stored = store.read_layer(layer)
    keys = file_keys(corpus.files)
    emotion = pd.Series(corpus.clips["emotion"].to_numpy(), index=keys.to_numpy())
    codes = pd.factorize(emotion.reindex(stored.index))[0]
    values = np.random.default_rng(0).normal(0, 0.1, (len(stored), result.dim))
    values[np.arange(len(stored)), codes] += signal
    columns = [c for c in stored.columns if c != "error"]
    stored[columns] = values.astype(np.float32)
    stored["error"] = stored["error"].astype("string")
    stored.to_parquet(store.layer_path(layer))


@pytest.mark.parametrize("informative", [0, 2])
def test_a_probe_finds_the_layer_that_holds_the_emotion(encoder, corpus, informative):
    """A known truth: one layer's stored vectors say the emotion, the others are a random model's."""
    _make_layer_informative(corpus, str(encoder), informative)
    run = run_probe(ProbeSpec(model=str(encoder), max_clips=CLIPS, jobs=1), corpus)
    table = probe_table(run).set_index("layer")
    assert run.info["best_layer"] == informative
    assert table.loc[informative, "macro_f1"] == pytest.approx(1.0)
    assert table.drop(index=informative)["macro_f1"].max() < 0.6


def test_cancelling_between_layers_keeps_the_layers_done(encoder, corpus):
    def stop_after_two_layers():
        return len(load_run(run_id[0]).info.get("layers") or []) >= 2 if run_id else False

    from ser.learning.probe import start_probe

    spec = ProbeSpec(model=str(encoder), max_clips=CLIPS, jobs=1)
    run = start_probe(spec, corpus)
    run_id = [run.run_id]
    run = run_probe(spec, corpus, run, should_stop=stop_after_two_layers)
    assert run.status == "cancelled" and "2 of 3 layers" in run.info["error"]
    assert len(run.info["layers"]) == 2 and "best_run" not in run.info


@pytest.mark.parametrize("field, value, message", [
    ("model", " ", "no model"), ("layers", "x", "layers"), ("classifier", "knn", "classifier"),
    ("split", "loso", "split"), ("max_clips", -1, "max_clips")])
def test_invalid_probe_specs(field, value, message):
    from ser.errors import SerError

    with pytest.raises(SerError, match=f"(?i){message}"):
        ProbeSpec(**{"model": "m", field: value}).validate()
    with pytest.raises(ConfigError, match="unknown probe parameter.*layer_list"):
        ProbeSpec.from_dict({"model": "m", "layer_list": "all"})


def test_the_cli_prints_the_layers_table_as_json(encoder, small_demo, capsys):
    from ser.cli import main

    code = main(["probe", "--data", str(small_demo), "--model", str(encoder), "--layers", "0,2",
                 "--max-clips", str(CLIPS), "--jobs", "1", "--json"])
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    assert [row["layer"] for row in payload["layers"]] == [0, 2]
    assert payload["best_layer"] in (0, 2) and payload["status"] == "finished"
    assert set(payload["layers"][0]) >= {"layer", "macro_f1", "low", "high", "accuracy", "uar", "seconds", "best"}
    assert load_run(payload["best_run"]).kind == "baseline" and load_run(payload["run_id"]).kind == "probe"


def test_a_probe_of_some_layers_runs_the_model_once_and_refuses_a_missing_layer(encoder, corpus, monkeypatch):
    from ser.errors import FeatureError
    from ser.learning import embeddings

    loads, real = [], embeddings.load_encoder
    monkeypatch.setattr(embeddings, "load_encoder", lambda *a, **k: loads.append(1) or real(*a, **k))
    run = run_probe(ProbeSpec(model=str(encoder), layers="0,2", max_clips=CLIPS, jobs=1), corpus)
    assert [row["layer"] for row in run.info["layers"]] == [0, 2]
    assert len(loads) == 1  # every hidden state stored by the first extraction, read by each layer and the kept run
    with pytest.raises(FeatureError, match="hidden states 0-2"):
        run_probe(ProbeSpec(model=str(encoder), layers="3", max_clips=CLIPS, jobs=1), corpus)
