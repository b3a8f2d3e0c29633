"""Fine-tuning jobs in several processes (torchrun): how many processes a spec asks for on a worker, the
launch command, and real 2-process jobs of the tiny wav2vec2 on the CPU (gloo, the same code path as
NCCL on GPUs) through the real worker: a killed rank, resume, cancel, and only rank 0 writing the run."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from ser.errors import ConfigError
from ser.jobs.control import cancel, refresh, resume, submit_finetune
from ser.learning.finetune import FinetuneSpec, latest_checkpoint, run_finetune, start_lr_search
from ser.learning.finetune import distributed
from ser.runs import list_runs, load_run

ROOT = Path(__file__).resolve().parents[2]

# Every process the jobs start imports this (PYTHONPATH), so the test sees which rank wrote which file.
WRITE_LOG_HOOK = '''
import os
import ser.storage as storage

_write = storage.atomic_write

def atomic_write(path, write):
    with open(os.environ["SER_TEST_WRITE_LOG"], "a") as out:
        out.write(f"{os.environ.get('RANK', '-')} {path}\\n")
    return _write(path, write)

storage.atomic_write = atomic_write
'''


# ---------------------------------------------------------------- how many processes, and the command

@pytest.fixture
def gpus(monkeypatch):
    """Pretend the worker has this many GPUs."""
    def set_count(count: int) -> None:
        monkeypatch.setattr(distributed, "_gpu_count", lambda: count)
    return set_count


def test_processes_follow_the_spec_and_the_workers_gpus(gpus, monkeypatch):
    monkeypatch.delenv(distributed.CPU_PROCESSES, raising=False)
    gpus(4)
    assert [distributed.processes(FinetuneSpec(gpus=n)) for n in (1, 2, 4, 0)] == [1, 2, 4, 4]
    assert distributed.processes({"gpus": 3}) == 3 and distributed.processes({}) == 1  # run.json's spec
    with pytest.raises(ConfigError) as error:
        distributed.processes(FinetuneSpec(gpus=6))
    assert "6 GPUs" in error.value.detail and "has 4 GPUs" in error.value.detail
    monkeypatch.setenv(distributed.CPU_PROCESSES, "2")
    assert distributed.processes(FinetuneSpec(gpus=0)) == 4  # GPUs win over the CPU setting


def test_a_cpu_worker_runs_several_processes_only_when_told(gpus, monkeypatch):
    gpus(0)
    monkeypatch.delenv(distributed.CPU_PROCESSES, raising=False)
    assert distributed.processes(FinetuneSpec(gpus=1)) == 1
    assert distributed.processes(FinetuneSpec(gpus=0)) == 1  # all of no GPU: one process on the CPU
    with pytest.raises(ConfigError) as error:
        distributed.processes(FinetuneSpec(gpus=2))
    assert "2 GPUs" in error.value.detail and "no GPU" in error.value.detail
    assert "SER_CPU_PROCESSES=2" in error.value.detail
    monkeypatch.setenv(distributed.CPU_PROCESSES, "2")
    assert [distributed.processes(FinetuneSpec(gpus=n)) for n in (1, 2, 0)] == [1, 2, 2]
    with pytest.raises(ConfigError) as error:
        distributed.processes(FinetuneSpec(gpus=3))
    assert "3 GPUs" in error.value.detail and "has 2 CPU processes" in error.value.detail
    monkeypatch.setenv(distributed.CPU_PROCESSES, "two")
    with pytest.raises(ConfigError, match="SER_CPU_PROCESSES"):
        distributed.processes(FinetuneSpec(gpus=2))


@pytest.mark.parametrize("value", [-1, 1.5, True, "2"])
def test_a_bad_number_of_gpus_names_the_parameter(value):
    with pytest.raises(ConfigError) as error:
        FinetuneSpec(gpus=value).validate()
    assert "gpus" in error.value.detail and "0 for all" in error.value.detail


def test_the_launch_command_is_one_child_or_torchrun():
    run_id = "wav2vec2-20260101-000000-abcd"
    assert distributed.launch_command(run_id, 1) == [sys.executable, "-m", "ser.jobs.child", run_id]
    argv = distributed.launch_command(run_id, 2)
    assert argv[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert "--standalone" in argv and "--nproc-per-node=2" in argv
    assert argv[-3:] == ["-m", "ser.jobs.child", run_id]


def test_the_cli_has_a_gpus_option():
    from ser.cli import build_parser

    args = build_parser().parse_args(["finetune", "--model", "m", "--gpus", "0"])
    assert args.gpus == 0


def test_every_rank_shuffles_the_training_clips_alike():
    """The length-grouped sampler draws from its own seeded generator: ranks whose global random state
    has drifted apart (their random crops differ) still split one order of the clips between them."""
    from types import SimpleNamespace

    import torch

    from ser.learning.finetune.trainer import ClipTrainer

    trainer = SimpleNamespace(args=SimpleNamespace(train_sampling_strategy="group_by_length", train_batch_size=4,
                                                   gradient_accumulation_steps=1, seed=3))
    dataset = SimpleNamespace(lengths=list(range(100, 164)))
    orders = []
    for drift in (1, 2):
        torch.manual_seed(drift)
        sampler = ClipTrainer._get_train_sampler(trainer, dataset)
        orders.append([list(sampler) for _epoch in range(2)])
    assert orders[0] == orders[1] and orders[0][0] != orders[0][1]  # alike on every rank, new every epoch


# ---------------------------------------------------------------- real 2-process jobs

@pytest.fixture
def two_processes(monkeypatch, tmp_path):
    """Workers started from here run multi-process jobs in 2 CPU processes, and every process they start
    logs which rank wrote which file (WRITE_LOG_HOOK)."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(WRITE_LOG_HOOK)
    monkeypatch.setenv(distributed.CPU_PROCESSES, "2")
    paths = [str(hook), str(ROOT), os.environ.get("PYTHONPATH")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, paths)))
    monkeypatch.setenv("SER_TEST_WRITE_LOG", str(tmp_path / "writes.log"))
    return tmp_path / "writes.log"


def wait_for(run_id, check, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = refresh(load_run(run_id))
        if check(run):
            return run
        time.sleep(0.2)
    raise AssertionError(f"{run_id}: {run.status} {run.info.get('progress')} {run.info.get('error')}")


def job_processes(run_id):
    """The live processes running this job: torchrun and its ranks, {pid: RANK or None for torchrun}."""
    found = {}
    for process in psutil.process_iter(["cmdline", "status"]):
        if run_id in (process.info["cmdline"] or []) and process.info["status"] != psutil.STATUS_ZOMBIE:
            try:
                found[process.pid] = process.environ().get("RANK")
            except psutil.NoSuchProcess:
                pass
    return found


def training(run):
    return run.status == "running" and len(run.info.get("history") or []) >= 1


def no_job_processes(run_id, timeout=10):
    deadline = time.monotonic() + timeout
    while job_processes(run_id) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not job_processes(run_id)


def test_a_killed_rank_interrupts_the_job_resume_continues_it_and_cancel_stops_it(
        two_processes, worker_process, tiny_spec, demo_corpus):
    run = submit_finetune(tiny_spec(epochs=40, patience=0, gpus=2), demo_corpus)
    # an epoch logged and its checkpoint written (under load the kill could otherwise fall between the two)
    wait_for(run.run_id, lambda r: training(r) and latest_checkpoint(r) is not None)
    ranks = job_processes(run.run_id)
    assert sorted(filter(None, ranks.values())) == ["0", "1"] and len(ranks) == 3  # torchrun and 2 ranks
    os.kill(next(pid for pid, rank in ranks.items() if rank == "1"), signal.SIGKILL)
    stopped = wait_for(run.run_id, lambda r: r.status != "running", timeout=30)
    assert stopped.status in ("interrupted", "failed"), stopped.info.get("error")  # never finished; resumable
    assert "SIGKILL" in stopped.info["error"]  # torchrun's report names the rank's death
    assert no_job_processes(run.run_id), job_processes(run.run_id)
    checkpoint = latest_checkpoint(stopped)
    trained = len(stopped.info["history"])
    assert checkpoint is not None and trained >= 1

    resume(run.run_id)  # in 2 processes again, from the checkpoint
    wait_for(run.run_id, lambda r: r.status == "running" and len(r.info.get("history") or []) > trained)
    again = load_run(run.run_id)
    assert again.info["resumed_from"] == checkpoint.name and again.info["device"]["processes"] == 2
    asked = time.monotonic()
    cancel(run.run_id)
    cancelled = wait_for(run.run_id, lambda r: r.status != "running", timeout=30)
    took = time.monotonic() - asked
    assert cancelled.status == "cancelled" and took < 8, (cancelled.status, took)
    assert "checkpoint" in cancelled.info["error"] and latest_checkpoint(cancelled) is not None
    assert no_job_processes(run.run_id), job_processes(run.run_id)
    assert not (cancelled.path / "model").exists() and not (cancelled.path / "predictions.parquet").exists()
    writers = {line.split()[0] for line in two_processes.read_text().splitlines() if run.run_id in line}
    assert "0" in writers and writers <= {"0", "-"}  # rank 0 and the worker; rank 1 never


def test_a_job_asking_for_more_gpus_than_the_worker_has_fails_before_training(
        two_processes, worker_process, tiny_spec, demo_corpus):
    run = submit_finetune(tiny_spec(gpus=3), demo_corpus)
    failed = wait_for(run.run_id, lambda r: r.status not in ("queued", "running"), timeout=60)
    assert failed.status == "failed" and "3 GPUs" in failed.info["error"] and "has 2" in failed.info["error"]
    assert "Traceback" not in failed.info["error"] and "see the log" not in failed.info["error"]  # the message only
    assert not failed.info.get("history") and not (failed.path / "checkpoints").exists()


def test_a_two_process_learning_rate_search_is_written_by_rank_0_alone(two_processes, tiny_spec, demo_corpus):
    run = start_lr_search(tiny_spec(gpus=2), demo_corpus, init_lr=1e-3, epochs_per_round=1, max_rounds=1)
    done = subprocess.run(distributed.launch_command(run.run_id, 2), cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    search = load_run(run.run_id)
    assert search.status == "finished" and len(search.info["rounds"]) == 3 and search.info["best"]["run_id"]
    children = list_runs(kind="wav2vec2")  # one run per candidate: none made by rank 1
    assert sorted(c.run_id for c in children) == sorted(row["run_id"] for row in search.info["rounds"])
    assert all(c.status == "finished" and c.info["parent"] == run.run_id for c in children)
    assert {line.split()[0] for line in two_processes.read_text().splitlines()} == {"0"}
    assert search.info["metrics"] == load_run(search.info["best"]["run_id"]).info["metrics"]

    one = run_finetune(tiny_spec(learning_rate=search.info["best"]["lr"]), demo_corpus)
    assert_same_structure(load_run(search.info["best"]["run_id"]), one)


def assert_same_structure(many, one):
    """A run trained in several processes looks like one trained in one: the same fields, clips, parts,
    prediction columns and metrics, the model saved, the checkpoints gone, no temporary file left."""
    assert set(many.info) - {"parent"} == set(one.info)
    assert many.info["device"]["processes"] == 2 and one.info["device"]["processes"] == 1
    assert many.info["split_info"] == one.info["split_info"]
    assert set(many.info["metrics"]) == set(one.info["metrics"])
    assert many.info["metrics"]["clips"] == many.info["split_info"]["test"]
    assert [h["epoch"] for h in many.info["history"]] == [h["epoch"] for h in one.info["history"]] == [1.0]
    assert set(many.info["history"][0]) == set(one.info["history"][0])
    a, b = (run.predictions() for run in (many, one))
    assert list(a.columns) == list(b.columns)
    key = ["clip_id", "part", "y_true"]
    assert a[key].sort_values("clip_id", ignore_index=True).equals(b[key].sort_values("clip_id", ignore_index=True))
    assert (many.path / "model" / "model.safetensors").exists() and not (many.path / "checkpoints").exists()
    assert not list(many.path.glob(".*"))
