"""The worker's API fuzzed from its own OpenAPI description (schemathesis), authenticated,
against a real ``python -m cjm_docker.worker`` subprocess.

No 5xx answer is allowed except the wire's ``plugin`` category (the plugin itself raised, e.g.
on a fuzzed keyword it does not take); every answer must match the described status codes,
content types and schemas. ``/cleanup`` is left out of the fuzzing (it ends the worker by design)
and tested once at the end.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

schemathesis = pytest.importorskip("schemathesis")

from cjm_docker.worker.app import create_app  # noqa: E402
from cjm_docker.worker.host import PluginHost  # noqa: E402
from tests.fixtures.worker_harness import AUTH, PLUGINS, WorkerProcess  # noqa: E402

pytestmark = pytest.mark.reliability

MAX_EXAMPLES = 40


def _schema_document() -> dict:
    # The same app the worker serves; building it loads no plugin.
    return create_app(PluginHost(PLUGINS, "EchoPlugin"), "unused").openapi()


schema = schemathesis.openapi.from_dict(_schema_document()).exclude(path="/cleanup")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def worker(tmp_path_factory) -> Iterator[WorkerProcess]:
    tmp: Path = tmp_path_factory.mktemp("fuzz-worker")
    process = WorkerProcess(tmp, "EchoPlugin", port=_free_port()).start()
    try:
        process.wait_for_health()
        yield process
    finally:
        process.kill()


def _only_plugin_errors_are_5xx(response) -> None:
    if response.status_code >= 500:
        try:
            category = json.loads(response.content)["error"]["category"]
        except (ValueError, KeyError, TypeError):
            category = None
        assert category == "plugin", (f"{response.status_code} not raised by the plugin: "
                                      f"{response.content[:500]!r}")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_worker_api_fuzzed_from_its_openapi(case, worker):
    response = case.call(base_url=worker.base_url, headers=AUTH, timeout=10)
    _only_plugin_errors_are_5xx(response)
    case.validate_response(response, headers=AUTH, excluded_checks=[
        schemathesis.checks.not_a_server_error,     # replaced by the rule above
        schemathesis.checks.positive_data_acceptance,   # a plugin may refuse valid-shaped input
    ])


def test_worker_survives_the_fuzzing_then_cleans_up(worker):
    with worker.client(timeout=10) as client:
        assert client.get("/health").json()["status"] == "ready"
        assert client.post("/execute", json={"args": [1], "kwargs": {}}).status_code == 200
        assert client.post("/cleanup").status_code == 200
