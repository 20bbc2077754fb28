"""`mmcache demo`: start-up flags, refused before Gradio starts serving. A row's ``{port}`` is a port
another socket listens on during the case."""

from __future__ import annotations

from .cases import BAD_INPUT, USAGE, cli

DEMO_CLI_CASES = [
    cli("port-too-large", "--port 70000", USAGE, "argument --port: expects a whole number from 1 to 65535"),
    cli("port-zero", "--port 0", USAGE, "argument --port"),
    cli("port-text", "--port http", USAGE, "argument --port"),
    cli("dtype-unknown", "--dtype half", USAGE, "argument --dtype: invalid choice"),
    cli("port-busy", "--port {port}", BAD_INPUT, "is in use on 127.0.0.1; choose another port"),
    cli("model-unknown", "--model bogus", BAD_INPUT, "--model: Unknown model 'bogus'"),
    cli("model-tiny-unknown", "--model tiny:nope", BAD_INPUT, "Unknown model 'tiny:nope'"),
    cli("model-folder-not-pipeline", "--model {tmp}", BAD_INPUT, "is a folder but not a diffusers pipeline"),
    cli("method-unknown", "--method magic", BAD_INPUT, "--method 'magic' is not a cache method"),
    cli("host-unknown", "--host nonexistent.invalid", BAD_INPUT, "--host 'nonexistent.invalid' is not a host name"),
    cli("host-not-local", "--host 192.0.2.1 --port 7999", BAD_INPUT, "--host '192.0.2.1' cannot be listened on"),
    cli("device-missing", "--device cuda:99", BAD_INPUT, "--device cuda:99"),
]
