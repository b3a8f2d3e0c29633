"""Tests of the synthetic CREMA-D-shaped demo corpus (ser.data.demo)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from ser.data import demo
from ser.data.demo import actors, clips, phonetics, sound
from ser.errors import ConfigError
from ser.labels import EMOTIONS, INTENSITIES, SENTENCES, VOTE_LETTERS

TABULATED_HEADER = (
    '"","A","D","F","H","N","S","fileName","numResponses","agreement","emoVote","meanEmoResp",'
    '"meanAngerResp","meanDisgustResp","meanFearResp","meanHappyResp","meanNeutralResp",'
    '"meanSadResp","medianEmoResp","meanEmoRespNorm","meanAngerRespNorm","meanDisgustRespNorm",'
    '"meanFearRespNorm","meanHappyRespNorm","meanNeutralRespNorm","meanSadRespNorm",'
    '"medianEmoRespNorm"'
)
SUMMARY_HEADER = ('"","FileName","VoiceVote","VoiceLevel","FaceVote","FaceLevel",'
                  '"MultiModalVote","MultiModalLevel"')
DEMOGRAPHICS_HEADER = '"ActorID","Age","Sex","Race","Ethnicity"'
SENTENCE_HEADER = '"Stimulus_Number","Filename"'
ACTORS = 3
CLIPS = 82 * ACTORS


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, list[tuple[int, int]]]:
    """A 3-actor corpus written by two worker processes, with its progress calls."""
    calls: list[tuple[int, int]] = []
    out = demo.generate_demo_corpus(tmp_path_factory.mktemp("demo") / "crema", actors=ACTORS,
                                    seed=0, jobs=2, progress=lambda d, t, m: calls.append((d, t)))
    return out, calls


def all_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def wav_names(root: Path) -> list[str]:
    return sorted(p.stem for p in (root / "AudioWAV").glob("*.wav"))


def first_line(path: Path) -> str:
    return path.read_text(encoding="utf-8").splitlines()[0]


def votes_table(root: Path) -> pd.DataFrame:
    return pd.read_csv(root / "processedResults" / "tabulatedVotes.csv", dtype={"Unnamed: 0": str})


# ----------------------------------------------------------------------------- layout

def test_layout_and_marker(corpus):
    root, _ = corpus
    for name in ("AudioWAV", "VideoDemographics.csv", "SentenceFilenames.csv", "README.txt",
                 "processedResults/tabulatedVotes.csv", "processedResults/summaryTable.csv"):
        assert (root / name).exists(), name
    marker = json.loads((root / "SYNTHETIC.json").read_text(encoding="utf-8"))
    assert marker == {"synthetic": True, "actors": ACTORS, "seed": 0, "generator_version": 1,
                      "note": demo.MARKER_NOTE}
    assert demo.is_demo_corpus(root)
    assert "not real speech" in marker["note"]
    readme = (root / "README.txt").read_text(encoding="utf-8")  # what a person opening the folder reads
    assert readme.startswith("SYNTHETIC DEMO CORPUS")
    assert "not real emotional speech" in readme and "say nothing about emotion recognition" in readme


def test_clip_set_per_actor(corpus):
    root, _ = corpus
    names = wav_names(root)
    assert len(names) == CLIPS
    parts = [name.split("_") for name in names]
    assert all(len(p) == 4 for p in parts)
    for actor in range(1001, 1001 + ACTORS):
        mine = [p for p in parts if p[0] == str(actor)]
        assert len(mine) == 82
        assert {p[1] for p in mine} == set(SENTENCES)
        assert {p[2] for p in mine} == set(EMOTIONS)
        assert {p[3] for p in mine} == set(INTENSITIES)
        ieo = {(p[2], p[3]) for p in mine if p[1] == "IEO"}
        assert ieo == {("NEU", "XX")} | {(e, lv) for e in EMOTIONS if e != "NEU"
                                         for lv in ("LO", "MD", "HI")}
        assert all(p[3] == "XX" for p in mine if p[1] != "IEO")


def test_wav_format(corpus):
    root, _ = corpus
    for path in sorted((root / "AudioWAV").glob("*.wav")):
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16"), path.name
        assert 1.5 <= info.duration <= 3.5, path.name
        sound, _ = sf.read(path)
        assert np.all(np.isfinite(sound))
        assert np.sqrt(np.mean(sound ** 2)) > 0.005, f"{path.name} is silent"
        assert 0.2 < np.abs(sound).max() < 1.0


def test_progress_reports_every_clip(corpus):
    _, calls = corpus
    done = [d for d, _ in calls]
    assert calls[-1] == (CLIPS, CLIPS)
    assert done == sorted(done) and all(t == CLIPS for _, t in calls)


# ----------------------------------------------------------------------------- CSV files

def test_csv_headers_are_the_real_ones(corpus):
    root, _ = corpus
    assert first_line(root / "VideoDemographics.csv") == DEMOGRAPHICS_HEADER
    assert first_line(root / "SentenceFilenames.csv") == SENTENCE_HEADER
    assert first_line(root / "processedResults" / "tabulatedVotes.csv") == TABULATED_HEADER
    assert first_line(root / "processedResults" / "summaryTable.csv") == SUMMARY_HEADER
    lines = (root / "SentenceFilenames.csv").read_text(encoding="utf-8").splitlines()
    assert lines[1] == '1,"1001_IEO_NEU_XX"'


def test_sentence_filenames(corpus):
    root, _ = corpus
    table = pd.read_csv(root / "SentenceFilenames.csv")
    assert list(table.columns) == ["Stimulus_Number", "Filename"]
    assert list(table.Stimulus_Number) == list(range(1, CLIPS + 1))
    assert sorted(table.Filename) == wav_names(root)


def test_demographics_file(corpus):
    root, _ = corpus
    table = pd.read_csv(root / "VideoDemographics.csv")
    assert list(table.ActorID) == [1001, 1002, 1003]
    assert table.Age.between(20, 74).all()
    assert set(table.Sex) <= {"Male", "Female"}
    assert set(table.Race) <= {"African American", "Asian", "Caucasian", "Unknown"}
    assert set(table.Ethnicity) <= {"Hispanic", "Not Hispanic"}


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_demographics_cover_every_value(seed):
    people = actors.demographics(24, seed)
    sexes = [p.sex for p in people]
    assert sexes.count("Male") == sexes.count("Female") == 12
    assert {p.race for p in people} == {"African American", "Asian", "Caucasian", "Unknown"}
    assert {p.ethnicity for p in people} == {"Hispanic", "Not Hispanic"}
    assert sum(p.race == "Caucasian" for p in people) > 12
    assert all(20 <= p.age <= 74 for p in people)


def test_tabulated_votes(corpus):
    root, _ = corpus
    table = votes_table(root)
    assert len(table) == 3 * CLIPS
    ids = table["Unnamed: 0"]
    stimulus = pd.read_csv(root / "SentenceFilenames.csv").set_index("Filename").Stimulus_Number
    assert (ids.str.len() == 6).all()
    assert sorted(ids.str[0].value_counts().items()) == [("1", CLIPS), ("2", CLIPS), ("3", CLIPS)]
    assert (ids.str[1:].astype(int) == table.fileName.map(stimulus)).all()
    assert (table.groupby("fileName").size() == 3).all()
    counts = table[list("ADFHNS")].to_numpy()
    assert (counts.sum(axis=1) == table.numResponses).all()
    assert table.numResponses.between(5, 15).all()
    assert np.allclose(table.agreement, counts.max(axis=1) / table.numResponses)
    winners = [":".join(x for x, c in zip("ADFHNS", row) if c == row.max()) for row in counts]
    assert list(table.emoVote) == winners
    assert table.emoVote.str.contains(":").any(), "ties should occur now and then"


def test_tabulated_ratings(corpus):
    root, _ = corpus
    table = votes_table(root)
    names = {"A": "Anger", "D": "Disgust", "F": "Fear", "H": "Happy", "N": "Neutral", "S": "Sad"}
    for letter, name in names.items():
        for column in (f"mean{name}Resp", f"mean{name}RespNorm"):
            voted = table[letter] > 0
            assert (table.loc[~voted, column] == -1).all()
            assert table.loc[voted, column].between(0, 100).all()
    for column in ("meanEmoResp", "medianEmoResp", "meanEmoRespNorm", "medianEmoRespNorm"):
        assert table[column].between(0, 100).all()


def test_summary_table_matches_votes(corpus):
    root, _ = corpus
    summary = pd.read_csv(root / "processedResults" / "summaryTable.csv", dtype=str)
    assert len(summary) == CLIPS
    assert list(summary["Unnamed: 0"]) == [str(i) for i in range(1, CLIPS + 1)]
    table = votes_table(root)
    modality = table["Unnamed: 0"].str[0]
    for digit, column in (("1", "Voice"), ("2", "Face"), ("3", "MultiModal")):
        votes = table[modality == digit].set_index("fileName").emoVote
        assert (summary[f"{column}Vote"].to_numpy() == votes[summary.FileName].to_numpy()).all()
        levels = summary[f"{column}Level"].str.split(":")
        assert (levels.str.len() == summary[f"{column}Vote"].str.split(":").str.len()).all()
        assert all(0 <= float(v) <= 100 for vs in levels for v in vs)


def test_voice_votes_are_hardest(corpus):
    root, _ = corpus
    table = votes_table(root)
    truth = table.fileName.str.split("_").str[2].map({v: k for k, v in VOTE_LETTERS.items()})
    correct = table.emoVote == truth
    by_modality = correct.groupby(table["Unnamed: 0"].str[0]).mean()
    assert by_modality["1"] < by_modality["3"] and by_modality["1"] < by_modality["2"]
    assert 0.2 < by_modality["1"] < 0.8


# ----------------------------------------------------------------------------- sound

def clip_rms(path: Path) -> float:
    sound, _ = sf.read(path)
    return float(np.sqrt(np.mean(sound ** 2)))


def test_emotion_shapes_the_energy(corpus):
    root, _ = corpus
    rms = {e: np.mean([clip_rms(p) for p in (root / "AudioWAV").glob(f"*_{e}_*.wav")])
           for e in ("ANG", "SAD", "NEU")}
    assert rms["ANG"] > 1.2 * rms["SAD"]
    assert rms["ANG"] > rms["NEU"]


def test_sad_is_slower_than_angry(corpus):
    root, _ = corpus
    seconds = {e: np.mean([sf.info(p).duration for p in (root / "AudioWAV").glob(f"*_{e}_XX.wav")])
               for e in ("ANG", "SAD")}
    assert seconds["SAD"] > seconds["ANG"]


def test_sentences_have_plausible_syllable_counts():
    for text in SENTENCES.values():
        syllables = phonetics.sentence_syllables(text)
        assert 4 <= len(syllables) <= 12, text
        assert all(s.vowel in phonetics.VOWELS for s in syllables)


# ----------------------------------------------------------------------------- determinism

def test_regenerating_half_written_corpus_gives_identical_bytes(corpus, tmp_path):
    """A copy without its marker (and with a damaged clip) is regenerated in one process,
    byte for byte equal to the two-process original."""
    root, _ = corpus
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    (copy / "SYNTHETIC.json").unlink()
    (copy / "AudioWAV" / "1002_TSI_HAP_XX.wav").write_bytes(b"damaged")
    (copy / "AudioWAV" / "1003_IEO_ANG_HI.wav").unlink()
    demo.generate_demo_corpus(copy, actors=ACTORS, seed=0, jobs=1)
    assert all_files(copy) == all_files(root)


def test_other_seed_gives_other_audio(corpus, tmp_path):
    root, _ = corpus
    other = demo.generate_demo_corpus(tmp_path / "other", actors=ACTORS, seed=1, jobs=2)
    assert wav_names(other) == wav_names(root)
    for name in wav_names(root):
        assert (other / "AudioWAV" / f"{name}.wav").read_bytes() != \
            (root / "AudioWAV" / f"{name}.wav").read_bytes()


def test_existing_corpus_is_reused(corpus):
    root, _ = corpus
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
    calls = []
    assert demo.generate_demo_corpus(root, actors=ACTORS, seed=0,
                                     progress=lambda d, t, m: calls.append(d)) == root
    assert calls == []
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()} == before


def test_clip_synthesis_is_a_pure_function():
    person = actors.demographics(2, 5)[0]
    voice = actors.actor_voice(person, 5)
    clip = clips.Clip(person.actor, "DFA", "FEA", "XX")
    first, second = sound.synthesize_clip(clip, voice, 5), sound.synthesize_clip(clip, voice, 5)
    assert np.array_equal(first, second)
    assert not np.array_equal(first, sound.synthesize_clip(clip, voice, 6))


# ----------------------------------------------------------------------------- errors

@pytest.mark.parametrize("actors", [1, 0, -3])
def test_too_few_actors(tmp_path, actors):
    with pytest.raises(ConfigError, match="the demo corpus needs a whole number of at least 2 actors"):
        demo.generate_demo_corpus(tmp_path / "c", actors=actors)
    assert not (tmp_path / "c").exists()


def test_refuses_a_foreign_folder(tmp_path):
    (tmp_path / "data.csv").write_text("keep me", encoding="utf-8")
    with pytest.raises(ConfigError, match="is not empty and is not a demo corpus"):
        demo.generate_demo_corpus(tmp_path, actors=2)
    assert (tmp_path / "data.csv").read_text(encoding="utf-8") == "keep me"
    assert not demo.is_demo_corpus(tmp_path)


def test_refuses_a_file_as_folder(tmp_path):
    target = tmp_path / "file"
    target.write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError, match="is a file; choose a folder"):
        demo.generate_demo_corpus(target, actors=2)


def test_is_demo_corpus_on_plain_folders(tmp_path):
    assert not demo.is_demo_corpus(tmp_path)
    assert not demo.is_demo_corpus(tmp_path / "missing")


def test_the_demo_size_comes_from_ser_demo_actors(monkeypatch):
    from ser import config
    from ser.errors import ConfigError

    monkeypatch.setenv("SER_DEMO_ACTORS", "91")
    assert config.demo_actors() == 91
    monkeypatch.setenv("SER_DEMO_ACTORS", "many")
    with pytest.raises(ConfigError, match="SER_DEMO_ACTORS='many': give a whole number of actors"):
        config.demo_actors()


def test_the_warm_up_runs_a_umap_and_mfcc_stats_outside_the_users_cache(monkeypatch, isolated_cache):
    """`make run` runs ser.warmup once per installation (to compile numba code); it must not touch the cache."""
    import os

    from ser import warmup
    from ser.analysis import clustering
    from ser.learning import features

    seen = []

    class MfccStats:
        @staticmethod
        def compute(audio):
            seen.append(("mfcc-stats", audio.size))

    monkeypatch.setattr(clustering, "umap_embedding",
                        lambda points, **kwargs: seen.append(("umap", len(points), os.environ["SER_CACHE"])))
    monkeypatch.setattr(features, "get_feature_set", lambda name: MfccStats if name == "mfcc-stats" else None)
    assert set(warmup.warm_up()) == {"umap", "mfcc-stats"}
    assert seen[0][:2] == ("umap", 300) and seen[0][2] != str(isolated_cache) and seen[1] == ("mfcc-stats", 16000)
    assert os.environ["SER_CACHE"] == str(isolated_cache) and not isolated_cache.exists()
