"""`python -m ser` in subprocesses, as a script would call it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def ser(*args, check=True):
    done = subprocess.run([sys.executable, "-m", "ser", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def test_corpus_json(crema_folder):
    done = ser("corpus", "--data", crema_folder, "--json")
    summary = json.loads(done.stdout)  # exactly one JSON object on stdout
    assert summary["clips"] == 24 and summary["speakers"] == 2
    assert summary["emotions"] == {e: 4 for e in ["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"]}
    assert summary["problems"] == []
    assert set(summary["agreement"]) == {"voice", "face", "av", "pooled"}
    assert 0 < summary["crowd_voice"]["accuracy"] <= 1 and "macro_f1" in summary["crowd_voice"]


def test_corpus_reports_problems(crema_folder):
    (crema_folder / "AudioWAV" / "1001_DFA_ANG_XX.wav").write_text("version https://git-lfs.github.com/spec/v1\n")
    text = ser("corpus", "--data", crema_folder).stdout
    assert "problems: 1" in text and "git lfs pull" in text
    summary = json.loads(ser("corpus", "--data", crema_folder, "--json").stdout)
    assert summary["problems"][0]["clip"] == "1001_DFA_ANG_XX"


def test_manifest_source(tmp_path, crema_folder):
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"path,emotion,speaker\n{crema_folder}/AudioWAV/1001_DFA_ANG_XX.wav,angry,a\n")
    summary = json.loads(ser("corpus", "--manifest", manifest, "--json").stdout)
    assert summary["clips"] == 1 and summary["emotions"] == {"ANG": 1}


def test_features_json_then_cached(crema_folder):
    first = json.loads(ser("features", "--data", crema_folder, "--json").stdout)
    assert first["set"] == "mfcc13" and first["clips"] == 24 and first["failed"] == [] and not first["cached"]
    second = ser("features", "--data", crema_folder, "--json")
    assert json.loads(second.stdout)["cached"] is True
    assert "mfcc13 features: 24/24" in second.stderr  # progress goes to stderr


@pytest.mark.parametrize("args, message", [
    (["corpus", "--data", "/no/such/folder"], "error: Corpus not found: /no/such/folder does not exist"),
    (["features", "--data", "{crema}", "--set", "nope"], "error: Unknown feature set"),
])
def test_errors_are_one_line_without_traceback(crema_folder, args, message):
    done = ser(*[a.replace("{crema}", str(crema_folder)) for a in args], check=False)
    assert done.returncode != 0
    assert message in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""


def test_demo_command(tmp_path):
    out = tmp_path / "demo"
    summary = json.loads(ser("demo", "--out", out, "--actors", "2", "--seed", "1", "--json").stdout)
    assert summary["clips"] == 164 and summary["synthetic"] is True
    assert json.loads(ser("corpus", "--data", out, "--json").stdout)["synthetic"] is True


def test_baseline_then_runs(small_demo):
    done = ser("baseline", "--data", small_demo, "--model", "svm", "--grid", "none", "--jobs", "1", "--cv-folds", "3",
               "--json")
    result = json.loads(done.stdout)
    assert result["status"] == "finished" and result["split"] == "actor"
    assert result["cv"]["scheme"].startswith("3 speaker-grouped folds")  # --cv-folds, made from BaselineSpec.cv_folds
    assert set(result["metrics"]) == {"accuracy", "macro_f1", "uar"}
    assert 0 <= result["metrics"]["macro_f1"] <= 1 and result["best_params"] == {}
    listed = json.loads(ser("runs", "--json").stdout)["runs"]
    assert [r["run_id"] for r in listed] == [result["run_id"]]
    assert listed[0]["metrics"] == result["metrics"] and listed[0]["kind"] == "baseline"
    text = ser("runs").stdout
    assert result["run_id"] in text and "finished" in text


def test_baseline_on_a_corpus_too_small_for_its_split_says_why(crema_folder):  # 2 speakers, 4 clips per emotion
    actor = ser("baseline", "--data", crema_folder, "--model", "rf", "--grid", "none", "--split", "actor", check=False)
    assert actor.returncode == 2 and "Traceback" not in actor.stderr
    assert ("error: Invalid setting: speaker-grouped cross-validation needs at least 2 speakers in the training "
            "part") in actor.stderr
    report = ser("baseline", "--data", crema_folder, "--model", "rf", "--grid", "none", "--split", "report",
                 check=False)
    assert report.returncode == 2
    assert "error: Invalid setting: an emotion has only 2 training clip(s), fewer than the 5 folds" in report.stderr


def test_bias_json_matches_the_engine(small_demo):
    from ser.analysis.bias import analysis_frame, group_report, overall_report
    from ser.data.corpus import load_corpus
    from ser.runs import load_run

    run_id = json.loads(ser("baseline", "--data", small_demo, "--model", "rf", "--grid", "none", "--jobs", "1",
                            "--json").stdout)["run_id"]
    result = json.loads(ser("bias", "--run", run_id, "--by", "sex", "--boot", "100", "--json").stdout)
    assert result["by"] == "sex" and result["part"] == "test"
    frame = analysis_frame(load_run(run_id), load_corpus(small_demo).clips, "test")
    engine = group_report(frame, "sex", n_boot=100).to_json()
    assert result["gap"] == engine["gap"]
    actors = frame["speaker"].nunique()
    assert actors < 5  # MIN_ACTORS: a 6-actor demo holds fewer test actors than that
    # a group of fewer than MIN_ACTORS actors has no interval, else the engine's
    assert [{**g, "ci": [None, None]} if g["actors"] < 5 else g for g in engine["groups"]] == result["groups"]
    assert all(g["ci"] == [None, None] for g in result["groups"])
    headline = overall_report(frame, n_boot=100)  # the page's headline: no interval from so few actors
    assert result["overall"] == {"macro_f1": headline["macro_f1"]["value"], "ci": [None, None], "actors": actors}
    assert result["overall_metrics"] == headline
    by_sentence = json.loads(ser("bias", "--run", run_id, "--by", "sentence", "--boot", "100", "--json").stdout)
    assert by_sentence["overall"] == result["overall"]  # the headline does not depend on --by
    text = ser("bias", "--run", run_id, "--by", "sex", "--boot", "100").stdout
    assert f"macro-F1 {headline['macro_f1']['value']:.3f} no interval ({actors} actors, fewer than 5)" in text
    assert text.count("no interval (") == 1 + len(result["groups"]) and "[" not in text
    assert {g["group"] for g in result["groups"]} == set(frame["sex"])
    assert all(set(g) >= {"support", "actors", "eligible", "ci", "crowd_macro_f1"} for g in result["groups"])
    assert set(result["gap"]) >= {"best", "worst", "gap", "ci", "p_value", "distinguishable"}
    filtered = json.loads(ser("bias", "--run", run_id, "--by", "sex+age band", "--filter", "sex=Female",
                              "--boot", "0", "--json").stdout)
    assert filtered["groups"] and all(g["group"].startswith("Female × ") for g in filtered["groups"])
    assert "Fewer than two groups with enough speakers" in text  # a 6-actor demo: 2 test actors per sex
    missing = ser("bias", "--run", "nope", "--by", "sex", check=False)
    assert missing.returncode != 0 and "Run not found" in missing.stderr
    own = ser("evaluate", "--run", run_id, "--data", small_demo, "--json")  # scored on its own audio: flagged
    scored = json.loads(own.stdout)
    assert scored["same_audio"] is True and scored["corpus_problems"] == 0
    assert f"warning: {load_corpus(small_demo).name} holds the very audio files run {run_id} was trained on " \
           "(same_audio)" in own.stderr


@pytest.fixture
def tiny_encoder(tmp_path, monkeypatch) -> Path:
    """A tiny randomly initialised wav2vec2 saved as a checkpoint folder; the hub is never asked."""
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    torch.manual_seed(0)
    folder = tmp_path / "tiny-wav2vec2"
    Wav2Vec2Model(Wav2Vec2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                                 conv_dim=(32, 32, 32), conv_kernel=(10, 8, 4), conv_stride=(5, 4, 4),
                                 num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4)).save_pretrained(folder)
    Wav2Vec2FeatureExtractor().save_pretrained(folder)
    return folder


def test_ssl_features_json_gives_the_model_and_its_layers(crema_folder, tiny_encoder):
    first = json.loads(ser("features", "--data", crema_folder, "--set", "ssl", "--model", tiny_encoder,
                           "--json").stdout)
    assert first["set"] == "ssl" and first["model"] == str(tiny_encoder) and first["layers"] == 3  # 2 layers + 1
    assert first["clips"] == 24 and first["failed"] == [] and not first["cached"] and first["dim"] == 32
    again = ser("features", "--data", crema_folder, "--set", "ssl", "--model", tiny_encoder, "--layers", "1")
    assert "24 clips x 1 hidden states of 32 values" in again.stdout and "read from the cache" in again.stdout
    assert "embeddings: 24/24" in again.stderr  # progress goes to stderr
    missing = ser("features", "--data", crema_folder, "--set", "ssl", "--model", tiny_encoder, "--layers", "9",
                  check=False)
    assert missing.returncode == 2 and "error: No such layer: layer 9 of" in missing.stderr


@pytest.mark.parametrize("extra, message", [
    ([], "error: No model: --set ssl needs --model"),
    (["--model", "{model}", "--layers", "x"], "error: Unknown layers"),
    (["--model", "facebook/not-here"], "hf download facebook/not-here"),
])
def test_ssl_features_errors_say_what_to_do(crema_folder, tiny_encoder, extra, message):
    done = ser("features", "--data", crema_folder, "--set", "ssl",
               *[a.replace("{model}", str(tiny_encoder)) for a in extra], check=False)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_ssl_features_precision_is_passed_on(crema_folder, tiny_encoder):
    from ser.learning.encoder import cpu_has_bf16

    done = ser("features", "--data", crema_folder, "--set", "ssl", "--model", tiny_encoder, "--layers", "1",
               "--precision", "bfloat16", "--json", check=False)
    if cpu_has_bf16():
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["precision"].startswith("bfloat16")
    else:
        assert done.returncode == 2 and "bf16" in done.stderr and "Traceback" not in done.stderr
    wrong = ser("features", "--data", crema_folder, "--set", "ssl", "--model", tiny_encoder, "--precision", "int4",
                check=False)
    assert wrong.returncode == 2 and "invalid choice: 'int4'" in wrong.stderr
