"""Read a corpus into one clips table: CREMA-D folders as distributed, or any manifest CSV.

The clips table is indexed by ``clip_id`` (the file stem) with the columns ``path, emotion,
speaker, sentence, intensity, sex, age, race, ethnicity, duration_s`` and, where the corpus has
crowd votes, ``{voice,face,av}_{EMO}`` vote counts, ``_responses``, ``_agreement`` and ``_vote``.
Unknown metadata is missing, never a dropped row. Files that cannot be used (missing, empty,
Git LFS pointer, WAV cut short, undecodable, unparseable name, unknown emotion; in a manifest also a row
without path, emotion or speaker, or a second row for a clip id) are not rows: they go to the ``problems``
list with the reason and its kind, and the rest of the corpus loads. One rule names the file: ``clip`` is
the clip id (the file stem) and the message starts with the file's full path, followed in a manifest by
the CSV line it came from ("/data/wav/a.wav (manifest.csv line 7): missing file").
"""

from __future__ import annotations

import csv
import hashlib
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import config
from . import cremad
from .audio import probe
from ..errors import AudioError, AudioProblem, CorpusError
from ..labels import (EMOTIONS, INTENSITIES, LETTER_SCHEMES, SENTENCES, VOTE_LETTERS, emotion_code, letter_code,
                      single_letters)

CLIP_COLUMNS = ["path", "emotion", "speaker", "sentence", "intensity", "sex", "age", "race",
                "ethnicity", "duration_s"]
MODALITIES = {"1": "voice", "2": "face", "3": "av"}
CREMA_NAME = re.compile(r"^(?P<speaker>\d{4})_(?P<sentence>[A-Z]{3})_(?P<emotion>[A-Z]{3})_(?P<level>[A-Z]{2})$")
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3"}
# Manifest columns read as text, never as numbers: speaker "01" stays "01" (letter columns too: *_letter).
MANIFEST_TEXT_COLUMNS = {"path", "emotion", "speaker", "sentence", "intensity", "sex", "race", "ethnicity"}
OTHER_DELIMITERS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}


# The kinds of problem, each set where the problem is found, with the words data health shows for it.
PROBLEM_KINDS = {
    "missing": "missing file",
    "unreadable": "unreadable file",
    "empty": "empty file",
    "lfs-pointer": "Git LFS pointer",
    "truncated": "truncated file",
    "undecodable": "undecodable",
    "no-samples": "no audio samples",
    "not-finite": "NaN or infinite samples",
    "bad-name": "name does not parse",
    "unknown-label": "unknown label code",
    "unknown-code": "unknown sentence or intensity code",
    "no-label": "no emotion label",
    "no-speaker": "no speaker",
    "no-path": "empty path",
    "duplicate": "duplicate clip id",
    "no-metadata": "without demographics",
    "features": "features failed",
}


@dataclass(frozen=True)
class Problem:
    """Something in a corpus that could not be used: the clip (or file, actor, manifest line), the
    message for the reader, and its ``kind`` (a key of PROBLEM_KINDS) for counting."""

    clip: str
    problem: str
    kind: str

    def __post_init__(self):
        if self.kind not in PROBLEM_KINDS:
            raise ValueError(f"unknown problem kind {self.kind!r}; kinds are {', '.join(PROBLEM_KINDS)}")

    @property
    def label(self) -> str:
        return PROBLEM_KINDS[self.kind]

    def as_dict(self) -> dict:
        """``{clip, problem, kind}``, as ``--json`` prints it."""
        return {"clip": self.clip, "problem": self.problem, "kind": self.kind}


@dataclass
class Corpus:
    """A loaded corpus: the clips table, what could not be used, and where it came from."""

    name: str
    source: Path
    kind: str  # "crema-d" or "manifest"
    clips: pd.DataFrame
    problems: list[Problem] = field(default_factory=list)
    synthetic: bool = False
    files: pd.DataFrame = field(default_factory=pd.DataFrame)  # clip_id -> path, size, mtime_ns

    @property
    def has_votes(self) -> bool:
        return "voice_agreement" in self.clips.columns

    @property
    def fingerprint(self) -> str:
        """Identity of the audio files (paths, sizes, modification times)."""
        files = self.files.sort_index()
        lines = files.index.astype(str) + "|" + files["path"].astype(str) + "|" + \
            files["size"].astype(str) + "|" + files["mtime_ns"].astype(str)
        return hashlib.sha1("\n".join(lines).encode()).hexdigest()[:16]

    def problems_frame(self) -> pd.DataFrame:
        """One row per problem: ``kind`` in words (as data health counts them), ``clip``, ``problem``."""
        return pd.DataFrame([(p.label, p.clip, p.problem) for p in self.problems],
                            columns=["kind", "clip", "problem"])


# ---------------------------------------------------------------- entry point

def load_corpus(source: str | Path | None = None, progress=None) -> Corpus:
    """Load a CREMA-D folder, a manifest CSV, or (None) the demo corpus, generated on first use."""
    if source is None or str(source).strip() == "":
        source = config.data_source()
    if source is None:
        return load_demo_corpus(progress=progress)
    path = Path(str(source).strip()).expanduser()
    if not path.exists():
        raise CorpusError(f"{path} does not exist. Give a CREMA-D folder (with AudioWAV/) or a manifest CSV.",
                          title="Corpus not found")
    if path.is_file():
        if path.suffix.lower() != ".csv":
            raise CorpusError(f"{path} is a file but not a CSV manifest. Give a CREMA-D folder or a "
                              "CSV with the columns path, emotion, speaker.")
        return read_manifest(path)
    return read_crema_d(path)


def load_demo_corpus(progress=None) -> Corpus:
    from .demo import generate_demo_corpus

    folder = generate_demo_corpus(config.demo_dir(), actors=config.demo_actors(), progress=progress)
    corpus = read_crema_d(folder)
    corpus.name = "demo corpus (synthetic)"
    corpus.synthetic = True
    return corpus


def corpus_signature(source: str | Path | None) -> str:
    """A cheap signature that changes when files are added, removed or metadata edited;
    the UI uses it to know when to reload."""
    source = source or config.data_source()
    if source is None:
        path = config.demo_dir()
    else:
        path = Path(str(source)).expanduser()
    parts = [str(path)]
    candidates = [path, path / cremad.AUDIO_DIR, path / cremad.DEMOGRAPHICS, path / cremad.SENTENCE_LIST,
                  path / cremad.VOTES, path / cremad.SYNTHETIC_MARKER]
    for candidate in candidates:
        try:
            stat = candidate.stat()
            parts.append(f"{candidate.name}:{stat.st_mtime_ns}:{stat.st_size}")
        except OSError:
            parts.append(f"{candidate.name}:-")
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]


# ---------------------------------------------------------------- CREMA-D

def read_crema_d(root: Path | str) -> Corpus:
    """Read CREMA-D as distributed: ``AudioWAV/*.wav`` plus the optional metadata files."""
    root = Path(root)
    audio_dir = root / cremad.AUDIO_DIR if (root / cremad.AUDIO_DIR).is_dir() else root
    files = sorted(p for p in audio_dir.iterdir() if p.is_file() and p.suffix.lower() == ".wav")
    listed = read_sentence_filenames(root / cremad.SENTENCE_LIST)
    if not files and not listed:
        raise CorpusError(f"{root} has no .wav files (looked in {audio_dir}). A CREMA-D folder holds "
                          "AudioWAV/*.wav; for another corpus give a manifest CSV.")
    problems: list[Problem] = []
    present = {p.stem for p in files}
    for name in sorted(set(listed) - present):
        problems.append(Problem(name, f"{audio_dir / name}.wav: missing file (listed in SentenceFilenames.csv)",
                                "missing"))

    records = []
    for path in files:
        match = CREMA_NAME.match(path.stem)
        if match is None:
            problems.append(Problem(path.stem, f"{path}: file name does not parse as ACTOR_SENTENCE_EMOTION_LEVEL "
                                    "(e.g. 1001_DFA_ANG_XX)", "bad-name"))
            continue
        parts = match.groupdict()
        if parts["emotion"] not in EMOTIONS:
            problems.append(Problem(path.stem, f"{path}: unknown emotion code {parts['emotion']!r} "
                                    f"(expected one of {' '.join(EMOTIONS)})", "unknown-label"))
            continue
        if parts["sentence"] not in SENTENCES:
            problems.append(Problem(path.stem, f"{path}: unknown sentence code {parts['sentence']!r}; kept without it",
                                    "unknown-code"))
            parts["sentence"] = None
        if parts["level"] not in INTENSITIES:
            problems.append(Problem(path.stem, f"{path}: unknown intensity code {parts['level']!r}; kept without it",
                                    "unknown-code"))
            parts["level"] = None
        records.append({"clip_id": path.stem, "path": str(path), "emotion": parts["emotion"],
                        "speaker": parts["speaker"], "sentence": parts["sentence"],
                        "intensity": parts["level"]})
    clips = pd.DataFrame.from_records(records, columns=["clip_id", "path", "emotion", "speaker",
                                                       "sentence", "intensity"]).set_index("clip_id")
    clips, files_table = _inspect_audio(clips, problems)
    clips = _join_demographics(clips, root / cremad.DEMOGRAPHICS, problems)
    votes_path = root / cremad.VOTES
    if votes_path.exists():
        clips = clips.join(read_votes(votes_path), how="left")
    return Corpus(name=root.name, source=root, kind="crema-d", clips=_ordered(clips),
                  problems=problems, synthetic=(root / cremad.SYNTHETIC_MARKER).exists(), files=files_table)


def read_sentence_filenames(path: Path) -> list[str]:
    if not path.exists():
        return []
    table = _read_csv(path)
    if "Filename" not in table.columns:
        raise CorpusError(f"{path} has no 'Filename' column; is it CREMA-D's SentenceFilenames.csv?")
    return [str(name).strip() for name in table["Filename"].dropna()]


def read_demographics(path: Path) -> pd.DataFrame:
    """VideoDemographics.csv -> sex, age, race, ethnicity indexed by actor id (string)."""
    table = _read_csv(path)
    needed = ["ActorID", "Age", "Sex", "Race", "Ethnicity"]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise CorpusError(f"{path} lacks the column(s) {', '.join(missing)}; expected {', '.join(needed)}.")
    table = table[needed].rename(columns={"ActorID": "speaker", "Age": "age", "Sex": "sex",
                                          "Race": "race", "Ethnicity": "ethnicity"})
    table["speaker"] = table["speaker"].astype(str).str.strip()
    table["age"] = pd.to_numeric(table["age"], errors="coerce")
    return table.drop_duplicates("speaker").set_index("speaker")


def _join_demographics(clips: pd.DataFrame, path: Path, problems: list[Problem]) -> pd.DataFrame:
    if not path.exists():
        if len(clips):
            problems.append(Problem(str(path), "VideoDemographics.csv not found: sex, age, race and "
                                    "ethnicity are unknown for every clip", "no-metadata"))
        for column in ("sex", "age", "race", "ethnicity"):
            clips[column] = np.nan
        return clips
    demographics = read_demographics(path)
    joined = clips.join(demographics, on="speaker", how="left")
    unknown = sorted(set(clips["speaker"]) - set(demographics.index))
    for speaker in unknown:
        count = int((clips["speaker"] == speaker).sum())
        problems.append(Problem(f"actor {speaker}", f"no row in VideoDemographics.csv: demographics of its "
                                f"{count} clip(s) are unknown", "no-metadata"))
    return joined


def read_votes(path: Path) -> pd.DataFrame:
    """tabulatedVotes.csv -> per clip and modality: vote counts, responses, agreement, plurality vote.

    The first digit of the unnamed id column is the modality: 1 voice, 2 face, 3 audio-visual."""
    table = _read_csv(path, dtype={"": str, "Unnamed: 0": str})
    id_column = table.columns[0]
    needed = [*VOTE_LETTERS, "fileName", "numResponses", "agreement", "emoVote"]
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise CorpusError(f"{path} lacks the column(s) {', '.join(missing)}; is it CREMA-D's "
                          "processedResults/tabulatedVotes.csv?")
    table["modality"] = table[id_column].astype(str).str.strip().str[0].map(MODALITIES)
    table = table.dropna(subset=["modality"])
    table["clip_id"] = table["fileName"].astype(str).str.strip()
    renames = {letter: code for letter, code in VOTE_LETTERS.items()}
    renames.update({"numResponses": "responses", "emoVote": "vote"})
    table = table.rename(columns=renames)
    table["vote"] = table["vote"].map(_vote_codes)
    columns = [*EMOTIONS, "responses", "agreement", "vote"]
    frames = []
    for modality in MODALITIES.values():
        part = table[table["modality"] == modality].drop_duplicates("clip_id").set_index("clip_id")[columns]
        frames.append(part.add_prefix(f"{modality}_"))
    return pd.concat(frames, axis=1)


def _vote_codes(value) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return ":".join(VOTE_LETTERS.get(letter.strip(), letter.strip()) for letter in value.split(":"))


# ---------------------------------------------------------------- manifest

def read_manifest(csv_path: Path | str) -> Corpus:
    """A CSV with at least ``path, emotion, speaker``; further columns are metadata.
    Relative paths are relative to the CSV's folder. In place of ``emotion`` a manifest may give a letter
    scheme's codes in a column ``<scheme>_letter`` (``emodb_letter``: EmoDB's W L E A F T N).
    Text columns (MANIFEST_TEXT_COLUMNS, ``*_letter``) are read as written: speaker ``01`` stays ``01``.
    A row without path, emotion or speaker, or with a clip id (file stem) seen on an earlier line, is a
    problem naming its CSV line, and is left out."""
    csv_path = Path(csv_path)
    header = _read_csv(csv_path, nrows=0).columns
    _refuse_other_delimiters(csv_path, header)
    text = {c: str for c in header if _normalised(c) in MANIFEST_TEXT_COLUMNS or _normalised(c).endswith("_letter")}
    table = _read_csv(csv_path, dtype=text)
    table.columns = [_normalised(c) for c in table.columns]
    lettered = any(f"{scheme}_letter" in table.columns for scheme in LETTER_SCHEMES)
    needed = ("path", "speaker") if lettered else ("path", "emotion", "speaker")
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise CorpusError(f"{csv_path} lacks the column(s) {', '.join(missing)}. A manifest needs at "
                          "least path, emotion, speaker (further columns are kept as metadata; letter codes go "
                          f"in a column {' or '.join(f'{s}_letter' for s in LETTER_SCHEMES)} in place of emotion).",
                          title="Manifest is missing columns")
    label_of = _label_reader(csv_path, table)
    problems: list[Problem] = []
    records = []
    lines: dict[str, str] = {}  # clip id -> "manifest.csv line N", for the problems found in its audio
    seen: dict[str, tuple[int, str]] = {}  # clip id -> (line, path) of its first row
    for number, row in zip(_line_numbers(csv_path, len(table)), table.to_dict("records")):
        where = f"{csv_path.name} line {number}"
        raw_path = _text(row.get("path"))
        if raw_path is None:
            problems.append(Problem(where, "empty path", "no-path"))
            continue
        path = Path(raw_path).expanduser()
        path = path if path.is_absolute() else (csv_path.parent / path)
        clip_id = path.stem
        emotion, problem = label_of(row)
        speaker = _text(row.get("speaker"))
        if problem is None and speaker is None:
            problem = ("no speaker", "no-speaker")
        if problem is None and clip_id in seen:
            first, first_path = seen[clip_id]
            also = "" if first_path == str(path) else f", {first_path}"
            problem = (f"duplicate clip id {clip_id!r}, first on line {first}{also}; clip ids are file stems and "
                       "must be unique", "duplicate")
        if problem is not None:
            problems.append(Problem(clip_id, f"{path} ({where}): {problem[0]}", problem[1]))
            continue
        seen[clip_id] = (number, str(path))
        lines[clip_id] = where
        records.append({**row, "clip_id": clip_id, "path": str(path), "emotion": emotion, "speaker": speaker})
    clips = pd.DataFrame.from_records(records) if records else pd.DataFrame(columns=["clip_id", "path",
                                                                                     "emotion", "speaker"])
    clips = clips.set_index("clip_id")
    clips, files_table = _inspect_audio(clips, problems, lines)
    for column in ("sentence", "intensity", "sex", "race", "ethnicity"):
        if column not in clips.columns:
            clips[column] = None
    clips["age"] = pd.to_numeric(clips["age"], errors="coerce") if "age" in clips.columns else np.nan
    return Corpus(name=csv_path.stem, source=csv_path, kind="manifest", clips=_ordered(clips),
                  problems=problems, files=files_table)


def _normalised(column) -> str:
    return str(column).strip().lower()


def _text(value) -> str | None:
    """A manifest cell as stripped text; None when blank or missing."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    value = str(value).strip()
    return value if value and value.lower() != "nan" else None


def _refuse_other_delimiters(csv_path: Path, header: pd.Index) -> None:
    """A header read as one column that holds semicolons, tabs or bars: the file is not comma-separated."""
    if len(header) != 1:
        return
    found = [name for mark, name in OTHER_DELIMITERS.items() if mark in str(header[0])]
    if found:
        raise CorpusError(f"{csv_path} seems to separate its columns with {found[0]}, not commas: its header "
                          f"reads as one column, {str(header[0])!r}. A manifest is comma-separated; save it as CSV "
                          "with commas (in a spreadsheet: comma as the field delimiter).",
                          title="Manifest is not comma-separated")


def _line_numbers(csv_path: Path, rows: int) -> list[int]:
    """The CSV line on which each data row starts (the header is line 1), skipping blank lines as pandas
    does and following quoted fields over line breaks. Plain numbering if the two readings disagree."""
    starts = []
    try:
        with open(csv_path, newline="", encoding="utf-8-sig", errors="replace") as handle:
            reader = csv.reader(handle)
            end = 0
            for record in reader:
                start, end = end + 1, reader.line_num
                if len(record) > 1 or (record and record[0].strip()):
                    starts.append(start)
    except (OSError, csv.Error):
        starts = []
    return starts[1:] if len(starts) == rows + 1 else list(range(2, rows + 2))


def _label_reader(csv_path: Path, table: pd.DataFrame):
    """How the manifest gives emotions: words or codes in ``emotion``, or letters in ``<scheme>_letter``.
    Returns ``row -> (code, None) or (None, (message, kind))``. Single letters in ``emotion``
    are refused for the whole manifest: they are never guessed."""
    schemes = [s for s in LETTER_SCHEMES if f"{s}_letter" in table.columns]
    if ("emotion" in table.columns and schemes) or len(schemes) > 1:
        named = ["emotion"] * ("emotion" in table.columns) + [f"{s}_letter" for s in schemes]
        raise CorpusError(f"{csv_path} gives emotions in more than one column ({', '.join(named)}); keep one.",
                          title="Manifest has two emotion columns")
    if schemes:
        scheme, column = schemes[0], f"{schemes[0]}_letter"

        def from_letter(row):
            raw = _text(row.get(column))
            if raw is None:
                return None, ("no emotion label", "no-label")
            code = letter_code(scheme, raw)
            if code is None:
                known = " ".join(LETTER_SCHEMES[scheme])
                return None, (f"unknown {column} {raw!r} (expected one of {known})", "unknown-label")
            return code, None

        return from_letter
    letters = single_letters(table["emotion"].dropna())
    if letters:
        raise CorpusError(f"{csv_path}: the emotion column holds single letters ({', '.join(letters)}), which mean "
                          "different emotions in different corpora (EmoDB's A is Angst, fear, and F is Freude, "
                          "happiness), so they are not guessed. Write the emotions as words or codes (anger or "
                          f"ANG, fear or FEA, ...), or, for EmoDB's letters W L E A F T N, rename the column to "
                          "emodb_letter.", title="Emotion letters are ambiguous")

    def from_word(row):
        emotion = emotion_code(row.get("emotion"))
        return (None, ("no emotion label", "no-label")) if emotion is None else (emotion, None)

    return from_word


# ---------------------------------------------------------------- shared

def _inspect_audio(clips: pd.DataFrame, problems: list[Problem],
                   lines: dict[str, str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Check every file (missing, empty, LFS pointer, WAV cut short, unreadable header) and read its
    duration. Unusable files leave the table and go to ``problems`` with their kind, named by clip id and,
    in the message, by full path and (``lines``: clip id -> "manifest.csv line N") where the manifest has it."""
    paths = [Path(p) for p in clips["path"]]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(_inspect_one, paths))
    keep, durations, identities = [], [], []
    for clip_id, path, (problem, duration, identity) in zip(clips.index, paths, results):
        if problem is not None:
            reason, kind = problem
            where = f" ({lines[clip_id]})" if lines and clip_id in lines else ""
            problems.append(Problem(clip_id, f"{path}{where}: {reason}", kind))
            continue
        keep.append(clip_id)
        durations.append(duration)
        identities.append({"clip_id": clip_id, "path": str(path), **identity})
    clips = clips.loc[keep].copy()
    clips["duration_s"] = np.asarray(durations, dtype=float)
    files = pd.DataFrame.from_records(identities, columns=["clip_id", "path", "size", "mtime_ns"])
    return clips, files.set_index("clip_id")


def _inspect_one(path: Path):
    """``(problem, duration, identity)``; ``problem`` is ``(reason, kind)`` or None, the reason without
    the file's path (the caller puts the path first, the same way for every kind)."""
    try:
        info = probe(path)
        stat = path.stat()
    except AudioError as exc:
        kind = exc.kind if isinstance(exc, AudioProblem) else "undecodable"
        return (exc.detail.removeprefix(f"{path}: "), kind), None, None
    except OSError as exc:  # removed between the check and stat
        return (f"cannot be read ({exc.strerror or exc})", "unreadable"), None, None
    return None, info.duration_s, {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _read_csv(path: Path, **kwargs) -> pd.DataFrame:
    try:
        return pd.read_csv(path, keep_default_na=True, **kwargs)
    except FileNotFoundError:
        raise CorpusError(f"{path} not found.") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise CorpusError(f"{path} is not a readable CSV ({str(exc).strip().splitlines()[0]}).") from None


def _ordered(clips: pd.DataFrame) -> pd.DataFrame:
    clips.index.name = "clip_id"
    extra = [c for c in clips.columns if c not in CLIP_COLUMNS]
    return clips[[c for c in CLIP_COLUMNS if c in clips.columns] + extra]


def age_band(age: pd.Series, width: int = 10) -> pd.Series:
    """Ages in bands of ``width`` years, labelled like '20-29'; missing stays missing."""
    numeric = pd.to_numeric(age, errors="coerce")
    low = (numeric // width) * width
    labels = low.map(lambda v: f"{int(v)}-{int(v) + width - 1}" if pd.notna(v) else None)
    return labels
