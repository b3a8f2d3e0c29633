"""Settings that survive a page switch and live in the URL (ui.page_state), and selections carried
between pages (ui.selection), on a two-page app of their own."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]

APP = """
import streamlit as st
st.navigation([st.Page("a.py", url_path="a", default=True), st.Page("b.py", url_path="b")]).run()
"""
PAGE_A = """
import pandas as pd
import streamlit as st
from ui.page_state import URL, kept
from ui.selection import offer, selection_filter
opts = ["x", "y", "z"]
v = st.selectbox("pick", opts, key=kept("a_pick", opts), bind=URL)
r = st.selectbox("run", opts, index=None, key=kept("a_run", opts, fallback="z"), bind=URL)
k = st.slider("k", 2, 12, 6, key=kept("a_k"), bind=URL)
many = st.multiselect("many", opts, key=kept("a_many", opts), bind=URL)
st.write(f"v={v} r={r} k={k} many={','.join(many)}")
if st.button("select", key="select"):
    offer("A", ["c1", "c2"])
for i, ids in enumerate((["c1"], ["c2", "c3"])):  # picks in one slot: the newer replaces the older
    if st.button(f"pick {i}", key=f"pick{i}"):
        offer(f"A: pick {i}", ids, slot="A: pick")
shown, chosen = selection_filter("a_only", pd.Index(["c1", "c2", "c3"]), exclude="A")
st.write(f"shown={','.join(shown)}")
"""
PAGE_B = """
import pandas as pd
import streamlit as st
from ui.page_state import URL, kept
from ui.selection import selection_filter
few = ["x", "y"]
r = st.selectbox("run", few, index=None, key=kept("a_run", few, fallback="y"), bind=URL)
st.write(f"page b run={r}")
shown, chosen = selection_filter("b_only", pd.Index(["c0", "c1", "c2", "c3"]))
st.write(f"page b shown={','.join(shown)} chosen={chosen.label if chosen else None}")
"""


@pytest.fixture
def app_dir(tmp_path, monkeypatch):
    for name, text in {"app.py": APP, "a.py": PAGE_A, "b.py": PAGE_B}.items():
        (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(ROOT))
    return tmp_path


def said(app) -> str:
    return "\n".join(m.value for m in app.markdown)


def test_settings_come_back_after_visiting_another_page(app_dir):
    app = AppTest.from_file(str(app_dir / "app.py"))
    app.run()
    assert "v=x r=z k=6 many=" in said(app)  # defaults, and the fallback run
    app.selectbox(key="a_pick").select("y").run()
    app.slider(key="a_k").set_value(9).run()
    app.multiselect(key="a_many").select("z").run()
    app.switch_page(str(app_dir / "b.py")).run()
    assert "page b" in said(app)
    app.switch_page(str(app_dir / "a.py")).run()
    assert not app.exception
    assert "v=y r=z k=9 many=z" in said(app)
    assert app.query_params["a_pick"] == "y" and app.query_params["a_k"] == "9"


def test_a_shared_url_opens_the_same_view_and_bad_values_are_ignored(app_dir):
    app = AppTest.from_file(str(app_dir / "app.py"))
    for key, value in {"a_pick": "z", "a_run": "x", "a_k": "4"}.items():
        app.query_params[key] = value
    app.run()
    assert not app.exception
    assert "v=z r=x k=4" in said(app)
    stale = AppTest.from_file(str(app_dir / "app.py"))
    stale.query_params["a_pick"] = "deleted-run"
    stale.run()
    assert not stale.exception and "v=x r=z" in said(stale)


def test_a_selection_made_on_one_page_filters_another(app_dir):
    app = AppTest.from_file(str(app_dir / "app.py"))
    app.run()
    assert "shown=c1,c2,c3" in said(app)  # its own selection is not offered back
    app.button(key="select").click().run()
    app.switch_page(str(app_dir / "b.py")).run()
    assert "page b shown=c0,c1,c2,c3 chosen=None" in said(app)
    app.selectbox(key="b_only").select("A").run()
    assert "page b shown=c1,c2 chosen=selection from A, 2 clips" in said(app)
    assert any("a link to this view opens it on all clips" in c.value for c in app.caption)  # not in the URL
    app.switch_page(str(app_dir / "a.py")).run()
    app.switch_page(str(app_dir / "b.py")).run()
    assert "chosen=selection from A, 2 clips" in said(app)  # the filter itself is kept


def test_a_new_pick_in_a_slot_replaces_the_old_one_and_a_page_never_filters_by_its_own(app_dir):
    app = AppTest.from_file(str(app_dir / "app.py"))
    app.run()
    app.button(key="pick0").click().run()
    assert "shown=c1,c2,c3" in said(app)  # "A: pick" is page A's own: not offered there
    app.switch_page(str(app_dir / "b.py")).run()
    app.selectbox(key="b_only").select("A: pick").run()
    assert "page b shown=c1 chosen=selection from A: pick 0, 1 clips" in said(app)
    app.switch_page(str(app_dir / "a.py")).run()
    app.button(key="pick1").click().run()
    app.switch_page(str(app_dir / "b.py")).run()
    assert app.selectbox(key="b_only").options == ["(all clips)", "selection from A: pick 1, 2 clips"]
    assert "page b shown=c2,c3 chosen=selection from A: pick 1, 2 clips" in said(app)  # the slot stays chosen




def test_a_shared_key_another_page_cannot_show_falls_back_there_and_is_kept(app_dir):
    app = AppTest.from_file(str(app_dir / "app.py"))
    app.run()
    app.selectbox(key="a_run").select("z").run()
    app.switch_page(str(app_dir / "b.py")).run()
    assert "page b run=y" in said(app)  # z is not offered here: the fallback is shown
    app.switch_page(str(app_dir / "a.py")).run()
    assert "r=z" in said(app)  # ...and page A still has the user's z
    app.selectbox(key="a_run").select("x").run()
    app.switch_page(str(app_dir / "b.py")).run()
    assert "page b run=x" in said(app)  # a value page B can show is shared
