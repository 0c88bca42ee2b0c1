"""Base image aliases and where they come from."""

from __future__ import annotations

import pytest

from cjm_docker.config import DockerSettings
from cjm_docker.errors import BaseImageMissingError
from cjm_docker.images.bases import (
    MICROMAMBA_ALIAS,
    debian_suite,
    flavor_alias,
    pull_reference,
    python_alias,
)
from cjm_docker.spec import Flavor


def test_aliases() -> None:
    assert python_alias("3.11.4") == "cjm-docker/base-python:3.11"
    assert flavor_alias(Flavor.PYTHON, "3.13") == "cjm-docker/base-python:3.13"
    assert flavor_alias(Flavor.MICROMAMBA, "3.11") == MICROMAMBA_ALIAS


def test_pull_references_use_the_mirror() -> None:
    settings = DockerSettings(registry_mirror="mirror.local:5000/")
    assert pull_reference(settings, Flavor.PYTHON, "3.11.2") == \
        "mirror.local:5000/python:3.11-slim-bookworm"
    assert pull_reference(DockerSettings(), Flavor.MICROMAMBA) == \
        "mambaorg/micromamba:2.0.5-bookworm-slim"


def test_debian_suites() -> None:
    assert debian_suite("3.11") == "bookworm"
    assert debian_suite("3.13.1") == "trixie"
    with pytest.raises(BaseImageMissingError) as info:
        debian_suite("3.9")
    assert "No Debian release ships Python 3.9" in str(info.value)
    assert "cjm-docker/base-python:3.9" in str(info.value)
