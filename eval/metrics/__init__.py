"""Per-video metrics: fidelity against the baseline, VBench's temporal flickering, proxies, adherence."""
