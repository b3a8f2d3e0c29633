"""Choose a feature set (the hand-crafted ones, the layers of the speech encoders whose embeddings the cache
holds, or another encoder named by hub id or folder), and extract it (or read it from the cache) with a progress
bar. Embeddings not stored yet are never computed in the page (minutes): a button queues the worker's
extraction job and its progress is shown here."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ser.data.corpus import Corpus
from ser.errors import SerError
from ser.params import spec_params
from ser.learning.embeddings import EmbeddingSpec, parse_set_name, set_name, stored_clips, stored_models
from ser.learning.features import FEATURE_SETS, FeatureResult, extract_features, is_embedding_set
from ui.jobs_panel import active_jobs, stopped_job
from ui.live import ACTIVE, STOPPED, current_runs
from ui.page_state import URL, kept
from ui.state import show_error

OTHER = "ssl:another"  # the picker's entry for an encoder named in the text box beside it
NOTICE = "extract_embeddings_notice"  # what the last Extract click said (queued, or why not)
OFFLINE_HELP = ("Pretrained weights come from the Hugging Face hub, downloaded by the worker when the job starts. "
                "On a machine without internet they cannot be downloaded: on a machine with internet run "
                "`hf download ORG/MODEL` and copy its Hugging Face cache (`~/.cache/huggingface`, or `HF_HOME`) "
                "here, and set `HF_HUB_OFFLINE=1` for the app and the worker; or save the model and its feature "
                "extractor with `save_pretrained` into a folder, copy the folder here and give the folder as the "
                "model. Weights load as safetensors only.")
CPU_CLIPS_PER_S = 1.3  # a base-sized encoder on a 2-core CPU (benchmarks/results/embeddings.json), for a rough time


def feature_choices() -> tuple[list[str], dict[str, str]]:
    """(feature set names, their labels): the hand-crafted sets, one entry per layer of every model whose
    embeddings the cache holds ("wav2vec2-base · layer 7 (facebook/wav2vec2-base)"), and ``OTHER``."""
    names = list(FEATURE_SETS)
    labels = {name: f"{name}: {FEATURE_SETS[name].description}" for name in names}
    for model in stored_models():
        for layer, name in zip(model.layers, model.set_names()):
            names.append(name)
            labels[name] = model.label(layer)
    names.append(OTHER)
    labels[OTHER] = "another speech encoder (a hub id or a local folder)…"
    return names, labels


PICKER_HELP = ("Embedding layers appear here once a model's embeddings are stored; name another model under "
               "'another speech encoder'.")


def feature_set_picker(key: str, default: str = "mfcc13", in_form: bool = False, label: str = "Feature set",
                       help: str | None = None) -> str:
    """The chosen feature set's name. Choosing "another speech encoder" shows a text box for its hub id or
    folder and a layer number (both always shown in a form, where nothing reruns until it is submitted); the
    name is then ``ssl:MODEL:LAYER`` (``ssl::LAYER`` while no model is given). Kept across pages and in the
    URL (the keys ``key``, ``key_model`` and ``key_layer``). ``label`` and ``help``: a spec form's field's
    own (ser.params), where the picker stands for one."""
    names, labels = feature_choices()
    choice = st.selectbox(label, names, index=names.index(default), key=kept(key, names), bind=URL,
                          format_func=lambda n: labels.get(n, n), help=help or PICKER_HELP)
    if choice != OTHER and not in_form:
        return choice
    left, right = st.columns([4, 1])
    model = left.text_input("Speech encoder: a hub id or a local folder" + (" (for 'another speech encoder')"
                                                                             if in_form else ""),
                            key=kept(f"{key}_model"), bind=URL,
                            placeholder="e.g. facebook/wav2vec2-base or /models/wavlm-base-plus")
    layer = right.number_input("Layer", min_value=0, max_value=64, value=0, step=1, key=kept(f"{key}_layer"),
                               bind=URL, help="the hidden state: 0 is the embedding output, then one per "
                                              "transformer layer (0-12 for a base-sized model, 0-24 for a large one)")
    if choice != OTHER:
        return choice
    return set_name(model.strip(), int(layer))


def features_with_progress(corpus: Corpus, set_name: str) -> FeatureResult | None:
    """Features for the corpus; a progress bar while clips are computed, a fast read on a cache hit. An
    embedding set whose embeddings are not all stored is not computed here: the page says so, offers the
    worker's extraction job and shows its progress, and None is returned."""
    if is_embedding_set(set_name) and not _embeddings_ready(corpus, set_name):
        return None
    bar = st.progress(0.0, text=f"{set_name}: reading the cache…")

    def report(done: int, total: int, message: str) -> None:
        bar.progress(done / max(total, 1), text=message)

    try:
        result = extract_features(corpus, set_name, progress=report)
    except SerError as exc:
        bar.empty()
        show_error(exc)
        return None
    bar.empty()
    return result


def _embeddings_ready(corpus: Corpus, name: str) -> bool:
    """Whether every file of the corpus is stored for this layer; if not, what to do about it."""
    if name == OTHER or name.startswith("ssl::"):
        st.info("Give the speech encoder: a hub id (e.g. facebook/wav2vec2-base) or a local folder written by "
                "`save_pretrained`.", icon=":material/edit:")
        return False
    try:
        model, layer = parse_set_name(name)
        stored, total = stored_clips(corpus, name)
    except SerError as exc:
        show_error(exc)
        st.info(OFFLINE_HELP, icon=":material/cloud_off:")
        return False
    if total and stored == total:
        return True
    short = Path(model).name or model
    minutes = max(1, round((total - stored) / CPU_CLIPS_PER_S / 60))
    st.info(f"**Layer {layer} of {model} is not stored for this corpus yet** ({stored:,} of {total:,} clips). "
            f"Extracting runs the model on every clip, which takes minutes (about {minutes} min for a base-sized "
            "model on a 2-core CPU, far less on a GPU), so it is a job of the worker, not of this page. The job "
            "stores every hidden state, so each layer of the model is ready afterwards, here and on the other "
            "pages; a job stopped half-way resumes without recomputing the clips already stored.",
            icon=":material/hourglass_top:")
    runs = _extraction_runs(model)
    if any(run.status in ACTIVE for run in runs):
        active_jobs(("embeddings",))
        return False
    notice = st.session_state.get(NOTICE)
    if notice and notice[0] == model and notice[1] == "error":
        st.error(notice[2])
    if runs and runs[0].status in STOPPED:
        stopped_job(runs[0])
    with st.expander("No internet on this machine?"):
        st.markdown(OFFLINE_HELP)
    field = spec_params(EmbeddingSpec)["precision"]
    left, right = st.columns([2, 3], vertical_alignment="bottom")
    precision = right.selectbox(field.label, list(field.choices), key=kept("extract_precision", list(field.choices)),
                                format_func=lambda p: f"{p}: {field.choices[p]}", help=field.help)
    left.button(f"Extract embeddings of {short}", key="extract_embeddings", type="primary", on_click=_queue,
                args=(corpus, model, precision))
    return False


def _queue(corpus: Corpus, model: str, precision: str = "auto") -> None:
    """Queue the extraction job (a callback: it runs even when the page draws the button inside another
    button's branch); the model is looked for first, so that a model that cannot be had fails here."""
    from ser.jobs.control import submit_embeddings
    from ser.learning.finetune.model import locate_model
    from ui.live import announce

    try:
        found = locate_model(model)
        run = submit_embeddings(EmbeddingSpec(model=model, layers="all", precision=precision).validate(), corpus)
    except SerError as exc:
        st.session_state[NOTICE] = (model, "error", f"**{exc.title}**  \n{exc.detail}")
        return
    st.session_state[NOTICE] = (model, "queued", run.run_id)
    announce(f"Queued {run.run_id}: {found.message}")


def _extraction_runs(model: str) -> list:
    """The extraction jobs of this model, newest first."""
    return [run for run in current_runs(("embeddings",)) if (run.info.get("spec") or {}).get("model") == model]


def describe_result(result: FeatureResult) -> None:
    source = "read from the cache" if result.cached else f"{result.computed:,} computed"
    st.caption(f"{result.set_name}: {len(result.table):,} clips, {len(result.failed)} failed, "
               f"{result.seconds:.2f} s ({source}).")
    if result.failed:
        with st.expander(f"{len(result.failed)} clip(s) could not be used for features"):
            st.dataframe([{"clip": p.clip, "problem": p.problem} for p in result.failed[:500]], hide_index=True)
