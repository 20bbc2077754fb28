"""The hook engine: adapters, run tracking, the diffusers hook and enable/disable."""
