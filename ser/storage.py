"""Files written so that a crash never leaves half of one: run.json, predictions, cached features,
bias results, embeddings and the worker's heartbeat all go through ``atomic_write``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Write through a temporary file in the same folder (``write(tmp)``), then rename it over ``path``:
    readers see the old file or the new one, never half of one. The temporary name carries the process
    id, so two processes writing the same file never share one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
