"""Upload or record clips, listen to them, see their waveform and spectrogram, and classify them with
any finished run."""

import io
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.express as px
import streamlit as st

from ser.data.audio import SAMPLE_RATE
from ser.data.spectrum import mel_spectrogram
from ser.errors import SerError
from ser.labels import EMOTIONS
from ser.runs import list_runs
from ser.data.uploads import MAX_SECONDS
from ui import cached
from ui.audio_view import audio_plots
from ui.charts import EMOTION_COLORS
from ui.page_state import URL, kept
from ui.sidebar import corpus_sidebar
from ui.state import show_error


@st.cache_resource(max_entries=2, show_spinner="Warming up the model's audio pipeline…")
def warmed_up(run_id: str, stamp: str) -> bool:
    """One made-up second of sound classified and drawn, once per model and process, right after the model
    is loaded: the libraries' one-off start (imports, filter banks, and for some feature sets librosa's
    compiled kernels: seconds) is then paid while the user picks a file, not by the first upload."""
    cached.predictor(run_id, stamp).warm_up()
    mel_spectrogram(np.zeros(SAMPLE_RATE, dtype=np.float32))  # the spectrogram's first call, likewise
    return True


corpus_sidebar()
st.title("Try a clip")
st.markdown("Upload clips (wav, flac, ogg, mp3; m4a/aac where ffmpeg is installed) or record one, and let a "
            f"trained run say which emotion it hears. Clips are converted to mono {SAMPLE_RATE // 1000} kHz; "
            f"files longer than {MAX_SECONDS / 60:.0f} minutes are refused. Nothing uploaded is stored or executed.")

# an evaluation run (a model scored on another corpus) classifies with its source run's model (Predictor)
runs = [run for run in list_runs() if run.status == "finished" and run.kind in ("baseline", "wav2vec2", "evaluation")]
if not runs:
    st.info("No finished run yet: train one on the Baselines page first.")
    st.stop()
ids = [r.run_id for r in runs]
labels = {r.run_id: r.label() for r in runs}
# "run" is the key every page's run picker shares: the run chosen on Bias is the one tried here, and back. The
# plain id, without a format_func: a bound selectbox puts its formatted option in the URL, and the id is what
# stays the same on every page
run_id = st.selectbox("Run", ids, index=None, key=kept("run", ids, fallback=ids[0]), bind=URL) or ids[0]
run = runs[ids.index(run_id)]
st.caption(labels[run_id] + (f" · classifies with the model of {run.info['spec'].get('source_run')}, the run it "
                              "scored on another corpus" if run.kind == "evaluation" else ""))
if run.info.get("corpus", {}).get("synthetic"):
    st.warning("This run was trained on the synthetic demo corpus: it has never heard real emotional speech.",
               icon=":material/science:")
try:  # loaded (with its spinner) as soon as the run is picked, while the user looks for a file
    model = cached.predictor(run.run_id, run.info.get("finished", ""))
    warmed_up(run.run_id, run.info.get("finished", ""))
except SerError as exc:
    show_error(exc)
    st.stop()

uploads = st.file_uploader("Clips", accept_multiple_files=True, key="try_upload",
                           type=["wav", "flac", "ogg", "mp3", "m4a", "aac"])
recording = st.audio_input("…or record one", key="try_record")
clips = [(f.name, f.getvalue()) for f in uploads or []]
if recording is not None:
    clips.append(("recording.wav", recording.getvalue()))
if not clips:
    st.stop()

rows = []
for index, (name, data) in enumerate(clips):
    st.subheader(name)
    try:
        with st.spinner(f"Classifying {name}…"):
            audio, result = model.predict_upload(name, data)
    except SerError as exc:
        show_error(exc)
        rows.append({"file": name, "emotion": None, "error": exc.detail})
        continue
    left, right = st.columns([3, 2])
    with left:
        st.audio(io.BytesIO(data))
        audio_plots(audio, key=f"try_{index}")
    with right:
        st.metric("Predicted emotion", result.emotion)
        st.caption(f"{audio.size / SAMPLE_RATE:.2f} s · {result.handling}")
        seen = model.seen_part(name)
        if seen == "train":
            st.warning(f"A clip named {Path(name).stem} was in this model's training part: this shows what it "
                       "learned, not how it does on voices it has not heard.", icon=":material/school:")
        elif seen is not None:
            role = "it chose the model, it did not fit it" if seen == "val" else "the run's report already counts it"
            st.info(f"A clip named {Path(name).stem} is in this model's {seen} part ({role}).", icon=":material/info:")
        probs = pd.DataFrame({"emotion": list(result.probs), "probability": list(result.probs.values())})
        figure = px.bar(probs, x="probability", y="emotion", orientation="h", color="emotion",
                        color_discrete_map=EMOTION_COLORS, range_x=[0, 1],
                        category_orders={"emotion": [e for e in EMOTIONS if e in result.probs]})
        figure.update_layout(height=260, margin=dict(l=10, r=10, t=10, b=10), showlegend=False)
        st.plotly_chart(figure, key=f"probs_{index}")
    rows.append({"file": name, "emotion": result.emotion, **{f"p_{k}": round(v, 4) for k, v in result.probs.items()},
                 "seconds": round(audio.size / SAMPLE_RATE, 2), "handling": result.handling})

if len(rows) > 1:
    st.header("All clips")
    table = pd.DataFrame(rows)
    st.dataframe(table, hide_index=True, key="try_table")
    st.download_button("Download (CSV)", table.to_csv(index=False), file_name=f"predictions-{run.run_id}.csv",
                       key="try_csv")
