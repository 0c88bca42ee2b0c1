"""The bad-input catalogue: every case fails through the real `cjm-ctl` entry point with a
clear message naming the file, plugin and key, exits non-zero, and leaves nothing behind.

"Nothing behind" here: the Docker engine was never reached (so no image, tag or container can
exist) and no manifest was written. Cases that need a real build (a failing pip install, a
plugin without meta.py, a missing base image) are in tests/integration/images/test_images_failures.py.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PKG_TOML = '[project]\nname = "ok-plugin"\ndependencies = []\n'


@dataclass(frozen=True)
class Case:
    id: str
    yaml: str | None                   # plugins.yaml text (None: no file)
    expect: tuple[str, ...]            # fragments the message must contain
    args: tuple[str, ...] = ("install-all", "--plugins", "plugins.yaml")
    files: dict[str, str] = field(default_factory=dict)
    plugin: str | None = None          # the plugin name the message must carry
    key: str | None = None             # the key the message must name


def entry(extra: str = "", name: str = "demo", package: str = "ok-plugin") -> str:
    text = f"plugins:\n  - name: {name}\n    package: {package}\n"
    return text + "".join(f"    {line}\n" for line in extra.strip("\n").splitlines() if line)


CASES = [
    Case("missing-file", None, ("plugins file not found",)),
    Case("malformed-yaml", "plugins: [ {name: x\n", ("not valid YAML",)),
    Case("top-level-list", "- name: x\n", ("must be a mapping with a 'plugins' list",)),
    Case("plugins-not-list", "plugins: 5\n", ("must be a list of plugin entries",), key="plugins"),
    Case("unknown-top-key", "plugin:\n  - name: x\n", ("unknown key (did you mean 'plugins'?)",),
         key="plugin"),
    Case("unknown-plugin-key", "plugins:\n  - name: demo\n    pakage: x\n    package: y\n",
         ("unknown key (did you mean 'package'?)",), plugin="demo", key="pakage"),
    Case("missing-package", "plugins:\n  - name: demo\n    env_name: x\n",
         ("required key 'package' is missing",), plugin="demo"),
    Case("missing-name", "plugins:\n  - package: x\n", ("required key 'name' is missing",),
         plugin="#1"),
    Case("duplicate-names", entry() + "  - name: Demo\n    package: other\n",
         ("share this name",), plugin="Demo", key="name"),
    Case("bad-name", entry(name="'bad name!'"), ("is not a usable name",), key="name"),
    Case("python-version-float", entry("python_version: 3.10"), ("quote the version",),
         plugin="demo", key="python_version"),
    Case("python-version-bad", entry("python_version: '2.7'"), ("not a Python 3 version",),
         plugin="demo", key="python_version"),
    Case("python-version-impossible", entry("python_version: '3.99'"),
         ("Python 3.99 is not a version plugins can run on", "choices: 3.8", "3.14"),
         plugin="demo", key="python_version"),
    Case("env-file-missing", entry("env_file: nope.yml"), ("does not exist", "nope.yml"),
         plugin="demo", key="env_file"),
    Case("env-file-unreachable-url", entry("env_file: http://127.0.0.1:9/environment.yml"),
         ("cannot fetch http://127.0.0.1:9/environment.yml",), plugin="demo", key="env_file"),
    Case("env-file-url-404", entry("env_file: {server}/missing.yml"), ("HTTP 404",),
         plugin="demo", key="env_file"),
    Case("env-spec-malformed", entry("env_file: env.yml"), ("not valid YAML", "env.yml"),
         files={"env.yml": "dependencies: [python=3.11\n"}, plugin="demo"),
    Case("env-spec-unknown-key", entry("env_file: env.yml"), ("unknown key(s) 'dependecies'",),
         files={"env.yml": "dependecies: [python=3.11]\n"}, plugin="demo"),
    Case("env-spec-deps-not-list", entry("env_file: env.yml"), ("must be a list",),
         files={"env.yml": "dependencies: numpy\n"}, plugin="demo", key="dependencies"),
    Case("env-spec-pip-not-list", entry("env_file: env.yml"), ("must be a list of strings",),
         files={"env.yml": "dependencies:\n  - pip: numpy\n"}, plugin="demo", key="dependencies.pip"),
    Case("conda-dep-on-python-flavor", entry("env_file: env.yml\nflavor: python"),
         ("conda-only dependencies (ffmpeg)", "cannot be installed by the python flavor"),
         files={"env.yml": "dependencies: [python=3.11, ffmpeg]\n"}, plugin="demo", key="env_file"),
    Case("python-version-contradicts-env", entry("env_file: env.yml\npython_version: '3.11'"),
         ("contradicts python=3.12",), files={"env.yml": "dependencies: [python=3.12]\n"},
         plugin="demo", key="python_version"),
    Case("bad-flavor", entry("flavor: conda"), ("'auto', 'python', 'rattler' or 'micromamba'",),
         plugin="demo", key="flavor"),
    Case("bad-memory", entry("resources: {memory: lots}"), ("is not a size",),
         plugin="demo", key="resources.memory"),
    Case("negative-cpus", entry("resources: {cpus: -1}"), ("greater than 0",),
         plugin="demo", key="resources.cpus"),
    Case("bad-gpu", entry("resources: {gpu: {count: 0}}"), ("greater than or equal to 1",),
         plugin="demo", key="resources.gpu.count"),
    Case("unknown-resource", entry("resources: {ram: 1g}"), ("unknown key",),
         plugin="demo", key="resources.ram"),
    Case("bad-network", entry("network: 'no such net!'"), ("not a network name",),
         plugin="demo", key="network"),
    Case("bad-volume-string", entry("volumes: ['/only-one-part']"),
         ("is not 'source:target'",), plugin="demo", key="volumes[0]"),
    Case("relative-volume-target", entry("volumes: [{source: /a, target: relative}]"),
         ("must be an absolute path",), plugin="demo", key="volumes[0].target"),
    Case("bad-env-name", entry("env: {1BAD: x}"), ("not a valid variable name",),
         plugin="demo", key="env"),
    Case("build-args-not-mapping", entry("build_args: [A=1]"), ("valid dictionary",),
         plugin="demo", key="build_args"),
    Case("bad-system-package", entry("system_packages: ['curl; rm -rf /']"),
         ("is not a Debian package name",), plugin="demo", key="system_packages"),
    Case("interface-libs-not-list", entry("interface_libs: cjm-plugin-system"),
         ("valid list",), plugin="demo", key="interface_libs"),
    Case("local-package-missing", entry(package="./no-such-dir"), ("does not exist",),
         plugin="demo", key="package"),
    Case("local-package-without-pyproject", entry(package="./bare"), ("has no pyproject.toml",),
         files={"bare/README": "x"}, plugin="demo", key="package"),
    Case("package-is-pip-option", entry(package="'--pre torch'"), ("is a pip option",),
         plugin="demo", key="package"),
    Case("package-bad-requirement", entry(package="'torch===>1'"), ("not a valid requirement",),
         plugin="demo", key="package"),
    Case("empty-package", entry(package="''"), ("at least 1 character",),
         plugin="demo", key="package"),
    Case("unknown-plugin-install", entry(), ("No plugin named 'ghost'", "Known: demo"),
         args=("install-all", "--plugins", "plugins.yaml", "-p", "ghost"), plugin="ghost"),
    Case("unknown-plugin-build", entry(), ("No plugin named 'ghost'", "Known: demo"),
         args=("build", "ghost", "--plugins", "plugins.yaml"), plugin="ghost"),
    Case("unknown-plugin-render", entry(), ("No plugin named 'ghost'",),
         args=("render", "ghost", "--plugins", "plugins.yaml"), plugin="ghost"),
    Case("unknown-plugin-remove", entry(), ("No plugin named 'ghost' is installed",),
         args=("remove", "ghost", "-y"), plugin="ghost"),
    Case("unknown-plugin-estimate", entry(), ("No plugin named 'ghost'",),
         args=("estimate-size", "--plugins", "plugins.yaml", "-p", "ghost"), plugin="ghost"),
    Case("bad-cjm-yaml", entry(), ("docker.bootstrap", "cjm.yaml"),
         files={"cjm.yaml": "docker:\n  bootstrap: sometimes\n"}),
]


@pytest.fixture(scope="module")
def http_server() -> Iterator[str]:
    """A local server that answers 404 to everything."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    server.RequestHandlerClass.log_message = lambda *a, **k: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/cjm-404"
    server.shutdown()


def test_the_catalogue_is_large_enough() -> None:
    assert len(CASES) >= 25
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, workdir: Path, cjm_ctl, no_docker, http_server: str) -> None:
    for rel, text in case.files.items():
        (workdir / rel).parent.mkdir(parents=True, exist_ok=True)
        (workdir / rel).write_text(text)
    if case.yaml is not None:
        (workdir / "plugins.yaml").write_text(case.yaml.replace("{server}", http_server))
    result = cjm_ctl(*case.args)
    message = " ".join(result.err.split())
    assert result.code != 0, result.text
    print(f"\n[{case.id}] {message}")
    assert message.startswith("Error: "), result.text
    for fragment in case.expect:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    if case.yaml is not None and case.args[0] != "remove" and "cjm.yaml" not in case.files:
        assert "plugins.yaml" in message  # the file is named
    if case.plugin:
        assert f"'{case.plugin}'" in message
    if case.key:
        assert f"key '{case.key}'" in message
    assert "Traceback" not in result.text  # one paragraph, no traceback without --debug
    # nothing left behind
    assert no_docker == [], "the engine was reached"
    manifests = workdir / "data" / "manifests"
    assert not manifests.exists() or not any(manifests.iterdir())


def test_debug_shows_the_traceback(workdir: Path, cjm_ctl) -> None:
    result = cjm_ctl("--debug", "install-all", "--plugins", "missing.yaml")
    assert result.code == 1 and "Traceback" in result.err and "plugins file not found" in result.err
