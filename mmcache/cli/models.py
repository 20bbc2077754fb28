"""List the models `--model` accepts without a path (generators and video-QA models), the supported families
and the methods."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser


def run(args: argparse.Namespace) -> int:
    del args
    from mmcache.methods.base import registered_methods
    from mmcache.families.registry import families
    from mmcache.pipelines.loader import available_models, available_vlms, default_model

    print("models (also: any local diffusers folder or hub id):")
    for name in available_models():
        print(f"  {name}{'  (default)' if name == default_model() else ''}")
    print("video-QA models, for `mmcache ask` (also: a folder saved by its trainer):")
    for index, name in enumerate(available_vlms()):
        print(f"  {name}{'  (default)' if index == 0 else ''}")
    print("families:")
    for adapter in families().values():
        classes = getattr(adapter, "pipeline_classes", None) or getattr(adapter, "model_classes", ())
        print(f"  {adapter.name}: {', '.join(classes)}")
    print("methods: " + ", ".join(sorted(registered_methods())))
    return 0
