"""The Video QA tab: a clip and a question answered by a video-QA model with and without a KV method.

Its action is the API endpoint ``/video_qa``: parameters ``model``, ``clip`` ("caption" or "video file"),
``caption``, ``seed``, ``question``, ``method``, ``video`` (an upload) and one per knob of the KV methods, named
``<method>_<field>`` as in the generate tab. It returns the plain answer, the method's answer, the comparison
(Markdown), the kept-token heat map (PNG) and the numbers (JSON).
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from mmcache.methods.base import registered_methods
from mmcache.pipelines.vlm.questions import QUESTIONS

from .controls import knob_updates, method_panels, show_selected_panel
from .endpoints import errors_shown, with_named_parameters
from .knobs import build_config, initial_values, merge_uploads, method_knobs
from .video_qa import VideoQARunner
from .video_qa_checks import CLIP_SOURCES, check_clip, check_question_text, check_video_qa_model

API_NAME = "video_qa"
KV_METHOD_ORDER = ("zipvl", "prefixkv", "streamingllm", "snapkv", "pyramidkv")
DEFAULT_METHOD = "snapkv"  # selects per head and drops tokens: the heat map shows its choice
DEFAULT_CAPTION = "a red circle moving left on a black background"
PROGRESS_LABELS = {"loading": "loading the model", "plain model": "answering without the method",
                   "method": "answering with the method", "drawing": "drawing the kept tokens"}


def kv_methods() -> list[str]:
    """The registered KV methods (those a video-QA model takes), the known ones first in a fixed order."""
    kv = [name for name, config in registered_methods().items() if config.role == "kv"]
    return [name for name in KV_METHOD_ORDER if name in kv] + sorted(set(kv) - set(KV_METHOD_ORDER))


def video_qa_tab(models: list[str], model: str, runner: VideoQARunner,
                 knob_overrides: dict[str, dict[str, Any]] | None = None) -> None:
    """The tab's controls, outputs and ``/video_qa`` endpoint, built inside the caller's ``gr.Tab``."""
    methods = kv_methods()
    knobs = {name: method_knobs(name) for name in methods}
    values = {name: initial_values(name, model, (knob_overrides or {}).get(name)) for name in methods}
    gr.Markdown("A video-QA model answers a question about a clip, without a KV method (left) and with it (right). "
                "The heat map shows, for every visual token, the share of layers (and heads) whose KV cache kept it.")
    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            model_box = gr.Dropdown(models, value=model, label="model", allow_custom_value=True,
                                    info="a video-QA model, or the folder of one saved by mmcache.pipelines.vlm.train")
            clip_box = gr.Radio(list(CLIP_SOURCES), value=CLIP_SOURCES[0], label="clip")
            caption_box = gr.Textbox(DEFAULT_CAPTION, label="caption", info="rendered by the shapes world")
            seed_box = gr.Number(0, label="seed", step=1, info="position, speed and size of the rendered shape")
            video_box = gr.Video(label="video file", sources=["upload"], format=None)
            question_box = gr.Dropdown(list(QUESTIONS.values()), value=QUESTIONS["direction"], label="question",
                                       allow_custom_value=True, info="one of the trained questions, or type one")
            method_box = gr.Dropdown(methods, value=DEFAULT_METHOD, label="method")
            panels, knob_controls = method_panels(knobs, values, DEFAULT_METHOD)
            ask_button = gr.Button("Answer", variant="primary", elem_id="video-qa-button")
        with gr.Column(scale=2):
            with gr.Row():
                plain_box = gr.Textbox(label="plain model", interactive=False, elem_id="video-qa-plain")
                method_answer_box = gr.Textbox(label="with the method", interactive=False, elem_id="video-qa-method")
            summary_box = gr.Markdown(elem_id="video-qa-summary")
            heatmap_image = gr.Image(label="kept visual tokens per frame group", type="filepath", interactive=False,
                                     elem_id="video-qa-heatmap")
            with gr.Accordion("all numbers (JSON)", open=False):
                metrics_box = gr.JSON(label="metrics")

    request_inputs = {"model": model_box, "clip": clip_box, "caption": caption_box, "seed": seed_box,
                      "question": question_box, "method": method_box}
    optional_inputs = {"video": video_box, **knob_controls}  # no upload: no default value a client could send

    def video_qa(values: dict[str, Any], progress: gr.Progress) -> tuple:
        """Answer the question about the clip with and without the KV method, and show the kept tokens."""
        with errors_shown("Answering"):
            name = check_video_qa_model(values["model"], models)
            clip = check_clip(values["clip"], values["video"], values["caption"], values["seed"])
            question = check_question_text(values["question"])
            config = build_config(values["method"], merge_uploads({key: values[key] for key in knob_controls}))
            result = runner.run(name, clip, question, config,
                                lambda phase: progress(0.0, desc=PROGRESS_LABELS.get(phase, phase)))
        return (result.plain_answer, result.method_answer, result.summary, str(result.heatmap), result.metrics)

    ask_button.click(
        with_named_parameters(video_qa, list(request_inputs), list(optional_inputs)),
        inputs=[*request_inputs.values(), *optional_inputs.values()],
        outputs=[plain_box, method_answer_box, summary_box, heatmap_image, metrics_box],
        api_name=API_NAME,
    )
    show_selected_panel(method_box, panels)
    video_box.upload(lambda: CLIP_SOURCES[1], outputs=clip_box, queue=False, api_visibility="private")

    def model_changed(selected: str) -> list[Any]:
        fresh = {name: initial_values(name, selected, (knob_overrides or {}).get(name)) for name in methods}
        return list(knob_updates(knobs, fresh).values())

    value_controls = [knob_controls[name] for name in knob_updates(knobs, values)]
    model_box.change(model_changed, inputs=model_box, outputs=value_controls, queue=False, api_visibility="private")
