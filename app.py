"""The SER workbench: `streamlit run app.py`. Navigation and the sidebar's corpus picker."""

import streamlit as st

from ser.demo import DEMO_NOTE
from ui.state import SOURCE_KEY, current_corpus, reload_corpus

st.set_page_config(page_title="SER workbench", page_icon="🎙️", layout="wide")

PAGES = [
    st.Page("pages/overview.py", title="Corpus overview", icon="📊", url_path="overview", default=True),
]


def corpus_picker() -> None:
    with st.sidebar:
        st.subheader("Corpus")
        st.text_input("CREMA-D folder or manifest CSV", key=SOURCE_KEY,
                      placeholder="empty: $SER_DATA, else the demo corpus",
                      help="A CREMA-D folder holds AudioWAV/ and, optionally, VideoDemographics.csv, "
                           "SentenceFilenames.csv and processedResults/. A manifest CSV has the columns "
                           "path, emotion, speaker and any metadata.")
        if st.button("Rescan files", key="rescan", help="Read the folder again after adding or changing files"):
            reload_corpus()
        corpus = current_corpus()
        if corpus is not None:
            st.caption(f"**{corpus.name}** · {len(corpus.clips):,} clips · "
                       f"{corpus.clips['speaker'].nunique()} speakers · {len(corpus.problems)} problems")
            if corpus.synthetic:
                st.warning(DEMO_NOTE, icon="🧪")


corpus_picker()
st.navigation(PAGES).run()
