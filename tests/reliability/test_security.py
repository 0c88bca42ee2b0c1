"""Security: the token guards every endpoint but /health; tokens leak nowhere; containers run
unprivileged, optionally read-only; TCP ports are bound to 127.0.0.1; a plugin cannot reach
another's runtime or data folder.

Already covered: the default container's uid, capabilities, no-new-privileges, network none and
no token in ``docker inspect`` (tests/integration/test_runtime_manager.py::
test_container_has_secure_defaults_and_no_token_in_inspect).
"""

from __future__ import annotations

import json
import logging
import subprocess

import httpx
import pytest

from cjm_docker.worker.app import create_app
from cjm_docker.worker.host import PluginHost
from tests.reliability.conftest import WORKBENCH

pytestmark = [pytest.mark.integration, pytest.mark.reliability]


def _described_operations() -> list[tuple[str, str]]:
    doc = create_app(PluginHost("unused", "Unused"), "unused").openapi()
    return sorted((method.upper(), path) for path, ops in doc["paths"].items() for method in ops)


def _bare_client(proxy) -> httpx.Client:
    address = proxy.client.address
    transport = httpx.HTTPTransport(uds=address.socket_path) if address.socket_path \
        else httpx.HTTPTransport()
    return httpx.Client(transport=transport, base_url=address.base_url, timeout=10)


def test_token_is_required_on_every_described_endpoint_but_health(manager):
    manager.load_plugin(WORKBENCH)
    proxy = manager.get_plugin(WORKBENCH)
    operations = _described_operations()
    assert len(operations) >= 9
    extra = [("GET", "/openapi.json"), ("GET", "/no-such-path"), ("DELETE", "/execute")]
    with _bare_client(proxy) as bare:
        for method, path in operations + extra:
            if path == "/health":
                assert bare.request(method, path).status_code == 200
                continue
            token = proxy.container.folder.token_file.read_text().strip()
            for headers in ({}, {"authorization": "Bearer wrong-token"},
                            {"authorization": f"Basic {token}"},
                            {"authorization": f"Bearer {token[:-1]}"},
                            {"authorization": "Bearer"}):
                answer = bare.request(method, path, headers=headers)
                assert answer.status_code == 401, (method, path, headers, answer.text)
    assert proxy.is_alive()


def test_tokens_appear_in_no_log_no_inspect_and_no_process_list(manager, engine, caplog):
    caplog.set_level(logging.DEBUG)
    manager.load_plugin(WORKBENCH)
    proxy = manager.get_plugin(WORKBENCH)
    token = proxy.container.folder.token_file.read_text().strip()
    manager.execute_plugin(WORKBENCH, action="echo")
    with pytest.raises(Exception):  # noqa: B017 - any typed failure; it is logged by the worker
        manager.execute_plugin(WORKBENCH, action="raise", message="logged failure")
    with _bare_client(proxy) as bare:
        bare.get("/progress")   # a refused request is logged too
    container_id = proxy.container.id
    places = {
        "worker log file": proxy.container.folder.log_file.read_text(errors="replace"),
        "docker logs": subprocess.run(["docker", "logs", container_id], capture_output=True,
                                      text=True).stdout,
        "docker inspect": json.dumps(engine.api.inspect_container(container_id)),
        "docker top": subprocess.run(["docker", "top", container_id, "-eo", "pid,args"],
                                     capture_output=True, text=True).stdout,
        "host process list": subprocess.run(["ps", "-eo", "args"], capture_output=True,
                                            text=True).stdout,
        "host logging": caplog.text,
        "container env": json.dumps(manager.execute_plugin(WORKBENCH, action="whoami")),
    }
    assert "logged failure" in places["worker log file"]   # the log is really the one written
    for where, text in places.items():
        assert token not in text, f"the token leaks into the {where}"


def test_read_only_root_filesystem_option(make_manager, engine):
    name = "cjm-test-workbench-ro"
    mgr = make_manager(variants={name: {"read_only_rootfs": True}})
    mgr.load_plugin(name)
    proxy = mgr.get_plugin(name)
    doc = engine.api.inspect_container(proxy.container.id)
    assert doc["HostConfig"]["ReadonlyRootfs"] is True
    facts = mgr.execute_plugin(name, action="whoami")
    assert facts["uid"] != 0
    assert "CapEff:\t0000000000000000" in facts["caps"]
    assert "NoNewPrivs:\t1" in facts["caps"]
    for path in ("/usr/local/lib/evil.py", "/etc/evil", "/var/evil"):
        assert mgr.execute_plugin(name, action="try_write", path=path).startswith("denied: "), path
    assert mgr.execute_plugin(name, action="try_write", path="/tmp/scratch") == "written"
    assert mgr.execute_plugin(name, action="write_data", key="ro", value="kept")


def test_tcp_transport_binds_host_ports_to_localhost_only(make_manager, engine, data_dir):
    from cjm_docker.config import load_config

    config = load_config(data_dir=data_dir, models_dir=data_dir / "models",
                         overrides={"transport": "tcp"})
    mgr = make_manager(config=config)
    mgr.load_plugin(WORKBENCH)
    proxy = mgr.get_plugin(WORKBENCH)
    assert proxy.client.address.base_url.startswith("http://127.0.0.1:")
    doc = engine.api.inspect_container(proxy.container.id)
    bindings = [b for found in (doc["NetworkSettings"]["Ports"] or {}).values() for b in found or []]
    assert bindings, "no published port"
    assert {b["HostIp"] for b in bindings} == {"127.0.0.1"}, bindings
    assert {b["HostIp"] for b in doc["HostConfig"]["PortBindings"][f"{8000}/tcp"]} == {"127.0.0.1"}
    facts = mgr.execute_plugin(WORKBENCH, action="whoami")
    assert facts["uid"] != 0 and "NoNewPrivs:\t1" in facts["caps"]
    with _bare_client(proxy) as bare:   # the token holds over TCP too
        assert bare.get("/health").status_code == 200
        assert bare.post("/execute").status_code == 401


def test_a_plugin_cannot_reach_another_plugins_runtime_or_data_folder(make_manager):
    other = "cjm-test-workbench-other"
    mgr = make_manager(variants={other: {}})
    mgr.load_plugin(WORKBENCH)
    mgr.load_plugin(other)
    secret_file = mgr.execute_plugin(other, action="write_data", key="secret", value="s3cret")
    other_folder = mgr.get_plugin(other).container.folder
    targets = [secret_file, str(other_folder.token_file), str(other_folder.log_file),
               str(other_folder.path)]
    for path in targets:
        seen = mgr.execute_plugin(WORKBENCH, action="try_read", path=path)
        assert seen.startswith("denied: "), (path, seen)
        assert mgr.execute_plugin(WORKBENCH, action="try_write", path=path).startswith("denied: ")
    # ...while the owner reads its own data.
    assert mgr.execute_plugin(other, action="read_data", key="secret") == "s3cret"
