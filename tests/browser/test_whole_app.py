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
from contextlib import contextmanager
from pathlib import Path

import pytest

from ser.learning.baselines import GRIDS, BaselineSpec, run_baseline
from ser.data.corpus import load_corpus
from net import free_port, wait_for_port
from ui.live import POLL_SECONDS

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


@pytest.fixture(scope="session")
def app_url(small_demo, tmp_path_factory, stop_workers):
    """The app on the small demo corpus, with one finished run (for the pages that show runs), started once
    per test process for the tests that only look and listen (nothing they do changes what another sees):
    a server's start and its first pages cost 10-15 s on 2 cores."""
    folder = tmp_path_factory.mktemp("shown-app")
    env = {"SER_CACHE": str(folder / "cache"), "SER_DATA": str(small_demo)}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        run_baseline(BaselineSpec(model="svm", grid="none", jobs=1), load_corpus(small_demo))
    with serving(folder, env) as url:
        yield url
    stop_workers(folder / "cache")  # the worker the app started


@pytest.fixture
def bare_app_url(small_demo, small_demo_features, isolated_cache, monkeypatch):
    """The app on the small demo corpus, with no run yet (its mfcc13 features already cached)."""
    import shutil

    shutil.copytree(small_demo_features, isolated_cache / "features")
    monkeypatch.setenv("SER_DATA", str(small_demo))
    with serving(isolated_cache.parent) as url:
        yield url


@contextmanager
def serving(folder: Path, env: dict | None = None):
    """`streamlit run app.py` on a free port, offline from the Hugging Face hub, its log in ``folder``;
    ``env``: settings of its own (else this process' environment's)."""
    port = free_port()
    log = open(folder / "streamlit.log", "wb")
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                               "--server.headless", "true"], cwd=ROOT,
                              env={**os.environ, **(env or {}), "HF_HUB_OFFLINE": "1"},
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_port(port, server, "streamlit (see streamlit.log in the test's folder)")
        yield f"http://127.0.0.1:{port}"
    finally:
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


@contextmanager
def browser_page(chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=[
            "--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-gpu"])
        try:
            yield browser.new_page(viewport={"width": 1400, "height": 1000})
        finally:
            browser.close()


def test_every_page_and_an_upload(chromium, app_url, tmp_path, small_demo):
    shots = Path(os.environ.get("SER_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    with browser_page(chromium) as page:
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


def choose(page, label: str, option: str) -> None:
    """Pick ``option`` in the select box labelled ``label``. A rerun that lands while the list is open (the
    sidebar's first news of a worker, on a loaded machine) closes it: then the box is opened again."""
    from playwright.sync_api import TimeoutError as NotThere

    for _ in range(3):
        page.get_by_role("combobox", name=label, exact=True).click()
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=10_000)
            return
        except NotThere:
            page.keyboard.press("Escape")
            settle(page)
    raise AssertionError(f"{option!r} never appeared in the list of {label!r}")


def opened_run(page) -> tuple[str, str]:
    """The run id and status the "Open a run" box shows (its label: ``run id · model · ... · status``)."""
    box = page.get_by_role("combobox", name="Open a run", exact=True)
    label = box.input_value() if box.count() else ""
    return label.split(" · ", 1)[0], label.rsplit(" · ", 1)[-1]


def count_sent(page) -> list[float]:
    """When the browser sent something to the app (a rerun request, a widget change): a list that grows."""
    sent = []
    page.on("websocket", lambda socket: socket.on("framesent", lambda payload: sent.append(time.monotonic())))
    return sent


def test_jobs_seen_live_started_cancelled_and_polling_stops(chromium, bare_app_url):
    """On Baselines, a job started from the page is seen going from queued/running to finished, and a grid job
    cancelled from its panel is seen cancelled, with no reload and no click after Start or Cancel; once
    nothing is queued or running, the page stops asking the app for anything."""
    with browser_page(chromium) as page:
        sent = count_sent(page)
        page.goto(f"{bare_app_url}/baselines")
        settle(page)
        choose(page, "Grid", "defaults only")
        page.get_by_role("button", name="Start").click()
        clicked = len(sent)
        statuses, deadline = [], time.monotonic() + 180
        while "finished" not in statuses:  # no click, no reload from here on: the page redraws itself
            assert time.monotonic() < deadline, statuses
            run_id, status = opened_run(page)
            if run_id and status not in statuses:
                statuses.append(status)
            page.wait_for_timeout(200)
        assert {"queued", "running"} & set(statuses[:-1]), statuses
        assert len(sent) - clicked >= 2, "the page did not ask for news while the job ran"
        page.get_by_text("Macro-F1").first.wait_for(timeout=30_000)  # the finished run's report, drawn by itself
        page.wait_for_timeout(POLL_SECONDS * 2 * 1000)  # (Playwright hands over events while it waits, not in sleep)
        before = len(sent)
        page.wait_for_timeout(POLL_SECONDS * 2.5 * 1000)  # two polls would fall in here
        assert len(sent) == before, "the page kept polling with nothing queued or running"

        choose(page, "Model", "random forest")
        choose(page, "Grid", GRIDS["report"])
        page.get_by_role("button", name="Start").click()
        progress = page.locator('[data-testid="stProgress"]').filter(has_text="grid search")
        progress.first.wait_for(timeout=120_000)
        assert " elapsed" in progress.first.inner_text()
        page.get_by_role("button", name="Cancel").click()
        asked = time.monotonic()
        page.locator('[data-testid="stAlertContentError"]').filter(has_text="cancelled").first.wait_for(
            timeout=60_000)
        print(f"cancel shown {time.monotonic() - asked:.1f} s after the click")
        assert opened_run(page)[1] == "cancelled"
        assert page.locator('[data-testid="stException"]').count() == 0


def test_the_hub_id_box_does_not_start_a_job_on_enter(chromium, bare_app_url):
    """Enter in the hub-id box queues nothing; Start checks the model first and says once why it cannot be had."""
    from ser.runs import list_runs

    with browser_page(chromium) as page:
        page.goto(f"{bare_app_url}/finetune")
        settle(page)
        choose(page, "Pretrained model", "another hub id or a local folder…")
        box = page.get_by_role("textbox", name="Hub id or folder (when 'another' is chosen)")
        box.fill("nobody/no-such-model")
        box.press("Enter")
        time.sleep(3)
        settle(page)
        assert list_runs() == []
        assert problems_on(page) == []
        page.get_by_role("button", name="Start").click()
        settle(page)
        errors = problems_on(page)
        assert len(errors) == 1 and "nobody/no-such-model" in errors[0] and "HF_HUB_OFFLINE" in errors[0], errors
        assert list_runs() == []
