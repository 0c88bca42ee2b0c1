"""Engine kinds on recorded ``docker info`` answers, and what each means for plugin containers:
the transport, the container user, and whether this machine's folders can be mounted at all."""

from __future__ import annotations

import os

import docker
import pytest
from recorded_answers import ENGINES, RecordedEngine

from cjm_docker.config import CjmConfig, Transport
from cjm_docker.diagnostics import Status, check_engine_kind
from cjm_docker.engine_kind import EngineKind, endpoint_of, profile_of, recognise
from cjm_docker.errors import EngineError
from cjm_docker.host.container import PluginContainer
from cjm_docker.host.runtime_folder import RuntimeFolder
from cjm_docker.manifest import parse_manifest
from cjm_docker.owner import current_owner

KINDS = {
    "local-debian-20.10": EngineKind.LOCAL, "runtime-only-24.0": EngineKind.LOCAL,
    "cdi-only-27.3": EngineKind.LOCAL, "cdi-discovered-28.3": EngineKind.LOCAL,
    "cdi-mig-28.3": EngineKind.LOCAL, "both-28.3": EngineKind.LOCAL,
    "none-27.3": EngineKind.LOCAL, "legacy-runtime-18.09": EngineKind.LOCAL,
    "rootless-24.0": EngineKind.ROOTLESS,
    "desktop-macos-27.1": EngineKind.DESKTOP, "desktop-windows-27.1": EngineKind.DESKTOP,
    "remote-ssh-26.1": EngineKind.REMOTE, "remote-tcp-25.0": EngineKind.REMOTE,
}


def test_every_recorded_engine_has_an_expected_kind():
    assert sorted(KINDS) == ENGINES


@pytest.mark.parametrize("name", ENGINES)
def test_kind_and_what_follows(name):
    engine = RecordedEngine(name)
    profile = profile_of(engine)
    kind = KINDS[name]
    assert profile.kind is kind and profile.endpoint == engine.endpoint
    assert profile.transport is (Transport.UNIX if kind in (EngineKind.LOCAL, EngineKind.ROOTLESS)
                                 else Transport.TCP)
    assert profile.mounts_reachable is (kind is not EngineKind.REMOTE)
    assert profile.host_files_are_engine_files is (kind in (EngineKind.LOCAL, EngineKind.ROOTLESS))
    user = profile.container_user(1000, 1000, (10001, 10001))
    assert user == ((0, 0) if kind is EngineKind.ROOTLESS else (1000, 1000))
    assert profile.container_user(0, 0, (10001, 10001)) == \
        ((0, 0) if kind is EngineKind.ROOTLESS else (10001, 10001))
    profile_of(engine)
    assert engine.info_calls == 1   # asked once per engine


def test_this_machine_reads_local_linux_unix_transport():
    profile = profile_of(RecordedEngine("local-debian-20.10"))
    assert profile.describe() == "local Linux engine, unix transport (unix:///var/run/docker.sock)"


def test_loopback_tcp_is_local_and_other_addresses_are_remote():
    info = {"OperatingSystem": "Ubuntu"}
    assert recognise(info, "tcp://127.0.0.1:2375").kind is EngineKind.LOCAL
    assert recognise(info, "tcp://localhost:2375").kind is EngineKind.LOCAL
    assert recognise(info, "tcp://[::1]:2375").kind is EngineKind.LOCAL
    assert recognise(info, "tcp://192.168.1.20:2375").kind is EngineKind.REMOTE
    assert recognise(info, "tcp://gpu-box:2376").kind is EngineKind.REMOTE
    assert recognise({"OperatingSystem": "Docker Desktop"},
                     "tcp://localhost:2375").kind is EngineKind.DESKTOP


def test_the_endpoint_comes_from_the_engine_else_its_sdk_client(monkeypatch):
    class Known:
        endpoint = "ssh://me@box"

    assert endpoint_of(Known()) == "ssh://me@box"
    monkeypatch.delenv("DOCKER_HOST", raising=False)

    class Client:
        def __init__(self, url):
            self.api = docker.APIClient(base_url=url, version="1.41")

    assert endpoint_of(Client("unix:///run/user/1000/docker.sock")) == \
        "unix:///run/user/1000/docker.sock"
    assert endpoint_of(Client("tcp://10.0.0.12:2376")) == "tcp://10.0.0.12:2376"
    assert endpoint_of(object()) == "unix:///var/run/docker.sock"

    class GivenClient(Client):   # Engine(client) knows only the SDK's base URL
        endpoint = "http+docker://localhost"

    assert endpoint_of(GivenClient("unix:///run/x.sock")) == "unix:///run/x.sock"


def test_transport_auto_is_resolved_and_a_socket_on_desktop_is_refused():
    desktop = profile_of(RecordedEngine("desktop-macos-27.1"))
    assert desktop.check_transport(Transport.AUTO) is Transport.TCP
    assert desktop.check_transport(Transport.TCP) is Transport.TCP
    with pytest.raises(EngineError, match="does not cross into its VM"):
        desktop.check_transport(Transport.UNIX)
    local = profile_of(RecordedEngine("local-debian-20.10"))
    assert local.check_transport(Transport.AUTO) is Transport.UNIX
    assert local.check_transport(Transport.TCP) is Transport.TCP   # allowed: the user asked


def test_doctor_rows(tmp_path):
    rows = {name: check_engine_kind(profile_of(RecordedEngine(name)), Transport.AUTO)
            for name in ("local-debian-20.10", "rootless-24.0", "desktop-macos-27.1",
                         "remote-ssh-26.1")}
    assert rows["local-debian-20.10"].status is Status.OK
    assert "uid 0, which is your user" in rows["rootless-24.0"].detail
    assert "Docker Desktop, tcp transport" in rows["desktop-macos-27.1"].detail
    assert rows["remote-ssh-26.1"].status is Status.WARN
    assert "attach mode" in rows["remote-ssh-26.1"].remedy
    refused = check_engine_kind(profile_of(RecordedEngine("desktop-macos-27.1")), Transport.UNIX)
    assert refused.status is Status.FAIL


# -- applied to a plugin container -----------------------------------------------------------

MANIFEST = {"name": "echo", "version": "1", "module": "m", "class_name": "C", "image": "img:1"}


@pytest.fixture
def config(tmp_path):
    return CjmConfig(data_dir=tmp_path / "data", runtime_dir=tmp_path / "run")


def container(name, config):
    return PluginContainer(parse_manifest(MANIFEST, source="test"), config=config,
                           engine=RecordedEngine(name), owner=current_owner(), session="s1")


def test_a_remote_engine_is_refused_at_load_before_anything_is_created(config):
    box = container("remote-ssh-26.1", config)
    with pytest.raises(EngineError) as info:
        box.start()
    text = str(info.value)
    for said in ("Cannot start plugin 'echo'", "ssh://deploy@gpu-box.example",
                 "remote engine", str(config.data_dir), "attach_deployment", "docs/deploy.md"):
        assert said in text
    assert box.id is None and box.folder is None
    assert not config.resolved_runtime_dir.exists() or not any(config.resolved_runtime_dir.iterdir())


@pytest.mark.parametrize("name, transport, user", [
    ("local-debian-20.10", Transport.UNIX, f"{os.getuid()}:{os.getgid()}"),
    ("rootless-24.0", Transport.UNIX, "0:0"),
    ("desktop-macos-27.1", Transport.TCP, f"{os.getuid()}:{os.getgid()}"),
])
def test_the_container_spec_follows_the_engine_kind(config, name, transport, user):
    if os.getuid() == 0 and name != "rootless-24.0":
        user = "10001:10001"
    box = container(name, config)
    box.transport = profile_of(box.engine).check_transport(config.docker.transport)
    folder, _ = RuntimeFolder.create(config.resolved_runtime_dir, box.name)
    spec = box._spec(folder, None)
    assert box.transport is transport and spec.user == user
    if transport is Transport.TCP:
        assert spec.publish_port == 8000 and spec.network == "bridge" and "--port" in spec.command
    else:
        assert spec.publish_port is None and spec.network is None and "--socket" in spec.command
