import os

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from crema_layout import write_clip
from ser.data.corpus import (CLIP_COLUMNS, Problem, load_corpus, read_crema_d, read_demographics, read_manifest,
                             read_votes)
from ser.errors import CorpusError
from ser.labels import EMOTIONS


def problems_by_clip(corpus):
    return {p.clip: p for p in corpus.problems}


def test_reads_crema_layout_into_clips_table(crema_folder):
    corpus = load_corpus(crema_folder)
    clips = corpus.clips
    assert len(clips) == 24 and corpus.kind == "crema-d" and not corpus.problems
    assert list(clips.columns[: len(CLIP_COLUMNS)]) == CLIP_COLUMNS
    assert clips.index.name == "clip_id"
    row = clips.loc["1001_IEO_ANG_HI"]
    assert (row.emotion, row.speaker, row.sentence, row.intensity) == ("ANG", "1001", "IEO", "HI")
    assert (row.sex, row.age, row.race, row.ethnicity) == ("Male", 51, "Caucasian", "Not Hispanic")
    assert row.duration_s == pytest.approx(0.6, abs=0.01)
    assert set(clips.emotion) == set(EMOTIONS)


def test_votes_are_split_by_modality(crema_folder):
    clips = load_corpus(crema_folder).clips
    row = clips.loc["1001_DFA_ANG_XX"]
    # crema_layout.vote_counts: voice raters on DFA give 6 NEU + 3 ANG; face and av 8 ANG + 2 NEU
    assert (row.voice_NEU, row.voice_ANG, row.voice_responses) == (6, 3, 9)
    assert row.voice_vote == "NEU" and row.voice_agreement == pytest.approx(6 / 9)
    assert (row.face_ANG, row.face_NEU, row.face_vote) == (8, 2, "ANG")
    assert row.av_agreement == pytest.approx(0.8)


def test_broken_inputs_are_reported_and_the_rest_loads(crema_folder):
    audio = crema_folder / "AudioWAV"
    (audio / "1001_DFA_ANG_XX.wav").write_bytes(b"")
    (audio / "1001_DFA_DIS_XX.wav").write_text(
        "version https://git-lfs.github.com/spec/v1\noid sha256:4d7a\nsize 80044\n")
    (audio / "1001_DFA_FEA_XX.wav").write_bytes(os.urandom(4000))
    (audio / "1001_DFA_HAP_XX.wav").unlink()  # still listed in SentenceFilenames.csv
    sf.write(str(audio / "1001_DFA_SAD_XX.wav"), np.zeros((0,), dtype=np.float32), 16000)  # header only
    write_clip(audio / "notes.wav", "NEU")
    write_clip(audio / "1001_DFA_BOR_XX.wav", "NEU")
    write_clip(audio / "1099_DFA_NEU_XX.wav", "NEU")  # actor without demographics
    whole = (audio / "1002_IEO_ANG_HI.wav").read_bytes()  # 0.6 s: 9,600 frames of 2 bytes after a 44-byte header
    (audio / "1002_IEO_ANG_HI.wav").write_bytes(whole[: 44 + 2 * 4_000])

    corpus = load_corpus(crema_folder)
    found = problems_by_clip(corpus)
    assert "empty" in found["1001_DFA_ANG_XX"].problem
    assert "git lfs pull" in found["1001_DFA_DIS_XX"].problem.lower()
    assert "not a recognisable audio file (no decoder could read it)" in found["1001_DFA_FEA_XX"].problem
    assert found["1002_IEO_ANG_HI"].problem.startswith(
        f"{audio / '1002_IEO_ANG_HI.wav'}: truncated: the header promises 0.60 s (9,600 frames) but "
        "the file holds 0.25 s (4,000 frames)")
    assert "missing file" in found["1001_DFA_HAP_XX"].problem
    assert "no audio samples" in found["1001_DFA_SAD_XX"].problem
    assert "does not parse" in found["notes"].problem
    assert "unknown emotion code 'BOR'" in found["1001_DFA_BOR_XX"].problem
    assert "VideoDemographics.csv" in found["actor 1099"].problem
    for clip, problem in found.items():  # one rule: the clip id, and the file's full path first in the message
        if clip != "actor 1099":
            assert problem.problem.startswith(f"{audio / clip}.wav: "), problem
    kinds = {clip: p.kind for clip, p in found.items()}
    assert kinds == {"1001_DFA_ANG_XX": "empty", "1001_DFA_DIS_XX": "lfs-pointer", "1001_DFA_FEA_XX": "undecodable",
                     "1001_DFA_HAP_XX": "missing", "1001_DFA_SAD_XX": "no-samples", "1002_IEO_ANG_HI": "truncated",
                     "notes": "bad-name", "1001_DFA_BOR_XX": "unknown-label", "actor 1099": "no-metadata"}
    frame = corpus.problems_frame()
    assert frame.set_index("clip").loc["1002_IEO_ANG_HI", "kind"] == "truncated file"
    assert frame.set_index("clip").loc["1001_DFA_DIS_XX", "kind"] == "Git LFS pointer"
    assert found["1002_IEO_ANG_HI"].as_dict() == {"clip": "1002_IEO_ANG_HI", "kind": "truncated",
                                                  "problem": found["1002_IEO_ANG_HI"].problem}
    clips = corpus.clips
    assert len(clips) == 24 - 6 + 1  # six broken, one new actor kept with unknown demographics
    assert pd.isna(clips.loc["1099_DFA_NEU_XX", "sex"])
    assert "1001_DFA_NEU_XX" in clips.index


def test_metadata_files_are_optional(crema_folder):
    for name in ("VideoDemographics.csv", "SentenceFilenames.csv"):
        (crema_folder / name).unlink()
    (crema_folder / "processedResults" / "tabulatedVotes.csv").unlink()
    corpus = load_corpus(crema_folder)
    assert len(corpus.clips) == 24
    assert corpus.clips["sex"].isna().all()
    assert not corpus.has_votes
    assert any("VideoDemographics.csv not found" in p.problem for p in corpus.problems)


def test_wavs_directly_in_the_folder(tmp_path):
    write_clip(tmp_path / "1001_DFA_ANG_XX.wav", "ANG")
    assert list(read_crema_d(tmp_path).clips.index) == ["1001_DFA_ANG_XX"]


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "nowhere", "does not exist"),
    (lambda p: (p / "a.txt").write_text("x") and p / "a.txt", "not a CSV manifest"),
    (lambda p: (p / "empty").mkdir() or p / "empty", "no .wav files"),
])
def test_unusable_sources_raise_a_clear_error(tmp_path, make, message):
    with pytest.raises(CorpusError) as info:
        load_corpus(make(tmp_path))
    assert message in info.value.detail


def test_bad_metadata_file_names_the_file(crema_folder):
    (crema_folder / "VideoDemographics.csv").write_text('"Actor","Years"\n1001,51\n')
    with pytest.raises(CorpusError) as info:
        load_corpus(crema_folder)
    assert "VideoDemographics.csv" in info.value.detail and "ActorID" in info.value.detail


def test_fingerprint_changes_with_a_file(crema_folder):
    before = load_corpus(crema_folder).fingerprint
    assert load_corpus(crema_folder).fingerprint == before
    write_clip(crema_folder / "AudioWAV" / "1001_DFA_ANG_XX.wav", "ANG", seed=99)
    os.utime(crema_folder / "AudioWAV" / "1001_DFA_ANG_XX.wav", ns=(1, 1))
    assert load_corpus(crema_folder).fingerprint != before


# ---------------------------------------------------------------- manifest

def write_manifest(folder, rows, header="path,emotion,speaker,sex,age,corpus_note"):
    path = folder / "manifest.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def test_manifest_reads_relative_paths_and_maps_labels(tmp_path):
    (tmp_path / "wav").mkdir()
    for name, emotion in [("a01", "ANG"), ("b02", "SAD"), ("c03", "NEU")]:
        write_clip(tmp_path / "wav" / f"{name}.wav", emotion)
    manifest = write_manifest(tmp_path, ["wav/a01.wav,anger,s1,female,30,x", "wav/b02.wav,Sad,s1,female,30,y",
                                         f"{tmp_path}/wav/c03.wav,boredom,s2,male,,z"])
    corpus = load_corpus(manifest)
    clips = corpus.clips
    assert corpus.kind == "manifest" and not corpus.problems
    assert list(clips.emotion) == ["ANG", "SAD", "BOR"]
    assert clips.loc["a01", "path"] == str(tmp_path / "wav" / "a01.wav")
    assert clips.loc["b02", "speaker"] == "s1" and clips.loc["a01", "sex"] == "female"
    assert pd.isna(clips.loc["c03", "age"]) and clips.loc["a01", "age"] == 30
    assert clips.loc["a01", "corpus_note"] == "x"
    assert pd.isna(clips.loc["a01", "sentence"])


def test_manifest_problems_do_not_stop_it(tmp_path):
    write_clip(tmp_path / "ok.wav", "ANG")
    (tmp_path / "lfs.wav").write_text("version https://git-lfs.github.com/spec/v1\n")
    manifest = write_manifest(tmp_path, ["ok.wav,ANG,s1,,,", "gone.wav,ANG,s1,,,", "lfs.wav,SAD,s2,,,",
                                         "ok.wav,HAP,s3,,,", ",NEU,s4,,,", "ok2.wav,,s5,,,"])
    corpus = read_manifest(manifest)
    assert list(corpus.clips.index) == ["ok"]
    text = " | ".join(p.problem for p in corpus.problems)
    for expected in ("missing file", "git lfs pull", "duplicate clip id", "empty path", "no emotion label"):
        assert expected in text


def test_manifest_problems_carry_their_kind(tmp_path):
    write_clip(tmp_path / "ok.wav", "ANG")
    manifest = write_manifest(tmp_path, ["ok.wav,ANG,s1,,,", "gone.wav,ANG,s1,,,", "ok.wav,HAP,s3,,,", ",NEU,s4,,,",
                                         "ok2.wav,,s5,,,"])
    kinds = [p.kind for p in read_manifest(manifest).problems]
    assert sorted(kinds) == ["duplicate", "missing", "no-label", "no-path"]


def test_manifest_row_without_speaker_is_a_problem_naming_file_and_line(tmp_path):
    for name in ("a", "b", "c", "d"):
        write_clip(tmp_path / f"{name}.wav", "ANG")
    manifest = write_manifest(tmp_path, ["a.wav,anger,s1", "b.wav,anger,", "c.wav,sad,  ", "d.wav,sad,s2"],
                              header="path,emotion,speaker")
    corpus = read_manifest(manifest)
    assert list(corpus.clips.index) == ["a", "d"]
    assert corpus.clips["speaker"].tolist() == ["s1", "s2"]
    found = problems_by_clip(corpus)
    assert found["b"].kind == "no-speaker" and found["b"].label == "no speaker"
    assert found["b"].problem == f"{tmp_path / 'b.wav'} (manifest.csv line 3): no speaker"
    assert found["c"].problem == f"{tmp_path / 'c.wav'} (manifest.csv line 4): no speaker"


def test_manifest_speaker_ids_and_codes_are_read_as_written(tmp_path):
    for name in ("a", "b", "c", "d"):
        write_clip(tmp_path / f"{name}.wav", "ANG")
    # the blank speaker would make pandas read the column as floats: 01 -> 1.0
    manifest = write_manifest(tmp_path, ["a.wav,anger,01,01,30", "b.wav,sad,007,02,", "c.wav,sad,1001,,41",
                                         "d.wav,sad,,01,"], header="path,emotion,speaker,sentence,age")
    clips = read_manifest(manifest).clips
    assert clips["speaker"].to_dict() == {"a": "01", "b": "007", "c": "1001"}
    assert clips.loc["a", "sentence"] == "01" and pd.isna(clips.loc["c", "sentence"])
    assert clips["age"].dtype.kind == "f" and clips.loc["c", "age"] == 41  # numbers stay numbers
    assert clips["speaker"].nunique() == 3


def test_manifest_duplicate_names_both_lines(tmp_path):
    (tmp_path / "other").mkdir()
    write_clip(tmp_path / "a.wav", "ANG")
    write_clip(tmp_path / "other" / "a.wav", "SAD")
    manifest = write_manifest(tmp_path, ["a.wav,anger,s1", "", "a.wav,sad,s1", "other/a.wav,sad,s2"],
                              header="path,emotion,speaker")
    corpus = read_manifest(manifest)
    assert list(corpus.clips.index) == ["a"] and corpus.clips.loc["a", "emotion"] == "ANG"
    problems = [p.problem for p in corpus.problems]
    assert problems == [f"{tmp_path / 'a.wav'} (manifest.csv line 4): duplicate clip id 'a', first on line 2; "
                        "clip ids are file stems and must be unique",
                        f"{tmp_path / 'other' / 'a.wav'} (manifest.csv line 5): duplicate clip id 'a', first on "
                        f"line 2, {tmp_path / 'a.wav'}; clip ids are file stems and must be unique"]


def test_manifest_problems_name_files_one_way(tmp_path):
    write_clip(tmp_path / "ok.wav", "ANG")
    (tmp_path / "text.wav").write_text("hello\n")
    (tmp_path / "broken.wav").write_bytes(os.urandom(3000))
    (tmp_path / "lfs.wav").write_text("version https://git-lfs.github.com/spec/v1\n")
    manifest = write_manifest(tmp_path, ["ok.wav,anger,s1", "text.wav,sad,s1", '"broken.wav",sad,s1', "",
                                         "gone.wav,sad,s2", "lfs.wav,sad,s2", "nolabel.wav,,s2", ",sad,s2"],
                              header="path,emotion,speaker")
    corpus = read_manifest(manifest)
    found = problems_by_clip(corpus)
    lines = {"text": 3, "broken": 4, "gone": 6, "lfs": 7, "nolabel": 8}
    assert set(found) == {*lines, "manifest.csv line 9"}
    for clip, line in lines.items():
        assert found[clip].problem.startswith(f"{tmp_path / clip}.wav (manifest.csv line {line}): "), found[clip]
    assert found["broken"].problem.endswith("not a recognisable audio file (no decoder could read it). "
                                            "Decoder's message: libsndfile: Format not recognised")
    assert found["gone"].problem.endswith(": missing file") and found["nolabel"].problem.endswith(": no emotion label")
    assert found["manifest.csv line 9"].problem == "empty path"


def test_line_numbers_follow_quoted_line_breaks(tmp_path):
    write_clip(tmp_path / "a.wav", "ANG")
    manifest = tmp_path / "manifest.csv"
    manifest.write_text('path,emotion,speaker,note\n\na.wav,anger,s1,"two\nlines"\n  \ngone.wav,sad,s1,x\n')
    corpus = read_manifest(manifest)
    assert corpus.clips.loc["a", "note"] == "two\nlines"
    assert corpus.problems[0].problem == f"{tmp_path / 'gone.wav'} (manifest.csv line 6): missing file"


@pytest.mark.parametrize("separator, words", [(";", "semicolons"), ("\t", "tabs")])
def test_a_manifest_with_another_delimiter_says_so(tmp_path, separator, words):
    write_clip(tmp_path / "a.wav", "ANG")
    manifest = write_manifest(tmp_path, [separator.join(["a.wav", "anger", "01"])],
                              header=separator.join(["path", "emotion", "speaker"]))
    with pytest.raises(CorpusError) as info:
        read_manifest(manifest)
    assert info.value.title == "Manifest is not comma-separated"
    assert info.value.detail.startswith(f"{manifest} seems to separate its columns with {words}, not commas")
    assert "lacks the column" not in info.value.detail


def test_a_problem_kind_must_be_one_of_the_kinds():
    assert Problem("a", "missing file", "missing").label == "missing file"
    with pytest.raises(ValueError, match="unknown problem kind 'lost'"):
        Problem("a", "lost", "lost")


@pytest.mark.parametrize("letters", [["A", "F", "N"], ["W", "L", "E", "A", "F", "T", "N"], ["a", "sad"]])
def test_single_letter_emotions_are_never_guessed(tmp_path, letters):
    for i, _ in enumerate(letters):
        write_clip(tmp_path / f"c{i}.wav", "NEU")
    manifest = write_manifest(tmp_path, [f"c{i}.wav,{letter},s1,,," for i, letter in enumerate(letters)])
    with pytest.raises(CorpusError) as info:
        read_manifest(manifest)
    single = sorted(letter for letter in letters if len(letter) == 1)
    assert info.value.title == "Emotion letters are ambiguous"
    assert info.value.detail.startswith(f"{manifest}: the emotion column holds single letters ({', '.join(single)})")
    assert "Write the emotions as words or codes" in info.value.detail and "emodb_letter" in info.value.detail


def test_emodb_letters_through_the_emodb_letter_column(tmp_path):
    names = {"03a01Wa": "W", "03a01La": "L", "03a01Ea": "E", "03a01Ab": "A", "03a01Fa": "F", "03a01Ta": "T",
             "03a01Nc": "n", "03a02Xa": "X", "03a02Za": ""}
    for name in names:
        write_clip(tmp_path / f"{name}.wav", "NEU")
    manifest = write_manifest(tmp_path, [f"{name}.wav,{letter},03" for name, letter in names.items()],
                              header="path,emodb_letter,speaker")
    corpus = read_manifest(manifest)
    assert corpus.clips["emotion"].to_dict() == {"03a01Wa": "ANG", "03a01La": "BOR", "03a01Ea": "DIS", "03a01Ab": "FEA",
                                                 "03a01Fa": "HAP", "03a01Ta": "SAD", "03a01Nc": "NEU"}
    found = problems_by_clip(corpus)
    assert found["03a02Xa"].kind == "unknown-label"
    assert found["03a02Xa"].problem.startswith(f"{tmp_path / '03a02Xa.wav'} (manifest.csv line 9): unknown "
                                               "emodb_letter 'X' (expected one of W L E A F T N)")
    assert found["03a02Za"].kind == "no-label"


def test_a_manifest_with_two_emotion_columns_is_refused(tmp_path):
    write_clip(tmp_path / "a.wav", "ANG")
    manifest = write_manifest(tmp_path, ["a.wav,anger,W,s1"], header="path,emotion,emodb_letter,speaker")
    with pytest.raises(CorpusError, match=r"more than one column \(emotion, emodb_letter\)"):
        read_manifest(manifest)


def test_manifest_without_required_columns_names_file_and_columns(tmp_path):
    manifest = write_manifest(tmp_path, ["x.wav,ANG"], header="file,emotion")
    with pytest.raises(CorpusError) as info:
        read_manifest(manifest)
    assert str(manifest) in info.value.detail and "path, speaker" in info.value.detail
    no_emotion = write_manifest(tmp_path, ["x.wav,s1"], header="path,speaker")
    with pytest.raises(CorpusError, match=r"lacks the column\(s\) emotion\. .* a column emodb_letter in place of"):
        read_manifest(no_emotion)


def test_unreadable_csv_is_a_corpus_error(tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(CorpusError):
        read_manifest(manifest)


# ---------------------------------------------------------------- the real metadata files

def test_real_crema_metadata_parses(shared_crema):
    votes = read_votes(shared_crema / "processedResults" / "tabulatedVotes.csv")
    assert len(votes) == 7442
    assert votes["voice_responses"].min() > 0
    assert set(votes["face_vote"].dropna().str.split(":").explode()) == set(EMOTIONS)
    demographics = read_demographics(shared_crema / "VideoDemographics.csv")
    assert len(demographics) == 91
    assert set(demographics["sex"]) == {"Male", "Female"}
    names = pd.read_csv(shared_crema / "SentenceFilenames.csv")["Filename"]
    assert names.nunique() == 7442


def test_real_crema_agreement_matches_the_report(shared_crema):
    from ser.data.crowd import agreement_table
    from ser.reference import REPORT_AGREEMENT, truncate

    votes = read_votes(shared_crema / "processedResults" / "tabulatedVotes.csv")
    clips = votes.assign(emotion=[name.split("_")[2] for name in votes.index])
    pooled = agreement_table(clips)["pooled"].map(truncate)
    assert pooled.to_dict() == REPORT_AGREEMENT
