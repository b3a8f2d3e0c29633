"""RQ1: how distinct are emotions in audio features? KMeans on standardised features, PCA and UMAP
views, and whether the clusters follow emotion, sex or speaker."""

import pandas as pd
import plotly.express as px
import streamlit as st

from ser.clustering import contingency, overall_purity, purity, silhouette_reading
from ser.errors import SerError
from ui import cached
from ui.charts import EMOTION_COLORS
from ui.clip_list import clip_line, paged_clips
from ui.features_panel import describe_result, feature_set_picker, features_with_progress
from ui.sidebar import corpus_sidebar
from ui.state import show_error

COLOUR_OPTIONS = ["cluster", "emotion", "sex", "speaker", "intensity"]

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
st.header("Do the clusters follow emotion, sex or speaker?")
tables = {attribute: contingency(clusters.labels, clips[attribute]) for attribute in ("emotion", "sex", "speaker")}
summary = pd.DataFrame({attribute: {"purity": overall_purity(table), "values": table.shape[1]}
                        for attribute, table in tables.items()}).T
summary["chance (largest value's share)"] = [clips[a].fillna("unknown").value_counts(normalize=True).iloc[0]
                                             for a in summary.index]
st.markdown("**Purity** is the share of clips that belong to their cluster's dominant value: 1.0 means the "
            "clusters follow that attribute exactly; compare it with the share the largest value would get "
            "by chance.")
st.dataframe(summary.round(3), key="purity_summary")

emotion_table = tables["emotion"]
figure = px.imshow(emotion_table, text_auto=True, color_continuous_scale="Blues", aspect="auto",
                   labels={"x": "intended emotion", "y": "cluster", "color": "clips"},
                   title="Clips per cluster and intended emotion")
figure.update_layout(height=360, margin=dict(l=10, r=10, t=40, b=10))
st.plotly_chart(figure, key="cluster_emotion_heatmap")
per_cluster = st.columns(3)
for slot, attribute in zip(per_cluster, ("emotion", "sex", "speaker")):
    with slot:
        st.markdown(f"**Dominant {attribute} per cluster**")
        st.dataframe(purity(tables[attribute]), key=f"purity_{attribute}")
