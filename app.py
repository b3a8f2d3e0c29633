"""The SER workbench: `streamlit run app.py`. One page per question; each page draws the sidebar's
corpus picker (ui.sidebar) so that the picker and the page read the same corpus."""

import streamlit as st

st.set_page_config(page_title="SER workbench", page_icon=":material/graphic_eq:", layout="wide")

PAGES = [
    st.Page("pages/overview.py", title="Corpus overview", icon=":material/bar_chart:", url_path="overview", default=True),
]

st.navigation(PAGES).run()
