"""The engine's one translation point: no docker SDK or requests exception escapes it.

A stand-in for docker's low-level ``APIClient`` raises each foreign exception from every call;
every public ``Engine`` method must answer with a ``cjm_docker`` error (or its documented
"absent" value), never the foreign one.
"""

from __future__ import annotations

import inspect
import io
from typing import Any

import docker.errors
import pytest
import requests
import requests.exceptions

from cjm_docker.engine import BindMount, ContainerSpec, Engine
from cjm_docker.errors import CjmDockerError, EngineError, EngineUnavailableError, ImageError


def _response(status: int) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    return response


class RaisingApi:
    """Every API call raises ``error`` (or returns a stub for the calls that build configs)."""

    base_url = "http+docker://localhost"

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def create_host_config(self, **kwargs: Any) -> dict[str, Any]:
        return kwargs

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            raise self.error
        return call


class Client:
    def __init__(self, api: Any) -> None:
        self.api = api


FOREIGN = {
    "refused": requests.exceptions.ConnectionError("Connection refused"),
    "read timeout": requests.exceptions.ReadTimeout("Read timed out. (read timeout=60)"),
    # docker-py issue 1966: a read timeout that arrives as a ConnectionError
    "read timeout as connection error": requests.exceptions.ConnectionError(
        "UnixHTTPConnectionPool(host='localhost', port=None): Read timed out."),
    "server error": docker.errors.APIError("boom", response=_response(500)),
    "sdk error": docker.errors.DockerException("bad config"),
}
SPEC = ContainerSpec(image="img", name="n", command=["true"],
                     mounts=(BindMount("/tmp", "/tmp"),))
CALLS = {
    "version": (), "info": (), "image_inspect": ("img",), "image_exists": ("img",),
    "list_images": (), "tag_image": ("a", "b:c"), "remove_image": ("img",), "pull": ("img",),
    "create_and_start": (SPEC,), "container_state": ("c",), "list_containers": (),
    "stop_container": ("c",), "kill_container": ("c",), "remove_container": ("c",),
    "wait_container": ("c", 1.0), "container_logs": ("c",), "container_stats": ("c",),
    "put_file": ("c", "/x", b""), "local_node_id": (), "service_tasks": ("s",),
    "node_address": ("n",), "network_addresses": ("net",), "run_once": (SPEC,),
    "import_rootfs": (io.BytesIO(b"x"), "img:1"), "commit_image": ("a", "b:c"),
    "commit_step": ("img", ["true"], BindMount("/tmp", "/cjm-build"), ("cache", "/cjm-cache"),
                    {}, 1.0),
    "ensure_volume": ("v", {}), "remove_volume": ("v",), "find_images": ("a=b",),
}


def test_every_public_method_is_listed_here() -> None:
    public = {name for name, _ in inspect.getmembers(Engine, inspect.isfunction)
              if not name.startswith("_")}
    streaming = {"follow_logs", "container_events", "build"}
    assert public - streaming - set(CALLS) == set()


@pytest.mark.parametrize("kind", list(FOREIGN))
@pytest.mark.parametrize("method", list(CALLS))
def test_no_foreign_exception_escapes(method: str, kind: str) -> None:
    engine = Engine(client=Client(RaisingApi(FOREIGN[kind])))  # type: ignore[arg-type]
    try:
        getattr(engine, method)(*CALLS[method])
    except CjmDockerError as exc:
        assert exc.__cause__ is not None or isinstance(exc, ImageError)
    # Returning is fine too: a wait whose own timeout ran out answers None.


@pytest.mark.parametrize("kind", list(FOREIGN))
def test_streams_translate_while_iterating(kind: str) -> None:
    engine = Engine(client=Client(RaisingApi(FOREIGN[kind])))  # type: ignore[arg-type]
    with pytest.raises(CjmDockerError):
        list(engine.follow_logs("c"))


def test_a_read_timeout_in_a_wait_is_the_wait_running_out() -> None:
    for error in (FOREIGN["read timeout"], FOREIGN["read timeout as connection error"]):
        engine = Engine(client=Client(RaisingApi(error)))  # type: ignore[arg-type]
        assert engine.wait_container("c", timeout=1) is None
        with pytest.raises(EngineError, match="did not answer in time"):
            engine.container_logs("c")


def test_absent_things_answer_their_documented_value() -> None:
    gone = docker.errors.NotFound("no such container", response=_response(404))
    engine = Engine(client=Client(RaisingApi(gone)))  # type: ignore[arg-type]
    assert engine.container_state("c") is None
    assert engine.remove_container("c") is False
    assert engine.container_logs("c") == ""
    assert list(engine.follow_logs("c")) == []
    assert engine.image_inspect("img") is None
    assert engine.wait_container("c") is None
    engine.stop_container("c")
    engine.kill_container("c")


def test_a_refused_engine_is_unavailable_and_a_missing_image_says_so() -> None:
    engine = Engine(client=Client(RaisingApi(FOREIGN["refused"])))  # type: ignore[arg-type]
    with pytest.raises(EngineUnavailableError, match="lost the Docker engine"):
        engine.container_state("c")
    missing = docker.errors.ImageNotFound("No such image: img", response=_response(404))
    engine = Engine(client=Client(RaisingApi(missing)))  # type: ignore[arg-type]
    with pytest.raises(ImageError, match="install-all"):
        engine.create_and_start(SPEC)


def test_the_real_engine_and_the_tests_fake_keep_one_protocol() -> None:
    from cjm_docker.engine_types import ContainerEngine
    from tests.fakes.engine import FakeEngine

    wanted = {name for name in dir(ContainerEngine) if not name.startswith("_")}
    for implementation in (Engine, FakeEngine):
        for name in wanted:
            ours = inspect.signature(getattr(implementation, name))
            theirs = inspect.signature(getattr(ContainerEngine, name))
            assert list(ours.parameters) == list(theirs.parameters), (implementation, name)
