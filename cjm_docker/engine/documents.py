"""The engine's JSON documents read into the plain data of ``engine_types`` (pure)."""

from __future__ import annotations

from typing import Any

from cjm_docker.engine_types import ContainerState, ServiceTask


def state_from_inspect(doc: dict[str, Any]) -> ContainerState:
    """A container's inspect document as a ``ContainerState``."""
    state = doc.get("State") or {}
    ports = (doc.get("NetworkSettings") or {}).get("Ports") or {}
    host_port = None
    for bindings in ports.values():
        for binding in bindings or []:
            if binding.get("HostPort"):
                host_port = int(binding["HostPort"])
    config = doc.get("Config") or {}
    return ContainerState(
        id=doc["Id"], name=doc.get("Name", "").lstrip("/"), status=state.get("Status", ""),
        running=bool(state.get("Running")),
        exit_code=state.get("ExitCode") if state.get("Status") in ("exited", "dead") else None,
        oom_killed=bool(state.get("OOMKilled")), labels=config.get("Labels") or {},
        image=config.get("Image", ""), host_port=host_port,
        started_at=state.get("StartedAt", ""),
    )


def state_from_listing(row: dict[str, Any]) -> ContainerState:
    """One row of the container list as a ``ContainerState`` (no exit code: the list has none)."""
    return ContainerState(
        id=row["Id"], name=(row.get("Names") or ["/?"])[0].lstrip("/"),
        status=row.get("State", ""), running=row.get("State") == "running", exit_code=None,
        oom_killed=False, labels=row.get("Labels") or {}, image=row.get("Image", ""),
        host_port=next((p.get("PublicPort") for p in row.get("Ports") or []
                        if p.get("PublicPort")), None),
    )


def task_from_doc(doc: dict[str, Any]) -> ServiceTask:
    """One Swarm task document as a ``ServiceTask``."""
    status = doc.get("Status") or {}
    ports = (status.get("PortStatus") or {}).get("Ports") or []
    container = status.get("ContainerStatus") or {}
    return ServiceTask(
        id=doc["ID"], slot=doc.get("Slot"), node_id=doc.get("NodeID", ""),
        state=status.get("State", ""), desired_state=doc.get("DesiredState", ""),
        container_id=container.get("ContainerID", ""),
        host_ports={int(p["TargetPort"]): int(p["PublishedPort"]) for p in ports
                    if p.get("PublishMode") == "host" and p.get("PublishedPort")},
        message=status.get("Err") or status.get("Message", ""),
        exit_code=container.get("ExitCode"),
    )
