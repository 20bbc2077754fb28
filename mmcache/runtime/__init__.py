"""Per-enable and per-run state: the controller, the denoising-loop tracker, timers, offload order."""
