"""The corpus: what is in it, what is broken, what the crowd heard, and the clips themselves."""

import pandas as pd
import plotly.express as px
import streamlit as st

from ser.data.corpus import corpus_signature
from ser.data.corpus_report import distribution
from ser.data.crowd import MODALITY_NAMES, agreement_table, crowd_scores, has_votes, hit_rate_table
from ser.reference import REPORT_AGREEMENT, truncate
from ui.charts import agreement_bars, confusion_heatmap, counts_bar
from ui.clip_table import clip_table
from ui.features_panel import describe_result, feature_set_picker, features_with_progress
from ui.page_state import URL, kept
from ui.sidebar import corpus_sidebar

corpus = corpus_sidebar()
st.title("Corpus overview")
if corpus is None:
    st.info("Pick a corpus in the sidebar: a CREMA-D folder or a manifest CSV.")
    st.stop()
clips = corpus.clips
version = corpus_signature(str(corpus.source))  # cheap (file stats): keys the caches below


@st.cache_data(show_spinner=False, max_entries=4)
def crowd_summary(version: str, _clips: pd.DataFrame) -> dict:
    """The crowd section's tables and chart, computed once per version of the corpus (a warm rerun
    redrew them from scratch: about 0.3 s on 7,462 clips)."""
    table = agreement_table(_clips)
    return {"agreement": table, "bars": agreement_bars(table), "hits": hit_rate_table(_clips),
            "scores": crowd_scores(_clips, "voice")}


@st.cache_data(show_spinner=False, max_entries=32)
def distribution_chart(version: str, column: str, _clips: pd.DataFrame):
    """One tab's chart (None: the corpus has no such information), once per version and column."""
    if column == "duration":
        return px.histogram(_clips, x="duration_s", nbins=40, color="emotion", title="Clip duration (s)")
    frame = distribution(_clips, column)
    return None if frame[column].eq("unknown").all() else counts_bar(frame, column, f"Clips by {column}")


if corpus.synthetic:
    st.warning("This is the **synthetic demo corpus**: generated speech-like sound, not real emotional speech. "
               "Numbers measured on it show that the workbench works, not how emotion sounds.",
               icon=":material/science:")

columns = st.columns(4)
columns[0].metric("Clips", f"{len(clips):,}")
columns[1].metric("Speakers", f"{clips['speaker'].nunique():,}")
columns[2].metric("Hours of audio", f"{clips['duration_s'].sum() / 3600:.2f}")
columns[3].metric("Problems", f"{len(corpus.problems):,}")

# ------------------------------------------------------------------ data health
with st.expander(f"Data health: {len(corpus.problems)} problem(s)", expanded=bool(corpus.problems)):
    if not corpus.problems:
        st.success("Every audio file could be read and every clip has its metadata.")
    else:
        problems = corpus.problems_frame()
        st.dataframe(problems["kind"].value_counts().rename("count"), key="problem_counts")
        st.dataframe(problems.head(500), hide_index=True, key="problem_list")
        if len(problems) > 500:
            st.caption(f"First 500 of {len(problems):,}; download the whole list below.")
        st.download_button("Download the problem list (CSV)", problems.to_csv(index=False),
                           file_name="problems.csv", mime="text/csv", key="problems_csv")

# ------------------------------------------------------------------ features
with st.expander("Audio features (computed once, then read from the cache)"):
    st.markdown("Extraction decodes every clip, so it also finds files that have a valid header but broken "
                "audio. The pages that need features compute them on demand; this only warms the cache.")
    chosen = feature_set_picker("overview_feature_set")
    if st.button("Extract features", key="extract_features"):
        result = features_with_progress(corpus, chosen)
        if result is not None:
            describe_result(result)

# ------------------------------------------------------------------ distributions
st.header("What the corpus holds")
DISTRIBUTIONS = ["emotion", "sentence", "intensity", "sex", "age band", "race", "ethnicity", "duration"]
tabs = st.tabs(DISTRIBUTIONS, key=kept("overview_tab", DISTRIBUTIONS), bind=URL)  # only the open tab is drawn
for tab, column in zip(tabs, DISTRIBUTIONS):
    if not tab.open:
        continue
    with tab:
        figure = distribution_chart(version, column, clips)
        if figure is None:
            st.info(f"This corpus has no {column} information.")
        else:
            st.plotly_chart(figure, key=f"dist_{column}")

# ------------------------------------------------------------------ crowd
st.header("What the crowd heard")
if not has_votes(clips):
    st.info("This corpus has no crowd votes (CREMA-D's processedResults/tabulatedVotes.csv), so there is no "
            "human baseline to show.")
else:
    summary = crowd_summary(version, clips)
    table = summary["agreement"]
    shown = table.drop(columns=["clips"]).map(truncate)
    shown.columns = [MODALITY_NAMES.get(c, c) for c in shown.columns]
    shown["report (pooled)"] = pd.Series(REPORT_AGREEMENT)
    shown["clips"] = table["clips"]
    left, right = st.columns([1, 1])
    with left:
        st.markdown("Mean **agreement** (share of raters who chose the plurality emotion) per intended "
                    "emotion, truncated to three decimals. *Pooled* averages the three modalities, as the "
                    "report's table does; its numbers are beside it.")
        st.dataframe(shown, key="agreement_table")
    with right:
        st.plotly_chart(summary["bars"], key="agreement_chart")
    hits = summary["hits"]
    if len(hits):
        st.markdown("Mean **hit rate** (share of raters who chose the *intended* emotion) per intended emotion: "
                    "agreement says how much raters agreed with each other, the hit rate whether they heard what "
                    "the actor meant.")
        hits.columns = [MODALITY_NAMES.get(c, c) for c in hits.columns]
        st.dataframe(hits.round(3), key="hit_rate_table")

    st.subheader("The crowd as a classifier (voice only)")
    st.markdown("Each clip's plurality vote among voice-only raters, scored against the intended emotion "
                "like a model, by the same code. A tied vote gives each tied emotion an equal share of the clip "
                "(the expected score of a fair tie-break, so no random seed is involved).")
    scores = summary["scores"]
    st.caption(f"{scores['ties']:.1%} of the voted clips have a tied plurality vote.")
    metric_columns = st.columns(4)
    metric_columns[0].metric("Macro-F1", f"{scores['macro_f1']:.3f}")
    metric_columns[1].metric("UAR", f"{scores['uar']:.3f}")
    metric_columns[2].metric("Accuracy", f"{scores['accuracy']:.3f}")
    metric_columns[3].metric("Clips voted", f"{scores['clips']:,}")
    normalise = st.toggle("Row-normalised", value=True, key=kept("overview_crowd_normalise"), bind=URL)
    st.plotly_chart(confusion_heatmap(scores["confusion"], "Intended emotion vs voice-only plurality vote",
                                      normalise), key="crowd_confusion")

# ------------------------------------------------------------------ the clips
st.header("The clips")
st.markdown("Every clip with its metadata" + (" and the crowd's votes (the plurality vote, its agreement and the "
            "number of raters per modality; the counts per emotion under *Columns*)" if has_votes(clips) else "")
            + ". Sort, filter and search; select a row to hear the clip and see its waveform and mel spectrogram.")
clip_table(clips, key="overview_clips")
