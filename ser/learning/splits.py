"""Train/validation/test splits. A *split* is a scheme (actor, report, loso); applied to the clips it
gives each clip its *part*: a Series ``clip_id -> "train" | "val" | "test"`` named ``part``.

- ``report``: the report's stratified random split (``random_state=3``): 70/30 for baselines,
  70/15/15 for wav2vec2. The same actors appear in train and test, which flatters the score.
- ``actor``: actor-disjoint (the default): no speaker is in two parts, so the score says how well
  the model does on voices it has never heard.
- ``loso``: leave one speaker out: every speaker is the test set once (``loso_folds``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import ConfigError


@dataclass(frozen=True)
class SplitScheme:
    label: str  # what a page and the CLI's help call it
    jobs: tuple[str, ...]  # the jobs that accept it: "baseline", "finetune" (fine-tuning and its search)


# Every split scheme, declared once: the specs' choices, the CLI and the pages read this table.
SPLIT_SCHEMES = {
    "actor": SplitScheme("actor-disjoint (no speaker in both train and test)", ("baseline", "finetune")),
    "report": SplitScheme("the report's stratified random split (random_state=3)", ("baseline", "finetune")),
    "loso": SplitScheme("leave one speaker out (every speaker is the test set once)", ("baseline",)),
}
SPLITS = {name: scheme.label for name, scheme in SPLIT_SCHEMES.items()}
REPORT_SEED = 3
WHY_SPLITS_MATTER = ("The report's random split puts every actor in both train and test, so a model can "
                     "recognise the voice rather than the emotion; the actor-disjoint and leave-one-speaker-out "
                     "splits test on voices the model has never heard, which is what a user of the model faces.")


def splits_for(job: str) -> dict[str, str]:
    """The schemes a job accepts, name -> label."""
    return {name: scheme.label for name, scheme in SPLIT_SCHEMES.items() if job in scheme.jobs}


def check_split(name: str) -> str:
    if name not in SPLITS:
        raise ConfigError(f"unknown split {name!r}; choose one of {', '.join(SPLITS)}.", title="Unknown split")
    return name


def report_split(clips: pd.DataFrame, test_size: float = 0.3, val_size: float = 0.0,
                 seed: int = REPORT_SEED) -> pd.Series:
    """Stratified by emotion. With ``val_size`` the held-out part is split again, stratified, into
    validation and test (0.15/0.15 of the whole for the report's wav2vec2 split)."""
    from sklearn.model_selection import train_test_split

    _require_classes(clips)
    held = test_size + val_size
    emotions = clips["emotion"].to_numpy()
    train, rest = train_test_split(np.arange(len(clips)), test_size=held, random_state=seed, stratify=emotions)
    parts = np.full(len(clips), "train", dtype=object)
    if val_size > 0:
        val, test = train_test_split(rest, test_size=test_size / held, random_state=seed, stratify=emotions[rest])
        parts[val] = "val"
        parts[test] = "test"
    else:
        parts[rest] = "test"
    return pd.Series(parts, index=clips.index, name="part")


def actor_disjoint_split(clips: pd.DataFrame, test_size: float = 0.3, val_size: float = 0.0,
                         seed: int = REPORT_SEED) -> pd.Series:
    """Whole speakers go to train, validation or test; shares are of speakers, balanced by sex
    where sex is known."""
    speakers = _speaker_table(clips)
    if len(speakers) < (3 if val_size > 0 else 2):
        raise ConfigError(f"an actor-disjoint split needs at least {3 if val_size > 0 else 2} speakers; "
                          f"this corpus has {len(speakers)}.", title="Too few speakers")
    rng = np.random.default_rng(seed)
    test, val = [], []
    for _, group in speakers.groupby("stratum", sort=True):
        order = list(rng.permutation(group.index.to_numpy()))
        n_test = int(round(len(order) * test_size))
        n_val = int(round(len(order) * val_size))
        test += order[:n_test]
        val += order[n_test:n_test + n_val]
    test, val = _at_least_one(speakers.index, test, val, val_size, rng)
    parts = pd.Series("train", index=clips.index, name="part")
    parts[clips["speaker"].isin(test).to_numpy()] = "test"
    parts[clips["speaker"].isin(val).to_numpy()] = "val"
    return parts


def _at_least_one(all_speakers, test, val, val_size, rng):
    pool = [s for s in all_speakers if s not in test and s not in val]
    if not test:
        test = [pool.pop(int(rng.integers(len(pool))))]
    if val_size > 0 and not val:
        val = [pool.pop(int(rng.integers(len(pool))))]
    return test, val


def _speaker_table(clips: pd.DataFrame) -> pd.DataFrame:
    sex = clips.groupby("speaker")["sex"].first() if "sex" in clips.columns else None
    table = pd.DataFrame(index=pd.Index(sorted(clips["speaker"].dropna().unique()), name="speaker"))
    table["stratum"] = sex.reindex(table.index).fillna("unknown").astype(str) if sex is not None else "all"
    return table


def loso_folds(clips: pd.DataFrame) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(speaker, train positions, test positions) for every speaker."""
    speakers = clips["speaker"].to_numpy()
    folds = []
    for speaker in sorted(pd.unique(speakers)):
        test = np.flatnonzero(speakers == speaker)
        train = np.flatnonzero(speakers != speaker)
        folds.append((str(speaker), train, test))
    if len(folds) < 2:
        raise ConfigError("leave-one-speaker-out needs at least 2 speakers.", title="Too few speakers")
    return folds


def make_split(clips: pd.DataFrame, name: str, val_size: float = 0.0, seed: int = REPORT_SEED) -> pd.Series:
    """The named split of the clips (``loso`` has no single split: use ``loso_folds``)."""
    check_split(name)
    test_size = 0.15 if val_size else 0.3
    if name == "report":
        return report_split(clips, test_size=test_size, val_size=val_size, seed=seed)
    if name == "actor":
        return actor_disjoint_split(clips, test_size=test_size, val_size=val_size, seed=seed)
    raise ConfigError("leave-one-speaker-out is a set of folds, not one split.")


def _require_classes(clips: pd.DataFrame) -> None:
    counts = clips["emotion"].value_counts()
    if len(counts) < 2:
        raise ConfigError("a split needs at least two emotions in the corpus.", title="Too few classes")
    small = counts[counts < 4]
    if len(small):
        raise ConfigError(f"emotion(s) {', '.join(small.index)} have fewer than 4 clips; a stratified split "
                          "needs more.", title="Too few clips")
