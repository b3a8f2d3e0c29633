"""``python -m ser worker``: consume the job queue, one job at a time, on this machine's GPU when it
has one. A heartbeat file under ``cache/workers/`` says the worker is alive, where, on which device
and what it is doing; the app reads it for the sidebar and starts a local worker when none is alive.

No orphans, no twins:
- a worker holds an OS lock (``flock``) on ``cache/workers/<host>-<devices>.lock`` for its whole life,
  so at most one worker per host and device set runs jobs; a second one exits at once. "Is a local
  worker alive?" asks the lock, which the kernel releases when the process dies, however it dies;
- a worker the app or the CLI started (``python -m ser worker --auto``) exits when nothing has needed
  it for ``SER_WORKER_IDLE_SECONDS`` (default 300): no job queued or running and no client alive. A
  client (an app or a CLI waiting on a job) touches ``cache/workers/clients/<host>-<pid>`` whenever it
  looks at the worker; a lease is dead when older than ``SER_WORKER_CLIENT_SECONDS`` (default 60) or
  when its process is gone. A worker started by hand keeps running;
- SIGTERM (or the idle timeout) ends the process within seconds, also when something left behind by
  a job (a process pool, a thread) would keep the interpreter from exiting;
- a job runs in a child process (``ser.jobs.child``) that the worker ends with it: on SIGTERM the
  worker stops the job's processes and marks the job interrupted (resumable); if the worker is killed
  outright, the kernel sends the child SIGTERM (parent-death signal) and it ends its own processes.
  The worker is the reaper of the job's orphaned processes (child subreaper), so none outlives a job."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from .. import config
from ..storage import atomic_write

HEARTBEAT_SECONDS = 5
STALE_SECONDS = 30
IDLE_SECONDS = 300  # SER_WORKER_IDLE_SECONDS: an auto-started worker nobody needs exits after this long
CLIENT_SECONDS = 60  # SER_WORKER_CLIENT_SECONDS: a client lease untouched for this long is dead
EXIT_GRACE_SECONDS = 5  # after the consumer stops, the process ends at the latest this much later
LOCK_ATTEMPTS = 5  # a worker tries the lock this many times, 0.2 s apart (an app's probe holds it briefly)
log = logging.getLogger(__name__)
_started: list[subprocess.Popen] = []


def workers_dir() -> Path:
    path = config.cache_dir() / "workers"
    path.mkdir(parents=True, exist_ok=True)
    return path


def worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def device() -> str:
    """cuda:N (name) when torch sees a GPU, else cpu; torch is imported only if installed."""
    try:
        import torch
    except ImportError:
        return "cpu"
    if torch.cuda.is_available():
        index = torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    return "cpu"


class Heartbeat:
    """Writes this worker's state every few seconds until stopped."""

    def __init__(self, device_name: str, auto: bool = False):
        self.path = workers_dir() / f"{worker_id()}.json"
        self.state = {"id": worker_id(), "host": socket.gethostname(), "pid": os.getpid(), "device": device_name,
                      "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "current_run": None, "auto": auto}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)

    def start(self) -> "Heartbeat":
        self.write()
        self._thread.start()
        return self

    def write(self) -> None:
        self.state["beat"] = time.time()
        text = json.dumps(self.state)
        atomic_write(self.path, lambda tmp: tmp.write_text(text))

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            self.write()

    def stop(self) -> None:
        self._stop.set()
        self.path.unlink(missing_ok=True)


_heartbeat: Heartbeat | None = None


def current_worker() -> dict | None:
    """This process' worker state, when it is a worker (jobs record who ran them)."""
    return dict(_heartbeat.state) if _heartbeat is not None else None


def set_current_run(run_id: str | None) -> None:
    if _heartbeat is not None:
        _heartbeat.state["current_run"] = run_id
        _heartbeat.write()


def _seconds(variable: str, default: float) -> float:
    try:
        return float(os.environ.get(variable, "") or default)
    except ValueError:
        return default


def idle_seconds() -> float:
    return _seconds("SER_WORKER_IDLE_SECONDS", IDLE_SECONDS)


def client_seconds() -> float:
    return _seconds("SER_WORKER_CLIENT_SECONDS", CLIENT_SECONDS)


# ---------------------------------------------------------------- one worker per device: the lock

def lock_path() -> Path:
    """This host's lock for the devices a worker started here would see (CUDA_VISIBLE_DEVICES)."""
    devices = os.environ.get("CUDA_VISIBLE_DEVICES", "").strip().replace(",", "_") or "all"
    return workers_dir() / f"{socket.gethostname()}-{devices}.lock"


def take_lock(attempts: int = LOCK_ATTEMPTS):
    """The open lock file, locked for as long as it stays open; None when another worker holds it."""
    handle = open(lock_path(), "a+")
    for attempt in range(attempts):
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if attempt + 1 < attempts:
                time.sleep(0.2)
            continue
        handle.truncate(0)
        handle.write(str(os.getpid()))
        handle.flush()
        return handle
    handle.close()
    return None


def lock_holder() -> int | None:
    """The pid written by the worker holding this host's lock (None when nobody holds it)."""
    if not local_worker_running():
        return None
    try:
        return int(lock_path().read_text().strip() or 0) or None
    except (OSError, ValueError):
        return None


def local_worker_running() -> bool:
    """Whether a worker on this host holds the lock: if a shared lock can be taken, none does."""
    try:
        handle = open(lock_path(), "a+")
    except OSError:
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


# ---------------------------------------------------------------- clients: who still needs the worker

def clients_dir() -> Path:
    path = workers_dir() / "clients"
    path.mkdir(parents=True, exist_ok=True)
    return path


def touch_client() -> None:
    """Say that this process (an app, a CLI waiting on a job) still needs a local worker."""
    (clients_dir() / f"{socket.gethostname()}-{os.getpid()}").touch()


def live_clients() -> list[str]:
    """Fresh leases whose process exists; dead ones are removed."""
    alive = []
    for path in clients_dir().iterdir():
        host, _, pid = path.name.rpartition("-")
        try:
            fresh = time.time() - path.stat().st_mtime <= client_seconds()
        except OSError:
            continue
        if fresh and (host != socket.gethostname() or pid_alive(pid)):
            alive.append(path.name)
        else:
            path.unlink(missing_ok=True)
    return alive


def needed() -> bool:
    """A job is queued or running, or a client is alive; a queue that cannot be read counts as needed
    (a hiccup never stops a worker)."""
    from .queue import pending

    if _heartbeat is not None and _heartbeat.state.get("current_run"):
        return True
    try:
        return pending() > 0 or bool(live_clients())
    except Exception:
        log.exception("idle check failed")
        return True


def _stop_when_idle(stop: threading.Event) -> None:
    """An auto-started worker's watch: once nothing has needed it for the idle timeout, stop."""
    last_needed = time.monotonic()
    while not stop.wait(min(1.0, idle_seconds() / 4)):
        if needed():
            last_needed = time.monotonic()
        elif time.monotonic() - last_needed >= idle_seconds():
            if stop.wait(0.5):
                return
            if needed():  # look again: a job just taken off the queue is not marked as running for a moment
                last_needed = time.monotonic()
                continue
            log.info("worker %s: idle for %.0f s with no client: exiting", worker_id(), idle_seconds())
            os.kill(os.getpid(), signal.SIGTERM)  # the consumer's own stop path
            return


# ---------------------------------------------------------------- the worker process

def run_worker(auto: bool = False) -> int:
    """Consume jobs until interrupted (Ctrl-C or SIGTERM stop; a job in progress is stopped and becomes
    interrupted). ``auto``: started by the app or the CLI, so it exits once idle.
    Returns the exit status: 0, or 1 when a worker started by hand finds another one holding the lock."""
    lock = take_lock()
    if lock is None:
        holder = lock_holder()
        print(f"worker {worker_id()}: another worker{f' (pid {holder})' if holder else ''} already serves this "
              f"machine's devices (it holds {lock_path()}); exiting", file=sys.stderr, flush=True)
        return 0 if auto else 1
    signal.signal(signal.SIGTERM, _exit_now)  # until the consumer installs its own handler
    from .child import adopt_orphans

    adopt_orphans()
    try:
        return _consume(auto)
    finally:
        lock.close()
        _exit_soon()


def _exit_now(signum, frame) -> None:
    raise SystemExit(0)


def _consume(auto: bool) -> int:
    from .queue import huey, is_local, queue_url

    global _heartbeat
    name = device()
    idle = f", exits after {idle_seconds():.0f} s idle with no client" if auto else ""
    print(f"worker {worker_id()}: queue {queue_url()}, device {name}"
          f"{'' if name.startswith('cuda') else ' (no GPU: fine-tuning will be slow)'}{idle}", file=sys.stderr,
          flush=True)
    watch_stop = threading.Event()
    heartbeat = _heartbeat = Heartbeat(name, auto)
    try:
        heartbeat.start()
        consumer = huey().create_consumer(workers=1, worker_type="thread", periodic=False, initial_delay=0.2,
                                          backoff=1.15, max_delay=1.0, check_worker_health=True)
        if auto and is_local():
            threading.Thread(target=_stop_when_idle, args=(watch_stop,), daemon=True, name="idle-watch").start()
        consumer.run()
    finally:
        watch_stop.set()
        control = sys.modules.get(f"{__package__}.control")  # imported with the first job, not before
        if control is not None:
            control.stop_current_job()  # the job's processes end with the worker
        heartbeat.stop()
    return 0


def _exit_soon() -> None:
    """The consumer stopped: make sure the process ends. A second SIGTERM kills at once, and whatever a
    job left behind (a pool's threads or processes joined at exit) gets a few seconds, then the
    process ends regardless."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)

    def _force() -> None:
        time.sleep(EXIT_GRACE_SECONDS)
        print(f"worker {worker_id()}: still exiting after {EXIT_GRACE_SECONDS} s: ending the process",
              file=sys.stderr, flush=True)
        logging.shutdown()
        os._exit(0)

    threading.Thread(target=_force, daemon=True, name="exit-watch").start()


def live_workers() -> list[dict]:
    """Workers whose heartbeat is fresh (and, on this host, whose process exists)."""
    alive = []
    for path in workers_dir().glob("*.json"):
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if time.time() - state.get("beat", 0) > STALE_SECONDS:
            continue
        if state.get("host") == socket.gethostname() and not pid_alive(state.get("pid")):
            continue
        alive.append(state)
    return alive


def worker_is_alive(state: dict | None) -> bool:
    """Whether the worker described by ``state`` (as recorded in a run) still runs."""
    if not state:
        return False
    return any(w.get("id") == state.get("id") for w in live_workers())


def ensure_local_worker() -> dict | None:
    """Start a worker on this machine when the queue is local and none holds the lock, and renew this
    process' client lease (so an auto-started worker keeps running while the app or CLI lives).
    Returns the state of a live worker, or None while a new one is starting."""
    from .queue import is_local

    workers = live_workers()
    if not is_local():
        return workers[0] if workers else None
    touch_client()
    if local_worker_running():
        here = [w for w in workers if w.get("host") == socket.gethostname()]
        return (here or workers or [None])[0]  # None: locked, heartbeat not written yet
    for process in list(_started):
        if process.poll() is None:
            return None  # started, not locked yet
        _started.remove(process)
    log_file = open(config.cache_dir() / "worker.log", "ab")
    process = subprocess.Popen([sys.executable, "-m", "ser", "worker", "--auto"], stdout=log_file, stderr=log_file,
                               stdin=subprocess.DEVNULL, cwd=str(config.PROJECT_ROOT),
                               env={**os.environ, "SER_CACHE": str(config.cache_dir())}, start_new_session=True)
    log_file.close()
    _started.append(process)
    return None


def pid_alive(pid) -> bool:
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (ended, not yet reaped by its parent) is not alive
        return Path(f"/proc/{int(pid)}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True
