"""Jobs: long work off the page's thread. A job is a run folder in state ``queued`` plus a message on
the queue (ser.jobs.queue); a worker (``python -m ser worker``) picks it up and fills the run. All state
lives on disk in the run, so a page reload or an app restart shows the job and its progress.

States: queued, running, finished, failed (with the error and the log's last lines), cancelled (the
job stops at the next step or fit and keeps what was saved), interrupted (its worker died: noticed
within a minute from the worker's heartbeat; ``resume`` puts it back on the queue, and a wav2vec2 run
continues from its last checkpoint)."""

from __future__ import annotations

import logging
import time
import traceback

from .queue import enqueue
from ..runs import FINAL_STATES, Run, load_run, update_run

CANCEL_FILE = "cancel"
LOG_FILE = "job.log"
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


def _queue(run: Run) -> Run:
    enqueue(run.run_id)
    return run


# ---------------------------------------------------------------- the worker side

def execute(run_id: str) -> Run:
    """Run one job (called by the worker). A job that is no longer queued (cancelled meanwhile) is
    skipped. Errors are recorded in the run and its log, never raised into the worker."""
    from .worker import current_worker, set_current_run

    run = load_run(run_id)
    if run.status != "queued":
        return run
    update_run(run, status="running", worker=current_worker(), error=None)
    set_current_run(run_id)
    handler = _log_to(run)
    try:
        _dispatch(run)
    except Exception:
        logging.getLogger("ser.jobs.control").error("job %s failed:\n%s", run_id, traceback.format_exc())
        run = load_run(run_id)
        if run.status not in FINAL_STATES:
            update_run(run, status="failed", error=f"the job stopped with an error (see the log){_log_excerpt(run)}")
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
        set_current_run(None)
    return load_run(run_id)


def _dispatch(run: Run) -> None:
    from ..data.corpus import load_corpus

    corpus = load_corpus(run.info["corpus"]["source"])
    stop = lambda: cancel_requested(run)  # noqa: E731
    spec = run.info["spec"]
    if run.kind == "baseline":
        from ..learning.baselines import BaselineSpec, run_baseline

        run_baseline(BaselineSpec.from_dict(spec), corpus, run, should_stop=stop)
    elif run.kind == "wav2vec2":
        from ..learning.finetune import FinetuneSpec, run_finetune

        run_finetune(FinetuneSpec.from_dict(spec), corpus, run, should_stop=stop, resume=bool(run.info.get("resume")))
    elif run.kind == "lr-search":
        from ..learning.finetune import FinetuneSpec, run_lr_search

        run_lr_search(FinetuneSpec.from_dict(spec), corpus, run=run, should_stop=stop,
                      resume=bool(run.info.get("resume")), **run.info.get("search", {}))
    else:
        raise ValueError(f"unknown job kind {run.kind!r}")


def _log_to(run: Run) -> logging.Handler:
    handler = logging.FileHandler(run.path / LOG_FILE)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level > logging.INFO:
        root.setLevel(logging.INFO)
    return handler


# ---------------------------------------------------------------- cancel, resume, refresh

def cancel(run_id: str) -> Run:
    """Ask a job to stop. A queued job is cancelled at once; a running one stops at its next step."""
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


def log_tail(run: Run, lines: int = 20) -> str:
    path = run.path / LOG_FILE
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _log_excerpt(run: Run) -> str:
    tail = log_tail(run, 3)
    return f". Last log lines:\n{tail}" if tail else ""
