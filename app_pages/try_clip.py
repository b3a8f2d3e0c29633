"""Upload or record clips, listen to them, see their waveform and spectrogram, and classify them with
any finished run."""

import io

import numpy as np
import pandas as pd
import plotly.express as px
import streamlit as st

from ser.data.audio import SAMPLE_RATE
from ser.errors import SerError
from ser.labels import EMOTIONS
from ser.runs import list_runs
from ser.data.uploads import MAX_SECONDS
from ui import cached
from ui.charts import EMOTION_COLORS
from ui.sidebar import corpus_sidebar
from ui.state import show_error

corpus_sidebar()
st.title("Try a clip")
st.markdown("Upload clips (wav, flac, ogg, mp3; m4a/aac where ffmpeg is installed) or record one, and let a "
            f"trained run say which emotion it hears. Clips are converted to mono {SAMPLE_RATE // 1000} kHz; "
            f"files longer than {MAX_SECONDS / 60:.0f} minutes are refused. Nothing uploaded is stored or executed.")

runs = [run for run in list_runs() if run.status == "finished" and run.kind in ("baseline", "wav2vec2")]
if not runs:
    st.info("No finished run yet: train one on the Baselines page first.")
    st.stop()
run_id = st.selectbox("Run", [r.run_id for r in runs], key="try_run",
                      format_func=lambda i: next(r.label() for r in runs if r.run_id == i))
run = next(r for r in runs if r.run_id == run_id)
if run.info.get("corpus", {}).get("synthetic"):
    st.warning("This run was trained on the synthetic demo corpus: it has never heard real emotional speech.",
               icon=":material/science:")


uploads = st.file_uploader("Clips", accept_multiple_files=True, key="try_upload",
                           type=["wav", "flac", "ogg", "mp3", "m4a", "aac"])
recording = st.audio_input("…or record one", key="try_record")
clips = [(f.name, f.getvalue()) for f in uploads or []]
if recording is not None:
    clips.append(("recording.wav", recording.getvalue()))
if not clips:
    st.stop()

try:
    model = cached.predictor(run.run_id, run.info.get("finished", ""))
except SerError as exc:
    show_error(exc)
    st.stop()


def spectrogram(audio: np.ndarray):
    import librosa

    mel = librosa.power_to_db(librosa.feature.melspectrogram(y=audio, sr=SAMPLE_RATE, n_mels=64), ref=np.max)
    figure = px.imshow(mel, origin="lower", aspect="auto", color_continuous_scale="Magma",
                       labels={"x": "frame", "y": "mel band", "color": "dB"})
    figure.update_layout(height=220, margin=dict(l=10, r=10, t=10, b=10), coloraxis_showscale=False)
    return figure


def waveform(audio: np.ndarray):
    step = max(1, audio.size // 4000)
    frame = pd.DataFrame({"seconds": np.arange(0, audio.size, step) / SAMPLE_RATE, "amplitude": audio[::step]})
    figure = px.line(frame, x="seconds", y="amplitude")
    figure.update_layout(height=160, margin=dict(l=10, r=10, t=10, b=10))
    return figure


rows = []
for index, (name, data) in enumerate(clips):
    st.subheader(name)
    try:
        audio, result = model.predict_upload(name, data)
    except SerError as exc:
        show_error(exc)
        rows.append({"file": name, "emotion": None, "error": exc.detail})
        continue
    left, right = st.columns([3, 2])
    with left:
        st.audio(io.BytesIO(data))
        st.plotly_chart(waveform(audio), key=f"wave_{index}")
        st.plotly_chart(spectrogram(audio), key=f"spec_{index}")
    with right:
        st.metric("Predicted emotion", result.emotion)
        st.caption(f"{audio.size / SAMPLE_RATE:.2f} s · {result.handling}")
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
