"""RQ1: how distinct are emotions in audio features? KMeans on standardised features, PCA and UMAP
views, and whether the clusters follow emotion, sex or speaker."""

import pandas as pd
import plotly.express as px
import streamlit as st

from ser.analysis.clustering import agreement_table, contingency, purity, silhouette_reading
from ser.errors import SerError
from ui import cached
from ui.charts import EMOTION_COLORS
from ui.clip_list import clip_line, paged_clips
from ui.features_panel import describe_result, feature_set_picker, features_with_progress
from ui.sidebar import corpus_sidebar
from ui.state import show_error

COLOUR_OPTIONS = ["cluster", "emotion", "sex", "speaker", "intensity"]
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
    k = st.slider("Clusters (k)", min_value=2, max_value=12, value=6, key="clusters_k")
with right:
    colour = st.segmented_control("Colour by", COLOUR_OPTIONS, default="cluster", key="clusters_colour") or "cluster"

result = features_with_progress(corpus, set_name)
if result is None or len(result.table) < 3:
    st.info("Not enough clips with features to cluster.")
    st.stop()
describe_result(result)
features = result.table
clips = corpus.clips.loc[features.index]

try:
    clusters = cached.kmeans(features, k)
except SerError as exc:
    show_error(exc)
    st.stop()
columns = st.columns([1, 3])
columns[0].metric("Silhouette", f"{clusters.silhouette:.3f}")
columns[1].markdown(f"  \n{silhouette_reading(clusters.silhouette)}")

# ------------------------------------------------------------------ the 2-D views
view = st.segmented_control("View", ["PCA", "UMAP"], default="PCA", key="clusters_view") or "PCA"
if view == "PCA":
    coords, variance = cached.pca(features)
    axis_note = f"PC1 explains {variance[0]:.0%} of the variance, PC2 {variance[1]:.0%}."
else:
    n_neighbors = st.slider("UMAP neighbours", 5, 50, 15, key="umap_neighbors")
    coords = cached.umap(features, n_neighbors, 0.1)
    axis_note = "UMAP keeps neighbourhoods, not distances: read groups, not axes."

points = coords.join(clips[["emotion", "speaker", "sex", "intensity", "sentence"]])
points["cluster"] = clusters.labels.astype(str)
points["clip_id"] = points.index
colour_map = EMOTION_COLORS if colour == "emotion" else None
figure = px.scatter(points.reset_index(drop=True), x="x", y="y", color=colour, color_discrete_map=colour_map,
                    custom_data=["clip_id"], hover_data={"clip_id": True, "emotion": True, "speaker": True,
                                                         "sex": True, "sentence": True, "x": False, "y": False},
                    render_mode="webgl", category_orders={"cluster": [str(i) for i in range(k)]},
                    labels={"x": f"{view} 1", "y": f"{view} 2"})
figure.update_traces(marker=dict(size=5, opacity=0.7))
figure.update_layout(height=560, margin=dict(l=10, r=10, t=30, b=10), dragmode="lasso")
st.caption(f"{axis_note} Click a point to hear it; draw a box or lasso to list clips.")
event = st.plotly_chart(figure, on_select="rerun", selection_mode=("points", "box", "lasso"), key="cluster_scatter")

selected_ids = [p["customdata"][0] for p in (event.selection.points if event else []) if p.get("customdata")]
selected_ids = [c for c in dict.fromkeys(selected_ids) if c in clips.index]
if len(selected_ids) == 1:
    clip_id = selected_ids[0]
    st.markdown(clip_line(clip_id, clips.loc[clip_id], pd.Series({"cluster": points.loc[clip_id, "cluster"]})))
    st.audio(clips.loc[clip_id, "path"])
elif selected_ids:
    chosen = clips.loc[selected_ids]
    st.subheader(f"{len(chosen):,} selected clips")
    mix = st.columns(3)
    for slot, column in zip(mix, ["emotion", "speaker", "sex"]):
        slot.dataframe(chosen[column].fillna("unknown").value_counts().rename("clips"), key=f"mix_{column}")
    paged_clips(chosen, key="selection_page", extra=points.loc[selected_ids, ["cluster"]])

# ------------------------------------------------------------------ do clusters follow emotion or speaker?
st.header("Do the clusters follow emotion, sex, speaker or intensity?")
attributes = [a for a in ATTRIBUTES if clips[a].notna().any()]
agreement = agreement_table(clusters.labels, {a: clips[a] for a in attributes})
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
shown = agreement.drop(columns="beyond_chance").rename(columns=AGREEMENT_COLUMNS)
st.table(shown.style.format(precision=3))

tables = {attribute: contingency(clusters.labels, clips[attribute]) for attribute in attributes}
emotion_table = tables["emotion"]
figure = px.imshow(emotion_table, text_auto=True, color_continuous_scale="Blues", aspect="auto",
                   labels={"x": "intended emotion", "y": "cluster", "color": "clips"},
                   title="Clips per cluster and intended emotion")
figure.update_layout(height=360, margin=dict(l=10, r=10, t=40, b=10))
st.plotly_chart(figure, key="cluster_emotion_heatmap")
per_cluster = st.columns(len(tables))
for slot, attribute in zip(per_cluster, tables):
    with slot:
        st.markdown(f"**Dominant {attribute} per cluster**")
        st.dataframe(purity(tables[attribute]), key=f"purity_{attribute}")
