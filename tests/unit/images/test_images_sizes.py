"""estimate-size's package lookup: PEP 503 names (SG-37 fixed), pins honoured, local sources."""

from __future__ import annotations

from pathlib import Path

from cjm_docker.images.sizes import human_size, package_sizes
from cjm_docker.spec import load_plugins_file, resolve_plugins

REPO = Path(__file__).resolve().parents[3]


def test_lookups_use_normalized_names_and_pins(tmp_path: Path) -> None:
    (tmp_path / "env.yml").write_text("dependencies:\n  - pip:\n    - Some_Lib[x]>=2\n")
    (tmp_path / "plugins.yaml").write_text("""
plugins:
  - name: p
    env_file: env.yml
    package: cjm_graph_plugin_sqlite==0.0.2
    interface_libs:
      - cjm_plugin_system
      - git+https://github.com/cj-mills/cjm-graph-plugin-system.git
""")
    (spec,) = resolve_plugins(load_plugins_file(tmp_path / "plugins.yaml"))
    asked: list[tuple[str, str | None]] = []

    def lookup(name: str, version: str | None) -> int | None:
        asked.append((name, version))
        return None if name == "missing" else 1000

    sizes = package_sizes(spec, ["fastapi==0.110.0"], lookup)
    assert sorted(asked) == sorted([("fastapi", "0.110.0"), ("cjm-plugin-system", None),
                                    ("cjm-graph-plugin-system", None), ("some-lib", None),
                                    ("cjm-graph-plugin-sqlite", "0.0.2")])
    assert all(s.size_bytes == 1000 for s in sizes)
    assert any(s.note.startswith("VCS") for s in sizes)


def test_local_packages_count_their_sources() -> None:
    specs = {s.name: s for s in resolve_plugins(load_plugins_file(REPO / "plugins.yaml"))}
    (local,) = [s for s in package_sizes(specs["echo"], [], lambda n, v: 1) if s.note == "local source"]
    assert local.size_bytes and local.size_bytes > 1000


def test_human_size() -> None:
    assert human_size(512) == "512 B"
    assert human_size(1536) == "1.5 KB"
    assert human_size(3 * 1024**3) == "3.0 GB"
