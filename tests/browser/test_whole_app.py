"""The whole app in a real browser: `streamlit run app.py` on 127.0.0.1, driven by Playwright in
Debian's Chromium (Playwright's own browser download cannot work offline). Every page opens without an
exception or error box; a clip uploaded on the try-a-clip page comes back with a prediction; a
screenshot of each page is saved (SER_SCREENSHOTS, default the test's temporary folder)."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ser.baselines import BaselineSpec, run_baseline
from ser.corpus import load_corpus
from net import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
PAGES = {"": "Corpus overview", "clusters": "Clusters", "baselines": "Baselines", "bias": "Bias", "try": "Try a clip"}


def chromium() -> str:
    if not Path(CHROMIUM).exists() and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium",
                       shell=True, capture_output=True, timeout=900)
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    return CHROMIUM


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


def test_every_page_and_an_upload(app_url, tmp_path, small_demo):
    from playwright.sync_api import sync_playwright

    shots = Path(os.environ.get("SER_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=[
            "--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            for path, title in PAGES.items():
                page.goto(f"{app_url}/{path}")
                settle(page)
                assert title in page.locator("h1").first.inner_text()
                assert problems_on(page) == [], path
                page.screenshot(path=str(shots / f"{path or 'overview'}.png"), full_page=True)

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
