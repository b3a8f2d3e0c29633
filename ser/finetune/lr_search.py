"""The report's learning-rate beam search ("Algorithm 1"): train lr/10, lr and lr*10 for a few epochs each,
keep the best by validation macro-F1, then try the rates one step either side of the best, round after
round, until a round brings no improvement (or ``max_rounds`` is reached).

One job made of child runs: a parent run of kind "lr-search" holds the table ``rounds``
[{round, lr, score, run_id}] and ``best`` {lr, score, run_id}; every candidate is a "wav2vec2" run with
``parent`` set, trained by ``run_finetune``.

Where the pseudocode is ambiguous, and what this implementation chose:

1. Continue or start fresh?  Every candidate starts fresh from the pretrained checkpoint (same seed, same
   split, ``epochs_per_round`` epochs). Continuing the winner would mix the effect of the rate with the
   effect of more training, and candidates of one round would not start from the same weights.
2. The score of a candidate is its best validation macro-F1 over its epochs (the epoch the Trainer keeps
   with ``load_best_model_at_end``), not the last epoch's.
3. The step: it starts at ``factor * init_lr`` (0.5 x 1e-4 = 5e-5, as written) and, since the search
   "narrows" around the best, it is multiplied by ``factor`` again after every round that improved, so
   round 2 tries best +/- 5e-5, round 3 best +/- 2.5e-5, and so on. (The pseudocode does not say
   whether the step shrinks; a fixed step would make it a hill climb in steps of 5e-5.)
4. A step that would give a rate <= 0 (the best is lr/10 = 1e-5 and the step 5e-5): the lower
   candidate becomes ``best * factor`` instead (a geometric step down); the upper one is best + step.
5. "Stops improving": a round improves only if its best score is strictly higher than the best so far;
   a tie keeps the earlier (already trained) rate and ends the search. Within a round a tie goes to the
   smaller rate.
6. The incumbent is not retrained in the next round: its score is carried over. A rate already trained
   (equal to 6 significant digits) is not trained again; its earlier score is reused and the row is
   marked ``reused``.
7. Rounds are counted from the first (the x10 bracket is round 1); ``max_rounds`` includes it.
8. After the search nothing is retrained: the best candidate's run is the result, and the parent run
   carries its test metrics (chosen on validation, so the test split stays unseen by the search).
9. (Not in the pseudocode.) A search whose worker died can be resumed: the search is replayed, candidates
   already trained keep their score, and the candidate that was training continues from its checkpoint.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Callable

from ..corpus import Corpus
from ..errors import ConfigError
from ..grid_search import Cancelled
from ..runs import Run, create_run, list_runs, load_run, update_run
from .spec import FinetuneSpec
from .training import error_text

KIND = "lr-search"
Progress = Callable[[int, int, str], None]


def start_lr_search(spec: FinetuneSpec, corpus: Corpus, init_lr: float = 1e-4, factor: float = 0.5,
                    epochs_per_round: int = 5, max_rounds: int = 4) -> Run:
    """Create the parent run (status queued) for a job to fill."""
    from ..baselines import corpus_info

    search = _check_search(spec, init_lr, factor, epochs_per_round, max_rounds)
    run = create_run(KIND, spec.to_dict(), corpus_info(corpus))
    return update_run(run, search=search, rounds=[], best=None)


def run_lr_search(spec: FinetuneSpec, corpus: Corpus, init_lr: float = 1e-4, factor: float = 0.5,
                  epochs_per_round: int = 5, max_rounds: int = 4, run: Run | None = None,
                  progress: Progress | None = None, should_stop: Callable[[], bool] | None = None,
                  resume: bool = False) -> Run:
    """Algorithm 1 as one job; see the module docstring for the choices made. The spec's
    ``learning_rate`` and ``epochs`` are replaced by each candidate's rate and ``epochs_per_round``.
    ``resume`` (a search whose worker died, or that was cancelled) replays the search: candidates already
    in ``rounds`` keep their score, an unfinished candidate continues from its latest checkpoint."""
    search = _check_search(spec, init_lr, factor, epochs_per_round, max_rounds)
    if resume and (run is None or run.status == "finished"):
        raise ConfigError("resume needs the unfinished lr-search run to continue.", title="Nothing to resume")
    run = run or start_lr_search(spec, corpus, init_lr, factor, epochs_per_round, max_rounds)
    started = time.perf_counter()
    update_run(run, status="running", search=search, started=time.strftime("%Y-%m-%dT%H:%M:%S"), error=None)
    beam = _Beam(spec, corpus, run, search, progress, should_stop, resume)
    try:
        best = beam.search()
    except Cancelled as exc:
        return update_run(run, status="cancelled", error=str(exc))
    except Exception as exc:
        update_run(run, status="failed", error=error_text(exc))
        raise
    child = beam.children.get(best["run_id"]) or load_run(best["run_id"])
    return update_run(run, status="finished", best=best, metrics=child.info.get("metrics"),
                      labels=child.info.get("labels"), seconds=round(time.perf_counter() - started, 2),
                      finished=time.strftime("%Y-%m-%dT%H:%M:%S"))


def round_candidates(best_lr: float, step: float, factor: float) -> list[float]:
    """The rates one step either side of the best; a rate <= 0 becomes ``best_lr * factor``."""
    lower = best_lr - step
    return [lower if lower > 0 else best_lr * factor, best_lr + step]


class _Beam:
    """The search's state: the rows trained so far, by rate, and the child runs."""

    def __init__(self, spec, corpus, run, search, progress, should_stop, resume=False):
        self.spec, self.corpus, self.run, self.settings = spec, corpus, run, search
        self.progress, self.should_stop, self.resume = progress, should_stop, resume
        self.rows: list[dict] = []
        self.tried: dict[str, dict] = {}
        earlier = (run.info.get("rounds") or []) if resume else []
        self.known = {f"{row['lr']:.6g}": row for row in earlier if not row.get("reused")}
        self.children: dict[str, Run] = {}
        self.expected = 3 + 2 * (search["max_rounds"] - 1)

    def search(self) -> dict:
        lr0, factor = self.settings["init_lr"], self.settings["factor"]
        best = self._round(1, [lr0 / 10, lr0, lr0 * 10])
        update_run(self.run, best=best)
        step = factor * lr0
        for number in range(2, self.settings["max_rounds"] + 1):
            challenger = self._round(number, round_candidates(best["lr"], step, factor))
            if challenger["score"] <= best["score"]:
                break
            best, step = challenger, step * factor
            update_run(self.run, best=best)
        return best

    def _round(self, number: int, rates: list[float]) -> dict:
        rows = [self._candidate(number, lr) for lr in rates]
        best = max(rows, key=lambda row: (row["score"], -row["lr"]))  # a tie goes to the smaller rate
        return {"lr": best["lr"], "score": best["score"], "run_id": best["run_id"]}

    def _candidate(self, number: int, lr: float) -> dict:
        key = f"{lr:.6g}"
        if key in self.tried:
            row = {**self.tried[key], "round": number, "reused": True}
        elif key in self.known:  # trained before the search was resumed
            row = self.tried[key] = {**self.known[key], "round": number}
        else:
            row = {"round": number, "lr": float(key), **self._train(number, float(key))}
            self.tried[key] = row
        self.rows.append(row)
        update_run(self.run, rounds=self.rows,
                   progress={"done": len(self.rows), "total": self.expected, "message": f"round {number}: lr {key} "
                             f"scored {row['score']:.3f}"})
        return row

    def _train(self, number: int, lr: float) -> dict:
        from .training import run_finetune, start_finetune

        if self.should_stop is not None and self.should_stop():
            raise Cancelled(f"stopped after {len(self.rows)} candidate(s)")
        spec = replace(self.spec, learning_rate=lr, epochs=self.settings["epochs_per_round"])
        unfinished = self._unfinished_child(lr) if self.resume else None
        child = unfinished or start_finetune(spec, self.corpus, parent=self.run.run_id)
        self.children[child.run_id] = child
        child = run_finetune(spec, self.corpus, run=child, progress=self._relay(number, lr),
                             should_stop=self.should_stop, resume=unfinished is not None)
        if child.status == "cancelled":
            raise Cancelled(f"stopped while training lr {lr:.6g} (run {child.run_id})")
        return {"score": _score(child), "run_id": child.run_id}

    def _unfinished_child(self, lr: float) -> Run | None:
        for child in list_runs(kind="wav2vec2"):
            if child.info.get("parent") == self.run.run_id and child.status != "finished" \
                    and f"{child.info['spec']['learning_rate']:.6g}" == f"{lr:.6g}":
                return child
        return None

    def _relay(self, number: int, lr: float) -> Progress:
        """The child's progress, shown in the parent run as well."""
        def report(done: int, total: int, message: str) -> None:
            text = f"round {number}, lr {lr:.6g} ({len(self.rows) + 1}/{self.expected} at most): {message}"
            update_run(self.run, progress={"done": len(self.rows), "total": self.expected, "message": text,
                                           "child": {"done": done, "total": total}})
            if self.progress is not None:
                self.progress(len(self.rows), self.expected, text)
        return report


def _score(child: Run) -> float:
    best = (child.info.get("best") or {}).get("val_macro_f1")
    return float(best if best is not None else child.info["val_metrics"]["macro_f1"])


def _check_search(spec: FinetuneSpec, init_lr, factor, epochs_per_round, max_rounds) -> dict:
    spec.validate()
    if not isinstance(init_lr, (int, float)) or not init_lr > 0:
        raise ConfigError(f"init_lr is {init_lr!r}; give a positive learning rate (the report starts at 1e-4).")
    if not isinstance(factor, (int, float)) or not 0 < factor < 1:
        raise ConfigError(f"factor is {factor!r}; give a number between 0 and 1 (the report uses 0.5).")
    for name, value in (("epochs_per_round", epochs_per_round), ("max_rounds", max_rounds)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{name} is {value!r}; give a whole number of 1 or more.")
    return {"init_lr": float(init_lr), "factor": float(factor), "epochs_per_round": epochs_per_round,
            "max_rounds": max_rounds}
