import pytest

from ser import config
from ser.runs import RunError, create_run, delete_run, list_runs, load_run, runs_table, update_run


def test_round_trip_list_and_delete():
    first = create_run("baseline", {"model": "svm", "split": "actor"}, {"name": "c"})
    second = create_run("baseline", {"model": "rf", "split": "report"}, {"name": "c"})
    update_run(second, status="finished", metrics={"accuracy": 0.5, "macro_f1": 0.4, "uar": 0.45})
    loaded = load_run(second.run_id)
    assert loaded.status == "finished" and loaded.metrics["macro_f1"] == 0.4
    assert {r.run_id for r in list_runs()} == {first.run_id, second.run_id}
    table = runs_table(list_runs())
    assert set(table.columns) >= {"run_id", "kind", "model", "corpus", "features", "split", "macro_f1", "created"}
    delete_run(first.run_id)
    assert [r.run_id for r in list_runs()] == [second.run_id]
    with pytest.raises(RunError):
        load_run(first.run_id)


def test_a_finished_run_is_never_marked_failed_later():
    run = create_run("baseline", {}, {})
    update_run(run, status="finished", metrics={"macro_f1": 0.5})
    update_run(run, status="failed", error="late crash")
    assert load_run(run.run_id).status == "finished"


def test_unreadable_run_json_is_skipped(caplog):
    good = create_run("baseline", {}, {})
    broken = config.runs_dir() / "baseline-20250101-120000-dead"
    broken.mkdir()
    (broken / "run.json").write_text("{ not json")
    by_hand = config.runs_dir() / "my notes"  # not a run id: not a run, even with a readable run.json
    by_hand.mkdir()
    (by_hand / "run.json").write_text('{"kind": "baseline", "status": "finished"}')
    assert [r.run_id for r in list_runs()] == [good.run_id]
    assert "unreadable run.json" in caplog.text


@pytest.mark.parametrize("run_id", ["../x", "../../etc", "/tmp", "baseline-20250101-120000-ab12/..",
                                    "baseline-20250101-120000-ab12/../../x", ".", "", "Baseline-20250101-120000-ab12",
                                    "baseline-2025-120000-ab12", "baseline-20250101-120000-ab12\n"])
def test_a_run_id_not_of_the_run_form_never_reaches_the_filesystem(run_id, tmp_path):
    outside = config.runs_dir().parent / "x"
    outside.mkdir(parents=True)
    (outside / "run.json").write_text('{"kind": "baseline", "status": "finished"}')
    for action in (load_run, delete_run):
        with pytest.raises(RunError, match=r"Run not found: no run .* a run id has the form KIND-YYYYmmdd-HHMMSS-xxxx"):
            action(run_id)
    if run_id:  # an empty id asks create_run for a new one
        with pytest.raises(RunError, match="a run id has the form"):
            create_run("baseline", {}, {}, run_id=run_id)
    assert (outside / "run.json").exists() and not (outside.parent / "etc").exists()


def test_every_kind_in_use_makes_ids_of_the_run_form():
    for kind in ("baseline", "wav2vec2", "lr-search", "cross-corpus2"):
        run = create_run(kind, {}, {})
        assert load_run(run.run_id).kind == kind
        delete_run(run.run_id)
    with pytest.raises(RunError, match="Run not found"):
        create_run("../up", {}, {})
