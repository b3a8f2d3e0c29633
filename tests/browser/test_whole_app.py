"""The whole app in a real browser: `streamlit run app.py` on 127.0.0.1, driven by Playwright in
Debian's Chromium (/usr/bin/chromium, which .ci/run installs; Playwright's own browser download cannot
work offline, and this test never installs a browser). Every page app.py lists opens without an
exception or error box; a clip uploaded on the try-a-clip page comes back with a prediction; a
screenshot of each page is saved (SER_SCREENSHOTS, default the test's temporary folder)."""

import ast
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ser.learning.baselines import BaselineSpec, run_baseline
from ser.data.corpus import load_corpus
from net import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]


def app_pages() -> list[dict]:
    """The st.Page(...) calls in app.py, read from its source: file, title, url_path and default, so a page
    added there is visited here without anyone remembering to."""
    pages = []
    for node in ast.walk(ast.parse((ROOT / "app.py").read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "Page":
            page = {"file": ast.literal_eval(node.args[0]), "default": False}
            page.update({k.arg: ast.literal_eval(k.value) for k in node.keywords
                         if k.arg in ("title", "url_path", "default")})
            pages.append(page)
    return pages


PAGES = app_pages()


def test_the_page_list_is_app_pys_and_holds_every_page_file():
    assert {p["file"] for p in PAGES} == {f"app_pages/{f.name}" for f in (ROOT / "app_pages").glob("*.py")}
    assert len(PAGES) >= 6 and "Fine-tuning (RQ3)" in [p["title"] for p in PAGES]
    assert [p["default"] for p in PAGES].count(True) == 1


@pytest.fixture
def app_url(small_demo, isolated_cache, monkeypatch):
    monkeypatch.setenv("SER_DATA", str(small_demo))
    run_baseline(BaselineSpec(model="svm", grid="none", jobs=1), load_corpus(small_demo))
    port = free_port()
    log = open(isolated_cache.parent / "streamlit.log", "wb")
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                               "--server.headless", "true"], cwd=ROOT, env={**os.environ}, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    wait_for_port(port, server, "streamlit (see streamlit.log in the test's folder)")
    yield url
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
    log.close()


def settle(page, timeout=90):
    """Wait until the script has run: the page's title is there and nothing is running."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout * 1000)
    deadline = time.monotonic() + timeout
    quiet = None
    while time.monotonic() < deadline:
        busy = page.locator('[data-testid="stStatusWidget"], [data-testid="stSpinner"]').count() > 0
        titled = page.locator("h1").count() > 0
        if busy or not titled:
            quiet = None
        elif quiet is None:
            quiet = time.monotonic()
        elif time.monotonic() - quiet > 1.5:
            return
        time.sleep(0.2)
    raise AssertionError("the page kept running")


def problems_on(page) -> list[str]:
    found = [e.inner_text() for e in page.locator('[data-testid="stException"]').all()]
    found += [e.inner_text() for e in page.locator('[data-testid="stAlertContentError"]').all()]
    return found


def test_every_page_and_an_upload(chromium, app_url, tmp_path, small_demo):
    from playwright.sync_api import sync_playwright

    shots = Path(os.environ.get("SER_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=[
            "--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            for shown in PAGES:
                page.goto(f"{app_url}/{'' if shown['default'] else shown['url_path']}")
                settle(page)
                heading = shown["title"].split(" (")[0]  # "Clusters (RQ1)" in the menu, "Clusters: ..." as h1
                assert page.locator("h1").first.inner_text().startswith(heading), shown
                assert problems_on(page) == [], shown
                page.screenshot(path=str(shots / f"{shown['url_path']}.png"), full_page=True)

            clip = next((Path(small_demo) / "AudioWAV").glob("*_ANG_*.wav"))
            page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(clip))
            page.get_by_text("Predicted emotion").wait_for(timeout=60_000)
            settle(page)
            value = page.locator('[data-testid="stMetricValue"]').first.inner_text().strip()
            assert value in {"ANG", "DIS", "FEA", "HAP", "NEU", "SAD"}
            assert problems_on(page) == []
            page.screenshot(path=str(shots / "try-uploaded.png"), full_page=True)
        finally:
            browser.close()
