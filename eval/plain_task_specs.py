"""Method specs of the tasks that compare methods with the plain model (``--task vqa``, ``--task image``).

``plain`` (the model without a method) always runs first and takes no parameters; the other specs must
name a registered method of the task (``task_methods``): a method of another task, ``baseline`` or an
unknown name is one error saying what the task takes. Fields are checked by the method's config.
"""

from __future__ import annotations

from typing import Any, Callable

from mmcache.errors import ConfigError
from mmcache.methods.spec import parse_method_spec

from .errors import EvalError
from .labels import method_label
from .method_spec import parse_spec
from .methods import BASELINE, EvalMethod
from .task_methods import methods_of_task, other_task_error

PLAIN = "plain"
PLAIN_METHOD = EvalMethod(PLAIN, PLAIN, "baseline", PLAIN, {})


def _refuse(name: str, spec: str, task: str, known: str, plain: str) -> EvalError:
    if name == BASELINE:
        return EvalError(f"{spec!r}: the {plain} always runs under --task {task} (as {PLAIN!r}); leave it out.")
    return other_task_error(name, spec, task, known) or EvalError(f"Unknown method {name!r} in {spec!r}; {known}.")


def parse_task_spec(spec: str, task: str, methods: str, plain: str,
                    check: Callable[[str, str, dict[str, Any]], None]) -> EvalMethod | None:
    """One spec of ``task`` (whose registered methods are ``methods``, e.g. "KV methods"), checked, and then
    ``check(spec, name, params)``; ``None`` for ``plain`` (the ``plain`` model, which runs anyway)."""
    name, params = parse_spec(spec)
    if name == PLAIN:
        if params:
            raise EvalError(f"{spec!r}: the {plain} takes no parameters.")
        return None
    if name not in methods_of_task(task):
        known = f"--task {task} takes {PLAIN} (always run) and the {methods} {', '.join(methods_of_task(task))}"
        raise _refuse(name, spec, task, known, plain)
    try:
        config = parse_method_spec(spec)
    except ConfigError as error:
        raise EvalError(f"{spec!r}: {error}") from error
    check(spec, name, params)
    full = {key: value for key, value in config.to_dict().items() if key != "method"}
    return EvalMethod(method_label(name, params), name, "mmcache", spec.strip(), full, config)
