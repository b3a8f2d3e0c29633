"""Live job statuses. While a job is queued or running, the parts of a page that show jobs are fragments
that rerun every ``POLL_SECONDS`` (``st.fragment(run_every=...)``), and the sidebar's watch reruns the
whole page the moment a job's status changes, so runs tables, run pickers and the opened run show the
new state without a reload. With nothing queued or running, nothing polls: the fragments are declared
without ``run_every`` (a full rerun clears the browser's old timers)."""

from __future__ import annotations

import time
from typing import Callable

import streamlit as st

from ser.jobs.control import cancel_requested, refresh
from ser.progress import clock_text
from ser.runs import Run, list_runs

NEWS_KEY = "job_news"  # what to tell the person at the next full run (st.toast), e.g. that a job ended
POLL_SECONDS = 2.0
ACTIVE = ("queued", "running")
STOPPED = ("failed", "cancelled", "interrupted")


def current_runs(kinds: tuple[str, ...] | None = None) -> list[Run]:
    """Every run (of these kinds), newest first, a running one whose worker died marked interrupted."""
    return [refresh(run) for run in list_runs() if kinds is None or run.kind in kinds]


def any_active(runs: list[Run]) -> bool:
    return any(run.status in ACTIVE for run in runs)


def announce(text: str) -> None:
    """Say ``text`` in a toast at the next full run of the page (the sidebar shows it)."""
    st.session_state.setdefault(NEWS_KEY, []).append(text)


def live_fragment(draw: Callable, active: bool) -> Callable:
    """``draw`` as a fragment that reruns by itself every POLL_SECONDS while ``active``, and never otherwise."""
    return st.fragment(run_every=POLL_SECONDS if active else None)(draw)


def progress_text(run: Run, now: float | None = None) -> str:
    """What a job is doing: its phase and progress message, the phase's elapsed time and the time left,
    both counted on from the moment the worker last wrote them (run.json's modification time), so the
    clock moves even while one long fit writes nothing."""
    progress = run.info.get("progress") or {}
    if run.status == "queued":
        return "queued: waiting for a worker"
    message = progress.get("message") or run.status
    head, sep, tail = message.rpartition(" · ")
    if sep and " elapsed" in tail:  # the worker's own clock text, replaced by the live one below
        message = head
    since = _since_written(run, now) if run.status == "running" else 0.0
    clock = []  # as the worker writes it: "0:40 elapsed, about 2:40 left"
    if progress.get("elapsed_s") is not None:
        clock.append(f"{clock_text(progress['elapsed_s'] + since)} elapsed")
    eta = progress.get("eta_s")
    if run.status == "running" and eta:
        left = eta - since
        clock.append(f"about {clock_text(left)} left" if left >= 1 else "taking longer than estimated")
    parts = [message, ", ".join(clock)] if clock else [message]
    total = _since_started(run, now) if run.status == "running" else None
    if total is not None and progress.get("elapsed_s") is not None and total > progress["elapsed_s"] + since + 1:
        parts.append(f"{clock_text(total)} since the job started")  # (a phase's clock starts again at 0:00)
    if run.status == "running" and (cancel_requested(run) or progress.get("cancelling")):
        parts.append("cancelling…")
    return " · ".join(parts)


def _since_started(run: Run, now: float | None) -> float | None:
    """Seconds since the worker marked the job running (run.json's ``started``, local time), or None."""
    try:
        started = time.mktime(time.strptime(run.info["started"], "%Y-%m-%dT%H:%M:%S"))
    except (KeyError, TypeError, ValueError):
        return None
    return max((now if now is not None else time.time()) - started, 0.0)


def _since_written(run: Run, now: float | None) -> float:
    try:
        written = (run.path / "run.json").stat().st_mtime
    except OSError:
        return 0.0
    return max((now if now is not None else time.time()) - written, 0.0)
