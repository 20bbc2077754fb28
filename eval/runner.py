"""This process's share of the evaluation: prepare the peers, then run its pending items with a progress bar.

Under several processes the main one prepares first (e.g. calibrates MagCache) and the others
then read what it wrote.
"""

from __future__ import annotations

from typing import Any

from tqdm.auto import tqdm

from .distributed import ProcessInfo
from .generator import Generator, diffusers_errors_only
from .item_runner import ItemRunner
from .job import EvalJob, pending_work
from .metrics.suite import MetricSuite
from .peers import PEERS, PeerRuntime

__all__ = ["run_process", "prepare_peers"]


def prepare_peers(job: EvalJob, generator: Generator, process: ProcessInfo, labels: set[str]) -> dict[str, Any]:
    """Label → prepared parameters (or the exception that prevented preparing) of the peers in ``labels``."""
    def calibration_run(accelerator: Any) -> None:
        generator.generate(job.items[0], accelerator=accelerator)

    runtime = PeerRuntime(job.settings.model, job.settings.steps, job.store.calibration_dir, calibration_run,
                          may_compute=process.is_main)
    prepared: dict[str, Any] = {}
    for method in job.methods:
        if method.kind == "peer" and method.label in labels:
            try:
                prepared[method.label] = PEERS[method.name].prepare(method.params, runtime)
            except Exception as error:  # recorded per item as this method's failure
                prepared[method.label] = error
    return prepared


def run_process(job: EvalJob, process: ProcessInfo, generator: Generator, metrics: MetricSuite) -> int:
    """Evaluate this process's share of the items; returns the number of generations it ran."""
    work = pending_work(job, process.share(job.items))
    pending_labels = {method.label for methods in work.values() for method in methods}
    if process.is_main:  # the main process calibrates what any process will need, the others then read it
        everyone = pending_work(job, job.items) if process.count > 1 else work
        prepared = prepare_peers(job, generator, process, {m.label for methods in everyone.values() for m in methods})
        process.wait_for_everyone()
    else:
        process.wait_for_everyone()
        prepared = prepare_peers(job, generator, process, pending_labels)
    total = sum(len(methods) for methods in work.values())
    if not total:
        return 0
    generator.check(job.items[0])  # load now: a model that cannot load or run is one error, not one per item
    generator.warm_up(job.items[0], job.methods)
    runner = ItemRunner(job, generator, metrics, process, prepared)
    where = f" [process {process.index + 1}/{process.count}]" if process.count > 1 else ""
    with diffusers_errors_only(), tqdm(total=total, desc=f"mmcache eval{where}", unit="video",
                                       disable=not job.show_progress, dynamic_ncols=True) as bar:
        def advance(label: str) -> None:
            bar.set_postfix_str(label, refresh=False)
            bar.update(1)

        for item, methods in work.items():
            runner.run(item, methods, advance)
    return total
