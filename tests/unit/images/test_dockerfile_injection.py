"""Every value that reaches a Dockerfile is checked whole: a line break cannot add an
instruction. Each field gets an injected ``RUN`` line through the real `cjm-ctl`: a clear
SpecError, the engine never reached (nothing built, nothing ran). Then the last guard in the
renderer itself, for values that come round the spec models."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from cjm_docker.errors import SpecError
from cjm_docker.images.build import local_trees
from cjm_docker.images.render import render_plan
from cjm_docker.spec import load_plugins_file, resolve_plugins
from cjm_docker.spec.environment import EnvironmentSpec, Flavor

RUN = "\\nRUN touch /pwned"   # a YAML double-quoted escape: a real newline in the value
HERE = Path(__file__).resolve().parent


def entry(extra: str, name: str = "demo") -> str:
    text = f"plugins:\n  - name: {name}\n    package: ok-plugin\n"
    return text + "".join(f"    {line}\n" for line in extra.strip("\n").splitlines() if line)


CASES = {
    "name": (entry("", name=f'"demo{RUN}"'), "is not a usable name"),
    "name-trailing-newline": (entry("", name='"demo\\n"'), "is not a usable name"),
    "base_image": (entry(f'base_image: "python:3.11-slim{RUN}"'), "is not an image reference"),
    "base_image-trailing-newline": (entry('base_image: "python:3.11-slim\\n"'),
                                    "is not an image reference"),
    "base_image-option": (entry('base_image: "--platform=linux/arm64 python"'),
                          "is not an image reference"),
    "system_packages": (entry(f'system_packages: ["curl{RUN}"]'), "not a Debian package name"),
    "system_packages-trailing-newline": (entry('system_packages: ["curl\\n"]'),
                                         "not a Debian package name"),
    "build_args-key": (entry(f'build_args: {{"A{RUN}": "1"}}'), "not a valid variable name"),
    "build_args-key-trailing-newline": (entry('build_args: {"A\\n": "1"}'),
                                        "not a valid variable name"),
    "build_args-value": (entry(f'build_args: {{A: "1{RUN}"}}'), "line break"),
    "env-key": (entry('env: {"A\\n": "1"}'), "not a valid variable name"),
    "env-value": (entry(f'env: {{A: "1{RUN}"}}'), "line break"),
    "interface_libs": (entry(f'interface_libs: ["cjm-plugin-system{RUN}"]'), "control character"),
    "package": (f'plugins:\n  - name: demo\n    package: "ok-plugin{RUN}"\n', "control character"),
    "network": (entry('network: "bridge\\n"'), "not a network name"),
}
ENV_FILES = {
    "env_file-variable-key": 'variables: {"A\\nRUN touch /pwned": "1"}\n',
    "env_file-variable-value": f'variables: {{A: "1{RUN}"}}\n',
    "env_file-pip": f'dependencies:\n  - pip: ["numpy{RUN}"]\n',
    "env_file-conda": f'dependencies: ["numpy{RUN}"]\n',
}


@pytest.mark.parametrize("field", list(CASES) + list(ENV_FILES))
def test_an_injected_line_is_a_spec_error_and_nothing_is_built(field, workdir, cjm_ctl,
                                                               no_docker):
    if field in ENV_FILES:
        (workdir / "env.yml").write_text(ENV_FILES[field])
        text = entry("env_file: env.yml")
    else:
        text, _ = CASES[field]
    (workdir / "plugins.yaml").write_text(text)
    result = cjm_ctl("install-all", "--plugins", "plugins.yaml")
    message = " ".join(result.err.split())
    assert result.code != 0 and message.startswith("Error: "), result.text
    if field in CASES:
        assert CASES[field][1] in message, message
    assert "Traceback" not in result.text
    assert no_docker == []     # the engine was never reached: nothing was built or run
    manifests = workdir / "data" / "manifests"
    assert not manifests.exists() or not any(manifests.iterdir())


def _golden_spec():
    golden = HERE.parents[1] / "golden" / "plugins.yaml"
    return next(s for s in resolve_plugins(load_plugins_file(golden), default_python="3.11")
                if s.name == "golden-python")


@pytest.mark.parametrize("change", [
    {"base_image": "python:3.11\nRUN touch /pwned"},
    {"system_packages": ("curl\nRUN touch /pwned",)},
    {"build_args": (("A\nRUN touch /pwned", "1"),)},
    {"environment": EnvironmentSpec(source=None, variables=(("A", "1\nRUN touch /pwned"),))},
    {"name": "demo\rRUN"},
])
def test_the_renderer_refuses_a_line_break_whatever_let_it_through(change):
    from tests.unit.images.test_images_layers import LOCK, SETTINGS, _layers

    # the python flavor: its layer steps and rendered Dockerfile
    spec = dataclasses.replace(_golden_spec(), **change)
    with pytest.raises(SpecError, match="line break or control character"):
        _layers(spec, LOCK, SETTINGS)
    # the micromamba flavor: its one Dockerfile
    spec = dataclasses.replace(_golden_spec(), flavor=Flavor.MICROMAMBA, **change)
    with pytest.raises(SpecError, match="line break or control character"):
        render_plan(spec, SETTINGS, local_trees(spec))
