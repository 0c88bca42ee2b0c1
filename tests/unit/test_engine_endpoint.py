"""The engine is the one the docker CLI would use: DOCKER_HOST, else DOCKER_CONTEXT, else the
config's currentContext (its meta.json endpoint and TLS folder), else the local socket."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cjm_docker.engine_endpoint import LOCAL_SOCKET, context_id, resolve_endpoint
from cjm_docker.errors import ConfigError


def make_context(config_dir: Path, name: str, host: str, *, skip_verify: bool = False,
                 tls: bool = False) -> None:
    meta = config_dir / "contexts" / "meta" / context_id(name)
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps({
        "Name": name, "Metadata": {},
        "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": skip_verify}}}))
    if tls:
        folder = config_dir / "contexts" / "tls" / context_id(name) / "docker"
        folder.mkdir(parents=True)
        for part in ("ca", "cert", "key"):
            (folder / f"{part}.pem").write_text("x")


def test_the_context_folder_is_the_sha256_of_the_name() -> None:
    # The docker CLI's own layout: ~/.docker/contexts/meta/<sha256(name)>/meta.json
    assert context_id("remote") == \
        "b71199ebd070b36beab7317920c2c2f1d777df8d05e5527d8458fda57cb17a7a"


def test_docker_host_wins(tmp_path: Path) -> None:
    make_context(tmp_path, "remote", "tcp://10.0.0.9:2376")
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "remote"}))
    found = resolve_endpoint({"DOCKER_HOST": "tcp://1.2.3.4:2375", "DOCKER_CONFIG": str(tmp_path),
                              "DOCKER_CONTEXT": "remote"})
    assert found.host == "tcp://1.2.3.4:2375" and found.source == "DOCKER_HOST"
    assert found.from_environment


def test_the_current_context_of_config_json(tmp_path: Path) -> None:
    make_context(tmp_path, "remote", "ssh://me@build-box", tls=True)
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "remote"}))
    found = resolve_endpoint({"DOCKER_CONFIG": str(tmp_path)})
    assert found.host == "ssh://me@build-box" and not found.from_environment
    assert "docker context 'remote'" in found.source and "config.json" in found.source
    assert found.tls_dir is not None and (found.tls_dir / "ca.pem").is_file()
    assert found.tls_verify


def test_docker_context_overrides_config_json(tmp_path: Path) -> None:
    make_context(tmp_path, "a", "tcp://a:2375")
    make_context(tmp_path, "b", "tcp://b:2375", skip_verify=True)
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "a"}))
    found = resolve_endpoint({"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "b"})
    assert found.host == "tcp://b:2375" and "DOCKER_CONTEXT" in found.source
    assert not found.tls_verify and found.tls_dir is None


def test_home_docker_is_the_default_config_dir(tmp_path: Path) -> None:
    make_context(tmp_path / ".docker", "remote", "tcp://r:2375")
    (tmp_path / ".docker" / "config.json").write_text(json.dumps({"currentContext": "remote"}))
    assert resolve_endpoint({"HOME": str(tmp_path)}).host == "tcp://r:2375"


@pytest.mark.parametrize("config", [None, {}, {"currentContext": "default"}, {"auths": {}}])
def test_no_context_or_the_default_one_is_the_local_socket(tmp_path: Path, config) -> None:
    if config is not None:
        (tmp_path / "config.json").write_text(json.dumps(config))
    found = resolve_endpoint({"DOCKER_CONFIG": str(tmp_path)})
    assert found.host == LOCAL_SOCKET and found.from_environment


def test_a_context_without_metadata_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_endpoint({"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "gone"})
    assert "docker context 'gone'" in str(info.value) and "docker context ls" in str(info.value)


def test_an_unreadable_config_json_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ConfigError, match="config.json"):
        resolve_endpoint({"DOCKER_CONFIG": str(tmp_path)})
