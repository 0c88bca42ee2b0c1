"""A real engine reached over tcp:// at a non-loopback address is treated as remote.

The engine is this machine's own, reached through a small forwarder listening on the Docker
bridge's gateway address (reachable from this host and its containers only) and accepting only
connections from this host's own addresses, so the Docker API is never open to anyone else. To
cjm-docker it is an engine at ``tcp://172.17.0.1:<port>``: `doctor` says so, and loading a
plugin is refused before anything is created, pointing to attach mode.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
from collections.abc import Iterator

import pytest

from cjm_docker import labels
from cjm_docker.config import CjmConfig
from cjm_docker.diagnostics import Status, check_engine_kind
from cjm_docker.engine import Engine
from cjm_docker.engine_kind import EngineKind, profile_of
from cjm_docker.errors import EngineError
from cjm_docker.host.proxy import RemotePluginProxy

DOCKER_SOCKET = "/var/run/docker.sock"


def _pump(src: socket.socket, dst: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := src.recv(65536):
            dst.sendall(data)
    for s in (src, dst):
        with contextlib.suppress(OSError):
            s.shutdown(socket.SHUT_RDWR)


def _is_this_host(ip: str) -> bool:
    """True when ``ip`` is one of this host's own addresses (only those can be bound)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((ip, 0))
        return True
    except OSError:
        return False


@contextlib.contextmanager
def forwarder(address: str) -> Iterator[int]:
    """tcp://address:<port> -> the local Docker socket, for connections from this host only."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind((address, 0))
    server.listen(8)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                client, peer = server.accept()
            except OSError:
                return
            if not _is_this_host(peer[0]):   # only this host itself
                client.close()
                continue
            engine = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            engine.connect(DOCKER_SOCKET)
            for a, b in ((client, engine), (engine, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        server.close()


def _bridge_address(engine) -> str | None:
    """The Docker bridge's address on this host (its gateway; 20.10 reports only the subnet)."""
    for config in (engine.api.inspect_network("bridge").get("IPAM") or {}).get("Config") or []:
        if config.get("Gateway"):
            return config["Gateway"]
        if config.get("Subnet"):
            return str(next(ipaddress.ip_network(config["Subnet"]).hosts()))
    return None


@pytest.fixture
def remote_engine(engine, monkeypatch):
    address = _bridge_address(engine)
    try:
        context = forwarder(address) if address else None
        port = context.__enter__() if context else None
    except OSError:   # not an address of this host
        context = None
    if context is None:
        pytest.skip("no Docker bridge address on this host to listen on")
    try:
        monkeypatch.setenv("DOCKER_HOST", f"tcp://{address}:{port}")
        monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
        yield Engine()
    finally:
        context.__exit__(None, None, None)


def test_a_tcp_engine_elsewhere_is_remote_and_refused_at_load(remote_engine, tmp_path):
    profile = profile_of(remote_engine)
    assert profile.kind is EngineKind.REMOTE
    assert remote_engine.version()["ApiVersion"]   # a real engine answers through it
    row = check_engine_kind(profile, CjmConfig().docker.transport)
    assert row.status is Status.WARN and "remote engine" in row.detail
    config = CjmConfig(data_dir=tmp_path / "data", runtime_dir=tmp_path / "run")
    manifest = {"name": "echo", "version": "1", "module": "m", "class_name": "C",
                "image": "cjm-plugin/never-started:0"}
    with pytest.raises(EngineError) as info:
        RemotePluginProxy(manifest, config=config, engine=remote_engine, session="remote-kind")
    text = str(info.value)
    assert "remote engine" in text and "attach_deployment" in text and str(config.data_dir) in text
    assert remote_engine.list_containers({labels.SESSION: "remote-kind"}) == []
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())
