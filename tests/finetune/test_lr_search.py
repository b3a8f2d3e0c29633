import math

import pytest

from ser.errors import ConfigError
from ser.learning.finetune import run_lr_search
from ser.metrics import classification_metrics
from ser.runs import list_runs, load_run, update_run


def test_the_fixed_variant_trains_two_rounds_of_child_runs(demo_corpus, tiny_spec):
    """The cheaper variant, really trained: every round 1 epoch, round 2 only the two new rates."""
    messages = []
    run = run_lr_search(tiny_spec(), demo_corpus, init_lr=1e-3, epochs_per_round=1, max_rounds=2, schedule="fixed",
                        progress=lambda done, total, message: messages.append(message))
    info = load_run(run.run_id).info
    assert info["kind"] == "lr-search" and info["status"] == "finished"
    assert info["search"] == {"init_lr": 1e-3, "factor": 0.5, "epochs_per_round": 1, "max_rounds": 2,
                              "schedule": "fixed"}
    assert info["algorithm"].startswith("a cheaper variant of the report's Algorithm 1")
    rounds = info["rounds"]
    assert [r["round"] for r in rounds[:3]] == [1, 1, 1]
    assert [r["lr"] for r in rounds[:3]] == pytest.approx([1e-4, 1e-3, 1e-2])
    first = max(rounds[:3], key=lambda r: (r["score"], -r["lr"]))
    step = 0.5 * 1e-3
    expected = [first["lr"] - step if first["lr"] > step else first["lr"] * 0.5, first["lr"] + step]
    assert [r["round"] for r in rounds[3:]] == [2, 2]
    assert [r["lr"] for r in rounds[3:]] == pytest.approx(expected)
    best = max(rounds, key=lambda r: r["score"])
    assert info["best"]["score"] == best["score"] and info["best"]["run_id"] in {r["run_id"] for r in rounds}

    children = {r.run_id: r for r in list_runs(kind="wav2vec2")}
    assert set(children) == {r["run_id"] for r in rounds} and len(children) == 5
    for row in rounds:
        child = children[row["run_id"]]
        assert child.info["parent"] == run.run_id and child.status == "finished"
        assert child.info["spec"]["learning_rate"] == pytest.approx(row["lr"]) and child.info["spec"]["epochs"] == 1
        assert child.info["best"]["val_macro_f1"] == row["score"]
    assert info["metrics"] == children[info["best"]["run_id"]].info["metrics"]
    assert any("round 2" in m for m in messages)


def test_a_cancelled_search_stops_and_says_so(demo_corpus, tiny_spec):
    calls = []

    def stop_after_first_candidate():
        calls.append(1)
        return len(list_runs(kind="wav2vec2")) > 0 and list_runs(kind="wav2vec2")[0].status == "finished"

    run = run_lr_search(tiny_spec(), demo_corpus, epochs_per_round=1, max_rounds=2,
                        should_stop=stop_after_first_candidate)
    info = load_run(run.run_id).info
    assert info["status"] == "cancelled" and len(info["rounds"]) == 1
    assert len(list_runs(kind="wav2vec2")) == 1


@pytest.mark.parametrize("changes", [{"init_lr": 0}, {"factor": 1.5}, {"max_rounds": 0}, {"epochs_per_round": 0},
                                     {"schedule": "cosine"}])
def test_bad_search_settings_are_refused(demo_corpus, tiny_spec, changes):
    with pytest.raises(ConfigError):
        run_lr_search(tiny_spec(), demo_corpus, **changes)
    assert list_runs() == []


def test_a_resumed_search_keeps_finished_candidates_and_continues_the_unfinished_one(demo_corpus, tiny_spec):
    from ser.learning.finetune import latest_checkpoint

    def stop_inside_the_second_candidate():
        children = list_runs(kind="wav2vec2")
        return any(c.status == "finished" for c in children) and any(
            c.status == "running" and latest_checkpoint(c) is not None for c in children)

    settings = dict(init_lr=1e-3, epochs_per_round=2, max_rounds=2, schedule="fixed")  # 5 candidates, 2 epochs
    run = run_lr_search(tiny_spec(), demo_corpus, should_stop=stop_inside_the_second_candidate, **settings)
    assert run.status == "cancelled" and len(run.info["rounds"]) == 1
    first = run.info["rounds"][0]
    [unfinished] = [c for c in list_runs(kind="wav2vec2") if c.status == "cancelled"]

    run = run_lr_search(tiny_spec(), demo_corpus, run=load_run(run.run_id), resume=True, **settings)
    info = load_run(run.run_id).info
    assert info["status"] == "finished" and len(info["rounds"]) == 5 and info["rounds"][0] == first
    assert info["rounds"][1]["run_id"] == unfinished.run_id
    children = list_runs(kind="wav2vec2")
    assert len(children) == 5 and all(c.status == "finished" for c in children)
    assert load_run(unfinished.run_id).info["resumed_from"].startswith("checkpoint-")


# ---------------------------------------------------------------- the schedule, with training stubbed out
# ``run_finetune`` is replaced by a stand-in that scores a candidate from its (rate, epochs) at once and
# records every call; ``start_finetune`` stays real, so every candidate is a child run on disk.

class WorkerDied(Exception):
    pass


class StubTraining:
    """Stands in for ``run_finetune``: scores a candidate with ``score(lr, epochs)`` at once and records the
    calls as (lr, epochs, run_id, resume); a (rate, epochs) in ``die_at`` kills the "worker" on a fresh start."""

    def __init__(self):
        self.calls, self.score, self.die_at = [], None, set()

    def __call__(self, score, die_at=()):
        self.score, self.die_at = score, set(die_at)
        return self.calls

    def run_finetune(self, spec, corpus, run=None, progress=None, should_stop=None, resume=False):
        self.calls.append((spec.learning_rate, spec.epochs, run.run_id, resume))
        if (f"{spec.learning_rate:.6g}", spec.epochs) in self.die_at and not resume:
            update_run(run, status="running", spec=spec.to_dict())  # the child is left unfinished
            raise WorkerDied(f"worker died while training lr {spec.learning_rate:.6g}")
        value = self.score(spec.learning_rate, spec.epochs)
        report = classification_metrics(["ANG", "SAD", "NEU"], ["ANG", "NEU", "NEU"])  # a page can show it
        return update_run(run, status="finished", spec=spec.to_dict(), best={"val_macro_f1": value},
                          metrics={**report, "macro_f1": value, "uar": value, "accuracy": value})


@pytest.fixture
def stub_training(monkeypatch):
    from ser.learning.finetune import training

    stub = StubTraining()
    monkeypatch.setattr(training, "run_finetune", stub.run_finetune)
    return stub


def peaked_at_1_5e_4(lr, epochs):
    """Better the nearer the rate is to 1.5e-4 (on a log scale), and better with more epochs."""
    return round(0.5 + epochs / 100 - abs(math.log10(lr / 1.5e-4)) / 10, 6)


def trained(calls):
    return [(f"{lr:.6g}", epochs) for lr, epochs, _, _ in calls]


def test_algorithm1_adds_epochs_every_round_and_retrains_the_best_from_scratch(demo_corpus, tiny_spec,
                                                                                stub_training):
    """The notebook's three rounds: 1e-5/1e-4/1e-3 for 5 epochs, 1e-4 +/- 5e-5 for 10, 1.5e-4 +/- 2.5e-5 for 15."""
    calls = stub_training(peaked_at_1_5e_4)
    run = run_lr_search(tiny_spec(), demo_corpus, init_lr=1e-4, epochs_per_round=5, max_rounds=3)
    info = load_run(run.run_id).info
    assert info["status"] == "finished" and info["search"]["schedule"] == "algorithm1"
    assert info["algorithm"].startswith("the report's Algorithm 1")
    assert trained(calls) == [("1e-05", 5), ("0.0001", 5), ("0.001", 5),
                              ("5e-05", 10), ("0.0001", 10), ("0.00015", 10),
                              ("0.000125", 15), ("0.00015", 15), ("0.000175", 15)]
    assert not any(resume for *_, resume in calls)  # every candidate starts from the pretrained checkpoint
    rows = info["rounds"]
    assert [(r["round"], r["epochs"]) for r in rows] == [(1, 5)] * 3 + [(2, 10)] * 3 + [(3, 15)] * 3
    assert not any(r.get("reused") for r in rows)
    assert len({r["run_id"] for r in rows}) == 9  # the best retrained at a new length is a new child run
    children = {c.run_id: c for c in list_runs(kind="wav2vec2")}
    for row in rows:
        assert children[row["run_id"]].info["spec"]["epochs"] == row["epochs"]
        assert children[row["run_id"]].info["parent"] == run.run_id
    winner = rows[7]  # 1.5e-4 retrained for 15 epochs, not its 10-epoch run of round 2
    assert info["best"] == {"lr": pytest.approx(1.5e-4), "epochs": 15, "score": winner["score"],
                            "run_id": winner["run_id"]}
    assert info["metrics"]["macro_f1"] == winner["score"]


def test_algorithm1_picks_the_best_at_the_new_length(demo_corpus, tiny_spec, stub_training):
    """1e-4 wins round 1 (0.6 at 5 epochs). At 10 epochs 5e-5 scores 0.62, which would beat that carried-over
    0.6, but 1e-4 retrained for 10 epochs scores 0.65 and wins: the round is judged at its own length."""
    def score(lr, epochs):
        if epochs == 5:
            return {1e-5: 0.3, 1e-4: 0.6, 1e-3: 0.2}[lr]
        return {5e-5: 0.62, 1e-4: 0.65, 1.5e-4: 0.4}[round(lr, 10)]

    stub_training(score)
    run = run_lr_search(tiny_spec(), demo_corpus, init_lr=1e-4, epochs_per_round=5, max_rounds=2)
    info = load_run(run.run_id).info
    assert info["best"] == {"lr": pytest.approx(1e-4), "epochs": 10, "score": 0.65,
                            "run_id": info["rounds"][4]["run_id"]}
    assert info["rounds"][4]["run_id"] != info["rounds"][1]["run_id"]


def test_algorithm1_stops_when_a_longer_round_does_not_improve(demo_corpus, tiny_spec, stub_training):
    """Longer training hurts here: round 2 (10 epochs) scores below round 1, so the search ends and keeps
    round 1's winner; no round 3."""
    calls = stub_training(lambda lr, epochs: peaked_at_1_5e_4(lr, epochs) - epochs / 50)
    run = run_lr_search(tiny_spec(), demo_corpus, init_lr=1e-4, epochs_per_round=5, max_rounds=4)
    info = load_run(run.run_id).info
    assert trained(calls) == [("1e-05", 5), ("0.0001", 5), ("0.001", 5), ("5e-05", 10), ("0.0001", 10),
                              ("0.00015", 10)]
    assert info["best"]["lr"] == pytest.approx(1e-4) and info["best"]["epochs"] == 5
    assert info["best"]["run_id"] == info["rounds"][1]["run_id"]


def test_the_fixed_variant_carries_the_best_score_over(demo_corpus, tiny_spec, stub_training):
    """As before: every round epochs_per_round epochs, the incumbent not retrained; the search goes on while
    a challenger beats the incumbent's carried-over score."""
    calls = stub_training(peaked_at_1_5e_4)
    run = run_lr_search(tiny_spec(), demo_corpus, init_lr=1e-4, epochs_per_round=5, max_rounds=4, schedule="fixed")
    info = load_run(run.run_id).info
    assert trained(calls) == [("1e-05", 5), ("0.0001", 5), ("0.001", 5), ("5e-05", 5), ("0.00015", 5),
                              ("0.000125", 5), ("0.000175", 5)]
    assert [r["round"] for r in info["rounds"]] == [1, 1, 1, 2, 2, 3, 3]
    assert {r["epochs"] for r in info["rounds"]} == {5}
    assert info["best"]["lr"] == pytest.approx(1.5e-4) and info["best"]["run_id"] == info["rounds"][4]["run_id"]


def test_a_search_without_a_schedule_resumes_as_the_fixed_variant(demo_corpus, tiny_spec, stub_training):
    """A run written before there was a choice of schedule (no "schedule" in its search) was the fixed one."""
    from ser.learning.finetune import start_lr_search

    calls = stub_training(peaked_at_1_5e_4)
    run = start_lr_search(tiny_spec(), demo_corpus, init_lr=1e-4, epochs_per_round=5, max_rounds=2)
    old = {k: v for k, v in run.info["search"].items() if k != "schedule"}
    run = update_run(run, search=old, status="interrupted")
    run_lr_search(tiny_spec(), demo_corpus, run=run, resume=True, **old)
    assert {epochs for _, epochs, _, _ in calls} == {5} and len(calls) == 5
    assert load_run(run.run_id).info["search"]["schedule"] == "fixed"


def test_algorithm1_resumed_reuses_finished_candidates_and_continues_the_retrained_best(demo_corpus, tiny_spec,
                                                                                        stub_training):
    """The worker dies while 1e-4, round 1's winner, is retrained for 10 epochs. On resume the round-1
    candidates are reused, 1e-4 at 5 epochs included; 1e-4 at 10 epochs is a candidate of its own, and its
    unfinished run continues."""
    calls = stub_training(peaked_at_1_5e_4, die_at={("0.0001", 10)})
    settings = dict(init_lr=1e-4, epochs_per_round=5, max_rounds=3)
    with pytest.raises(WorkerDied):
        run_lr_search(tiny_spec(), demo_corpus, **settings)
    [search] = list_runs(kind="lr-search")
    before = search.info["rounds"]
    assert len(before) == 4 and len(calls) == 5
    dead = calls[-1][2]
    calls.clear()

    run = run_lr_search(tiny_spec(), demo_corpus, run=search, resume=True, **settings)
    info = load_run(run.run_id).info
    assert info["status"] == "finished" and info["rounds"][:4] == before
    assert trained(calls) == [("0.0001", 10), ("0.00015", 10), ("0.000125", 15), ("0.00015", 15),
                              ("0.000175", 15)]
    assert calls[0][2] == dead and calls[0][3] is True  # the unfinished child continues
    assert not any(resume for *_, resume in calls[1:])
    assert info["rounds"][4]["run_id"] == dead and info["rounds"][4]["epochs"] == 10
    assert len(list_runs(kind="wav2vec2")) == 9


def test_the_page_queues_the_chosen_schedule_and_says_what_the_reports_score_measured(
        monkeypatch, small_demo, demo_corpus, tiny_spec, tiny_model, stub_training):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    from ser.jobs import control as jobs

    stub_training(peaked_at_1_5e_4)
    done = run_lr_search(tiny_spec(), demo_corpus, init_lr=1e-4, epochs_per_round=5, max_rounds=2)
    monkeypatch.setattr(jobs, "_queue", lambda run: run)  # queued, never picked up by a worker
    monkeypatch.setenv("SER_DATA", str(small_demo))
    root = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(root)
    app = AppTest.from_file(str(root / "app.py"), default_timeout=180)
    app.run()
    app.switch_page("app_pages/finetune.py").run()
    assert not app.exception, app.exception
    [note] = [c.value for c in app.caption if "0.7932" in c.value]
    assert "validation" in note and "same actors appear in training" in note and "32 × 4" in note
    assert not any("0.79 " in m.value or "0.79." in m.value for m in app.markdown)

    app.selectbox(key="ft_open_run").set_value(done.run_id).run()
    assert any("Schedule: the report's Algorithm 1" in c.value for c in app.caption)
    table = next(f.value for f in app.dataframe if "score" in f.value.columns)
    assert list(table["round"]) == ["1 (5 epochs)"] * 3 + ["2 (10 epochs)"] * 3

    app.selectbox(key="ft_model_choice").set_value(app.selectbox(key="ft_model_choice").options[-1])  # another
    app.text_input(key="ft_model_custom").input(str(tiny_model))  # a model that is here (offline, the page checks)
    app.toggle(key="ft_search").set_value(True)
    app.selectbox(key="ft_schedule").set_value("fixed")
    app.number_input(key="ft_epochs_per_round").set_value(2)
    app.number_input(key="ft_max_rounds").set_value(3)
    app.button(key="ft_start").click().run()
    assert not app.exception, app.exception
    [queued] = [r for r in list_runs(kind="lr-search") if r.run_id != done.run_id]
    assert queued.status == "queued"
    assert queued.info["search"] == {"init_lr": 1e-4, "factor": 0.5, "epochs_per_round": 2, "max_rounds": 3,
                                     "schedule": "fixed"}
    assert any("Schedule: a cheaper variant of the report's Algorithm 1" in c.value for c in app.caption)
