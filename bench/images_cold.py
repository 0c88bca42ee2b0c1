"""Measure the image side: cold build per example plugin, no-op install-all, code-only rebuild.

Usage: .venv/bin/python bench/images_cold.py   (needs the Python base: `cjm-ctl setup-runtime`)

"Cold" is a build that can reuse nothing of any earlier build: each plugin is installed with
``nocache`` (its shared worker runtime is built again, without Docker's build cache, and every
layer step runs) into private runtime and stack repositories, with the private package cache
emptied before each build; each plugin also gets a build arg of a fresh name.
Results go to stdout and to bench/out/images.json. Everything is made under private names and
removed at the end.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cjm_docker import labels
from cjm_docker.config import load_config
from cjm_docker.engine import Engine
from cjm_docker.images.build import ImageBuilder
from cjm_docker.spec.resolve import load_specs

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    engine = Engine()
    prefix = f"cjm-bench-{secrets.token_hex(3)}"
    root = Path(tempfile.mkdtemp(prefix="cjm-bench-"))
    results: dict[str, object] = {"prefix": prefix}
    try:
        shutil.copytree(REPO / "examples", root / "examples")
        nonce = f"COLD_{secrets.token_hex(6)}"
        text = (REPO / "plugins.yaml").read_text().replace(
            "    resources:", f"    build_args: {{{nonce}: '1'}}\n    resources:")
        (root / "plugins.yaml").write_text(text)
        (root / "cjm.yaml").write_text(
            f"data_dir: ./data\ndocker:\n  image_prefix: {prefix}\n"
            f"  runtime_repository: {prefix}-runtime\n  stack_repository: {prefix}-stack\n"
            f"  package_cache: {prefix}-cache\n")
        config = load_config(root / "cjm.yaml")
        file, specs = load_specs(root / "plugins.yaml")
        builder = ImageBuilder(config, engine=engine, plugin_names=file.names())
        cold = {}
        for spec in specs:
            engine.remove_volume(f"{prefix}-cache")   # an empty package cache for each
            result = builder.install(spec, nocache=True)
            cold[spec.name] = round(result.seconds, 1)
            print(f"cold build {spec.name}: {result.seconds:.1f} s")
        results["cold_build_s"] = cold

        started = time.perf_counter()
        run = subprocess.run([str(Path(sys.executable).with_name("cjm-ctl")), "--cjm-config",
                              str(root / "cjm.yaml"), "install-all", "--plugins",
                              str(root / "plugins.yaml")], capture_output=True, text=True)
        noop = time.perf_counter() - started
        assert run.returncode == 0 and "0 built" in run.stdout, run.stdout + run.stderr
        results["noop_install_all_s"] = round(noop, 2)
        print(f"no-op install-all (whole process): {noop:.2f} s")

        plugin_py = root / "examples/plugins/cjm-example-echo/cjm_example_echo/plugin.py"
        plugin_py.write_text(plugin_py.read_text() + f"\n# changed {time.time()}\n")
        file, specs = load_specs(root / "plugins.yaml", only=["echo"])
        warm = ImageBuilder(config, engine=engine, plugin_names=file.names()).install(specs[0])
        ratio = warm.seconds / cold["echo"]
        results["code_only_rebuild_s"] = round(warm.seconds, 1)
        results["code_only_ratio"] = round(ratio, 3)
        print(f"code-only rebuild of echo: {warm.seconds:.1f} s (ratio {ratio:.3f})")
    finally:
        for image in engine.list_images(label=labels.MANAGED):
            for tag in image.get("RepoTags") or []:
                if tag.startswith((f"{prefix}/", f"{prefix}-runtime/", f"{prefix}-stack/")):
                    engine.remove_image(tag, force=True)
        engine.remove_volume(f"{prefix}-cache")
        shutil.rmtree(root, ignore_errors=True)
    out = REPO / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "images.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
