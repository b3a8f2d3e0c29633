"""The demo corpus's metadata in CREMA-D's own CSV formats (as R's write.csv wrote them)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import cremad
from ..cremad import DEMOGRAPHICS_HEADER, MODALITIES, SENTENCE_HEADER, SUMMARY_HEADER, TABULATED_HEADER
from .actors import Person, Voice
from .clips import Clip
from .raters import LETTERS, Votes, clip_votes


def _num(x: float) -> str:
    """A number the way R's write.csv prints it (15 significant digits)."""
    return f"{float(x):.15g}"


def _quote(text: str) -> str:
    return '"' + str(text).replace('"', '""') + '"'


def _write_rows(path: Path, header: list[str], rows: list[list[str]]) -> None:
    lines = [",".join(_quote(h) for h in header)] + [",".join(row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _means(values: np.ndarray, letters: np.ndarray) -> list[str]:
    return [_num(values[letters == i].mean()) if np.any(letters == i) else "-1"
            for i in range(len(LETTERS))]


def tabulated_row(stimulus: int, modality: int, clip: Clip, votes: Votes) -> list[str]:
    """One row of tabulatedVotes.csv."""
    counts = votes.counts
    n = int(counts.sum())
    return ([_quote(f"{modality}{stimulus:05d}")] + [str(int(c)) for c in counts]
            + [_quote(clip.name), str(n), _num(counts.max() / n), _quote(":".join(votes.winners)),
               _num(votes.ratings.mean())] + _means(votes.ratings, votes.letters)
            + [_num(np.median(votes.ratings)), _num(votes.normed.mean())]
            + _means(votes.normed, votes.letters) + [_num(np.median(votes.normed))])


def vote_level(votes: Votes) -> str:
    """Mean intensity of the winning emotion(s), as summaryTable.csv prints it."""
    levels = [votes.ratings[votes.letters == LETTERS.index(x)].mean() for x in votes.winners]
    if len(levels) == 1:
        return _num(round(float(levels[0]), 2))
    return ":".join(f"{v:.2f}" for v in levels)


def summary_row(stimulus: int, clip: Clip, votes: dict[int, Votes]) -> list[str]:
    """One row of summaryTable.csv."""
    fields = [str(stimulus), clip.name]
    for m in MODALITIES:
        fields += [":".join(votes[m].winners), vote_level(votes[m])]
    return [_quote(f) for f in fields]


def write_metadata(out: Path, people: list[Person], voices: dict[int, Voice],
                   clips: list[Clip], seed: int) -> None:
    """VideoDemographics.csv, SentenceFilenames.csv and processedResults/*.csv."""
    _write_rows(out / cremad.DEMOGRAPHICS, DEMOGRAPHICS_HEADER,
                [[str(p.actor), str(p.age), _quote(p.sex), _quote(p.race), _quote(p.ethnicity)]
                 for p in people])
    _write_rows(out / cremad.SENTENCE_LIST, SENTENCE_HEADER,
                [[str(i), _quote(c.name)] for i, c in enumerate(clips, 1)])
    votes = [clip_votes(c, voices[c.actor], seed) for c in clips]
    (out / cremad.RESULTS_DIR).mkdir(exist_ok=True)
    _write_rows(out / cremad.VOTES, TABULATED_HEADER,
                [tabulated_row(i, m, c, v[m])
                 for m in MODALITIES for i, (c, v) in enumerate(zip(clips, votes), 1)])
    _write_rows(out / cremad.SUMMARY, SUMMARY_HEADER,
                [summary_row(i, c, v) for i, (c, v) in enumerate(zip(clips, votes), 1)])
