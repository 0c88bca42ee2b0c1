"""Calls are checked against the execute signature introspection recorded, before any
container starts; **kwargs takes everything; manifests without a signature pass everything."""

from __future__ import annotations

from typing import Any

import pytest

from cjm_docker.errors import PluginArgumentError
from cjm_docker.host.signature import check_call, keep_text, signature_of
from cjm_docker.images.introspect import _signature


class Plugin:
    def execute(self, text: str = "", sleep: float = 0.0, steps: int = 10, record: bool = True,
                *, mode: str | None = None) -> dict[str, Any]:
        return {}

    def execute_stream(self, path, **options):  # noqa: ANN001, ANN003, ANN201
        yield path

    @staticmethod
    def helper(a: int) -> int:
        return a


def manifest(cls: type = Plugin) -> dict[str, Any]:
    sigs = {m: _signature(cls, m) for m in ("execute", "execute_stream")}
    return {"name": "demo", "signatures": {m: s for m, s in sigs.items() if s}}


def test_introspection_records_parameters_without_self() -> None:
    recorded = _signature(Plugin, "execute")
    assert [p["name"] for p in recorded["parameters"]] == ["text", "sleep", "steps", "record", "mode"]
    text = recorded["parameters"][0]
    assert text == {"name": "text", "kind": "POSITIONAL_OR_KEYWORD", "default": "''",
                    "annotation": "str"}
    assert recorded["parameters"][4]["kind"] == "KEYWORD_ONLY"
    assert _signature(Plugin, "helper")["parameters"][0]["name"] == "a"   # staticmethod: no self
    assert _signature(Plugin, "missing") is None


def test_a_good_call_passes() -> None:
    check_call(manifest(), [], {"text": "hi", "sleep": 1, "mode": None})
    check_call(manifest(), ["hi", 0.5], {})
    check_call(manifest(), [], {"path": "/x", "anything": 1, "more": [1]}, stream=True)


def test_an_unknown_argument_names_the_known_ones_and_the_near_miss() -> None:
    with pytest.raises(PluginArgumentError) as info:
        check_call(manifest(), [], {"txt": "hi"})
    text = str(info.value)
    assert "takes no argument named 'txt'" in text and "Did you mean 'text'?" in text
    assert "demo.execute(text: str = '', sleep: float = 0.0" in text
    assert "`cjm-ctl show demo`" in text
    assert isinstance(info.value, TypeError)     # what the call itself would have raised


def test_missing_and_surplus_arguments() -> None:
    with pytest.raises(PluginArgumentError, match="missing a required argument: 'path'"):
        check_call(manifest(), [], {"options": 1}, stream=True)
    with pytest.raises(PluginArgumentError, match="too many positional arguments"):
        check_call(manifest(), [1, 2, 3, 4, 5], {})
    with pytest.raises(PluginArgumentError, match="multiple values for argument 'text'"):
        check_call(manifest(), ["a"], {"text": "b"})


@pytest.mark.parametrize(("kwargs", "ok"), [
    ({"sleep": "abc"}, False), ({"sleep": 2}, True), ({"sleep": 2.5}, True),
    ({"steps": 2.5}, False), ({"steps": True}, False), ({"record": 1}, False),
    ({"text": 5}, False), ({"mode": None}, True), ({"mode": "x"}, True), ({"mode": 3}, False),
])
def test_simple_annotations_are_checked(kwargs: dict[str, Any], ok: bool) -> None:
    if ok:
        check_call(manifest(), [], kwargs)
    else:
        with pytest.raises(PluginArgumentError, match=f"argument '{next(iter(kwargs))}' must be"):
            check_call(manifest(), [], kwargs)


def test_no_signature_or_a_broken_one_checks_nothing() -> None:
    check_call({"name": "old"}, [1, 2, 3], {"whatever": 1})
    broken = {"name": "x", "signatures": {"execute": {"parameters": [{"name": "a b", "kind": "?"}]}}}
    assert signature_of(broken) is None
    check_call(broken, [], {"anything": 1})


def test_execute_stream_falls_back_to_execute() -> None:
    only_execute = {"name": "x", "signatures": {"execute": _signature(Plugin, "execute")}}
    with pytest.raises(PluginArgumentError):
        check_call(only_execute, [], {"nope": 1}, stream=True)


def test_typed_text_is_kept_for_str_parameters() -> None:
    kwargs = keep_text(manifest(), {"text": 123, "steps": 3}, {"text": "123", "steps": "3"})
    assert kwargs == {"text": "123", "steps": 3}
