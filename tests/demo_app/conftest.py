"""A demo server shared by the demo tests: launched once on 127.0.0.1 on a free port, in this process."""

from __future__ import annotations

import dataclasses
from typing import Any, Iterator

import pytest
import torch


@dataclasses.dataclass
class DemoServer:
    url: str
    model: str
    demo: Any
    settings: dict[str, Any]  # request fields that keep each run small

    def client(self, download_dir: Any) -> Any:
        from gradio_client import Client

        return Client(self.url, verbose=False, analytics_enabled=False, download_files=str(download_dir))


def small_settings(model: str) -> dict[str, Any]:
    """A few steps and frames at the model's own frame size: fast, yet long enough for reuse decisions."""
    from mmcache.demos.app import model_settings

    settings = model_settings(model)
    return {"steps": min(8, settings["num_inference_steps"]), "height": settings["height"],
            "width": settings["width"], "frames": min(5, settings["num_frames"])}


# Knob values that make EasyCache reuse some steps in 8 steps on either default model.
TEST_KNOBS = {"easycache_threshold": 0.5, "easycache_warmup_steps": 1}


@pytest.fixture(scope="package")
def demo_server() -> Iterator[DemoServer]:
    pytest.importorskip("gradio")
    pytest.importorskip("gradio_client")
    from mmcache.demos.app import build_app, launch
    from mmcache.demos.screenshot import free_port
    from mmcache.pipelines.loader import default_model

    # The tiny models are dominated by per-op overhead; two OpenMP threads on two shared cores
    # make them several times slower and their timings erratic.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    model = default_model()
    demo = build_app(model=model, knob_overrides={"easycache": {"threshold": 0.5, "warmup_steps": 1}})
    url = launch(demo, host="127.0.0.1", port=free_port(), block=False, quiet=True)
    try:
        yield DemoServer(url, model, demo, small_settings(model))
    finally:
        demo.close()
        torch.set_num_threads(threads)


@pytest.fixture()
def client(demo_server: DemoServer, tmp_path: Any) -> Any:
    return demo_server.client(tmp_path)
