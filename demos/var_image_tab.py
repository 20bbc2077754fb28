"""The Image (VAR) tab: a caption sampled by a next-scale-prediction model with its plain KV cache and with a
scale-KV method (HACK or a baseline), the images side by side, their costs and the tokens each head class kept.

Its action is the API endpoint ``/var_image``: parameters ``model``, ``caption``, ``seed``, ``num_images``,
``guidance_scale``, ``method`` and one per knob of the scale-KV methods, named ``<method>_<field>`` as in the
other tabs (file knobs also take ``<method>_<field>_upload``). It returns the plain-cache images (PNG), the
method's images (PNG), the comparison (Markdown), the kept-token picture (PNG) and the numbers (JSON).
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from mmcache.methods.base import registered_methods
from mmcache.pipelines.var.measure import call_settings

from .controls import knob_updates, method_panels, show_selected_panel
from .endpoints import errors_shown, with_named_parameters
from .knobs import build_config, initial_values, merge_uploads, method_knobs
from .var_image import VARImageRunner
from .var_image_checks import EXAMPLE_CAPTION, NUM_IMAGES_RANGE, check_image_request, check_var_model

API_NAME = "var_image"
SCALE_KV_ORDER = ("hack", "scaletopk", "recentscales", "scalekv")
DEFAULT_METHOD = "hack"
DEFAULT_GUIDANCE = 3.0  # VARPipeline's own default, for a model that stores none
PROGRESS_LABELS = {"loading": "loading the model", "calibrating": "classifying the heads (calibration)",
                   "warm-up": "warming up both caches", "timing": "timing the plain cache and the method",
                   "drawing": "drawing the kept tokens"}


def scale_kv_methods() -> list[str]:
    """The registered scale-KV methods (those a VAR model takes), the known ones first in a fixed order."""
    scale_kv = [name for name, config in registered_methods().items() if config.role == "scale_kv"]
    return [name for name in SCALE_KV_ORDER if name in scale_kv] + sorted(set(scale_kv) - set(SCALE_KV_ORDER))


def guidance_for(model: str) -> float:
    """The guidance scale stored with ``model``, or VARPipeline's default."""
    try:
        return float(call_settings(model).get("guidance_scale", DEFAULT_GUIDANCE))
    except (OSError, ValueError):
        return DEFAULT_GUIDANCE


def var_image_tab(models: list[str], model: str, runner: VARImageRunner,
                  knob_overrides: dict[str, dict[str, Any]] | None = None) -> None:
    """The tab's controls, outputs and ``/var_image`` endpoint, built inside the caller's ``gr.Tab``."""
    methods = scale_kv_methods()
    knobs = {name: method_knobs(name) for name in methods}

    def values_for(selected: str) -> dict[str, dict[str, Any]]:
        """Starting knob values; the calibration box starts empty, so a request uses the file of the model it
        names (shipped or made for it), never the one of the model the tab opened with."""
        values = {name: initial_values(name, selected, (knob_overrides or {}).get(name)) for name in methods}
        for name, fields in values.items():
            if "calibration" in fields and "calibration" not in (knob_overrides or {}).get(name, {}):
                fields["calibration"] = None
        return values

    values = values_for(model)
    gr.Markdown("A next-scale-prediction (VAR) model samples the caption scale by scale, with its plain KV cache "
                "(left) and with a scale-KV method (right). The picture shows, per block and head class, which "
                "tokens of the scales so far the heads keep after each scale.")
    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            model_box = gr.Dropdown(models, value=model, label="model", allow_custom_value=True,
                                    info="a VAR model, or the folder of a pipeline saved by VARPipeline")
            caption_box = gr.Textbox(EXAMPLE_CAPTION, label="caption", info="in the words the model knows")
            with gr.Row():
                seed_box = gr.Number(0, label="seed", step=1)
                count_box = gr.Number(2, label="number of images", step=1,
                                      info=f"{NUM_IMAGES_RANGE[0]} to {NUM_IMAGES_RANGE[1]}")
                guidance_box = gr.Number(guidance_for(model), label="guidance scale", info="1: no guidance")
            method_box = gr.Dropdown(methods, value=DEFAULT_METHOD, label="method")
            panels, knob_controls = method_panels(knobs, values, DEFAULT_METHOD)
            gr.Markdown("HACK and ScaleKV read a head calibration: left empty, the model's shipped one is used, "
                        "or the model is calibrated once on a few training captions.")
            run_button = gr.Button("Sample", variant="primary", elem_id="var-image-button")
        with gr.Column(scale=2):
            with gr.Row():
                plain_image = gr.Image(label="plain KV cache", type="filepath", interactive=False,
                                       elem_id="var-image-plain")
                method_image = gr.Image(label="with the method", type="filepath", interactive=False,
                                        elem_id="var-image-method")
            summary_box = gr.Markdown(elem_id="var-image-summary")
            kept_image = gr.Image(label="kept tokens per block, head class and scale", type="filepath",
                                  interactive=False, elem_id="var-image-kept")
            with gr.Accordion("all numbers (JSON)", open=False):
                metrics_box = gr.JSON(label="metrics")

    request_inputs = {"model": model_box, "caption": caption_box, "seed": seed_box, "num_images": count_box,
                      "guidance_scale": guidance_box, "method": method_box}

    def var_image(values: dict[str, Any], progress: gr.Progress) -> tuple:
        """Sample the caption with the plain KV cache and with the scale-KV method, and show the kept tokens."""
        with errors_shown("Sampling"):
            name = check_var_model(values["model"], models)
            request = check_image_request(values["caption"], values["seed"], values["num_images"],
                                          values["guidance_scale"])
            config = build_config(values["method"], merge_uploads({key: values[key] for key in knob_controls}))
            result = runner.run(name, request, config,
                                lambda phase: progress(0.0, desc=PROGRESS_LABELS.get(phase, phase)))
        return (str(result.plain_images), str(result.method_images), result.summary, str(result.kept_picture),
                result.metrics)

    run_button.click(
        with_named_parameters(var_image, list(request_inputs), list(knob_controls)),
        inputs=[*request_inputs.values(), *knob_controls.values()],
        outputs=[plain_image, method_image, summary_box, kept_image, metrics_box],
        api_name=API_NAME,
    )
    show_selected_panel(method_box, panels)

    def model_changed(selected: str) -> list[Any]:
        return [guidance_for(selected), *knob_updates(knobs, values_for(selected)).values()]

    value_controls = [knob_controls[name] for name in knob_updates(knobs, values)]
    model_box.change(model_changed, inputs=model_box, outputs=[guidance_box, *value_controls], queue=False,
                     api_visibility="private")
