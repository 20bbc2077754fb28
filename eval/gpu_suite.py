"""Every GPU benchmark of ``mmcache.eval`` in one command: one JSON and one markdown table.

    python -m mmcache.eval.gpu_suite --out runs/gpu                  # one H100: at most 10 minutes
    python -m mmcache.eval.gpu_suite --only attention --out runs/gpu
    python -m mmcache.eval.gpu_suite --smoke --out runs/gpu-smoke    # tiny sizes on the CPU

Runs the entries of ``gpu_benchmarks.BENCHMARKS`` one after another, each in its own process
(with a time limit on the GPU, so the suite stays within 10 minutes: the limits add up to 600 s), and writes
``OUT/gpu_suite.json`` (machine, command, and per benchmark: status, seconds, arguments, result
or error) and ``OUT/gpu_suite.md`` (ready to paste into docs/BENCHMARKS.md), both atomically and
after every benchmark; each benchmark's output goes to ``OUT/logs/NAME.log``. A failing
benchmark is recorded and the rest still run; the exit code is then 1.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .gpu_benchmarks import BENCHMARKS, GpuBenchmark, benchmark_names, resolve, scalar_table

SMOKE_TIMEOUT_S = 300
ERROR_TAIL_LINES = 20
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


def run_benchmark(benchmark: GpuBenchmark, out: Path, smoke: bool) -> dict[str, Any]:
    """Run one entry in a child process; its record (status, seconds, arguments, result or error)."""
    result_path = out / "results" / f"{benchmark.name}.json"
    log_path = out / "logs" / f"{benchmark.name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    result_path.unlink(missing_ok=True)
    arguments = [*(benchmark.smoke_args if smoke else benchmark.gpu_args), "--out", str(result_path)]
    module, _, function = benchmark.main.partition(":")
    env = dict(os.environ)
    if smoke:
        env.setdefault("OMP_NUM_THREADS", "1")  # tiny sizes: one thread is as fast, and spares a shared machine
        if benchmark.triton_kernels:
            env["TRITON_INTERPRET"] = "1"
    timeout = SMOKE_TIMEOUT_S if smoke else benchmark.gpu_timeout_s
    record: dict[str, Any] = {"summary": benchmark.summary, "arguments": arguments[:-2], "timeout_s": timeout,
                              "log": str(log_path.relative_to(out))}
    start = time.perf_counter()
    with open(log_path, "w") as log:
        # its own process group, so a time limit (or Ctrl-C) also stops what it started (compile workers)
        child = subprocess.Popen([sys.executable, "-c", CHILD.format(module=module, function=function), *arguments],
                                 stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            code: int | None = child.wait(timeout=timeout)
            error = None if code == 0 else f"exit code {code}"
        except subprocess.TimeoutExpired:
            _stop(child)
            code, error = None, f"stopped after its time limit of {timeout} s"
        except BaseException:
            _stop(child)
            raise
    record["seconds"] = round(time.perf_counter() - start, 1)
    record["exit_code"] = code
    if error is None and not result_path.is_file():
        error = f"exit code 0 but no result at {result_path}"
    if error is None:
        import json

        record["result"] = json.loads(result_path.read_text())
    else:
        tail = log_path.read_text(errors="replace").splitlines()[-ERROR_TAIL_LINES:]
        record["error"] = error
        record["log_tail"] = tail
    record["status"] = "ok" if error is None else "failed"
    return record


def markdown(report: dict[str, Any]) -> str:
    """The suite's report as markdown: machine and command, then one section per benchmark."""
    info = report["machine"]
    smoke = " (smoke run: sizes too small to mean anything)" if report["smoke"] else ""
    lines = [f"Machine: {info['device']}, CUDA {info['cuda']}, torch {info['torch']}, triton {info['triton']}, "
             f"diffusers {info['diffusers']}{smoke}.",
             "", f"Command: `{report['command']}` ({report['seconds']:.0f} s)", ""]
    for benchmark in BENCHMARKS:
        record = report["benchmarks"].get(benchmark.name)
        if record is None:
            continue
        lines += [f"#### {benchmark.name}: {benchmark.summary}", "",
                  f"Arguments: `{' '.join(record['arguments'])}`, {record['seconds']:.0f} s.", ""]
        if record["status"] == "ok":
            render = resolve(benchmark.markdown) if benchmark.markdown else scalar_table
            lines += render(record["result"])
        else:
            lines += [f"**Failed**: {record['error']} (see `{record['log']}`)."]
        lines.append("")
    return "\n".join(lines)


def write_report(out: Path, report: dict[str, Any]) -> None:
    from mmcache.files import atomic_write_json, atomic_write_text

    atomic_write_json(out / "gpu_suite.json", report)
    atomic_write_text(out / "gpu_suite.md", markdown(report))


def selected(only: str | None, parser: argparse.ArgumentParser) -> list[GpuBenchmark]:
    if only is None:
        return list(BENCHMARKS)
    names = [name.strip() for name in only.split(",") if name.strip()]
    unknown = [name for name in names if name not in benchmark_names()]
    if unknown or not names:
        parser.error(f"--only {only!r}: unknown benchmark(s) {unknown}; known: {', '.join(benchmark_names())}.")
    return [benchmark for benchmark in BENCHMARKS if benchmark.name in names]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder for gpu_suite.json, gpu_suite.md, results/ and logs/")
    parser.add_argument("--only", default=None, help=f"comma-separated subset of: {', '.join(benchmark_names())}")
    parser.add_argument("--smoke", action="store_true", help="every entry at tiny sizes on the CPU (checks the suite)")
    args = parser.parse_args(argv)
    chosen = selected(args.only, parser)
    import torch

    if not args.smoke and not torch.cuda.is_available():
        print("gpu_suite needs a CUDA GPU; --smoke runs every benchmark at tiny sizes on the CPU instead.",
              file=sys.stderr)
        return 2
    out = Path(args.out)
    command = "python -m mmcache.eval.gpu_suite " + " ".join(argv if argv is not None else sys.argv[1:])
    report: dict[str, Any] = {
        "command": command, "smoke": args.smoke, "machine": machine(),
        "started_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "seconds": 0.0, "benchmarks": {},
    }
    start = time.perf_counter()
    for index, benchmark in enumerate(chosen, 1):
        print(f"[{index}/{len(chosen)}] {benchmark.name} ...", end="", flush=True)
        record = run_benchmark(benchmark, out, args.smoke)
        report["benchmarks"][benchmark.name] = record
        report["seconds"] = round(time.perf_counter() - start, 1)
        write_report(out, report)
        outcome = "ok" if record["status"] == "ok" else f"FAILED ({record['error']}; see {out / record['log']})"
        print(f" {outcome} in {record['seconds']:.0f} s", flush=True)
    failed = [name for name, record in report["benchmarks"].items() if record["status"] != "ok"]
    print(f"wrote {out / 'gpu_suite.json'} and {out / 'gpu_suite.md'}"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
