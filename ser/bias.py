"""RQ4: for whom does it work? A run's predictions joined with the clips table, metrics by group
with bootstrap intervals (fairlearn's MetricFrame), filtered confusion matrices beside the crowd's,
and a decision tree that explains which clips get misclassified.

Every number per group carries its support and a 95% bootstrap interval. Group intervals come from
fairlearn's bootstrap (the whole split is resampled ``n_boot`` times); the headline metrics use the
same percentile bootstrap computed directly. The gap between the best and
the worst group gets its own interval from a paired bootstrap that resamples within those two groups:
if that interval includes 0, the gap is not distinguishable from noise. (Choosing the best and worst
groups on the same data flatters the gap a little; read a barely-positive interval with care.)"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import config
from .corpus_report import age_band
from .crowd import plurality_vote
from .errors import ConfigError
from .labels import EMOTIONS
from .runs import Run

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
CI = [0.025, 0.975]


def macro_f1(y_true, y_pred) -> float:
    """Macro-F1 over the emotions present in ``y_true`` (a group without some emotion is not
    punished for it); fast, since the bootstrap calls it thousands of times."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.size == 0:
        return float("nan")
    scores = []
    for label in np.unique(y_true):
        truth, guess = y_true == label, y_pred == label
        tp = np.count_nonzero(truth & guess)
        denominator = np.count_nonzero(truth) + np.count_nonzero(guess)
        scores.append(2 * tp / denominator if denominator else 0.0)
    return float(np.mean(scores))


def uar(y_true, y_pred) -> float:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return float(np.mean([np.mean(y_pred[y_true == label] == label) for label in np.unique(y_true)]))


def accuracy(y_true, y_pred) -> float:
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


# ---------------------------------------------------------------- the analysis table

def analysis_frame(run: Run, clips: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """One row per predicted clip of ``split``: y_true, y_pred, correct, the clip's metadata, bands,
    how many training clips its actor had, and the crowd's voice-only vote where there are votes."""
    predictions = run.predictions()
    available = sorted(predictions["split"].unique())
    if split not in available:
        raise ConfigError(f"run {run.run_id} has no {split!r} predictions; it has {', '.join(available)}.",
                          title="No predictions for that split")
    train_counts = clips.reindex(predictions.loc[predictions["split"] == "train", "clip_id"])["speaker"].value_counts()
    chosen = predictions[predictions["split"] == split].set_index("clip_id")
    frame = chosen[["y_true", "y_pred"]].join(clips.drop(columns=["emotion"], errors="ignore"), how="left")
    frame["correct"] = frame["y_true"] == frame["y_pred"]
    frame["age band"] = age_band(frame["age"]) if "age" in frame else None
    frame["duration band"] = pd.cut(frame["duration_s"], DURATION_BINS, labels=DURATION_LABELS, right=False).astype(str) \
        if "duration_s" in frame else None
    frame["actor train clips"] = frame["speaker"].map(train_counts).fillna(0).astype(int)
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
    overall: dict  # metric -> {"value", "ci"}
    groups: pd.DataFrame  # group, support, macro_f1, ci_low, ci_high, crowd_macro_f1
    gap: dict  # best, worst, gap, ci, distinguishable

    def to_json(self) -> dict:
        rows = [{"group": r.group, "support": int(r.support), "macro_f1": _num(r.macro_f1),
                 "ci": [_num(r.ci_low), _num(r.ci_high)],
                 **({"crowd_macro_f1": _num(r.crowd_macro_f1)} if "crowd_macro_f1" in self.groups else {})}
                for r in self.groups.itertuples()]
        return {"by": self.by, "overall": {"macro_f1": self.overall["macro_f1"]["value"],
                                           "ci": self.overall["macro_f1"]["ci"]},
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


def group_report(frame: pd.DataFrame, by: str | list[str], n_boot: int = 100, seed: int = 0,
                 min_support: int = 1) -> GroupReport:
    """Macro-F1 per group (one attribute, or two for intersections) with support and fairlearn's
    bootstrap 95% interval; the crowd's voice-only macro-F1 on the same clips where there are votes."""
    from fairlearn.metrics import MetricFrame

    columns = group_columns(by)
    if frame.empty:
        raise ConfigError("no clips to analyse (check the filters).", title="Nothing to analyse")
    features = frame[columns] if len(columns) > 1 else frame[columns[0]]
    boot = dict(n_boot=n_boot, ci_quantiles=CI, random_state=seed) if n_boot else {}
    per_group = MetricFrame(metrics={"macro_f1": macro_f1}, y_true=frame["y_true"], y_pred=frame["y_pred"],
                            sensitive_features=features, **boot)
    table = per_group.by_group.copy()
    table["support"] = frame.groupby(columns if len(columns) > 1 else columns[0]).size()
    if n_boot:
        table["ci_low"] = per_group.by_group_ci[0]["macro_f1"]
        table["ci_high"] = per_group.by_group_ci[1]["macro_f1"]
    else:
        table["ci_low"] = table["ci_high"] = np.nan
    if "crowd_voice" in frame and frame["crowd_voice"].notna().any():
        voted = frame[frame["crowd_voice"].notna()]
        crowd = MetricFrame(metrics={"crowd_macro_f1": macro_f1}, y_true=voted["y_true"], y_pred=voted["crowd_voice"],
                            sensitive_features=voted[columns] if len(columns) > 1 else voted[columns[0]])
        table["crowd_macro_f1"] = crowd.by_group["crowd_macro_f1"]
    table = table.reset_index()
    table.insert(0, "group", table[columns].astype(str).agg(" × ".join, axis=1))
    table = table.drop(columns=columns)
    table = table[table["support"] >= min_support].sort_values("macro_f1", ascending=False, kind="stable")
    return GroupReport(" × ".join(by) if not isinstance(by, str) else by, overall_metrics(frame, n_boot, seed),
                       table.reset_index(drop=True), gap_interval(frame, columns, table, n_boot, seed))


def overall_metrics(frame: pd.DataFrame, n_boot: int = 100, seed: int = 0) -> dict:
    """Macro-F1, UAR and accuracy over the frame, each with a 95% percentile bootstrap interval
    (the clips resampled with replacement, as fairlearn does; computed directly, since fairlearn's
    per-sample overhead makes one grouping-free MetricFrame take seconds on 7,000 clips)."""
    y_true, y_pred = frame["y_true"].to_numpy(), frame["y_pred"].to_numpy()
    functions = {"macro_f1": macro_f1, "uar": uar, "accuracy": accuracy}
    samples = {name: [] for name in functions}
    rng = np.random.default_rng(seed)
    for _ in range(n_boot or 0):
        pick = rng.integers(0, len(frame), len(frame))
        for name, function in functions.items():
            samples[name].append(function(y_true[pick], y_pred[pick]))
    out = {}
    for name, function in functions.items():
        ci = [float(q) for q in np.nanquantile(samples[name], CI)] if n_boot else [None, None]
        out[name] = {"value": function(y_true, y_pred), "ci": ci, "support": int(len(frame))}
    return out


def gap_interval(frame: pd.DataFrame, columns: list[str], table: pd.DataFrame, n_boot: int, seed: int) -> dict:
    """The best minus the worst group's macro-F1 with a paired bootstrap interval (each bootstrap
    sample resamples the clips of both groups with replacement)."""
    ranked = table.dropna(subset=["macro_f1"])
    if len(ranked) < 2:
        return {}
    best, worst = ranked.iloc[0], ranked.iloc[-1]
    keys = frame[columns].astype(str).agg(" × ".join, axis=1)
    a, b = frame[keys == best["group"]], frame[keys == worst["group"]]
    gap = float(best["macro_f1"] - worst["macro_f1"])
    result = {"best": best["group"], "worst": worst["group"], "gap": gap, "ci": [None, None],
              "distinguishable": None}
    if n_boot:
        rng = np.random.default_rng(seed)
        samples = [_resampled_f1(a, rng) - _resampled_f1(b, rng) for _ in range(n_boot)]
        low, high = np.nanquantile(samples, CI)
        result.update(ci=[float(low), float(high)], distinguishable=bool(low > 0))
    return result


def _resampled_f1(rows: pd.DataFrame, rng) -> float:
    pick = rng.integers(0, len(rows), len(rows))
    return macro_f1(rows["y_true"].to_numpy()[pick], rows["y_pred"].to_numpy()[pick])


def cached_group_report(run: Run, frame: pd.DataFrame, by, split: str, n_boot: int = 100) -> GroupReport:
    """group_report, cached on disk per run, split, grouping and bootstrap size (the predictions'
    modification time is part of the key), so the page and the CLI share it and it survives restarts."""
    key_text = json.dumps([run.run_id, split, by, n_boot, run.predictions_path.stat().st_mtime_ns, len(frame)])
    path = config.cache_dir() / "bias" / f"{hashlib.sha1(key_text.encode()).hexdigest()[:20]}.json"
    if path.exists():
        try:
            data = json.loads(path.read_text())
            return GroupReport(data["by"], data["overall"], pd.DataFrame(data["groups"]), data["gap"])
        except (OSError, ValueError, KeyError):
            path.unlink(missing_ok=True)
    report = group_report(frame, by, n_boot=n_boot)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"by": report.by, "overall": report.overall, "gap": report.gap,
                               "groups": json.loads(report.groups.to_json(orient="records"))}))
    os.replace(tmp, path)
    return report


# ---------------------------------------------------------------- confusion, model and crowd

def confusion(frame: pd.DataFrame, column: str = "y_pred") -> pd.DataFrame:
    """Counts of intended (rows) against ``column`` (y_pred, or crowd_voice for the crowd)."""
    rows = frame.dropna(subset=[column])
    labels = [e for e in EMOTIONS if e in set(rows["y_true"]) | set(rows[column])]
    labels += sorted((set(rows["y_true"]) | set(rows[column])) - set(labels))
    table = pd.crosstab(rows["y_true"], rows[column]).reindex(index=labels, columns=labels, fill_value=0)
    table.index.name, table.columns.name = "intended", column
    return table


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

    @property
    def explains_something(self) -> bool:
        return self.heldout_accuracy > self.majority_rate + 0.01


def tree_inputs(frame: pd.DataFrame) -> pd.DataFrame:
    """One-hot metadata (intended emotion, sex, race, ethnicity, age band, intensity, sentence),
    duration, and how many clips of the actor were in training."""
    present = [c for c in TREE_FEATURES if c in frame]
    encoded = pd.get_dummies(frame[present].astype(str).rename(columns={"y_true": "emotion"}), prefix_sep="=")
    encoded["duration_s"] = frame["duration_s"].astype(float) if "duration_s" in frame else 0.0
    encoded["actor train clips"] = frame.get("actor train clips", 0)
    return encoded.astype(float)


def error_tree(frame: pd.DataFrame, depth: int = 3, seed: int = 0) -> ErrorTree:
    """A decision tree predicting whether the model got a clip right; its held-out accuracy (30% of
    the clips, stratified) against always guessing the majority outcome."""
    from sklearn.model_selection import train_test_split
    from sklearn.tree import DecisionTreeClassifier

    if len(frame) < 20 or frame["correct"].nunique() < 2:
        raise ConfigError("the tree needs at least 20 clips with both right and wrong predictions.",
                          title="Nothing to explain")
    X, y = tree_inputs(frame), frame["correct"].to_numpy()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=seed, stratify=y)
    model = DecisionTreeClassifier(max_depth=depth, min_samples_leaf=max(5, len(X) // 200), random_state=seed)
    model.fit(X_train, y_train)
    majority = max(np.mean(y_test), 1 - np.mean(y_test))
    importances = pd.Series(model.feature_importances_, index=X.columns).sort_values(ascending=False)
    return ErrorTree(model, list(X.columns), float(model.score(X_test, y_test)), float(majority),
                     importances[importances > 0], len(X_train), len(X_test))


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
