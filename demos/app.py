"""The Gradio app: in each tab, controls on the left and the plain and accelerated results side by side on the right.

``build_app`` makes the ``gr.Blocks`` (nothing is loaded until the first request); ``launch``
serves it on a local address, offline: analytics off, no share link, no server-side rendering.
Three tabs: "Generate" (a video generator with and without a cache method), "Video QA" (a video-QA model
with and without a KV method, ``video_qa_tab.py``) and "Image (VAR)" (a next-scale-prediction image model with
its plain KV cache and with a scale-KV method, ``var_image_tab.py``). The generate action is the API endpoint
``/generate``, the Video QA one ``/video_qa``, the Image (VAR) one ``/var_image``; their knob parameters are
named ``<method>_<field>`` (e.g. ``easycache_threshold``), so ``gradio_client`` can drive them by name.
"""

from __future__ import annotations

import os

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # no telemetry anywhere in gradio (import-time checks included)

from typing import Any  # noqa: E402

import gradio as gr  # noqa: E402

from mmcache.pipelines.loader import (  # noqa: E402
    available_models,
    available_var_models,
    available_vlms,
    default_model,
    generation_defaults,
    load,
)

from .compare import ComparisonRunner  # noqa: E402
from .controls import knob_updates, method_panels, show_selected_panel  # noqa: E402
from .endpoints import errors_shown, with_named_parameters  # noqa: E402
from .knobs import all_knobs, build_config, initial_values, merge_uploads  # noqa: E402
from .state import ModelCache  # noqa: E402
from .validation import check_model_name, check_request  # noqa: E402
from .var_image import VARImageRunner  # noqa: E402
from .var_image_tab import var_image_tab  # noqa: E402
from .video_qa import VideoQARunner  # noqa: E402
from .video_qa_tab import video_qa_tab  # noqa: E402

API_NAME = "generate"
DEFAULT_PROMPT = "a red circle moving left on a black background"
# Used where a model stores no mmcache_defaults.json: small enough to run anywhere.
FALLBACK_SETTINGS = {"num_inference_steps": 30, "height": 256, "width": 256, "num_frames": 17, "guidance_scale": 5.0}
PROGRESS_LABELS = {"loading": "loading the model", "warm-up": "warming up", "baseline": "baseline (uncached)",
                   "accelerated": "accelerated", "writing": "writing videos and plot"}


def model_settings(model: str) -> dict[str, Any]:
    """Steps, size, frames and guidance to start from for ``model``."""
    try:
        stored = generation_defaults(model)
    except (OSError, ValueError):
        stored = {}
    return {**FALLBACK_SETTINGS, **{key: value for key, value in stored.items() if key in FALLBACK_SETTINGS}}


def _progress_reporter(progress: gr.Progress):
    def report(phase: str, done: int, total: int) -> None:
        label = PROGRESS_LABELS.get(phase, phase)
        if phase in ("baseline", "accelerated") and total:
            progress((done, total), desc=label, unit="steps")
        else:
            progress(0.0, desc=label)

    return report


def build_app(model: str | None = None, device: str | None = None, dtype: str | None = None,
              method: str = "easycache", knob_overrides: dict[str, dict[str, Any]] | None = None,
              setting_overrides: dict[str, Any] | None = None, runner: ComparisonRunner | None = None,
              video_qa_model: str | None = None, video_qa_runner: VideoQARunner | None = None,
              var_image_model: str | None = None, var_image_runner: VARImageRunner | None = None) -> gr.Blocks:
    """The demo as a ``gr.Blocks`` with its queue set up (one request per action at a time; others wait).

    ``model`` is the initially selected model (default: ``default_model()``); the dropdown also
    lists the bundled and tiny models, and accepts the path of a local diffusers folder.
    ``knob_overrides`` (method → field → value) replaces the starting values of method knobs and
    ``setting_overrides`` those of ``num_inference_steps``, ``height``, ``width``, ``num_frames``,
    ``guidance_scale``. ``video_qa_model`` is the model first selected in the Video QA tab (default:
    ``toy-vlm``, or ``tiny:vlm`` without its weights) and ``var_image_model`` the one first selected in the Image
    (VAR) tab (default: ``toy-var``, or ``tiny:var`` without its weights).
    """
    model = model or default_model()
    video_models = [name for name in available_models() if name not in available_var_models()]
    model_choices = list(dict.fromkeys([model, *video_models]))
    video_qa_model = video_qa_model or available_vlms()[0]
    video_qa_choices = list(dict.fromkeys([video_qa_model, *available_vlms()]))
    var_image_model = var_image_model or available_var_models()[0]
    var_image_choices = list(dict.fromkeys([var_image_model, *available_var_models()]))
    knobs = all_knobs()
    if method not in knobs:
        raise ValueError(f"Unknown method {method!r}; registered: {sorted(knobs)}.")
    runner = runner or ComparisonRunner(ModelCache(lambda name: load(name, device=device, dtype=dtype)))
    video_qa_runner = video_qa_runner or VideoQARunner(ModelCache(lambda name: load(name, device=device,
                                                                                   dtype=dtype)))
    var_image_runner = var_image_runner or VARImageRunner(ModelCache(lambda name: load(name, device=device,
                                                                                      dtype=dtype)))

    def knob_values_for(name: str) -> dict[str, dict[str, Any]]:
        return {m: initial_values(m, name, (knob_overrides or {}).get(m)) for m in knobs}

    settings = {**model_settings(model), **(setting_overrides or {})}
    with gr.Blocks(title="mmcache demo", analytics_enabled=False) as demo:
        gr.Markdown("# mmcache: baseline vs accelerated")
        with gr.Tab("Generate", id="generate"):
            gr.Markdown("The same prompt and seed are generated without a cache (left) and with the chosen cache "
                        "method (right). The baseline of a setting is kept, so moving a method knob re-runs only "
                        "the accelerated side.")
            with gr.Row():
                with gr.Column(scale=1, min_width=320):
                    model_box = gr.Dropdown(model_choices, value=model, label="model", allow_custom_value=True,
                                            info="a bundled or tiny model, or the path of a local diffusers "
                                                 "folder")
                    method_box = gr.Dropdown(list(knobs), value=method, label="method")
                    panels, knob_controls = method_panels(knobs, knob_values_for(model), method)
                    prompt_box = gr.Textbox(DEFAULT_PROMPT, label="prompt", lines=2)
                    negative_box = gr.Textbox("", label="negative prompt")
                    with gr.Row():
                        # whole numbers without Gradio's precision=0, which rounds 2.5 to 2 before the check
                        seed_box = gr.Number(0, label="seed", step=1)
                        steps_box = gr.Number(settings["num_inference_steps"], label="steps", step=1)
                        guidance_box = gr.Number(settings["guidance_scale"], label="guidance scale")
                    with gr.Row():
                        height_box = gr.Number(settings["height"], label="height", step=1)
                        width_box = gr.Number(settings["width"], label="width", step=1)
                        frames_box = gr.Number(settings["num_frames"], label="frames", step=1)
                    run_button = gr.Button("Generate", variant="primary", elem_id="generate-button")
                with gr.Column(scale=2):
                    with gr.Row():
                        baseline_video = gr.Video(label="baseline (no cache)", format="mp4", interactive=False,
                                                  autoplay=True, loop=True, elem_id="baseline-video")
                        accelerated_video = gr.Video(label="accelerated", format="mp4", interactive=False,
                                                     autoplay=True, loop=True, elem_id="accelerated-video")
                    summary_box = gr.Markdown(elem_id="summary")
                    timeline_image = gr.Image(label="per-step timeline", show_label=False, type="filepath",
                                              interactive=False, elem_id="timeline")
                    with gr.Accordion("all numbers (JSON)", open=False):
                        metrics_box = gr.JSON(label="metrics")

            request_inputs = {"model": model_box, "method": method_box, "prompt": prompt_box,
                              "negative_prompt": negative_box, "seed": seed_box, "steps": steps_box,
                              "height": height_box, "width": width_box, "frames": frames_box,
                              "guidance_scale": guidance_box}

            def generate(values: dict[str, Any], progress: gr.Progress) -> tuple:
                """Generate the baseline and the accelerated video and compare them."""
                knob_values = {name: values[name] for name in knob_controls}
                with errors_shown("Generation"):
                    name = check_model_name(values["model"], model_choices)
                    request = check_request(values["prompt"], values["negative_prompt"], values["seed"],
                                            values["steps"], values["height"], values["width"], values["frames"],
                                            values["guidance_scale"])
                    config = build_config(values["method"], merge_uploads(knob_values))
                    result = runner.run(name, request, config, _progress_reporter(progress))
                return (str(result.baseline_video), str(result.accelerated_video), result.summary,
                        str(result.timeline_plot), result.metrics)

            run_button.click(
                with_named_parameters(generate, list(request_inputs), list(knob_controls)),
                inputs=[*request_inputs.values(), *knob_controls.values()],
                outputs=[baseline_video, accelerated_video, summary_box, timeline_image, metrics_box],
                api_name=API_NAME,
            )

            show_selected_panel(method_box, panels)

            value_controls = [knob_controls[name] for name in knob_updates(knobs, knob_values_for(model))]

            def model_changed(selected: str) -> list[Any]:
                fresh = model_settings(selected)
                return [fresh["num_inference_steps"], fresh["guidance_scale"], fresh["height"], fresh["width"],
                        fresh["num_frames"], *knob_updates(knobs, knob_values_for(selected)).values()]

            model_box.change(model_changed, inputs=model_box,
                             outputs=[steps_box, guidance_box, height_box, width_box, frames_box, *value_controls],
                             queue=False, api_visibility="private")
        with gr.Tab("Video QA", id="video-qa"):
            video_qa_tab(video_qa_choices, video_qa_model, video_qa_runner, knob_overrides)
        with gr.Tab("Image (VAR)", id="var-image"):
            var_image_tab(var_image_choices, var_image_model, var_image_runner, knob_overrides)
    demo.queue(default_concurrency_limit=1, max_size=64)
    demo.mmcache_runner = runner  # type: ignore[attr-defined]
    demo.mmcache_video_qa_runner = video_qa_runner  # type: ignore[attr-defined]
    demo.mmcache_var_image_runner = var_image_runner  # type: ignore[attr-defined]
    return demo


def launch(demo: gr.Blocks, host: str = "127.0.0.1", port: int | None = None, block: bool = True,
           quiet: bool = False) -> str:
    """Serve ``demo`` on ``http://host:port`` (port ``None``: the first free one from 7860).

    ``block=False`` returns at once with the server running in a background thread (close it with
    ``demo.close()``); otherwise this returns when the server stops (Ctrl-C). Returns the local URL.
    """
    runners = [getattr(demo, name, None)
               for name in ("mmcache_runner", "mmcache_video_qa_runner", "mmcache_var_image_runner")]
    allowed = [str(runner.outputs.root) for runner in runners if runner is not None] or None
    _, url, _ = demo.launch(server_name=host, server_port=port, share=False, prevent_thread_lock=not block,
                            quiet=quiet, ssr_mode=False, pwa=False, mcp_server=False, allowed_paths=allowed,
                            show_error=True, footer_links=["api", "settings"])
    return url
