"""The job queue: huey on SQLite under the cache (one machine), or Redis when ``SER_QUEUE_URL`` is
``redis://...`` (several GPU hosts sharing one queue and one run store). A queued message carries only
a run id; everything else about the job is in the run's folder."""

from __future__ import annotations

from functools import lru_cache

from .. import config
from ..errors import ConfigError

TASK_NAME = "ser.execute_job"


def queue_url() -> str:
    return config.queue_url()


def is_local() -> bool:
    return queue_url().startswith("sqlite://")


@lru_cache(maxsize=4)
def _huey_for(url: str):
    from huey import RedisHuey, SqliteHuey

    if url.startswith("sqlite:///"):
        huey = SqliteHuey(name="ser", filename=url.removeprefix("sqlite:///"), results=False)
    elif url.startswith(("redis://", "rediss://", "unix://")):
        huey = RedisHuey(name="ser", url=url, results=False)
    else:
        raise ConfigError(f"SER_QUEUE_URL={url!r} is neither sqlite:///PATH nor redis://HOST:PORT/DB.",
                          title="Invalid queue address")

    def execute_job(run_id: str) -> None:
        from .control import execute

        execute(run_id)

    return huey, huey.task(name=TASK_NAME)(execute_job)


def huey():
    """The huey instance for the current settings, with the job task registered."""
    return _huey_for(queue_url())[0]


def enqueue(run_id: str) -> None:
    """Put a job on the queue; a worker picks it up (jobs run one at a time per worker)."""
    _huey_for(queue_url())[1](run_id)


def pending() -> int:
    return int(huey().pending_count())
