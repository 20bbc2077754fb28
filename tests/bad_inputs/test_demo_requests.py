"""Bad demo requests: through the app's endpoint in-process (Gradio's preprocessing included), against
a loaded tiny pipeline, and as method knobs."""

from __future__ import annotations

from typing import Any

import pytest

from mmcache.demos.knobs import KnobError, build_config
from mmcache.demos.validation import DemoInputError, check_request, check_request_for_model
from mmcache.pipelines.loader import load

from .table_demo_requests import KNOB_CASES, MODEL_CASES, REQUEST_CASES


class RefusingRunner:
    """Stands in for the comparison runner: a request that reaches it passed every check."""

    class outputs:  # noqa: N801  (the attribute the app reads)
        root = "."

    def run(self, *_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("the request passed the checks")


@pytest.fixture(scope="module")
def endpoint():
    gradio = pytest.importorskip("gradio")
    from mmcache.demos.app import API_NAME, build_app

    demo = build_app(model="tiny:wan2.1-t2v", runner=RefusingRunner())
    handler = next(fn for fn in demo.fns.values() if fn.api_name == API_NAME)
    names = list(handler.fn.__signature__.parameters)[:-1]
    defaults = dict(zip(names, (component.value for component in handler.inputs)))
    defaults.update(steps=2, height=16, width=16, frames=5)

    def call(overrides: dict[str, Any]) -> str:
        values = {**defaults, **overrides}
        with pytest.raises(gradio.Error) as refused:
            demo(*(values[name] for name in names), api_name=API_NAME)
        return str(refused.value.message)

    return call


@pytest.mark.parametrize("values, message", REQUEST_CASES)
def test_a_bad_request_is_refused_with_one_message(endpoint, values, message):
    text = endpoint(values)
    assert message in text and "\n" not in text and "Traceback" not in text


GOOD = {"prompt": "a red circle", "negative_prompt": "", "seed": 0, "steps": 2, "height": 16, "width": 16,
        "frames": 5, "guidance_scale": 5.0}


@pytest.mark.parametrize("values, message", MODEL_CASES)
def test_settings_the_model_cannot_take_are_refused(values, message):
    model = values.pop("model")
    name = "tiny:wan2.1-i2v" if model == "i2v-without-image" else model
    request = check_request(**{**GOOD, **values})
    with pytest.raises(DemoInputError) as refused:
        check_request_for_model(request, load(name), name)
    assert message in str(refused.value)


@pytest.mark.parametrize("method, values, message", KNOB_CASES)
def test_a_bad_knob_is_refused_by_name(method, values, message):
    with pytest.raises(KnobError) as refused:
        build_config(method, values)
    assert message in str(refused.value)
