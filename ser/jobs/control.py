"""Jobs: long work off the page's thread. A job is a run folder in state ``queued`` plus a message on
the queue (ser.jobs.queue); a worker (``python -m ser worker``) picks it up and fills the run. All state
lives on disk in the run, so a page reload or an app restart shows the job and its progress.

The worker runs each job's work in a child process (``ser.jobs.child``, or torchrun's processes for a
job on several GPUs) in a session of its own, and looks for a cancel every quarter second meanwhile.

States: queued, running, finished, failed (with the error and the log's last lines), cancelled (the
worker stops the job's processes within seconds, in the middle of a fit or a training step: SIGTERM,
then SIGKILL to whatever is left 2 s later; the run says what had finished: a baseline's finished fits
are in ``fits.jsonl``, a wav2vec2 run keeps its last checkpoint), interrupted (the job's process was
killed without being asked, e.g. by the out-of-memory killer, or its worker stopped or died: a dead
worker is noticed within a minute from its heartbeat; ``resume`` puts the job back on the queue, and a
wav2vec2 run continues from its last checkpoint)."""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
import traceback

from .child import LOG_FILE, JobProcess, log_excerpt, log_tail
from .queue import enqueue
from ..errors import SerError
from ..runs import FINAL_STATES, Run, load_run, update_run

CANCEL_FILE = "cancel"
RESUMABLE = ("interrupted", "failed", "cancelled")


# ---------------------------------------------------------------- submitting

def submit_baseline(spec, corpus) -> Run:
    from ..learning.baselines import start_baseline

    return _queue(start_baseline(spec, corpus))


def submit_finetune(spec, corpus) -> Run:
    from ..learning.finetune import start_finetune

    return _queue(start_finetune(spec, corpus))


def submit_lr_search(spec, corpus, **search) -> Run:
    from ..learning.finetune import start_lr_search

    return _queue(start_lr_search(spec, corpus, **search))


def submit_embeddings(spec, corpus) -> Run:
    from ..learning.embeddings import start_embedding_job

    return _queue(start_embedding_job(spec, corpus))


def submit_probe(spec, corpus) -> Run:
    from ..learning.probe import start_probe

    return _queue(start_probe(spec, corpus))


def submit_evaluation(run_id: str, corpus) -> Run:
    """Score finished run ``run_id`` on ``corpus`` (another corpus) as a job."""
    from ..learning.evaluate import start_evaluation

    return _queue(start_evaluation(run_id, corpus))


def _queue(run: Run) -> Run:
    enqueue(run.run_id)
    return run


# ---------------------------------------------------------------- the worker side

POLL_SECONDS = 0.25  # how often the worker looks for a cancel while a job runs
STOP_GRACE_SECONDS = 2.0  # SIGTERM, then SIGKILL to whatever of the job is left after this long
_current: dict = {}  # the job this worker runs now: {"run_id", "process"}
_stopping = threading.Event()  # set when the worker itself stops (SIGTERM, Ctrl-C)


def execute(run_id: str) -> Run:
    """Run one job (called by the worker) in a child process (``ser.jobs.child``), watching for a
    cancel, which stops the child's processes at once. A job that is no longer queued (cancelled
    meanwhile) is skipped. Errors are recorded in the run and its log, never raised into the worker."""
    from .worker import current_worker, set_current_run

    run = load_run(run_id)
    if run.status != "queued":
        return run
    if _stopping.is_set():  # taken off the queue while the worker stops: back on it, for the next worker
        enqueue(run_id)
        return run
    update_run(run, status="running", worker=current_worker(), error=None)
    set_current_run(run_id)
    try:
        process = JobProcess(run, job_command(run))
        _current.update(run_id=run_id, process=process)
        asked = _watch(run, process)
        _settle(load_run(run_id), process, asked)
    except SerError as exc:  # e.g. more GPUs asked for than this worker has: the message, no traceback
        _append_log(run, f"the worker could not start the job: {exc}")
        update_run(load_run(run_id), status="failed", error=str(exc))
    except Exception:
        logging.getLogger("ser.jobs.control").error("job %s failed:\n%s", run_id, traceback.format_exc())
        _append_log(run, f"the worker could not run the job:\n{traceback.format_exc()}")
        run = load_run(run_id)
        if run.status not in FINAL_STATES:
            update_run(run, status="failed", error=f"the job stopped with an error (see the log){_log_excerpt(run)}")
    finally:
        _current.clear()
        set_current_run(None)
    return load_run(run_id)


def job_command(run: Run) -> list[str]:
    """The argv of a job's process(es): torchrun's for fine-tuning on several devices, else one child."""
    if run.kind in ("wav2vec2", "lr-search"):
        from ..learning.finetune import FinetuneSpec, distributed

        spec = FinetuneSpec.from_dict(run.info["spec"])
        return distributed.launch_command(run.run_id, distributed.processes(spec))
    return [sys.executable, "-m", "ser.jobs.child", run.run_id]


def _watch(run: Run, process: JobProcess) -> str | None:
    """Wait for the job's process to end; on a cancel, stop it. Returns "cancel" when a cancel stopped
    it, "worker" when the worker is stopping (``stop_current_job`` ends it), None when it ended by
    itself (its leftovers are ended)."""
    while not process.ended():
        if cancel_requested(run):
            _append_log(run, "cancel requested: stopping the job's processes")
            took = process.stop(STOP_GRACE_SECONDS)
            _append_log(run, f"the job's processes were stopped {took:.2f} s after the cancel was seen")
            return "cancel"
        if _stopping.is_set():
            return "worker"
        time.sleep(POLL_SECONDS)
    if _stopping.is_set():
        return "worker"
    process.finish()
    return None


def _settle(run: Run, process: JobProcess, asked: str | None) -> None:
    """The run's final state once its process has ended, when the process did not write one."""
    if run.status == "finished" or asked == "worker" or _stopping.is_set():
        return
    if asked == "cancel":
        update_run(run, status="cancelled", error=cancel_summary(run), cancelled=time.strftime("%Y-%m-%dT%H:%M:%S"))
        _cancel_children(run)
        return
    if run.status in FINAL_STATES:
        return
    how, number = process.exit_info
    signal_name = _signal_in_log(run) if how == "exited" and number else None
    if how == "killed" or signal_name:
        update_run(run, status="interrupted", interrupted=time.strftime("%Y-%m-%dT%H:%M:%S"),
                   error=f"the job's process was {process.outcome() if how == 'killed' else 'stopped: ' + signal_name}"
                         f" without being asked (out of memory?); resume it to continue{_log_excerpt(run)}")
    elif number:
        update_run(run, status="failed", error=f"the job's process ended with {process.outcome()}{_log_excerpt(run)}")
    else:
        update_run(run, status="failed", error=f"the job's process ended without recording a result{_log_excerpt(run)}")


def _signal_in_log(run: Run) -> str | None:
    """The signal that ended a process under torchrun (which exits 1 and logs "exitcode: -9" for it)."""
    import re

    found = re.findall(r"exitcode\s*:\s*-(\d+)", log_tail(run, 60))
    if not found:
        return None
    number = int(found[-1])
    return f"a training process was killed by {signal.Signals(number).name}" \
        if number in signal.Signals._value2member_map_ else f"a training process was killed by signal {number}"


def cancel_summary(run: Run) -> str:
    """What a job cancelled mid-work had finished, in a sentence."""
    if run.kind == "baseline":
        from ..learning.baselines import finished_fits

        done, planned = finished_fits(run)
        phase = ((run.info.get("progress") or {}).get("message") or "").split(" · ")[0]
        phase = "its start" if phase in ("", "queued", "running") else phase
        if not planned:
            return f"cancelled by request during {phase}; no fit had started"
        after = f", then it was cancelled during {phase}" if done >= planned else ""
        return (f"cancelled by request: {done} of {planned} fits had finished (recorded in fits.jsonl){after}; "
                "a resumed baseline starts again")
    if run.kind == "wav2vec2":
        return "cancelled by request" + _training_summary(run)
    if run.kind == "lr-search":
        rounds = len(run.info.get("rounds") or [])
        return (f"cancelled by request: {rounds} candidate(s) had been trained and scored; resume replays the "
                "search (the candidate in training continues from its last checkpoint)")
    return "cancelled by request"


def _training_summary(run: Run) -> str:
    from ..learning.finetune import latest_checkpoint

    progress = run.info.get("progress") or {}
    where = f" (last recorded step: {progress['step']} of {progress['total_steps']})" \
        if progress.get("step") is not None else ""
    checkpoint = latest_checkpoint(run)
    if checkpoint is None:
        return f"{where}; no checkpoint had been saved yet, so resume starts from the beginning"
    return f"{where}; the last checkpoint ({checkpoint.name}) is kept and resume continues from it"


def _cancel_children(run: Run) -> None:
    """A cancelled learning-rate search: its candidate in training is cancelled with it."""
    if run.kind != "lr-search":
        return
    from ..runs import list_runs

    for child in list_runs(kind="wav2vec2"):
        if child.info.get("parent") == run.run_id and child.status in ("queued", "running"):
            update_run(child, status="cancelled", error="cancelled with its learning-rate search"
                       + _training_summary(child))


def stop_current_job() -> None:
    """The worker is stopping: end the job it runs (its processes, at once) and mark it interrupted, so
    it can be resumed. No job is started after this."""
    _stopping.set()
    current = dict(_current)
    if not current:
        return
    current["process"].stop(STOP_GRACE_SECONDS)
    run = load_run(current["run_id"])
    if run.status not in FINAL_STATES:
        update_run(run, status="interrupted", interrupted=time.strftime("%Y-%m-%dT%H:%M:%S"),
                   error="its worker was stopped before the job finished; resume it to continue" + _log_excerpt(run))


def _append_log(run: Run, line: str) -> None:
    with (run.path / LOG_FILE).open("a") as out:
        out.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} worker: {line}\n")


# ---------------------------------------------------------------- cancel, resume, refresh

def cancel(run_id: str) -> Run:
    """Ask a job to stop. A queued job is cancelled at once; a running one is stopped by its worker
    within a second or two, in the middle of a fit or a training step (its worker sees the cancel file,
    ends the job's processes and records what had finished)."""
    run = load_run(run_id)
    if run.status in FINAL_STATES:
        return run
    (run.path / CANCEL_FILE).touch()
    if run.status in ("queued", "interrupted"):
        update_run(run, status="cancelled", error="cancelled before it ran" if run.status == "queued" else
                   "cancelled after its worker died")
    return load_run(run_id)


def cancel_requested(run: Run) -> bool:
    return (run.path / CANCEL_FILE).exists()


def resume(run_id: str) -> Run:
    """Put an interrupted, failed or cancelled job back on the queue. A wav2vec2 run continues from
    its last checkpoint; a baseline starts again."""
    run = load_run(run_id)
    if run.status not in RESUMABLE:
        return run
    (run.path / CANCEL_FILE).unlink(missing_ok=True)
    update_run(run, status="queued", resume=True, error=None, progress={"done": 0, "total": 0, "message": "queued"})
    enqueue(run_id)
    return load_run(run_id)


def refresh(run: Run) -> Run:
    """Notice a running job whose worker died: it becomes interrupted."""
    from .worker import worker_is_alive

    if run.status != "running" or not run.info.get("worker"):
        return run
    if worker_is_alive(run.info["worker"]):
        return run
    run = load_run(run.run_id)  # it may have finished between the two reads
    if run.status == "running" and not worker_is_alive(run.info.get("worker")):
        worker = run.info.get("worker") or {}
        update_run(run, status="interrupted", interrupted=time.strftime("%Y-%m-%dT%H:%M:%S"),
                   error=f"its worker ({worker.get('id', '?')}) stopped before the job finished; resume it to "
                         "continue" + _log_excerpt(run))
    return load_run(run.run_id)


def _log_excerpt(run: Run) -> str:
    return log_excerpt(run)
