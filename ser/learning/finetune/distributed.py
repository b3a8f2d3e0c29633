"""How many processes a fine-tuning job runs in, and the command that starts them.

A job on one device runs as one process (``python -m ser.jobs.child RUN_ID``); a job that asks for
several GPUs runs under ``torchrun`` (one process per GPU, NCCL on GPUs, gloo on the CPU), where only
the main process (rank 0) writes the run's files.

Contract (used by ser.jobs.child, owned here): ``processes(spec)`` and ``launch_command(run_id, n)``."""

from __future__ import annotations

import os
import sys


def processes(spec) -> int:
    """The number of training processes the job asks for (1 until multi-GPU jobs exist)."""
    return 1


def launch_command(run_id: str, processes: int = 1) -> list[str]:
    """The argv that runs job ``run_id`` in ``processes`` processes."""
    return [sys.executable, "-m", "ser.jobs.child", run_id]


def rank() -> int:
    return int(os.environ.get("RANK", "0") or 0)


def is_main_process() -> bool:
    return rank() == 0
