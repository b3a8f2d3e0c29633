"""Opening a page of the app through streamlit's AppTest, as the app itself does (st.navigation)."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent


def open_page(monkeypatch, page: str, data) -> AppTest:
    """``page`` (e.g. "app_pages/bias.py") opened on the corpus ``data``, with no exception."""
    monkeypatch.setenv("SER_DATA", str(data))
    monkeypatch.chdir(ROOT)
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    app.run()
    app.switch_page(page).run()
    assert not app.exception, app.exception
    return app


def open_url(page: str, params: dict) -> AppTest:
    """``page`` (e.g. "app_pages/layers.py") opened by itself, as from a shared URL with these query
    parameters, with no exception (the corpus: SER_DATA, set by the caller)."""
    app = AppTest.from_file(str(ROOT / page), default_timeout=180)
    for key, value in params.items():
        app.query_params[key] = value
    app.run()
    assert not app.exception, app.exception
    return app
