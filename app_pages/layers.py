"""Which model, which layer? A layer-wise probe trains the same light classifier on every hidden state of a
speech encoder and draws macro-F1 per layer with its speaker-level interval; a second probe (another model)
is drawn over it, so "which model, which layer" is one picture. The best layer is kept as a baseline run."""

import plotly.graph_objects as go
import streamlit as st

from ser.analysis.uncertainty import MIN_ACTORS
from ser.errors import SerError
from ser.jobs.control import submit_probe
from ser.learning.finetune.model import locate_model
from ser.learning.probe import ProbeSpec, probe_table
from ser.runs import Run
from ui.jobs_panel import active_jobs, stopped_job
from ui.live import announce, current_runs
from ui.page_state import URL, kept
from ui.sidebar import corpus_sidebar
from ui.spec_form import spec_form
from ui.state import show_error

COLORS = ("#1971c2", "#d9480f")
NO_SECOND = "none"

corpus = corpus_sidebar()
st.title("Layer probe: which layer carries the emotion?")
st.markdown("Frozen self-supervised speech representations with a light classifier are the field's middle path "
            "between 13 mean MFCCs and fine-tuning. Each hidden state of the model (0 is the embedding output, "
            "then one per transformer layer) is mean-pooled over the clip; the same classifier is trained on each "
            "with the same split and scored on the held-out clips. The interval is the Bias page's: actors "
            "resampled with all their clips (1,000 replicates).")
st.info("Pretrained weights come from the Hugging Face hub. On a machine without internet, download the model "
        "elsewhere (`hf download ORG/MODEL`, or `save_pretrained` into a folder), copy the folder or "
        "the hub cache (`HF_HOME`) here, and give the folder as the model. Weights load as safetensors only.",
        icon=":material/cloud_off:")

# ------------------------------------------------------------------ start a job
with st.form("probe_form", enter_to_submit=False):  # Enter in a text box never starts a job
    settings = spec_form(ProbeSpec, "probe", columns=3)
    started = st.form_submit_button("Start", type="primary", key="start_probe")
st.caption("The embeddings of every layer are extracted once (a job of the worker, on its GPU when it has one) "
           "and cached; a second probe of the same model with another classifier reads them from the cache.")
if started:
    if corpus is None:
        st.error("Pick a corpus in the sidebar first.")
    else:
        try:
            spec = ProbeSpec(**settings).validate()
            with st.spinner(f"Looking for {spec.model}…"):
                locate_model(spec.model)  # a folder, the local cache or the hub: fails here, not in the job
            run = submit_probe(spec, corpus)
            st.session_state["probe_open"] = run.run_id
            announce(f"Queued {run.run_id}")
            st.rerun()  # from the top, so that the sidebar's watch sees the new job and follows it
        except SerError as exc:
            show_error(exc)

# ------------------------------------------------------------------ jobs in progress
active_jobs(("probe",))
runs = current_runs(("probe",))
for stopped in [run for run in runs if run.status in ("failed", "cancelled", "interrupted")][:1]:
    stopped_job(stopped)


def run_label(run: Run) -> str:
    spec = run.info.get("spec") or {}
    return f"{run.run_id} · {spec.get('model', '?')} · {spec.get('classifier', '?')}"


def layer_chart(probes: list[Run]) -> go.Figure:
    """Macro-F1 per layer with its interval as error bars, one line per probe, each best layer starred."""
    figure = go.Figure()
    for run, color in zip(probes, COLORS):
        table = probe_table(run)
        name = run_label(run).split(" · ", 1)[1]
        figure.add_trace(go.Scatter(
            x=table["layer"].tolist(), y=table["macro_f1"].tolist(), mode="lines+markers", name=name,
            line=dict(color=color),
            error_y=dict(type="data", symmetric=False, array=(table["high"] - table["macro_f1"]).tolist(),
                         arrayminus=(table["macro_f1"] - table["low"]).tolist()),
            hovertemplate="layer %{x}<br>macro-F1 %{y:.3f}<extra>" + name + "</extra>"))
        best = table[table["best"]]
        figure.add_trace(go.Scatter(x=best["layer"].tolist(), y=best["macro_f1"].tolist(), mode="markers",
                                    showlegend=False,
                                    marker=dict(symbol="star", size=16, color=color, line=dict(width=1)),
                                    hovertemplate="best layer %{x}: %{y:.3f}<extra>" + name + "</extra>"))
    figure.update_layout(height=420, margin=dict(l=10, r=10, t=40, b=10), title="Macro-F1 per layer (95% interval)",
                         xaxis_title="layer (0: embedding output)", yaxis_title="macro-F1 on the test part",
                         xaxis=dict(dtick=1), legend=dict(orientation="h", y=-0.2))
    return figure


# ------------------------------------------------------------------ results
st.header("Probes")
finished = [run for run in runs if run.status == "finished" and run.info.get("layers")]
if not finished:
    st.info("No finished probe yet: start one above, or from a terminal with "
            "`python -m ser probe --model facebook/wav2vec2-base`.")
    st.stop()
ids = [run.run_id for run in finished]
by_id = {run.run_id: run for run in finished}
if st.session_state.get("probe_open") in ids:  # a probe just started from the form: show it once it has finished
    st.session_state["probe_pick"] = st.session_state.pop("probe_open")
# plain ids, without a format_func: a bound selectbox puts its formatted option in the URL, and an id is what a
# shared link can name; the model and classifier are said beside each box and in the chart's legend
pickers = st.columns(2)
first = pickers[0].selectbox("Probe", ids, index=None, key=kept("probe_pick", ids, fallback=ids[0]),
                             bind=URL) or ids[0]
pickers[0].caption(run_label(by_id[first]))
others = [NO_SECOND] + [run_id for run_id in ids if run_id != first]
second = pickers[1].selectbox("Draw a second probe over it (another model)", others,
                              key=kept("probe_compare", others), bind=URL)
second = None if second == NO_SECOND else second
if second:
    pickers[1].caption(run_label(by_id[second]))
probes = [by_id[first]] + ([by_id[second]] if second else [])
st.plotly_chart(layer_chart(probes), key="probe_chart")
for run in probes:
    spec = run.info["spec"]
    table = probe_table(run)
    best = table[table["best"]].iloc[0]
    st.subheader(run_label(run))
    speakers = int(table["actors"].min()) if "actors" in table else None
    if speakers is not None and speakers < MIN_ACTORS:
        st.warning(f"Only {speakers} speaker(s) in the test part: the interval resamples speakers (within each sex), "
                   "so with this few it is narrow or empty and says little about new voices. A corpus with more "
                   "speakers, or the report's split, gives a more telling interval.", icon=":material/warning:")
    st.markdown(f"Best layer **{int(best['layer'])}**: macro-F1 {best['macro_f1']:.3f} "
                f"[{best['low']:.3f}, {best['high']:.3f}] with {spec['classifier']} on the {spec['split']} split. "
                f"Kept as baseline run `{run.info.get('best_run')}`: open it in Bias or Try a clip.")
    shown = table[["layer", "macro_f1", "low", "high", "uar", "accuracy", "seconds", "best"]]
    st.dataframe(shown.round(3), hide_index=True, key=f"probe_table_{run.run_id}")
