"""Every GPU benchmark of ``mmcache.eval`` in one command: one JSON and one markdown table.

    python -m mmcache.eval.gpu_suite --out runs/gpu                  # one H100: at most 10 minutes
    python -m mmcache.eval.gpu_suite --only attention --out runs/gpu
    python -m mmcache.eval.gpu_suite --smoke --out runs/gpu-smoke    # tiny sizes on the CPU

Runs the entries of ``gpu_benchmarks.BENCHMARKS`` one after another, each in its own process
(with a time limit on the GPU, so the suite stays within 10 minutes: the limits add up to 600 s), and writes
``OUT/gpu_suite.json`` (machine, commands, and per benchmark: status, outcome, seconds, arguments,
result, the end of its log, and the error if any) and ``OUT/gpu_suite.md`` (ready to paste into
docs/BENCHMARKS.md), both atomically and after every benchmark; each benchmark's result and output go
to ``WORK/results/NAME.json`` and ``WORK/logs/NAME.log`` (``--work``, by default OUT). A report
already in OUT is merged into: a benchmark run again replaces only its own record. A benchmark
that fails, fails its checks or passes its time limit is recorded with whatever results it wrote,
and the rest still run; the exit code is then 1.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

from .bench_outputs import invocation
from .gpu_benchmarks import BENCHMARKS, GpuBenchmark, benchmark_names
from .gpu_suite_report import ReportMismatch, new_report, previous_report, record_benchmark, write_report

SMOKE_TIMEOUT_S = 300
LOG_TAIL_LINES = 60
LOG_LINE_CHARS = 400
# The child drops the working directory from its path: run from a checkout, the repository's
# ``kernels/`` folder would shadow the ``kernels`` package that transformers imports.
CHILD = ("import sys; sys.path = [p for p in sys.path if p not in ('', '.')]; "
         "from {module} import {function} as main; sys.exit(main(sys.argv[1:]))")


def machine() -> dict[str, Any]:
    """What ran the suite: GPU (or CPU), library versions."""
    import diffusers
    import torch

    import mmcache

    info = {"device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
            "cuda": torch.version.cuda, "torch": torch.__version__, "diffusers": diffusers.__version__,
            "mmcache": mmcache.__version__, "python": platform.python_version()}
    try:
        import triton

        info["triton"] = triton.__version__
    except ImportError:
        info["triton"] = None
    return info


def _stop(child: subprocess.Popen) -> None:
    """Kill the child's process group and wait for the child."""
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    child.wait()


@contextlib.contextmanager
def sigterm_as_exit() -> Iterator[None]:
    """SIGTERM raises SystemExit, so a benchmark's process group is stopped before the suite exits.

    The children run in their own sessions (a time limit must stop what they started): a plain
    SIGTERM would end the suite and leave them running, holding the GPU.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def exit_on_sigterm(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, exit_on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def child_environment(benchmark: GpuBenchmark, smoke: bool) -> dict[str, str]:
    """The child's environment: unbuffered output (a killed child's log keeps what it printed)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if smoke:
        env.setdefault("OMP_NUM_THREADS", "1")  # tiny sizes: one thread is as fast, and spares a shared machine
        if benchmark.triton_kernels:
            env["TRITON_INTERPRET"] = "1"
    else:
        env.pop("TRITON_INTERPRET", None)  # on a GPU the kernels must be compiled, not interpreted
    return env


def read_result(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """The JSON a benchmark wrote (None if none), and why it could not be read."""
    if not path.is_file():
        return None, None
    try:
        return json.loads(path.read_text()), None
    except ValueError as error:
        return None, f"unreadable result at {path}: {error}"


def outcome(code: int | None, result: dict[str, Any] | None, timeout: float,
            result_path: Path) -> tuple[str, str | None]:
    """``(outcome, error)``: ok, checks failed, timed out, crashed or no result."""
    complete = result is not None and not result.get("partial")
    if code is None:
        return "timed out", f"stopped after its time limit of {timeout:g} s"
    if code == 0:
        return ("ok", None) if complete else ("no result", f"exit code 0 but no whole result at {result_path}")
    if complete:  # it wrote its whole result, then reported failed checks
        return "checks failed", f"exit code {code}"
    return "crashed", f"exit code {code}"


def log_tail(log_path: Path) -> list[str]:
    lines = log_path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
    return [line[:LOG_LINE_CHARS] for line in lines]


def run_benchmark(benchmark: GpuBenchmark, out: Path, smoke: bool, work: Path | None = None) -> dict[str, Any]:
    """Run one entry in a child process; its record (status, outcome, seconds, arguments, result, log, error)."""
    work = work or out
    result_path = work / "results" / f"{benchmark.name}.json"
    log_path = work / "logs" / f"{benchmark.name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    result_path.parent.mkdir(parents=True, exist_ok=True)
    result_path.unlink(missing_ok=True)
    arguments = [*(benchmark.smoke_args if smoke else benchmark.gpu_args), "--out", str(result_path)]
    module, _, function = benchmark.main.partition(":")
    timeout = SMOKE_TIMEOUT_S if smoke else benchmark.gpu_timeout_s
    record: dict[str, Any] = {"summary": benchmark.summary, "arguments": arguments[:-2], "timeout_s": timeout,
                              "log": str(log_path.relative_to(out) if log_path.is_relative_to(out) else log_path)}
    start = time.perf_counter()
    with open(log_path, "w") as log:
        # its own process group, so a time limit (or Ctrl-C) also stops what it started (compile workers)
        child = subprocess.Popen([sys.executable, "-c", CHILD.format(module=module, function=function), *arguments],
                                 stdout=log, stderr=subprocess.STDOUT, env=child_environment(benchmark, smoke),
                                 start_new_session=True)
        try:
            code: int | None = child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _stop(child)
            code = None
        except BaseException:
            _stop(child)
            raise
    record["seconds"] = round(time.perf_counter() - start, 1)
    record["exit_code"] = code
    result, unreadable = read_result(result_path)
    record["outcome"], error = outcome(code, result, timeout, result_path)
    record["status"] = "ok" if record["outcome"] == "ok" else "failed"
    if result is not None:
        record["result"] = result
        record["partial"] = bool(result.get("partial"))
    if error is not None:
        record["error"] = error + (f"; {unreadable}" if unreadable else "")
    record["log_tail"] = log_tail(log_path)
    return record


def selected(only: str | None, parser: argparse.ArgumentParser) -> list[GpuBenchmark]:
    if only is None:
        return list(BENCHMARKS)
    names = [name.strip() for name in only.split(",") if name.strip()]
    unknown = [name for name in names if name not in benchmark_names()]
    if unknown or not names:
        parser.error(f"--only {only!r}: unknown benchmark(s) {unknown}; known: {', '.join(benchmark_names())}.")
    return [benchmark for benchmark in BENCHMARKS if benchmark.name in names]


def epilog() -> str:
    limits = ", ".join(f"{benchmark.name} {benchmark.gpu_timeout_s} s" for benchmark in BENCHMARKS)
    total = sum(benchmark.gpu_timeout_s for benchmark in BENCHMARKS)
    return f"""examples:
  python -m mmcache.eval.gpu_suite --out runs/gpu
  python -m mmcache.eval.gpu_suite --only core,attention,sparse-dit --out runs/gpu
  python -m mmcache.eval.gpu_suite --only vlm-prefill,var-kv,flowcache --out runs/gpu
  python -m mmcache.eval.gpu_suite --smoke --out runs/gpu-smoke

time limit of each entry on the GPU ({total} s in all):
  {limits}
Where one command may run at most 10 minutes, run the suite as the two calls above: the
limits add up to the whole 600 s.

A report already in OUT is merged into: the second call above adds its entries to the first's,
and an entry run again replaces only its own record (a smoke report and a GPU report are never
merged). With --work elsewhere, OUT holds only gpu_suite.json and gpu_suite.md; each record
keeps the last {LOG_TAIL_LINES} lines of its benchmark's log."""


def parse_arguments(argv: list[str] | None) -> tuple[argparse.Namespace, argparse.ArgumentParser]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=epilog(),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True,
                        help="folder for gpu_suite.json and gpu_suite.md (merged into if they exist)")
    parser.add_argument("--work", default=None,
                        help="folder for each benchmark's results/NAME.json and logs/NAME.log (default: OUT)")
    parser.add_argument("--only", default=None, help=f"comma-separated subset of: {', '.join(benchmark_names())}")
    parser.add_argument("--smoke", action="store_true", help="every entry at tiny sizes on the CPU (checks the suite)")
    return parser.parse_args(argv), parser


def main(argv: list[str] | None = None) -> int:
    args, parser = parse_arguments(argv)
    chosen = selected(args.only, parser)
    import torch

    if not args.smoke and not torch.cuda.is_available():
        print("gpu_suite needs a CUDA GPU; --smoke runs every benchmark at tiny sizes on the CPU instead.",
              file=sys.stderr)
        return 2
    out = Path(args.out)
    try:
        previous = previous_report(out, args.smoke)
    except ReportMismatch as error:
        parser.error(str(error))
    command = invocation("gpu_suite", argv)
    run = {"command": command, "machine": machine(),
           "started_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "seconds": 0.0}
    report = new_report(run, args.smoke, previous)
    start = time.perf_counter()
    failed = []
    with sigterm_as_exit():
        for index, benchmark in enumerate(chosen, 1):
            print(f"[{index}/{len(chosen)}] {benchmark.name} ...", end="", flush=True)
            record = run_benchmark(benchmark, out, args.smoke, Path(args.work) if args.work else None)
            record_benchmark(report, benchmark.name, record, round(time.perf_counter() - start, 1))
            write_report(out, report)
            if record["status"] != "ok":
                failed.append(benchmark.name)
            done = "ok" if record["status"] == "ok" else f"FAILED ({record['error']}; see {out / record['log']})"
            print(f" {done} in {record['seconds']:.0f} s", flush=True)
    print(f"wrote {out / 'gpu_suite.json'} and {out / 'gpu_suite.md'}"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
