"""The worker's endpoints in-process: auth, typed errors, bodies, config calls, OpenAPI."""

from __future__ import annotations

import math
from typing import Any

import httpx
import pytest

from cjm_docker.wire import PROTOCOL_VERSION
from tests.fixtures.worker_harness import AUTH, TOKEN, asgi_client, loaded_host

pytestmark = pytest.mark.anyio

PROTECTED = [("GET", "/stats"), ("GET", "/progress"), ("POST", "/cancel"),
             ("POST", "/initialize"), ("GET", "/config_schema"), ("GET", "/config"),
             ("POST", "/execute"), ("POST", "/execute_stream"), ("POST", "/cleanup"),
             ("GET", "/openapi.json")]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"category", "type", "message", "traceback"}
    return body["error"]


async def test_health_needs_no_token_and_describes_the_worker() -> None:
    async with asgi_client(loaded_host("EchoPlugin"), auth=False) as client:
        response = await client.get("/health")
    assert response.status_code == 200
    health = response.json()
    assert health["status"] == "ready"
    assert health["protocol"] == PROTOCOL_VERSION
    assert (health["name"], health["version"]) == ("echo", "1.2.3")
    assert isinstance(health["pid"], int) and health["runtime"] and health["error"] is None


@pytest.mark.parametrize(("method", "path"), PROTECTED)
@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", TOKEN])
async def test_every_endpoint_but_health_needs_the_token(method: str, path: str,
                                                         header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    async with asgi_client(loaded_host("EchoPlugin"), auth=False) as client:
        response = await client.request(method, path, headers=headers)
    assert response.status_code == 401
    assert error_of(response)["category"] == "unauthorized"


async def test_the_bearer_scheme_is_case_insensitive() -> None:
    async with asgi_client(loaded_host("EchoPlugin"), auth=False) as client:
        response = await client.get("/progress", headers={"Authorization": f"bearer {TOKEN}"})
    assert response.status_code == 200


async def test_execute_passes_args_and_kwargs() -> None:
    async with asgi_client(loaded_host("EchoPlugin")) as client:
        response = await client.post("/execute", json={"args": [1, "a"], "kwargs": {"k": [2]}})
        empty = await client.post("/execute")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json()["args"] == [1, "a"] and response.json()["kwargs"] == {"k": [2]}
    assert empty.json()["args"] == [] and empty.json()["kwargs"] == {}


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"null", b'{"args": {}}', b'{"kwargs": []}',
                                  b'{"args": [], "extra": 1}', b'{"kwargs": null}', b"\xff\xfe\x00"])
async def test_malformed_bodies_are_400(body: bytes) -> None:
    async with asgi_client(loaded_host("EchoPlugin")) as client:
        for path in ("/execute", "/execute_stream"):
            response = await client.post(path, content=body)
            assert response.status_code == 400, path
            assert error_of(response)["category"] == "bad_request"
        response = await client.post("/initialize", content=b"[1]")
        assert response.status_code == 400


@pytest.mark.parametrize(("kind", "status", "category", "type_name", "message"), [
    ("value", 500, "plugin", "ValueError", "bad input"),
    ("custom", 500, "plugin", "tests.fixtures.worker_plugins.CustomError", "custom failure"),
    ("cancelled", 409, "cancelled", "tests.fixtures.worker_plugins.PluginCancelledError",
     "gave up"),
])
async def test_plugin_exceptions_are_typed(kind: str, status: int, category: str,
                                           type_name: str, message: str) -> None:
    async with asgi_client(loaded_host("RaisingPlugin")) as client:
        response = await client.post("/execute", json={"kwargs": {"kind": kind}})
    assert response.status_code == status
    error = error_of(response)
    assert (error["category"], error["type"], error["message"]) == (category, type_name, message)
    assert "Traceback (most recent call last)" in error["traceback"]
    assert "worker_plugins.py" in error["traceback"]


async def test_unencodable_result_is_422_naming_the_path() -> None:
    async with asgi_client(loaded_host("UnencodablePlugin")) as client:
        response = await client.post("/execute")
    assert response.status_code == 422
    error = error_of(response)
    assert error["category"] == "encoding"
    assert error["message"] == "result['items'][2] is an Opaque, which JSON cannot carry"


async def test_every_mapped_type_and_nan_cross_the_wire() -> None:
    async with asgi_client(loaded_host("ValuesPlugin")) as client:
        response = await client.post("/execute")
    assert response.status_code == 200
    result = response.json()  # httpx decodes with Python's json, NaN included
    assert result["dataclass"] == {"inner": {"when": "2024-05-06", "tags": ["a", "b"]},
                                   "path": "/data/x.wav", "ratio": 0.5}
    assert result["datetime"] == "2024-05-06T07:08:09"
    assert result["timedelta"] == 90.0
    assert (result["enum"], result["bytes"], result["tuple"]) == ("red", "AAE=", [1, 2])
    assert (result["uuid"], result["decimal"]) == ("00000000-0000-0000-0000-000000000001",
                                                   "1.10")
    assert math.isnan(result["nan"]) and result["inf"] == math.inf


async def test_initialize_config_schema_and_cleanup() -> None:
    host = loaded_host("EchoPlugin")
    async with asgi_client(host) as client:
        assert (await client.post("/initialize", json={"greeting": "hi"})).json() == {
            "status": "ok"}
        assert (await client.get("/config")).json() == {"greeting": "hi"}
        schema = (await client.get("/config_schema")).json()
        assert schema["properties"]["greeting"]["type"] == "string"
        assert (await client.post("/initialize")).json() == {"status": "ok"}  # None config
        assert (await client.get("/config")).json() == {}
        assert (await client.post("/cleanup")).json() == {"status": "cleaned"}
    assert host.plugin.cleaned == 1


async def test_duck_typed_plugin() -> None:
    async with asgi_client(loaded_host("DuckPlugin")) as client:
        health = (await client.get("/health")).json()
        assert (health["name"], health["version"]) == ("duck", "0.1")
        assert (await client.post("/execute")).json() == "quack"
        assert (await client.get("/progress")).json() == {"progress": 0.0, "message": "",
                                                          "busy": False}
        stream = await client.post("/execute_stream")
        assert stream.text == '{"type":"data","data":"quack"}\n{"type":"end"}\n'


async def test_a_name_property_that_raises_reads_as_unknown() -> None:
    async with asgi_client(loaded_host("NameRaisesPlugin")) as client:
        health = (await client.get("/health")).json()
    assert (health["name"], health["version"]) == ("unknown", "1.2.3")


async def test_calls_before_the_plugin_is_loaded_are_503() -> None:
    from cjm_docker.worker.host import PluginHost

    host = PluginHost("tests.fixtures.worker_plugins", "SlowLoadPlugin")
    loading = host.start_loading()
    async with asgi_client(host) as client:
        assert (await client.get("/health")).json()["status"] == "starting"
        response = await client.post("/execute")
        assert response.status_code == 503
        assert "still loading" in error_of(response)["message"]
        loading.result(timeout=5)
        assert (await client.get("/health")).json()["status"] == "ready"
        assert (await client.post("/execute")).status_code == 200


@pytest.mark.parametrize(("module", "class_name", "expected"), [
    ("tests.fixtures.broken_plugin", "Anything", "ImportError: this plugin module is broken"),
    ("tests.fixtures.worker_plugins", "NoSuchPlugin", "AttributeError"),
    ("tests.fixtures.worker_plugins", "FailingInitPlugin", "RuntimeError: cannot start"),
    ("no_such_module_anywhere", "X", "ModuleNotFoundError"),
])
async def test_a_plugin_that_cannot_load_fails_the_worker(module: str, class_name: str,
                                                          expected: str) -> None:
    seen: list[str] = []
    host = loaded_host(class_name, module, on_load_failed=lambda h: seen.append(h.error or ""))
    assert host.state.value == "failed"
    assert seen and expected in seen[0]
    assert "Traceback" in host.load_traceback
    async with asgi_client(host) as client:
        health = (await client.get("/health")).json()
        assert health["status"] == "failed" and expected in health["error"]
        response = await client.post("/execute")
    assert response.status_code == 503
    assert expected in error_of(response)["message"]


async def test_unknown_paths_and_methods_answer_in_the_wire_shape() -> None:
    async with asgi_client(loaded_host("EchoPlugin")) as client:
        missing = await client.get("/nope")
        wrong_method = await client.get("/execute")
    assert missing.status_code == 404 and error_of(missing)["type"] == "NotFound"
    assert wrong_method.status_code == 405 and "POST" in wrong_method.headers["allow"]


async def test_a_bug_in_the_worker_is_a_typed_internal_error(monkeypatch: Any) -> None:
    host = loaded_host("EchoPlugin")

    def broken() -> dict[str, Any]:
        raise RuntimeError("worker bug")

    monkeypatch.setattr(host, "progress", broken)
    async with asgi_client(host) as client:
        response = await client.get("/progress")
    assert response.status_code == 500
    error = error_of(response)
    assert (error["category"], error["type"], error["message"]) == (
        "internal", "RuntimeError", "worker bug")


async def test_stats() -> None:
    async with asgi_client(loaded_host("EchoPlugin")) as client:
        stats = (await client.get("/stats")).json()
    assert set(stats) == {"pid", "cpu_percent", "memory_rss_mb", "num_threads", "busy"}
    assert stats["memory_rss_mb"] > 1 and stats["num_threads"] >= 2 and stats["busy"] is False
    assert stats["cpu_percent"] >= 0.0


async def test_openapi_documents_bodies_and_security() -> None:
    async with asgi_client(loaded_host("EchoPlugin")) as client:
        schema = (await client.get("/openapi.json", headers=AUTH)).json()
    paths = schema["paths"]
    for path in ("/execute", "/execute_stream", "/initialize"):
        assert "requestBody" in paths[path]["post"], path
    assert paths["/execute"]["post"]["responses"]["422"]
    assert paths["/health"]["get"]["security"] == []
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert "application/x-ndjson" in paths["/execute_stream"]["post"]["responses"]["200"][
        "content"]
