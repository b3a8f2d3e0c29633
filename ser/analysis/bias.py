"""RQ4: for whom does it work? A run's predictions joined with the clips table, metrics by group with
speaker-level intervals and a permutation-tested gap verdict (``ser.analysis.uncertainty``), filtered confusion
matrices beside the crowd's, and a decision tree that explains which clips get misclassified.

Every number per group carries its clips, its actors and a 95% interval from a bootstrap that resamples
actors with all their clips (1,000 replicates by default). A group with fewer than 5 actors keeps its
number but is marked as too few speakers to generalise and takes no part in the verdict. All scores come
from ``ser.metrics``, the definitions every page and the CLI share."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import config
from . import uncertainty
from ..data.corpus import age_band
from ..data.crowd import plurality_vote
from ..errors import ConfigError, NotEnoughData
from ..metrics import HEADLINE, TIE, cell_entries, confusion_counts, label_set, scores
from ..runs import Run, parts_of
from ..storage import atomic_write

GROUPINGS = {
    "actor": "speaker",
    "race": "race",
    "ethnicity": "ethnicity",
    "sex": "sex",
    "age band": "age band",
    "sentence": "sentence",
    "intensity": "intensity",
    "duration band": "duration band",
}
FILTER_COLUMNS = ["sex", "race", "ethnicity", "age band", "intensity", "sentence", "speaker"]
DURATION_BINS = [0, 2.0, 2.5, 3.0, np.inf]
DURATION_LABELS = ["< 2.0 s", "2.0-2.5 s", "2.5-3.0 s", ">= 3.0 s"]
N_BOOT = 1000
# part of the cache key: a new method never reads old results (v2: no group interval from fewer than MIN_ACTORS)
METHOD = "actor-bootstrap+permutation-v2"


# ---------------------------------------------------------------- the analysis table

def analysis_frame(run: Run, clips: pd.DataFrame, part: str = "test",
                   predictions: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per predicted clip of ``part``: y_true, y_pred, correct, the clip's metadata, bands,
    how many training clips its actor had (missing when the run did not store its training rows), and
    the crowd's voice-only vote where there are votes. ``predictions``: the run's table, if already read."""
    if predictions is None:
        predictions = run.predictions()  # read once: the parts and the training rows come from this table
    available = parts_of(predictions)
    if part not in available:
        raise ConfigError(f"run {run.run_id} has no {part!r} predictions; it has {', '.join(available)}.",
                          title="No predictions for that part")
    chosen = predictions[predictions["part"] == part].set_index("clip_id")
    frame = chosen[["y_true", "y_pred"]].join(clips.drop(columns=["emotion"], errors="ignore"), how="left")
    frame["correct"] = frame["y_true"] == frame["y_pred"]
    frame["age band"] = age_band(frame["age"]) if "age" in frame else None
    frame["duration band"] = (pd.cut(frame["duration_s"], DURATION_BINS, labels=DURATION_LABELS, right=False)
                              .astype(str) if "duration_s" in frame else None)
    if run.stores_training(available):
        train_ids = predictions.loc[predictions["part"] == "train", "clip_id"]
        train_counts = clips.reindex(train_ids)["speaker"].value_counts()
        frame["actor train clips"] = frame["speaker"].map(train_counts).fillna(0).astype(int)
    else:
        frame["actor train clips"] = pd.NA
    crowd = plurality_vote(clips, "voice")
    if not crowd.empty:
        frame["crowd_voice"] = crowd.reindex(frame.index)
    for column in FILTER_COLUMNS + ["duration band"]:
        if column in frame:
            frame[column] = frame[column].astype(object).where(frame[column].notna(), "unknown").astype(str)
    return frame


def filter_frame(frame: pd.DataFrame, filters: dict[str, list]) -> pd.DataFrame:
    """Keep rows whose column is in the chosen values, for every column with a choice (filters compose)."""
    mask = np.ones(len(frame), dtype=bool)
    for column, values in filters.items():
        if values:
            if column not in frame:
                raise ConfigError(f"cannot filter by {column!r}: the run's clips have no such column.")
            mask &= frame[column].astype(str).isin([str(v) for v in values]).to_numpy()
    return frame[mask]


# ---------------------------------------------------------------- metrics by group

@dataclass
class GroupReport:
    by: str
    overall: dict  # metric -> {"value", "ci", "support", "actors"}
    groups: pd.DataFrame  # group, support, actors, eligible, macro_f1, ci_low, ci_high[, crowd_macro_f1]
    gap: dict  # best, worst, gap, ci, p_value, distinguishable, compared, shuffle, replicates

    def to_json(self) -> dict:
        rows = [{"group": r.group, "support": int(r.support), "actors": int(r.actors), "eligible": bool(r.eligible),
                 "macro_f1": _num(r.macro_f1), "ci": [_num(r.ci_low), _num(r.ci_high)],
                 **({"crowd_macro_f1": _num(r.crowd_macro_f1)} if "crowd_macro_f1" in self.groups else {})}
                for r in self.groups.itertuples()]
        return {"by": self.by, "overall": {"macro_f1": self.overall["macro_f1"]["value"],
                                           "ci": self.overall["macro_f1"]["ci"],
                                           "actors": self.overall["macro_f1"].get("actors")},
                "overall_metrics": self.overall, "groups": rows, "gap": self.gap}


def group_columns(by: str | list[str]) -> list[str]:
    names = [by] if isinstance(by, str) else list(by)
    columns = []
    for name in names:
        if name not in GROUPINGS and name not in FILTER_COLUMNS:
            raise ConfigError(f"cannot group by {name!r}; choose from {', '.join(GROUPINGS)}.",
                              title="Unknown grouping")
        columns.append(GROUPINGS.get(name, name))
    return columns


def grouped_clips(frame: pd.DataFrame, columns: list[str], labels: list[str],
                  prediction: str = "y_pred") -> tuple[uncertainty.GroupedClips, list[str]]:
    """The frame as codes for ``ser.analysis.uncertainty``, and the name of every group code ("" where a code holds
    no clips). A column constant within every actor is actor-level; any other is clip-level."""
    actor_codes, _ = pd.factorize(frame["speaker"].astype(str))
    truth_codes = frame["y_true"].map({label: i for i, label in enumerate(labels)}).fillna(-1).to_numpy(int)
    positions, cells, weights = cell_entries(frame["y_true"], frame[prediction], labels)
    values = frame[columns].astype(str)
    by_actor = columns == ["speaker"]
    actor_level = [c for c in columns if by_actor or values.groupby(actor_codes)[c].nunique().max() <= 1]
    clip_level = [c for c in columns if c not in actor_level]
    actor_part = clip_part = None
    clip_levels = 1
    if actor_level and not by_actor:
        per_actor = _joined(values[actor_level].groupby(actor_codes).first())
        actor_part, _ = pd.factorize(per_actor.sort_index())
    if clip_level:
        clip_part, levels = pd.factorize(_joined(values[clip_level]))
        clip_levels = len(levels)
    clips = uncertainty.GroupedClips(actor_codes, truth_codes, positions, cells, weights, len(labels),
                                     actor_part, clip_part, clip_levels, by_actor)
    names = np.full(clips.groups, "", dtype=object)
    codes = clips.group_of_clip()
    first = np.unique(codes, return_index=True)
    names[first[0]] = _joined(values).to_numpy()[first[1]]
    return clips, list(names)


def group_clips(frame: pd.DataFrame, by: str | list[str], group: str) -> pd.Index:
    """The clips of one group of ``group_report(frame, by)`` (``group`` as its table names it, e.g.
    "Female × HI")."""
    return frame.index[(_joined(frame[group_columns(by)].astype(str)) == group).to_numpy()]


def _joined(values: pd.DataFrame) -> pd.Series:
    """The columns' values joined as one group name ("Female × HI"), vectorised."""
    joined = values.iloc[:, 0].astype(str)
    for column in values.columns[1:]:
        joined = joined + " × " + values[column].astype(str)
    return joined


def group_report(frame: pd.DataFrame, by: str | list[str], n_boot: int = N_BOOT, seed: int = 0) -> GroupReport:
    """Macro-F1 per group (one attribute, or two for intersections) with clips, actors and a speaker-level
    bootstrap 95% interval (none for a group of fewer than MIN_ACTORS actors, unless grouped by actor); the
    crowd's voice-only macro-F1 on the same clips where there are votes; the overall metrics with intervals;
    the largest gap between eligible groups with its permutation p-value."""
    columns = group_columns(by)
    if frame.empty:
        raise ConfigError("no clips to analyse (check the filters).", title="Nothing to analyse")
    labels = label_set(frame["y_true"], frame["y_pred"], frame.get("crowd_voice"))
    clips, names = grouped_clips(frame, columns, labels)
    point = scores(uncertainty.group_confusions(clips))
    present = np.flatnonzero(uncertainty.clips_per_group(clips) > 0)
    eligible = uncertainty.eligible_groups(clips)
    table = pd.DataFrame({"group": [names[g] for g in present],
                          "support": uncertainty.clips_per_group(clips)[present],
                          "actors": uncertainty.actors_per_group(clips)[present],
                          "eligible": eligible[present], "macro_f1": point["macro_f1"][present]})
    if n_boot:
        group_samples, overall_samples = uncertainty.bootstrap_confusions(clips, n_boot, seed)
        group_f1 = scores(group_samples)["macro_f1"]
        units = uncertainty.clips_per_group(clips) if clips.by_actor else uncertainty.actors_per_group(clips)
        low, high = uncertainty.percentile_interval(group_f1, units)
        if not clips.by_actor:  # from fewer actors an interval says nothing about other people (one: zero width)
            few = uncertainty.actors_per_group(clips) < uncertainty.MIN_ACTORS
            low, high = np.where(few, np.nan, low), np.where(few, np.nan, high)
        table["ci_low"], table["ci_high"] = low[present], high[present]
    else:
        group_f1 = overall_samples = None
        table["ci_low"] = table["ci_high"] = np.nan
    if "crowd_voice" in frame and frame["crowd_voice"].notna().any():
        voted = frame[frame["crowd_voice"].notna()]
        crowd, crowd_names = grouped_clips(voted, columns, labels, "crowd_voice")
        crowd_f1 = pd.Series(scores(uncertainty.group_confusions(crowd))["macro_f1"], index=crowd_names)
        crowd_f1 = crowd_f1[crowd_f1.index != ""]
        table["crowd_macro_f1"] = table["group"].map(crowd_f1[~crowd_f1.index.duplicated()])
    table = table.sort_values("macro_f1", ascending=False, kind="stable").reset_index(drop=True)
    name = " × ".join(by) if not isinstance(by, str) else by
    overall = overall_metrics(frame, labels, clips, overall_samples)
    return GroupReport(name, overall, table, gap_test(clips, names, point["macro_f1"], eligible, group_f1, n_boot,
                                                      seed))


def overall_metrics(frame: pd.DataFrame, labels: list[str], clips: uncertainty.GroupedClips,
                    samples: np.ndarray | None) -> dict:
    """Macro-F1, UAR and accuracy over the frame, each with the speaker-level bootstrap interval."""
    k = len(labels)
    total = np.bincount(clips.cells, clips.weights, minlength=k * k).reshape(k, k)
    point = scores(total)
    spread = scores(samples) if samples is not None else None
    out = {}
    for name in HEADLINE:
        ci = [float(v) for v in uncertainty.percentile_interval(spread[name], clips.actors)] if spread else [None, None]
        out[name] = {"value": float(point[name]), "ci": ci, "support": int(len(frame)), "actors": clips.actors}
    return out


def overall_report(frame: pd.DataFrame, n_boot: int = N_BOOT, seed: int = 0) -> dict:
    """Macro-F1, UAR and accuracy of any set of clips (a filtered subset, a selection) with the interval of the
    page's headline: actors resampled with all their clips, within each sex (``overall_metrics``), exactly as
    ``group_report(frame, "sex").overall``. With fewer than ``uncertainty.MIN_ACTORS`` actors there is no
    interval (``ci`` is [None, None]): resampling so few voices describes those people, not a population."""
    if frame.empty:
        raise ConfigError("no clips to analyse (check the filters).", title="Nothing to analyse")
    if "sex" not in frame:
        frame = frame.assign(sex="unknown")
    labels = label_set(frame["y_true"], frame["y_pred"], frame.get("crowd_voice"))
    clips, _ = grouped_clips(frame, ["sex"], labels)
    enough = clips.actors >= uncertainty.MIN_ACTORS
    samples = uncertainty.bootstrap_confusions(clips, n_boot, seed)[1] if n_boot and enough else None
    return overall_metrics(frame, labels, clips, samples)


def frame_digest(frame: pd.DataFrame) -> str:
    """A short digest of which clips a frame holds (its index): part of every cache key, so two subsets of
    the same size never share an entry."""
    return hashlib.sha1(pd.util.hash_pandas_object(frame.index, index=False).to_numpy().tobytes()).hexdigest()[:16]


def gap_test(clips: uncertainty.GroupedClips, names: list[str], macro_f1: np.ndarray, eligible: np.ndarray,
             group_samples: np.ndarray | None, n_boot: int, seed: int) -> dict:
    """The largest macro-F1 gap between eligible groups, its bootstrap interval (best and worst chosen
    again in every replicate) and a permutation p-value (``ser.analysis.uncertainty``)."""
    compared = int(np.count_nonzero(eligible & ~np.isnan(macro_f1)))
    shuffle = shuffle_description(clips)
    result = {"best": None, "worst": None, "gap": None, "ci": [None, None], "p_value": None,
              "distinguishable": None, "compared": compared, "shuffle": shuffle, "replicates": int(n_boot or 0)}
    if compared < 2:
        return result
    chosen = np.where(eligible, macro_f1, np.nan)
    best, worst = int(np.nanargmax(chosen)), int(np.nanargmin(chosen))
    gap = float(chosen[best] - chosen[worst])
    result.update(best=names[best], worst=names[worst], gap=gap)
    if n_boot:
        fewest = int(uncertainty.actors_per_group(clips)[eligible].min()) if not clips.by_actor else \
            int(uncertainty.clips_per_group(clips)[eligible].min())
        result["ci"] = uncertainty.simultaneous_gap_interval(macro_f1, group_samples, eligible, best, worst, fewest)
        null = uncertainty.permutation_gaps(clips, eligible, n_boot, seed)
        p_value = uncertainty.permutation_p_value(gap, null)
        result.update(p_value=p_value, distinguishable=bool(p_value < uncertainty.ALPHA))
    return result


def gap_verdict(gap: dict) -> str:
    """One paragraph about the largest gap that agrees with the numbers it prints (the page and the CLI
    both use it). The verdict comes from the permutation p-value; the interval is simultaneous over every
    pair of eligible groups, so it may be read for the named pair although that pair was chosen by the data."""
    if not gap or gap.get("compared", 0) < 2:
        return ("Fewer than two groups with enough speakers (at least 5 actors each; grouped by actor, at least "
                "10 clips each), so there is no verdict on differences between groups.")
    text = (f"Largest gap among the {gap['compared']} groups with enough speakers: {gap['best']} minus "
            f"{gap['worst']} = {gap['gap']:.3f} macro-F1")
    if gap.get("p_value") is None:
        return text + " (no replicates were drawn, so no interval or test)."
    low, high = gap["ci"]
    text += (f", 95% interval [{low:.3f}, {high:.3f}] (simultaneous over all pairs of these groups). "
             f"Permutation test ({gap['shuffle']}, {gap['replicates']:,} shuffles; the largest gap is re-chosen in "
             f"each, which corrects for the number of groups): p = {gap['p_value']:.3f}. ")
    if gap["distinguishable"]:
        text += "The groups differ by more than chance would explain."
    else:
        text += "A gap this large is not unusual when the groups do not differ: no evidence that they do."
    if gap["distinguishable"] != (low > 0 or high < 0):
        text += (" (The interval and the test are computed differently and disagree at the margin here: treat the "
                 "evidence as borderline.)")
    return text


def shuffle_description(clips: uncertainty.GroupedClips) -> str:
    if clips.by_actor:
        return "clips shuffled between actors, within each true emotion"
    if clips.actor_part is not None and clips.clip_part is not None:
        return "actors shuffled between groups, and clips within each actor and true emotion"
    if clips.actor_part is not None:
        return "group labels shuffled between actors"
    return "group labels shuffled within each actor and true emotion"


def cached_group_report(run: Run, frame: pd.DataFrame, by, part: str, n_boot: int = N_BOOT) -> GroupReport:
    """group_report, cached on disk per run, part, grouping, replicates and method (the predictions'
    modification time is part of the key), so the page and the CLI share it and it survives restarts."""
    key_text = json.dumps([METHOD, run.run_id, part, by, n_boot, run.predictions_path.stat().st_mtime_ns,
                           len(frame), frame_digest(frame)])
    path = config.bias_dir(run.run_id) / f"{hashlib.sha1(key_text.encode()).hexdigest()[:20]}.json"
    if path.exists():
        try:
            data = json.loads(path.read_text())
            os.utime(path)  # recently used: kept by _prune
            groups = pd.DataFrame(data["groups"])
            intervals = [c for c in ("ci_low", "ci_high") if c in groups]  # all None (no interval): still floats
            return GroupReport(data["by"], data["overall"], groups.astype({c: float for c in intervals}), data["gap"])
        except (OSError, ValueError, KeyError):
            path.unlink(missing_ok=True)
    report = group_report(frame, by, n_boot=n_boot)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"by": report.by, "overall": report.overall, "gap": report.gap,
                       "groups": json.loads(report.groups.to_json(orient="records"))})
    atomic_write(path, lambda tmp: tmp.write_text(text))
    _prune(path.parent)
    return report


REPORTS_KEPT = 200  # group reports saved per run (each grouping, part, replicates and analysed subset has one)


def _prune(folder) -> None:
    """Keep the REPORTS_KEPT most recently used reports of a run (every selection or filter analysed makes
    one, a few kB each); older ones are computed again if asked for. Also drops reports saved by earlier
    versions straight under cache/bias/, which no run deletion would ever remove."""
    reports = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
    for old in reports[REPORTS_KEPT:] + list(folder.parent.glob("*.json")):
        old.unlink(missing_ok=True)


# ---------------------------------------------------------------- confusion, model and crowd

def confusion(frame: pd.DataFrame, column: str = "y_pred") -> pd.DataFrame:
    """Counts of intended (rows) against ``column`` (y_pred, or crowd_voice for the crowd, whose tied
    votes count as equal shares), by ``ser.metrics``."""
    rows = frame.dropna(subset=[column])
    labels = label_set(rows["y_true"], rows[column])
    table = pd.DataFrame(confusion_counts(rows["y_true"], rows[column], labels), index=labels, columns=labels)
    table.index.name, table.columns.name = "intended", column
    return table


def cell_clips(frame: pd.DataFrame, intended: str, chosen: str, column: str = "y_pred") -> pd.Index:
    """The clips behind one cell of ``confusion(frame, column)``: intended ``intended``, ``column`` said
    ``chosen``. A tied crowd vote ("ANG/NEU") names a clip in the cell of each tied emotion (where it
    counts as an equal share)."""
    rows = frame.dropna(subset=[column])
    said = rows[column].astype(str)
    hit = said == chosen
    tied = said.str.contains(TIE, regex=False)
    if tied.any():
        hit |= tied & said.str.split(TIE).map(lambda names: chosen in names)
    return rows.index[(rows["y_true"].astype(str) == intended).to_numpy() & hit.to_numpy()]


# ---------------------------------------------------------------- the misclassification tree

TREE_FEATURES = ["y_true", "sex", "race", "ethnicity", "age band", "intensity", "sentence"]


@dataclass
class ErrorTree:
    model: object
    feature_names: list[str]
    heldout_accuracy: float
    majority_rate: float
    importances: pd.Series
    train_size: int
    test_size: int
    heldout_actors: int = 0
    notes: tuple[str, ...] = ()
    gain_ci: tuple[float, float] | None = None  # 95% interval of heldout_accuracy - majority_rate (actors resampled)

    @property
    def explains_something(self) -> bool:
        """Whether the tree beats the majority guess on held-out actors by more than chance: the interval of
        its gain lies above 0 (none with fewer than MIN_ACTORS held-out actors: no verdict then)."""
        return self.gain_ci is not None and self.gain_ci[0] > 0


def tree_inputs(frame: pd.DataFrame) -> pd.DataFrame:
    """One-hot metadata (intended emotion, sex, race, ethnicity, age band, intensity, sentence),
    duration, and how many clips of the actor were in training."""
    present = [c for c in TREE_FEATURES if c in frame]
    encoded = pd.get_dummies(frame[present].astype(str).rename(columns={"y_true": "emotion"}), prefix_sep="=")
    encoded["duration_s"] = frame["duration_s"].astype(float) if "duration_s" in frame else 0.0
    if "actor train clips" in frame and frame["actor train clips"].notna().all():
        encoded["actor train clips"] = frame["actor train clips"].astype(float)
    return encoded.astype(float)


TREE_FOLDS = 5  # folds of actors: each actor's clips are scored by a tree fitted without that actor


def error_tree(frame: pd.DataFrame, depth: int = 3, seed: int = 0) -> ErrorTree:
    """A decision tree predicting whether the model got a clip right, from metadata.

    The tree shown is fitted on every clip. Whether it explains anything is judged on actors it never saw:
    each clip is scored by a tree fitted on the other folds of actors (TREE_FOLDS actor-grouped folds, so no
    combination of features can stand in for an actor's identity), against guessing the outcome more common
    in those folds; the gain's 95% interval resamples actors with all their clips. (Scoring every actor once,
    not one held-out 30%, gives the verdict three times as many actors: on 30 actors a planted group effect
    was found far more often, with as few false alarms.)"""
    from sklearn.model_selection import GroupKFold
    from sklearn.tree import DecisionTreeClassifier

    if len(frame) < 20 or frame["correct"].nunique() < 2:
        raise NotEnoughData("the tree needs at least 20 clips with both right and wrong predictions.",
                            title="Nothing to explain")
    actors = frame["speaker"].astype(str).to_numpy()
    if len(set(actors)) < 3:
        raise NotEnoughData("the tree is scored on actors it was not fitted on, so it needs clips of at least 3 "
                            f"actors; these clips have {len(set(actors))}.", title="Too few actors")
    X, y = tree_inputs(frame), frame["correct"].to_numpy()

    def tree():
        return DecisionTreeClassifier(max_depth=depth, min_samples_leaf=max(5, len(X) // 200), random_state=seed)

    said, guessed = np.zeros(len(y), dtype=bool), np.zeros(len(y), dtype=bool)
    folds = GroupKFold(n_splits=min(TREE_FOLDS, len(set(actors))), shuffle=True, random_state=seed)
    for train, test in folds.split(X, y, actors):
        said[test] = tree().fit(X.iloc[train], y[train]).predict(X.iloc[test])
        guessed[test] = np.mean(y[train]) >= 0.5
    right, guess_right = said == y, guessed == y
    model = tree().fit(X, y)
    importances = pd.Series(model.feature_importances_, index=X.columns).sort_values(ascending=False)
    notes = ()
    if "actor train clips" not in X:
        notes = ("This run's predictions do not include its training clips (a wav2vec2 run made before every "
                 "run stored them), so how many training clips each actor had is unknown and left out.",)
    gain_ci = _gain_interval(right.astype(float) - guess_right, actors, seed)
    return ErrorTree(model, list(X.columns), float(right.mean()), float(guess_right.mean()),
                     importances[importances > 0], len(y), len(y), len(set(actors)), notes, gain_ci)


TREE_BOOT = 2000  # replicates of the tree's gain over the majority guess


def _gain_interval(gain: np.ndarray, actors: np.ndarray, seed: int) -> tuple[float, float] | None:
    """95% interval of the mean per-clip gain (the tree right minus the majority guess right) over the
    held-out clips, by the bootstrap the Bias page uses: actors resampled with all their clips, the expanded
    percentile interval. None with fewer than MIN_ACTORS held-out actors."""
    codes = np.unique(actors, return_inverse=True)[1]
    if codes.max(initial=-1) + 1 < uncertainty.MIN_ACTORS:
        return None
    sums, counts = np.bincount(codes, weights=gain), np.bincount(codes)
    weights = uncertainty.draw_counts(len(counts), TREE_BOOT, np.random.default_rng(seed))
    replicates = (weights @ sums) / (weights @ counts)
    low, high = uncertainty.percentile_interval(replicates[:, None], units=len(counts))[:, 0]
    return float(low), float(high)


def tree_dot(tree: ErrorTree) -> str:
    """The tree as Graphviz DOT: questions on the branches, each leaf with its size and error rate."""
    inner = tree.model.tree_
    classes = list(tree.model.classes_)
    wrong = classes.index(False) if False in classes else 0
    lines = ['digraph tree {', 'node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11];',
             'edge [fontname="Helvetica", fontsize=10];']
    for node in range(inner.node_count):
        counts = inner.value[node][0]
        share = counts / counts.sum() if counts.sum() else counts
        size = int(inner.n_node_samples[node])
        error_rate = float(share[wrong])
        colour = _error_colour(error_rate)
        if inner.children_left[node] == -1:
            label = f"{size} clips\\nerrors {error_rate:.0%}"
        else:
            label = f"{_question(tree.feature_names[inner.feature[node]], inner.threshold[node])}\\n{size} clips, " \
                    f"errors {error_rate:.0%}"
        lines.append(f'n{node} [label="{label}", fillcolor="{colour}"];')
        if inner.children_left[node] != -1:
            lines.append(f'n{node} -> n{inner.children_left[node]} [label="no"];')
            lines.append(f'n{node} -> n{inner.children_right[node]} [label="yes"];')
    lines.append("}")
    return "\n".join(lines)


def _question(feature: str, threshold: float) -> str:
    if "=" in feature:
        name, value = feature.split("=", 1)
        return f"{name} is {value}?".replace('"', "'")
    return f"{feature} > {threshold:.2f}?"


def _error_colour(rate: float) -> str:
    red = int(255 - 80 * (1 - rate))
    green = int(255 - 150 * rate)
    return f"#{red:02x}{green:02x}{green:02x}"


def _num(value):
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else float(value)
