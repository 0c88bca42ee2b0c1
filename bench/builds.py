"""Measure the build side of issue 16 against its floor, in one run.

Usage: .venv/bin/python bench/builds.py [--plugins N]   (needs the Python base: setup-runtime)

Everything runs under private names (image prefix, runtime and stack repositories, and a fresh
package-cache volume), all removed at the end. Figures:

    cold build       echo, nothing reusable: runtime built without Docker's cache, empty cache
    second plugin    another trivial plugin on the same runtime       (goal: <= 0.3 x cold)
    N plugins disk   bytes of N trivial plugins / of one               (goal: <= 1.1)
    dep change       echo rebuilt after adding one small dependency   (goal: <= 0.3 x cold)
    stack disk       3 plugins on numpy/pandas/scipy, one small dependency each / one of them
                                                                     (goal: <= 1.3)
    env install      the first stack plugin's stack + deps steps, empty cache, vs the floor:
                     `uv pip install` with the steps' flags (--no-deps --compile-bytecode
                     --link-mode copy) of the same locked requirements into a host venv with an
                     empty cache. Interleaved: floor, install, floor, install again (every step
                     run anew, cache emptied), floor, ... (--rounds installs, default 3); the
                     median install over the median floor (goal: <= 1.3 x)
                     Also printed: each step's phases (create, run, commit; uv's own download,
                     install and compile timings within the run), the floor's uv timings, and
                     uv with its default flags (hardlinks, no bytecode) for reference.

Disk is measured exactly: the layer folders each image names (GraphDriver.Data, UpperDir and
LowerDir) that the base image does not, each counted once, summed with `du -sb` (root needed).
Results go to stdout and bench/out/builds.json.
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cjm_docker import labels
from cjm_docker.config import load_config
from cjm_docker.engine import BuildEvent, Engine
from cjm_docker.images.build import ImageBuilder
from cjm_docker.images.lock import uv_binary
from cjm_docker.images.steps import StepRunner
from cjm_docker.spec.resolve import PluginSpec, load_specs

REPO = Path(__file__).resolve().parents[1]
ECHO = REPO / "examples" / "plugins" / "cjm-example-echo"
STACK = ("numpy", "pandas", "scipy")
SMALL = ("tabulate", "six", "toolz")


UV_TIMING = re.compile(r"^\s*(Prepared|Installed|Bytecode compiled) \d+ \w+ in ([\d.]+)(ms|s)\b")
UV_PHASES = {"Prepared": "uv download+unpack", "Installed": "uv install",
             "Bytecode compiled": "uv compile"}


def uv_timings(lines: list[str]) -> dict[str, float]:
    """uv's own timings from its output (download+unpack, install, bytecode compile)."""
    out: dict[str, float] = {}
    for line in lines:
        match = UV_TIMING.match(line)
        if match:
            value = float(match[2]) / (1000 if match[3] == "ms" else 1)
            out[UV_PHASES[match[1]]] = out.get(UV_PHASES[match[1]], 0.0) + value
    return out


class StepClock:
    """Times each layer step, and each phase of it, from the build's progress events."""

    def __init__(self) -> None:
        self.marks: list[tuple[float, str]] = []
        self.output: dict[str, list[str]] = {}

    def start(self, plugin: str, action: str) -> None:
        self.marks = [(time.perf_counter(), "start")]
        self.output = {}

    def event(self, plugin: str, event: BuildEvent) -> None:
        if event.kind in ("step", "status"):
            self.marks.append((time.perf_counter(), event.text))
        elif event.kind == "output":
            self.output.setdefault(self.marks[-1][1].split(":")[0], []).append(event.text)

    def finish(self, plugin: str, ok: bool, text: str) -> None:
        self.marks.append((time.perf_counter(), "end"))

    def seconds(self, prefix: str) -> float:
        out = 0.0
        for (t0, text), (t1, _) in zip(self.marks, self.marks[1:], strict=False):
            if text.startswith(prefix):
                out += t1 - t0
        return out

    def phases(self, kind: str) -> dict[str, float]:
        """One step's seconds: create (and files), running (uv's own timings within), commit."""
        out: dict[str, float] = {}
        names = {"running": "run container", "committing": "commit"}
        for (t0, text), (t1, _) in zip(self.marks, self.marks[1:], strict=False):
            if text.startswith(f"{kind}:"):
                phase = names.get(text.split(":", 1)[1].strip(), "create")
                out[phase] = out.get(phase, 0.0) + t1 - t0
        out.update(uv_timings(self.output.get(kind, [])))
        return {k: round(v, 2) for k, v in out.items()}


def layer_dirs(engine: Engine, ref: str) -> set[str]:
    data = (engine.image_inspect(ref) or {}).get("GraphDriver", {}).get("Data") or {}
    dirs = {data.get("UpperDir", "")} | set((data.get("LowerDir") or "").split(":"))
    return {d for d in dirs if d}


def disk_bytes(engine: Engine, refs: list[str], base: str) -> int:
    """Bytes of every layer the images hold beyond the base's, each layer counted once."""
    dirs = set().union(*(layer_dirs(engine, r) for r in refs)) - layer_dirs(engine, base)
    if not dirs:
        return 0
    out = subprocess.run(["du", "-sb", "--", *sorted(dirs)], capture_output=True, text=True)
    return sum(int(line.split()[0]) for line in out.stdout.splitlines() if line.strip())


def echo_copy(root: Path, name: str) -> str:
    folder = root / name
    shutil.copytree(ECHO, folder)
    meta = folder / "cjm_example_echo" / "meta.py"
    meta.write_text(meta.read_text().replace('PLUGIN_NAME = "cjm-example-echo"',
                                             f'PLUGIN_NAME = "{name}"'))
    return f"./{name}"


FLOOR_FLAGS = ("--no-deps", "--compile-bytecode", "--link-mode", "copy")  # what the steps use


def floor_install(requirements: list[str], flags: tuple[str, ...] = FLOOR_FLAGS
                  ) -> tuple[float, dict[str, float]]:
    """uv into a fresh host venv with an empty cache: the best the same tool can do.

    Returns the seconds and uv's own timings.
    """
    with tempfile.TemporaryDirectory(prefix="cjm-floor-") as tmp:
        uv = uv_binary()
        subprocess.run([uv, "venv", "-q", f"{tmp}/venv", "--python", sys.executable], check=True)
        started = time.perf_counter()
        done = subprocess.run([uv, "pip", "install", "--python", f"{tmp}/venv/bin/python",
                               *flags, "--cache-dir", f"{tmp}/cache", *requirements],
                              check=True, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        return seconds, {k: round(v, 2) for k, v in uv_timings(done.stderr.splitlines()).items()}


def stack_requirements(builder: ImageBuilder, spec: PluginSpec) -> list[str]:
    """The plugin's locked pins that its stack and deps steps install (the runtime's left out)."""
    runtime = {c.split("==")[0] for c in builder.settings.worker_constraints}
    layers = builder.prepare(spec).layers
    assert layers is not None
    return [p.requirement for p in layers.lock.packages if not p.local and p.name not in runtime]


def env_again(builder: ImageBuilder, engine: Engine, clock: StepClock, spec: PluginSpec
              ) -> tuple[float, dict[str, dict[str, float]]]:
    """The plugin's steps once more, every one run (nocache) with an empty package cache: the
    environment's seconds (stack and deps steps) and their phases. The images it made are
    removed and the stack tag is given back to the first stack image (the other stack plugins
    must build on the one the first plugin's image holds)."""
    prepared = builder.prepare(spec)
    assert prepared.layers is not None and prepared.runtime_tag is not None
    assert prepared.stack_tag is not None
    first_stack = (engine.image_inspect(prepared.stack_tag) or {})["Id"]
    docker = builder.config.docker
    engine.remove_volume(docker.package_cache)
    runner = StepRunner(engine, work_root=builder.config.data_dir / "build",
                        package_cache=docker.package_cache,
                        stack_repository=docker.stack_repository, namespace=docker.image_prefix,
                        on_event=lambda event: clock.event(spec.name, event))
    clock.start(spec.name, "again")
    top = runner.build(prepared.layers, prepared.runtime_tag, plugin=spec.name, nocache=True)
    clock.finish(spec.name, True, "")
    engine.remove_image(top, force=True)
    made_stack = (engine.image_inspect(prepared.stack_tag) or {})["Id"]
    engine.tag_image(first_stack, prepared.stack_tag)
    engine.remove_image(made_stack, force=True)
    return (clock.seconds("stack:") + clock.seconds("deps:"),
            {kind: clock.phases(kind) for kind in ("stack", "deps")})


def trivial_figures(builder: ImageBuilder, engine: Engine, by_name: dict, root: Path, base: str,
                    count: int, results: dict[str, object]) -> None:
    """Cold build, second plugin, N plugins' disk, dependency-change rebuild."""
    cold = builder.install(by_name["echo-0"], nocache=True)
    results["cold_build_s"] = round(cold.seconds, 1)
    print(f"cold build (echo, runtime without cache, empty package cache): {cold.seconds:.1f} s")
    second = builder.install(by_name["echo-1"])
    results["second_plugin_s"] = round(second.seconds, 1)
    results["second_plugin_ratio"] = round(second.seconds / cold.seconds, 3)
    print(f"second trivial plugin: {second.seconds:.1f} s = {second.seconds / cold.seconds:.3f} x cold")
    tags = [cold.tag, second.tag]
    for i in range(2, count):
        tags.append(builder.install(by_name[f"echo-{i}"]).tag)
    one, many = disk_bytes(engine, tags[:1], base), disk_bytes(engine, tags, base)
    results.update(trivial_one_bytes=one, trivial_n_bytes=many, trivial_n=count,
                   trivial_n_ratio=round(many / one, 4))
    print(f"{count} trivial plugins: {many / 1e6:.1f} MB vs one {one / 1e6:.1f} MB "
          f"= {many / one:.3f} x")

    (root / "echo-0" / "pyproject.toml").write_text(
        (root / "echo-0" / "pyproject.toml").read_text().replace(
            "dependencies = []", 'dependencies = ["tabulate"]'))
    file, specs = load_specs(root / "plugins.yaml")
    dep = builder.install(next(s for s in specs if s.name == "echo-0"))
    results["dep_change_s"] = round(dep.seconds, 1)
    results["dep_change_ratio"] = round(dep.seconds / cold.seconds, 3)
    print(f"rebuild after adding one small dependency: {dep.seconds:.1f} s = "
          f"{dep.seconds / cold.seconds:.3f} x cold")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plugins", type=int, default=10, help="trivial plugins to build")
    parser.add_argument("--rounds", type=int, default=3,
                        help="cold environment installs, each between two floor runs")
    parser.add_argument("--stack-only", action="store_true",
                        help="only the stack figures (disk of 3 plugins, env install vs floor)")
    args = parser.parse_args()
    engine = Engine()
    tag = f"cjm-bench-{secrets.token_hex(3)}"
    root = Path(tempfile.mkdtemp(prefix="cjm-bench-builds-"))
    config_text = (f"data_dir: ./data\ndocker:\n  image_prefix: {tag}\n"
                   f"  runtime_repository: {tag}-runtime\n  stack_repository: {tag}-stack\n"
                   f"  package_cache: {tag}-cache\n")
    (root / "cjm.yaml").write_text(config_text)
    results: dict[str, object] = {"prefix": tag}
    clock = StepClock()
    try:
        config = load_config(root / "cjm.yaml")
        entries = [f"  - name: echo-{i}\n    python_version: '3.11'\n"
                   f"    package: {echo_copy(root, f'echo-{i}')}\n" for i in range(args.plugins)]
        stack_entries = []
        for i, small in enumerate(SMALL):
            (root / f"stack-{i}.yml").write_text(
                "dependencies:\n  - pip\n  - pip:\n" + "".join(f"    - {p}\n" for p in (*STACK, small)))
            stack_entries.append(f"  - name: stack-{i}\n    python_version: '3.11'\n"
                                 f"    env_file: stack-{i}.yml\n"
                                 f"    package: {echo_copy(root, f'stack-{i}')}\n")
        (root / "plugins.yaml").write_text("plugins:\n" + "".join(entries + stack_entries))
        file, specs = load_specs(root / "plugins.yaml")
        by_name = {s.name: s for s in specs}
        builder = ImageBuilder(config, engine=engine, reporter=clock, plugin_names=file.names())
        base = builder.prepare(by_name["echo-0"]).base_image

        if args.stack_only:
            builder.install(by_name["echo-0"], nocache=True)  # the runtime, without the cache
        else:
            trivial_figures(builder, engine, by_name, root, base, args.plugins, results)
        spec = by_name["stack-0"]
        requirements = stack_requirements(builder, spec)
        floors = [floor_install(requirements)]
        engine.remove_volume(f"{tag}-cache")  # the environment install starts empty
        first = builder.install(spec)
        rounds = [(clock.seconds("stack:") + clock.seconds("deps:"),
                   {kind: clock.phases(kind) for kind in ("stack", "deps")})]
        floors.append(floor_install(requirements))
        for _ in range(1, args.rounds):
            rounds.append(env_again(builder, engine, clock, spec))
            floors.append(floor_install(requirements))
        plain, _ = floor_install(requirements, ("--no-deps",))
        env_s = statistics.median(r[0] for r in rounds)
        floor = statistics.median(f[0] for f in floors)
        ratios = [r[0] / ((floors[i][0] + floors[i + 1][0]) / 2) for i, r in enumerate(rounds)]
        phases = {kind: {name: round(statistics.median(r[1][kind].get(name, 0.0) for r in rounds), 2)
                         for name in rounds[0][1][kind]} for kind in ("stack", "deps")}
        floor_phases = {name: round(statistics.median(f[1].get(name, 0.0) for f in floors), 2)
                        for name in floors[0][1]}
        results.update(env_install_s=round(env_s, 1), env_floor_s=round(floor, 1),
                       env_install_ratio=round(env_s / floor, 3),
                       env_rounds_s=[round(r[0], 1) for r in rounds],
                       env_floors_s=[round(f[0], 1) for f in floors],
                       env_round_ratios=[round(x, 3) for x in ratios],
                       env_plain_uv_s=round(plain, 1), env_plain_uv_ratio=round(env_s / plain, 3),
                       stack_first_build_s=round(first.seconds, 1),
                       env_install_phases=phases, env_floor_phases=floor_phases)
        print(f"cold environment install ({len(requirements)} packages), median of "
              f"{len(rounds)}: {env_s:.1f} s vs floor {floor:.1f} s (median of {len(floors)}, "
              f"run between them) = {env_s / floor:.3f} x; each round against the floors on "
              f"either side: {', '.join(f'{x:.2f}' for x in ratios)}")
        for kind, split in phases.items():
            print(f"  {kind} step: " + ", ".join(f"{k} {v:.1f} s" for k, v in split.items()))
        print("  floor: " + ", ".join(f"{k} {v:.1f} s" for k, v in floor_phases.items()))
        print(f"  uv with its default flags (hardlinks, no bytecode): {plain:.1f} s "
              f"= {env_s / plain:.3f} x")
        stack_tags = [first.tag] + [builder.install(by_name[f"stack-{i}"]).tag
                                    for i in range(1, len(SMALL))]
        one, three = disk_bytes(engine, stack_tags[:1], base), disk_bytes(engine, stack_tags, base)
        results.update(stack_one_bytes=one, stack_three_bytes=three,
                       stack_three_ratio=round(three / one, 4))
        print(f"3 plugins on {'/'.join(STACK)}: {three / 1e6:.1f} MB vs one {one / 1e6:.1f} MB "
              f"= {three / one:.3f} x")
    finally:
        for image in engine.list_images(label=f"{labels.MANAGED}=true"):
            for ref in image.get("RepoTags") or []:
                if ref.startswith((f"{tag}/", f"{tag}-runtime/", f"{tag}-stack/")):
                    engine.remove_image(ref, force=True)
        engine.remove_volume(f"{tag}-cache")
        shutil.rmtree(root, ignore_errors=True)
    out = REPO / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "builds.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
