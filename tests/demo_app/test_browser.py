"""The page in a real browser: headless Chromium (Debian's package) loads it offline, runs one
generation, plays both videos and shows the plot; a screenshot is taken (docs/images/demo.png is
made the same way by `python -m mmcache.demos.screenshot`)."""

from __future__ import annotations

import pytest
from PIL import Image

from mmcache.demos.browser import find_chromium

pytestmark = pytest.mark.skipif(
    find_chromium() is None,
    reason="Chromium is not installed (CI installs it: apt-get install -y --no-install-recommends chromium)",
)


def test_browser_runs_a_generation_offline_and_takes_a_screenshot(demo_server, tmp_path):
    from mmcache.demos.screenshot import take_screenshot

    report = take_screenshot(tmp_path / "demo.png", model=demo_server.model, steps=demo_server.settings["steps"])

    assert report.external_requests == [], "the page must not reach outside 127.0.0.1"
    assert report.page_errors == []
    assert len(report.videos) == 2
    for video in report.videos:
        assert video["ready"] >= 2 and video["width"] >= 256, f"the browser did not decode {video['src']}"
    assert report.plot_width > 0
    assert "Speedup" in report.summary and "PSNR" in report.summary
    width, height = Image.open(report.path).size
    assert width == 1400 and height >= 1000


def test_browser_cannot_reach_the_internet_and_records_the_attempt():
    from mmcache.demos.browser import Chromium

    with Chromium() as browser:
        browser.open("about:blank")
        outcome = browser.evaluate("fetch('https://example.com/').then(() => 'reached').catch(() => 'blocked')")
        assert outcome == "blocked"
        assert browser.external_requests == ["https://example.com/"]
