"""The report's learning-rate beam search ("Algorithm 1"): train lr/10, lr and lr*10 for 5 epochs, keep the
best by validation macro-F1, then train the best rate and the rates one step either side of it for 5 more
epochs than the round before (5, 10, 15, ...), round after round, until a round brings no improvement (or
``max_rounds`` is reached).

What the report's notebook does (github.com/RootReturn0/SER, ``speechemotionrecognition.ipynb``, the
"Train" cells; the rounds were run by hand, one cell per round, each reloading the pretrained model for
every rate)::

    learning_rates = [1e-3, 1e-4, 1e-5] # first round
    num_epochs = 5
    # learning_rates = [1.5e-4, 1e-4, 0.5e-4] # second round
    # num_epochs = 10
    # learning_rates = [1.25e-4, 1.5e-4, 1.75e-4] # third round
    # num_epochs = 15
    ...
    for lr in learning_rates:
        ...
            # renew model
            model=AutoModelForAudioClassification.from_pretrained(model_name_or_path, ...)
            model.freeze_feature_encoder()
            training_args = TrainingArguments(..., per_device_train_batch_size=32,
                gradient_accumulation_steps=4, num_train_epochs=num_epochs, warmup_ratio=0.1,
                learning_rate=lr, load_best_model_at_end=True, metric_for_best_model='f1',
                lr_scheduler_type="cosine", ...)
            trainer = Trainer(..., eval_dataset=dev_dataset,
                              callbacks = [EarlyStoppingCallback(early_stopping_patience=3)])
            trainer.train()
            predictions = trainer.predict(dev_dataset)
            result = compute_metrics(predictions)
            evaluations.append(result['f1'])
    # next cell:
    best_lr = learning_rates[np.argmax(evaluations)]
    learning_rates = [best_lr*1.5, best_lr, best_lr*0.5] # second round
    num_epochs = 10

So every round trains every candidate, the best rate of the round before included, from the pretrained
checkpoint for 5 epochs more than the round before, and picks the best by validation macro-F1 at that
length. (The notebook's data are the random stratified 70/15/15 split with ``random_state=3``, where the
same actors appear in training and validation, batches of 32 x 4 and a cosine schedule; the spec, not
this module, sets those.)

Two schedules (``schedule``, stored in run.json's ``search``, with its description as ``algorithm``):

- ``"algorithm1"`` (the default): as the notebook; round r trains ``epochs_per_round * r`` epochs, three
  candidates a round (best - step, best, best + step).
- ``"fixed"``: a cheaper variant of the report's algorithm, not the algorithm itself: every round trains
  ``epochs_per_round`` epochs and only the two new rates; the best rate is not retrained, its score is
  carried over.

One job made of child runs: a parent run of kind "lr-search" holds the table ``rounds``
[{round, lr, epochs, score, run_id}] and ``best`` {lr, epochs, score, run_id}; every candidate is a
"wav2vec2" run with ``parent`` set, trained by ``run_finetune``.

Where the pseudocode is ambiguous, and what this implementation chose:

1. Continue or start fresh?  Every candidate starts fresh from the pretrained checkpoint (same seed, same
   split), as the notebook does ("renew model"). Under ``"algorithm1"`` the best rate of a round is
   trained again, from scratch, at the next round's length; a rate retrained at a new length is a new
   candidate with its own child run. Continuing the winner would mix the effect of the rate with the
   effect of more training, and candidates of one round would not start from the same weights.
2. The score of a candidate is its best validation macro-F1 over its epochs (the epoch the Trainer keeps
   with ``load_best_model_at_end``, which the notebook scores with ``trainer.predict(dev_dataset)``), not
   the last epoch's.
3. The step: it starts at ``factor * init_lr`` (0.5 x 1e-4 = 5e-5, as written) and, since the search
   "narrows" around the best, it is multiplied by ``factor`` again after every round that improved, so
   round 2 tries best +/- 5e-5, round 3 best +/- 2.5e-5, and so on: the notebook's rounds (1e-4 +/- 5e-5,
   then 1.5e-4 +/- 2.5e-5). The notebook writes round 2 as ``best_lr*1.5, best_lr*0.5``, which is the
   same rates because its first round's winner was 1e-4 = init_lr; after another winner the two differ
   (1e-3 would give 1e-3 +/- 5e-5 here, 1.5e-3 and 5e-4 there).
4. A step that would give a rate <= 0 (the best is lr/10 = 1e-5 and the step 5e-5): the lower
   candidate becomes ``best * factor`` instead (a geometric step down); the upper one is best + step.
5. "Stops improving": a round improves only if its best score is strictly higher than the best so far
   (under ``"algorithm1"`` the best so far was measured at the shorter length of its own round); a round
   that does not improve ends the search and the earlier best stays the result. Within a round a tie goes
   to the smaller rate (the notebook's ``np.argmax`` takes the first listed, the larger).
6. A candidate already trained, the same rate (to 6 significant digits) for the same number of epochs,
   is not trained again; its earlier score is reused and the row is marked ``reused``. Under ``"fixed"``
   the incumbent is not retrained in the next round; its score is carried over. Under ``"algorithm1"``
   every round has its own length, so nothing is reused within one search.
7. Rounds are counted from the first (the x10 bracket is round 1); ``max_rounds`` includes it.
8. After the search nothing is retrained: the best candidate's run is the result, and the parent run
   carries its test metrics (chosen on validation, so the test split stays unseen by the search).
9. (Not in the pseudocode.) A search whose worker died can be resumed: the search is replayed, candidates
   already trained at a given (rate, epochs) keep their score, and the candidate that was training
   continues from its checkpoint.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from typing import Callable

from ...data.corpus import Corpus
from ...errors import ConfigError
from ..grid_search import Cancelled
from ...params import check_choice, param, spec_from_dict
from ...progress import Progress
from ...runs import Run, corpus_record, create_run, list_runs, load_run, update_run
from . import distributed
from .distributed import record
from .spec import FinetuneSpec
from .training import error_text

KIND = "lr-search"

SCHEDULES = {
    "algorithm1": "the report's Algorithm 1: round r trains every candidate, the best rate so far included, "
                  "from the pretrained checkpoint for epochs_per_round x r epochs (5, 10, 15, ...)",
    "fixed": "a cheaper variant of the report's Algorithm 1: every round trains epochs_per_round epochs; the "
             "best rate so far is not retrained, its score is carried over",
}
DEFAULT_SCHEDULE = "algorithm1"


@dataclass
class LrSearchSpec:
    """The search's own settings (the trainings' are the FinetuneSpec's), stored in the parent run as
    ``search``. Help, choices, page labels and flags are declared here (ser.params)."""

    init_lr: float = param(1e-4, "round 1 tries init_lr/10, init_lr and init_lr*10 (the report: 1e-4); the "
                           "fine-tuning page starts at its learning rate", flag="--init-lr", page=False)
    factor: float = param(0.5, "the step after round 1 is factor x init_lr, narrowed by factor after every round "
                          "that improves (the report: 0.5)", label="Search factor", minimum=0.05, maximum=0.95,
                          step=0.05)
    epochs_per_round: int = param(5, "Algorithm 1: round r trains r times this many epochs; the variant: this "
                                  "many every round", label="Epochs per round", minimum=1, maximum=50)
    max_rounds: int = param(4, "rounds at most, the first included", label="Rounds at most", minimum=1,
                            maximum=10)
    schedule: str = param(DEFAULT_SCHEDULE, "algorithm1, as the report's notebook: 3 candidates a round, each "
                          "round epochs_per_round longer (5, 10, 15, ...), the best rate retrained from scratch; "
                          "fixed, the cheaper variant: 2 new rates a round at one length, the best's earlier score "
                          "kept (with 5 epochs a round and 4 rounds: 150 epochs at most against 45)",
                          choices={"algorithm1": "the report's Algorithm 1: each round longer, the best retrained",
                                   "fixed": "cheaper variant of Algorithm 1: same length every round, the best "
                                            "carried over"}, label="Search schedule")

    def validate(self) -> "LrSearchSpec":
        if not isinstance(self.init_lr, (int, float)) or not self.init_lr > 0:
            raise ConfigError(f"init_lr is {self.init_lr!r}; give a positive learning rate (the report starts "
                              "at 1e-4).")
        if not isinstance(self.factor, (int, float)) or not 0 < self.factor < 1:
            raise ConfigError(f"factor is {self.factor!r}; give a number between 0 and 1 (the report uses 0.5).")
        for name in ("epochs_per_round", "max_rounds"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} is {value!r}; give a whole number of 1 or more.")
        check_choice(self, "schedule", "Unknown schedule", " (algorithm1: the report's, 5, 10, 15, ... epochs, the "
                     "best retrained; fixed: a cheaper variant)")
        return self

    def to_dict(self) -> dict:
        return {**asdict(self), "init_lr": float(self.init_lr), "factor": float(self.factor)}

    @classmethod
    def from_dict(cls, data: dict) -> "LrSearchSpec":
        """The settings from run.json or keyword arguments; unknown keys are refused by name."""
        return spec_from_dict(cls, data, "learning-rate search")


def start_lr_search(spec: FinetuneSpec, corpus: Corpus, **search) -> Run:
    """Create the parent run (status queued) for a job to fill. ``search``: LrSearchSpec's fields
    (init_lr, factor, epochs_per_round, max_rounds, schedule); those not given take its defaults."""
    settings = _check_search(spec, search)
    run = create_run(KIND, spec.to_dict(), corpus_record(corpus))
    return update_run(run, search=settings, algorithm=SCHEDULES[settings["schedule"]], rounds=[], best=None)


def run_lr_search(spec: FinetuneSpec, corpus: Corpus, run: Run | None = None, progress: Progress | None = None,
                  should_stop: Callable[[], bool] | None = None, resume: bool = False, **search) -> Run:
    """Algorithm 1 as one job; see the module docstring for the choices made. The spec's
    ``learning_rate`` and ``epochs`` are replaced by each candidate's rate and length. ``search``:
    LrSearchSpec's fields; without a ``schedule`` (or with None) the run's own (a run written before
    schedules existed was ``"fixed"``), else ``"algorithm1"``. ``resume`` (a search whose worker died, or
    that was cancelled) replays the search: candidates already in ``rounds`` keep their score, an
    unfinished candidate continues from its latest checkpoint."""
    search = {**search, "schedule": search.get("schedule") or _stored_schedule(run)}
    search = _check_search(spec, search)
    if resume and (run is None or run.status == "finished"):
        raise ConfigError("resume needs the unfinished lr-search run to continue.", title="Nothing to resume")
    distributed.join()  # under torchrun every rank runs the search; rank 0 writes it down
    should_stop = distributed.agreed(should_stop)
    run = run or distributed.created_on_main(lambda: start_lr_search(spec, corpus, **search))
    started = time.perf_counter()
    record(run, status="running", search=search, algorithm=SCHEDULES[search["schedule"]],
               started=time.strftime("%Y-%m-%dT%H:%M:%S"), error=None)
    beam = _Beam(spec, corpus, run, search, progress, should_stop, resume)
    try:
        best = beam.search()
    except Cancelled as exc:
        return record(run, status="cancelled", error=str(exc))
    except Exception as exc:
        record(run, status="failed", error=error_text(exc, spec))
        raise
    child = beam.children.get(best["run_id"]) or load_run(best["run_id"])
    return record(run, status="finished", best=best, metrics=child.info.get("metrics"),
                      labels=child.info.get("labels"), seconds=round(time.perf_counter() - started, 2),
                      finished=time.strftime("%Y-%m-%dT%H:%M:%S"))


def round_candidates(best_lr: float, step: float, factor: float) -> list[float]:
    """The rates one step either side of the best; a rate <= 0 becomes ``best_lr * factor``."""
    lower = best_lr - step
    return [lower if lower > 0 else best_lr * factor, best_lr + step]


def round_epochs(number: int, epochs_per_round: int, schedule: str) -> int:
    """How long round ``number`` (from 1) trains each candidate: 5, 10, 15, ... under Algorithm 1."""
    return epochs_per_round * number if schedule == "algorithm1" else epochs_per_round


def candidate_count(max_rounds: int, schedule: str) -> int:
    """Candidates in a search that runs all its rounds: 3 a round, or 3 then 2 when the best is carried over."""
    return 3 * max_rounds if schedule == "algorithm1" else 3 + 2 * (max_rounds - 1)


class _Beam:
    """The search's state: the rows trained so far, by (rate, epochs), and the child runs."""

    def __init__(self, spec, corpus, run, search, progress, should_stop, resume=False):
        self.spec, self.corpus, self.run, self.settings = spec, corpus, run, search
        self.progress, self.should_stop, self.resume = progress, should_stop, resume
        self.rows: list[dict] = []
        self.tried: dict[tuple, dict] = {}
        earlier = (run.info.get("rounds") or []) if resume else []
        self.known = {_key(row["lr"], row.get("epochs", search["epochs_per_round"])): row
                      for row in earlier if not row.get("reused")}
        self.children: dict[str, Run] = {}
        self.expected = candidate_count(search["max_rounds"], search["schedule"])

    def search(self) -> dict:
        lr0, factor = self.settings["init_lr"], self.settings["factor"]
        best = self._round(1, [lr0 / 10, lr0, lr0 * 10])
        record(self.run, best=best)
        step = factor * lr0
        for number in range(2, self.settings["max_rounds"] + 1):
            lower, upper = round_candidates(best["lr"], step, factor)
            retrain = self.settings["schedule"] == "algorithm1"  # the best at the new length, from scratch
            challenger = self._round(number, [lower, best["lr"], upper] if retrain else [lower, upper])
            if challenger["score"] <= best["score"]:
                break
            best, step = challenger, step * factor
            record(self.run, best=best)
        return best

    def _round(self, number: int, rates: list[float]) -> dict:
        epochs = round_epochs(number, self.settings["epochs_per_round"], self.settings["schedule"])
        rows = [self._candidate(number, lr, epochs) for lr in rates]
        best = max(rows, key=lambda row: (row["score"], -row["lr"]))  # a tie goes to the smaller rate
        return {"lr": best["lr"], "epochs": epochs, "score": best["score"], "run_id": best["run_id"]}

    def _candidate(self, number: int, lr: float, epochs: int) -> dict:
        key = _key(lr, epochs)
        if key in self.tried:
            row = {**self.tried[key], "round": number, "reused": True}
        elif key in self.known:  # trained before the search was resumed
            row = self.tried[key] = {**self.known[key], "round": number, "epochs": epochs}
        else:
            row = {"round": number, "lr": float(key[0]), "epochs": epochs,
                   **self._train(number, float(key[0]), epochs)}
            self.tried[key] = row
        self.rows.append(row)
        record(self.run, rounds=self.rows,
                   progress={"done": len(self.rows), "total": self.expected, "message": f"round {number} "
                             f"({epochs} epochs): lr {key[0]} scored {row['score']:.3f}"})
        return row

    def _train(self, number: int, lr: float, epochs: int) -> dict:
        from .training import run_finetune

        if self.should_stop is not None and self.should_stop():
            raise Cancelled(f"stopped after {len(self.rows)} candidate(s)")
        spec = replace(self.spec, learning_rate=lr, epochs=epochs)
        child, resumed = self._child(spec)
        self.children[child.run_id] = child
        child = run_finetune(spec, self.corpus, run=child, progress=self._relay(number, lr, epochs),
                             should_stop=self.should_stop, resume=resumed)
        if child.status == "cancelled":
            raise Cancelled(f"stopped while training lr {lr:.6g} for {epochs} epochs (run {child.run_id})")
        return {"score": _score(child), "run_id": child.run_id}

    def _child(self, spec: FinetuneSpec) -> tuple[Run, bool]:
        """The candidate's run, and whether it continues an unfinished one; chosen (and created) by rank 0,
        the same run on every rank."""
        from .training import start_finetune

        choice = None
        if distributed.is_main_process():
            unfinished = self._unfinished_child(spec.learning_rate, spec.epochs) if self.resume else None
            child = unfinished or start_finetune(spec, self.corpus, parent=self.run.run_id)
            choice = (child.run_id, unfinished is not None)
        run_id, resumed = distributed.share(choice)
        return (child if distributed.is_main_process() else load_run(run_id)), resumed

    def _unfinished_child(self, lr: float, epochs: int) -> Run | None:
        for child in list_runs(kind="wav2vec2"):
            spec = child.info["spec"]
            if child.info.get("parent") == self.run.run_id and child.status != "finished" \
                    and _key(spec["learning_rate"], spec["epochs"]) == _key(lr, epochs):
                return child
        return None

    def _relay(self, number: int, lr: float, epochs: int) -> Progress:
        """The child's progress, shown in the parent run as well."""
        def report(done: int, total: int, message: str) -> None:
            text = (f"round {number} ({epochs} epochs), lr {lr:.6g} ({len(self.rows) + 1}/{self.expected} "
                    f"at most): {message}")
            record(self.run, progress={"done": len(self.rows), "total": self.expected, "message": text,
                                           "child": {"done": done, "total": total}})
            if self.progress is not None:
                self.progress(len(self.rows), self.expected, text)
        return report


def _key(lr: float, epochs: int) -> tuple[str, int]:
    """A candidate's identity: the rate to 6 significant digits and the number of epochs."""
    return f"{lr:.6g}", int(epochs)


def _score(child: Run) -> float:
    best = (child.info.get("best") or {}).get("val_macro_f1")
    return float(best if best is not None else child.info["val_metrics"]["macro_f1"])


def _stored_schedule(run: Run | None) -> str:
    """The schedule a run was started with; runs written before there was a choice were ``"fixed"``."""
    search = (run.info.get("search") if run is not None else None) or {}
    return search.get("schedule", "fixed") if search else DEFAULT_SCHEDULE


def _check_search(spec: FinetuneSpec, search: dict) -> dict:
    spec.validate()
    return LrSearchSpec.from_dict(search).validate().to_dict()
