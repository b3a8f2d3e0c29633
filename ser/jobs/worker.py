"""``python -m ser worker``: consume the job queue, one job at a time, on this machine's GPU when it
has one. A heartbeat file under ``cache/workers/`` says the worker is alive, where, on which device
and what it is doing; the app reads it for the sidebar and starts a local worker when none is alive."""

from __future__ import annotations

import json
import logging
import os
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

    def __init__(self, device_name: str):
        self.path = workers_dir() / f"{worker_id()}.json"
        self.state = {"id": worker_id(), "host": socket.gethostname(), "pid": os.getpid(), "device": device_name,
                      "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "current_run": None}
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


def run_worker() -> None:
    """Consume jobs until interrupted (Ctrl-C or SIGTERM finish the current step and stop)."""
    from .queue import huey, queue_url

    global _heartbeat
    name = device()
    print(f"worker {worker_id()}: queue {queue_url()}, device {name}"
          f"{'' if name.startswith('cuda') else ' (no GPU: fine-tuning will be slow)'}", file=sys.stderr, flush=True)
    _heartbeat = Heartbeat(name).start()
    consumer = huey().create_consumer(workers=1, worker_type="thread", periodic=False, initial_delay=0.2,
                                      backoff=1.15, max_delay=1.0, check_worker_health=True)
    try:
        consumer.run()
    finally:
        _heartbeat.stop()


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
    """Start a worker on this machine when the queue is local and no worker is alive. Returns the
    state of a live worker, or None while a new one is starting."""
    from .queue import is_local

    workers = live_workers()
    if workers or not is_local():
        return workers[0] if workers else None
    for process in list(_started):
        if process.poll() is None:
            return None  # started, not beating yet
        _started.remove(process)
    log_file = open(config.cache_dir() / "worker.log", "ab")
    process = subprocess.Popen([sys.executable, "-m", "ser", "worker"], stdout=log_file, stderr=log_file,
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
