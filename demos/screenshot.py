"""Take the demo's screenshot: launch it, run one generation in headless Chromium, save a PNG.

    python -m mmcache.demos.screenshot --out docs/images/demo.png

Uses the system Chromium (Debian's ``chromium`` package) with every non-local host unreachable,
so it also checks that the page works offline, that both videos play in the browser and that the
timeline plot shows. Prints what it checked as JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import socket
import sys
import time
from pathlib import Path
from typing import Any

from .browser import BrowserError, Chromium, find_chromium

# Starting knob values for a tiny random-weight model: its outputs change fast, so the defaults
# (tuned for trained models) would reuse nothing and the timeline would show no decision.
TINY_MODEL_KNOBS = {"easycache": {"threshold": 0.5, "warmup_steps": 1}}

PAGE_STATE = """(() => {
  const videos = [...document.querySelectorAll('#baseline-video video, #accelerated-video video')];
  const plot = document.querySelector('#timeline img');
  const error = [...document.querySelectorAll('.toast-body, [data-testid="toast-body"]')]
    .map(e => e.innerText).join(' | ');
  return {
    error,
    summary: (document.querySelector('#summary') || {}).innerText || '',
    videos: videos.map(v => ({ready: v.readyState, width: v.videoWidth, height: v.videoHeight, src: v.currentSrc})),
    plot: plot && plot.complete ? plot.naturalWidth : 0,
  };
})()"""


@dataclasses.dataclass
class ScreenshotReport:
    """What the browser saw."""

    path: str
    url: str
    model: str
    seconds: float
    summary: str
    videos: list[dict[str, Any]]
    plot_width: int
    external_requests: list[str]
    page_errors: list[str]


def free_port(host: str = "127.0.0.1") -> int:
    """A port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def _finished(state: dict[str, Any]) -> bool:
    if state["error"]:
        raise BrowserError(f"The demo showed an error: {state['error']}")
    videos_play = len(state["videos"]) == 2 and all(v["ready"] >= 2 and v["width"] > 0 for v in state["videos"])
    return "Speedup" in state["summary"] and videos_play and state["plot"] > 0


def capture(url: str, out: str | Path, timeout: float = 120.0, chromium: str | None = None,
            width: int = 1400, height: int = 1000) -> ScreenshotReport:
    """Open the demo at ``url``, press Generate, wait for both videos to play and the plot, screenshot."""
    started = time.monotonic()
    with Chromium(chromium, width=width, height=height) as browser:
        browser.open(url)
        browser.wait_for("!!document.querySelector('#generate-button')", 60, "the demo page to load")
        browser.evaluate("document.querySelector('#generate-button').click()")
        deadline = time.monotonic() + timeout
        while not _finished(state := browser.evaluate(PAGE_STATE)):
            if time.monotonic() > deadline:
                raise BrowserError(f"Timed out after {timeout:.0f} s waiting for the generation; page state: {state}")
            time.sleep(0.5)
        browser.evaluate("window.scrollTo(0, 0)")
        time.sleep(0.5)  # let the videos paint a frame
        path = browser.screenshot(out)
        return ScreenshotReport(str(path), url, "", time.monotonic() - started, state["summary"], state["videos"],
                                state["plot"], list(browser.external_requests), list(browser.console_errors))


def take_screenshot(out: str | Path, model: str | None = None, chromium: str | None = None,
                    timeout: float = 120.0, steps: int | None = None) -> ScreenshotReport:
    """Launch the demo on a free local port, capture it, shut it down (``steps``: override the model's)."""
    from mmcache.pipelines.loader import default_model

    from .app import build_app, launch

    model = model or default_model()
    knobs = TINY_MODEL_KNOBS if model.startswith("tiny:") else None
    demo = build_app(model=model, knob_overrides=knobs,
                     setting_overrides={"num_inference_steps": steps} if steps else None)
    url = launch(demo, host="127.0.0.1", port=free_port(), block=False, quiet=True)
    try:
        report = capture(url, out, timeout=timeout, chromium=chromium)
    finally:
        demo.close()
    report.model = model
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mmcache.demos.screenshot", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/images/demo.png", help="PNG to write (default: docs/images/demo.png)")
    parser.add_argument("--model", default=None, help="model to show (default: toy-t2v, else tiny:wan2.1-t2v)")
    parser.add_argument("--chromium", default=None, help="Chromium executable (default: /usr/bin/chromium)")
    parser.add_argument("--steps", type=int, default=None, help="denoising steps (default: the model's)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the generation")
    args = parser.parse_args(argv)
    if not (args.chromium or find_chromium()):
        print("Chromium is not installed: apt-get install -y --no-install-recommends chromium", file=sys.stderr)
        return 2
    report = take_screenshot(args.out, args.model, args.chromium, args.timeout, args.steps)
    print(json.dumps(dataclasses.asdict(report), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
