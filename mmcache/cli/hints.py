"""Suggestions printed after a run, when a method's settings made it do nothing."""

from __future__ import annotations

from mmcache.stats import CacheStats

# What to change when a method computed every step by rule, per method; EasyCache's knobs otherwise.
RULE_KNOBS = {
    "ertacache": "a calibration made with a larger `mmcache calibrate --threshold` has more steps in its schedule",
    "schedule": "name the steps to reuse with --param reuse_steps=[...]",
}
DEFAULT_RULE_KNOB = "more --steps or a smaller --warmup-steps leave room for reuse"


def no_reuse_hint(stats: CacheStats) -> str | None:
    """When a threshold method reused nothing, say how close it came and which knob to turn.

    Returns ``None`` when something was reused (or nothing ran).
    """
    if stats.calls == 0 or stats.skipped:
        return None
    if stats.chunk_timeline:  # a chunk-level method decides per chunk, not per call
        if stats.chunk_counts.get("reused"):
            return None
        return ("note: no chunk was reused (the saving comes from chunks served by the KV cache alone); "
                "a larger --threshold reuses chunks, a larger --window-threshold whole iterations, at some cost in "
                "fidelity.")
    compared = [r for r in stats.timeline if r.metric is not None and r.threshold is not None]
    if not compared:
        reasons = ", ".join(sorted({record.reason for record in stats.timeline}))
        knob = RULE_KNOBS.get(stats.method, DEFAULT_RULE_KNOB)
        return f"note: nothing was reused: every step was computed by rule ({reasons}); {knob}."
    closest = min(compared, key=lambda record: record.metric)
    return (f"note: nothing was reused: the decision metric never fell below the threshold "
            f"({closest.threshold:g}); its smallest value was {closest.metric:.3g} (step {closest.step}, "
            f"{closest.branch}). A --threshold above that reuses steps, at some cost in fidelity; "
            f"more --steps also make consecutive outputs closer.")
