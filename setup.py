"""Maps the top-level folders onto one import root, ``mmcache`` (see docs/ARCHITECTURE.md).

``pipelines/`` installs as ``mmcache.pipelines``, ``kernels/`` as ``mmcache.kernels``, ``eval/`` as
``mmcache.eval`` and ``demos/`` as ``mmcache.demos``; metadata lives in pyproject.toml.
"""

from setuptools import find_packages, setup

IMPORT_ROOTS = {
    "mmcache": "mmcache",
    "mmcache.pipelines": "pipelines",
    "mmcache.kernels": "kernels",
    "mmcache.eval": "eval",
    "mmcache.demos": "demos",
}

packages: list[str] = []
package_dir: dict[str, str] = {}
for package, folder in IMPORT_ROOTS.items():
    package_dir[package] = folder
    packages.append(package)
    packages += [f"{package}.{sub}" for sub in find_packages(folder)]

setup(
    packages=packages,
    package_dir=package_dir,
    package_data={
        "": ["*.json", "*.safetensors", "*.txt", "*.md", "*.css", "*.png"],
        # The bundled reference pipelines live in plain folders (no __init__.py) under toy/models (toy-vlm's
        # files at the top of its folder, the diffusers pipelines' in one folder per component).
        "mmcache.pipelines.toy": ["models/*/*.json", "models/*/*.safetensors", "models/*/*/*.json",
                                  "models/*/*/*.safetensors"],
    },
    include_package_data=True,
)
