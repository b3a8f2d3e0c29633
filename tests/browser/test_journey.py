"""Issue 15's journey in a real browser (Chromium through Playwright, the app served as in test_whole_app): a
click on a Clusters point plays that clip (Streamlit turns click selection off while the chart's drag mode is
lasso or box, which is why it once did nothing); a lasso on Clusters lists its clips in the clip table and
becomes a filter on Bias; a confusion-matrix cell clicked there lists its clips; the Bias view's URL, opened
in a new session, shows the same view. Skipped only where Chromium is missing and CI is not set (conftest's
debian_program)."""

import os
import re
import time
from pathlib import Path

from test_whole_app import app_url, browser_page, choose, problems_on, settle  # noqa: F401 (app_url: a fixture)

SELECTION = re.compile(r"selection from Clusters, ([\d,]+) clips")
POINT = """() => {
    const gd = document.querySelector('.st-key-cluster_scatter .js-plotly-plot');
    const trace = gd._fullData.find(t => t.visible === true && t.x && t.x.length > 0);
    const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
    const box = gd.getBoundingClientRect();
    return [box.left + xa._offset + xa.l2p(trace.x[0]), box.top + ya._offset + ya.l2p(trace.y[0])];
}"""


def plot_area(page, key: str):
    """The drawing area (Plotly's drag layer) of the chart with this Streamlit key: x, y, width, height."""
    chart = page.locator(f".st-key-{key}")
    chart.wait_for(timeout=60_000)
    chart.scroll_into_view_if_needed()
    return chart.locator(".nsewdrag").first.bounding_box()


def lasso(page, key: str) -> None:
    """Pick the lasso in the chart's toolbar and draw it around the middle of the scatter plot, as a mouse does."""
    box = plot_area(page, key)
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # the toolbar shows on hover
    page.locator(f".st-key-{key}").locator('[data-title="Lasso Select"]').click()
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    path = [(0.15, 0.15), (0.85, 0.15), (0.85, 0.85), (0.15, 0.85), (0.15, 0.2)]
    page.mouse.move(x + w * path[0][0], y + h * path[0][1])
    page.mouse.down()
    for fx, fy in path[1:]:
        page.mouse.move(x + w * fx, y + h * fy, steps=8)
    page.mouse.up()


def test_lasso_table_bias_filter_confusion_cell_and_a_shared_url(chromium, app_url, tmp_path):  # noqa: F811
    shots = Path(os.environ.get("SER_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with browser_page(chromium) as page:
        # Clusters: a lasso lists its clips and offers them to the other pages
        page.goto(f"{app_url}/clusters")
        settle(page, timeout=120)
        # a click on one point plays that clip, with its line
        plot_area(page, "cluster_scatter")
        x, y = page.evaluate(POINT)
        page.mouse.move(x, y)
        page.mouse.click(x, y)
        page.locator('[data-testid="stAudio"]').first.wait_for(timeout=60_000)
        settle(page)
        assert page.locator('[data-testid="stAudio"]').count() == 1
        assert page.get_by_text(re.compile(r"cluster: \d+")).count() == 1  # the clip's line with its cluster
        assert problems_on(page) == []
        lasso(page, "cluster_scatter")
        offered = page.get_by_text("Offered to the other pages as the")
        offered.wait_for(timeout=60_000)
        settle(page)
        clips = int(SELECTION.search(offered.inner_text()).group(1).replace(",", ""))
        assert clips > 1
        table = page.locator(".st-key-clusters_clips_table")
        assert table.count() == 1, "the lasso's clips are not listed in the clip table"
        assert problems_on(page) == []

        # Bias: the selection becomes a filter of the whole analysis (same session: the sidebar's link)
        page.get_by_role("link", name="Bias (RQ4)").click()
        settle(page)
        label = f"selection from Clusters, {clips:,} clips"
        choose(page, "Only the clips of", label)
        settle(page)
        page.get_by_text(f"Analysing only the {label}").wait_for(timeout=30_000)

        # a confusion-matrix cell lists its clips
        page.get_by_role("tab", name="Confusion by demographics").click()
        settle(page)
        box = plot_area(page, "bias_model_confusion")
        page.mouse.click(box["x"] + box["width"] / 12, box["y"] + box["height"] / 12)  # a corner cell
        listed = page.get_by_text(re.compile(r"clip\(s\): .*offered to the other pages"))
        listed.wait_for(timeout=30_000)
        settle(page)
        assert page.locator(".st-key-bias_cell_clips_table").count() == 1, "the cell's clips are not listed"
        sex = page.locator(".st-key-bias_filter_sex input")
        sex.click()
        sex.fill("Female")
        sex.press("Enter")
        settle(page)
        page.screenshot(path=str(shots / "journey-bias.png"), full_page=True)
        assert problems_on(page) == []

        # the view's URL, opened in a new session, shows the same view (selections stay in their session)
        shared = page.url
        assert "bias_tab=" in shared and "run=" in shared and "bias_filter_sex=Female" in shared, shared
        run = re.search(r"[?&]run=([^&]+)", shared).group(1)
        assert page.get_by_text(run).count() >= 1  # the run's caption under its picker
        other = page.context.browser.new_page(viewport={"width": 1400, "height": 1000})
        other.goto(shared)
        settle(other)
        assert other.get_by_role("tab", name="Confusion by demographics").get_attribute("aria-selected") == "true"
        assert other.get_by_text(run).count() >= 1
        other.screenshot(path=str(shots / "journey-shared.png"), full_page=True)
        assert other.get_by_text("Filters: sex: Female").count() == 1, "the shared URL's filter is not applied"
        assert other.get_by_text("Analysing only the").count() == 0
        assert problems_on(other) == []
    print(f"journey: {time.monotonic() - started:.1f} s in the browser")
