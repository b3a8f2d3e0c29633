"""The SER workbench: `streamlit run app.py`. One page per question; each page draws the sidebar's
corpus picker (ui.sidebar) so that the picker and the page read the same corpus."""

import streamlit as st

# An emoji icon is drawn in the browser; a material one is fetched from fonts.gstatic.com at every rerun, which an
# offline machine refuses (an error in the browser's console each time)
st.set_page_config(page_title="SER workbench", page_icon="🎙️", layout="wide")

PAGES = [
    st.Page("app_pages/overview.py", title="Corpus overview", icon=":material/bar_chart:", url_path="overview",
            default=True),
    st.Page("app_pages/clusters.py", title="Clusters (RQ1)", icon=":material/scatter_plot:", url_path="clusters"),
    st.Page("app_pages/baselines.py", title="Baselines (RQ2)", icon=":material/model_training:", url_path="baselines"),
    st.Page("app_pages/finetune.py", title="Fine-tuning (RQ3)", icon=":material/neurology:", url_path="finetune"),
    st.Page("app_pages/layers.py", title="Layer probe", icon=":material/layers:", url_path="layers"),
    st.Page("app_pages/bias.py", title="Bias (RQ4)", icon=":material/diversity_3:", url_path="bias"),
    st.Page("app_pages/try_clip.py", title="Try a clip", icon=":material/mic:", url_path="try"),
]

st.navigation(PAGES).run()
