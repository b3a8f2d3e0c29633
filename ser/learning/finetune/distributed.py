"""How many processes a fine-tuning job runs in, the command that starts them, and what the processes of
one job share.

A job on one device runs as one process (``python -m ser.jobs.child RUN_ID``). A job whose spec asks for
several GPUs (``gpus``: 1, the default, one process; N; 0 for all the worker's GPUs) runs under
``torchrun`` (``python -m torch.distributed.run --standalone --nproc-per-node N -m ser.jobs.child RUN_ID``):
one process per GPU, NCCL between GPUs, Hugging Face's Trainer doing the distributed data parallelism.
Every process trains; only the main process (rank 0) writes the run's files (run.json, predictions, the
model, progress, the learning-rate search's table); the others keep the same state in memory, so every
rank takes the same decisions (which epoch was best, which rate wins, whether to stop).

Contract with the worker (ser.jobs): ``processes(spec)`` and ``launch_command(run_id, n)``.

Environment:

- ``SER_CPU_PROCESSES=N`` (set where the worker starts): a worker without GPUs counts N devices, so a job
  asking for up to N (``gpus=0``: all N) runs in that many processes on the CPU with the gloo backend: the
  same code path as NCCL on GPUs, for tests and for trying multi-process jobs on a laptop. Ignored where
  the worker has GPUs.
- torchrun's own variables (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``) tell a process which one it is.

A rank that dies (killed, out of memory) takes the job down: torchrun ends the other ranks and exits
with a report naming the rank and the signal, which the worker turns into the run's state. A rank that
sees a peer vanish in the middle of a collective (gloo reports it at once) leaves that verdict to torchrun:
it waits a few seconds to be ended, and only then records the run as failed (``LostProcess``). A rank
whose launcher dies ends itself within a second: torchrun starts each rank in its own session, so
nothing else would stop it."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from typing import Callable

from ...errors import ConfigError, SerError

CPU_PROCESSES = "SER_CPU_PROCESSES"
MONITOR_SECONDS = 0.5  # how often torchrun and the ranks' watch look for a dead process
LAUNCHER_GRACE_SECONDS = 5.0  # a rank that lost a peer waits this long for torchrun to end it


class LostProcess(SerError):
    title = "Training process lost"


# ---------------------------------------------------------------- the worker side

def devices() -> int:
    """The devices a job on this worker may spread over: its GPUs, else ``SER_CPU_PROCESSES`` (0 when unset)."""
    return _gpu_count() or cpu_processes()


def cpu_processes() -> int:
    value = os.environ.get(CPU_PROCESSES, "").strip()
    if not value:
        return 0
    try:
        count = int(value)
    except ValueError:
        count = -1
    if count < 1:
        raise ConfigError(f"{CPU_PROCESSES} is {value!r}; give the number of CPU processes a multi-process job "
                          "runs in (e.g. 2), or leave it unset.", title="Bad setting")
    return count


def processes(spec) -> int:
    """The number of training processes the job asks for, on this worker: 1 for ``gpus=1``, N for
    ``gpus=N``, every device for ``gpus=0``. ConfigError (before anything trains) when it asks for more
    GPUs than the worker has. ``spec``: a FinetuneSpec or its dict (run.json's ``spec``)."""
    asked = spec.get("gpus", 1) if isinstance(spec, dict) else getattr(spec, "gpus", 1)
    if asked == 1:
        return 1
    available = devices()
    if asked == 0:
        return max(1, available)  # "all" of no GPU: one process on the CPU
    if available == 0:
        raise ConfigError(f"the job asks for {asked} GPUs (gpus={asked}) but this worker has no GPU; run it on a "
                          f"worker with {asked} GPUs, set gpus to 1, or set {CPU_PROCESSES}={asked} on the worker to "
                          "run it in CPU processes.", title="Not enough GPUs")
    if asked > available:
        what = "GPUs" if _gpu_count() else f"CPU processes ({CPU_PROCESSES})"
        raise ConfigError(f"the job asks for {asked} GPUs (gpus={asked}) but this worker has {available} {what}; "
                          f"give gpus={available} or less, or 0 for all of them.", title="Not enough GPUs")
    return asked


def _gpu_count() -> int:
    try:
        import torch
    except ImportError:
        return 0
    return torch.cuda.device_count()


def launch_command(run_id: str, processes: int = 1) -> list[str]:
    """The argv that runs job ``run_id`` in ``processes`` processes (torchrun for more than one)."""
    child = ["-m", "ser.jobs.child", run_id]
    if processes <= 1:
        return [sys.executable, *child]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}",
            f"--monitor-interval={MONITOR_SECONDS}", *child]


# ---------------------------------------------------------------- inside a job's processes

def rank() -> int:
    return int(os.environ.get("RANK", "0") or 0)


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def is_main_process() -> bool:
    return rank() == 0


def is_distributed() -> bool:
    return world_size() > 1


_watching = False


def join() -> None:
    """Set this process up as one rank of a multi-process job (a no-op in a single process): the process
    group (gloo on the CPU, NCCL on GPUs, through accelerate as Trainer does) and the watch that ends
    the rank when its launcher dies."""
    global _watching
    if not is_distributed():
        return
    if not _watching:
        _watching = True
        _watch_launcher(os.getppid())
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        from accelerate import PartialState

        PartialState(cpu=not torch.cuda.is_available())


def _watch_launcher(launcher: int) -> None:
    def watch() -> None:
        while True:
            time.sleep(MONITOR_SECONDS)
            if os.getppid() != launcher:  # re-parented: torchrun is gone
                os.kill(os.getpid(), signal.SIGKILL)
    threading.Thread(target=watch, daemon=True, name="launcher-watch").start()


def barrier() -> None:
    if is_distributed():
        import torch.distributed as dist

        join()
        dist.barrier()


def share(value):
    """Rank 0's ``value``, on every rank (the value itself in a single process)."""
    if not is_distributed():
        return value
    import torch.distributed as dist

    join()
    box = [value if is_main_process() else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def any_rank(flag: bool) -> bool:
    """True on every rank when ``flag`` is true on any of them."""
    if not is_distributed():
        return bool(flag)
    import torch
    import torch.distributed as dist

    join()
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else "cpu"
    value = torch.tensor([1 if flag else 0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def agreed(should_stop: Callable[[], bool] | None) -> Callable[[], bool] | None:
    """A cancel check every rank answers alike (all stop at the same step, or none does)."""
    if should_stop is None or not is_distributed() or getattr(should_stop, "agreed", False):
        return should_stop

    def check() -> bool:
        return any_rank(should_stop())
    check.agreed = True
    return check


def record(run, **fields):
    """``update_run`` on the main process; the other ranks keep the same fields in memory only."""
    from ...runs import update_run

    if is_main_process():
        return update_run(run, **fields)
    run.info.update(fields)
    return run


def created_on_main(create: Callable[[], object]):
    """A run made by rank 0 (``create()``), loaded by the other ranks once it exists on disk."""
    from ...runs import load_run

    run = create() if is_main_process() else None
    run_id = share(run.run_id if run is not None else None)
    return run if run is not None else load_run(run_id)


def lost_peer(exc: BaseException) -> LostProcess | None:
    """When ``exc`` says that another rank vanished (a failed collective), the error to record, after
    giving torchrun ``LAUNCHER_GRACE_SECONDS`` to end this process (it knows which rank died and how);
    None for any other error."""
    if not is_distributed() or not _collective_failure(exc):
        return None
    time.sleep(LAUNCHER_GRACE_SECONDS)
    seen = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
    return LostProcess(f"another process of this {world_size()}-process job stopped (killed, out of memory, or an "
                       f"error: see the job's log); resume it to continue from the last checkpoint. Rank {rank()} saw: "
                       f"{seen}")


def _collective_failure(exc: BaseException) -> bool:
    import torch.distributed as dist

    if isinstance(exc, dist.DistError):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and any(word in text for word in ("gloo", "NCCL", "Connection reset",
                                                                           "Connection closed"))
