"""What every API endpoint of the demo shares: parameters named for ``gradio_client``, and errors shown as messages."""

from __future__ import annotations

import contextlib
import inspect
import logging
from typing import Any, Callable, Iterator

import gradio as gr

from mmcache.errors import MMCacheError
from mmcache.pipelines.loader import ModelNotFoundError

from .knobs import KnobError
from .validation import DemoInputError

# errors whose message tells the user what to change; anything else is a failure of the demo
USER_ERRORS = (DemoInputError, KnobError, MMCacheError, ModelNotFoundError, ValueError)

logger = logging.getLogger(__name__)


def with_named_parameters(handler: Callable[[dict[str, Any], gr.Progress], Any], required: list[str],
                          optional: list[str]) -> Callable[..., Any]:
    """``handler(values_by_name, progress)`` as a function of positional parameters ``required``, then
    ``optional`` (default ``None``), then ``progress``.

    Gradio reads this signature to name the API parameters (optional ones may be left out by
    clients) and to know where to pass its progress tracker.
    """
    names = [*required, *optional]

    def call(*values: Any) -> Any:
        *given, progress = values
        return handler(dict(zip(names, given)), progress)

    positional = inspect.Parameter.POSITIONAL_OR_KEYWORD
    call.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
        *(inspect.Parameter(name, positional) for name in required),
        *(inspect.Parameter(name, positional, default=None) for name in optional),
        inspect.Parameter("progress", positional, default=gr.Progress()),
    ])
    call.__name__, call.__doc__ = handler.__name__, handler.__doc__
    return call


@contextlib.contextmanager
def errors_shown(action: str) -> Iterator[None]:
    """A user error becomes a ``gr.Error`` with its own message; anything else is logged and shown as
    ``"<action> failed: <type>: <message>"``, and the app keeps serving."""
    try:
        yield
    except USER_ERRORS as error:
        raise gr.Error(str(error), print_exception=False) from error
    except Exception as error:
        logger.exception("%s failed", action)
        raise gr.Error(f"{action} failed: {type(error).__name__}: {error}") from error
