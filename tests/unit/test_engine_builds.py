"""The classic build as the engine reads it: steps, the failing step's log, and the id of each
intermediate container as the builder names it (for the build's journal)."""

from __future__ import annotations

import io
from typing import Any

import pytest

from cjm_docker.engine import BuildEvent, Engine
from cjm_docker.errors import BuildError

STREAM = [
    {"stream": "Step 1/3 : FROM cjm-docker/base-python:3.11"}, {"stream": "\n"},
    {"stream": " ---> 0a75a30643c9\n"},
    {"stream": "Step 2/3 : RUN echo one"}, {"stream": "\n"},
    {"stream": " ---> Running in f2498fff2c82\n"}, {"stream": "one\n"},
    {"stream": "Removing intermediate container f2498fff2c82\n"},
    {"stream": " ---> 715b5328020a\n"},
    {"stream": "Step 3/3 : LABEL a=b"}, {"stream": "\n"},
    {"stream": "\x1b[0m ---> Running in 14ec2452e54f\n"},
]


class BuildingApi:
    base_url = "http+docker://localhost"

    def __init__(self, chunks: list[dict[str, Any]]) -> None:
        self.chunks = chunks

    def build(self, **kwargs: Any) -> list[dict[str, Any]]:
        return self.chunks

    def inspect_image(self, ref: str) -> dict[str, Any]:
        return {"Id": f"sha256:{ref}"}


class Client:
    def __init__(self, api: Any) -> None:
        self.api = api


def build(chunks: list[dict[str, Any]]) -> tuple[str, list[str], list[BuildEvent]]:
    made: list[str] = []
    events: list[BuildEvent] = []
    engine = Engine(client=Client(BuildingApi(chunks)))  # type: ignore[arg-type]
    image = engine.build(io.BytesIO(b""), on_event=events.append, on_container=made.append)
    return image, made, events


def test_each_intermediate_container_is_heard_as_it_is_made() -> None:
    image, made, events = build([*STREAM, {"aux": {"ID": "sha256:147571f8"}},
                                 {"stream": "Successfully built 147571f8\n"}])
    assert image == "sha256:147571f8"
    assert made == ["f2498fff2c82", "14ec2452e54f"]
    assert [e.text for e in events if e.kind == "step"][-1] == "Step 3/3 : LABEL a=b"


def test_a_failing_step_names_itself_and_its_output() -> None:
    with pytest.raises(BuildError) as info:
        build([*STREAM[:7], {"error": "exit 1", "errorDetail": {"message": "exit 1"}}])
    assert info.value.step == "Step 2/3 : RUN echo one"
    assert "one" in (info.value.log_tail or "")
