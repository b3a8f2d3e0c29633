"""Jobs: long work (grid searches) off the page's thread. A job is a run folder in state
``queued`` plus a detached worker process (``python -m ser run-job RUN_ID``) that fills it. All state
lives on disk in the run, so a page reload or an app restart shows the job and its progress.

States: queued, running, finished, failed (with the error), cancelled (the job stops between two
fits and keeps what was saved), interrupted (the process died: noticed from its pid).
The queue and worker of the wav2vec2 issue will replace the detached process; the API stays."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from . import config
from .runs import FINAL_STATES, Run, load_run, update_run

CANCEL_FILE = "cancel"
LOG_FILE = "job.log"
_children: list[subprocess.Popen] = []  # job processes started here, reaped as they end


def submit_baseline(spec, corpus) -> Run:
    """Queue a baseline run and start its worker process; returns at once."""
    from .baselines import start_baseline

    return _launch(start_baseline(spec, corpus))


def _launch(run: Run) -> Run:
    log = open(run.path / LOG_FILE, "ab")
    env = {**os.environ, "SER_CACHE": str(config.cache_dir())}
    process = subprocess.Popen([sys.executable, "-m", "ser", "run-job", run.run_id], stdout=log, stderr=log,
                               stdin=subprocess.DEVNULL, cwd=str(config.PROJECT_ROOT), env=env,
                               start_new_session=True)
    log.close()
    _children.append(process)
    return update_run(run, pid=process.pid)


def _reap() -> None:
    for process in list(_children):
        if process.poll() is not None:
            _children.remove(process)


def execute(run_id: str) -> Run:
    """The worker side: load the corpus named in the run and do the work."""
    from .baselines import BaselineSpec, run_baseline
    from .corpus import load_corpus

    run = load_run(run_id)
    if run.status != "queued":
        return run
    update_run(run, pid=os.getpid())
    corpus = load_corpus(run.info["corpus"]["source"])
    spec = BaselineSpec(**run.info["spec"])
    return run_baseline(spec, corpus, run, should_stop=lambda: cancel_requested(run))


def cancel(run_id: str) -> Run:
    """Ask a queued or running job to stop; it stops between two fits."""
    run = load_run(run_id)
    if run.status in FINAL_STATES:
        return run
    (run.path / CANCEL_FILE).touch()
    if run.status == "queued" and not _alive(run.info.get("pid")):
        update_run(run, status="cancelled", error="cancelled before it started")
    return run


def cancel_requested(run: Run) -> bool:
    return (run.path / CANCEL_FILE).exists()


def refresh(run: Run) -> Run:
    """Notice a job whose process died without finishing: it becomes interrupted."""
    _reap()
    if run.status in ("queued", "running") and run.info.get("pid") and not _alive(run.info["pid"]):
        run = load_run(run.run_id)  # it may have finished between the two reads
        if run.status in ("queued", "running") and not _alive(run.info.get("pid")):
            update_run(run, status="interrupted", error="the job's process ended before the job finished; "
                       "start it again" + _log_tail(run))
    return run


def log_tail(run: Run, lines: int = 20) -> str:
    path = run.path / LOG_FILE
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _log_tail(run: Run) -> str:
    tail = log_tail(run, 3)
    return f" (last log lines: {tail})" if tail else ""


def _alive(pid) -> bool:
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (finished, not yet reaped by its parent) is not alive
        state = Path(f"/proc/{int(pid)}/stat").read_text().split(")")[-1].split()[0]
        return state != "Z"
    except OSError:
        return True
