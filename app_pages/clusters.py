"""RQ1: how distinct are emotions in audio features? KMeans on standardised features, PCA and UMAP
views, and whether the clusters follow emotion, sex or speaker. A click on a point plays it; a box or lasso
lists its clips and offers them to the other pages. k, colour, view and neighbours are kept and in the URL."""

import pandas as pd
import streamlit as st

from ser.analysis.clustering import silhouette_reading, table_fingerprint
from ser.errors import SerError
from ui import cached
from ui.clip_list import clip_line
from ui.clip_table import clip_table
from ui.cluster_scatter import cached_scatter, heatmap, selected_clips, umap_with_progress
from ui.features_panel import describe_result, feature_set_picker, features_with_progress
from ui.page_state import URL, kept
from ui.selection import offer, selection_filter, selections
from ui.sidebar import corpus_sidebar
from ui.state import show_error

COLOUR_OPTIONS = ["cluster", "emotion", "sex", "speaker", "intensity"]
VIEWS = ["PCA", "UMAP"]
SOURCE = "Clusters"  # the name of this page's selection on the other pages
ATTRIBUTES = ["emotion", "sex", "speaker", "intensity"]
AGREEMENT_COLUMNS = {"purity_chance": "purity chance", "purity_ceiling": "purity ceiling", "v_measure": "V-measure",
                     "v_measure_chance": "V-measure chance", "ami": "AMI"}

corpus = corpus_sidebar()
st.title("Clusters: how distinct are emotions in audio features?")
if corpus is None:
    st.stop()
if corpus.synthetic:
    st.warning("Synthetic demo corpus: the clusters show that the workbench works, not how emotions sound.",
               icon=":material/science:")
st.markdown("Each clip becomes one vector of audio features, standardised; KMeans groups the vectors without "
            "seeing any label. If emotions were distinct in these features, clusters would line up with them.")

left, middle, right = st.columns([2, 1, 3])
with left:
    set_name = feature_set_picker("clusters_feature_set")
with middle:
    k = st.slider("Clusters (k)", min_value=2, max_value=12, value=6, key=kept("clusters_k"), bind=URL)
with right:
    colour = st.segmented_control("Colour by", COLOUR_OPTIONS, default="cluster", required=True, bind=URL,
                                  key=kept("clusters_colour", COLOUR_OPTIONS)) or "cluster"

result = features_with_progress(corpus, set_name)
if result is None:
    st.stop()
if len(result.table) < 3:
    st.info("Not enough clips with features to cluster.")
    st.stop()
describe_result(result)
features = result.table
clips = corpus.clips.loc[features.index]
table = table_fingerprint(features, set_name)  # the cached calls' key for the table (never hashed itself)
attributes = {a: clips[a] for a in ATTRIBUTES}
attributes_key = table_fingerprint(pd.DataFrame({a: pd.util.hash_pandas_object(v, index=False)
                                                 for a, v in attributes.items()}, index=clips.index))

try:
    report = cached.cluster_report(table, k, attributes_key, _features=features, _attributes=attributes)
except SerError as exc:
    show_error(exc)
    st.stop()
clusters = report.clustering
columns = st.columns([1, 3])
columns[0].metric("Silhouette", f"{clusters.silhouette:.3f}")
sampled = (f" Computed on a seeded sample of {clusters.silhouette_sample:,} of the {len(features):,} clips."
           if clusters.silhouette_sample else "")
columns[1].markdown(f"  \n{silhouette_reading(clusters.silhouette)}{sampled}")

# ------------------------------------------------------------------ the 2-D views
view = st.segmented_control("View", VIEWS, default="PCA", required=True, key=kept("clusters_view", VIEWS),
                            bind=URL) or "PCA"
n_neighbors = None
if view == "PCA":
    coords, variance = cached.pca(table, _features=features)
    axis_note = f"PC1 explains {variance[0]:.0%} of the variance, PC2 {variance[1]:.0%}."
else:
    n_neighbors = st.slider("UMAP neighbours", 5, 50, 15, key=kept("clusters_neighbors"), bind=URL)
    coords = umap_with_progress(features, table, n_neighbors)
    axis_note = "UMAP keeps neighbourhoods, not distances: read groups, not axes."

points = coords.join(clips[["emotion", "speaker", "sex", "intensity", "sentence"]])
points["cluster"] = clusters.labels.astype(str)
_, elsewhere = selection_filter("clusters_highlight", features.index, exclude=SOURCE)
if elsewhere is not None:
    st.caption(f"The {elsewhere.label} is drawn in colour on top; the other clips are grey.")
highlight = None if elsewhere is None else (elsewhere.source, hash(elsewhere.clip_ids))
figure = cached_scatter((table, attributes_key, k, view, n_neighbors, highlight), points, colour, view,
                        tuple(str(i) for i in range(k)) if colour == "cluster" else None,
                        None if elsewhere is None else pd.Index(elsewhere.clip_ids))
st.caption(f"{axis_note} **Click a point to hear it**; to list many clips, pick *Box select* or *Lasso select* "
           "in the chart's toolbar and draw around them (double-click to clear). While Box or Lasso is picked a "
           "click selects nothing (Streamlit's rule): pick *Zoom* or *Pan* again to click a point.")
event = st.plotly_chart(figure, on_select="rerun", selection_mode=("points", "box", "lasso"), key="cluster_scatter")

selected_ids = selected_clips(event, points)
if len(selected_ids) == 1:
    clip_id = selected_ids[0]
    st.markdown(clip_line(clip_id, clips.loc[clip_id], pd.Series({"cluster": points.loc[clip_id, "cluster"]})))
    st.audio(clips.loc[clip_id, "path"])
elif selected_ids:
    chosen = clips.loc[selected_ids]
    offered = offer(SOURCE, selected_ids)
    st.subheader(f"{len(chosen):,} selected clips")
    st.caption(f"Offered to the other pages as the **{offered.label}** (their *Only the clips of* picker).")
    mix = st.columns(3)
    for slot, column in zip(mix, ["emotion", "speaker", "sex"]):
        slot.dataframe(chosen[column].fillna("unknown").value_counts().rename("clips"), key=f"mix_{column}")
    clip_table(chosen, key="clusters_clips", extra=points.loc[selected_ids, ["cluster"]], exclude_selection=SOURCE)
else:
    kept_selection = next((s for s in selections() if s.source == SOURCE), None)
    if kept_selection is not None:
        note, forget = st.columns([4, 1])
        note.caption(f"Your last box or lasso here is still offered to the other pages: the {kept_selection.label}.")
        if forget.button("Forget it", key="clusters_forget_selection"):
            offer(SOURCE, [])
            st.rerun()

# ------------------------------------------------------------------ do clusters follow emotion or speaker?
st.header("Do the clusters follow emotion, sex, speaker or intensity?")
st.markdown(
    "Three measures of how far the clusters line up with each attribute, each beside its **chance** level "
    "(the mean over 20 seeded shuffles of the attribute's labels against the clusters):\n"
    "- **Purity**: the share of clips in their cluster's dominant value. It favours attributes with few "
    f"values: with k = {k} clusters it cannot exceed its **ceiling**, the {k} largest values' share "
    "(tiny for speaker), so read it between chance and ceiling, not against 1.\n"
    "- **V-measure** (= NMI): the harmonic mean of homogeneity (each cluster holds one value) and "
    "completeness (each value sits in one cluster), 0 to 1.\n"
    "- **AMI** (adjusted mutual information): the information clusters and attribute share, corrected "
    "for chance, so its chance level is 0 by construction and 1 is a perfect match. It stays comparable "
    "across attributes with 2 or 91 values, so it is the one the readings rank by.")
shown = report.agreement.drop(columns="beyond_chance").rename(columns=AGREEMENT_COLUMNS)
numbers = [c for c in shown.columns if c not in ("values", "reading")]
st.dataframe(shown, key="clusters_agreement", column_config={c: st.column_config.NumberColumn(format="%.3f")
                                                             for c in numbers}
             | {"reading": st.column_config.TextColumn(width="large")})

st.plotly_chart(heatmap(report.tables["emotion"], "Clips per cluster and intended emotion", "intended emotion",
                        "cluster"), key="cluster_emotion_heatmap")
per_cluster = st.columns(len(report.purity))
for slot, attribute in zip(per_cluster, report.purity):
    with slot:
        st.markdown(f"**Dominant {attribute} per cluster**")
        st.dataframe(report.purity[attribute], key=f"purity_{attribute}")
