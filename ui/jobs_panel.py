"""Live view of queued and running jobs, with cancel and resume; polls the run folders."""

from __future__ import annotations

import streamlit as st

from ser.jobs.control import cancel, log_tail, refresh, resume
from ser.runs import Run, list_runs


def job_progress(run: Run) -> None:
    progress = run.info.get("progress") or {}
    done, total = progress.get("done", 0), max(progress.get("total", 0), 1)
    text = progress.get("message", run.status)
    if run.status == "queued":
        text = "queued: waiting for a worker"
    columns = st.columns([5, 1])
    columns[0].progress(min(done / total, 1.0), text=f"{run.run_id} · {text}")
    if columns[1].button("Cancel", key=f"cancel_{run.run_id}"):
        cancel(run.run_id)
        st.rerun()


def stopped_job(run: Run) -> None:
    """An interrupted or failed job: the reason, the log's last lines, and resume."""
    st.error(f"**{run.run_id} {run.status}**  \n{run.info.get('error', '')}")
    tail = log_tail(run)
    if tail:
        with st.expander("Last lines of the job's log"):
            st.code(tail)
    if st.button("Resume" if run.status == "interrupted" else "Run again", key=f"resume_{run.run_id}"):
        resume(run.run_id)
        st.rerun()


@st.fragment(run_every=2.0)
def active_jobs(kinds: tuple[str, ...]) -> None:
    """Queued and running jobs of these kinds, refreshed every 2 s without reloading the page."""
    runs = [refresh(run) for run in list_runs() if run.kind in kinds]
    active = [run for run in runs if run.status in ("queued", "running")]
    if not active:
        return
    st.subheader("Jobs")
    for run in active:
        job_progress(run)
