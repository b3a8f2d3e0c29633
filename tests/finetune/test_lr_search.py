import pytest

from ser.errors import ConfigError
from ser.finetune import run_lr_search
from ser.runs import list_runs, load_run


def test_two_rounds_give_the_rounds_table_and_child_runs(demo_corpus, tiny_spec):
    messages = []
    run = run_lr_search(tiny_spec(), demo_corpus, init_lr=1e-3, epochs_per_round=1, max_rounds=2,
                        progress=lambda done, total, message: messages.append(message))
    info = load_run(run.run_id).info
    assert info["kind"] == "lr-search" and info["status"] == "finished"
    assert info["search"] == {"init_lr": 1e-3, "factor": 0.5, "epochs_per_round": 1, "max_rounds": 2}
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


@pytest.mark.parametrize("changes", [{"init_lr": 0}, {"factor": 1.5}, {"max_rounds": 0}, {"epochs_per_round": 0}])
def test_bad_search_settings_are_refused(demo_corpus, tiny_spec, changes):
    with pytest.raises(ConfigError):
        run_lr_search(tiny_spec(), demo_corpus, **changes)
    assert list_runs() == []


def test_a_resumed_search_keeps_finished_candidates_and_continues_the_unfinished_one(demo_corpus, tiny_spec):
    from ser.finetune import latest_checkpoint

    def stop_inside_the_second_candidate():
        children = list_runs(kind="wav2vec2")
        return any(c.status == "finished" for c in children) and any(
            c.status == "running" and latest_checkpoint(c) is not None for c in children)

    settings = dict(init_lr=1e-3, epochs_per_round=2, max_rounds=2)
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
