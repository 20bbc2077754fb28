"""KV methods on a video-QA model, side by side: accuracy, agreement with the plain model, KV kept, bytes, FLOPs, time.

Every held-out clip (``mmcache.pipelines.vlm.data.evaluation_set``) is asked the four questions,
one greedy answer at a time, by the plain model and by every method, all in one process: PrefixKV
(calibrated once per budget on clips of the training captions), StreamingLLM, SnapKV and PyramidKV
at each ``--budgets`` (the fraction of the prompt's KV kept), and ZipVL at each ``--zipvl-taus``
(its own knob: the share of attention mass kept; its measured kept fraction is reported). Per row:
exact-match accuracy, agreement with the plain model's answers, the prompt's KV kept (tokens kept
over prompt tokens, all layers), KV bytes held over the plain cache's at the end of the answer,
prefill attention FLOPs computed (scoring passes included) over the dense prefill's (from
``KVStats``), and the CPU wall time of the answers and of their prefill over the plain model's,
measured in the same loop (median over clips; rough on a shared machine). Results resume: each
(clip, method) run is stored as it finishes (``OUT/runs/*.json``), and a rerun only does what is
missing or was made with another model or config.

    python -m mmcache.eval.bench_vlm_kv --model toy-vlm --clips 50 --out runs/vlm_kv
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mmcache.files import atomic_write_json

from .bench_outputs import invocation, write_outputs

from .vlm_answers import answer_clip, clip_examples, summarize
from .stored_runs import config_identity
from .vlm_kv_methods import ZIPVL_CACHES, file_label, method_grid, prefixkv_calibrations


def markdown(summary: dict[str, dict[str, Any]], command: str, clips: int, calibration_clips: int) -> str:
    lines = [f"Command: `{command}`", "",
             f"{clips} held-out clips × 4 questions; PrefixKV calibrated on {calibration_clips} clips of training "
             "captions × 4 questions.", "",
             "| method | accuracy | agreement with plain | prompt KV kept | ZipVL important tokens | KV bytes held / full "
             "| prefill attention FLOPs computed / dense | answer time vs plain (median) | prefill time vs plain "
             "(median) | items |", "|---|---|---|---|---|---|---|---|---|---|"]
    for label, row in summary.items():
        important = "—" if row["important"] is None else f"{row['important']:.1%}"
        lines.append(f"| {label} | {row['accuracy']:.1%} | {row['agreement']:.1%} | {row['prompt_kept']:.1%} | "
                     f"{important} | {row['kv_bytes']:.3f} | {row['flops']:.3f} | {row['time']:.2f}× | "
                     f"{row['prefill_time']:.2f}× | {row['items']} |")
    return "\n".join(lines) + "\n"


def stored_run(file: Path, model: str, identity: Any) -> dict[str, Any] | None:
    """The stored run, if it was made with this model and config."""
    if not file.is_file():
        return None
    run = json.loads(file.read_text())
    return run if run.get("model") == model and run.get("config") == identity else None


def _unit_share(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{text} is not in (0, 1]")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from mmcache.pipelines.loader import ModelNotFoundError, is_vision_language, model_source

    parser = argparse.ArgumentParser(prog="python -m mmcache.eval.bench_vlm_kv", description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="toy-vlm", help="a video-QA model: toy-vlm, tiny:vlm or a folder saved by "
                                                           "`python -m mmcache.pipelines.vlm.train`")
    parser.add_argument("--clips", type=int, default=50, help="held-out clips, each asked the four questions")
    parser.add_argument("--budgets", type=_unit_share, nargs="+", default=[0.5, 0.25, 0.1],
                        help="fractions of the prompt's KV kept, in (0, 1], for PrefixKV, StreamingLLM, SnapKV and "
                             "PyramidKV (1 keeps everything: a check that agrees with the plain model)")
    parser.add_argument("--zipvl-taus", type=_unit_share, nargs="+", default=[0.9, 0.95, 0.975],
                        help="ZipVL's shares of attention mass kept, in (0, 1] (its kept fraction is measured)")
    parser.add_argument("--zipvl-cache", choices=list(ZIPVL_CACHES), nargs="+", default=list(ZIPVL_CACHES),
                        help="ZipVL's cache: drop (v2: unimportant tokens dropped) and/or quantize (v1: 4/2-bit)")
    parser.add_argument("--calibration-clips", type=int, default=16,
                        help="clips of the training captions (each asked the four questions) PrefixKV is calibrated "
                             "on, once per budget")
    parser.add_argument("--out", type=Path, required=True,
                        help="folder of vlm_kv.md, results.json, runs/ (one file per clip and method) and calibration/")
    parser.add_argument("--quiet", action="store_true", help="no per-run progress lines")
    args = parser.parse_args(argv)
    if min(args.clips, args.calibration_clips) < 1:
        parser.error("--clips and --calibration-clips must be at least 1")
    try:
        model_source(args.model)
    except ModelNotFoundError as error:
        parser.error(str(error))
    if not is_vision_language(args.model):
        parser.error(f"--model {args.model} is not a video-QA model (toy-vlm, tiny:vlm or a folder saved by the "
                     "VLM trainer)")
    args.budgets = list(dict.fromkeys(args.budgets))
    args.zipvl_taus = list(dict.fromkeys(args.zipvl_taus))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    from mmcache.families.registry import resolve_vlm
    from mmcache.pipelines import load
    from mmcache.pipelines.vlm.data import evaluation_set
    pipe = load(args.model, device="cpu")
    frames, size = pipe.processor.num_frames, pipe.processor.size
    examples = evaluation_set(args.clips, frames, size, "held_out")
    calibration_set = evaluation_set(args.calibration_clips, frames, size, "train")
    calibrations = prefixkv_calibrations(pipe, args.model, args.budgets, calibration_set,
                                         args.out / "calibration", args.quiet)
    head_dim = int(resolve_vlm(pipe.model).attention_modules[0].head_dim)
    grid = method_grid(args.budgets, args.zipvl_taus, args.zipvl_cache, head_dim, calibrations)
    identities = {label: config_identity(config) for label, config in grid.items()}
    store = args.out / "runs"
    rows: dict[str, list[dict[str, Any]]] = {label: [] for label in grid}
    warmed = False
    for clip in range(args.clips):
        asked = clip_examples(examples, clip)
        clip_frames, caption, questions = asked.frames[0], asked.captions[0], asked.questions
        files = {label: store / f"{clip:04d}-{file_label(label)}.json" for label in grid}
        found = {label: stored_run(files[label], args.model, identities[label]) for label in grid}
        if all(run is not None for run in found.values()):
            for label in grid:
                rows[label].append(found[label])
            continue
        if not warmed:  # the first generate of a process pays one-off costs
            answer_clip(pipe, clip_frames, questions[:1], None)
            warmed = True
        plain = answer_clip(pipe, clip_frames, questions, None)
        for label, config in grid.items():
            run = found[label]
            if run is None:
                answered = plain if config is None else answer_clip(pipe, clip_frames, questions, config)
                run = {"model": args.model, "clip": clip, "caption": caption, "label": label,
                       "config": identities[label], **answered, "plain_seconds": plain["seconds"],
                       "plain_prefill_seconds": plain["prefill_seconds"]}
                atomic_write_json(files[label], run)
                if not args.quiet:
                    print(f"clip {clip + 1}/{args.clips}, {label}: {' '.join(run['answers'])}", file=sys.stderr)
            rows[label].append(run)
    summary = {label: summarize(found, rows["plain"], examples) for label, found in rows.items()}
    command = invocation("bench_vlm_kv", argv)
    write_outputs(args.out, "results.json", {
        "command": command, "model": args.model, "clips": args.clips, "calibration_clips": args.calibration_clips,
        "calibrations": {f"{budget:g}": None if path is None else path.name for budget, path in calibrations.items()},
        "summary": summary}, "vlm_kv.md", markdown(summary, command, args.clips, args.calibration_clips))
    return 0


if __name__ == "__main__":
    sys.exit(main())
