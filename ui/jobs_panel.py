"""Live view of queued and running jobs, with cancel and resume; polls the run folders while a job is
queued or running (ui.live), and not otherwise."""

from __future__ import annotations

import streamlit as st

from ser.jobs.control import cancel, log_tail, resume
from ser.runs import Run
from ui.live import ACTIVE, any_active, current_runs, live_fragment, progress_text


def job_progress(run: Run) -> None:
    progress = run.info.get("progress") or {}
    done, total = progress.get("done", 0), max(progress.get("total", 0), 1)
    columns = st.columns([5, 1])
    columns[0].progress(min(done / total, 1.0) if run.status == "running" else 0.0,
                        text=f"{run.run_id} · {progress_text(run)}")
    if columns[1].button("Cancel", key=f"cancel_{run.run_id}"):
        cancel(run.run_id)
        st.rerun()


def stopped_job(run: Run) -> None:
    """An interrupted, failed or cancelled job: the reason (once), the log's last lines, and resume."""
    reason = run.info.get("error") or {"cancelled": "cancelled on request"}.get(run.status, "no reason recorded")
    st.error(f"**{run.run_id} {run.status}**  \n{reason}")
    tail = log_tail(run)
    if tail:
        with st.expander("Last lines of the job's log"):
            st.code(tail)
    if st.button("Resume" if run.status == "interrupted" else "Run again", key=f"resume_{run.run_id}"):
        resume(run.run_id)
        st.rerun()


def active_jobs(kinds: tuple[str, ...]) -> None:
    """Queued and running jobs of these kinds, redrawn every few seconds while there are any."""
    live_fragment(_active_jobs, any_active(current_runs(kinds)))(kinds)


def _active_jobs(kinds: tuple[str, ...]) -> None:
    active = [run for run in current_runs(kinds) if run.status in ACTIVE]
    if not active:
        return
    st.subheader("Jobs")
    for run in active:
        job_progress(run)
