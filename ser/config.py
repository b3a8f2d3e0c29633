"""Paths and settings, read from the environment.

- ``SER_DATA``: the default corpus (a CREMA-D folder or a manifest CSV); unset means the demo corpus.
- ``SER_CACHE``: where features, runs, the demo corpus and the queue live (default ``./cache``).
- ``SER_QUEUE_URL``: the job queue (default: SQLite under the cache; ``redis://...`` for several hosts).
- ``SER_DEMO_ACTORS``: how many actors the generated demo corpus has (default 24; CREMA-D has 91).
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def cache_dir() -> Path:
    """The cache folder, created on first use."""
    path = Path(os.environ.get("SER_CACHE") or PROJECT_ROOT / "cache").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def demo_dir() -> Path:
    """Where the synthetic demo corpus is generated on first use."""
    return cache_dir() / "demo-corpus"


DEMO_ACTORS = 24


def demo_actors() -> int:
    """How many actors the demo corpus is generated with: ``SER_DEMO_ACTORS``, else DEMO_ACTORS."""
    value = os.environ.get("SER_DEMO_ACTORS", "").strip()
    if not value:
        return DEMO_ACTORS
    try:
        return int(value)
    except ValueError:
        from .errors import ConfigError

        raise ConfigError(f"SER_DEMO_ACTORS={value!r}: give a whole number of actors (2 to 999).") from None


def features_dir() -> Path:
    path = cache_dir() / "features"
    path.mkdir(parents=True, exist_ok=True)
    return path


def runs_dir() -> Path:
    path = cache_dir() / "runs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def bias_dir(run_id: str) -> Path:
    """The Bias page's saved group reports of one run (deleted with the run)."""
    return cache_dir() / "bias" / run_id


def data_source() -> str | None:
    """The corpus named by ``SER_DATA``, or None for the demo corpus."""
    value = os.environ.get("SER_DATA", "").strip()
    return value or None


def queue_url() -> str:
    return os.environ.get("SER_QUEUE_URL", "").strip() or f"sqlite:///{cache_dir() / 'queue.db'}"


def default_jobs() -> int:
    """Worker processes for parallel extraction: every core."""
    return max(1, os.cpu_count() or 1)
