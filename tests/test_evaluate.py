"""Cross-corpus evaluation: a finished baseline (trained on one demo corpus) scored on a second demo
corpus made with another seed, through the engine, the CLI and the Baselines page."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from apptest import open_page
from ser.analysis.bias import analysis_frame
from ser.data.corpus import load_corpus
from ser.errors import ConfigError
from ser.learning import evaluate
from ser.learning.evaluate import run_evaluation, start_evaluation
from ser.metrics import classification_metrics
from ser.runs import RunError, list_runs, load_run, save_run
from tests.test_embeddings import offline, save_encoder  # noqa: F401  (offline: an autouse fixture)

ROOT = Path(__file__).resolve().parent.parent
SMALL_SVM_GRID = {"clf__C": [1], "clf__kernel": ["rbf"]}


@pytest.fixture(scope="session")
def trained(small_demo, tmp_path_factory) -> Path:
    """A finished SVM on mfcc13, trained once on the 6-actor demo corpus, in a cache of its own."""
    from ser.data.corpus import load_corpus
    from ser.learning.baselines import BaselineSpec, run_baseline

    cache = tmp_path_factory.mktemp("evaluate-source") / "cache"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SER_CACHE", str(cache))
        run = run_baseline(BaselineSpec(model="svm", split="report", grid_override=SMALL_SVM_GRID, jobs=2),
                           load_corpus(small_demo))
    assert run.status == "finished"
    return run.path


@pytest.fixture
def source(trained, isolated_cache):
    """The trained run, copied into this test's cache; its id."""
    shutil.copytree(trained, isolated_cache / "runs" / trained.name)
    return trained.name


@pytest.fixture(scope="session")
def other_demo(tmp_path_factory) -> Path:
    """A second demo corpus: 2 actors, another seed (164 clips)."""
    from ser.data.demo import generate_demo_corpus

    return generate_demo_corpus(tmp_path_factory.mktemp("other-demo") / "demo", actors=2, seed=7)


def manifest(other_demo: Path, out: Path, rename: dict[str, str], speakers: int | None = None,
             per_speaker: int | None = None) -> Path:
    """The other corpus as a manifest, its emotions renamed by ``rename`` (code -> word); when given, the
    first ``speakers`` actors only, and the first ``per_speaker`` clips of each (every emotion)."""
    clips = load_corpus(other_demo).clips
    if speakers is not None:
        clips = clips[clips["speaker"].isin(sorted(clips["speaker"].unique())[:speakers])]
    if per_speaker is not None:
        clips = clips.groupby("speaker").head(per_speaker)
    table = pd.DataFrame({"path": clips["path"], "emotion": clips["emotion"].replace(rename),
                          "speaker": clips["speaker"], "sex": clips["sex"]})
    table.to_csv(out, index=False)
    return out


@pytest.fixture
def renamed(other_demo, tmp_path) -> Path:
    """Its neutral clips labelled calm (CAL), which the model does not know."""
    return manifest(other_demo, tmp_path / "other.csv", {"NEU": "calm"})


def test_scores_the_shared_emotions_and_counts_the_others(source, renamed):
    corpus = load_corpus(renamed)
    run = run_evaluation(start_evaluation(source, corpus), corpus)
    assert run.status == "finished" and run.kind == "evaluation"
    neutral = int((corpus.clips["emotion"] == "CAL").sum())
    assert neutral > 0 and run.info["unscored"] == {"CAL": neutral}
    assert run.info["clips"] == len(corpus.clips) - neutral and run.info["failed"] == []
    assert run.info["labels"] == ["ANG", "DIS", "FEA", "HAP", "SAD"]
    predictions = run.predictions()
    assert len(predictions) == run.info["clips"] and set(predictions["part"]) == {"test"}
    assert set(predictions["y_pred"]) <= set(run.info["labels"])  # the decision is among the shared emotions
    probabilities = predictions[[f"prob_{label}" for label in run.info["labels"]]].to_numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    stored = classification_metrics(predictions["y_true"], predictions["y_pred"], labels=run.info["labels"])
    assert run.metrics == stored and run.metrics["clips"] == run.info["clips"]
    spec = run.info["spec"]
    assert spec["source_run"] == source and spec["source_kind"] == "baseline" and spec["features"] == "mfcc13"
    assert run.info["corpus"]["source"] == str(renamed) and spec["same_audio"] is False
    frame = analysis_frame(load_run(run.run_id), load_corpus(run.info["corpus"]["source"]).clips)  # what Bias reads
    assert len(frame) == run.info["clips"] and frame["speaker"].notna().all() and frame["sex"].notna().all()
    from ser.learning.predict import Predictor  # `predict --run` with an evaluation run uses its source's model

    assert Predictor(load_run(run.run_id)).run.run_id == source


def test_clip_by_clip_through_the_predictor_gives_the_same_predictions(source, other_demo, monkeypatch):
    corpus = load_corpus(other_demo)
    batched = run_evaluation(start_evaluation(source, corpus), corpus).predictions()
    monkeypatch.setattr(evaluate, "_has_joblib_model", lambda run: False)  # the path of a wav2vec2 run
    single = run_evaluation(start_evaluation(source, corpus), corpus)
    assert single.info["unscored"] == {} and single.info["clips"] == len(corpus.clips)
    single = single.predictions()
    assert list(single["clip_id"]) == list(batched["clip_id"])
    assert (single["y_pred"] == batched["y_pred"]).mean() > 0.95  # float32 cache vs float64 features
    np.testing.assert_allclose(single.filter(like="prob_"), batched.filter(like="prob_"), atol=0.02)


def test_the_model_decides_among_the_shared_emotions(source, other_demo, tmp_path):
    kept = manifest(other_demo, tmp_path / "three.csv", {"ANG": "calm", "DIS": "calm", "FEA": "surprise"})
    corpus = load_corpus(kept)
    run = run_evaluation(start_evaluation(source, corpus), corpus)
    counts = load_corpus(other_demo).clips["emotion"].value_counts()
    assert run.info["labels"] == ["HAP", "NEU", "SAD"]
    assert run.info["unscored"] == {"CAL": counts["ANG"] + counts["DIS"], "SUR": counts["FEA"]}
    predictions = run.predictions()
    probabilities = predictions[["prob_HAP", "prob_NEU", "prob_SAD"]].to_numpy()
    assert list(predictions["y_pred"]) == list(np.array(["HAP", "NEU", "SAD"])[probabilities.argmax(axis=1)])
    assert run.info["outside_top"] > 0  # the model's own first choice was often an emotion left out


def test_a_broken_clip_is_recorded_by_its_file_and_the_others_are_scored(source, renamed):
    corpus = load_corpus(renamed)
    broken = Path(corpus.clips.loc[corpus.clips["emotion"] == "ANG", "path"].iloc[0])
    data = broken.read_bytes()
    try:
        broken.write_bytes(b"RIFF not audio at all" * 10)
        run = run_evaluation(start_evaluation(source, corpus), corpus)
    finally:
        broken.write_bytes(data)
    assert run.status == "finished"
    assert [f["clip"] for f in run.info["failed"]] == [broken.name]
    assert run.info["clips"] == len(corpus.clips) - run.info["unscored"]["CAL"] - 1


def test_a_run_that_is_not_finished_or_not_found_is_refused(source, renamed):
    corpus = load_corpus(renamed)
    run = load_run(source)
    run.info["status"] = "running"  # update_run never moves a finished run back
    save_run(run)
    with pytest.raises(RunError, match="finished"):
        start_evaluation(source, corpus)
    with pytest.raises(RunError) as missing:
        start_evaluation("baseline-20250101-120000-ab12", corpus)
    assert missing.value.title == "Run not found"


def test_a_corpus_without_a_shared_emotion_is_refused_naming_both_label_sets(source, other_demo, tmp_path):
    words = {"ANG": "calm", "DIS": "calm", "FEA": "surprise", "HAP": "surprise", "NEU": "calm", "SAD": "boredom"}
    corpus = load_corpus(manifest(other_demo, tmp_path / "none.csv", words))
    with pytest.raises(ConfigError) as refused:
        start_evaluation(source, corpus)
    assert refused.value.title == "No emotion in common"
    assert "ANG, DIS, FEA, HAP, NEU, SAD" in refused.value.detail and "BOR, CAL, SUR" in refused.value.detail
    assert not [p for p in (Path(tmp_path) / "cache" / "runs").glob("evaluation-*")]


def test_an_evaluation_job_runs_in_the_worker(source, renamed, worker_process):
    import time

    from ser.jobs.control import submit_evaluation

    run = submit_evaluation(source, load_corpus(renamed))
    deadline = time.monotonic() + 120
    while load_run(run.run_id).status in ("queued", "running"):
        assert time.monotonic() < deadline, "the evaluation job did not end"
        time.sleep(0.3)
    run = load_run(run.run_id)
    assert run.status == "finished", run.info.get("error")
    assert run.info["unscored"]["CAL"] > 0 and len(run.predictions()) == run.info["clips"]


def test_cli_evaluate_json(source, renamed):
    done = subprocess.run([sys.executable, "-m", "ser", "evaluate", "--run", source, "--manifest", str(renamed),
                           "--json"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    run = load_run(payload["run_id"])
    assert run.kind == "evaluation" and run.status == "finished"
    assert payload["clips"] == run.info["clips"] and payload["unscored"] == run.info["unscored"]
    assert payload["unscored"]["CAL"] > 0
    assert payload["metrics"] == {k: run.metrics[k] for k in ("accuracy", "macro_f1", "uar")}
    refused = subprocess.run([sys.executable, "-m", "ser", "evaluate", "--run", source, "--json"], cwd=ROOT,
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "--data" in refused.stderr  # the other corpus is required


def test_baselines_page_queues_an_evaluation(source, renamed, other_demo, monkeypatch):
    import ser.jobs.control

    queued = []
    monkeypatch.setattr(ser.jobs.control, "enqueue", queued.append)  # the job is queued, not run here
    app = open_page(monkeypatch, "app_pages/baselines.py", other_demo)
    app.selectbox(key="evaluation_run").set_value(source)
    app.text_input(key="evaluation_corpus").set_value(str(renamed))
    app.button(key="start_evaluation").click().run()
    assert not app.exception, app.exception
    assert not app.error, [e.value for e in app.error]
    [run] = list_runs("evaluation")
    assert run.info["spec"]["source_run"] == source and run.status == "queued" and queued == [run.run_id]
    assert app.selectbox(key="open_run").value == run.run_id  # the new run is opened
    assert run.info["corpus"]["source"] == str(renamed)


@pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask and attn_mask")
def test_a_wav2vec2_run_and_a_baseline_on_embeddings_are_scored_too(small_demo, other_demo, tmp_path):
    """The other kinds of model a run keeps: a fine-tuned (tiny) wav2vec2, clip by clip through the Predictor,
    and a baseline on one hidden state of a (tiny) speech encoder, through the embedding cache."""
    from ser.learning.baselines import BaselineSpec, run_baseline
    from ser.learning.finetune import FinetuneSpec, run_finetune

    encoder = save_encoder(tmp_path / "encoder")
    train = load_corpus(manifest(small_demo, tmp_path / "train.csv", {}, speakers=2, per_speaker=36))
    target = load_corpus(manifest(other_demo, tmp_path / "target.csv", {"NEU": "calm"}, speakers=1, per_speaker=36))
    assert set(train.clips["emotion"]) == {"ANG", "DIS", "FEA", "HAP", "NEU", "SAD"}
    neutral = int((target.clips["emotion"] == "CAL").sum())
    finetuned = run_finetune(FinetuneSpec(model=str(encoder), epochs=1, batch_size=8, grad_accum=1, max_clips=48,
                                          max_seconds=1.0, learning_rate=1e-3, split="report"), train)
    probed = run_baseline(BaselineSpec(model="svm", split="report", features=f"ssl:{encoder}:1",
                                       grid_override=SMALL_SVM_GRID, jobs=1), train)
    own = run_evaluation(start_evaluation(probed.run_id, train), train)  # its own audio, relabelled or not
    assert own.info["spec"]["same_audio"] is True and own.info["unscored"] == {}
    for source in (finetuned, probed):
        assert source.status == "finished", source.info.get("error")
        run = run_evaluation(start_evaluation(source.run_id, target), target)
        assert run.status == "finished" and run.info["spec"]["source_kind"] == source.kind
        assert run.info["unscored"] == {"CAL": neutral} and run.info["clips"] == len(target.clips) - neutral
        predictions = run.predictions()
        assert run.metrics == classification_metrics(predictions["y_true"], predictions["y_pred"],
                                                     labels=run.info["labels"])


def test_an_evaluation_run_opens_on_the_baselines_and_bias_pages(source, renamed, other_demo, monkeypatch):
    corpus = load_corpus(renamed)
    run = run_evaluation(start_evaluation(source, corpus), corpus)
    app = open_page(monkeypatch, "app_pages/baselines.py", other_demo)
    app.selectbox(key="open_run").set_value(run.run_id).run()
    assert not app.exception, app.exception
    [caption] = [c.value for c in app.caption if c.value.startswith(f"Run {source} ")]
    assert f"CAL {run.info['unscored']['CAL']}" in caption and f"{run.info['clips']} clips" in caption
    assert {m.label: m.value for m in app.metric}["Test clips"] == f"{run.info['clips']:,}"
    app.switch_page("app_pages/bias.py").run()
    app.selectbox(key="run").set_value(run.run_id).run()
    assert not app.exception, app.exception
    assert {m.label: m.value for m in app.metric}["Clips"] == f"{run.info['clips']:,}"  # the other corpus' clips
    app.switch_page("app_pages/try_clip.py").run()  # the run chosen on Bias is tried, with its source's model
    assert not app.exception, app.exception
    assert app.selectbox(key="run").value == run.run_id
    assert any(f"classifies with the model of {source}" in c.value for c in app.caption)
