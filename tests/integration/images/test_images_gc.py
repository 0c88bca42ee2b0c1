"""`cjm-ctl gc --images` on the real engine, and the layers plugins share.

The engine is shared with other sessions: every image here lives under a private prefix (plugin
images, runtime and stack repositories), the data-dir record is private (CJM_STATE_DIR), and gc
never runs without that configuration. A decoy tag under a neighbouring prefix proves the scope.
"""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from cjm_docker import config as config_module
from cjm_docker import labels
from cjm_docker.engine import Engine

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]


class Private:
    """A project whose every image lives under its own prefixes."""

    def __init__(self, root: Path, tag: str, engine: Engine) -> None:
        self.root, self.tag, self.engine = root, tag, engine
        self.spaces = (tag, f"{tag}-runtime", f"{tag}-stack")

    def echo(self, name: str) -> str:
        folder = self.root / name
        shutil.copytree(REPO / "examples" / "plugins" / "cjm-example-echo", folder)
        meta = folder / "cjm_example_echo" / "meta.py"
        meta.write_text(meta.read_text().replace('"cjm-example-echo"', f'"{name}"'))
        return f"./{name}"

    def tags(self) -> list[str]:
        return sorted(t for image in self.engine.list_images(label=f"{labels.MANAGED}=true")
                      for t in image.get("RepoTags") or [] if t.split("/")[0] in self.spaces)

    def manifest(self, name: str) -> dict:
        return json.loads((self.root / "data" / "manifests" / f"{name}.json").read_text())


@pytest.fixture
def private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: Engine,
            python_base: str) -> Iterator[Private]:
    tag = f"cjm-gctest-{secrets.token_hex(3)}"
    (tmp_path / "cjm.yaml").write_text(
        f"data_dir: ./data\ndocker:\n  image_prefix: {tag}\n  runtime_repository: {tag}-runtime\n"
        f"  stack_repository: {tag}-stack\n")
    monkeypatch.setenv("CJM_CONFIG", str(tmp_path / "cjm.yaml"))
    monkeypatch.setenv("CJM_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("CJM_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    config_module.reset_config()
    project = Private(tmp_path, tag, engine)
    yield project
    config_module.reset_config()
    for ref in project.tags() + [f"{tag}-decoy/runtime:1"]:
        engine.remove_image(ref, force=True)
    for image in engine.find_images(f"{labels.MANAGED}=true", dangling=True):
        if (image.get("Labels") or {}).get(labels.NAMESPACE) in project.spaces:
            engine.remove_image(image["Id"], force=True)


def test_trivial_plugins_share_all_but_their_code_and_gc_takes_only_the_unneeded(
        private: Private, cjm_ctl) -> None:
    plugins = private.root / "plugins.yaml"
    plugins.write_text("plugins:\n" + "".join(
        f"  - name: {n}\n    python_version: '3.11'\n    package: {private.echo(n)}\n"
        for n in ("gc-a", "gc-b")))
    assert cjm_ctl("install-all", "--plugins", str(plugins)).code == 0
    a, b = private.manifest("gc-a"), private.manifest("gc-b")
    # one runtime, shared; the lock is recorded whole
    assert a["shared_images"] == b["shared_images"] and len(a["shared_images"]) == 1
    runtime = a["shared_images"][0]
    assert runtime.startswith(f"{private.tag}-runtime/py3.11:")
    assert any(p.startswith("fastapi==") for p in a["lock"])
    label = private.engine.image_inspect(a["image"])["Config"]["Labels"][labels.LOCK]
    assert label.splitlines() == a["lock"]
    layers_a = private.engine.image_inspect(a["image"])["RootFS"]["Layers"]
    layers_b = private.engine.image_inspect(b["image"])["RootFS"]["Layers"]
    assert layers_a[:-1] == layers_b[:-1] and layers_a[-1] != layers_b[-1]  # only the code differs

    # a code change: the old tag is left behind; another data dir still names it
    old = a["image"]
    other = private.root / "other"
    (other / "manifests").mkdir(parents=True)
    (other / "manifests" / "gc-a.json").write_text(json.dumps(a))
    plugin_py = private.root / "gc-a" / "cjm_example_echo" / "plugin.py"
    plugin_py.write_text(plugin_py.read_text() + "\n# changed\n")
    assert cjm_ctl("install-all", "--plugins", str(plugins)).code == 0
    new = private.manifest("gc-a")["image"]
    assert new != old and old in private.tags()

    # a decoy under a neighbouring prefix, and a dangling layer of a failed install
    private.engine.tag_image(runtime, f"{private.tag}-decoy/runtime:1")
    broken = private.root / "broken"
    shutil.copytree(private.root / "gc-b", broken)
    (broken / "cjm_example_echo" / "meta.py").write_text("raise RuntimeError('no meta')\n")
    (private.root / "broken.yaml").write_text(
        "plugins:\n  - name: gc-broken\n    python_version: '3.11'\n    package: ./broken\n")
    assert cjm_ctl("install-all", "--plugins", str(private.root / "broken.yaml")).code == 1

    young = cjm_ctl("gc", "--images", "--dry-run")  # default grace: everything is too young
    assert young.code == 0 and old not in young.out, young.out
    kept = cjm_ctl("gc", "--images", "--dry-run", "--grace", "0", "--data-dir", str(other))
    assert kept.code == 0 and old not in kept.out, kept.out
    dry = cjm_ctl("gc", "--images", "--dry-run", "--grace", "0")
    assert dry.code == 0 and old in dry.out and "dangling" in dry.out, dry.out
    assert old in private.tags()   # a dry run removes nothing

    done = cjm_ctl("gc", "--images", "--grace", "0")
    assert done.code == 0, done.text
    assert private.tags() == sorted([new, b["image"], runtime])
    assert private.engine.image_exists(f"{private.tag}-decoy/runtime:1")  # not in scope
    dangling = [i for i in private.engine.find_images(f"{labels.MANAGED}=true", dangling=True)
                if (i.get("Labels") or {}).get(labels.NAMESPACE) in private.spaces]
    assert dangling == []
    # the plugins still run
    assert cjm_ctl("exec", "gc-a", "text=hi").code == 0
