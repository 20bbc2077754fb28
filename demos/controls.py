"""Gradio controls for method knobs: one panel per method, shown when that method is selected."""

from __future__ import annotations

from typing import Any

import gradio as gr

from .knobs import THRESHOLD_SLIDER_MAX, TRI_STATE, UPLOAD_SUFFIX, Knob, display_value


def knob_controls(knob: Knob, value: Any) -> dict[str, gr.components.Component]:
    """The control(s) of one knob, keyed by API parameter name (a file knob has a path box and an upload)."""
    shown = display_value(knob, value)
    common = {"label": knob.label, "info": knob.help or None}
    if knob.kind == "threshold":
        top = max(THRESHOLD_SLIDER_MAX, 2 * float(shown or 0))
        return {knob.name: gr.Slider(0.0, top, value=float(shown), step=0.005, **common)}
    if knob.kind == "float":
        return {knob.name: gr.Number(value=shown, **common)}
    if knob.kind == "int":  # no precision: Gradio would round 2.5 to 2 before the knob's check sees it
        return {knob.name: gr.Number(value=shown, step=1, **common)}
    if knob.kind == "bool":
        return {knob.name: gr.Checkbox(value=bool(shown), **common)}
    if knob.kind == "optional_bool":
        return {knob.name: gr.Radio(list(TRI_STATE), value=shown, **common)}
    if knob.kind == "int_list":
        return {knob.name: gr.Textbox(value=shown, placeholder="step indices, e.g. 2, 4, 6", **common)}
    if knob.kind == "float_list":
        return {knob.name: gr.Textbox(value=shown, placeholder="numbers, e.g. 1.0, -0.5", **common)}
    if knob.kind == "file":
        return {
            knob.name + UPLOAD_SUFFIX: gr.File(label=f"{knob.label} file (upload)", file_count="single",
                                               type="filepath", height=90),
            knob.name: gr.Textbox(value=shown, label=f"{knob.label} file (or a path on the server)",
                                  info=knob.help or None, placeholder="path/to/file"),
        }
    return {knob.name: gr.Textbox(value=shown, **common)}


def method_panels(knobs: dict[str, list[Knob]], values: dict[str, dict[str, Any]],
                  selected: str) -> tuple[dict[str, gr.Group], dict[str, gr.components.Component]]:
    """One group of controls per method (only ``selected`` visible) and every control by parameter name."""
    panels: dict[str, gr.Group] = {}
    controls: dict[str, gr.components.Component] = {}
    for method, method_knobs in knobs.items():
        with gr.Group(visible=method == selected) as panel:
            for knob in method_knobs:
                controls.update(knob_controls(knob, values[method][knob.field]))
        panels[method] = panel
    return panels, controls


def knob_updates(knobs: dict[str, list[Knob]], values: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """New shown values for every non-upload control, e.g. after the model changed (new presets)."""
    return {knob.name: display_value(knob, values[method][knob.field])
            for method, method_knobs in knobs.items() for knob in method_knobs}


def show_selected_panel(method_box: gr.Dropdown, panels: dict[str, gr.Group]) -> None:
    """When ``method_box`` changes, only the chosen method's panel of knobs is shown (a UI event, not in the API)."""
    method_box.change(lambda selected: [gr.Group(visible=name == selected) for name in panels], inputs=method_box,
                      outputs=list(panels.values()), queue=False, api_visibility="private")
