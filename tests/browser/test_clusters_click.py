"""Clusters in a real browser: a single click on a point of the scatter plays that clip (Streamlit turns click
selection off while the chart's drag mode is lasso or box, which is why it once did nothing), and a box drawn
with the toolbar's Box Select still lists many. Served and driven as in test_whole_app."""

import re

from test_whole_app import bare_app_url, browser_page, problems_on, settle  # noqa: F401 (a fixture)

POINT = """() => {
    const gd = document.querySelector('.st-key-cluster_scatter .js-plotly-plot');
    const trace = gd._fullData.find(t => t.visible === true && t.x && t.x.length > 0);
    const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
    const box = gd.getBoundingClientRect();
    return [box.left + xa._offset + xa.l2p(trace.x[0]), box.top + ya._offset + ya.l2p(trace.y[0])];
}"""


def test_a_click_plays_one_clip_and_a_box_lists_many(chromium, bare_app_url):  # noqa: F811
    with browser_page(chromium) as page:
        page.goto(f"{bare_app_url}/clusters")
        settle(page, timeout=120)
        chart = page.locator(".st-key-cluster_scatter")
        chart.scroll_into_view_if_needed()
        chart.locator(".nsewdrag").first.wait_for(timeout=60_000)
        x, y = page.evaluate(POINT)
        page.mouse.move(x, y)
        page.mouse.click(x, y)
        page.locator('[data-testid="stAudio"]').first.wait_for(timeout=60_000)
        settle(page)
        assert page.locator('[data-testid="stAudio"]').count() == 1
        assert page.get_by_text(re.compile(r"cluster: \d+")).count() == 1  # the clip's line with its cluster
        assert problems_on(page) == []

        box = chart.locator(".nsewdrag").first.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # the toolbar shows on hover
        chart.locator('[data-title="Box Select"]').click()
        page.mouse.move(box["x"] + box["width"] * 0.1, box["y"] + box["height"] * 0.1)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.9, box["y"] + box["height"] * 0.9, steps=10)
        page.mouse.up()
        page.get_by_text("Offered to the other pages as the").wait_for(timeout=60_000)
        settle(page)
        assert page.locator(".st-key-clusters_clips_table").count() == 1
        assert problems_on(page) == []
