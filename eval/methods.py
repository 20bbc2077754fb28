"""The methods of one evaluation: the baseline, mmcache methods and peers, parsed from ``--methods``.

mmcache methods are the ones ``mmcache.methods.base.registered_methods()`` knows (a newly added
method works here unchanged) except the KV methods of the other tasks, refused in one error naming
``--task vqa`` or ``--task image`` (``task_methods``); peers are listed in ``mmcache.eval.peers.PEERS``.
The uncached ``baseline`` is always evaluated first.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
from typing import Any, Callable, Literal

from mmcache.methods.base import MethodConfig, behaviour_identity, registered_methods
from mmcache.methods.spec import parse_method_spec
from mmcache.errors import ConfigError

from .errors import EvalError
from .labels import method_label, short_hash
from .method_spec import parse_spec, split_method_list
from .peers import PEERS
from .task_methods import methods_of_task, other_task_error

BASELINE = "baseline"
Kind = Literal["baseline", "mmcache", "peer"]


@dataclasses.dataclass(frozen=True)
class EvalMethod:
    """One evaluated method. ``params`` are the checked parameters as given (mmcache: the full config)."""

    label: str
    name: str
    kind: Kind
    spec: str
    params: dict[str, Any]
    config: MethodConfig | None = None

    def describe(self) -> dict[str, Any]:
        """JSON form recorded in results."""
        return {"label": self.label, "name": self.name, "kind": self.kind, "spec": self.spec,
                "params": _jsonable(self.params)}

    @functools.cached_property
    def fingerprint(self) -> str:
        """Changes when the method would behave differently (parameters, a file a parameter names, or the
        config class's ``behaviour_version``).

        Computed once per run (files named by parameters are read then)."""
        identity = {"name": self.name, "params": _jsonable(self.params), "files": _file_digests(self.params),
                    **behaviour_identity(self.config)}
        canonical = json.dumps(identity, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


BASELINE_METHOD = EvalMethod(BASELINE, BASELINE, "baseline", BASELINE, {})


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _file_digests(params: dict[str, Any]) -> dict[str, str]:
    """sha256 of every parameter that names an existing file (e.g. ``calibration=c.json``)."""
    digests = {}
    for key, value in params.items():
        if isinstance(value, str) and os.path.isfile(value):
            with open(value, "rb") as file:
                digests[key] = hashlib.sha256(file.read()).hexdigest()
    return digests


def known_method_names() -> list[str]:
    """Every name ``--methods`` accepts (peers whose package is missing are marked)."""
    peers = [name + (" (not installed)" if peer.unavailable_reason() else "") for name, peer in PEERS.items()]
    return [BASELINE, *methods_of_task("video"), *peers]


def _parse_one(spec: str) -> EvalMethod | None:
    name, params = parse_spec(spec)
    if name == BASELINE:
        if params:
            raise EvalError(f"{spec!r}: the baseline takes no parameters.")
        return None
    refused = other_task_error(name, spec, "video", f"--task video takes {', '.join(known_method_names())}")
    if refused is not None:
        raise refused
    if name in registered_methods():
        try:
            config = parse_method_spec(spec)
        except ConfigError as error:
            raise EvalError(f"{spec!r}: {error}") from error
        full = {key: value for key, value in config.to_dict().items() if key != "method"}
        return EvalMethod(method_label(name, params), name, "mmcache", spec.strip(), full, config)
    if name in PEERS:
        checked = PEERS[name].check_params(params)
        return EvalMethod(method_label(name, params), name, "peer", spec.strip(), checked)
    raise EvalError(f"Unknown method {name!r} in {spec!r}; known methods: {', '.join(known_method_names())}.")


def resolve_methods(texts: list[str], parse_one: Callable[[str], EvalMethod | None] = _parse_one,
                    first: EvalMethod = BASELINE_METHOD) -> list[EvalMethod]:
    """``first`` (the baseline), then each method of ``texts`` (each a comma-separated list of specs), in order.

    ``parse_one`` turns one spec into a method (``None``: the baseline, which runs anyway)."""
    methods = [first]
    seen: dict[str, str] = {}
    for text in texts:
        for spec in split_method_list(text):
            method = parse_one(spec)
            if method is None:
                continue
            identity = json.dumps({"name": method.name, "params": _jsonable(method.params)}, sort_keys=True)
            if identity in seen:
                raise EvalError(f"Method {spec!r} is the same as {seen[identity]!r}; give each method once.")
            seen[identity] = spec
            if any(other.label == method.label for other in methods):
                method = dataclasses.replace(method, label=f"{method.label}-{short_hash(identity)}")
            methods.append(method)
    return methods
