"""Plugin configs: defaults merged with partial configs, validated against the schema."""

import pytest

from cjm_docker.errors import PluginConfigError
from cjm_docker.host.configs import effective_config, schema_defaults

SCHEMA = {
    "name": "EchoConfig", "type": "object",
    "properties": {
        "prefix": {"type": "string", "default": ">"},
        "repeat": {"type": "integer", "minimum": 1, "maximum": 5, "default": 1},
        "mode": {"type": "string", "enum": ["upper", "lower"], "default": "lower"},
        "limit": {"type": ["integer", "null"], "default": None},
    },
}


def test_defaults_come_from_the_schema():
    assert schema_defaults(SCHEMA) == {"prefix": ">", "repeat": 1, "mode": "lower", "limit": None}


def test_partial_config_is_merged_with_defaults():
    assert effective_config("echo", SCHEMA, {"repeat": 3}) == {
        "prefix": ">", "repeat": 3, "mode": "lower", "limit": None}


def test_empty_config_still_yields_defaults():
    assert effective_config("echo", SCHEMA, None)["mode"] == "lower"


@pytest.mark.parametrize("config, fragment", [
    ({"repeat": 9}, "repeat: 9 is greater than the maximum of 5"),
    ({"mode": "sideways"}, "mode: 'sideways' is not one of"),
    ({"repeat": "two"}, "repeat: 'two' is not of type 'integer'"),
    ({"colour": "red"}, "unknown key 'colour'"),
])
def test_invalid_configs_name_the_key(config, fragment):
    with pytest.raises(PluginConfigError) as info:
        effective_config("echo", SCHEMA, config)
    assert fragment in str(info.value)
    assert "echo" in str(info.value)


def test_every_problem_is_listed():
    with pytest.raises(PluginConfigError) as info:
        effective_config("echo", SCHEMA, {"repeat": 0, "mode": "x"})
    assert len(info.value.errors) == 2


def test_no_schema_accepts_anything():
    assert effective_config("p", None, {"a": 1}) == {"a": 1}
    assert effective_config("p", {}, None) == {}


# -- a plugin's schema is untrusted: bounded time, clear errors -------------------------------

EVIL = "a" * 30 + "!"


def _timed(fn):
    import time
    started = time.perf_counter()
    try:
        return fn(), time.perf_counter() - started
    except PluginConfigError as exc:
        return exc, time.perf_counter() - started


@pytest.mark.parametrize("schema", [
    {"type": "object", "properties": {"s": {"type": "string", "pattern": "^(a+)+$",
                                            "default": EVIL}}},
    {"type": "object", "patternProperties": {"^(a+)+$": {"type": "integer"}},
     "default": {}, "properties": {}},
    {"type": "object", "properties": {"m": {"type": "object", "additionalProperties": False,
                                            "patternProperties": {"^(a+)+$": {}},
                                            "default": {EVIL: 1}}}},
    {"type": "object", "properties": {"m": {"type": "object",
                                            "propertyNames": {"pattern": "^(a+)+$"},
                                            "default": {EVIL: 1}}}},
])
def test_catastrophic_patterns_are_checked_in_linear_time(schema):
    config = {EVIL: "x"} if "patternProperties" in schema else None
    if config is not None:
        schema = {**schema, "additionalProperties": True}
    outcome, seconds = _timed(lambda: effective_config("evil", schema, config))
    assert seconds < 5, f"{seconds:.2f} s"   # ms here; backtracking: 2**30 steps, minutes
    if isinstance(outcome, PluginConfigError):
        assert "evil" in str(outcome)


def test_the_catastrophic_default_is_rejected_with_the_plugin_named():
    schema = {"type": "object", "properties": {
        "s": {"type": "string", "pattern": "^(a+)+$", "default": EVIL}}}
    with pytest.raises(PluginConfigError, match=r"'evil'.*does not match"):
        effective_config("evil", schema, None)
    assert effective_config("evil", schema, {"s": "aaaa"}) == {"s": "aaaa"}


@pytest.mark.parametrize(("schema", "reason"), [
    ({"properties": {"s": {"type": "string", "pattern": r"(a)\1"}}}, "linear time"),
    ({"properties": {"s": {"type": "string", "pattern": "(?=a)a"}}}, "lookarounds"),
    ({"properties": {"s": {"type": "string", "pattern": 5}}}, "not a string"),
    ({"properties": {"s": {"$ref": "https://example.invalid/s.json"}}}, "references"),
    ({"properties": {"s": {"$ref": "#/properties/s"}}}, "references"),
    ({"properties": {"s": {"type": "string", "default": "x" * 300_000}}}, "over the limit"),
    ({"patternProperties": {"^a": {}}, "unevaluatedProperties": False,
      "$schema": "https://json-schema.org/draft/2020-12/schema"}, "not supported"),
])
def test_schemas_the_host_cannot_check_safely_are_refused_clearly(schema, reason):
    with pytest.raises(PluginConfigError) as caught:
        effective_config("odd", {"type": "object", **schema}, {"s": "v"})
    message = str(caught.value)
    assert "'odd'" in message and "config schema" in message and reason in message


def test_linear_patterns_keep_json_schema_semantics():
    schema = {"type": "object", "properties": {
        "s": {"type": "string", "pattern": "b+"},
        "m": {"type": "object", "patternProperties": {"^x_": {"type": "integer"}},
              "additionalProperties": False}}}
    assert effective_config("p", schema, {"s": "abbc", "m": {"x_n": 1}})["s"] == "abbc"
    with pytest.raises(PluginConfigError, match="does not match"):
        effective_config("p", schema, {"s": "ac"})
    with pytest.raises(PluginConfigError, match="is not of type 'integer'"):
        effective_config("p", schema, {"m": {"x_n": "one"}})
    with pytest.raises(PluginConfigError, match="'y' do"):
        effective_config("p", schema, {"m": {"y": 1}})


def test_unique_items_is_checked_by_hash_not_pairwise():
    items = [{"a": i} for i in range(15_000)]   # pairwise: 4,000 took 58 s
    schema = {"type": "object", "properties": {
        "x": {"type": "array", "uniqueItems": True, "default": items}}}
    _, seconds = _timed(lambda: effective_config("p", schema, None))
    assert seconds < 10, f"{seconds:.2f} s"   # ~0.1 s here; pairwise: ~15 min
    with pytest.raises(PluginConfigError, match="non-unique"):
        effective_config("p", schema, {"x": [{"a": 1}, {"a": 1.0}]})   # equal in JSON
    assert effective_config("p", schema, {"x": [1, True, "1", [1], {"1": 1}]})


def test_a_schema_that_does_exponential_work_is_stopped_and_refused():
    depth = 40   # each level tries both branches: 2**40 steps
    definitions = {f"d{i}": {"anyOf": [{"$ref": f"#/definitions/d{i + 1}"},
                                       {"$ref": f"#/definitions/d{i + 1}"}]}
                   for i in range(depth)}
    definitions[f"d{depth}"] = {"type": "integer"}
    schema = {"type": "object", "definitions": definitions,
              "properties": {"x": {"$ref": "#/definitions/d0"}}}
    outcome, seconds = _timed(lambda: effective_config("slow", schema, {"x": "not a number"}))
    assert seconds < 10, f"{seconds:.2f} s"   # stopped after its 1 s, not after 2**40 steps
    assert isinstance(outcome, PluginConfigError) and "took over 1 s" in str(outcome)
    assert effective_config("slow", {**schema, "definitions": {
        **definitions, "d0": {"type": "integer"}}}, {"x": 3}) == {"x": 3}
