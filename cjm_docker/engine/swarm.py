"""Swarm services and networks, read-only: stacks are deployed by the docker CLI."""

from __future__ import annotations

from typing import Any

from cjm_docker.engine.connection import Connection
from cjm_docker.engine.documents import task_from_doc
from cjm_docker.engine.translation import translated
from cjm_docker.engine_types import ServiceTask


class SwarmCalls(Connection):
    """What attach mode asks of the engine: where each replica of a service runs."""

    def local_node_id(self) -> str | None:
        """This engine's Swarm node id, or None when it is not part of an active swarm."""
        swarm = self.info().get("Swarm") or {}
        if swarm.get("LocalNodeState") != "active":
            return None
        return swarm.get("NodeID") or None

    def service_tasks(self, service: str) -> list[ServiceTask]:
        """The tasks of a Swarm service (by name or id), newest state of each.

        Raises:
            EngineError: no such service, or this engine is not a swarm manager.
        """
        spec = self._call(self.api.inspect_service, service)
        rows = self._call(self.api.tasks, filters={"service": spec["ID"]})
        return [task_from_doc(row) for row in rows if row.get("ServiceID") == spec["ID"]]

    def node_address(self, node_id: str) -> str | None:
        """The address a Swarm node advertises (where its host-mode ports listen)."""
        doc = self._call(self.api.inspect_node, node_id)
        return ((doc.get("Status") or {}).get("Addr") or None) if doc else None

    def network_addresses(self, network: str) -> dict[str, str]:
        """IPv4 address of each container on a local network, by container id ({} when absent)."""
        doc: dict[str, Any] = {}
        with translated(f"Cannot inspect network {network}", absent=(404,)):
            doc = self.api.inspect_network(network)
        return {cid: (entry.get("IPv4Address") or "").split("/")[0]
                for cid, entry in (doc.get("Containers") or {}).items()
                if entry.get("IPv4Address")}
