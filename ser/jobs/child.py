"""A job's work in a process of its own: ``python -m ser.jobs.child RUN_ID`` loads the run and does the
work its kind names (baseline, wav2vec2, lr-search, embeddings, probe, evaluation), logging into the
run's ``job.log``. The worker starts it (in its own session and process group) and watches it, so a
cancel can stop the work at once, in the middle of a fit or a training step, by signalling the processes doing it (see
``JobProcess``), and the worker is free for the next job as soon as they are gone.

The run's states (running, finished, failed, cancelled) are written by the engine functions as in any
in-process call; this module adds only "failed" for an error the engine did not record. Started by
``torchrun`` (RANK and WORLD_SIZE set), every rank runs this; only rank 0 writes the run.

On SIGTERM this process kills its own descendants (joblib's loky workers, which do not leave the
process group, and anything that did, e.g. in a new session) and exits at once: a thread does it,
woken by Python's wakeup file descriptor, so it does not wait for the main thread to come back from a
long C call such as an SVM fit."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the worker imports this module at its start; pandas (through ser.runs) waits for a job
    from ..runs import Run

LOG_FILE = "job.log"
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
log = logging.getLogger(__name__)


# ---------------------------------------------------------------- the child's side

def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m ser.jobs.child RUN_ID", file=sys.stderr)
        return 2
    end_on_sigterm()
    from ..runs import FINAL_STATES, load_run, update_run

    run = load_run(argv[0])
    handler = log_to(run)
    try:
        run_job(run)
    except Exception:
        log.error("job %s failed:\n%s", run.run_id, traceback.format_exc())
        run = load_run(run.run_id)
        if is_main_process() and run.status not in FINAL_STATES:
            update_run(run, status="failed", error=f"the job stopped with an error (see the log){log_excerpt(run)}")
        return 1
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    return 0


def run_job(run: Run, should_stop=None) -> None:
    """The work of a job, by its kind. ``should_stop``: a cooperative check between fits and steps, for
    callers in the same process; the worker stops a child by signals instead."""
    from ..data.corpus import load_corpus

    corpus = load_corpus(run.info["corpus"]["source"])
    spec = run.info["spec"]
    resume = bool(run.info.get("resume"))
    if run.kind == "baseline":
        from ..learning.baselines import BaselineSpec, run_baseline

        run_baseline(BaselineSpec.from_dict(spec), corpus, run, should_stop=should_stop)
    elif run.kind == "wav2vec2":
        from ..learning.finetune import FinetuneSpec, run_finetune

        run_finetune(FinetuneSpec.from_dict(spec), corpus, run, should_stop=should_stop, resume=resume)
    elif run.kind == "lr-search":
        from ..learning.finetune import FinetuneSpec, run_lr_search

        run_lr_search(FinetuneSpec.from_dict(spec), corpus, run=run, should_stop=should_stop, resume=resume,
                      **run.info.get("search", {}))
    elif run.kind == "embeddings":
        from ..learning.embeddings import EmbeddingSpec, run_embedding_job

        run_embedding_job(EmbeddingSpec.from_dict(spec), corpus, run, should_stop=should_stop)
    elif run.kind == "probe":
        from ..learning.probe import ProbeSpec, run_probe

        run_probe(ProbeSpec.from_dict(spec), corpus, run, should_stop=should_stop)
    elif run.kind == "evaluation":  # a finished run scored on another corpus: ``corpus`` is that corpus
        from ..learning.evaluate import run_evaluation

        run_evaluation(run, corpus, should_stop=should_stop)
    else:
        raise ValueError(f"unknown job kind {run.kind!r}")


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0") or 0) == 0


def log_to(run: Run) -> logging.Handler:
    """Log records of this process into the run's job.log (with the rank under torchrun)."""
    handler = logging.FileHandler(run.path / LOG_FILE)
    rank = f" rank {os.environ['RANK']}" if int(os.environ.get("WORLD_SIZE", "1") or 1) > 1 else ""
    handler.setFormatter(logging.Formatter(f"%(asctime)s %(levelname)s{rank} %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level > logging.INFO:
        root.setLevel(logging.INFO)
    return handler


def log_tail(run: Run, lines: int = 20) -> str:
    path = run.path / LOG_FILE
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def log_excerpt(run: Run, lines: int = 3) -> str:
    tail = log_tail(run, lines)
    return f". Last log lines:\n{tail}" if tail else ""


def end_on_sigterm() -> None:
    """On SIGTERM, kill this process' descendants and exit (status 143), at once. The C-level handler
    writes the signal's number into the wakeup pipe whatever the main thread is doing; the thread
    reading it needs no help from the main thread (an SVM fit in libsvm releases the GIL)."""
    read, write = os.pipe()
    os.set_blocking(write, False)
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    signal.set_wakeup_fd(write, warn_on_full_buffer=False)

    def watch() -> None:
        while True:
            received = os.read(read, 64)
            if not received or signal.SIGTERM in received:
                break
        below = list(descendants(os.getpid()))
        # From the first kill on, no Python code of this process other than this thread may run: the main
        # thread would see its pool break and record the job as failed. This thread keeps the GIL (a long
        # switch interval, and os.kill does not release it) until the process is gone.
        sys.setswitchinterval(60)
        for pid in below:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        os._exit(128 + signal.SIGTERM)

    threading.Thread(target=watch, daemon=True, name="sigterm-watch").start()


# ---------------------------------------------------------------- processes, read from /proc

def _stat(pid: int) -> tuple[int, int, int, int, str] | None:
    """(ppid, process group, session, start time, state) of a process, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[1]), int(fields[2]), int(fields[3]), int(fields[19]), fields[0]


def _table() -> dict[int, tuple[int, int, int, int, str]]:
    table = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None:
                table[int(entry.name)] = stat
    return table


def descendants(root: int) -> dict[int, int]:
    """Every live process below ``root`` (by parent links, whatever session it started), plus every
    member of root's process group or session: {pid: start time}. Not root itself."""
    table = _table()
    found = {pid for pid, (_, group, session, _, _) in table.items() if root in (group, session)}
    frontier = [root, *found]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, *_rest) in table.items():
            if ppid == parent and pid not in found:
                found.add(pid)
                frontier.append(pid)
    found.discard(root)
    return {pid: table[pid][3] for pid in found if table[pid][4] != "Z"}


def alive(pid: int, started: int) -> bool:
    """Whether the process ``pid`` that started at ``started`` (clock ticks after boot) still runs; a
    zombie does not, and a new process that reused the number is another process."""
    stat = _stat(pid)
    return stat is not None and stat[3] == started and stat[4] != "Z"


def send(pid: int, started: int, signum: int) -> None:
    if alive(pid, started):
        try:
            os.kill(pid, signum)
        except (ProcessLookupError, PermissionError):
            pass


# ---------------------------------------------------------------- the worker's side

def _libc():
    return ctypes.CDLL("libc.so.6", use_errno=True)


_adopting = False  # this process is a child subreaper (the worker)


def _table_children(parent: int) -> dict[int, int]:
    return {pid: stat[3] for pid, stat in _table().items() if stat[0] == parent and stat[4] != "Z"}


def adopt_orphans() -> None:
    """Make this process (the worker) the reaper of its orphaned descendants (Linux' child subreaper):
    a process a job started that outlives its parent becomes the worker's child, not init's, so the
    worker still finds it and ends it when the job ends."""
    global _adopting
    try:
        _adopting = _libc().prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except OSError:
        pass


def _die_with(parent: int, libc):
    """A preexec_fn (run in the forked child before exec): on Linux, PR_SET_PDEATHSIG asks the kernel to
    send SIGTERM to the child when the thread that started it ends, i.e. when the worker dies, even by
    SIGKILL; the child's SIGTERM handling (above, or torchrun's) then ends its own processes. The worker
    starts jobs from its one long-lived job thread, so that thread ends only with the worker. If the
    worker died before the call, the child exits at once."""
    def preexec() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)
    return preexec


class JobProcess:
    """The process (and every process below it) doing one job's work, as the worker sees it."""

    def __init__(self, run: Run, argv: list[str]):
        from .. import config

        self.run = run
        self.argv = argv
        self.known: dict[int, int] = {}  # every descendant seen so far: {pid: start time}
        env = {"TQDM_DISABLE": "1", **os.environ, "SER_CACHE": str(config.cache_dir()),  # no progress bars in the log
               "PYTHONPATH": os.pathsep.join(filter(None, [str(config.PROJECT_ROOT), os.environ.get("PYTHONPATH")]))}
        with open(run.path / LOG_FILE, "ab") as out:  # tracebacks, torchrun's messages, warnings: into the log
            self.process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            cwd=str(config.PROJECT_ROOT), env=env, start_new_session=True,
                                            preexec_fn=_die_with(os.getpid(), _libc()))
        self.pid = self.process.pid
        self.exit_info = None  # set once the process has ended: (how, number), how "exited" or "killed"

    def ended(self) -> bool:
        """Whether the main process has ended; it stays a zombie (not reaped) until ``finish``, so its
        number, which is also its process group's, cannot be reused while its leftovers are ended."""
        if self.exit_info is None:
            try:
                info = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                info = None
                self.exit_info = ("exited", self.process.returncode or 0)
            if info is not None:
                self.exit_info = ("exited" if info.si_code == os.CLD_EXITED else "killed", info.si_status)
        return self.exit_info is not None

    def look(self) -> dict[int, int]:
        """Note every process below the job's main process now (they cannot be found by their parent
        once it has died)."""
        self.known.update(descendants(self.pid))
        return self.known

    def signal(self, signum: int) -> None:
        if not self.ended():
            try:
                os.kill(self.pid, signum)
            except ProcessLookupError:
                pass
        for pid, started in list(self.known.items()):
            send(pid, started, signum)

    def stop(self, grace: float = 2.0) -> float:
        """SIGTERM to the job's main process (which ends the processes below it itself, or, for torchrun,
        its ranks), SIGKILL to it and to every process seen below it if any is left after ``grace``
        seconds; returns once they are all gone (or after 10 s more), with the seconds it took. The
        processes below get no SIGTERM of their own: a pool whose workers died before the main process
        would have it record a failure."""
        began = time.monotonic()
        self.look()
        if not self.ended():
            os.kill(self.pid, signal.SIGTERM)
        while time.monotonic() - began < grace:
            if not self.ended():
                self.look()
            elif not self._left():
                break
            time.sleep(0.05)
        self.look()
        self.signal(signal.SIGKILL)
        self.finish()
        return time.monotonic() - began

    def _left(self) -> list[int]:
        """The job's processes still alive: those seen before, the members of its group and session, and
        orphans the worker adopted (found after the main process ended too)."""
        self.look()
        if _adopting:
            for pid, started in _table_children(os.getpid()).items():
                if pid != self.pid:
                    self.known[pid] = started
                    self.known.update(descendants(pid))
        return [pid for pid, started in self.known.items() if alive(pid, started)]

    def finish(self, timeout: float = 10.0) -> None:
        """After the main process ended (or was killed): end whatever it left behind, reap the ended
        processes the worker adopted, then reap the main process."""
        deadline = time.monotonic() + timeout
        while not self.ended() and time.monotonic() < deadline:
            time.sleep(0.02)
        while (left := self._left()) and time.monotonic() < deadline:
            for pid in left:
                send(pid, self.known[pid], signal.SIGKILL)
            time.sleep(0.02)
        for pid in set(self.known) | self._adopted_zombies():  # the worker's zombies; others are not its children
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
        self.process.wait(timeout=max(0.1, deadline - time.monotonic()))

    def _adopted_zombies(self) -> set[int]:
        """Processes of the job (its group or session) that the worker adopted and that had already ended
        when ``finish`` looked, so were never seen alive: a pool's resource trackers end just after the
        job's main process, and stayed the worker's zombies until it exited."""
        me = os.getpid()
        return {pid for pid, (ppid, group, session, _, state) in _table().items()
                if ppid == me and state == "Z" and self.pid in (group, session) and pid != self.pid}

    def outcome(self) -> str:
        how, number = self.exit_info or ("exited", self.process.returncode or 0)
        if how == "killed":
            return f"killed by {signal.Signals(number).name}" if number in signal.Signals._value2member_map_ \
                else f"killed by signal {number}"
        return f"exit status {number}"


if __name__ == "__main__":
    sys.exit(main())
