"""`python -m ser` refuses what it cannot do well and says what it did: settings checked before any work, a
corpus without clips, files that could not be used, runs that hold no model, closed pipes, help texts.
Most run ``ser.cli.main`` in this process (fast); a few need a real process."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from ser import cli

ROOT = Path(__file__).resolve().parents[2]


def run_main(capsys, *args):
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------- bias: settings checked first

@pytest.mark.parametrize("boot", [-5, 1, 99])
def test_bias_refuses_too_few_replicates(capsys, boot):
    code, out, err = run_main(capsys, "bias", "--run", "nope", "--by", "sex", "--boot", boot)
    assert code == 2 and out == ""
    assert f"error: Invalid setting: --boot {boot}: give 0 (no intervals or test) or at least 100" in err


@pytest.mark.parametrize("boot", [0, 100])
def test_bias_accepts_no_replicates_or_enough(capsys, boot):
    code, _, err = run_main(capsys, "bias", "--run", "nope", "--by", "sex", "--boot", boot)
    assert code == 2 and "Run not found" in err  # past the check: the run is looked for


@pytest.mark.parametrize("by, message", [
    ("sex+sex", "names 'sex' twice"),
    ("actor+speaker", "names the column 'speaker' twice"),
    ("sex+race+age band", "give one column, or two joined by '+'"),
    ("sex+", "give one column, or two joined by '+'"),
])
def test_bias_refuses_a_repeated_or_third_grouping(capsys, by, message):
    code, out, err = run_main(capsys, "bias", "--run", "nope", "--by", by)
    assert code == 2 and out == ""
    assert err.startswith("error: Invalid grouping: ") and message in err and "Unexpected" not in err


# ---------------------------------------------------------------- corpora without clips, or with unusable files

def test_a_folder_that_is_not_crema_d_is_an_error(capsys, tmp_path, crema_folder):
    folder = tmp_path / "other"
    (folder / "AudioWAV").mkdir(parents=True)
    for i, wav in enumerate(sorted((crema_folder / "AudioWAV").glob("*.wav"))[:3]):
        shutil.copy(wav, folder / "AudioWAV" / f"speaker{i}-happy.wav")
    for command in (["corpus"], ["features"], ["features", "--json"], ["baseline", "--model", "rf"]):
        code, out, err = run_main(capsys, *command, "--data", folder)
        assert code == 2 and out == "", command
        assert f"error: No usable clip: {folder} holds no usable clip: 3 file(s)" in err
        assert "do not parse as CREMA-D's ACTOR_SENTENCE_EMOTION_LEVEL.wav" in err and "--manifest" in err


def test_an_empty_manifest_is_an_error(capsys, tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,emotion,speaker\n/no/such.wav,angry,a\n")
    code, out, err = run_main(capsys, "corpus", "--manifest", manifest)
    assert code == 2 and "error: No usable clip:" in err and "lists no usable clip: 1 row(s)" in err


def test_features_says_how_many_files_could_not_be_used(capsys, crema_folder):
    (crema_folder / "AudioWAV" / "1001_DFA_ANG_XX.wav").write_text("version https://git-lfs.github.com/spec/v1\n")
    code, out, _ = run_main(capsys, "features", "--data", crema_folder, "--jobs", "1")
    assert code == 0
    assert f"1 file(s) of the corpus could not be used: see `python -m ser corpus --data {crema_folder}`" in out
    code, out, err = run_main(capsys, "features", "--data", crema_folder, "--jobs", "1", "--json")
    assert code == 0 and json.loads(out)["corpus_problems"] == 1  # stdout: the one JSON object
    assert "1 file(s) of the corpus could not be used" in err


# ---------------------------------------------------------------- lr-search: --lr is the first rate

@pytest.mark.parametrize("options, rate", [
    ([], 1e-4),
    (["--lr", "3e-5"], 3e-5),
    (["--init-lr", "2e-5"], 2e-5),
    (["--lr", "2e-5", "--init-lr", "2e-5"], 2e-5),
])
def test_lr_search_starts_at_lr(capsys, monkeypatch, crema_folder, options, rate):
    from ser.runs import load_run

    monkeypatch.setattr(cli, "_checked_model", lambda spec: spec)  # no model is loaded: the job is only queued
    code, out, err = run_main(capsys, "lr-search", "--data", crema_folder, "--model", "some/model", *options,
                              "--json")
    assert code == 0, err
    run = load_run(json.loads(out)["run_id"])
    assert run.info["search"]["init_lr"] == pytest.approx(rate)
    assert run.info["spec"]["learning_rate"] == pytest.approx(rate)


@pytest.mark.parametrize("lr, init_lr", [("1e-4", "1e-3"), ("3e-5", "1e-4")])  # even --init-lr at its default
def test_lr_search_refuses_two_different_first_rates(capsys, monkeypatch, crema_folder, lr, init_lr):
    monkeypatch.setattr(cli, "_checked_model", lambda spec: spec)
    code, _, err = run_main(capsys, "lr-search", "--data", crema_folder, "--model", "m", "--lr", lr,
                            "--init-lr", init_lr)
    assert code == 2 and f"error: Invalid setting: --lr {float(lr):g} and --init-lr {float(init_lr):g} differ" in err


# ---------------------------------------------------------------- probe: no interval from too few speakers

def test_probe_gives_no_interval_from_too_few_speakers(capsys, monkeypatch, crema_folder):
    rows = [{"layer": 0, "macro_f1": 0.5, "low": 0.5, "high": 0.5, "accuracy": 0.5, "uar": 0.5, "clips": 8,
             "actors": 2, "seconds": 0.1, "best": False, "metrics": {}},
            {"layer": 1, "macro_f1": 0.6, "low": 0.6, "high": 0.6, "accuracy": 0.6, "uar": 0.6, "clips": 8,
             "actors": 2, "seconds": 0.1, "best": True, "metrics": {}}]
    done = SimpleNamespace(run_id="probe-x", status="finished", metrics={"macro_f1": 0.6},
                           info={"layers": rows, "best_layer": 1, "best_run": "baseline-y"})
    monkeypatch.setattr("ser.learning.probe.run_probe", lambda spec, corpus, progress=None: done)
    code, out, _ = run_main(capsys, "probe", "--data", crema_folder, "--model", "m")
    assert code == 0
    assert "layer  0: macro-F1 0.500 no interval" in out and "layer  1: macro-F1 0.600 no interval  <- best" in out
    assert "[0.500, 0.500]" not in out
    assert [line for line in out.splitlines() if line.startswith("warning:")] == [
        "warning: only 2 speaker(s) in the test part, fewer than 5: no interval is given, as one resampled from so "
        "few voices says little about new ones (a corpus with more speakers, or --split report, gives one)."]
    code, out, err = run_main(capsys, "probe", "--data", crema_folder, "--model", "m", "--json")
    layers = json.loads(out)["layers"]
    assert [(row["low"], row["high"]) for row in layers] == [(None, None), (None, None)]
    assert "warning: only 2 speaker(s)" in err


# ---------------------------------------------------------------- predict: the run that holds the model

@pytest.mark.parametrize("kind, info, kept", [
    ("probe", {"best_run": "20260101-000000-baseline-abc"}, "20260101-000000-baseline-abc"),
    ("lr-search", {"best": {"lr": 1e-4, "run_id": "20260101-000000-wav2vec2-abc"}}, "20260101-000000-wav2vec2-abc"),
])
def test_predict_names_the_run_that_holds_the_model(capsys, tmp_path, kind, info, kept):
    from ser.runs import create_run, update_run

    run = create_run(kind, {"model": "m", "split": "actor"}, {"name": "c", "source": str(tmp_path)})
    update_run(run, status="finished", **info)
    code, out, err = run_main(capsys, "predict", "--run", run.run_id, tmp_path / "clip.wav")
    assert code == 2 and out == ""
    assert f"error: Not a model run: run {run.run_id} is a " in err
    assert f"{kept} has it. Give --run {kept}." in err


# ---------------------------------------------------------------- pipes, waiting, help

def test_a_closed_stdout_ends_quietly():
    reader, writer = os.pipe()
    os.close(reader)  # `python -m ser runs | head -0`: nobody reads
    try:
        done = subprocess.run([sys.executable, "-m", "ser", "runs"], cwd=ROOT, stdout=writer,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(writer)
    assert done.stderr == "" and done.returncode == 141


@pytest.mark.parametrize("status, message, line", [
    ("running", "queued", "running"),
    ("queued", "queued", "queued"),
    ("running", "", "running"),
    ("running", "epoch 2/10", "running: epoch 2/10"),
])
def test_wait_shows_the_status_not_a_stale_message(status, message, line):
    run = SimpleNamespace(status=status, info={"progress": {"message": message}})
    assert cli._wait_line(run) == line


def _options():
    parser = cli.build_parser()
    commands = next(a for a in parser._actions if a.dest == "command")
    for name, sub in commands.choices.items():
        for action in sub._actions:
            if action.dest != "help":
                yield name, action


def test_every_option_has_help_and_its_default():
    for name, action in _options():
        assert action.help, f"{name} {action.option_strings or action.dest} has no help"
        if action.option_strings and action.default not in (None, False) and not action.required:
            assert "default" in action.help, f"{name} {action.option_strings} does not say its default"


def test_help_texts_say_each_thing_once():
    helps = {(name, action.dest): action.help for name, action in _options()}
    schedule = helps[("lr-search", "schedule")]
    assert schedule.count("Algorithm 1") <= 1 and "algorithm1:" not in schedule
    assert "(nested)" not in helps[("baseline", "loso_tuning")]
    summary = next(a for a in cli.build_parser()._actions if a.dest == "command")._choices_actions
    baseline = next(a.help for a in summary if a.dest == "baseline")
    assert "logistic regression" in baseline and "MLP" in baseline
